"""Export and import (labkit.transfer) against a real embedded server.

Fidelity is checked on raw BSON: what the server holds after export + import
must be byte-identical to what it held before.
"""
from __future__ import annotations

import datetime as dt
import io
import json
import os
import stat
import threading
import time
import uuid

import bson
import pytest
from bson import Binary, Code, Decimal128, Int64, MaxKey, MinKey, ObjectId, Regex, Timestamp
from bson.codec_options import CodecOptions
from bson.datetime_ms import DatetimeMS
from bson.raw_bson import RawBSONDocument
from pymongo import MongoClient, monitoring
from pymongo.errors import OperationFailure

from labkit.errors import TransferError
from labkit.transfer import ImportFailed, export_collection, import_file, pacing

UTC = dt.timezone.utc
RAW = CodecOptions(document_class=RawBSONDocument)


def every_type() -> dict:
    """One field per BSON type (and the awkward values of each)."""
    return {
        "_id": ObjectId("5f43a1b2c3d4e5f6a7b8c9d0"),
        "double": 1.5, "double_integral": 2.0, "double_nan": float("nan"), "double_inf": float("inf"),
        "double_ninf": float("-inf"), "double_negzero": -0.0, "double_huge": 1e300, "double_tiny": 5e-324,
        "double_third": 1 / 3,
        "string": "héllo ✓ 𝄞 \"quoted\" back\\slash tab\t newline\n", "string_empty": "",
        "document": {"z": 1, "a": {"m": [1, {"deep": None}]}},
        "array": [1, "two", [3.0], {"four": 4}],
        "binary_0": Binary(b"\x00\x01\xff", 0), "binary_1": Binary(b"fn", 1), "binary_2": Binary(b"old", 2),
        "binary_3": Binary(uuid.UUID("00112233-4455-6677-8899-aabbccddeeff").bytes, 3),
        "binary_4": Binary(uuid.UUID("00112233-4455-6677-8899-aabbccddeeff").bytes, 4),
        "binary_5": Binary(b"0123456789abcdef", 5), "binary_6": Binary(b"enc", 6), "binary_7": Binary(b"col", 7),
        "binary_8": Binary(b"sensitive", 8), "binary_128": Binary(b"user", 128),
        "objectid": ObjectId("000000000000000000000001"),
        "bool_true": True, "bool_false": False,
        "date": dt.datetime(2024, 2, 29, 12, 30, 45, 123000, tzinfo=UTC),
        "date_epoch": dt.datetime(1970, 1, 1, tzinfo=UTC),
        "date_before_1970": dt.datetime(1969, 7, 20, 20, 17, 40, 1000, tzinfo=UTC),
        "null": None,
        "regex": Regex("^a.*b$", "imsx"), "regex_plain": Regex("x/y", ""),
        "code": Code("function () { return 1; }"),
        "code_with_scope": Code("function () { return x; }", {"x": 1}),
        "int32": 42, "int32_min": -(2 ** 31), "int32_max": 2 ** 31 - 1,
        "timestamp": Timestamp(1700000000, 7),
        "int64_small": Int64(5), "int64_big": Int64(2 ** 62), "int64_min": Int64(-(2 ** 63)),
        "decimal": Decimal128("1.10"), "decimal_nan": Decimal128("NaN"), "decimal_negzero": Decimal128("-0"),
        "decimal_ninf": Decimal128("-Infinity"), "decimal_exp": Decimal128("1.000E+6144"),
        "minkey": MinKey(), "maxkey": MaxKey(),
    }


# Relaxed Extended JSON writes an int64 as a plain number: one that fits in 32 bits comes back
# as an int32 (the specification's documented loss). Every other value is exact.
RELAXED_INEXACT = {"int64_small"}


def raw_docs(coll) -> list[bytes]:
    return [doc.raw for doc in coll.with_options(codec_options=RAW).find({}, sort=[("_id", 1)])]


def insert_raw(coll, doc: dict) -> None:
    coll.insert_one(RawBSONDocument(bson.encode(doc)))


def roundtrip(server, db, tmp_path, json_format: str, doc: dict, **export_options) -> tuple[list[bytes], list[bytes]]:
    insert_raw(db.source, doc)
    path = tmp_path / f"export-{json_format}.json"
    report = export_collection(server.uri, db.name, "source", json_format=json_format, out=str(path), quiet=True,
                               **export_options)
    assert report.count == 1 and report.path == str(path)
    result = import_file(server.uri, db.name, "target", str(path), json_array=export_options.get("json_array", False),
                         quiet=True)
    assert (result.imported, result.failed) == (1, 0)
    return raw_docs(db.source), raw_docs(db.target)


@pytest.mark.parametrize("options", [{}, {"json_array": True}, {"pretty": True}, {"json_array": True, "pretty": True}])
def test_canonical_round_trip_is_byte_identical(server, db, tmp_path, options):
    before, after = roundtrip(server, db, tmp_path, "canonical", every_type(), **options)
    assert after == before


def test_relaxed_round_trip_is_byte_identical_for_what_relaxed_represents(server, db, tmp_path):
    doc = {k: v for k, v in every_type().items() if k not in RELAXED_INEXACT}
    before, after = roundtrip(server, db, tmp_path, "relaxed", doc)
    assert after == before


