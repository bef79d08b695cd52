"""mongoexport's own tests (mongo-tools: mongoexport/mongoexport_test.go, csv_test.go), ported as
end-to-end exports from the embedded server, each named after the Go test it comes from; plus
issue 14's export defects 8-11 (dotted fields, CSV rendering of every type, the query dialect,
--queryFile, --assertExists, error messages).
"""
from __future__ import annotations

import csv
import io
import json
import re
import uuid

import bson
import pytest
from bson import Binary, Code, Decimal128, Int64, MaxKey, MinKey, ObjectId, Regex, Timestamp
from bson.raw_bson import RawBSONDocument

from labkit.errors import TransferError
from labkit.transfer import export_collection
from labkit.transfer.export import projection_for
from tests.conftest import run_labkit


def export_text(server, db, collection="source", **options) -> str:
    out = io.StringIO()
    export_collection(server.uri, db.name, collection, out=out, quiet=True, **options)
    return out.getvalue()


def csv_rows(text: str) -> list[dict]:
    records = list(csv.reader(io.StringIO(text)))
    return [dict(zip(records[0], record)) for record in records[1:]]


def insert(db, *docs, collection="source"):
    db[collection].insert_many([RawBSONDocument(bson.encode(doc)) for doc in docs])


# -- mongoexport_test.go ---------------------------------------------------------------------------


def test_TestFieldSelect():
    assert projection_for(["a", "b"]) == {"_id": 1, "a": 1, "b": 1}
    assert projection_for(["x", "foo.baz"]) == {"_id": 1, "foo": 1, "x": 1}
    assert projection_for(["a.$", "b.c.$"]) == {"_id": 1, "a.$": 1, "b.c.$": 1}


def test_TestFieldSelect_json_output_of_a_dotted_field_is_the_whole_top_level_field(server, db):
    insert(db, {"_id": 1, "x": 1, "foo": {"baz": 2, "other": 3}, "y": 4})
    assert export_text(server, db, fields="x,foo.baz") == '{"_id":1,"x":1,"foo":{"baz":2,"other":3}}\n'


NESTED_DOCS = [
    {"_id": 1, "a": [1, 2, 3, 4, 5], "b": {"c": [-1, -2, -3, -4]}},
    {"_id": 2, "a": 1, "b": 2, "c": 3, "d": {"e": [4, 5, 6]}},
    {"_id": 3, "a": 1, "b": 2, "c": 3, "d": 5, "e": {"0": ["foo", "bar", "baz"]}},
    {"_id": 4, "a": 1, "b": 2, "c": 3, "d": [4, 5, 6], "e": [{"0": 0, "1": 1}, {"2": 2, "3": 3}]},
]


@pytest.mark.parametrize("fields,query,column,value", [
    ("d.e.2", None, "d.e.2", "6"),
    ("e.0.0", None, "e.0.0", "foo"),
    ("b,d.1,e.1.3", None, "b", "2"),
    ("b,d.1,e.1.3", None, "d.1", "5"),
    ("b,d.1,e.1.3", None, "e.1.3", "3"),
    ("d.$", '{"d": 4}', "d", "[4]"),
    ("a.$", '{"a": {"$gt": 1}}', "a", "[2]"),
    ("b.c.$", '{"b.c": -1}', "b.c", "[-1]"),
])
def test_TestExportNestedFieldsCSV(server, db, fields, query, column, value):
    insert(db, *NESTED_DOCS)
    rows = csv_rows(export_text(server, db, type="csv", json_format="canonical", fields=fields, query=query))
    assert any(row.get(column) == value for row in rows), rows


def test_TestExportNestedFieldsCSV_array_index_field_never_hits_a_path_collision(server, db):
    insert(db, {"_id": 1, "b": ["inner", {"inner2": 1}]})
    rows = csv_rows(export_text(server, db, type="csv", fields="b.1.inner2,b.0,b"))
    assert rows == [{"b.1.inner2": "1", "b.0": "inner", "b": '["inner",{"inner2":1}]'}]


