"""mongoexport-compatible export: a collection (or the part a query selects) to a file.

Streams a cursor and writes in batches, so memory stays flat whatever the
collection size. Output to a file is atomic: a temporary file readable by the
owner only, renamed over the target when every document is written, removed
if anything fails (the target is then untouched).
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
import os
import sys
import tempfile
import time
from dataclasses import dataclass, field

from decimal import Decimal

import bson
from bson import Binary, Code, DBRef, Decimal128, Int64, MaxKey, MinKey, ObjectId, Regex, Timestamp
from bson.datetime_ms import DatetimeMS
from bson.raw_bson import RawBSONDocument
from pymongo.errors import PyMongoError

from labkit import ejson
from labkit.errors import TransferError
from labkit.files import OutputFile, OutputRefused
from labkit.progress import progress_bar
from labkit.transfer.common import Connection, logger
from labkit.transfer.query import parse_document

EXPORT_TYPES = ("json", "csv")
RAW_OPTIONS = ejson.CODEC_OPTIONS.with_options(document_class=RawBSONDocument)
WRITE_EVERY_CHARS = 1 << 20  # batch writes: one write per ~1 MB of output
EXPORT_BATCH_DOCS = 1000  # documents per getMore


@dataclass
class ExportReport:
    db: str
    collection: str
    count: int = 0
    path: str | None = None  # None when written to stdout or a file object
    type: str = "json"
    seconds: float = 0.0
    query: dict | None = field(default=None, repr=False)

    def closing_line(self) -> str:
        return f"exported {self.count} record" if self.count == 1 else f"exported {self.count} records"


def split_fields(fields) -> list[str] | None:
    if fields is None:
        return None
    names = fields.split(",") if isinstance(fields, str) else list(fields)
    names = [name.strip() for name in names if name and name.strip()]
    return names or None


def export_fields(fields) -> list[str] | None:
    """--fields as mongoexport splits it: on every comma, spaces kept exactly as given."""
    if fields is None or fields == "":
        return None
    return fields.split(",") if isinstance(fields, str) else list(fields)


def projection_for(fields: list[str]) -> dict:
    """mongoexport's makeFieldSelector: a dotted field projects its whole top-level field (the value is
    extracted here), except a positional "a.$", which the server applies."""
    selector = {"_id": 1}
    for name in fields:
        dot = name.rfind(".")
        if dot != -1 and name[dot + 1:] != "$":
            name = name[: name.index(".")]
        selector[name] = 1
    return selector


def read_query_file(path) -> str:
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except OSError as exc:
        raise TransferError(f"error reading --queryFile {path}: {exc.strerror or exc}") from None


INT64_MAX = 2**63 - 1


def _beyond_int64(value):
    """The first integer in a parsed document that BSON cannot hold (it has 64-bit integers only), or None."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value if not -INT64_MAX - 1 <= value <= INT64_MAX else None
    children = value.values() if isinstance(value, dict) else value if isinstance(value, (list, tuple)) else ()
    for child in children:
        found = _beyond_int64(child)
        if found is not None:
            return found
    return None


def _refuse_unsendable(name: str, doc) -> None:
    """A parsed --query or --sort that BSON cannot carry (a number beyond 64 bits, a NUL in a key) is the
    user's to fix: say which, before connecting."""
    too_large = _beyond_int64(doc)
    if too_large is not None:
        raise TransferError(f"error parsing {name} as Extended JSON: {too_large} does not fit in a 64-bit "
                            f"integer (NumberLong): give a number from {-INT64_MAX - 1} to {INT64_MAX}, or a "
                            "double such as 1e21.")
    try:
        bson.encode(doc or {})
    except (bson.errors.BSONError, TypeError, ValueError, OverflowError) as exc:
        raise TransferError(f"error parsing {name} as Extended JSON: it cannot be sent to the server ({exc}).") \
            from None


