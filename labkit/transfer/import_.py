"""mongoimport-compatible import: a JSON, CSV or TSV file into a collection.

Two stages overlap: this thread reads and parses the input into BSON batches
while writer threads send the previous batches (the server works while we
parse). Batches are bounded by bytes and count, well inside the server's
message and write-batch limits, and only a few are in flight, so memory stays
flat for any file size.

Politeness to concurrent writers: the lab imports into a collection the
application keeps writing to. While other clients write to it, each command
carries one document, so their inserts never wait long behind ours; alone,
batches are full size (see pacing.py). A fixed ``batch_size`` (``--batchSize``, as
mongoimport's hidden flag whose default is 1000) turns this off.

Retryable writes are off unless the connection string turns them on: the
embedded server keeps a record of every retryable write for 30 minutes and
scans all of them on every write, so thousands of small batches would slow
every client of the server (the application too). A failed batch stops the
import with its count, as mongoimport does.

Modes and error handling follow mongoimport 100.x (mongoimport/mongoimport.go):
insert is unordered and continues through write errors (each counted as a
failure) unless --stopOnError; --maintainInsertionOrder makes it ordered and
implies --stopOnError; upsert, merge and delete are ordered and stop at the
first error. A document that cannot be read stops the import; it is not a
failure, and the error says how many documents were already imported.
"""
from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass, field

import bson
from bson import ObjectId
from bson.raw_bson import RawBSONDocument
from pymongo import DeleteOne, InsertOne, ReplaceOne, UpdateOne, WriteConcern
from pymongo.errors import BulkWriteError, PyMongoError

from labkit.errors import TransferError
from labkit.progress import progress_bar
from labkit.transfer.common import Connection, logger
from labkit.transfer.export import split_fields
from labkit.transfer.pacing import POLITE_DOCS, BatchPacer
from labkit.transfer.typed import parse_typed_headers, validate_parse_grace
from labkit.transfer.reader import (DelimitedDocuments, JSONDocuments, MalformedInput, TextSource, open_input,
                                    split_inline_fields, validate_field_names)

MODES = ("insert", "upsert", "merge", "delete")
INPUT_TYPES = ("json", "csv", "tsv")
BATCH_BYTES = 4 << 20  # per write command (the server accepts up to maxMessageSizeBytes, 48 MB); keeps memory low
BATCH_DOCS = 1_000  # most documents per write command (mongoimport's default; the server accepts 100,000)
BATCHES_IN_FLIGHT = 2  # enough to overlap parsing with writing
ERRORS_KEPT = 10  # ImportReport.errors keeps the first few
ERRORS_SHOWN = 20  # "continuing through error" lines printed before summarising


@dataclass
class ImportReport:
    db: str
    collection: str
    mode: str = "insert"
    imported: int = 0  # inserted + modified + upserted + deleted, as mongoimport counts
    failed: int = 0
    read: int = 0  # documents read from the input
    errors: list[dict] = field(default_factory=list)  # first few failures: document number, code, reason
    seconds: float = 0.0

    def closing_line(self) -> str:
        if self.mode == "delete":
            return (f"{self.imported} document(s) deleted successfully. "
                    f"{self.failed} document(s) failed to delete.")
        return (f"{self.imported} document(s) imported successfully. "
                f"{self.failed} document(s) failed to import.")


class ImportFailed(TransferError):
    """The import stopped; ``reason`` is mongoimport's "Failed:" text, ``report`` what got done."""

    def __init__(self, reason: str, report: ImportReport):
        self.reason = reason
        self.report = report
        done = "deleted" if report.mode == "delete" else "imported"
        super().__init__(
            f"{reason}\n{report.imported} document(s) were {done} before it stopped and {report.failed} failed. "
            "Fix the cause and import again; use --mode upsert to skip what is already there without duplicates."
        )


@dataclass
class _Batch:
    first: int  # number of the batch's first document in the input (1-based)
    docs: list  # RawBSONDocument
    selectors: list | None = None  # per document, for upsert / merge / delete