def test_TestBadOptions_and_messages(server, db):
    with pytest.raises(TransferError, match="^invalid output type 'xml', choose 'json' or 'csv'$"):
        export_collection(server.uri, db.name, "c", type="xml")
    with pytest.raises(TransferError, match="^must specify a collection$"):
        export_collection(server.uri, db.name, "")
    with pytest.raises(TransferError, match="^CSV mode requires a field list"):
        export_collection(server.uri, db.name, "c", type="csv")
    with pytest.raises(TransferError, match="^either --query or --queryFile can be specified as a query option$"):
        export_collection(server.uri, db.name, "c", query="{}", query_file="q.json")
    with pytest.raises(TransferError, match="^error parsing query as Extended JSON: "):
        export_collection(server.uri, db.name, "c", query='{"a": ')
    with pytest.raises(TransferError, match="^query '{a: }' is not valid JSON: "):
        export_collection(server.uri, db.name, "c", sort="{a: }")


def test_TestExportNamespaceValidation_assertExists(server, db):
    with pytest.raises(TransferError, match="^collection `nothere` does not exist$"):
        export_text(server, db, collection="nothere", assert_exists=True)
    assert export_text(server, db, collection="nothere") == ""  # without it: nothing exported, no error


def test_TestExportNoData_on_the_command_line(server, db):
    result = run_labkit("export", "--uri", server.uri, "-d", db.name, "-c", "nothere", "--assertExists")
    assert result.returncode == 1
    assert "Failed: collection `nothere` does not exist" in result.stderr and "Traceback" not in result.stderr
    result = run_labkit("export", "--uri", server.uri, "-d", db.name, "-c", "nothere")
    assert result.returncode == 0 and "exported 0 records" in result.stderr


# -- csv_test.go -----------------------------------------------------------------------------------

WRITE_CSV_FIELDS = "_id,x, y,z.1.a"


def test_TestWriteCSV_with_header_keeps_spaces_in_field_names(server, db):
    insert(db, {"_id": "12345"})
    lines = export_text(server, db, type="csv", fields=WRITE_CSV_FIELDS).splitlines()
    assert next(csv.reader([lines[0]])) == ["_id", "x", " y", "z.1.a"]
    assert next(csv.reader([lines[1]])) == ["12345", "", "", ""]


def test_TestWriteCSV_without_header_and_index_into_nested_object(server, db):
    insert(db, {"_id": "12345"}, {"_id": "2", "z": ["x", {"a": "T", "B": 1}]})
    rows = [next(csv.reader([line])) for line in
            export_text(server, db, type="csv", fields=WRITE_CSV_FIELDS, header_line=False).splitlines()]
    assert rows == [["12345", "", "", ""], ["2", "", "", "T"]]


def test_TestExtractDField(server, db):
    insert(db, {"_id": 1, "a": "string", "b": ["inner", {"inner2": 1}], "c": {"x": 5}, "d": {"z": None}})
    fields = ["a", "b.1", "b.1.inner2", "b.0", "c", "c.x", "d", "d.z", "d.z.nope", "f", "c.nope", "c.nope.NOPE",
              "b.1000"]
    row = csv_rows(export_text(server, db, type="csv", fields=",".join(fields)))[0]
    assert row == {"a": "string", "b.1": '{"inner2":1}', "b.1.inner2": "1", "b.0": "inner", "c": '{"x":5}',
                   "c.x": "5", "d": '{"z":null}', "d.z": "", "d.z.nope": "", "f": "", "c.nope": "",
                   "c.nope.NOPE": "", "b.1000": ""}


# -- issue 14 defect 9: CSV rendering of every type, as mongoexport writes it ----------------------


