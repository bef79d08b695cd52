"""labkit.ejson: one Extended JSON writer, two styles (mongoexport's, and json_util's with mgeneratejs's Int64).

Issue 14, defects 1 and 2, checked through a real round trip on the embedded
server, compared as raw BSON: Code and Code with scope keep their type in
relaxed output (export and generate), and generated 64-bit integers that fit
in 32 bits are printed as {"$numberLong": ...} so an import stores int64.
"""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import bson
import pytest
from bson import Code, Int64, json_util
from bson.codec_options import CodecOptions
from bson.json_util import CANONICAL_JSON_OPTIONS, RELAXED_JSON_OPTIONS
from bson.raw_bson import RawBSONDocument

from labkit import ejson
from labkit.transfer import export_collection, import_file
from tests.conftest import run_labkit

RAW = CodecOptions(document_class=RawBSONDocument)
CODE_DOC = {"_id": 1, "code": Code("function () { return 1; }"),
            "scoped": Code("function () { return x; }", {"x": 1, "n": Int64(2**40), "c": Code("inner")}),
            "nested": {"list": [Code("a"), {"deep": Code("b", {})}]}}


def raw_docs(coll) -> list[bytes]:
    return [doc.raw for doc in coll.with_options(codec_options=RAW).find({}, sort=[("_id", 1)])]


def bson_types(raw: bytes) -> dict[str, int]:
    """Top-level field name -> BSON element type byte, read from the raw document."""
    types, pos = {}, 4
    while raw[pos] != 0:
        kind = raw[pos]
        end = raw.index(b"\x00", pos + 1)
        types[raw[pos + 1:end].decode()] = kind
        pos = _skip(raw, kind, end + 1)
    return types


def _skip(raw: bytes, kind: int, pos: int) -> int:
    fixed = {0x01: 8, 0x07: 12, 0x08: 1, 0x09: 8, 0x0A: 0, 0x10: 4, 0x11: 8, 0x12: 8, 0x13: 16, 0xFF: 0, 0x7F: 0}
    if kind in fixed:
        return pos + fixed[kind]
    if kind in (0x02, 0x0D, 0x0E):
        return pos + 4 + int.from_bytes(raw[pos:pos + 4], "little")
    if kind in (0x03, 0x04, 0x0F):
        return pos + int.from_bytes(raw[pos:pos + 4], "little")
    if kind == 0x05:
        return pos + 5 + int.from_bytes(raw[pos:pos + 4], "little")
    if kind == 0x0B:
        pos = raw.index(b"\x00", pos) + 1
        return raw.index(b"\x00", pos) + 1
    raise AssertionError(f"unexpected BSON type 0x{kind:02x}")


# -- the writer --------------------------------------------------------------------------------


def test_the_module_does_not_use_the_private_c_encoder():
    source = Path(ejson.__file__).read_text()
    assert "c_make_encoder" not in source and "json.encoder" not in source


@pytest.mark.parametrize("style", ["export", "generate"])
def test_code_and_code_with_scope_keep_their_type_in_relaxed_output(style):
    text = ejson.dumps(CODE_DOC, "relaxed", style=style)
    parsed = json.loads(text)
    assert parsed["code"] == {"$code": "function () { return 1; }"}
    assert parsed["scoped"]["$code"] == "function () { return x; }"
    assert parsed["scoped"]["$scope"]["x"] == 1 and parsed["scoped"]["$scope"]["c"] == {"$code": "inner"}
    assert parsed["nested"]["list"][0] == {"$code": "a"} and parsed["nested"]["list"][1]["deep"] == {"$code": "b", "$scope": {}}


def test_export_style_is_mongoexports_compact_relaxed_and_int64_plain():
    doc = {"_id": 1, "n": Int64(5), "s": "é", "d": dt.datetime(2020, 1, 2, 3, 4, 5, 6000, tzinfo=dt.timezone.utc)}
    assert ejson.dumps(doc) == '{"_id":1,"n":5,"s":"é","d":{"$date":"2020-01-02T03:04:05.006Z"}}'
    assert ejson.dumps(doc, "canonical") == (
        '{"_id":{"$numberInt":"1"},"n":{"$numberLong":"5"},"s":"é","d":{"$date":{"$numberLong":"1577934245006"}}}')
    assert ejson.dumps(doc, pretty=True) == (
        '{\n\t"_id": 1,\n\t"n": 5,\n\t"s": "é",\n\t"d": {\n\t\t"$date": "2020-01-02T03:04:05.006Z"\n\t}\n}')


