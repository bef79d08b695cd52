"""mongoimport's own tests (mongo-tools: mongoimport/csv_test.go, tsv_test.go, json_test.go, common_test.go,
mongoimport_test.go), ported as end-to-end imports into the embedded server.

Each test is named after the Go test (and its Convey case) it comes from; the Go test's input
(its inline contents or its testdata/ file, reproduced inline here) goes through
``labkit.transfer.import_file`` and the stored documents are read back with their BSON types
(a Python ``int`` is an int32, ``Int64`` an int64, ``float`` a double).
"""
from __future__ import annotations

import base64
import datetime

import bson
import pytest
from bson import Decimal128, Int64
from bson.codec_options import CodecOptions
from bson.raw_bson import RawBSONDocument

from labkit.errors import TransferError
from labkit.transfer import ImportFailed, export_collection, import_file
from labkit.cli.transfer import UNSUPPORTED, _host_uri
from labkit.transfer.reader import split_inline_fields
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


# -- issue 14 defect 7: --columnsHaveTypes (typed_fields_test.go, csv_test.go, qa-tests typed_fields.js) --------


def _utc(*args) -> datetime.datetime:
    return datetime.datetime(*args, tzinfo=datetime.timezone.utc)


TYPED_HEADERS = r"zip.string(),number.double(),foo.auto(),bar.date(January 2\, \(2006\))"


@pytest.mark.parametrize("how", ["fields", "headerline"])
def test_TestTypedHeaderParser_zip_string_number_double_foo_auto_bar_date(imp, how):
    row = '01234,20,x7,"March 3, (2011)"\n'
    if how == "fields":
        docs = imp(row, type="csv", fields=TYPED_HEADERS, columns_have_types=True)
    else:
        header = ",".join(f'"{h}"' for h in split_inline_fields(TYPED_HEADERS))
        docs = imp(header + "\n" + row, type="csv", header_line=True, columns_have_types=True)
    assert [typed(d) for d in docs] == [{"zip": ("str", "01234"), "number": ("float", 20.0), "foo": ("str", "x7"),
                                         "bar": ("datetime", _utc(2011, 3, 3))}]


BAD_TYPED_HEADERS = [
    ("zip.string(blah)", "type 11 does not support arguments"),
    ("zip.string(0)", "type 11 does not support arguments"),
    ("zip.int32(0)", "type 8 does not support arguments"),
    ("zip.int64(0)", "type 9 does not support arguments"),
    ("zip.double(0)", "type 7 does not support arguments"),
    ("zip.auto(0)", "type 0 does not support arguments"),
    ("zip.binary(blah)", "invalid binary encoding: `blah`"),
    ("zip.binary(binary)", "invalid binary encoding: `binary`"),
    ("zip.binary(decimal)", "invalid binary encoding: `decimal`"),
    ("zip", "could not parse type from header `zip`"),
    ("zip.string", "could not parse type from header `zip.string`"),
    ("zip.float()", "invalid type `float` in header `zip.float()`"),
    ("$zip.string()", "field `$zip` cannot start with a '$'"),
]


@pytest.mark.parametrize("header,reason", BAD_TYPED_HEADERS)
def test_TestTypedHeaderParser_various_bad_headers_are_refused_before_anything_is_written(imp, header, reason):
    assert_refused(imp, "1,2\n", reason, type="csv", fields=f"a.auto(),{header}", columns_have_types=True)
    assert_refused(imp, f"a.auto(),{header}\n1,2\n", reason, type="csv", header_line=True, columns_have_types=True)


def test_TestTypedHeaderParser_duplicate_typed_names_are_refused(imp):
    assert_refused(imp, "1,2\n", "fields cannot be identical: `a` and `a`", type="csv", fields="a.int32(),a.string()",
                   columns_have_types=True)


def test_TestAutoHeaderParser_untyped_names_are_auto(imp):
    docs = imp("12345,1.5,x\n", type="csv", fields="zip,number,foo")
    assert [typed(d) for d in docs] == [{"zip": ("int", 12345), "number": ("float", 1.5), "foo": ("str", "x")}]