def import_file(uri_or_client, db: str, collection: str, file=None, *, type: str = "json", header_line: bool = False,
                fields=None, json_array: bool = False, mode: str | None = "insert", upsert_fields=None, drop: bool = False,
                stop_on_error: bool = False, maintain_insertion_order: bool = False, num_insertion_workers: int = 1,
                batch_size: int | None = None, field_file=None, ignore_blanks: bool = False,
                columns_have_types: bool = False, parse_grace: str = "stop", legacy: bool = False,
                use_array_index_fields: bool = False, verbose: int = 0,
                bypass_document_validation: bool = False, write_concern=None, rejects=None,
                quiet: bool = False, polite_docs: int = POLITE_DOCS) -> ImportReport:
    """Import ``file`` (a path, a file object, or None for stdin) into ``db.collection``.

    ``mode=None`` with ``upsert_fields`` means upsert (mongoimport's --upsertFields without --mode);
    the default "insert" with ``upsert_fields`` is an error, as --mode=insert is in mongoimport.
    ``batch_size``: documents per write command; None: full batches while nobody else writes to
    the collection, ``polite_docs`` while others do (pacing.py). ``field_file``: a file naming the
    CSV/TSV columns, one per line (instead of ``fields``); ``ignore_blanks``: leave empty CSV/TSV
    values out of the documents instead of storing "".
    ``columns_have_types``: the CSV/TSV field names are typed, ``name.type(arg)`` (typed.py);
    ``parse_grace``: autoCast, skipField, skipRow or stop (default), what a value that is not of its
    column's type does; ``rejects``: where skipRow writes the rows it skips (the CLI: stdout).
    ``legacy``: read JSON as mongoimport --legacy does (the mongo shell dialect and legacy Extended
    JSON wrappers; v2-only wrappers such as ``{"$binary": {"base64": ...}}`` stay documents).
    ``use_array_index_fields``: CSV/TSV field names may hold array indexes (``a.0,a.1``) that build arrays
    (--useArrayIndexFields). ``bypass_document_validation``: as --bypassDocumentValidation; ``write_concern``: a pymongo
    WriteConcern for the writes (--writeConcern; default, as mongoimport: majority unless the connection
    string sets w). ``verbose``: also log the write concern used (-v).
    Returns an ImportReport (``imported``, ``failed``, ``errors``, ``closing_line()``); raises
    ImportFailed (a TransferError carrying the report) when the import stops early, and
    TransferError for bad options, input that cannot be opened or an unreachable server.
    """
    type = (type or "json").lower()
    mode = (mode or "").lower()
    names = split_fields(upsert_fields)
    _validate(type, header_line, fields, mode, names, num_insertion_workers, batch_size, field_file, ignore_blanks)
    if type == "json" and columns_have_types:
        raise TransferError("cannot use --columnsHaveTypes when input type is JSON")
    if type != "json":
        validate_parse_grace(parse_grace)
        if legacy:
            raise TransferError("cannot use --legacy if input type is not JSON")
    if field_file is not None:
        fields = read_field_file(field_file)
    elif isinstance(fields, str):
        fields = split_inline_fields(fields)  # as mongoimport: split on commas, spaces kept
    elif fields is not None:
        fields = list(fields)
    if type != "json" and not header_line:
        validate_field_names([spec.name for spec in parse_typed_headers(fields)] if columns_have_types else fields,
                             use_array_index_fields)
    if names:
        try:
            validate_field_names(names, use_array_index_fields)
        except TransferError as exc:
            raise TransferError(f"invalid --upsertFields argument: {exc}") from None
    if names:
        mode = mode or "upsert"  # --upsertFields alone implies upsert
    mode = mode or "insert"
    if mode != "insert":
        names = names or ["_id"]
        maintain_insertion_order = True
    if maintain_insertion_order:
        stop_on_error = True
        num_insertion_workers = 1
    log = logger(quiet)
    log_detail = log if verbose else (lambda message: None)  # -v: mongoimport's Info lines

    validate_namespace(db, collection)
    opened = open_input(file)
    documents = None
    if type != "json":
        # The header is read and checked before connecting: a bad one stops the import with nothing written.
        documents = DelimitedDocuments(TextSource(opened), type, fields, header_line, ignore_blanks,
                                       columns_have_types, parse_grace, log, rejects, use_array_index_fields)
        try:
            documents.read_header()
        except TransferError:
            if opened.close:
                opened.stream.close()
            raise
    conn = Connection(uri_or_client)
    report = ImportReport(db, collection, mode)
    started = time.monotonic()
    try:
        hello = conn.check()
        log(f"connected to: {conn.display}")
        coll = conn.client[db][collection]
        if write_concern is None and "w" not in coll.write_concern.document:
            # mongoimport's default: majority, unless the connection string says otherwise (its j is kept)
            write_concern = WriteConcern("majority", **{k: v for k, v in coll.write_concern.document.items()
                                                         if k in ("j", "wtimeout")})
        write_concern = write_concern or coll.write_concern  # the connection string's
        coll = coll.with_options(write_concern=write_concern)
        log_detail(f"using write concern: {write_concern.document}")
        if drop:
            log(f"dropping: {db}.{collection}")
            coll.drop()
        if documents is None:
            documents = JSONDocuments(TextSource(opened), json_array, legacy)
        pipeline = _Pipeline(coll, mode, names, maintain_insertion_order, stop_on_error, max(1, num_insertion_workers),
                             report, log, hello, conn.clean, BatchPacer(conn.client, db, collection,
                                                                        *_batch_limits(hello, batch_size),
                                                                        fixed=batch_size is not None,
                                                                        polite_docs=polite_docs))
        pipeline.bypass = bypass_document_validation
        with progress_bar(f"{db}.{collection}", enabled=not quiet, unit_scale=True, delay=1.0) as bar:
            pipeline.bar = bar
            pipeline.run(documents)
    except PyMongoError as exc:
        raise ImportFailed(conn.clean(exc), report) from None
    finally:
        report.seconds = time.monotonic() - started
        conn.close()
        if opened.close:
            opened.stream.close()
    log(report.closing_line())
    return report


