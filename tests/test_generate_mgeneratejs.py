"""mgeneratejs 0.6's own tests and README examples, ported, and the BSON types they store.

Each test is named after what it comes from: ``test_operators_*`` from
test/operators.test.js, ``test_index_*`` from test/index.test.js,
``test_templates_*`` from test/templates.test.js, ``test_fixture_*`` from
test/fixtures/*.json, ``test_readme_*`` from README.md and docs/operators.md
(github.com/rueckstiess/mgeneratejs). Where labkit deliberately differs (see
labkit/generate/__init__.py), the test says so and asserts labkit's behaviour.

The type tests run a real ``labkit generate ... | labkit import ...`` into the
embedded server and compare every stored value's BSON type with the type that
``mgeneratejs | mongoimport`` stores for the same template: mgeneratejs's
output, as mgeneratejs 0.6.0 prints it, was read once with mongoimport's rules
(a JSON number is int32 when it is whole and fits, else int64, else double;
{"$numberLong": ...} is int64, {"$numberDecimal": ...} decimal, ...).
"""
from __future__ import annotations

import json
import subprocess
from datetime import datetime

import pytest
from bson import Binary, Code, Decimal128, Int64, MaxKey, MinKey, ObjectId, Regex, Timestamp

from labkit.errors import TemplateError
from labkit.generate import generate


def one(template: dict, seed: int | None = None) -> dict:
    return next(generate(template, 1, seed=seed))


def many(template: dict, n: int, seed: int | None = None) -> list[dict]:
    return list(generate(template, n, seed=seed))


# -- test/operators.test.js: $inc --------------------------------------------------------


def test_operators_inc_should_work_with_default_parameters():
    assert [d["id"] for d in many({"id": "$inc"}, 5)] == [0, 1, 2, 3, 4]


def test_operators_inc_should_work_with_non_default_start_parameter():
    assert [d["id"] for d in many({"id": {"$inc": {"start": 42}}}, 5)] == [42, 43, 44, 45, 46]


def test_operators_inc_should_work_with_non_default_step_parameter():
    assert [d["id"] for d in many({"id": {"$inc": {"start": 13, "step": 2}}}, 3)] == [13, 15, 17]


def test_operators_inc_should_work_with_step_parameter_expression():
    ids = [d["id"] for d in many({"id": {"$inc": {"start": 13, "step": {"$number": {"min": 1, "max": 2}}}}}, 3)]
    assert all(13 <= i <= 17 for i in ids)


# -- $missing ------------------------------------------------------------------------------


def test_operators_missing_should_discard_a_missing_value():
    assert "b" not in one({"a": "$integer", "b": "$missing", "c": "$ip"})


def test_operators_missing_should_discard_missing_values_in_arrays():
    assert one({"a": [1, "$missing", 3]})["a"] == [1, 3]


# -- $choose -------------------------------------------------------------------------------


def test_operators_choose_should_chose_from_the_given_choices_without_weights():
    assert one({"foo": {"$choose": {"from": ["a", "b", "c"]}}})["foo"] in ("a", "b", "c")


def test_operators_choose_should_choose_from_the_given_choices_with_weights():
    assert one({"foo": {"$choose": {"from": ["a", "b", "c"], "weights": [1, 0, 0]}}})["foo"] == "a"


# -- $pick ---------------------------------------------------------------------------------


def test_operators_pick_should_pick_the_correct_element_from_an_array():
    assert one({"color": {"$pick": {"array": ["green", "red", "blue"], "element": 1}}})["color"] == "red"


def test_operators_pick_should_pick_the_first_element_if_element_is_not_specified():
    assert one({"color": {"$pick": {"array": ["green", "red", "blue"]}}})["color"] == "green"


def test_operators_pick_should_return_missing_if_element_is_out_of_array_bounds():
    assert "color" not in one({"color": {"$pick": {"array": ["green", "red", "blue"], "element": 3}}})
    assert "color" not in one({"color": {"$pick": {"array": ["green", "red", "blue"], "element": -1}}})