GOOD_TOKENS = [
    # FieldAutoParser
    ("auto()", "2147483648", ("Int64", 2147483648)),
    ("auto()", "42", ("int", 42)),
    ("auto()", "-2147483649", ("Int64", -2147483649)),
    ("auto()", "3.14159265", ("float", 3.14159265)),
    ("auto()", "0.123123", ("float", 0.123123)),
    ("auto()", "-123456.789", ("float", -123456.789)),
    ("auto()", "-1.", ("float", -1.0)),
    ("auto()", "12345-6789", ("str", "12345-6789")),
    ("auto()", "06/02/1997", ("str", "06/02/1997")),
    # FieldBooleanParser
    ("boolean()", "true", ("bool", True)),
    ("boolean()", "TrUe", ("bool", True)),
    ("boolean()", "1", ("bool", True)),
    ("boolean()", "false", ("bool", False)),
    ("boolean()", "FaLsE", ("bool", False)),
    ("boolean()", "0", ("bool", False)),
    # FieldBinaryParser
    ("binary(hex)", "400a11", ("bytes", bytes([64, 10, 17]))),
    ("binary(hex)", "400A11", ("bytes", bytes([64, 10, 17]))),
    ("binary(hex)", "0b400A11", ("bytes", bytes([11, 64, 10, 17]))),
    ("binary(base32)", "MZXW6YTBOI======", ("bytes", b"foobar")),
    ("binary(base64)", "Zm9vYmFy", ("bytes", b"foobar")),
    ("binary(base64)", "Zm9v\nYmFy", ("bytes", b"foobar")),  # Go's decoder skips line breaks
    # FieldDateParser
    ("date_go(01/02/2006 3:04:05pm MST)", "01/04/2000 5:38:10pm UTC", ("datetime", _utc(2000, 1, 4, 17, 38, 10))),
    ("date(01/02/2006 3:04:05pm MST)", "01/04/2000 5:38:10pm UTC", ("datetime", _utc(2000, 1, 4, 17, 38, 10))),
    ("date_ms(MM/dd/yyyy h:mm:sstt)", "01/04/2000 5:38:10PM", ("datetime", _utc(2000, 1, 4, 17, 38, 10))),
    ("date_oracle(mm/Dd/yYYy hh:MI:SsAm)", "01/04/2000 05:38:10PM", ("datetime", _utc(2000, 1, 4, 17, 38, 10))),
    ("date(2006-01-02T15:04:05.000Z07:00)", "2016-06-08T09:26:00.123+02:00",
     ("datetime", _utc(2016, 6, 8, 7, 26, 0, 123000))),
    ("date(2006-01-02T15:04:05Z07:00)", "2016-06-08T09:26:00.5Z", ("datetime", _utc(2016, 6, 8, 9, 26, 0, 500000))),
    ("date(2006-01-02 15:04:05 -0700)", "1960-02-29 23:00:00 -0130", ("datetime", _utc(1960, 3, 1, 0, 30))),
    ("date(Mon Jan _2 2006)", "Thu Feb  4 2021", ("datetime", _utc(2021, 2, 4))),
    ("date(2006.002)", "2020.060", ("datetime", _utc(2020, 2, 29))),
    ("date(02-Jan-06)", "31-dec-68", ("datetime", _utc(2068, 12, 31))),
    # FieldDoubleParser
    ("double()", "3.14159265", ("float", 3.14159265)),
    ("double()", "-1.", ("float", -1.0)),
    ("double()", "42", ("float", 42.0)),
    # FieldInt32Parser / FieldInt64Parser
    ("int32()", "2147483647", ("int", 2147483647)),
    ("int32()", "-2147483648", ("int", -2147483648)),
    ("int32()", "42", ("int", 42)),
    ("int64()", "2147483648", ("Int64", 2147483648)),
    ("int64()", "42", ("Int64", 42)),
    ("int64()", "-2147483649", ("Int64", -2147483649)),
    # FieldDecimalParser
    ("decimal()", "12235.2355", ("Decimal128", Decimal128("12235.2355"))),
    ("decimal()", "42", ("Decimal128", Decimal128("42"))),
    ("decimal()", "0", ("Decimal128", Decimal128("0"))),
    ("decimal()", "-124", ("Decimal128", Decimal128("-124"))),
    ("decimal()", "-124.55", ("Decimal128", Decimal128("-124.55"))),
    # FieldStringParser
    ("string()", "42", ("str", "42")),
    ("string()", "true", ("str", "true")),
]


@pytest.mark.parametrize("spec,token,expected", GOOD_TOKENS)
def test_TestFieldParsers_valid_values_are_stored_with_their_type(imp, spec, token, expected):
    docs = imp(f'"{token}"\n', type="csv", fields=f"v.{spec}", columns_have_types=True)
    assert typed(docs[0]["v"]) == expected


def test_TestFieldParsers_empty_values(imp):
    docs = imp('"","","",""\n', type="csv", fields="a.auto(),b.binary(hex),c.binary(base64),d.string()",
               columns_have_types=True)
    assert [typed(d) for d in docs] == [{"a": ("str", ""), "b": ("bytes", b""), "c": ("bytes", b""),
                                         "d": ("str", "")}]


BAD_TOKENS = [
    ("boolean()", ""), ("boolean()", "t"), ("boolean()", "f"), ("boolean()", "yes"), ("boolean()", "no"),
    ("binary(hex)", "4g"), ("binary(hex)", "400"), ("binary(base64)", "Zm9vYmF"), ("binary(base32)", "mzxw6ytboi======"),
    ("date_go(01/02/2006 3:04:05pm MST)", "01/04/2000 5:38:10pm"),
    ("date_go(01/02/2006 3:04:05pm MST)", "01/04/2000 5:38:10 pm UTC"),
    ("date_go(01/02/2006 3:04:05pm MST)", "01/04/2000"),
    ("date_ms(MM/dd/yyyy h:mm:sstt)", "01/04/2000 :) 05:38:10PM"),
    ("date_ms(MM/dd/yyyy h:mm:sstt)", "01/04/2000 005:38:10PM"),
    ("date_ms(MM/dd/yyyy h:mm:sstt)", "01/04/2000 5:38:10 PM"),
    ("date_ms(MM/dd/yyyy h:mm:sstt)", "01/04/2000"),
    ("date_oracle(mm/Dd/yYYy hh:MI:SsAm)", "01/04/2000 :) 05:38:10PM"),
    ("date_oracle(mm/Dd/yYYy hh:MI:SsAm)", "01/04/2000 005:38:10PM"),
    ("date_oracle(mm/Dd/yYYy hh:MI:SsAm)", "01/04/2000 5:38:10 PM"),
    ("date_oracle(mm/Dd/yYYy hh:MI:SsAm)", "01/04/2000"),
    ("date(2006-01-02)", "2021-02-29"), ("date(2006-01-02)", "2021-13-01"), ("date(2006-01-02)", "2021-01-02x"),
    ("double()", ""), ("double()", "1.1.1"), ("double()", "1-2.0"), ("double()", "80-"), ("double()", "1e400"),
    ("int32()", ""), ("int32()", "42.0"), ("int32()", "1-2"), ("int32()", "80-"), ("int32()", "2147483648"),
    ("int32()", "-2147483649"),
    ("int64()", ""), ("int64()", "42.0"), ("int64()", "1-2"), ("int64()", "80-"), ("int64()", "9223372036854775808"),
    ("decimal()", ""), ("decimal()", "1-2"), ("decimal()", "abcd"),
]


