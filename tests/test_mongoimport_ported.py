"""mongoimport's own tests (mongo-tools: mongoimport/csv_test.go, tsv_test.go, json_test.go, common_test.go,
mongoimport_test.go), ported as end-to-end imports into the embedded server.

Each test is named after the Go test (and its Convey case) it comes from; the Go test's input
(its inline contents or its testdata/ file, reproduced inline here) goes through
``labkit.transfer.import_file`` and the stored documents are read back with their BSON types
(a Python ``int`` is an int32, ``Int64`` an int64, ``float`` a double).
"""
from __future__ import annotations

import bson
import pytest
from bson import Int64
from bson.codec_options import CodecOptions
from bson.raw_bson import RawBSONDocument

from labkit.errors import TransferError
from labkit.transfer import ImportFailed, export_collection, import_file
from tests.conftest import run_labkit

ABC = "a,b,c"
# mongoimport/testdata, reproduced
TEST_CSV = "1,2,3\n3,5.4,string\n5,6,6\n"
TEST_BAD_CSV = '1,2,3\n3,5".4,string\n5,6,6\n'
TEST_BLANKS_CSV = "1,2,\n5,,6e\n7,8,6"
TEST_BOM_CSV = "\ufeff1,2,3\n4,5,6\n"
TEST_TSV = "1\t2\t3\n3\t4.6\t5\n5\tstring\t6\n"
TEST_PLAIN_JSON = '{"a": 4, "b":"string value", "c": 1}\n{"a": 5, "b":"string value", "c": 2}\n' \
                  '{"a": 6, "b":"string value", "c": 3}'
TEST_ARRAY_JSON = '[  {"a": 1.2, "b":"a", "c": 0.4} ,\n\n\n{"a": 2.4, "b":"string", "c": 52.9},    \n' \
                  '{"a": 3, "b":"string", "c": 52}\n]\n'


@pytest.fixture
def imp(server, db, tmp_path):
    """imp(contents, **options) -> the stored documents (without _id unless the input has one), in order."""
    counter = iter(range(1000))

    def run(contents: str, collection: str = "c", **options):
        path = tmp_path / f"input-{next(counter)}"
        path.write_text(contents, encoding="utf-8")
        options.setdefault("quiet", True)
        import_file(server.uri, db.name, collection, str(path), **options)
        return stored(db[collection])

    run.db = db
    return run


def stored(coll) -> list[dict]:
    docs = list(coll.find({}, sort=[("$natural", 1)]))
    return [{k: v for k, v in doc.items() if k != "_id" or not isinstance(v, bson.ObjectId)} for doc in docs]


def typed(doc):
    """A document with each value's type, so int32/int64/double are told apart."""
    if isinstance(doc, dict):
        return {k: typed(v) for k, v in doc.items()}
    return (type(doc).__name__, doc)


def assert_refused(imp, contents, reason, **options):
    with pytest.raises(TransferError) as info:
        imp(contents, **options)
    assert reason in str(info.value)
    assert "c" not in imp.db.list_collection_names(), "nothing may be written"
    return str(info.value)


# -- csv_test.go: TestCSVStreamDocument ------------------------------------------------------------


def test_TestCSVStreamDocument_badly_encoded_csv_should_result_in_a_parsing_error(imp):
    with pytest.raises(ImportFailed) as info:
        imp('1, 2, foo"bar', type="csv", fields=ABC)
    assert info.value.reason == 'read error on entry #1: line 1, column 9: bare " in non-quoted-field'
    assert stored(imp.db.c) == []


def test_TestCSVStreamDocument_escaped_quotes_are_parsed_correctly(imp):
    assert imp('1, 2, "foo""bar"', type="csv", fields=ABC) == [{"a": 1, "b": 2, "c": 'foo"bar'}]


def test_TestCSVStreamDocument_multiple_escaped_quotes_separated_by_whitespace(imp):
    assert imp('1, 2, "foo"" ""bar"', type="csv", fields=ABC) == [{"a": 1, "b": 2, "c": 'foo" "bar'}]


def test_TestCSVStreamDocument_integer_valued_strings_should_be_converted(imp):
    docs = imp('1, 2, " 3e"', type="csv", fields=ABC)
    assert [typed(d) for d in docs] == [{"a": ("int", 1), "b": ("int", 2), "c": ("str", " 3e")}]


def test_TestCSVStreamDocument_extra_fields_should_be_prefixed_with_field(imp):
    docs = imp('1, 2f , " 3e" , " may"', type="csv", fields=ABC)
    assert docs == [{"a": 1, "b": "2f", "c": " 3e", "field3": " may"}]
    assert list(docs[0]) == ["a", "b", "c", "field3"]