# Dates outside years 1-9999 cannot be stored on the embedded server (it rejects them as
# "invalid BSON in body"), so their fidelity is checked through the codec alone.
OUT_OF_RANGE_DATES = {"date_after_9999": DatetimeMS(253402300800000 + 86_400_000),
                      "date_before_year_1": DatetimeMS(-62135596800000 - 1)}


@pytest.mark.parametrize("json_format", ["canonical", "relaxed"])
def test_codec_round_trip_including_dates_outside_years_1_to_9999(json_format):
    from labkit import ejson
    from labkit.transfer.reader import JSONDocuments, TextSource, open_input

    doc = {**every_type(), **OUT_OF_RANGE_DATES}
    if json_format == "relaxed":
        doc = {k: v for k, v in doc.items() if k not in RELAXED_INEXACT}
    text = ejson.dumps(doc, json_format) + "\n" + ejson.dumps(doc, json_format, pretty=True)
    assert f'"date_after_9999":{{"$date":{{"$numberLong":"{253402300800000 + 86_400_000}"}}}}' in text
    parsed = list(JSONDocuments(TextSource(open_input(io.BytesIO(text.encode())))))
    assert [bson.encode(d) for d in parsed] == [bson.encode(doc)] * 2


def test_relaxed_int64_that_fits_32_bits_comes_back_as_int32(server, db, tmp_path):
    roundtrip(server, db, tmp_path, "relaxed", {"_id": 1, "n": Int64(5)})
    raw = raw_docs(db.target)[0]
    assert raw == bson.encode({"_id": 1, "n": 5})  # int32, as mongoimport reads a relaxed number


def test_relaxed_output_follows_the_extended_json_specification(server, db, tmp_path):
    insert_raw(db.c, every_type())
    out = io.StringIO()
    export_collection(server.uri, db.name, "c", out=out, quiet=True)
    line = out.getvalue()
    assert line.endswith("}\n") and line.count("\n") == 1
    doc = json.loads(line)
    assert doc["double_integral"] == 2.0 and '"double_integral":2.0' in line
    assert doc["double_nan"] == {"$numberDouble": "NaN"}
    assert doc["double_inf"] == {"$numberDouble": "Infinity"}
    assert doc["date"] == {"$date": "2024-02-29T12:30:45.123Z"}
    assert doc["date_before_1970"] == {"$date": {"$numberLong": "-14182939999"}}
    assert doc["int64_big"] == 2 ** 62 and doc["int32"] == 42
    assert "héllo ✓" in line  # UTF-8 as is, not \u escapes (as mongoexport)
    assert line.startswith('{"_id":{"$oid":"5f43a1b2c3d4e5f6a7b8c9d0"},"double":1.5,')  # compact, field order kept


def test_field_order_is_preserved(server, db, tmp_path):
    doc = {"_id": 7, "zeta": 1, "alpha": {"y": 1, "b": 2, "a": 3}, "mid": [{"q": 1, "p": 2}]}
    before, after = roundtrip(server, db, tmp_path, "relaxed", doc)
    assert after == before == [bson.encode(doc)]


# --- files as the real tools write them (written by hand from the Extended JSON v2 spec) -----------