@pytest.mark.parametrize("spec,token", BAD_TOKENS)
def test_TestFieldParsers_invalid_values_stop_the_import(imp, spec, token):
    with pytest.raises(ImportFailed) as info:
        imp(f'"{token}"\n', type="csv", fields=f"v.{spec}", columns_have_types=True)
    type_name = spec.split("(")[0]
    assert info.value.reason == (f"type coercion failure in document #1 for column `v`, could not parse token "
                                 f"`{token}` to type {type_name} (line 1)")
    assert stored(imp.db.c) == []


def test_TestGetInputReader_should_parse_fields_using_valid_csv_escaping(imp):
    docs = imp('1,"January 5, 2006"\n', type="csv", fields="foo.auto(),bar.date(January 2, 2006)",
               columns_have_types=True)
    assert [typed(d) for d in docs] == [{"foo": ("int", 1), "bar": ("datetime", _utc(2006, 1, 5))}]


# qa-tests jstests/import/typed_fields.js and its testdata, reproduced
TYPED_HEADER = ("a.string(),b.int32(),c.xyz.date_oracle(Month dd, yyyy HH24:mi:ss),c.noop.boolean(),"
                "d.hij.lkm.binary(hex)")
TYPED_ROWS = [["foo", "12", "June 02, 1997 15:24:00", "true", "7bc3049f36681723260fb5921dd36b149c8493c3"],
              ["bar", "24", "June 08, 2016 09:26:00", "false", "746573740a"]]
TYPED_EXPECTED = [
    {"a": "foo", "b": 12, "c": {"xyz": _utc(1997, 6, 2, 15, 24), "noop": True},
     "d": {"hij": {"lkm": base64.b64decode("e8MEnzZoFyMmD7WSHdNrFJyEk8M=")}}},
    {"a": "bar", "b": 24, "c": {"xyz": _utc(2016, 6, 8, 9, 26), "noop": False},
     "d": {"hij": {"lkm": base64.b64decode("dGVzdAo=")}}},
]


def _rows(kind: str, rows) -> str:
    if kind == "tsv":
        return "".join("\t".join(row) + "\n" for row in rows)
    return "".join(",".join(f'"{cell}"' if "," in cell else cell for cell in row) + "\n" for row in rows)


@pytest.mark.parametrize("kind", ["csv", "tsv"])
@pytest.mark.parametrize("how", ["headerline", "fields", "fieldFile"])
def test_typed_fields_js_typed_header_fields_and_fieldFile(imp, tmp_path, kind, how):
    header = split_inline_fields(TYPED_HEADER)
    if how == "headerline":
        docs = imp(_rows(kind, [header] + TYPED_ROWS), type=kind, header_line=True, columns_have_types=True)
    elif how == "fields":
        docs = imp(_rows(kind, TYPED_ROWS), type=kind, fields=TYPED_HEADER, columns_have_types=True)
    else:
        field_file = tmp_path / "typedfieldfile"
        field_file.write_text("\n".join(header) + "\n")
        docs = imp(_rows(kind, TYPED_ROWS), type=kind, field_file=str(field_file), columns_have_types=True)
    assert docs == TYPED_EXPECTED
    assert typed(docs[0])["b"] == ("int", 12)


@pytest.mark.parametrize("kind", ["csv", "tsv"])
def test_typed_fields_js_extra_fields_are_created_as_expected(imp, kind):
    rows = TYPED_ROWS + [["one", "2", "May 08, 2016 09:26:00", "false", "746573740a", "extra1", "extra2"]]
    docs = imp(_rows(kind, rows), type=kind, fields=TYPED_HEADER, columns_have_types=True)
    assert (docs[2]["field5"], docs[2]["field6"]) == ("extra1", "extra2")


def test_typed_fields_js_without_fields_fieldFile_or_headerline_import_fails(imp):
    assert_refused(imp, _rows("csv", TYPED_ROWS), "must specify --fields, --fieldFile or --headerline", type="csv",
                   columns_have_types=True)


def test_columnsHaveTypes_is_refused_for_json(imp):
    assert_refused(imp, '{"a": 1}\n', "cannot use --columnsHaveTypes when input type is JSON", columns_have_types=True)


# -- --parseGrace (common.go tokensToBSON; qa-tests jstests/import/parse_grace.js) --------------------------------