def _sort_orders(sort_doc: dict | None) -> dict | None:
    """--sort as the driver takes it: 1 / -1 (1.0 counts as 1), a name such as "text", or {"$meta": ...}."""
    if not sort_doc:
        return sort_doc
    orders = {}
    for key, value in sort_doc.items():
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, (int, str, dict)):
            raise TransferError(f"invalid sort specification: {key!r} is {value!r}; sort orders are 1 (ascending) "
                                "or -1 (descending).")
        orders[key] = value
    return orders


def export_collection(uri_or_client, db: str, collection: str, *, query=None, fields=None, sort=None, skip: int = 0,
                      limit: int = 0, type: str = "json", json_format: str = "relaxed", json_array: bool = False,
                      pretty: bool = False, header_line: bool = True, out=None, quiet: bool = False,
                      query_file=None, assert_exists: bool = False) -> ExportReport:
    """Write the documents of ``db.collection`` (matching ``query``) as mongoexport does.

    ``out``: a path, a file object (text or binary), or None for stdout. ``query`` and ``sort``
    are Extended JSON text (``'{"_id": {"$oid": "..."}}'``) or dicts. ``fields`` is "a,b.c" or a
    list; CSV needs it. ``query_file``: a file holding the query (--queryFile); ``assert_exists``:
    fail when the collection does not exist (--assertExists). Raises TransferError (nothing
    written to ``out`` when it is a path).
    """
    type = (type or "json").lower()
    if type not in EXPORT_TYPES:
        raise TransferError(f"invalid output type '{type}', choose 'json' or 'csv'")
    json_format = (json_format or "relaxed").lower()
    if json_format not in ejson.JSON_FORMATS:
        raise TransferError(f"invalid --jsonFormat '{json_format}': choose relaxed or canonical.")
    if not collection:
        raise TransferError("must specify a collection")
    if not db:
        raise TransferError("must specify a database (--db)")
    field_names = export_fields(fields)
    if type == "csv" and not field_names:
        raise TransferError("CSV mode requires a field list: give --fields a,b,c (the columns, in order).")
    if query is not None and query_file is not None:
        raise TransferError("either --query or --queryFile can be specified as a query option")
    if query_file is not None:
        query = read_query_file(query_file)
    if type == "csv" and (json_array or pretty):
        raise TransferError("--jsonArray and --pretty only apply to JSON output.")
    if skip < 0 or limit < 0:
        raise TransferError("--skip and --limit must be 0 or more.")
    for name, value in (("--skip", skip), ("--limit", limit)):
        if value > INT64_MAX:
            raise TransferError(f"{name} {value} is too large: at most {INT64_MAX} (a 64-bit integer).")
    filter_doc = parse_document(query, "query") or {}
    sort_doc = parse_document(sort, "sort")
    sort_doc = _sort_orders(sort_doc)
    for name, doc in (("query", filter_doc), ("sort", sort_doc)):
        _refuse_unsendable(name, doc)
    projection = projection_for(field_names) if field_names else None
    # CSV columns: a positional "a.$" is the column "a" (the server has applied it).
    columns = [name[:-2] if name.endswith(".$") else name for name in field_names or ()]

    log = logger(quiet)
    conn = Connection(uri_or_client)
    report = ExportReport(db, collection, path=os.fspath(out) if isinstance(out, (str, os.PathLike)) else None,
                          type=type, query=filter_doc)
    started = time.monotonic()
    try:
        conn.check()
        log(f"connected to: {conn.display}")
        if assert_exists and collection not in conn.client[db].list_collection_names(filter={"name": collection}):
            raise TransferError(f"collection `{collection}` does not exist")
        # Raw documents, decoded here: the driver would turn a document holding $ref and $id into a DBRef
        # (and reorder its fields); those few are written from the raw bytes, in their stored order.
        coll = conn.client[db].get_collection(collection, codec_options=RAW_OPTIONS)
        # Small batches: the driver decodes a whole batch at once (16 MB of BSON is ~150 MB of dicts).
        cursor = coll.find(filter_doc, projection, skip=skip, limit=limit, batch_size=EXPORT_BATCH_DOCS,
                           sort=list(sort_doc.items()) if sort_doc else None)
        total = _total(coll, filter_doc, skip, limit)
        bar = progress_bar(f"{db}.{collection}", total, enabled=not quiet, unit_scale=True, delay=1.0)
        with _Output(out) as sink, bar:
            if type == "csv":
                report.count = _write_csv(cursor, sink, columns, header_line, bar)
            else:
                report.count = _write_json(cursor, sink, json_format, json_array, pretty, bar)
    except PyMongoError as exc:
        raise TransferError(f"error reading {db}.{collection} from {conn.display}: {conn.clean(exc)}") from None
    finally:
        conn.close()
    report.seconds = time.monotonic() - started
    log(report.closing_line())
    return report


