"""The operator index (labkit.generate.operators) and the word lists it draws from."""
from __future__ import annotations

import importlib.util
import inspect
import json
from importlib import resources
from pathlib import Path

from labkit.generate import engine, operators, wordlists

REPO = Path(__file__).resolve().parents[1]


def load_script():
    spec = importlib.util.spec_from_file_location("make_wordlists", REPO / "scripts" / "make_wordlists.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_aliases_are_mgeneratejs_aliases_js():
    # mgeneratejs 0.6.0, lib/aliases.js
    assert operators.ALIASES == {
        "number": "integer", "numberInt": "integer", "numberDecimal": "decimal", "numberLong": "long",
        "datetime": "date", "gauss": "normal", "float": "floating", "double": "floating",
        "coord": "coordinates", "coordinate": "coordinates", "oid": "objectid",
    }
    assert all(target in operators.BUILTINS or target in operators.CHANCE for target in operators.ALIASES.values())


def test_builtins_are_mgeneratejs_operators_index_js():
    # mgeneratejs 0.6.0, lib/operators/index.js
    assert set(operators.BUILTINS) == {
        "array", "choose", "pick", "pickset", "join", "regex", "inc", "date", "now", "coordinates", "point",
        "linestring", "polygon", "geometries", "objectid", "binary", "integer", "long", "decimal", "maxkey",
        "minkey", "timestamp",
    }


def test_lookup_follows_mgeneratejs_call_operator_order():
    assert operators.lookup("number") is operators.BUILTINS["integer"]
    assert operators.lookup("integer") is operators.BUILTINS["integer"]  # the built-in shadows chance.integer
    assert operators.lookup("float") is operators.CHANCE["floating"]
    assert operators.lookup("name") is operators.CHANCE["name"]
    assert operators.lookup("nope") is None
    assert "missing" in operators.operator_names()


def test_every_entry_is_a_function_with_the_documented_signature():
    for table in (operators.BUILTINS, operators.CHANCE):
        for name, op in table.items():
            parameters = list(inspect.signature(op.fn).parameters)
            expected = ["compiler", "options", "where"] if op.raw else ["ctx", "o"]
            assert parameters == expected, name
            assert isinstance(op.options, tuple) and all(isinstance(option, str) for option in op.options), name
    for name, method in operators.FAKER.items():
        assert name.count(".") == 1 and isinstance(method.arity, int), name
        assert len(inspect.signature(method.fn).parameters) == 3, name
    for name, helper in operators.CHANCE_HELPERS.items():
        assert list(inspect.signature(helper).parameters) == ["ctx", "args", "fail"], name


def test_the_compiler_reaches_operators_only_through_the_index():
    source = inspect.getsource(engine)
    assert "operators.lookup" in source
    for family in ("builtins", "chance", "geo", "fakerjs"):
        assert f"import {family}" not in source and f"generate.{family}" not in source


def test_word_lists_are_package_data_in_the_scripts_format():
    script = load_script()
    for name in ("chance", "faker"):
        text = resources.files("labkit").joinpath("data", "wordlists", f"{name}.json").read_text(encoding="utf-8")
        lists = json.loads(text)
        assert script.render(lists) == text  # byte for byte what scripts/make_wordlists.py writes
        assert all(lists.values())


def test_word_lists_are_tuples_with_their_documented_shapes():
    assert len(wordlists.CHANCE["first_names"]["female"]["en"]) > 100
    assert list(wordlists.CHANCE["last_names"]) == sorted(wordlists.CHANCE["last_names"])
    assert wordlists.CHANCE["us_states_and_dc"][0] == ("Alabama", "AL")
    assert wordlists.CHANCE["cc_types"][0] == ("American Express", "amex", "34", 15)
    assert wordlists.CHANCE["months"][1] == ("February", "Feb", "02", 28)
    assert wordlists.FAKER["name_prefixes"] == ("Mr.", "Mrs.", "Ms.", "Miss", "Dr.")
    assert wordlists.FAKER["currencies"][0] == ("UAE Dirham", "AED")


def test_script_reshapes_chance_and_faker_records():
    script = load_script()
    chance = script.chance_lists({
        "firstNames": {"male": {"en": ["A"]}}, "lastNames": {"en": ["B"]},
        "countries": [{"name": "France", "abbreviation": "FR"}],
        "us_states_and_dc": [{"name": "Ohio", "abbreviation": "OH"}], "territories": [], "armed_forces": [],
        "country_regions": {"it": [{"name": "Lazio", "abbreviation": "LAZ", "code": 12}]},
        "counties": {"uk": [{"name": "Kent"}]}, "street_suffixes": {"us": [{"name": "Avenue", "abbreviation": "Ave"}]},
        "cc_types": [{"name": "Visa", "short_name": "visa", "prefix": "4", "length": 16}],
        "currency_types": [{"code": "EUR", "name": "Euro"}], "colorNames": ["Red"], "profession": ["Pilot"],
        "company": ["ACME"], "months": [{"name": "January", "short_name": "Jan", "numeric": "01", "days": 31}],
        "tlds": ["com"], "postcodeAreas": [{"code": "AB"}],
    })
    assert chance["countries"] == [["France", "FR"]]
    assert chance["country_regions"] == {"it": [["Lazio", "LAZ"]]}
    assert chance["uk_counties"] == ["Kent"] and chance["postcode_areas"] == ["AB"]
    assert chance["cc_types"] == [["Visa", "visa", "4", 16]]
    assert script.render({"x": {"b": [1], "a": [2]}}) == '{\n  "x": {"a": [2], "b": [1]}\n}\n'