PARSE_GRACE_CSV = (
    'a.string(),b.int32(),"c.xyz.date_oracle(Month dd, yyyy HH24:mi:ss)",c.noop.boolean(),d.hij.lkm.binary(hex)\n'
    'foo,12,"June 02, 1997 15:24:00",true,7bc3049f36681723260fb5921dd36b149c8493c3\n'
    'bar,24,"06/08/2016 09:26:00",true,746573740a\n'
    'baz,36,"June 08, 2016 09:26:00",false,746573740a\n'
)
GRACE_FOO = {"a": "foo", "b": 12, "c": {"xyz": _utc(1997, 6, 2, 15, 24), "noop": True},
             "d": {"hij": {"lkm": base64.b64decode("e8MEnzZoFyMmD7WSHdNrFJyEk8M=")}}}
GRACE_BAZ = {"a": "baz", "b": 36, "c": {"xyz": _utc(2016, 6, 8, 9, 26), "noop": False},
             "d": {"hij": {"lkm": base64.b64decode("dGVzdAo=")}}}


def _grace(server, db, tmp_path, grace: str):
    path = tmp_path / "parse_grace.csv"
    path.write_text(PARSE_GRACE_CSV)
    return run_labkit("import", "--uri", server.uri, "-d", db.name, "-c", "c", "--type", "csv", "--headerline",
                      "--columnsHaveTypes", "--parseGrace", grace, "--file", str(path))


def test_parse_grace_js_stop_fails_at_the_row_that_cannot_be_read(server, db, tmp_path):
    result = _grace(server, db, tmp_path, "stop")
    assert result.returncode == 1
    assert ("Failed: type coercion failure in document #2 for column `c.xyz`, could not parse token "
            "`06/08/2016 09:26:00` to type date_oracle (line 3)") in result.stderr
    assert stored(db.c) == [GRACE_FOO]  # the rows before it were read and imported, as mongoimport does
    assert "1 document(s) imported successfully. 0 document(s) failed to import." in result.stderr


def test_parse_grace_js_skipRow_does_not_import_the_row(server, db, tmp_path):
    result = _grace(server, db, tmp_path, "skipRow")
    assert result.returncode == 0, result.stderr
    assert stored(db.c) == [GRACE_FOO, GRACE_BAZ]
    assert result.stdout == 'bar,24,06/08/2016 09:26:00,true,746573740a\n'  # the rejected row, on stdout
    assert "skipping row #2 (line 3): [bar 24 06/08/2016 09:26:00 true 746573740a]" in result.stderr
    assert "2 document(s) imported successfully. 0 document(s) failed to import." in result.stderr


def test_parse_grace_js_skipField_keeps_the_rest_of_the_row(server, db, tmp_path):
    result = _grace(server, db, tmp_path, "skipField")
    assert result.returncode == 0, result.stderr
    docs = stored(db.c)
    assert docs[0] == GRACE_FOO and docs[2] == GRACE_BAZ
    assert docs[1] == {"a": "bar", "b": 24, "c": {"noop": True}, "d": {"hij": {"lkm": b"test\n"}}}
    assert list(docs[1]["c"]) == ["noop"]


def test_parse_grace_js_autoCast_imports_the_uncoercible_field(server, db, tmp_path):
    result = _grace(server, db, tmp_path, "autoCast")
    assert result.returncode == 0, result.stderr
    docs = stored(db.c)
    assert docs == [GRACE_FOO, {"a": "bar", "b": 24, "c": {"xyz": "06/08/2016 09:26:00", "noop": True},
                                "d": {"hij": {"lkm": b"test\n"}}}, GRACE_BAZ]


def test_parse_grace_autoCast_stores_what_autodetection_would(imp):
    docs = imp("12.5,99999999999,x\n", type="csv", fields="a.int32(),b.int32(),c.double()",
               columns_have_types=True, parse_grace="autoCast")
    assert [typed(d) for d in docs] == [{"a": ("float", 12.5), "b": ("Int64", 99999999999), "c": ("str", "x")}]


def test_parse_grace_skipRow_tsv_writes_the_line(server, db, tmp_path):
    path = tmp_path / "t.tsv"
    path.write_text("1\tx\n2\t3\n")
    result = run_labkit("import", "--uri", server.uri, "-d", db.name, "-c", "c", "--type", "tsv",
                        "--fields", "a.int32(),b.int32()", "--columnsHaveTypes", "--parseGrace", "skipRow", str(path))
    assert result.returncode == 0, result.stderr
    assert result.stdout == "1\tx\n"
    assert stored(db.c) == [{"a": 2, "b": 3}]


def test_TestMongoImportValidateSettings_invalid_parse_grace_is_refused(imp):
    assert_refused(imp, "1\n", "invalid parse grace: bogus", type="csv", fields="a", parse_grace="bogus")


def test_ignoreBlanks_with_typed_columns_skips_blank_values(imp):
    docs = imp("1,,x\n", type="csv", fields="a.int32(),b.int32(),c.string()", columns_have_types=True,
               ignore_blanks=True)
    assert docs == [{"a": 1, "c": "x"}]


# -- --upsert (mongoimport_test.go: TestImportModeByID / TestImportModeUpsertFields, "deprecated --upsert") ----------

UPSERT1 = ('{"_id": "one", "a": 1234, "b": 4567}\n{"_id": "two", "a": "xxx", "b": "yyy"}\n'
           '{"_id": "one", "a": "foo", "b": "blah"}\n{"_id": "one", "a": "test", "b": "test"}\n'
           '{"_id": "one", "a": "unicorns", "b": "zebras"}\n')
