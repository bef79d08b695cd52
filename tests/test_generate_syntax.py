"""Template syntax: strict and relaxed JSON, operator forms, and the errors a learner sees."""
import re

import pytest

from labkit.errors import ConfigError, TemplateError
from labkit.generate import compile_template, generate
from labkit.generate.syntax import parse


def one(template, seed=1):
    return next(generate(template, 1, seed=seed))


# -- parsing ------------------------------------------------------------------------


def test_strict_json_parses_to_python_values():
    value, _ = parse('{"a": 1, "b": 2.5, "c": -3e2, "d": [true, false, null], "e": "x\\u00e9\\n", "f": 5.0, "g": 1e300}')
    assert value == {"a": 1, "b": 2.5, "c": -300, "d": [True, False, None], "e": "x\u00e9\n", "f": 5, "g": 1e300}
    # JavaScript has one number type: whole numbers (-3e2, 5.0) are printed, so stored, as integers.
    assert type(value["a"]) is int and type(value["b"]) is float and type(value["c"]) is int
    assert type(value["f"]) is int and type(value["g"]) is float


def test_unquoted_keys_are_accepted_like_mgeneratejs():
    value, _ = parse('{name: "$name", $inc: 1, "quoted": {nested_key-2: [1, {a.b: 2}]}}')
    assert value == {"name": "$name", "$inc": 1, "quoted": {"nested_key-2": [1, {"a.b": 2}]}}


def test_key_order_is_kept():
    value, _ = parse("{z: 1, a: 2, m: 3}")
    assert list(value) == ["z", "a", "m"]


def test_positions_are_recorded_per_path():
    _, locator = parse('{\n  "a": {\n    "b": [10, "$x"]\n  }\n}')
    assert locator.position(("a",)) == (2, 8)
    assert locator.position(("a", "b", 1)) == (3, 15)
    assert locator.position(("a", "b", 1, "missing", "deeper")) == (3, 15)


@pytest.mark.parametrize(
    "text, line, column, words",
    [
        ('{"a": 1,\n "b" 2}', 2, 6, "expected ':'"),
        ('{"a": 1\n "b": 2}', 2, 2, "missing comma"),
        ('{"a": [1, 2,]}', 1, 13, "trailing comma"),
        ('{"a": 1,}', 1, 9, "trailing comma"),
        ('{"a": tru}', 1, 7, "expected a value"),
        ("{'a': 1}", 1, 2, "expected a key"),
        ('{"a": \'x\'}', 1, 7, "double quotes"),
        ('{"a": "unterminated}', 1, 7, "unterminated string"),
        ('{"a": 1} extra', 1, 10, "after the end"),
        ("", 1, 1, "empty"),
        ('{"a": [1, 2}', 1, 12, "expected ',' or ']'"),
    ],
)
def test_invalid_json_names_line_and_column(text, line, column, words):
    with pytest.raises(TemplateError) as error:
        compile_template(text, "t.json")
    message = str(error.value)
    assert message.startswith(f"t.json:{line}:{column}: invalid JSON"), message
    assert words in message


def test_template_must_be_an_object():
    with pytest.raises(TemplateError, match="must be a JSON object"):
        compile_template("[1, 2]")
    with pytest.raises(TemplateError, match="not an operator"):
        compile_template('{"$name": {}}')


# -- operator forms -----------------------------------------------------------------


def test_string_and_object_forms_are_the_same_operator():
    assert isinstance(one({"a": "$integer"})["a"], int)
    assert isinstance(one({"a": {"$integer": {}}})["a"], int)
    assert one({"a": {"$integer": {"min": 7, "max": 7}}})["a"] == 7


def test_literals_pass_through_and_are_fresh_per_document():
    template = {"n": 1, "s": "text", "f": 1.5, "b": False, "z": None, "o": {"x": [1, {"y": 2}]}}
    first, second = generate(template, 2, seed=1)
    assert first == template and second == template
    first["o"]["x"][1]["y"] = 99
    assert second["o"]["x"][1]["y"] == 2


def test_operator_options_may_be_operators():
    docs = list(generate({"a": {"$integer": {"min": {"$integer": {"min": 5, "max": 6}}, "max": 6}}}, 50, seed=2))
    assert {d["a"] for d in docs} <= {5, 6}
    arrays = list(generate({"a": {"$array": {"of": 1, "number": {"$integer": {"min": 0, "max": 3}}}}}, 60, seed=3))
    assert {len(d["a"]) for d in arrays} == {0, 1, 2, 3}


def test_nesting_in_objects_and_arrays():
    doc = one({"a": {"b": [{"c": "$bool"}, "$integer", ["$first"]]}})
    assert isinstance(doc["a"]["b"][0]["c"], bool)
    assert isinstance(doc["a"]["b"][1], int)
    assert isinstance(doc["a"]["b"][2][0], str)