def _total(coll, filter_doc: dict, skip: int, limit: int) -> int | None:
    """For the progress bar only: cheap when there is no query, skipped otherwise."""
    if filter_doc:
        return None
    try:
        total = max(coll.estimated_document_count() - skip, 0)
    except PyMongoError:
        return None
    return min(total, limit) if limit else total


def _write_json(cursor, sink, json_format: str, json_array: bool, pretty: bool, bar) -> int:
    write = ejson.writer(json_format, "export", pretty)
    count = 0
    pending: list[str] = []
    pending_chars = 0
    # Separators exactly as mongoexport writes them (see mongoexport/json.go).
    separator = ("," if json_array else "") + ("\n" if pretty else "")
    if json_array:
        pending.append("[")
    for doc in _documents(cursor):
        text = write(doc)
        if json_array or pretty:
            if count:
                pending.append(separator)
            pending.append(text)
        else:
            pending.append(text + "\n")
        count += 1
        pending_chars += len(text)
        if pending_chars >= WRITE_EVERY_CHARS:
            sink.write("".join(pending))
            bar.update(len(pending))
            pending.clear()
            pending_chars = 0
    if json_array:
        pending.append("]\n")
    if pretty:
        pending.append("\n")
    sink.write("".join(pending))
    bar.update(count - bar.n)
    return count


def _documents(cursor):
    """Dicts decoded from the cursor's raw documents; DBRef-shaped ones stay raw (a mapping in stored order)."""
    decode, options = bson.decode, ejson.CODEC_OPTIONS
    for raw_doc in cursor:
        data = raw_doc.raw
        yield raw_doc if b"$ref\x00" in data else decode(data, options)


def _go_float(value: float) -> str:
    """A double as Go's fmt %v writes it (strconv 'g', shortest): 5.4, 2, 1e+06, 1.5e-05, NaN, +Inf."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == 0:
        return "-0" if math.copysign(1, value) < 0 else "0"
    sign, digits, exponent = Decimal(repr(value)).as_tuple()
    text = "".join(map(str, digits)).rstrip("0") or "0"
    point = len(digits) + exponent  # digits before the decimal point
    exp10 = point - 1
    lead = "-" if sign else ""
    if exp10 < -4 or exp10 >= 6:  # "if precision was the shortest possible, use precision 6" (strconv)
        mantissa = text[0] + ("." + text[1:] if len(text) > 1 else "")
        return f"{lead}{mantissa}e{'+' if exp10 >= 0 else '-'}{abs(exp10):02d}"
    if point <= 0:
        return f"{lead}0.{'0' * -point}{text}"
    if point >= len(text):
        return lead + text + "0" * (point - len(text))
    return f"{lead}{text[:point]}.{text[point:]}"


def _csv_value(value) -> str:
    """A cell as mongoexport writes it (fmt %v of the legacy Extended JSON value; documents and
    arrays as JSON)."""
    if value is None:
        return ""
    kind = value.__class__
    if kind is str:
        return value
    if kind is bool:
        return "true" if value else "false"
    if kind is int or kind is Int64:
        return str(int(value))
    if kind is float:
        return _go_float(value)
    if kind is ObjectId:
        return f"ObjectId({value})"
    if kind is dt.datetime:
        value = value.astimezone(dt.timezone.utc) if value.tzinfo else value
        return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
    if kind is DatetimeMS:
        return ejson.dumps({"v": value})[5:-1]
    if kind is Decimal128:
        return str(value)
    if kind is MinKey:
        return "$MinKey"
    if kind is MaxKey:
        return "$MaxKey"
    if kind is bytes:  # binary subtype 0 decodes as bytes
        return value.hex().upper()
    if kind is Binary:
        data = bytes(value)[4:] if value.subtype == 2 else bytes(value)
        return data.hex().upper()
    if kind is Regex:
        return f"/{value.pattern}/{value.flags if isinstance(value.flags, str) else _regex_flags(value)}"
    if kind is Timestamp:
        return f'{{ "$timestamp": {{ "t": {value.time}, "i": {value.inc} }} }}'
    if kind is Code:
        return str(value)
    if kind is DBRef:
        return f'{{ "$ref": "{value.collection}", "$id": {value.id}, "$db": "{value.database or ""}" }}'
    return ejson.dumps({"v": value})[5:-1]


def _regex_flags(value: Regex) -> str:
    return json.loads(ejson.dumps({"v": value}))["v"]["$regularExpression"]["options"]


def _field_value(doc, path: str):
    """mongoexport's extractFieldByName: follow a dotted path through documents and array indexes."""
    value = doc
    for part in path.split("."):
        if hasattr(value, "keys") and not isinstance(value, (str, bytes)):
            if part not in value:
                return None
            value = value[part]
        elif value.__class__ is list:
            try:
                index = int(part)
            except ValueError:
                return None
            if index < 0 or index >= len(value):
                return None
            value = value[index]
        else:
            return None
    return value