UPSERT2 = ('{"a": 1234, "b": 4567, "c": 222}\n{"a": 4567, "b": "yyy", "c": 333}\n{"a": 1234, "b": "blah", "c": 222}\n'
           '{"a": "xxx", "b": "test", "c": -1}\n{"a": 4567, "b": "asdf", "c": 222}\n')


def _cli_import(server, db, tmp_path, contents: str, *args: str, name: str = "input.json"):
    path = tmp_path / name
    path.write_text(contents)
    return run_labkit("import", "--uri", server.uri, "-d", db.name, "-c", "c", *args, str(path))


def test_TestImportModeByID_deprecated_upsert_replaces_docs(server, db, tmp_path):
    db.c.insert_many([{"_id": "one", "a": "original value", "x": "original field"},
                      {"_id": "two", "a": "original value 2", "x": "original field"}])
    result = _cli_import(server, db, tmp_path, UPSERT1, "--upsert")
    assert result.returncode == 0, result.stderr
    assert "--upsert is deprecated: it is the same as --mode=upsert" in result.stderr
    assert db.c.find_one({"_id": "one"}) == {"_id": "one", "a": "unicorns", "b": "zebras"}
    assert db.c.find_one({"_id": "two"}) == {"_id": "two", "a": "xxx", "b": "yyy"}


def test_TestImportModeUpsertFields_deprecated_upsert_replaces_matched_docs(server, db, tmp_path):
    db.c.insert_many([{"a": 1234, "b": "000000", "c": 222, "x": "original field"},
                      {"a": 4567, "b": "111111", "c": 333, "x": "original field"}])
    result = _cli_import(server, db, tmp_path, UPSERT2, "--upsert", "--upsertFields", "a,c")
    assert result.returncode == 0, result.stderr
    for b in ("blah", "yyy", "asdf"):
        assert "x" not in db.c.find_one({"b": b})
    assert db.c.count_documents({}) == 4


def test_upsert_wins_over_mode_insert_as_in_mongoimport(server, db, tmp_path):
    db.c.insert_one({"_id": "two", "a": 0})
    result = _cli_import(server, db, tmp_path, UPSERT1, "--upsert", "--mode", "insert", "--quiet")
    assert result.returncode == 0 and result.stderr == ""
    assert db.c.find_one({"_id": "two"}) == {"_id": "two", "a": "xxx", "b": "yyy"}


# -- --legacy (json_test.go: TestJSONConvert, with the legacy Extended JSON forms of bsonutil.ParseSpecialKeys) -------

LEGACY_JSON = '{"a": {"$binary": {"base64": "Zm9v", "subType": "03"}}}\n'


def test_TestJSONConvert_new_extended_JSON(imp):
    docs = imp(LEGACY_JSON)
    assert docs == [{"a": bson.Binary(b"foo", 3)}]


def test_TestJSONConvert_legacy_extended_JSON(imp):
    docs = imp(LEGACY_JSON, legacy=True)
    assert docs == [{"a": {"$binary": {"base64": "Zm9v", "subType": "03"}}}]


def test_legacy_reads_the_legacy_wrappers_and_the_shell_dialect(server, db, tmp_path):
    contents = ('{_id: 1, bin: {"$binary": "Zm9v", "$type": "80"}, d: {"$date": 1000}, d2: {"$date": "1970-01-01T00:00:02Z"},'
                ' oid: ObjectId("5f43a1b2c3d4e5f6a7b8c9d0"), long: NumberLong(5), n: {"$numberLong": "7"},'
                ' i: {"$numberInt": "0x10"}, ts: {"$timestamp": {"t": 1, "i": 2}}, re: {"$regex": "a.c", "$options": "i"},'
                ' dec: {"$numberDecimal": "1.5"}, min: {"$minKey": 1}, code: {"$code": "f()"}, \'q\': \'single\'}\n'
                '{"_id": 2, "d": ISODate("2020-01-02T03:04:05Z"), "dbl": {"$numberDouble": "1.5"}}\n')
    result = _cli_import(server, db, tmp_path, contents, "--legacy")
    assert result.returncode == 0, result.stderr
    first, second = list(db.c.find(sort=[("_id", 1)]))
    assert typed(first) == {
        "_id": ("int", 1), "bin": ("Binary", bson.Binary(b"foo", 0x80)),
        "d": ("datetime", datetime.datetime(1970, 1, 1, 0, 0, 1, tzinfo=datetime.timezone.utc)),
        "d2": ("datetime", datetime.datetime(1970, 1, 1, 0, 0, 2, tzinfo=datetime.timezone.utc)),
        "oid": ("ObjectId", bson.ObjectId("5f43a1b2c3d4e5f6a7b8c9d0")), "long": ("Int64", 5), "n": ("Int64", 7),
        "i": ("int", 16), "ts": ("Timestamp", bson.Timestamp(1, 2)), "re": ("Regex", bson.Regex("a.c", "i")),
        "dec": ("Decimal128", Decimal128("1.5")), "min": ("MinKey", bson.MinKey()), "code": ("Code", bson.Code("f()")),
        "q": ("str", "single")}
    # $numberDouble is Extended JSON v2 only: with --legacy it stays a document, as in mongoimport
    assert second["dbl"] == {"$numberDouble": "1.5"}