def test_TestCSVStreamDocument_nested_csv_fields_should_be_imported_properly(imp):
    docs = imp('1, 2f , " 3e" , " may"', type="csv", fields="a,b.c,c")
    assert docs == [{"a": 1, "b": {"c": "2f"}, "c": " 3e", "field3": " may"}]


def test_TestCSVStreamDocument_whitespace_separated_quoted_strings_are_still_an_error(imp):
    with pytest.raises(ImportFailed) as info:
        imp('1, 2, "foo"  "bar"', type="csv", fields=ABC)
    assert 'extraneous " in field' in str(info.value) and "line 1" in str(info.value)


def test_TestCSVStreamDocument_nested_csv_fields_causing_header_collisions_should_error(imp):
    with pytest.raises(ImportFailed) as info:
        imp('1, 2f , " 3e" , " may", june', type="csv", fields="a,b.c,field3")
    assert "duplicate field name - on field3 - for token #4" in str(info.value)


def test_TestCSVStreamDocument_calling_StreamDocument_returns_the_next_set_of_values(imp):
    docs = imp("1, 2, 3\n4, 5, 6", type="csv", fields=ABC)
    assert [typed(d) for d in docs] == [{"a": ("int", 1), "b": ("int", 2), "c": ("int", 3)},
                                        {"a": ("int", 4), "b": ("int", 5), "c": ("int", 6)}]


def test_TestCSVStreamDocument_valid_csv_input_file_that_starts_with_the_utf8_bom(imp):
    assert imp(TEST_BOM_CSV, type="csv", fields=ABC) == [{"a": 1, "b": 2, "c": 3}, {"a": 4, "b": 5, "c": 6}]


# -- csv_test.go: TestCSVReadAndValidateHeader ----------------------------------------------------


def test_TestCSVReadAndValidateHeader_setting_the_header_reads_the_first_line(imp):
    docs = imp("extraHeader1, extraHeader2, extraHeader3\n1,2,3\n", type="csv", header_line=True)
    assert docs == [{"extraHeader1": 1, "extraHeader2": 2, "extraHeader3": 3}]


@pytest.mark.parametrize("header", ["a, b, c", "a.b.c, a.b.d, c", "a.b, ab, a.c", "a, ab, ac, dd"])
def test_TestCSVReadAndValidateHeader_non_colliding_nested_headers(imp, header):
    assert len(imp(header + "\n1,2,3,4\n", type="csv", header_line=True)) == 1


@pytest.mark.parametrize("header,reason", [
    ("a, a.b, c", "fields `a` and `a.b` are incompatible"),
    ("a.b.c, a.b.d.c, a.b.d", "fields `a.b.d.c` and `a.b.d` are incompatible"),
    ("a, a, a", "fields cannot be identical: `a` and `a`"),
    ("c, a., b", "field `a.` cannot end with a '.'"),
    ("c, .a, b", "field `.a` cannot start with a '.'"),
    ("c, a..a, b", "field `a..a` cannot contain consecutive '.' characters"),
    ("c, a.a, b.b...b", "field `b.b...b` cannot contain consecutive '.' characters"),
])
def test_TestCSVReadAndValidateHeader_bad_headers_are_refused_before_anything_is_written(imp, header, reason):
    assert_refused(imp, header + "\n1,2,3\n", reason, type="csv", header_line=True)


def test_TestCSVReadAndValidateHeader_setting_the_header_using_an_empty_file_should_return_EOF(imp):
    assert_refused(imp, "", "EOF", type="csv", header_line=True)


def test_TestCSVReadAndValidateHeader_plain_csv_input_file_sources(imp):
    docs = imp(TEST_CSV, type="csv", fields=ABC)
    assert [typed(d) for d in docs[:2]] == [{"a": ("int", 1), "b": ("int", 2), "c": ("int", 3)},
                                            {"a": ("int", 3), "b": ("float", 5.4), "c": ("str", "string")}]


def test_TestCSVStreamDocument_bad_csv_file_names_its_line_and_keeps_the_documents_before(imp):
    """testdata/test_bad.csv: mongoimport stops at line 2 (the documents read before it may be written)."""
    with pytest.raises(ImportFailed) as info:
        imp(TEST_BAD_CSV, type="csv", fields=ABC)
    assert info.value.reason == 'read error on entry #2: line 2, column 3: bare " in non-quoted-field'
    assert stored(imp.db.c) == [{"a": 1, "b": 2, "c": 3}]


# -- common_test.go: TestValidateFields ------------------------------------------------------------