MONGOEXPORT_RELAXED = (
    '{"_id":{"$oid":"5f43a1b2c3d4e5f6a7b8c9d1"},"firstname":"Ada","age":36,"balance":1234.5,"score":2.0,'
    '"joined":{"$date":"2020-01-02T03:04:05.678Z"},"born":{"$date":{"$numberLong":"-86400000"}},'
    '"card":{"$binary":{"base64":"ABEiM0RVZneImaq7zN3u/w==","subType":"04"}},"big":9007199254740993,'
    '"price":{"$numberDecimal":"9.99"},"ratio":{"$numberDouble":"NaN"},"tags":["a","b"],'
    '"address":{"city":"Zürich","zip":"8001"}}\n'
    '{"_id":{"$oid":"5f43a1b2c3d4e5f6a7b8c9d2"},"firstname":"Grace","age":{"$numberLong":"7"},'
    '"uuid":{"$uuid":"00112233-4455-6677-8899-aabbccddeeff"},"re":{"$regularExpression":{"pattern":"^G","options":"i"}}}\n'
)
MONGOEXPORT_RELAXED_EXPECTED = [
    {"_id": ObjectId("5f43a1b2c3d4e5f6a7b8c9d1"), "firstname": "Ada", "age": 36, "balance": 1234.5, "score": 2.0,
     "joined": dt.datetime(2020, 1, 2, 3, 4, 5, 678000, tzinfo=UTC), "born": dt.datetime(1969, 12, 31, tzinfo=UTC),
     "card": Binary(bytes.fromhex("00112233445566778899aabbccddeeff"), 4), "big": Int64(9007199254740993),
     "price": Decimal128("9.99"), "ratio": float("nan"), "tags": ["a", "b"],
     "address": {"city": "Zürich", "zip": "8001"}},
    {"_id": ObjectId("5f43a1b2c3d4e5f6a7b8c9d2"), "firstname": "Grace", "age": Int64(7),
     "uuid": Binary(bytes.fromhex("00112233445566778899aabbccddeeff"), 4), "re": Regex("^G", "i")},
]
MONGOEXPORT_CANONICAL_ARRAY = (
    '[{"_id":{"$oid":"5f43a1b2c3d4e5f6a7b8c9d3"},"n":{"$numberInt":"1"},"l":{"$numberLong":"2"},'
    '"d":{"$numberDouble":"1.0"},"nz":{"$numberDouble":"-0.0"},"dt":{"$date":{"$numberLong":"1577934245678"}},'
    '"b":{"$binary":{"base64":"AQI=","subType":"00"}},"ts":{"$timestamp":{"t":1,"i":2}},'
    '"mn":{"$minKey":1},"mx":{"$maxKey":1},"c":{"$code":"f()"},"t":true,"z":null},'
    '{"_id":{"$oid":"5f43a1b2c3d4e5f6a7b8c9d4"},"s":"x"}]\n'
)
MONGOEXPORT_CANONICAL_EXPECTED = [
    {"_id": ObjectId("5f43a1b2c3d4e5f6a7b8c9d3"), "n": 1, "l": Int64(2), "d": 1.0, "nz": -0.0,
     "dt": dt.datetime(2020, 1, 2, 3, 4, 5, 678000, tzinfo=UTC), "b": Binary(b"\x01\x02", 0),
     "ts": Timestamp(1, 2), "mn": MinKey(), "mx": MaxKey(), "c": Code("f()"), "t": True, "z": None},
    {"_id": ObjectId("5f43a1b2c3d4e5f6a7b8c9d4"), "s": "x"},
]
MONGOEXPORT_PRETTY = (  # mongoexport --pretty: tab-indented, documents separated by a newline
    '{\n\t"_id": {\n\t\t"$oid": "5f43a1b2c3d4e5f6a7b8c9d5"\n\t},\n\t"name": "pretty",\n\t"list": [\n\t\t1,\n\t\t2\n\t]\n}\n'
    '{\n\t"_id": {\n\t\t"$oid": "5f43a1b2c3d4e5f6a7b8c9d6"\n\t},\n\t"name": "second"\n}\n\n'
)
# mgeneratejs prints one EJSON document per line, without _id (the driver adds one on insert).
MGENERATEJS = (
    '{"firstname":"Lela","lastname":"Brock","email":"ma@zu.gov","age":{"$numberInt":"41"},'
    '"created":{"$date":"2018-03-02T10:11:12.000Z"},"balance":{"$numberDecimal":"1052.27"},'
    '"phones":[{"type":"home","number":"555-0100"}]}\n'
    '{"firstname":"Owen","lastname":"Ruiz","email":"o@r.io","age":{"$numberInt":"29"},'
    '"created":{"$date":{"$numberLong":"1520000000000"}},"balance":{"$numberDecimal":"0.50"},"phones":[]}\n'
)


def test_mongoexport_relaxed_file_imports_with_exact_types(server, db, tmp_path):
    path = tmp_path / "relaxed.json"
    path.write_text(MONGOEXPORT_RELAXED, encoding="utf-8")
    report = import_file(server.uri, db.name, "c", str(path), quiet=True)
    assert (report.imported, report.failed, report.read) == (2, 0, 2)
    assert raw_docs(db.c) == [bson.encode(doc) for doc in MONGOEXPORT_RELAXED_EXPECTED]


def test_mongoexport_canonical_json_array_imports_with_exact_types(server, db):
    report = import_file(server.uri, db.name, "c", io.BytesIO(MONGOEXPORT_CANONICAL_ARRAY.encode()), json_array=True,
                         quiet=True)
    assert report.imported == 2
    assert raw_docs(db.c) == [bson.encode(doc) for doc in MONGOEXPORT_CANONICAL_EXPECTED]


def test_pretty_multi_line_documents_import(server, db):
    report = import_file(server.uri, db.name, "c", io.StringIO(MONGOEXPORT_PRETTY), quiet=True)
    assert report.imported == 2
    assert [d["name"] for d in db.c.find(sort=[("_id", 1)])] == ["pretty", "second"]
    assert db.c.find_one({"name": "pretty"})["list"] == [1, 2]


def test_mgeneratejs_output_imports_and_gets_object_ids(server, db):
    report = import_file(server.uri, db.name, "c", io.BytesIO(MGENERATEJS.encode()), quiet=True)
    assert report.imported == 2
    docs = list(db.c.find())
    assert all(isinstance(d["_id"], ObjectId) for d in docs)
    assert list(docs[0]) == ["_id", "firstname", "lastname", "email", "age", "created", "balance", "phones"]
    assert docs[0]["balance"] == Decimal128("1052.27") and docs[1]["created"].year == 2018


def test_bom_and_blank_lines_and_several_documents_on_a_line(server, db):
    text = "\ufeff" + '{"_id":1}\n\n   \n{"_id":2}{"_id":3}\r\n{"_id":4}'
    report = import_file(server.uri, db.name, "c", io.BytesIO(text.encode()), quiet=True)
    assert report.imported == 4
    assert [d["_id"] for d in db.c.find(sort=[("_id", 1)])] == [1, 2, 3, 4]