def test_legacy_bad_input_names_the_document(imp):
    with pytest.raises(ImportFailed) as info:
        imp('{"a": 1}\n{"a": ObjectId("xyz")}\n', legacy=True)
    assert "error processing document #2 (line 2" in info.value.reason
    assert stored(imp.db.c) == [{"a": 1}]


def test_legacy_is_refused_for_csv(imp):
    assert_refused(imp, "1\n", "cannot use --legacy if input type is not JSON", type="csv", fields="a", legacy=True)


# -- the rest of mongoimport's --help (options.go, common/options/options.go) -------------------------------------


@pytest.mark.parametrize("option", sorted(UNSUPPORTED))
def test_options_labkit_does_not_take_fail_with_a_reason_and_write_nothing(server, db, tmp_path, option):
    args = [option] if not UNSUPPORTED[option][0] else [option, "x"]
    result = _cli_import(server, db, tmp_path, '{"a": 1}\n', *args)
    assert result.returncode == 1
    assert f"Failed: {option} is not supported by labkit: " in result.stderr
    assert "No such option" not in result.stderr and "Traceback" not in result.stderr
    assert "c" not in db.list_collection_names()


def test_password_option_never_echoes_the_password(server, db, tmp_path):
    result = _cli_import(server, db, tmp_path, '{"a": 1}\n', "-u", "admin", "-p", "s3cret-value")
    assert result.returncode == 1 and "s3cret-value" not in result.stderr + result.stdout
    assert "--uri-env" in result.stderr


def test_export_refuses_the_same_options(server, db):
    result = run_labkit("export", "--uri", server.uri, "-d", db.name, "-c", "c", "--sslCAFile", "ca.pem")
    assert result.returncode == 1
    assert "Failed: --sslCAFile is not supported by labkit: give it in the connection string instead" in result.stderr


# -- --useArrayIndexFields (mongoimport_test.go: TestImportDocuments "With --useArrayIndexFields: ...") ---------------

ARRAY_INDEX_GOOD = [
    ("Top-level numerical fields should be document keys", "_id,0,1\n1,2,3", {"_id": 1, "0": 2, "1": 3}),
    ("Should insert nested document", "_id,a.a,a.b\n1,2,3", {"_id": 1, "a": {"a": 2, "b": 3}}),
    ("Should insert an array", "_id,a.0,a.1\n1,2,3", {"_id": 1, "a": [2, 3]}),
    ("Should insert an array of documents", "_id,a.0.a,a.0.b,a.1.a\n1,2,3,4",
     {"_id": 1, "a": [{"a": 2, "b": 3}, {"a": 4}]}),
    ("Should insert an array of arrays", "_id,a.0.0,a.0.1,a.1.0\n1,2,3,4", {"_id": 1, "a": [[2, 3], [4]]}),
    ("Should insert an array when top-level key is 0", "_id,0.0,0.1\n1,2,3", {"_id": 1, "0": [2, 3]}),
    ("Should insert an array in a document in an array", "_id,a.0.a.0,a.0.a.1\n1,2,3", {"_id": 1, "a": [{"a": [2, 3]}]}),
    ("If an array element is blank in the csv file, an empty string should be inserted", "_id,a.0,a.1,a.2\n1,2,,4",
     {"_id": 1, "a": [2, "", 4]}),
    ("If an array with more than 10 fields should be inserted",
     "_id,a.0,a.1,a.2,a.3,a.4,a.5,a.6,a.7,a.8,a.9,a.10\n0,1,2,3,4,5,6,7,8,9,10", {"_id": 0, "a": list(range(1, 11))}),
    ("An number with leading zeros should be interpreted as a document key, not an index", "_id,a.0001\n1,2",
     {"_id": 1, "a": {"0001": 2}}),
    ("An number with leading plus should be interpreted as a document key, not an index", "_id,a.+15558675309\n1,2",
     {"_id": 1, "a": {"+15558675309": 2}}),
    ("Should be able to make changes to document in an array once document has been created",
     "_id,a.0.a,a.1.a,a.0.b\n1,2,3,4", {"_id": 1, "a": [{"a": 2, "b": 4}, {"a": 3}]}),
]
_INDEX_ERROR = "array index error with field `{}`: array indexes in fields must start from 0 and increase sequentially"
ARRAY_INDEX_BAD = [
    ("Duplicate fields should throw an error", "_id,a.0,a.0\n1,2,3", _INDEX_ERROR.format("a.0")),
    ("Array fields not starting at 0 should throw an error", "_id,a.1,a.0\n1,2,3", _INDEX_ERROR.format("a.1")),
    ("Array fields skipping an index should throw an error", "_id,a.0,a.2\n1,2,3", _INDEX_ERROR.format("a.2")),
    ("Array fields with sub documents skipping an index should throw an error", "_id,a.0.a,a.2.a\n1,2,3",
     _INDEX_ERROR.format("a.2.a")),
    ("Array field should throw an error if value has already been set as document", "_id,a.a,a.0\n1,2,3",
     "fields `a.a` and `a.0` are incompatible"),
    ("Array field should throw an error if value has already been set as document (deep object)",
     "_id,a.a.a.a,a.a.0.a\n1,2,3", "fields `a.a.a.a` and `a.a.0.a` are incompatible"),
    ("Document field should throw an error if value has already been set as array", "_id,a.0,a.a\n1,2,3",
     "fields `a.0` and `a.a` are incompatible"),
    ("Document field should throw an error if value has already been set as array (deep object)",
     "_id,a.a.a.0,a.a.a.a\n1,2,3", "fields `a.a.a.0` and `a.a.a.a` are incompatible"),
    ("Array field should throw an error if value has already been set as value", "_id,a,a.0\n1,2,3",
     "fields `a` and `a.0` are incompatible"),
    ("Array field should throw an error if value has already been set as value (deep object)",
     "_id,a.a.a,a.a.a.0\n1,2,3", "fields `a.a.a` and `a.a.a.0` are incompatible"),
    ("Array field should be incompatible with a document field starting with a symbol that is sorted before 0",
     "_id,a./,a.0\n1,2,3", "fields `a./` and `a.0` are incompatible"),
    ("Indexes in fields must start from 0", "_id,a,b.1\n1,2,3", _INDEX_ERROR.format("b.1")),
    ("Indexes in fields must start from 0 (last field same length)", "_id,a.b,b.1\n1,2,3", _INDEX_ERROR.format("b.1")),
    ("Fields that are the same should throw an error (no arrays)", "_id,a.b,a.b\n1,2,3",
     "fields cannot be identical: `a.b` and `a.b`"),
    ("Repeated array index should throw error", "_id,a.0,a.1,a.2,a.0\n1,2,3,4,5", _INDEX_ERROR.format("a.0")),
    ("Array entries of different types should throw an error", "_id,a.a.0.a,a.a.0.1\n1,2,3",
     "fields `a.a.0.a` and `a.a.0.1` are incompatible"),
    ("Document field should throw an error if element has already been set to an array", "_id,a.0.0,a.0.a\n1,2,3",
     "fields `a.0.0` and `a.0.a` are incompatible"),
    ("Incompatible fields should throw error (one long, one short)", "_id,a.a.a.a,a.a\n1,2,3",
     "fields `a.a.a.a` and `a.a` are incompatible"),
]