def test_operators_pick_should_return_missing_if_array_is_not_an_array():
    # Deliberate difference: a wrong option type is an error in labkit, not a silent $missing.
    with pytest.raises(TemplateError, match="'array' must be an array"):
        one({"color": {"$pick": {"array": "red", "element": 3}}})


# -- $pickset ------------------------------------------------------------------------------


def test_operators_pickset_should_pick_the_correct_number_of_element():
    assert len(one({"color": {"$pickset": {"array": ["green", "red", "blue"], "quantity": 2}}})["color"]) == 2


def test_operators_pickset_should_not_pick_the_same_item_twice():
    color = one({"color": {"$pickset": {"array": ["green", "red", "blue"], "quantity": 3}}})["color"]
    assert sorted(color) == ["blue", "green", "red"]


def test_operators_pickset_should_pick_one_element_if_quantity_is_not_specified():
    assert len(one({"color": {"$pickset": {"array": ["green", "red", "blue"]}}})["color"]) == 1


def test_operators_pickset_should_return_missing_if_quantity_is_out_of_array_bounds():
    assert "color" not in one({"color": {"$pickset": {"array": ["green", "red", "blue"], "quantity": 4}}})
    assert "color" not in one({"color": {"$pickset": {"array": ["green", "red", "blue"], "quantity": -1}}})


def test_operators_pickset_should_return_missing_if_array_is_not_an_array():
    # Deliberate difference: a wrong option type is an error in labkit.
    with pytest.raises(TemplateError, match="'array' must be an array"):
        one({"color": {"$pickset": {"array": "red", "quantity": 3}}})


# -- $array --------------------------------------------------------------------------------


def test_operators_array_should_create_a_fixed_length_array():
    person = one({"person": {"first": {"$first": {"gender": "female"}}, "last": "$last",
                             "emails": {"$array": {"of": "$email", "number": 5}}}})["person"]
    assert len(person["emails"]) == 5
    assert all(isinstance(email, str) and "@" in email for email in person["emails"])


def test_operators_array_should_return_an_empty_array_if_no_number_is_specified():
    assert one({"foo": "$array"})["foo"] == []
    assert one({"foo": {"$array": {}}})["foo"] == []


def test_operators_array_should_evaluate_the_number_option_before_creating_the_array():
    assert len(one({"myarr": {"$array": {"of": "$integer", "number": {"$number": {"min": 6, "max": 6}}}}})["myarr"]) == 6


def test_operators_array_should_evaluate_the_of_option_after_creating_the_array():
    assert one({"myarr": {"$array": {"of": {"$integer": {"min": 0, "max": 0}}, "number": 3}}})["myarr"] == [0, 0, 0]


# -- $join ---------------------------------------------------------------------------------


def test_operators_join_should_join_elements_without_explicit_separator():
    assert one({"code": {"$join": {"array": ["foo", "bar", "baz"]}}})["code"] == "foobarbaz"


def test_operators_join_should_join_elements_with_explicit_separator():
    assert one({"code": {"$join": {"array": ["foo", "bar", "baz"], "sep": "-"}}})["code"] == "foo-bar-baz"


def test_operators_join_should_join_elements_with_multi_character_separator():
    assert one({"code": {"$join": {"array": ["foo", "bar", "baz"], "sep": " ==> "}}})["code"] == "foo ==> bar ==> baz"


def test_operators_join_with_a_string_for_array():
    # mgeneratejs's fourth $join test (also named "multi-character separator") expects $missing;
    # deliberate difference: a wrong option type is an error in labkit.
    with pytest.raises(TemplateError, match="'array' must be an array"):
        one({"code": {"$join": {"array": "foo", "sep": ","}}})


# -- geospatial ----------------------------------------------------------------------------


def test_operators_coordinates_should_work_with_default_bounds():
    longitude, latitude = one({"loc": "$coordinates"})["loc"]
    assert -180 <= longitude <= 180 and -90 <= latitude <= 90


