"""mgeneratejs built-in operators: types, ranges, defaults, options and aliases."""
import re
import statistics
from datetime import datetime, timedelta, timezone

import pytest
from bson import Binary, Decimal128, Int64, MaxKey, MinKey, ObjectId, Regex, Timestamp

from labkit.generate import generate

UTC = timezone.utc


@pytest.fixture
def value(values):
    """``value(spec, seed=7)``: one value of the field."""
    return lambda spec, seed=7: values(spec, 1, seed)[0]


def decimals(number: float) -> int:
    text = repr(number)
    return len(text.split(".")[1]) if "." in text and "e" not in text else 0


# -- general ------------------------------------------------------------------------


def test_array_defaults_to_empty_and_evaluates_each_element(value):
    assert value({"$array": {"of": "$integer"}}) == []
    items = value({"$array": {"of": {"$integer": {"min": 0, "max": 10**9}}, "number": 5}})
    assert len(items) == 5 and len(set(items)) == 5
    assert value({"$array": {"of": {"k": "v"}, "number": 2}}) == [{"k": "v"}, {"k": "v"}]
    assert value({"$array": {"of": "$missing", "number": 3}}) == []


def test_array_elements_are_distinct_objects(value):
    items = value({"$array": {"of": {"a": [1]}, "number": 2}})
    items[0]["a"].append(2)
    assert items[1] == {"a": [1]}


def test_array_requires_of(value):
    from labkit.errors import TemplateError

    with pytest.raises(TemplateError, match='needs the option "of"'):
        value({"$array": {"number": 2}})


def test_choose_uniform_and_weighted(values):
    assert set(values({"$choose": {"from": ["a", "b", "c"]}})) == {"a", "b", "c"}
    assert set(values({"$choose": {"from": ["a", "b"], "weights": [0, 1]}})) == {"b"}
    assert set(values({"$choose": {"from": ["a", "b"], "weights": [1, 0]}})) == {"a"}
    picks = values({"$choose": {"from": ["a", "b"], "weights": [3, 1]}}, n=4000)
    assert 0.70 < picks.count("a") / len(picks) < 0.80


def test_choose_evaluates_only_the_chosen_element(values):
    picks = values({"$choose": {"from": [{"$inc": {}}, "never"], "weights": [1, 0]}}, n=5)
    assert picks == [0, 1, 2, 3, 4]
    nested = values({"$choose": {"from": [{"$integer": {"min": 1, "max": 1}}, {"k": "$bool"}]}}, n=100)
    assert 1 in nested and any(isinstance(v, dict) and isinstance(v["k"], bool) for v in nested)


def test_inc_counts_across_documents(values):
    assert values("$inc", n=4) == [0, 1, 2, 3]
    assert values({"$inc": {"start": 100, "step": -2}}, n=3) == [100, 98, 96]
    assert values({"$inc": {"start": 0.5, "step": 0.5}}, n=3) == [0.5, 1.0, 1.5]
    steps = values({"$inc": {"start": 10, "step": {"$integer": {"min": 1, "max": 1}}}}, n=3)
    assert steps == [10, 11, 12]


def test_each_inc_has_its_own_counter_and_runs_restart():
    template = {"a": "$inc", "b": {"$inc": {"start": 5}}, "c": {"$array": {"of": "$inc", "number": 2}}}
    docs = list(generate(template, 2, seed=1))
    assert [(d["a"], d["b"], d["c"]) for d in docs] == [(0, 5, [0, 1]), (1, 6, [2, 3])]
    assert next(generate(template, 1, seed=1))["a"] == 0


def test_join_casts_like_javascript(value):
    assert value({"$join": {"array": ["foo", "bar", "baz"], "sep": "-"}}) == "foo-bar-baz"
    assert value({"$join": {"array": [1, 2.5, True, None, [3, 4], 1e21]}}) == "12.5true3,41e+21"
    assert re.fullmatch(r"\d+:\d+", value({"$join": {"array": ["$natural", "$natural"], "sep": ":"}}))


def test_pick_element_and_missing_when_out_of_range(value):
    assert value({"$pick": {"array": ["green", "red", "blue"], "element": 1}}) == "red"
    assert value({"$pick": {"array": ["green", "red"]}}) == "green"
    doc = next(generate({"a": {"$pick": {"array": [1], "element": 5}}, "b": {"$pick": {"array": [1], "element": -1}}}, 1))
    assert doc == {}
    assert value({"$pick": {"array": [{"$integer": {"min": 3, "max": 3}}], "element": 0}}) == 3