def test_missing_removes_keys_and_array_elements():
    doc = one({"a": "$missing", "b": {"$missing": {}}, "c": [1, "$missing", 2], "d": {"e": "$missing"}, "f": 1})
    assert doc == {"c": [1, 2], "d": {}, "f": 1}
    assert list(one({"x": 1, "y": {"$choose": {"from": ["$missing"]}}, "z": 2})) == ["x", "z"]


def test_missing_as_option_means_default():
    assert one({"a": {"$integer": {"min": 3, "max": {"$choose": {"from": ["$missing"]}}}}})["a"] >= 3


# -- errors -------------------------------------------------------------------------


def test_unknown_operator_suggests_close_names_with_location():
    with pytest.raises(TemplateError) as error:
        compile_template('{\n  "who": "$nmae"\n}', "people.json")
    message = str(error.value)
    assert message.startswith("people.json:2:10: unknown operator $nmae")
    assert "(did you mean $name" in message and "(at who)" in message
    with pytest.raises(TemplateError, match=r"unknown operator \$numberdecimal \(did you mean \$numberDecimal"):
        compile_template('{a: {"$numberdecimal": {}}}')


def test_operator_object_with_two_keys_is_an_error():
    with pytest.raises(TemplateError) as error:
        compile_template('{price: {"$integer": {}, "min": 5}}', "p.json")
    message = str(error.value)
    assert message.startswith("p.json:1:9:")
    assert "exactly one key" in message and '"min"' in message


def test_options_must_be_an_object():
    with pytest.raises(TemplateError, match=r"options of \$date must be an object"):
        compile_template('{a: {"$date": "2020-01-01"}}')


def test_unknown_option_names_operator_and_suggests():
    with pytest.raises(TemplateError) as error:
        compile_template('{a: {"$array": {"of": 1, "nubmer": 3}}}', "t.json")
    message = str(error.value)
    assert "$array has no option 'nubmer' (did you mean number?)" in message
    assert "it accepts: of, number" in message and message.startswith("t.json:1:26:")


@pytest.mark.parametrize(
    "template, words",
    [
        ('{a: {"$integer": {"min": "5"}}}', ["$integer option 'min'", "a whole number", '"5"']),
        ('{a: {"$decimal": {"fixed": -1}}}', ["$decimal option 'fixed'", "from 0 to 34", "-1"]),
        ('{a: {"$array": {"of": 1, "number": -2}}}', ["$array option 'number'", ">= 0", "-2"]),
        ('{a: {"$binary": {"subtype": 300}}}', ["$binary option 'subtype'", "from 0 to 255", "300"]),
        ('{a: {"$coordinates": {"long_lim": [10, -10]}}}', ["$coordinates option 'long_lim'", "[min, max]"]),
        ('{a: {"$date": {"min": "yesterday"}}}', ["$date option 'min'", "ISO-8601", '"yesterday"']),
        ('{a: {"$integer": {"min": 9, "max": 1}}}', ["'min' (9) must not be greater than 'max' (1)"]),
        ('{a: {"$bool": {"likelihood": 101}}}', ["$bool option 'likelihood'", "from 0 to 100", "101"]),
        ('{a: {"$regex": {"flags": "g"}}}', ["$regex option 'flags'", "no BSON equivalent"]),
        ('{a: {"$name": {"gender": "x"}}}', ["$name option 'gender'", '"male", "female"']),
        ('{a: {"$polygon": {"corners": 2}}}', ["$polygon option 'corners'", ">= 3"]),
    ],
)
def test_bad_option_values_name_operator_option_value_and_what_is_allowed(template, words):
    with pytest.raises(TemplateError) as error:
        compile_template(template, "t.json")
    message = str(error.value)
    assert re.match(r"t\.json:1:\d+: ", message), message
    for word in words:
        assert word in message, message


def test_bad_dynamic_option_is_reported_when_generating():
    template = compile_template('{a: {"$integer": {"min": {"$choose": {"from": ["x"]}}}}}')
    with pytest.raises(TemplateError, match=r"\$integer option 'min' must be a whole number"):
        list(template.documents(1, seed=1))


def test_choose_errors():
    with pytest.raises(TemplateError, match=r"\$choose has 3 choices in \"from\" but 2 weights"):
        compile_template('{a: {"$choose": {"from": [1, 2, 3], "weights": [1, 2]}}}')
    with pytest.raises(TemplateError, match="numbers >= 0 with a positive sum"):
        compile_template('{a: {"$choose": {"from": [1, 2], "weights": [0, 0]}}}')
    with pytest.raises(TemplateError, match="non-empty array of choices"):
        compile_template('{a: {"$choose": {"from": "abc"}}}')


@pytest.mark.parametrize("n", [-1, "-5", "ten", 2.5, None, True])
def test_document_count_must_be_a_whole_number(n):
    with pytest.raises(ConfigError, match="whole number >= 0"):
        list(generate({"a": 1}, n))


def test_seed_must_be_a_whole_number():
    with pytest.raises(ConfigError, match="seed must be a whole number"):
        list(generate({"a": 1}, 1, seed="abc"))