def test_operators_coordinates_should_work_for_with_custom_bounds():
    longitude, latitude = one({"loc": {"$coordinates": {"long_lim": [-2, 2], "lat_lim": [-5, 5]}}})["loc"]
    assert -2 <= longitude <= 2 and -5 <= latitude <= 5


def test_operators_point_should_create_a_geojson_point():
    loc = one({"loc": "$point"})["loc"]
    assert loc["type"] == "Point" and isinstance(loc["coordinates"], list) and len(loc["coordinates"]) == 2


@pytest.mark.parametrize("template, corners", [("$polygon", 3), ({"$polygon": {"corners": 5}}, 5)])
def test_operators_polygon_should_create_a_geojson_polygon_with_default_and_custom_number_of_corners(template, corners):
    polygon = one({"polygon": template})["polygon"]
    assert polygon["type"] == "Polygon"
    ring = polygon["coordinates"][0]
    assert len(ring) == corners + 1 and len(ring[0]) == 2 and ring[0] == ring[-1]


# -- MongoDB types -------------------------------------------------------------------------


def test_operators_objectid_should_generate_an_objectid():
    assert isinstance(one({"_id": "$objectid"})["_id"], ObjectId)


def test_operators_now_should_generate_a_current_date():
    assert isinstance(one({"when": "$now"})["when"], datetime)


def test_operators_regex_should_generate_a_regular_expression():
    rx = one({"rx": {"$regex": {"string": "foo+bar.*$", "flags": "i"}}})["rx"]
    assert isinstance(rx, Regex) and rx == Regex("foo+bar.*$", "i")


def test_operators_timestamp_should_generate_an_timestamp():
    assert one({"ts": {"$timestamp": {"t": 15, "i": 3}}})["ts"] == Timestamp(15, 3)


def test_operators_minkey_should_generate_a_minkey_object():
    assert one({"min": "$minkey"})["min"] == MinKey()


def test_operators_maxkey_should_generate_a_maxkey_object():
    assert one({"max": "$maxkey"})["max"] == MaxKey()


def test_operators_string_should_work_for_string_and_object_format_operator():
    assert isinstance(one({"foo": "$string"})["foo"], str)
    assert isinstance(one({"foo": {"$string": {"length": 3}}})["foo"], str)


def test_operators_string_should_support_length_and_pool_parameters():
    assert one({"foo": {"$string": {"length": 1, "pool": "a"}}})["foo"] == "a"


def test_operators_integer_number_should_work_for_string_format_operator_and_min_max():
    assert type(one({"foo": "$integer"})["foo"]) is int
    assert -10 <= one({"foo": {"$integer": {"min": -10, "max": 10}}})["foo"] <= 10


def test_operators_integer_should_have_number_and_numberint_aliases():
    assert type(one({"foo": {"$number": {"min": -10, "max": 10}}})["foo"]) is int
    assert type(one({"foo": {"$numberInt": {"min": -10, "max": 10}}})["foo"]) is int


@pytest.mark.parametrize("template", ["$numberDecimal", "$decimal", {"$numberDecimal": {}}, {"$decimal": {"min": 90, "max": 100}}])
def test_operators_numberdecimal_decimal_should_work_as_string_and_object_operator(template):
    assert isinstance(one({"foo": template})["foo"], Decimal128)


def test_operators_numberdecimal_should_support_min_and_max_parameters():
    assert str(one({"foo": {"$numberDecimal": {"min": 9999, "max": 9999}}})["foo"]).startswith("9999")


def test_operators_numberdecimal_should_support_fixed_parameter():
    for doc in many({"foo": {"$numberDecimal": {"fixed": 5}}}, 50, seed=3):
        text = str(doc["foo"])
        assert "." not in text or len(text.split(".")[1]) <= 5


@pytest.mark.parametrize("template", ["$numberLong", "$long", {"$numberLong": {}}, {"$long": {"min": 90, "max": 100}}])
def test_operators_numberlong_long_should_work_as_string_and_object_operator(template):
    assert isinstance(one({"foo": template})["foo"], Int64)


def test_operators_numberlong_should_support_min_and_max_parameters():
    assert one({"foo": {"$numberLong": {"min": 9999, "max": 9999}}})["foo"] == Int64(9999)