def test_pickset_unique_elements_and_missing_when_too_many(values, value):
    for picked in values({"$pickset": {"array": ["a", "b", "c", "d"], "quantity": 3}}, n=50):
        assert len(picked) == 3 and len(set(picked)) == 3 and set(picked) <= {"a", "b", "c", "d"}
    assert len(value({"$pickset": {"array": [1, 2, 3]}})) == 1
    assert next(generate({"a": {"$pickset": {"array": [1, 2], "quantity": 3}}}, 1)) == {}
    orders = {tuple(v) for v in values({"$pickset": {"array": [1, 2, 3], "quantity": 3}})}
    assert len(orders) > 1


def test_regex(value):
    assert value("$regex") == Regex(".*", "")
    made = value({"$regex": {"string": "^ab+c$", "flags": "im"}})
    assert isinstance(made, Regex) and made.pattern == "^ab+c$" and made == Regex("^ab+c$", "im")


# -- dates -------------------------------------------------------------------------


def test_date_default_range_and_alias(values):
    dates = values("$date") + values("$datetime")
    assert all(isinstance(d, datetime) and d.tzinfo == UTC for d in dates)
    assert all(datetime(1900, 1, 1, tzinfo=UTC) <= d <= datetime(2100, 1, 1, tzinfo=UTC) for d in dates)
    assert all(d.microsecond % 1000 == 0 for d in dates)


def test_date_min_max(values):
    low, high = datetime(2015, 1, 1, tzinfo=UTC), datetime(2016, 12, 31, 23, 59, 59, 999000, tzinfo=UTC)
    dates = values({"$date": {"min": "2015-01-01", "max": "2016-12-31T23:59:59.999Z"}})
    assert all(low <= d <= high for d in dates)
    assert values({"$date": {"min": "2020-02-02T10:00:00+02:00", "max": "2020-02-02T08:00:00Z"}}, n=3) == [
        datetime(2020, 2, 2, 8, tzinfo=UTC)
    ] * 3


def test_now_is_the_frozen_clock_with_a_seed_and_the_wall_clock_without(value):
    assert value("$now") == datetime(2025, 1, 1, tzinfo=UTC)
    fixed = datetime(2030, 5, 6, 7, 8, 9, tzinfo=UTC)
    assert next(generate({"x": "$now"}, 1, seed=1, now=fixed))["x"] == fixed
    live = next(generate({"x": "$now"}, 1))["x"]
    assert abs(live - datetime.now(UTC)) < timedelta(seconds=30)


# -- MongoDB types ------------------------------------------------------------------


def test_objectid_and_alias(values):
    ids = values("$objectid", n=100) + values("$oid", n=100, seed=8)
    assert all(isinstance(i, ObjectId) for i in ids) and len(set(ids)) == 200
    assert values("$oid", n=3, seed=5) == values("$oid", n=3, seed=5)
    assert ids[0].generation_time == datetime(2025, 1, 1, tzinfo=UTC)


def test_binary_length_and_subtype(value):
    blob = value("$binary")
    assert isinstance(blob, Binary) and len(blob) == 10 and blob.subtype == 0
    assert all(32 < byte < 127 for byte in blob)
    assert value({"$binary": {"length": 16, "subtype": 4}}).subtype == 4
    assert value({"$binary": {"length": 3, "subtype": "05"}}).subtype == 5
    assert len(value({"$binary": {"length": 0}})) == 0


def test_integer_and_aliases(values):
    for name in ("$integer", "$numberInt", "$number"):
        numbers = values(name)
        assert all(type(v) is int and -(2**31) <= v <= 2**31 for v in numbers)
        assert max(numbers) > 2**20 and min(numbers) < -(2**20)
    bounded = values({"$integer": {"min": -2, "max": 2}}, n=300)
    assert set(bounded) == {-2, -1, 0, 1, 2}


def test_long_and_alias(values):
    longs = values("$long") + values("$numberLong")
    assert all(isinstance(v, Int64) and -(2**53) <= v <= 2**53 for v in longs)
    big = values({"$long": {"min": 2**62, "max": 2**63 - 1}})
    assert all(isinstance(v, Int64) and 2**62 <= v <= 2**63 - 1 for v in big)