def test_documents_spanning_read_chunks(server, db, monkeypatch):
    from labkit.transfer import reader

    monkeypatch.setattr(reader, "CHUNK_CHARS", 64)  # every document straddles chunk boundaries
    lines = "".join(json.dumps({"_id": i, "s": "xé" * i, "n": [i] * 20}, ensure_ascii=i % 2 == 0) + "\n" for i in range(50))
    report = import_file(server.uri, db.name, "c", io.BytesIO(lines.encode()), quiet=True)
    assert report.imported == 50
    assert db.c.find_one({"_id": 49})["s"] == "xé" * 49


# --- export options -----------------------------------------------------------------------------


@pytest.fixture
def people(db):
    db.people.insert_many([
        {"_id": i, "firstname": f"p{i}", "age": 20 + i, "address": {"city": "Oslo" if i % 2 else "Rome"}}
        for i in range(6)
    ] + [{"_id": 100, "lastname": "no-firstname"}])
    return db


def test_export_query_fields_sort_skip_limit(server, people):
    out = io.StringIO()
    report = export_collection(server.uri, people.name, "people", query='{"firstname": {"$exists": true}}',
                               fields="firstname,address.city", sort='{"age": -1}', skip=1, limit=3, out=out, quiet=True)
    docs = [json.loads(line) for line in out.getvalue().splitlines()]
    assert report.count == 3
    assert docs == [{"_id": 4, "firstname": "p4", "address": {"city": "Rome"}},
                    {"_id": 3, "firstname": "p3", "address": {"city": "Oslo"}},
                    {"_id": 2, "firstname": "p2", "address": {"city": "Rome"}}]


def test_export_query_in_extended_json_matches_object_ids_and_dates(server, db):
    oid = ObjectId()
    db.c.insert_many([{"_id": oid, "at": dt.datetime(2021, 5, 1, tzinfo=UTC)}, {"_id": ObjectId()}])
    for query in (f'{{"_id": {{"$oid": "{oid}"}}}}', '{"at": {"$gte": {"$date": "2021-01-01T00:00:00Z"}}}',
                  '{"at": {"$gte": {"$date": {"$numberLong": "1609459200000"}}}}'):
        out = io.StringIO()
        assert export_collection(server.uri, db.name, "c", query=query, out=out, quiet=True).count == 1, query
        assert str(oid) in out.getvalue()


def test_export_csv_and_json_array(server, people):
    out = io.StringIO()
    export_collection(server.uri, people.name, "people", type="csv", fields=["firstname", "address.city", "age"],
                      sort={"_id": 1}, limit=2, out=out, quiet=True)
    assert out.getvalue() == "firstname,address.city,age\np0,Rome,20\np1,Oslo,21\n"
    out = io.StringIO()
    export_collection(server.uri, people.name, "people", type="csv", fields="firstname", limit=1, sort='{"_id":1}',
                      header_line=False, out=out, quiet=True)
    assert out.getvalue() == "p0\n"
    out = io.StringIO()
    export_collection(server.uri, people.name, "people", json_array=True, fields="age", sort='{"_id":1}', limit=2,
                      out=out, quiet=True)
    assert out.getvalue() == '[{"_id":0,"age":20},{"_id":1,"age":21}]\n'


def test_export_missing_collection_is_zero_records(server, db):
    out = io.StringIO()
    assert export_collection(server.uri, db.name, "nothing_here", out=out, quiet=True).count == 0
    assert out.getvalue() == ""


def test_export_file_is_atomic_and_owner_only(server, people, tmp_path):
    path = tmp_path / "out.json"
    report = export_collection(server.uri, people.name, "people", out=path, quiet=True)
    assert report.count == 7 and report.closing_line() == "exported 7 records"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert len(path.read_text().splitlines()) == 7
    path.write_text("keep me")
    with pytest.raises(TransferError):
        export_collection(server.uri, people.name, "people", query='{"a": 1', out=path, quiet=True)
    assert path.read_text() == "keep me" and os.listdir(tmp_path) == ["out.json"]


def test_export_stops_on_server_error_and_leaves_no_file(server, people, tmp_path):
    path = tmp_path / "bad.json"
    with pytest.raises(TransferError, match="error reading"):
        export_collection(server.uri, people.name, "people", query='{"age": {"$noSuchOperator": 1}}', out=path, quiet=True)
    assert os.listdir(tmp_path) == []


def test_export_report_closing_line_singular(server, people):
    assert export_collection(server.uri, people.name, "people", limit=1, out=io.StringIO(),
                             quiet=True).closing_line() == "exported 1 record"


# --- import modes -------------------------------------------------------------------------------


def lines(*docs) -> io.BytesIO:
    return io.BytesIO("".join(json.dumps(d) + "\n" for d in docs).encode())


def test_insert_counts_duplicates_as_failures_and_continues(server, db, capsys):
    db.c.insert_one({"_id": 2, "v": "old"})
    report = import_file(server.uri, db.name, "c", lines({"_id": 1}, {"_id": 2}, {"_id": 3}))
    assert (report.imported, report.failed) == (2, 1)
    assert report.errors[0]["document"] == 2 and report.errors[0]["code"] == 11000
    assert "duplicate key" in report.errors[0]["reason"]
    assert report.closing_line() == "2 document(s) imported successfully. 1 document(s) failed to import."
    err = capsys.readouterr().err
    assert "continuing through error: E11000" in err and report.closing_line() in err
    assert db.c.find_one({"_id": 2})["v"] == "old"


