"""Reading import input as a stream: UTF-8 text, then JSON documents or CSV/TSV rows.

Nothing holds more than a chunk (plus the document being read) in memory, so
a file of any size imports in constant memory. JSON input may be one document
per line (mongoexport's default), pretty-printed across lines, several on a
line, or a ``--jsonArray`` array; errors name the document number, the line,
the column and the text near it.
"""
from __future__ import annotations

import codecs
import csv
import json
import os
import re
import sys
from dataclasses import dataclass
from typing import IO, Iterator

from labkit.errors import TransferError
from labkit.ejson import DECODER

CHUNK_CHARS = 1 << 20
_SPACE = re.compile(r"[ \t\n\r]*")
_INT = re.compile(r"[+-]?\d+")
_FLOAT_CHARS = re.compile(r"[+-]?(\d+\.?\d*([eE][+-]?\d+)?|\.\d+([eE][+-]?\d+)?|inf|infinity|nan)", re.IGNORECASE)
INT32_MIN, INT32_MAX = -(2 ** 31), 2 ** 31 - 1
INT64_MIN, INT64_MAX = -(2 ** 63), 2 ** 63 - 1


class MalformedInput(TransferError):
    """A document or row that cannot be read; stops the import (mongoimport does the same)."""


@dataclass
class Opened:
    stream: IO  # binary or text
    name: str
    size: int | None  # bytes, when known
    close: bool


def open_input(file) -> Opened:
    """A path, a file object (binary or text), or None for stdin."""
    if file is None or file == "-":
        stream = getattr(sys.stdin, "buffer", sys.stdin)
        return Opened(stream, "stdin", None, False)
    if isinstance(file, (str, os.PathLike)):
        path = os.fspath(file)
        try:
            stream = open(path, "rb")
        except FileNotFoundError:
            raise TransferError(f"open {path}: no such file or directory. Check the path given to --file.") from None
        except IsADirectoryError:
            raise TransferError(f"open {path}: is a directory, not a file.") from None
        except OSError as exc:
            raise TransferError(f"open {path}: {exc.strerror or exc}.") from None
        return Opened(stream, path, os.fstat(stream.fileno()).st_size, True)
    if hasattr(file, "read"):
        return Opened(file, getattr(file, "name", "input") if isinstance(getattr(file, "name", None), str) else "input",
                      None, False)
    raise TransferError(f"Cannot read from {file!r}: give a path, a file object or None for stdin.")


class TextSource:
    """UTF-8 text in chunks, with the number of bytes consumed (for progress) and clear decode errors."""

    def __init__(self, opened: Opened):
        self.opened = opened
        self.bytes_read = 0
        self.lines_before = 0  # newlines in text already handed out (for error positions)
        self._decoder = codecs.getincrementaldecoder("utf-8-sig")("strict")  # -sig drops a BOM, as mongoimport does

    def read(self, size: int = CHUNK_CHARS) -> str:
        """Next chunk of text; '' at the end."""
        data = self.opened.stream.read(size)
        if isinstance(data, str):
            if data.startswith("\ufeff") and self.bytes_read == 0:
                data = data[1:]
            self.bytes_read += len(data)
            return data
        final = not data
        self.bytes_read += len(data)
        try:
            text = self._decoder.decode(data, final)
        except UnicodeDecodeError as exc:
            before = data[: max(exc.start, 0)]
            line = self.lines_before + 1 + before.count(b"\n")
            raise MalformedInput(
                f"{self.opened.name} is not UTF-8 text: byte 0x{data[exc.start]:02x} on line {line} "
                f"cannot be decoded. Import files must be UTF-8; convert it first, e.g. iconv -f latin1 -t utf-8."
            ) from None
        if final or text:
            return text
        return self.read(size)  # the chunk ended inside a multi-byte character: read on

    def lines(self) -> Iterator[str]:
        rest = ""
        while True:
            chunk = self.read()
            if not chunk:
                if rest:
                    yield rest
                return
            parts = (rest + chunk).splitlines(keepends=True)
            rest = parts.pop() if parts and not parts[-1].endswith(("\n", "\r")) else ""
            yield from parts