def _write_csv(cursor, sink, fields: list[str], header_line: bool, bar) -> int:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    if header_line:
        writer.writerow(fields)
    count = 0
    for doc in _documents(cursor):
        writer.writerow([_csv_value(_field_value(doc, name)) for name in fields])
        count += 1
        if buffer.tell() >= WRITE_EVERY_CHARS:
            sink.write(buffer.getvalue())
            buffer.seek(0)
            buffer.truncate()
            bar.update(count - bar.n)
    sink.write(buffer.getvalue())
    bar.update(count - bar.n)
    return count


class _Output:
    """Where the export goes: stdout, a caller's file object, or a path (see ``files.OutputFile``: a device or
    a pipe written directly, a regular file atomically)."""

    def __init__(self, out):
        self.out = out
        self._output: OutputFile | None = None

    def __enter__(self):
        if self.out is None:
            self._write = _writer_for(sys.stdout)
        elif isinstance(self.out, (str, os.PathLike)):
            self._output = OutputFile(self.out)
            try:
                self._write = self._output.open().write
            except OutputRefused as exc:
                raise TransferError(f"error opening output stream: {exc}.") from None
            except OSError as exc:
                raise TransferError(f"error opening output stream {self._output.path}: "
                                    f"{exc.strerror or exc}.") from None
        else:
            self._write = _writer_for(self.out)
        return self

    def write(self, text: str) -> None:
        if self._output is None:
            self._write(text)  # stdout: a closed pipe is the command's to handle (it dies of SIGPIPE)
            return
        try:
            self._write(text)
        except OSError as exc:
            raise self._failed(exc) from None

    def _failed(self, exc: OSError) -> TransferError:
        kept = "" if self._output.direct else f" (nothing was written: {self._output.path} is as it was)"
        return TransferError(f"error writing to {self._output.path}: {exc.strerror or exc}{kept}.")

    def __exit__(self, exc_type, exc, tb):
        if self._output is None:
            flush = getattr(self.out if self.out is not None else sys.stdout, "flush", None)
            if flush:
                flush()
            return False
        if exc_type is not None:
            self._output.discard()
            return False
        try:
            self._output.commit()
        except OSError as error:
            self._output.discard()
            raise self._failed(error) from None
        return False


def _writer_for(stream):
    """A write(str) for a text or binary stream."""
    if isinstance(stream, (io.RawIOBase, io.BufferedIOBase)) or "b" in str(getattr(stream, "mode", "")):
        return lambda text: stream.write(text.encode("utf-8"))
    return stream.write
