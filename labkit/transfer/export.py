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
import os
import sys
import tempfile
import time
from dataclasses import dataclass, field

import bson
from bson import ObjectId
from bson.raw_bson import RawBSONDocument
from pymongo.errors import PyMongoError

from labkit.errors import TransferError
from labkit import ejson
from labkit.transfer.common import Connection, logger, progress
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


def export_collection(uri_or_client, db: str, collection: str, *, query=None, fields=None, sort=None, skip: int = 0,
                      limit: int = 0, type: str = "json", json_format: str = "relaxed", json_array: bool = False,
                      pretty: bool = False, header_line: bool = True, out=None, quiet: bool = False) -> ExportReport:
    """Write the documents of ``db.collection`` (matching ``query``) as mongoexport does.

    ``out``: a path, a file object (text or binary), or None for stdout. ``query`` and ``sort``
    are Extended JSON text (``'{"_id": {"$oid": "..."}}'``) or dicts. ``fields`` is "a,b.c" or a
    list; CSV needs it. Raises TransferError (nothing written to ``out`` when it is a path).
    """
    type = (type or "json").lower()
    if type not in EXPORT_TYPES:
        raise TransferError(f"invalid output type '{type}': choose json or csv.")
    json_format = (json_format or "relaxed").lower()
    if json_format not in ejson.JSON_FORMATS:
        raise TransferError(f"invalid --jsonFormat '{json_format}': choose relaxed or canonical.")
    if not db or not collection:
        raise TransferError("must specify a database (--db) and a collection (--collection) to export.")
    field_names = split_fields(fields)
    if type == "csv" and not field_names:
        raise TransferError("CSV mode requires a field list: give --fields a,b,c (the columns, in order).")
    if type == "csv" and (json_array or pretty):
        raise TransferError("--jsonArray and --pretty only apply to JSON output.")
    if skip < 0 or limit < 0:
        raise TransferError("--skip and --limit must be 0 or more.")
    filter_doc = parse_document(query, "query") or {}
    sort_doc = parse_document(sort, "sort")
    projection = {name: 1 for name in field_names} if field_names else None

    log = logger(quiet)
    conn = Connection(uri_or_client)
    report = ExportReport(db, collection, path=os.fspath(out) if isinstance(out, (str, os.PathLike)) else None,
                          type=type, query=filter_doc)
    started = time.monotonic()
    try:
        conn.check()
        log(f"connected to: {conn.display}")
        # Raw documents, decoded here: the driver would turn a document holding $ref and $id into a DBRef
        # (and reorder its fields); those few are written from the raw bytes, in their stored order.
        coll = conn.client[db].get_collection(collection, codec_options=RAW_OPTIONS)
        # Small batches: the driver decodes a whole batch at once (16 MB of BSON is ~150 MB of dicts).
        cursor = coll.find(filter_doc, projection, skip=skip, limit=limit, batch_size=EXPORT_BATCH_DOCS,
                           sort=list(sort_doc.items()) if sort_doc else None)
        total = _total(coll, filter_doc, skip, limit)
        with _Output(out) as sink, progress(f"{db}.{collection}", quiet, total) as bar:
            if type == "csv":
                report.count = _write_csv(cursor, sink, field_names, header_line, bar)
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


def _csv_value(value) -> str:
    """A cell as mongoexport writes it: strings as they are, documents and arrays as JSON."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, ObjectId):
        return f"ObjectId({value})"
    if isinstance(value, dt.datetime):
        value = value.astimezone(dt.timezone.utc) if value.tzinfo else value
        return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
    if isinstance(value, (int, float)):
        return repr(value) if isinstance(value, float) else str(value)
    return ejson.dumps({"v": value})[5:-1]


def _field_value(doc, path: str):
    value = doc
    for part in path.split("."):
        if isinstance(value, dict):
            value = value.get(part)
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return None
        if value is None:
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
    """Where the export goes: stdout, a caller's file object, or a path written atomically."""

    def __init__(self, out):
        self.out = out
        self._tmp = None
        self._file = None

    def __enter__(self):
        if self.out is None:
            stream = sys.stdout
            self._write = _writer_for(stream)
        elif isinstance(self.out, (str, os.PathLike)):
            target = os.path.abspath(os.fspath(self.out))
            folder = os.path.dirname(target)
            if os.path.isdir(target):
                raise TransferError(f"error opening output stream: {target} is a directory; give a file name with --out.")
            if not os.path.isdir(folder):
                raise TransferError(f"error opening output stream: the folder {folder} does not exist.")
            try:
                fd, self._tmp = tempfile.mkstemp(prefix=f".{os.path.basename(target)}.", suffix=".tmp", dir=folder)
            except OSError as exc:
                raise TransferError(f"error opening output stream: cannot write in {folder}: {exc.strerror}.") from None
            os.fchmod(fd, 0o600)  # exports hold customer data: owner-only
            self._file = os.fdopen(fd, "w", encoding="utf-8", newline="")
            self._target = target
            self._write = self._file.write
        else:
            self._write = _writer_for(self.out)
        return self

    def write(self, text: str) -> None:
        self._write(text)

    def __exit__(self, exc_type, exc, tb):
        if self._file is None:
            flush = getattr(self.out if self.out is not None else sys.stdout, "flush", None)
            if flush:
                flush()
            return False
        try:
            if exc_type is None:
                self._file.flush()
                os.fsync(self._file.fileno())
            self._file.close()
            if exc_type is None:
                os.replace(self._tmp, self._target)
                self._tmp = None
        finally:
            if self._tmp and os.path.exists(self._tmp):
                os.unlink(self._tmp)
        return False


def _writer_for(stream):
    """A write(str) for a text or binary stream."""
    if isinstance(stream, (io.RawIOBase, io.BufferedIOBase)) or "b" in str(getattr(stream, "mode", "")):
        return lambda text: stream.write(text.encode("utf-8"))
    return stream.write