# util.InvalidDBChars and InvalidCollectionChars of mongo-tools
_INVALID_DB_CHARS = '/\\. "\x00$'


def validate_namespace(db: str, collection: str) -> None:
    """The database and collection names mongoimport refuses before connecting, in its words."""
    if len(db.encode()) > 63:
        raise TransferError(f"invalid database name: db name `{db}` is longer than 63 characters")
    for char in _INVALID_DB_CHARS:
        if char in db:
            raise TransferError(f"invalid database name: illegal character `{char}` found in db name `{db}`")
    if collection.startswith("system."):
        raise TransferError(f"invalid collection name: collection name `{collection}` is not allowed to begin "
                            "with 'system.'")
    if not collection:
        raise TransferError("invalid collection name: collection name cannot be an empty string")
    for char in "$\x00":
        if char in collection:
            raise TransferError(f"invalid collection name: illegal character `{char}` found in `{collection}`")


def _batch_limits(hello: dict, batch_size: int | None) -> tuple[int, int]:
    """Most documents and bytes per write command, well inside the server's limits."""
    docs = min(batch_size or BATCH_DOCS, int(hello.get("maxWriteBatchSize", 100_000)))
    return docs, min(BATCH_BYTES, int(hello.get("maxMessageSizeBytes", 48_000_000)) // 2)


def read_field_file(path) -> list[str]:
    """--fieldFile: the column names, one per line (blank lines skipped)."""
    try:
        with open(path, encoding="utf-8") as f:
            names = [line.strip() for line in f if line.strip()]
    except OSError as exc:
        raise TransferError(f"error reading --fieldFile {path}: {exc.strerror or exc}.") from None
    except UnicodeDecodeError as exc:
        raise TransferError(f"error reading --fieldFile {path}: it is not UTF-8 text (byte {exc.start}).") from None
    if not names:
        raise TransferError(f"--fieldFile {path} names no fields: write one field name per line.")
    return names


def _validate(type: str, header_line: bool, fields, mode: str, upsert_fields, workers: int, batch_size,
              field_file=None, ignore_blanks: bool = False) -> None:
    if type not in INPUT_TYPES:
        raise TransferError(f"unknown type {type}: choose json, csv or tsv.")
    if type == "json":
        for given, flag in ((header_line, "--headerline"), (fields, "--fields"), (field_file, "--fieldFile"),
                            (ignore_blanks, "--ignoreBlanks")):
            if given:
                raise TransferError(f"cannot use {flag} when input type is JSON")
    else:
        if field_file is not None and not str(field_file):
            raise TransferError("--fieldFile cannot be empty string")
        if field_file is not None and fields:
            raise TransferError("incompatible options: --fields and --fieldFile")
        if field_file is not None and header_line:
            raise TransferError("incompatible options: --headerline and --fieldFile")
        if field_file is None and not header_line and not split_fields(fields):
            raise TransferError(f"must specify --fields, --fieldFile or --headerline to import this file type ({type}): "
                                "the columns need field names.")
        if header_line and fields:
            raise TransferError("incompatible options: --fields and --headerline")
    if mode and mode not in MODES:
        raise TransferError(f"invalid --mode argument: {mode} (choose insert, upsert, merge or delete)")
    if upsert_fields is not None and mode == "insert":
        raise TransferError("cannot use --upsertFields with --mode=insert: use --mode upsert, merge or delete.")
    if upsert_fields is not None and not upsert_fields:
        raise TransferError("invalid --upsertFields argument: give field names, e.g. --upsertFields email,customer_id")
    if workers < 1:
        raise TransferError("--numInsertionWorkers must be 1 or more.")
    if batch_size is not None and batch_size < 1:
        raise TransferError("--batchSize must be 1 or more (or leave it out: batches are then paced to the collection's other writers).")


def _path_value(doc: dict, path: str):
    """Value at a dotted path, None when missing (so a missing field matches null, as in mongoimport)."""
    value = doc
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def selector_for(doc: dict, fields: list[str]) -> dict | None:
    """The match for upsert / merge / delete; None when the document has none of the fields."""
    selector = {name: _path_value(doc, name) for name in fields}
    if all(value is None for value in selector.values()):
        return None
    return selector


class _Pipeline:
    def __init__(self, coll, mode, upsert_fields, ordered, stop_on_error, workers, report, log, hello, clean, pacer):
        self.clean = clean  # driver errors without any password
        self.coll = coll
        self.mode = mode
        self.upsert_fields = upsert_fields
        self.ordered = ordered
        self.stop_on_error = stop_on_error
        self.workers = workers
        self.report = report
        self.log = log
        self.max_doc = int(hello.get("maxBsonObjectSize", 16 * 1024 * 1024))
        self.pacer = pacer
        self.queue: queue.Queue = queue.Queue(maxsize=BATCHES_IN_FLIGHT)
        self.lock = threading.Lock()
        self.fatal: str | None = None  # set by a writer: stop reading
        self.shown = 0
        self.bar = None
        self.bypass = False  # --bypassDocumentValidation

    # --- reading (this thread) --------------------------------------------------------------

    def run(self, documents) -> None:
        threads = [threading.Thread(target=self._write_loop, name=f"labkit-import-writer-{i}", daemon=True)
                   for i in range(self.workers)]
        for thread in threads:
            thread.start()
        read_error = None
        try:
            self._read(documents)
        except MalformedInput as exc:
            read_error = str(exc)
        finally:
            for _ in threads:
                self._put(None, force=True)
            for thread in threads:
                thread.join()
            self.report.read = documents.count
        if self.shown > ERRORS_SHOWN:
            self.log(f"... {self.shown - ERRORS_SHOWN} more error(s) not shown ({self.report.failed} in all)")
        if read_error or self.fatal:
            raise ImportFailed(read_error or self.fatal, self.report)

    def _read(self, documents) -> None:
        """Parse, encode and batch; on a document that cannot be read, the ones before it still go."""
        self._pending: _Batch | None = None
        try:
            self._read_all(documents)
        finally:
            if self._pending and self._pending.docs and not self.fatal:
                self._put(self._pending)

    def _new_batch(self, first: int) -> _Batch:
        self._pending = _Batch(first, [], None if self.mode == "insert" else [])
        self._pending_bytes = 0
        return self._pending

    def _read_all(self, documents) -> None:
        encode = bson.encode
        insert_only = self.mode == "insert"
        batch = self._new_batch(1)
        number = 0
        for doc in documents:
            if self.fatal:
                return
            number += 1
            selector = None if insert_only else selector_for(doc, self.upsert_fields)
            if (insert_only or (selector is None and self.mode != "delete")) and "_id" not in doc:
                doc["_id"] = ObjectId()  # as the driver does on insert; BSON puts _id first
            try:
                data = encode(doc)
            except Exception as exc:  # e.g. an integer beyond 64 bits
                raise MalformedInput(f"error processing document #{number}{_where(documents)}: "
                                     f"cannot store it as BSON: {exc}") from None
            if len(data) > self.max_doc:
                raise MalformedInput(
                    f"document #{number}{_where(documents)} is {len(data) / 1048576:.1f} MB as BSON, over the "
                    f"server's limit of {self.max_doc / 1048576:.0f} MB for one document (maxBsonObjectSize); "
                    "split it or store the large part elsewhere (e.g. GridFS)."
                )
            most_docs, most_bytes = self.pacer.limits()
            if batch.docs and (self._pending_bytes + len(data) > most_bytes or len(batch.docs) >= most_docs):
                self._put(batch)
                batch = self._new_batch(number)
            batch.docs.append(RawBSONDocument(data))
            if batch.selectors is not None:
                batch.selectors.append(selector)
            self._pending_bytes += len(data)

    def _put(self, item, force: bool = False) -> None:
        while True:
            if self.fatal and not force:
                return
            try:
                self.queue.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    # --- writing (writer threads) -----------------------------------------------------------

    def _write_loop(self) -> None:
        while True:
            batch = self.queue.get()
            if batch is None:
                return
            if self.fatal:
                continue  # drain: another writer stopped the import
            try:
                self.pacer.sending()
                started = time.perf_counter()
                try:
                    self._write(batch)
                finally:
                    self.pacer.sent(len(batch.docs), time.perf_counter() - started)
            except BulkWriteError as exc:
                self._bulk_error(batch, exc)
            except PyMongoError as exc:
                self._stop(self.clean(exc))
            except Exception as exc:  # never leave the reader waiting on a dead writer
                self._stop(f"{type(exc).__name__}: {exc}")

    def _write(self, batch: _Batch) -> None:
        if self.mode == "insert":
            self.coll.insert_many(batch.docs, ordered=self.ordered, bypass_document_validation=self.bypass)
            self._count(len(batch.docs), len(batch.docs))
            return
        ops, _ = self._operations(batch)
        if not ops:
            self._count(0, len(batch.docs))
            return
        result = self.coll.bulk_write(ops, ordered=True, bypass_document_validation=self.bypass)
        self._count(result.inserted_count + result.modified_count + result.upserted_count + result.deleted_count,
                    len(batch.docs))

    def _operations(self, batch: _Batch):
        """Write operations and, for each, the number of its document in the input."""
        ops, numbers = [], []
        for offset, (doc, selector) in enumerate(zip(batch.docs, batch.selectors)):
            if selector is None:
                if self.mode == "delete":
                    continue  # nothing to match on: mongoimport skips it
                ops.append(InsertOne(doc))
            elif self.mode == "upsert":
                ops.append(ReplaceOne(selector, doc, upsert=True))
            elif self.mode == "merge":
                ops.append(UpdateOne(selector, {"$set": doc}, upsert=True))
            else:
                ops.append(DeleteOne(selector))
            numbers.append(batch.first + offset)
        return ops, numbers

    def _count(self, done: int, docs: int) -> None:
        with self.lock:
            self.report.imported += done
        if self.bar is not None:
            self.bar.update(docs)

    def _bulk_error(self, batch: _Batch, exc: BulkWriteError) -> None:
        details = exc.details or {}
        done = sum(int(details.get(key, 0)) for key in ("nInserted", "nModified", "nUpserted", "nRemoved"))
        errors = details.get("writeErrors", [])
        numbers = (list(range(batch.first, batch.first + len(batch.docs))) if self.mode == "insert"
                   else self._operations(batch)[1])
        with self.lock:
            self.report.imported += done
            self.report.failed += len(errors)
            for error in errors:
                index = error.get("index", 0)
                entry = {"document": numbers[index] if index < len(numbers) else None,
                         "code": error.get("code"), "reason": error.get("errmsg", "")}
                if len(self.report.errors) < ERRORS_KEPT:
                    self.report.errors.append(entry)
        if self.bar is not None:
            self.bar.update(len(batch.docs))
        if details.get("writeConcernErrors"):
            self._stop(f"write concern error: {details['writeConcernErrors'][0].get('errmsg')}")
            return
        if self.stop_on_error and errors:
            self._stop(errors[0].get("errmsg", "write error"))
            return
        for error in errors:
            with self.lock:
                self.shown += 1
                show = self.shown <= ERRORS_SHOWN
            if show:
                self.log(f"continuing through error: {error.get('errmsg', '')}")

    def _stop(self, reason: str) -> None:
        with self.lock:
            if self.fatal is None:
                self.fatal = reason


def _where(documents) -> str:
    position = getattr(documents, "last_position", None)
    if position is None:
        return ""
    line, column = position()
    return f" (line {line}, column {column})"