@pytest.mark.parametrize("case,data,expected", ARRAY_INDEX_GOOD, ids=[c[0] for c in ARRAY_INDEX_GOOD])
def test_TestImportDocuments_with_useArrayIndexFields(imp, case, data, expected):
    assert imp(data, type="csv", header_line=True, use_array_index_fields=True) == [expected]


@pytest.mark.parametrize("case,data,reason", ARRAY_INDEX_BAD, ids=[c[0] for c in ARRAY_INDEX_BAD])
def test_TestImportDocuments_with_useArrayIndexFields_bad_fields(imp, case, data, reason):
    message = assert_refused(imp, data, reason, type="csv", header_line=True, use_array_index_fields=True)
    assert message == reason


def test_useArrayIndexFields_on_the_command_line_with_typed_columns(server, db, tmp_path):
    result = _cli_import(server, db, tmp_path, "1,2\n", "--type", "csv", "--fields", "a.0.int64(),a.1.string()",
                         "--columnsHaveTypes", "--useArrayIndexFields", name="x.csv")
    assert result.returncode == 0, result.stderr
    assert typed(stored(db.c)[0]["a"][0]) == ("Int64", 1) and stored(db.c)[0]["a"][1] == "2"


def test_useArrayIndexFields_a_blank_index_with_ignoreBlanks_stops_with_mongoimports_reason(imp):
    with pytest.raises(ImportFailed) as info:
        imp("1,,3\n", type="csv", fields="a.0,a.1,a.2", use_array_index_fields=True, ignore_blanks=True)
    assert info.value.reason.startswith("can't set value for key `a.2`: Trying to add value to array at index 2, "
                                        "but array is 1 elements long.")


def test_without_useArrayIndexFields_indexes_are_document_keys(imp):
    assert imp("1,2\n", type="csv", fields="a.0,a.1") == [{"a": {"0": 1, "1": 2}}]


@pytest.mark.parametrize("host,port,uri", [
    ("db1", None, "mongodb://db1/"),
    ("db1:27018", None, "mongodb://db1:27018/"),
    ("db1", "27019", "mongodb://db1:27019/"),
    ("rs0/db1:1,db2", "2", "mongodb://db1:1,db2:2/?replicaSet=rs0"),
    (None, "27020", "mongodb://localhost:27020/"),
])
def test_host_and_port_forms(host, port, uri):
    assert _host_uri(host, port) == uri


def test_host_and_port_connect_there(server, db, tmp_path):
    path = tmp_path / "x.json"
    path.write_text('{"a": 1}\n')
    result = run_labkit("import", "--host", "127.0.0.1", "--port", "1", "-d", db.name, "-c", "c", str(path))
    assert result.returncode == 1
    assert "error connecting to host: could not reach mongodb://127.0.0.1:1/" in result.stderr
    both = _cli_import(server, db, tmp_path, '{"a": 1}\n', "--host", "127.0.0.1")
    assert both.returncode == 2 and "not several of them" in both.stderr


@pytest.mark.parametrize("value", ["majority", "1", "{w: 1, j: true, wtimeout: 500}", '{"w": "majority"}'])
def test_writeConcern_forms_are_used(server, db, tmp_path, value):
    result = _cli_import(server, db, tmp_path, '{"a": 1}\n', "--writeConcern", value, "-v")
    assert result.returncode == 0, result.stderr
    assert "using write concern: " in result.stderr
    assert stored(db.c) == [{"a": 1}]