def test_operators_binary_subtype_should_be_00_instead_of_integer_0():
    foo = one({"foo": {"$binary": {"length": 10}}})["foo"]
    assert isinstance(foo, Binary) and foo.subtype == 0 and len(foo) == 10


def test_operators_binary_should_set_the_subtype_to_01():
    assert one({"foo": {"$binary": {"length": 10, "subtype": "01"}}})["foo"].subtype == 1


# -- test/index.test.js ----------------------------------------------------------------------


def test_index_should_throw_an_error_if_additional_key_is_present_after_operator():
    with pytest.raises(TemplateError, match="exactly one key"):
        one({"foo": {"$string": {"length": 3}, "something": "else"}})


def test_index_should_work_with_arrays():
    foo = one({"foo": [{"$string": {"length": 3}}, "foo", "$integer"]})["foo"]
    assert isinstance(foo[0], str) and len(foo[0]) == 3 and foo[1] == "foo" and type(foo[2]) is int


def test_index_should_work_with_nested_objects():
    assert type(one({"foo": {"bar": "$age"}})["foo"]["bar"]) is int


def test_index_should_resolve_object_parameters_first():
    assert len(one({"foo": {"$string": {"length": {"$integer": {"min": 4, "max": 4}}}}})["foo"]) == 4


# -- test/templates.test.js ------------------------------------------------------------------


def test_templates_should_have_chance_available_inside_a_template():
    assert one({"twitter_user": "{{ chance.twitter() }}"})["twitter_user"].startswith("@")


def test_templates_should_have_faker_available_inside_a_template():
    assert isinstance(one({"slogan": "{{ faker.company.catchPhrase() }}"})["slogan"], str)


def test_templates_should_evaluate_javascript():
    # Deliberate difference: labkit never runs template text as code.
    with pytest.raises(TemplateError, match="never run as code"):
        one({"result": "{{ 1+1+1 }}"})


# -- test/fixtures ---------------------------------------------------------------------------

EMAILS = {"name": "$name", "emails": {"$array": {"of": "$email", "number": 5}}}
FANCLUB = {
    "_id": "$oid",
    "name": "$name",
    "age": {"$choose": {"from": ["$age", "$missing"], "weights": [63, 37]}},
    "email": "$email",
    "address": {
        "street": {"$address": {"short_suffix": True}},
        "postal_code": {"$choose": {"from": ["$zip", {"$zip": {"plusfour": True}}, {"$number": {"min": 10000, "max": 99999}}],
                                    "weights": [10, 3, 1]}},
        "city": "$city",
        "country": {"$choose": {"from": ["USA", "UK", "France", "Australia", "Germany", {"$country": {"full": True}}],
                                "weights": [20, 3, 2, 1, 1, 1]}},
    },
    "gender": {"$choose": {"from": ["female", "male", "$missing"], "weights": [4, 3, 1]}},
    "phone_no": "$phone",
    "membership_status": {"$choose": {"from": ["ACTIVE", "INACTIVE", "PENDING"], "weights": [65, 8, 27]}},
    "favorite_feature": {"$choose": {
        "from": ["Wired Tiger", "Sharding", "Replication", "Auth", "Partial Indexes", "Document Validation", "Aggregation",
                 "Text Search", "$missing"],
        "weights": [4, 6, 3, 2, 8, 18, 7, 3, 11]}},
    "initial_position": "$point",
    "last_position": "$point",
    "last_login": "$date",
}
FRIENDS = {"name": "$name", "friends": {"$array": {"of": {"name": "$name", "phone": "$phone"},
                                                   "number": {"$integer": {"min": 2, "max": 5}}}}}


def test_fixture_emails():
    for doc in many(EMAILS, 20, seed=1):
        assert isinstance(doc["name"], str) and len(doc["emails"]) == 5 and all("@" in e for e in doc["emails"])