def test_stop_on_error_and_maintain_insertion_order_stop_at_the_duplicate(server, db):
    db.c.insert_one({"_id": 2})
    with pytest.raises(ImportFailed, match="duplicate key") as failed:
        import_file(server.uri, db.name, "c", lines({"_id": 1}, {"_id": 2}, {"_id": 3}), maintain_insertion_order=True,
                    quiet=True)
    assert (failed.value.report.imported, failed.value.report.failed) == (1, 1)
    assert sorted(d["_id"] for d in db.c.find()) == [1, 2]  # ordered: nothing after the error


def test_upsert_replaces_on_id_and_on_upsert_fields(server, db):
    db.c.insert_many([{"_id": 1, "email": "a@x", "v": 1, "gone": True}, {"_id": 2, "email": "b@x", "v": 1}])
    report = import_file(server.uri, db.name, "c", lines({"_id": 1, "email": "a@x", "v": 2}, {"_id": 3, "v": 3}),
                         mode="upsert", quiet=True)
    assert (report.imported, report.failed) == (2, 0)
    assert db.c.find_one({"_id": 1}) == {"_id": 1, "email": "a@x", "v": 2}
    # upsert fields without a mode (mode=None, as the CLI passes it) imply upsert
    report = import_file(server.uri, db.name, "c", lines({"email": "b@x", "v": 9}), mode=None, upsert_fields="email",
                         quiet=True)
    assert report.mode == "upsert" and report.imported == 1
    assert db.c.find_one({"_id": 2}) == {"_id": 2, "email": "b@x", "v": 9}
    assert db.c.count_documents({}) == 3


def test_upsert_without_any_upsert_field_inserts(server, db):
    report = import_file(server.uri, db.name, "c", lines({"name": "new"}), mode="upsert", upsert_fields="email",
                         quiet=True)
    assert report.imported == 1 and db.c.find_one({"name": "new"})


def test_merge_updates_fields_and_keeps_the_others(server, db):
    db.c.insert_one({"_id": 1, "a": 1, "keep": "me"})
    report = import_file(server.uri, db.name, "c", lines({"_id": 1, "a": 2, "b": 3}, {"_id": 2, "a": 5}), mode="merge",
                         quiet=True)
    assert report.imported == 2
    assert db.c.find_one({"_id": 1}) == {"_id": 1, "a": 2, "keep": "me", "b": 3}
    assert db.c.find_one({"_id": 2}) == {"_id": 2, "a": 5}


def test_delete_mode(server, db):
    db.c.insert_many([{"_id": 1, "k": "a"}, {"_id": 2, "k": "b"}, {"_id": 3, "k": "c"}])
    report = import_file(server.uri, db.name, "c", lines({"k": "a"}, {"k": "zzz"}, {"other": 1}, {"k": "c"}),
                         mode="delete", upsert_fields="k", quiet=True)
    assert (report.imported, report.failed) == (2, 0)  # no match is not a failure; no field: skipped
    assert report.closing_line() == "2 document(s) deleted successfully. 0 document(s) failed to delete."
    assert [d["_id"] for d in db.c.find()] == [2]


def test_drop_and_parallel_workers(server, db):
    db.c.insert_one({"_id": "old"})
    docs = [{"_id": i} for i in range(2500)]
    report = import_file(server.uri, db.name, "c", lines(*docs), drop=True, num_insertion_workers=3, batch_size=100,
                         quiet=True)
    assert report.imported == 2500 and db.c.count_documents({}) == 2500 and not db.c.find_one({"_id": "old"})


def insert_batch_sizes(uri, db, count: int, **options) -> list[int]:
    """Documents per insert command of an import of ``count`` documents (seen by a command listener)."""
    sizes = []

    class Listener(monitoring.CommandListener):
        def started(self, event):
            if event.command_name == "insert" and event.command.get("documents") and "n" not in event.command["documents"][0]:
                sizes.append(len(event.command["documents"]))

        def succeeded(self, event):
            pass

        def failed(self, event):
            pass

    client = MongoClient(uri, event_listeners=[Listener()], retryWrites=False)
    try:
        report = import_file(client, db.name, "c", lines(*({"_id": i} for i in range(count))), quiet=True, **options)
    finally:
        client.close()
    assert report.imported == count and db.c.count_documents({"n": {"$exists": False}}) == count
    return sizes


class OtherWriter:
    """Another client inserting into ``db.c`` about every 5 ms, as the lab's application does (slower)."""

    def __init__(self, uri, db):
        self.client = MongoClient(uri)
        self.coll = self.client[db.name].c
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        n = 0
        while not self.stop.is_set():
            n += 1
            self.coll.insert_one({"n": n})
            time.sleep(0.005)

    def __enter__(self):
        self.thread.start()
        time.sleep(0.3)
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()
        self.client.close()