class JSONDocuments:
    """Iterate the documents of JSON input; ``count`` is the number handed out so far."""

    def __init__(self, source: TextSource, json_array: bool = False):
        self.source = source
        self.json_array = json_array
        self.count = 0
        self._buf = ""
        self._pos = 0
        self._line_base = 1  # line number of self._buf[0]
        self._eof = False
        self._start = 0  # where the last document handed out began

    def last_position(self) -> tuple[int, int]:
        """(line, column) where the last document handed out began."""
        return self._where(self._start)

    # --- buffer handling ----------------------------------------------------------------------

    def _more(self) -> bool:
        """Append the next chunk (never moves positions); False at the end of input."""
        if self._eof:
            return False
        chunk = self.source.read(max(CHUNK_CHARS, len(self._buf) - self._pos))
        if not chunk:
            self._eof = True
            return False
        self._buf += chunk
        return True

    def _compact(self) -> None:
        """Drop text already read (only between documents, so no position is in use)."""
        if self._pos >= CHUNK_CHARS // 2 or self._pos == len(self._buf):
            dropped = self._buf[: self._pos]
            self._line_base += dropped.count("\n")
            self._buf = self._buf[self._pos:]
            self._pos = 0

    def _skip_space(self) -> str:
        """Move past whitespace; return the next character ('' at the end of input)."""
        while True:
            self._pos = _SPACE.match(self._buf, self._pos).end()
            if self._pos < len(self._buf):
                return self._buf[self._pos]
            self._compact()
            if not self._more():
                return ""

    def _where(self, pos: int) -> tuple[int, int]:
        line = self._line_base + self._buf.count("\n", 0, pos)
        column = pos - (self._buf.rfind("\n", 0, pos) + 1) + 1
        return line, column

    def _fail(self, pos: int, reason: str) -> MalformedInput:
        line, column = self._where(pos)
        start = self._buf.rfind("\n", 0, pos) + 1
        near = self._buf[max(start, pos - 30): pos + 30].split("\n")[0]
        return MalformedInput(
            f"error processing document #{self.count + 1} (line {line}, column {column}): {reason}, near {near!r}"
        )

    # --- documents ----------------------------------------------------------------------------

    def _decode(self) -> dict:
        self._compact()
        start = self._pos
        last = None
        while True:
            try:
                value, end = DECODER.raw_decode(self._buf, start)
                break
            except json.JSONDecodeError as exc:
                # Either the document is malformed, or the chunk ended inside it. An error at the
                # end of the text read so far (or a string still open there) may be the chunk's
                # end: read more and retry; the same error at the same place again is real.
                unterminated = exc.msg.startswith("Unterminated string")
                at_end = unterminated or exc.pos >= len(self._buf) - 8
                if not at_end or (not unterminated and (exc.msg, exc.pos) == last) or not self._more():
                    raise self._fail(exc.pos, exc.msg) from None
                last = (exc.msg, exc.pos)
            except Exception as exc:  # a wrapper json_util rejects, e.g. {"$oid": "not hex"}
                raise self._fail(start, f"{type(exc).__name__}: {exc}") from None
        if not isinstance(value, dict):
            raise self._fail(start, f"expected a document (a JSON object), found {type(value).__name__}")
        self._start = start
        self._pos = end
        return value

    def __iter__(self) -> Iterator[dict]:
        if self.json_array:
            yield from self._array()
            return
        while True:
            char = self._skip_space()
            if not char:
                return
            if char == "[" and self.count == 0:
                raise self._fail(self._pos, "the input is a JSON array; import it with --jsonArray")
            doc = self._decode()
            self.count += 1
            yield doc

    def _array(self) -> Iterator[dict]:
        char = self._skip_space()
        if not char:
            return  # an empty file: nothing to import
        if char != "[":
            raise self._fail(self._pos, "bad JSON array format - found no opening bracket '[' in input source")
        self._pos += 1
        expect_value = True
        while True:
            char = self._skip_space()
            if not char:
                raise self._fail(self._pos, "bad JSON array format - found no closing bracket ']' in input source")
            if char == "]" and (self.count == 0 or not expect_value):
                self._pos += 1
                trailing = self._skip_space()
                if trailing:
                    raise self._fail(self._pos, f"bad JSON array format - found {trailing!r} after ']' in input source")
                return
            if expect_value:
                doc = self._decode()
                self.count += 1
                expect_value = False
                yield doc
            elif char == ",":
                self._pos += 1
                expect_value = True
            else:
                raise self._fail(self._pos, f"bad JSON array format - found {char!r} outside JSON object/array")


# --- CSV and TSV --------------------------------------------------------------------------------


def auto_value(text: str):
    """mongoimport's autodetection: int32, then int64, then double, else the string itself."""
    if _INT.fullmatch(text):
        number = int(text)
        if INT64_MIN <= number <= INT64_MAX:
            return number  # BSON encodes it as int32 when it fits, else int64
    if _FLOAT_CHARS.fullmatch(text):
        return float(text)
    return text


def _set_path(doc: dict, field: str, value) -> None:
    parts = field.split(".")
    for part in parts[:-1]:
        child = doc.get(part)
        if not isinstance(child, dict):
            child = doc[part] = {}
        doc = child
    doc[parts[-1]] = value


class DelimitedDocuments:
    """CSV or TSV rows as documents (field names from --fields or the header line)."""

    def __init__(self, source: TextSource, kind: str, fields: list[str] | None, header_line: bool,
                 ignore_blanks: bool = False):
        self.source = source
        self.kind = kind
        self.fields = fields
        self.header_line = header_line
        self.ignore_blanks = ignore_blanks  # --ignoreBlanks: an empty value adds no field
        self.count = 0

    def _rows(self) -> Iterator[tuple[int, list[str]]]:
        if self.kind == "csv":
            reader = csv.reader(self.source.lines(), strict=True)
            try:
                for row in reader:
                    yield reader.line_num, row
            except csv.Error as exc:
                raise MalformedInput(f"error reading CSV line {reader.line_num}: {exc}") from None
        else:
            for number, line in enumerate(self.source.lines(), 1):
                yield number, line.rstrip("\r\n").split("\t")

    def __iter__(self) -> Iterator[dict]:
        fields = self.fields
        for line, row in self._rows():
            if fields is None:
                fields = [name.strip() for name in row]
                if not all(fields):
                    raise MalformedInput(f"the header line (line {line}) has an empty field name: {row!r}")
                continue
            if not row or row == [""]:
                continue  # blank line
            doc: dict = {}
            for index, text in enumerate(row):
                if self.ignore_blanks and text == "":
                    continue
                name = fields[index] if index < len(fields) else f"field{index}"
                _set_path(doc, name, auto_value(text))
            self.count += 1
            yield doc