def test_fixture_fanclub():
    docs = many(FANCLUB, 300, seed=1)
    assert {"age" in d for d in docs} == {True, False}
    assert {"gender" in d for d in docs} == {True, False}
    for doc in docs:
        assert isinstance(doc["_id"], ObjectId) and isinstance(doc["last_login"], datetime)
        assert doc["membership_status"] in ("ACTIVE", "INACTIVE", "PENDING")
        assert doc["initial_position"]["type"] == "Point"


def test_fixture_friends():
    for doc in many(FRIENDS, 50, seed=1):
        assert 2 <= len(doc["friends"]) <= 5
        assert all(set(friend) == {"name", "phone"} for friend in doc["friends"])


# -- README.md and docs/operators.md examples ----------------------------------------------------


def test_readme_example_name_age_emails():
    for doc in many({"name": "$name", "age": "$age", "emails": {"$array": {"of": "$email", "number": 3}}}, 5, seed=1):
        assert list(doc) == ["name", "age", "emails"] and type(doc["age"]) is int and len(doc["emails"]) == 3


def test_readme_unquoted_keys_are_equivalent():
    assert many('{"name": "$name"}', 3, seed=4) == many('{name: "$name"}', 3, seed=4)


def test_readme_year_string_and_object_format():
    assert all(isinstance(d["born_in"], str) and len(d["born_in"]) == 4 for d in many({"born_in": "$year"}, 5, seed=1))
    years = [int(d["born_in"]) for d in many({"born_in": {"$year": {"min": 1930, "max": 1970}}}, 50, seed=1)]
    assert all(1930 <= y <= 1970 for y in years)


def test_readme_combining_operators_ip_addresses():
    for doc in many({"ip_addresses": {"$array": {"of": "$ip", "number": {"$integer": {"min": 0, "max": 5}}}}}, 30, seed=1):
        assert 0 <= len(doc["ip_addresses"]) <= 5 and all(ip.count(".") == 3 for ip in doc["ip_addresses"])


def test_readme_array_of_countries():
    countries = one({"countries": {"$array": {"of": {"$country": {"full": True}}, "number": 3}}})["countries"]
    assert len(countries) == 3 and all(isinstance(c, str) and len(c) > 2 for c in countries)


def test_readme_binary():
    assert isinstance(one({"blob": "$binary"})["blob"], Binary)


def test_readme_choose_with_weights():
    statuses = [d["status"] for d in many({"status": {"$choose": {"from": ["read", "unread", "deleted"], "weights": [2, 1, 1]}}}, 4000, seed=1)]
    assert 0.45 < statuses.count("read") / len(statuses) < 0.55


def test_readme_coordinates_with_long_lim():
    longitude, latitude = one({"position": {"$coordinates": {"long_lim": [-20, -19]}}})["position"]
    assert -20 <= longitude <= -19 and -90 <= latitude <= 90


def test_readme_date_between_2015_and_2016():
    doc = one({"last_login": {"$date": {"min": "2015-01-01", "max": "2016-12-31T23:59:59.999Z"}}})
    assert doc["last_login"].year in (2015, 2016)


def test_readme_now():
    assert isinstance(one({"created": "$now"})["created"], datetime)


def test_readme_geometries_four_triangles():
    triangles = one({"triangles": {"$geometries": {"types": ["Polygon"], "corners": 3, "number": 4}}})["triangles"]
    assert triangles["type"] == "GeometryCollection" and len(triangles["geometries"]) == 4
    for polygon in triangles["geometries"]:
        ring = polygon["coordinates"][0]
        assert polygon["type"] == "Polygon" and len(ring) == 4 and ring[0] == ring[-1]


def test_readme_inc_even_numbers():
    assert [d["even_numbers"] for d in many({"even_numbers": {"$inc": {"start": 0, "step": 2}}}, 4)] == [0, 2, 4, 6]


def test_readme_join_code():
    assert one({"code": {"$join": {"array": ["foo", "bar", "baz"], "sep": "-"}}}) == {"code": "foo-bar-baz"}


def test_readme_linestring():
    line = one({"line": "$linestring"})["line"]
    assert line["type"] == "LineString" and len(line["coordinates"]) == 2