def test_batches_are_full_when_alone_and_fixed_with_batch_size(server, db):
    assert insert_batch_sizes(server.uri, db, 2500, batch_size=700) == [700, 700, 700, 400]
    db.c.drop()
    # Alone: the first moments are careful (nobody has been seen yet), then full batches of 1000.
    sizes = insert_batch_sizes(server.uri, db, 12000)
    assert sizes[0] == pacing.POLITE_DOCS and max(sizes) == 1000 and sizes.count(1000) >= 5


def test_batches_stay_small_while_another_client_writes(server, db):
    with OtherWriter(server.uri, db) as other:
        sizes = insert_batch_sizes(server.uri, db, 1500)
        assert other.coll.count_documents({"n": {"$exists": True}}) > 0
    assert len(sizes) >= 1500 // pacing.POLITE_DOCS and max(sizes) == pacing.POLITE_DOCS


class _DocsUntil:
    """An import source that writes ``{"_id": i}`` lines until ``done`` is set (or a generous deadline passes)."""

    def __init__(self, deadline_s: float = 180):
        self.done = threading.Event()
        self.deadline = time.monotonic() + deadline_s
        self.next_id = 0

    def read(self, size: int = -1) -> bytes:
        if self.done.is_set() or time.monotonic() > self.deadline:
            return b""
        chunk = []
        for _ in range(200):
            chunk.append(b'{"_id":%d}\n' % self.next_id)
            self.next_id += 1
        return b"".join(chunk)


def test_batches_grow_again_after_the_other_client_stops(server, db, wait_for):
    """Conditions, not clocks: the other client stops once the import has been seen polite for 20 commands,
    and the input ends once a full batch went out (the real QUIET_SECONDS in between, however long it takes)."""
    source = _DocsUntil()
    sizes: list[int] = []
    other = OtherWriter(server.uri, db)
    stopped_at: list[int] = []  # how many batches had gone out when the other client was told to stop

    class Listener(monitoring.CommandListener):
        def started(self, event):
            if event.command_name == "insert" and event.command.get("documents") and "n" not in event.command["documents"][0]:
                sizes.append(len(event.command["documents"]))
                if not stopped_at and sizes.count(pacing.POLITE_DOCS) >= 20:
                    stopped_at.append(len(sizes))
                    other.stop.set()
                if len(event.command["documents"]) == 1000:
                    source.done.set()

        def succeeded(self, event):
            pass

        def failed(self, event):
            pass

    client = MongoClient(server.uri, event_listeners=[Listener()], retryWrites=False)
    try:
        with other:
            wait_for(lambda: other.coll.count_documents({"n": {"$exists": True}}) > 0, what="the other client's first insert")
            report = import_file(client, db.name, "c", source, quiet=True)
    finally:
        client.close()
    assert source.done.is_set(), f"no full batch before the deadline: {len(sizes)} batches, the last {sizes[-5:]}"
    assert report.imported == source.next_id and report.failed == 0
    first_full = sizes.index(1000)
    assert stopped_at and first_full >= stopped_at[0]  # full only after the other client was told to stop
    assert set(sizes[:stopped_at[0]]) == {pacing.POLITE_DOCS}  # polite the whole time it wrote


def test_without_top_privilege_batches_are_sized_from_latency(auth_servers, tmp_path):
    main_uri = auth_servers[0]
    admin = MongoClient(main_uri)
    admin.labimport.command("createUser", "writer", pwd="w-secret", roles=["readWrite"])
    try:
        user_uri = main_uri.replace(main_uri.split("//")[1].split("@")[0], "writer:w-secret").replace(
            "authSource=admin", "authSource=labimport")
        user = MongoClient(user_uri)
        try:
            with pytest.raises(OperationFailure) as refused:
                user.admin.command("top")
        finally:
            user.close()
        assert refused.value.code == 13, refused.value.details  # Unauthorized: the premise, not any error
        sizes = insert_batch_sizes(user_uri, admin.labimport, 1200)
        assert sizes[0] == pacing.UNKNOWN_MIN_DOCS and min(sizes[:-1]) >= pacing.UNKNOWN_MIN_DOCS
    finally:
        admin.drop_database("labimport")
        admin.close()


def test_import_connections_do_not_use_retryable_writes_unless_the_uri_asks(server):
    from labkit.deploy import Deployment
    from labkit.transfer.common import Connection

    for uri, expected in ((server.uri, False), (server.uri + "&retryWrites=true", True)):
        conn = Connection(uri)
        assert conn.client.options.retry_writes is expected
        conn.close()
    deployment = Deployment("main", "uri", server.uri)
    conn = Connection(deployment)
    assert conn.client is not deployment.client and conn.client.options.retry_writes is False
    conn.close()
    deployment.close()


def test_csv_field_file_and_ignore_blanks(server, db, tmp_path):
    names = tmp_path / "names.txt"
    names.write_text("name\n\naddress.city\nage\n")  # a blank line is skipped
    rows = io.StringIO("Ann,Oslo,41\nBob,,\n")
    report = import_file(server.uri, db.name, "c", rows, type="csv", field_file=str(names), quiet=True)
    assert report.imported == 2
    assert db.c.find_one({"name": "Ann"}, {"_id": 0}) == {"name": "Ann", "address": {"city": "Oslo"}, "age": 41}
    assert db.c.find_one({"name": "Bob"}, {"_id": 0}) == {"name": "Bob", "address": {"city": ""}, "age": ""}
    rows = io.StringIO("Bob\t\t\n")
    import_file(server.uri, db.name, "t", rows, type="tsv", field_file=str(names), ignore_blanks=True, quiet=True)
    assert db.t.find_one({}, {"_id": 0}) == {"name": "Bob"}