def test_generate_style_is_json_util_spacing_with_every_int64_wrapped():
    doc = {"small": Int64(95), "big": Int64(2**62), "int": 95, "f": float("nan"), "list": [Int64(-1)]}
    assert ejson.dumps(doc, style="generate") == (
        '{"small": {"$numberLong": "95"}, "big": {"$numberLong": "4611686018427387904"}, "int": 95, '
        '"f": {"$numberDouble": "NaN"}, "list": [{"$numberLong": "-1"}]}')


@pytest.mark.parametrize("json_format,options", [("relaxed", RELAXED_JSON_OPTIONS), ("canonical", CANONICAL_JSON_OPTIONS)])
def test_export_style_equals_json_util_compact(json_format, options):
    from tests.test_transfer import every_type

    doc = every_type()
    assert ejson.dumps(doc, json_format) == json_util.dumps(doc, json_options=options, separators=(",", ":"),
                                                             ensure_ascii=False)
    assert ejson.dumps(doc, json_format, pretty=True) == json_util.dumps(doc, json_options=options, indent="\t",
                                                                          ensure_ascii=False)


def test_a_dbref_shaped_document_is_read_as_a_document_in_order():
    doc = ejson.loads('{"$ref": "c", "$id": {"$oid": "5f43a1b2c3d4e5f6a7b8c9d0"}, "x": 1}')
    assert type(doc) is dict and list(doc) == ["$ref", "$id", "x"]


# -- defect 1: Code through export (relaxed) and import ----------------------------------------------


def test_code_round_trips_through_relaxed_export_and_import(server, db, tmp_path):
    db.source.insert_one(RawBSONDocument(bson.encode(CODE_DOC)))
    path = tmp_path / "code.json"
    export_collection(server.uri, db.name, "source", out=str(path), quiet=True)
    assert '"$code"' in path.read_text()
    report = import_file(server.uri, db.name, "target", str(path), quiet=True)
    assert (report.imported, report.failed) == (1, 0)
    assert raw_docs(db.target) == raw_docs(db.source)


def test_code_round_trips_through_the_generate_writer_and_import(server, db, tmp_path):
    path = tmp_path / "code.json"
    path.write_text(ejson.dumps(CODE_DOC, style="generate") + "\n")
    report = import_file(server.uri, db.name, "target", str(path), quiet=True)
    assert report.imported == 1
    assert raw_docs(db.target) == [bson.encode(CODE_DOC)]


# -- defect 2: generated Int64 stays int64 through labkit generate | labkit import -----------------


def test_generated_int64_that_fits_in_32_bits_is_stored_as_int64(server, db):
    template = ('{"_id": "$inc", "ranged": {"$numberLong": {"min": 90, "max": 100}}, "long": {"$long": {"min": -5, "max": 5}},'
                ' "big": "$numberLong", "int": {"$integer": {"min": 1, "max": 9}}}')
    generated = run_labkit("generate", template, "-n", "20", "--seed", "3", "--quiet")
    assert generated.returncode == 0, generated.stderr
    first = json.loads(generated.stdout.splitlines()[0])
    assert set(first["ranged"]) == {"$numberLong"} and 90 <= int(first["ranged"]["$numberLong"]) <= 100
    imported = run_labkit("import", "--uri", server.uri, "-d", db.name, "-c", "gen", input=generated.stdout)
    assert imported.returncode == 0, imported.stderr
    assert "20 document(s) imported successfully. 0 document(s) failed to import." in imported.stderr
    docs = raw_docs(db.gen)
    assert len(docs) == 20
    for raw in docs:
        types = bson_types(raw)
        assert (types["ranged"], types["long"], types["big"]) == (0x12, 0x12, 0x12), types
        assert types["int"] == 0x10


def test_generated_canonical_output_also_stores_int64(server, db):
    generated = run_labkit("generate", '{"n": {"$numberLong": {"min": 1, "max": 3}}}', "-n", "3", "--jsonFormat",
                           "canonical", "--quiet")
    assert generated.returncode == 0, generated.stderr
    imported = run_labkit("import", "--uri", server.uri, "-d", db.name, "-c", "gen", "--quiet", input=generated.stdout)
    assert imported.returncode == 0, imported.stderr
    assert all(bson_types(raw)["n"] == 0x12 for raw in raw_docs(db.gen))