def test_readme_maxkey_minkey():
    assert one({"upper_bound": "$maxkey", "lower_bound": "$minkey"}) == {"upper_bound": MaxKey(), "lower_bound": MinKey()}


def test_readme_numberdecimal_fixed_3():
    price = str(one({"price": {"$numberDecimal": {"fixed": 3}}})["price"])
    assert "." not in price or len(price.split(".")[1]) <= 3


def test_readme_numberlong_min():
    price = one({"price": {"$numberLong": {"min": 100000}}})["price"]
    assert isinstance(price, Int64) and 100000 <= price <= 2**53


def test_readme_objectid():
    assert isinstance(one({"_id": "$objectid"})["_id"], ObjectId)


def test_readme_pick_and_pickset_colors():
    assert one({"color": {"$pick": {"array": ["green", "red", "blue"], "element": 1}}}) == {"color": "red"}
    color = one({"color": {"$pickset": {"array": ["green", "red", "blue"], "quantity": 2}}})["color"]
    assert len(color) == 2 and set(color) <= {"green", "red", "blue"}


def test_readme_point_with_long_lim():
    position = one({"position": {"$point": {"long_lim": [-20, -19]}}})["position"]
    assert position["type"] == "Point" and -20 <= position["coordinates"][0] <= -19


def test_readme_polygon_five_corners():
    area = one({"area": {"$polygon": {"corners": 5}}})["area"]
    assert area["type"] == "Polygon" and len(area["coordinates"][0]) == 6


def test_readme_regex():
    assert one({"expr": {"$regex": {"string": "^ab+c$", "flags": "i"}}})["expr"] == Regex("^ab+c$", "i")


def test_readme_timestamp():
    assert one({"ts": {"$timestamp": {"t": 10, "i": 20}}})["ts"] == Timestamp(10, 20)


def test_readme_chance_examples():
    doc = one({"ip_address": "$ip", "percent": {"$floating": {"min": 0, "max": 100, "fixed": 8}},
               "birthday": {"$birthday": {"type": "child"}}, "phone_no": "$phone",
               "full_name": {"$name": {"gender": "female"}}}, seed=2)
    assert doc["ip_address"].count(".") == 3 and 0 <= doc["percent"] <= 100
    assert isinstance(doc["birthday"], datetime) and isinstance(doc["phone_no"], str) and " " in doc["full_name"]


def test_readme_advanced_template_recipient():
    for doc in many({"recipient": "{{chance.name()}} <{{chance.email()}}>"}, 3, seed=1):
        name, email = doc["recipient"][:-1].split(" <")
        assert " " in name and "@" in email


# -- stored BSON types: labkit generate | labkit import ------------------------------------------