@pytest.mark.parametrize("content, message", [
    (None, "error reading --fieldFile .*names.txt: No such file"),
    (b"\n  \n", "names no fields: write one field name per line"),
    (b"name\n\xff\xfe\n", "is not UTF-8 text"),
])
def test_bad_field_file_is_explained_and_nothing_is_written(server, db, tmp_path, content, message):
    names = tmp_path / "names.txt"
    if content is not None:
        names.write_bytes(content)
    with pytest.raises(TransferError, match=message):
        import_file(server.uri, db.name, "c", io.StringIO("Ann\n"), type="csv", field_file=str(names), quiet=True)
    assert "c" not in db.list_collection_names()


def test_csv_and_tsv_import_with_types_and_nested_fields(server, db):
    csv_text = 'name,age,score,address.city,note\n"Smith, Ann",41,1.5,Oslo,"said ""hi"""\nBob,3000000000,x,,\n'
    report = import_file(server.uri, db.name, "c", io.StringIO(csv_text), type="csv", header_line=True, quiet=True)
    assert report.imported == 2
    ann = db.c.find_one({"name": "Smith, Ann"}, {"_id": 0})
    assert ann == {"name": "Smith, Ann", "age": 41, "score": 1.5, "address": {"city": "Oslo"}, "note": 'said "hi"'}
    bob = db.c.with_options(codec_options=RAW).find_one({"name": "Bob"})
    assert isinstance(bson.decode(bob.raw)["age"], int) and bson.decode(bob.raw)["age"] == 3000000000
    report = import_file(server.uri, db.name, "t", io.StringIO("a\t1\nb\t2\n"), type="tsv", fields="k,v", quiet=True)
    assert report.imported == 2 and db.t.find_one({"k": "b"})["v"] == 2


# --- errors (each one a learner can cause) ------------------------------------------------------


def test_malformed_line_stops_with_line_column_text_and_count(server, db, tmp_path):
    path = tmp_path / "bad.json"
    path.write_text('{"_id":1}\n{"_id":2}\n{"_id":3}\n{"_id":4, "name": "x" "oops": 1}\n{"_id":5}\n')
    with pytest.raises(ImportFailed) as failed:
        import_file(server.uri, db.name, "c", str(path), quiet=True)
    message = str(failed.value)
    assert "document #4 (line 4, column 23)" in message and "Expecting ',' delimiter" in message
    assert '"oops"' in message
    assert "3 document(s) were imported before it stopped" in message
    assert failed.value.report.imported == 3 and failed.value.report.failed == 0
    assert db.c.count_documents({}) == 3


def test_truncated_last_document_is_malformed(server, db):
    with pytest.raises(ImportFailed, match=r"document #2 \(line 2"):
        import_file(server.uri, db.name, "c", io.BytesIO(b'{"_id":1}\n{"_id":2, "a": [1, 2'), quiet=True)


def test_bad_extended_json_value_is_malformed(server, db):
    with pytest.raises(ImportFailed, match=r"document #1 \(line 1, column 1\).*oid"):
        import_file(server.uri, db.name, "c", io.BytesIO(b'{"_id":{"$oid":"not-hex"}}\n'), quiet=True)


def test_array_input_without_json_array_flag_says_so(server, db):
    with pytest.raises(ImportFailed, match="--jsonArray"):
        import_file(server.uri, db.name, "c", io.BytesIO(b'[{"a":1}]'), quiet=True)


# Unquoted keys ({a: 1}) are accepted, as mongoexport accepts them: see test_mongoexport_ported.py.
@pytest.mark.parametrize("query, sort, message", [
    ('{"a": 1', None, "error parsing query as Extended JSON: expected '}', found 'end of input' at column 8 near '{\"a\": 1'"),
    ("{a: }", None, "error parsing query as Extended JSON: invalid character '}' looking for beginning of value "
                    "at column 5 near '{a: }'"),
    ("[1]", None, "error parsing query as Extended JSON: it must be a document such as {\"a\": 1}, not '[1]'"),
    # mongoexport's words for a bad --sort (mongoexport.go getSortFromArg) say "query" too
    (None, '{"a": }', "query '{\"a\": }' is not valid JSON: invalid character '}' looking for beginning of value "
                      "at column 7 near '{\"a\": }'"),
    ('{"_id": {"$oid": "zz"}}', None, "error parsing query as Extended JSON: 'zz' is not a valid ObjectId, it must be "
                                      "a 12-byte input or a 24-character hex string"),
])
def test_malformed_query_or_sort(server, db, query, sort, message):
    with pytest.raises(TransferError) as failed:
        export_collection(server.uri, db.name, "c", query=query, sort=sort, out=io.StringIO(), quiet=True)
    assert str(failed.value) == message