@pytest.mark.parametrize("fields,reason", [
    ("a..a,b", "cannot contain consecutive '.' characters"),
    ("a.,b", "cannot end with a '.'"),
    (".a,b", "cannot start with a '.'"),
    ("$a,b", "cannot start with a '$'"),
    ("a,a.b", "are incompatible"),
    ("b,b.c", "are incompatible"),
    ("a,a", "fields cannot be identical"),
])
def test_TestValidateFields_bad_fields_are_refused(imp, fields, reason):
    assert_refused(imp, "1,2\n", reason, type="csv", fields=fields)


@pytest.mark.parametrize("fields", ["a,b,c", "a.b.c,a.b.d,c", "a.b,ab,a.c"])
def test_TestValidateFields_fields_that_do_not_collide(imp, fields):
    assert len(imp("1,2,3\n", type="csv", fields=fields)) == 1


# -- tsv_test.go -----------------------------------------------------------------------------------


def test_TestTSVStreamDocument_integer_valued_strings_should_be_converted_tsv1(imp):
    assert [typed(d) for d in imp("1\t2\t3e\n", type="tsv", fields=ABC)] == [
        {"a": ("int", 1), "b": ("int", 2), "c": ("str", "3e")}]


def test_TestTSVStreamDocument_integer_valued_strings_should_be_converted_tsv2(imp):
    assert imp('a\tb\t"cccc,cccc"\td\n', type="tsv", fields=ABC) == [
        {"a": "a", "b": "b", "c": '"cccc,cccc"', "field3": "d"}]


def test_TestTSVStreamDocument_extra_columns_should_be_prefixed_with_field(imp):
    assert imp("1\t2\t3e\t may\n", type="tsv", fields=ABC) == [{"a": 1, "b": 2, "c": "3e", "field3": " may"}]


def test_TestTSVStreamDocument_mixed_values_should_be_parsed_correctly(imp):
    assert [typed(d) for d in imp("12\t13.3\tInline\t14\n", type="tsv", fields="a,b,c,d")] == [
        {"a": ("int", 12), "b": ("float", 13.3), "c": ("str", "Inline"), "d": ("int", 14)}]


def test_TestTSVStreamDocument_plain_tsv_input_file_sources(imp):
    assert imp(TEST_TSV, type="tsv", fields=ABC) == [{"a": 1, "b": 2, "c": 3}, {"a": 3, "b": 4.6, "c": 5},
                                                     {"a": 5, "b": "string", "c": 6}]


def test_TestTSVStreamDocument_valid_tsv_file_that_starts_with_the_utf8_bom(imp):
    assert imp("\ufeff1\t2\t3\n", type="tsv", fields=ABC) == [{"a": 1, "b": 2, "c": 3}]


def test_TestTSVReadAndValidateHeader_setting_the_header_reads_the_first_line(imp):
    assert imp("extraHeader1\textraHeader2\textraHeader3\n1\t2\t3\n", type="tsv", header_line=True) == [
        {"extraHeader1": 1, "extraHeader2": 2, "extraHeader3": 3}]


# -- json_test.go ----------------------------------------------------------------------------------


def test_TestJSONPlainStreamDocument_plain_json_input_file_sources(imp):
    assert imp(TEST_PLAIN_JSON) == [{"a": 4, "b": "string value", "c": 1}, {"a": 5, "b": "string value", "c": 2},
                                    {"a": 6, "b": "string value", "c": 3}]


def test_TestJSONPlainStreamDocument_json_arrays_should_return_an_error(imp):
    with pytest.raises(ImportFailed) as info:
        imp(TEST_ARRAY_JSON)
    assert "--jsonArray" in str(info.value)
    assert stored(imp.db.c) == []


def test_TestJSONArrayStreamDocument_array_json_input_file_sources(imp):
    docs = imp(TEST_ARRAY_JSON, json_array=True)
    assert docs[:2] == [{"a": 1.2, "b": "a", "c": 0.4}, {"a": 2.4, "b": "string", "c": 52.9}] and len(docs) == 3


def test_TestJSONArrayStreamDocument_a_plain_json_document_is_an_error(imp):
    with pytest.raises(ImportFailed) as info:
        imp('{"a": 1}', json_array=True)
    assert "bad JSON array format - found no opening bracket '[' in input source" in str(info.value)


def test_TestJSONPlainStreamDocument_reading_json_that_starts_with_a_utf8_bom(imp):
    assert imp('\ufeff{"a": 1, "b": 2}\n') == [{"a": 1, "b": 2}]


# -- mongoimport_test.go: TestImportDocuments, TestMongoImportValidateSettings ---------------------


def test_TestImportDocuments_csv_import_on_test_data(imp):
    assert len(imp(TEST_CSV, type="csv", fields=ABC)) == 3