# One field per operator (and alias) of mgeneratejs's tests and README, with the
# BSON type mongoimport stores for mgeneratejs 0.6.0's output of that field.
TYPES_TEMPLATE = {
    "array": {"$array": {"of": "$integer", "number": 3}},
    "array_bare": "$array",
    "choose": {"$choose": {"from": ["a", "b", "c"], "weights": [1, 0, 0]}},
    "pick": {"$pick": {"array": ["green", "red", "blue"], "element": 1}},
    "pickset": {"$pickset": {"array": ["green", "red", "blue"], "quantity": 2}},
    "join": {"$join": {"array": ["foo", "bar", "baz"], "sep": "-"}},
    "regex": {"$regex": {"string": "^ab+c$", "flags": "i"}},
    "inc": {"$inc": {"start": 13, "step": 2}},
    "date": {"$date": {"min": "2015-01-01", "max": "2016-12-31T23:59:59.999Z"}},
    "datetime": "$datetime",
    "now": "$now",
    "coordinates": {"$coordinates": {"long_lim": [-20, -19]}},
    "coord": "$coord",
    "coordinate": "$coordinate",
    "point": "$point",
    "linestring": "$linestring",
    "polygon": {"$polygon": {"corners": 5}},
    "geometries": {"$geometries": {"types": ["Polygon"], "corners": 3, "number": 4}},
    "objectid": "$objectid",
    "oid": "$oid",
    "binary": "$binary",
    "binary_01": {"$binary": {"length": 10, "subtype": "01"}},
    "integer": "$integer",
    "number": {"$number": {"min": -10, "max": 10}},
    "numberInt": {"$numberInt": {"min": -10, "max": 10}},
    "long": "$long",
    "decimal": "$decimal",
    "numberDecimal": {"$numberDecimal": {"fixed": 3}},
    "maxkey": "$maxkey",
    "minkey": "$minkey",
    "string": {"$string": {"length": 3}},
    "age": "$age",
    "year": {"$year": {"min": 1930, "max": 1970}},
    "ip": "$ip",
    "floating": {"$floating": {"min": 0, "max": 100, "fixed": 8}},
    "float": "$float",
    "double": "$double",
    "gauss": "$gauss",
    "birthday": {"$birthday": {"type": "child"}},
    "phone": "$phone",
    "name": {"$name": {"gender": "female"}},
    "email": "$email",
    "bool": "$bool",
    "hammertime": "$hammertime",
    "currency": "$currency",
    "mustache": "{{chance.name()}} <{{chance.email()}}>",
    "faker": "{{ faker.company.catchPhrase() }}",
    "literal_int": 5,
    "literal_double": 5.5,
    "literal_whole_double": 5.0,  # JSON.parse makes it 5: mgeneratejs prints 5
    "literal_exponent": 1e2,
    "floating_whole": {"$floating": {"min": 0, "max": 10, "fixed": 0}},  # mgeneratejs prints 7, not 7.0
    "coordinates_whole": {"$coordinates": {"long_lim": [3, 3], "lat_lim": [-4, -4]}},
    "nested": {"bar": "$age", "list": [{"$string": {"length": 3}}, "foo", "$integer"]},
}
EXPECTED_TYPES = {
    "array": "array", "array_bare": "array", "choose": "string", "pick": "string", "pickset": "array",
    "join": "string", "regex": "regex", "inc": "int", "date": "date", "datetime": "date", "now": "date",
    "coordinates": "array", "coord": "array", "coordinate": "array", "point": "object", "linestring": "object",
    "polygon": "object", "geometries": "object", "objectid": "objectId", "oid": "objectId", "binary": "binData",
    "binary_01": "binData", "integer": "int", "number": "int", "numberInt": "int", "long": "long", "decimal": "decimal", "numberDecimal": "decimal",
    "maxkey": "maxKey", "minkey": "minKey", "string": "string", "age": "int", "year": "string", "ip": "string",
    "floating": "double", "float": "double", "double": "double", "gauss": "double", "birthday": "date",
    "phone": "string", "name": "string", "email": "string", "bool": "bool", "hammertime": "long",
    "currency": "object", "mustache": "string", "faker": "string", "literal_int": "int", "literal_double": "double",
    "literal_whole_double": "int", "literal_exponent": "int", "floating_whole": "int", "coordinates_whole": "array",
    "nested": "object",
}


def bson_type(value) -> str:
    """The BSON type name ($type) of a value as PyMongo decodes it."""
    for kind, name in ((bool, "bool"), (Int64, "long"), (int, "int"), (float, "double"), (str, "string"),
                       (dict, "object"), (list, "array"), ((bytes, Binary), "binData"), (ObjectId, "objectId"),
                       (datetime, "date"), (type(None), "null"), (Regex, "regex"), (Code, "javascript"),
                       (Timestamp, "timestamp"), (Decimal128, "decimal"), (MinKey, "minKey"), (MaxKey, "maxKey")):
        if isinstance(value, kind):
            return name
    raise AssertionError(f"unexpected decoded value {value!r}")


@pytest.fixture
def generate_and_import(server, labkit_exe):
    """``generate_and_import(template, n, seed=1)``: `labkit generate TEMPLATE -n N --seed S | labkit import ...`,
    two real processes; the stored documents."""
    return lambda template, n, seed=1: _generate_and_import(server, labkit_exe, template, n, seed)