def test_csv_values_of_every_type_as_mongoexport_writes_them(server, db):
    import datetime as dt

    doc = {"_id": ObjectId("5f43a1b2c3d4e5f6a7b8c9d0"), "min": MinKey(), "max": MaxKey(),
           "bin": Binary(b"\x01\xab", 0), "old": Binary(b"\x02\x00\x00\x00\xcd\xef", 2),
           "uuid": Binary(uuid.UUID("00112233-4455-6677-8899-aabbccddeeff").bytes, 4),
           "re": Regex("^a.*b$", "im"), "ts": Timestamp(1700000000, 7), "code": Code("f()"),
           "scoped": Code("g()", {"x": 1}), "int": 5, "long": Int64(2**40), "double": 5.4, "integral": 2.0,
           "million": 1e6, "tiny": 1.5e-5, "nan": float("nan"), "inf": float("inf"), "dec": Decimal128("1.10"),
           "t": True, "null": None, "date": dt.datetime(2020, 1, 2, 3, 4, 5, 6000, tzinfo=dt.timezone.utc),
           "str": 'say "hi", ok'}
    insert(db, doc)
    fields = [name for name in doc if name != "_id"]
    row = csv_rows(export_text(server, db, type="csv", fields="_id," + ",".join(fields)))[0]
    assert row == {"_id": "ObjectId(5f43a1b2c3d4e5f6a7b8c9d0)", "min": "$MinKey", "max": "$MaxKey", "bin": "01AB",
                   "old": "CDEF", "uuid": "00112233445566778899AABBCCDDEEFF", "re": "/^a.*b$/im",
                   "ts": '{ "$timestamp": { "t": 1700000000, "i": 7 } }', "code": "f()", "scoped": "g()",
                   "int": "5", "long": "1099511627776", "double": "5.4", "integral": "2", "million": "1e+06",
                   "tiny": "1.5e-05", "nan": "NaN", "inf": "+Inf", "dec": "1.10", "t": "true", "null": "",
                   "date": "2020-01-02T03:04:05.006Z", "str": 'say "hi", ok'}


# -- issue 14 defect 10: the query and sort dialect, --queryFile ------------------------------------


@pytest.mark.parametrize("query", [
    '{a: 1}', "{'a': 1}", '{a: {$gte: 1}}', '{_id: ObjectId("5f43a1b2c3d4e5f6a7b8c9d0")}',
    '{when: {$lt: ISODate("2030-01-01T00:00:00Z")}}', '{n: NumberLong(7)}', '{n: NumberLong("7")}',
    '{d: NumberDecimal("1.10")}', '{s: /^x/i}', '{when: {$gt: new Date(0)}}',
])
def test_query_accepts_mongoexports_dialect(server, db, query):
    import datetime as dt

    insert(db, {"_id": ObjectId("5f43a1b2c3d4e5f6a7b8c9d0"), "a": 1, "n": Int64(7), "d": Decimal128("1.10"),
                "s": "Xyz", "when": dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc)},
           {"_id": ObjectId("5f43a1b2c3d4e5f6a7b8c9d1"), "a": 0})
    lines = export_text(server, db, query=query).splitlines()
    assert len(lines) == 1 and json.loads(lines[0])["_id"] == {"$oid": "5f43a1b2c3d4e5f6a7b8c9d0"}


def test_sort_accepts_unquoted_keys_and_keeps_their_order(server, db):
    insert(db, {"_id": 1, "a": 1, "b": 1}, {"_id": 2, "a": 1, "b": 2}, {"_id": 3, "a": 0, "b": 3})
    ids = [json.loads(line)["_id"] for line in export_text(server, db, sort="{a: 1, b: -1}").splitlines()]
    assert ids == [3, 2, 1]


def test_queryFile(server, db, tmp_path):
    insert(db, {"_id": 1, "a": 1}, {"_id": 2, "a": 2})
    path = tmp_path / "query.json"
    path.write_text('{"a": {"$gt": 1}}\n')
    assert export_text(server, db, query_file=str(path)) == '{"_id":2,"a":2}\n'
    result = run_labkit("export", "--uri", server.uri, "-d", db.name, "-c", "source", "--queryFile", str(path),
                        "--quiet")
    assert result.returncode == 0 and result.stdout == '{"_id":2,"a":2}\n'


def test_fields_keep_spaces_exactly_as_given(server, db):
    insert(db, {"_id": 1, " y": 2, "y": 3})
    assert export_text(server, db, fields=" y") == '{"_id":1," y":2}\n'