def test_bad_options(server, db):
    cases = [
        (dict(type="csv"), "must specify --fields, --fieldFile or --headerline"),
        (dict(field_file="names.txt"), "cannot use --fieldFile when input type is JSON"),
        (dict(ignore_blanks=True), "cannot use --ignoreBlanks when input type is JSON"),
        (dict(type="csv", field_file="names.txt", fields="a"), "incompatible options: --fields and --fieldFile"),
        (dict(type="csv", field_file="names.txt", header_line=True), "incompatible options: --headerline and --fieldFile"),
        (dict(mode="replace"), "invalid --mode argument: replace"),
        (dict(mode="insert", upsert_fields="email"), "cannot use --upsertFields with --mode=insert"),
        (dict(type="xml"), "unknown type xml"),
        (dict(fields="a,b"), "cannot use --fields when input type is JSON"),
        (dict(batch_size=0), "--batchSize must be 1 or more"),
    ]
    for options, message in cases:
        with pytest.raises(TransferError, match=message):
            import_file(server.uri, db.name, "c", io.BytesIO(b""), quiet=True, **options)
    with pytest.raises(TransferError, match="CSV mode requires a field list"):
        export_collection(server.uri, db.name, "c", type="csv", out=io.StringIO(), quiet=True)
    with pytest.raises(TransferError, match="invalid --jsonFormat"):
        export_collection(server.uri, db.name, "c", json_format="strict", out=io.StringIO(), quiet=True)


def test_unreachable_uri():
    uri = "mongodb://user:s3cr3t@127.0.0.1:9/?serverSelectionTimeoutMS=300&connectTimeoutMS=300"
    for call in (lambda: import_file(uri, "d", "c", io.BytesIO(b'{"a":1}'), quiet=True),
                 lambda: export_collection(uri, "d", "c", out=io.StringIO(), quiet=True)):
        with pytest.raises(TransferError, match="error connecting to host") as failed:
            call()
        assert "s3cr3t" not in str(failed.value) and "user:****@" in str(failed.value)


def test_missing_file(server, db, tmp_path):
    with pytest.raises(TransferError, match="no such file"):
        import_file(server.uri, db.name, "c", str(tmp_path / "nope.json"), quiet=True)


def test_file_that_is_not_utf8(server, db, tmp_path):
    path = tmp_path / "latin1.json"
    path.write_bytes('{"_id":1,"n":"ok"}\n{"_id":2,"n":"Müller"}\n'.encode("latin-1"))
    with pytest.raises(TransferError, match=r"not UTF-8 text: byte 0xfc on line 2"):
        import_file(server.uri, db.name, "c", str(path), quiet=True)
    assert db.c.count_documents({}) == 0  # the first chunk holds the bad byte: nothing was sent


def test_document_over_16_mb(server, db, tmp_path):
    path = tmp_path / "big.json"
    with open(path, "w") as f:
        f.write('{"_id":1}\n')
        f.write('{"_id":2,"blob":"' + "x" * (17 * 1024 * 1024) + '"}\n')
        f.write('{"_id":3}\n')
    with pytest.raises(ImportFailed, match=r"document #2 \(line 2, column 1\) is 17.0 MB as BSON, over the server's limit") as failed:
        import_file(server.uri, db.name, "c", str(path), quiet=True)
    assert failed.value.report.imported == 1 and [d["_id"] for d in db.c.find()] == [1]


@pytest.mark.parametrize("content", [b"", b"\n \n", b"\xef\xbb\xbf"])
def test_empty_file_imports_nothing_without_error(server, db, tmp_path, content):
    path = tmp_path / "empty.json"
    path.write_bytes(content)
    report = import_file(server.uri, db.name, "c", str(path), quiet=True)
    assert (report.imported, report.failed, report.read) == (0, 0, 0)
    assert report.closing_line() == "0 document(s) imported successfully. 0 document(s) failed to import."


# --- progress -----------------------------------------------------------------------------------


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


class _Slow(io.StringIO):
    """Text whose first read or write takes over a second: work long enough to earn a progress bar."""

    def __init__(self, text=""):
        super().__init__(text)
        self.waited = False

    def _wait(self):
        if not self.waited:
            self.waited = True
            time.sleep(1.5)

    def read(self, *args):
        self._wait()
        return super().read(*args)

    def write(self, text):
        self._wait()
        return super().write(text)


def test_progress_bar_on_a_terminal_and_silence_when_quiet(server, db, monkeypatch):
    terminal = _Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    import_file(server.uri, db.name, "c", _Slow('{"_id": 1}\n{"_id": 2}\n'))
    imported = terminal.getvalue()
    assert f"{db.name}.c" in imported and "doc" in imported  # tqdm's bar: name, count, unit
    export_collection(server.uri, db.name, "c", out=_Slow())
    exported = terminal.getvalue()[len(imported):]
    assert f"{db.name}.c" in exported and "doc" in exported
    shown = terminal.getvalue()
    assert "2 document(s) imported successfully." in shown and "exported 2 records" in shown
    quiet = _Terminal()
    monkeypatch.setattr("sys.stderr", quiet)
    import_file(server.uri, db.name, "d", lines({"_id": 1}), quiet=True)
    export_collection(server.uri, db.name, "d", out=io.StringIO(), quiet=True)
    assert quiet.getvalue() == ""