def _generate_and_import(server, labkit_exe: str, template, n: int, seed: int) -> list[dict]:
    db = server.new_db_name()
    generator = subprocess.Popen([labkit_exe, "generate", json.dumps(template), "-n", str(n), "--seed", str(seed), "-q"],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        importer = subprocess.run([labkit_exe, "import", "--uri", server.uri, "-d", db, "-c", "docs", "--quiet"],
                                  stdin=generator.stdout, capture_output=True, text=True, timeout=120)
        generator.stdout.close()
        assert generator.wait(timeout=60) == 0, generator.stderr.read().decode()
    finally:
        if generator.poll() is None:
            generator.kill()
            generator.wait()
        generator.stderr.close()
    assert importer.returncode == 0, importer.stderr
    try:
        return list(server.client[db]["docs"].find({}, sort=[("_id", 1)]))
    finally:
        server.client.drop_database(db)


def test_types_of_every_operator_through_generate_and_import(generate_and_import):
    docs = generate_and_import(TYPES_TEMPLATE, 50)
    assert len(docs) == 50
    wrong = {}
    for doc in docs:
        for field, expected in EXPECTED_TYPES.items():
            stored = bson_type(doc[field])
            if stored != expected:
                wrong.setdefault(field, (expected, stored, doc[field]))
    assert not wrong, "stored types differ from mgeneratejs | mongoimport: " + "; ".join(
        f"{field}: expected {e}, stored {s} ({v!r})" for field, (e, s, v) in wrong.items())


def test_types_inside_arrays_and_objects_through_generate_and_import(generate_and_import):
    for doc in generate_and_import(TYPES_TEMPLATE, 20, seed=2):
        assert [bson_type(v) for v in doc["array"]] == ["int"] * 3
        assert [bson_type(v) for v in doc["pickset"]] == ["string"] * 2
        assert [bson_type(v) for v in doc["coordinates"]] == ["double", "double"]
        assert bson_type(doc["binary_01"]) == "binData" and doc["binary_01"].subtype == 1
        assert [bson_type(v) for v in doc["nested"]["list"]] == ["string", "string", "int"]
        assert bson_type(doc["nested"]["bar"]) == "int"
        assert [bson_type(v) for v in doc["currency"].values()] == ["string", "string"]
        assert doc["coordinates_whole"] == [3, -4] and [bson_type(v) for v in doc["coordinates_whole"]] == ["int", "int"]


def test_types_of_inc_with_half_steps_through_generate_and_import(generate_and_import):
    # mgeneratejs prints 0.5, 1, 1.5, 2: whole values are stored as int32.
    docs = generate_and_import({"i": {"$inc": {"start": 0.5, "step": 0.5}}}, 4)
    assert [(d["i"], bson_type(d["i"])) for d in docs] == [(0.5, "double"), (1, "int"), (1.5, "double"), (2, "int")]


def test_types_of_long_values_that_fit_in_32_bits_through_generate_and_import(generate_and_import):
    # mgeneratejs prints {"$numberLong": "9999"}: int64 however small. Fails while the Extended JSON
    # writer prints an Int64 that fits in 32 bits as a plain number (being fixed with the shared writer).
    template = {"numberLong": {"$numberLong": {"min": 9999, "max": 9999}}, "long_small": {"$long": {"min": 90, "max": 100}}}
    for doc in generate_and_import(template, 10):
        assert (bson_type(doc["numberLong"]), bson_type(doc["long_small"])) == ("long", "long")


def test_types_of_the_fixtures_through_generate_and_import(generate_and_import):
    for doc in generate_and_import(FANCLUB, 100):
        assert bson_type(doc["_id"]) == "objectId" and bson_type(doc["last_login"]) == "date"
        assert bson_type(doc.get("age", 0)) == "int"
        code = doc["address"]["postal_code"]
        assert bson_type(code) in ("string", "int")
    for doc in generate_and_import(FRIENDS, 20):
        assert all(bson_type(friend["phone"]) == "string" for friend in doc["friends"])