@pytest.mark.parametrize("value,reason", [
    ("0", "w: 0 is not supported by labkit"),
    ("{w: -1}", "invalid 'w' argument: -1"),
    ("{w: true}", "invalid 'w' argument type"),
    ("{wtimeout: 'soon'}", "invalid 'wtimeout' argument: soon"),
])
def test_bad_writeConcern_is_refused(server, db, tmp_path, value, reason):
    result = _cli_import(server, db, tmp_path, '{"a": 1}\n', "--writeConcern", value)
    assert result.returncode == 1 and reason in result.stderr
    assert "c" not in db.list_collection_names()


def test_bypassDocumentValidation(server, db, tmp_path):
    db.create_collection("c", validator={"a": {"$type": "string"}})
    without = _cli_import(server, db, tmp_path, '{"a": 1}\n')
    assert "continuing through error: Document failed validation" in without.stderr
    assert "0 document(s) imported successfully. 1 document(s) failed to import." in without.stderr
    with_flag = _cli_import(server, db, tmp_path, '{"a": 2}\n', "--bypassDocumentValidation")
    assert with_flag.returncode == 0, with_flag.stderr
    assert "1 document(s) imported successfully. 0 document(s) failed to import." in with_flag.stderr
    assert stored(db.c) == [{"a": 2}]


def test_verbose_version_and_short_j(server, db, tmp_path):
    result = _cli_import(server, db, tmp_path, '{"a": 1}\n', "-v", "-j", "2", "--numDecodingWorkers", "4")
    assert result.returncode == 0, result.stderr
    assert f"ns: {db.name}.c" in result.stderr and "filesize: 9 bytes" in result.stderr
    version = run_labkit("import", "--version")
    assert version.returncode == 0 and "labkit import version" in version.stdout


def test_TestParseOptions_positional_connection_string_and_file(server, db, tmp_path):
    path = tmp_path / "x.json"
    path.write_text('{"a": 1}\n')
    result = run_labkit("import", "-d", db.name, "-c", "c", server.uri, str(path))
    assert result.returncode == 0, result.stderr
    assert stored(db.c) == [{"a": 1}]
    two = run_labkit("import", "-d", db.name, "-c", "c", str(path), str(path))
    assert two.returncode == 2
    assert "provide only one file name and only one MongoDB connection string" in two.stderr


@pytest.mark.parametrize("json_array", [False, True])
def test_legacy_input_larger_than_a_read_chunk(imp, json_array):
    lines = [f"{{_id: {i}, o: ObjectId('5f43a1b2c3d4e5f6a7b8c9d0'), s: 'text {'x' * 90}', n: NumberLong({i})}}"
             for i in range(20_000)]
    contents = ("[" + ",\n".join(lines) + "]\n") if json_array else "\n".join(lines) + "\n"
    assert len(contents) > 2 << 20
    docs = imp(contents, legacy=True, json_array=json_array)
    assert len(docs) == 20_000 and docs[-1]["_id"] == 19_999 and typed(docs[-1])["n"] == ("Int64", 19_999)


# -- options_test.go: TestWriteConcernWithURIParsing (seen through -v's "using write concern" line) -----------------


@pytest.mark.parametrize("uri_suffix,args,expected", [
    ("", [], "{'w': 'majority'}"),                               # default majority
    ("&w=1", [], "{'w': 1}"),                                     # parse from URI
    ("", ["--writeConcern", "{w: 1}"], "{'w': 1}"),               # parse from command line
    ("&w=majority", ["--writeConcern", "{w: 1}"], "{'w': 1}"),    # command line takes precedence
])
def test_TestWriteConcernWithURIParsing(server, db, tmp_path, uri_suffix, args, expected):
    path = tmp_path / "x.json"
    path.write_text('{"a": 1}\n')
    result = run_labkit("import", "--uri", server.uri + uri_suffix, "-d", db.name, "-c", "c", "-v", *args, str(path))
    assert result.returncode == 0, result.stderr
    assert f"using write concern: {expected}" in result.stderr
    assert stored(db.c) == [{"a": 1}]


def test_a_date_layout_without_a_year_gives_year_0_which_the_embedded_server_refuses(imp):
    # Go's time.Parse("15:04", "10:30") is 0000-01-01T10:30:00Z; mongoimport stores that date on mongod.
    with pytest.raises(ImportFailed) as info:
        imp("10:30\n", type="csv", fields="t.date(15:04)", columns_have_types=True)
    assert "year 0 is out of range" in info.value.reason  # SecantusDB: "invalid BSON in body" (README)
    assert stored(imp.db.c) == []


def test_legacy_undefined_is_stored_as_null(imp):
    assert imp('{"u": {"$undefined": true}}\n', legacy=True) == [{"u": None}]


def test_TestMongoImportValidateSettings_empty_fieldFile_is_refused(imp):
    assert_refused(imp, "1\n", "--fieldFile cannot be empty string", type="csv", field_file="")


def test_numInsertionWorkers_0_counts_as_1(server, db, tmp_path):
    result = _cli_import(server, db, tmp_path, '{"a": 1}\n', "-j", "0")
    assert result.returncode == 0, result.stderr
    assert stored(db.c) == [{"a": 1}]