def test_TestImportDocuments_csv_import_with_ignoreBlanks_imports_only_non_blank_fields(imp):
    assert imp(TEST_BLANKS_CSV, type="csv", fields="_id,b,c", ignore_blanks=True) == [
        {"_id": 1, "b": 2}, {"_id": 5, "c": "6e"}, {"_id": 7, "b": 8, "c": 6}]


def test_TestImportDocuments_csv_import_without_ignoreBlanks_includes_blanks(imp):
    assert imp(TEST_BLANKS_CSV, type="csv", fields="_id,b,c") == [
        {"_id": 1, "b": 2, "c": ""}, {"_id": 5, "b": "", "c": "6e"}, {"_id": 7, "b": 8, "c": 6}]


def test_TestImportDocuments_csv_import_with_upsertFields(imp):
    # The Go test calls ImportDocuments directly (mode insert, settings not validated); through the
    # command's validation --upsertFields alone means --mode upsert.
    docs = imp(TEST_CSV, type="csv", fields="_id,b,c", upsert_fields="b,c", mode=None, maintain_insertion_order=True)
    assert sorted(docs, key=lambda d: d["_id"]) == [{"_id": 1, "b": 2, "c": 3}, {"_id": 3, "b": 5.4, "c": "string"},
                                                    {"_id": 5, "b": 6, "c": 6}]


def test_TestMongoImportValidateSettings_a_system_collection_is_refused_before_connecting(tmp_path):
    path = tmp_path / "x.json"
    path.write_text('{"a": 1}\n')
    with pytest.raises(TransferError) as info:
        import_file("mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=100", "test", "system.foobar", str(path))
    assert str(info.value) == "invalid collection name: collection name `system.foobar` is not allowed to begin with 'system.'"


def test_TestMongoImportValidateSettings_invalid_upsertFields_are_refused(imp):
    assert_refused(imp, '{"a": 1}\n', "invalid --upsertFields argument: field `$a` cannot start with a '$'",
                   upsert_fields="a,$a", mode="upsert")


def test_TestGetInputReader_invalid_fieldFile_fields_are_refused(imp, tmp_path):
    field_file = tmp_path / "test_fields_invalid.txt"
    field_file.write_text("a\n$\nb\n")
    assert_refused(imp, "1,2,3\n", "field `$` cannot start with a '$'", type="csv", field_file=str(field_file))


def test_TestGetInputReader_valid_fieldFile(imp, tmp_path):
    field_file = tmp_path / "test_fields_valid.txt"
    field_file.write_text("a\nb\nc\n")
    assert imp("1,2,3\n", type="csv", field_file=str(field_file)) == [{"a": 1, "b": 2, "c": 3}]


def test_empty_csv_with_headerline_fails_with_exit_1_and_no_traceback(server, db, tmp_path):
    path = tmp_path / "empty.csv"
    path.write_text("")
    result = run_labkit("import", "--uri", server.uri, "-d", db.name, "-c", "c", "--type", "csv", "--headerline",
                        "--file", str(path))
    assert result.returncode == 1
    assert "Failed: EOF" in result.stderr and "Traceback" not in result.stderr


def test_system_collection_on_the_command_line(server, db, tmp_path):
    path = tmp_path / "x.json"
    path.write_text('{"a": 1}\n')
    result = run_labkit("import", "--uri", server.uri, "-d", db.name, "-c", "system.users", str(path))
    assert result.returncode == 1 and "is not allowed to begin with 'system.'" in result.stderr
    assert "Traceback" not in result.stderr


# -- issue 14 defect 6: a DBRef-shaped document goes through export then import ---------------------


@pytest.mark.parametrize("json_format", ["relaxed", "canonical"])
def test_dbref_shaped_top_level_document_round_trips_in_order(server, db, tmp_path, json_format):
    doc = {"_id": 1, "$ref": "customers", "$id": bson.ObjectId("5f43a1b2c3d4e5f6a7b8c9d0"), "$db": "shop", "x": 2,
           "nested": {"$ref": "c", "$id": 5, "extra": True}}
    raw = bson.encode(doc)
    db.source.insert_one(RawBSONDocument(raw))
    path = tmp_path / "dbref.json"
    export_collection(server.uri, db.name, "source", out=str(path), json_format=json_format, quiet=True)
    report = import_file(server.uri, db.name, "target", str(path), quiet=True)
    assert (report.imported, report.failed) == (1, 0)
    raw_opts = CodecOptions(document_class=RawBSONDocument)
    assert db.target.with_options(codec_options=raw_opts).find_one().raw == raw