def test_decimal_and_alias(values):
    for spec in ("$decimal", "$numberDecimal"):
        for d in values(spec):
            assert isinstance(d, Decimal128)
            number = d.to_decimal()
            assert 0 <= number <= 1000 and -number.as_tuple().exponent <= 2
    fixed = values({"$numberDecimal": {"min": -5, "max": 5, "fixed": 4}})
    assert all(-5 <= d.to_decimal() <= 5 and -d.to_decimal().as_tuple().exponent <= 4 for d in fixed)
    assert any(-d.to_decimal().as_tuple().exponent == 4 for d in fixed)
    whole = values({"$decimal": {"fixed": 0}})
    assert all(d.to_decimal() == d.to_decimal().to_integral_value() for d in whole)


def test_decimal_text_drops_trailing_zeros_like_javascript(values):
    texts = {str(d) for d in values({"$decimal": {"min": 1, "max": 1.2, "fixed": 2}}, n=500)}
    assert "1.1" in texts and "1.10" not in texts and "1" in texts and "1.2" in texts


def test_minkey_maxkey_timestamp(values, value):
    assert value("$minkey") == MinKey() and value("$maxkey") == MaxKey()
    assert value({"$timestamp": {"t": 10, "i": 20}}) == Timestamp(10, 20)
    stamps = values("$timestamp")
    assert all(isinstance(t, Timestamp) for t in stamps) and len({t.time for t in stamps}) > 100


def test_floating_and_aliases(values):
    for name in ("$floating", "$float", "$double"):
        numbers = values({name: {"min": -1, "max": 1}})
        assert all(isinstance(v, float) and -1 <= v <= 1 and decimals(v) <= 4 for v in numbers)
    assert all(decimals(v) <= 2 for v in values({"$float": {"min": 0, "max": 10, "fixed": 2}}))


def test_gauss_and_normal(values):
    for name in ("$gauss", "$normal"):
        numbers = values({name: {"mean": 10, "dev": 2}}, n=3000)
        assert 9.8 < statistics.mean(numbers) < 10.2 and 1.8 < statistics.stdev(numbers) < 2.2
    assert set(values({"$normal": {"mean": 1, "dev": 0.5, "pool": ["a", "b", "c"]}})) <= {"a", "b", "c"}


# -- geo -----------------------------------------------------------------------------


def check_pair(pair, long_lim=(-180, 180), lat_lim=(-90, 90)):
    assert isinstance(pair, list) and len(pair) == 2
    assert long_lim[0] <= pair[0] <= long_lim[1] and lat_lim[0] <= pair[1] <= lat_lim[1]
    assert decimals(pair[0]) <= 5 and decimals(pair[1]) <= 5


def test_coordinates_and_aliases(values):
    for name in ("$coordinates", "$coord", "$coordinate"):
        for pair in values(name, n=50):
            check_pair(pair)
    for pair in values({"$coordinates": {"long_lim": [-20, -19], "lat_lim": [10, 11]}}):
        check_pair(pair, (-20, -19), (10, 11))


def test_point_linestring_polygon(value):
    point = value({"$point": {"long_lim": [1, 2]}})
    assert list(point) == ["type", "coordinates"] and point["type"] == "Point"
    check_pair(point["coordinates"], (1, 2))
    line = value("$linestring")
    assert line["type"] == "LineString" and len(line["coordinates"]) == 2
    assert len(value({"$linestring": {"locs": 4}})["coordinates"]) == 4
    polygon = value({"$polygon": {"corners": 5}})
    ring = polygon["coordinates"][0]
    assert polygon["type"] == "Polygon" and len(ring) == 6 and ring[0] == ring[-1]
    assert len(value("$polygon")["coordinates"][0]) == 4


def test_geometries(values, value):
    collection = value("$geometries")
    assert collection["type"] == "GeometryCollection" and len(collection["geometries"]) == 3
    kinds = {g["type"] for c in values({"$geometries": {"number": 4}}, n=30) for g in c["geometries"]}
    assert kinds == {"Point", "LineString", "Polygon"}
    triangles = value({"$geometries": {"types": ["Polygon"], "corners": 3, "number": 4}})
    assert all(g["type"] == "Polygon" and len(g["coordinates"][0]) == 4 for g in triangles["geometries"])
    lines = value({"$geometries": {"types": ["LineString"], "locs": 3, "lat_lim": [0, 1]}})
    assert all(len(g["coordinates"]) == 3 and all(0 <= c[1] <= 1 for c in g["coordinates"]) for g in lines["geometries"])
