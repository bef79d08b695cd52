"""Reading import input as a stream: UTF-8 text, then JSON documents or CSV/TSV rows.

Nothing holds more than a chunk (plus the document being read) in memory, so
a file of any size imports in constant memory. JSON input may be one document
per line (mongoexport's default), pretty-printed across lines, several on a
line, or a ``--jsonArray`` array; errors name the document number, the line,
the column and the text near it.
"""
from __future__ import annotations

import codecs
import json
import os
import re
import sys
from dataclasses import dataclass
from typing import IO, Iterator

from labkit.errors import TransferError
from labkit.ejson import DECODER
from labkit.transfer.query import LegacySyntax, legacy_raw_decode
from labkit.transfer.typed import ColumnSpec, CoercionFailed, auto_parse, parse_typed_headers, quote

CHUNK_CHARS = 1 << 20
_SPACE = re.compile(r"[ \t\n\r]*")
_INT = re.compile(r"[+-]?\d+")
_FLOAT_CHARS = re.compile(r"[+-]?(\d+\.?\d*([eE][+-]?\d+)?|\.\d+([eE][+-]?\d+)?|inf|infinity|nan)", re.IGNORECASE)
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


def _legacy_raw_decode(text: str, pos: int):
    try:
        return legacy_raw_decode(text, pos)
    except LegacySyntax as exc:  # as the strict decoder's errors, so a document cut by a chunk's end reads on
        raise json.JSONDecodeError(str(exc), text, exc.pos) from None


class JSONDocuments:
    """Iterate the documents of JSON input; ``count`` is the number handed out so far."""

    def __init__(self, source: TextSource, json_array: bool = False, legacy: bool = False):
        self.source = source
        self.json_array = json_array
        self._raw_decode = _legacy_raw_decode if legacy else DECODER.raw_decode  # --legacy: the shell dialect
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
                value, end = self._raw_decode(self._buf, start)
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


# --- field names (mongoimport/common.go: validateFields) ------------------------------------------


def split_inline_fields(text: str) -> list[str]:
    """--fields as mongoimport splits it: on commas outside parentheses, spaces kept as given."""
    names, level, current = [], 0, []
    for char in text:
        if char == "(":
            level += 1
        elif char == ")" and level > 0:
            level -= 1
        if char == "," and level == 0:
            names.append("".join(current))
            current = []
        else:
            current.append(char)
    names.append("".join(current))
    return names


def _first_leaf(value) -> str:
    if isinstance(value, dict) and value:
        key, child = next(iter(value.items()))
        return "." + key + _first_leaf(child)
    if isinstance(value, list) and value:
        return ".0" + _first_leaf(value[0])
    return ""


def is_index(part: str) -> bool:
    """mongoimport's isNatNum: an array index is 0 or digits without a leading zero (no sign)."""
    return part.isascii() and part.isdigit() and (part == "0" or part[0] != "0")


def _incompatible(field: str, prefix: str, existing) -> TransferError:
    return TransferError(f"fields `{prefix}{_first_leaf(existing)}` and `{field}` are incompatible")


def _index_error(field: str) -> TransferError:
    return TransferError(f"array index error with field `{field}`: array indexes in fields must start from 0 and "
                         "increase sequentially")


def _add_to_tree(parts: list[str], field: str, prefix: str, tree: dict, arrays: bool) -> None:
    head, tail = parts[0], parts[1:]
    prefix = f"{prefix}.{head}" if prefix else head
    exists = head in tree
    existing = tree.get(head)
    if not tail:
        if exists:
            if existing is True:
                raise TransferError(f"fields cannot be identical: `{field}` and `{field}`")
            raise _incompatible(field, prefix, existing)
        tree[head] = True
        return
    if arrays and is_index(tail[0]):
        if exists and not isinstance(existing, list):
            raise _incompatible(field, prefix, existing)
        tree[head] = _add_to_array(tail, field, prefix, existing if exists else [])
    else:
        if exists and not isinstance(existing, dict):
            raise _incompatible(field, prefix, existing)
        subtree = existing if exists else {}
        _add_to_tree(tail, field, prefix, subtree, arrays)
        tree[head] = subtree


def _add_to_array(parts: list[str], field: str, prefix: str, array: list) -> list:
    head, tail = parts[0], parts[1:]
    prefix = f"{prefix}.{head}"
    index = int(head)
    if not tail:
        if index != len(array):
            raise _index_error(field)
        array.append(True)
        return array
    if index > len(array):
        raise _index_error(field)
    present = index < len(array)
    if is_index(tail[0]):
        if present and not isinstance(array[index], list):
            raise _incompatible(field, prefix, array[index])
        sub = _add_to_array(tail, field, prefix, array[index] if present else [])
    else:
        if present and not isinstance(array[index], dict):
            raise _incompatible(field, prefix, array[index])
        sub = array[index] if present else {}
        _add_to_tree(tail, field, prefix, sub, True)
    if present:
        array[index] = sub
    else:
        array.append(sub)
    return array


def validate_field_names(names: list[str], use_array_index_fields: bool = False) -> None:
    """Refuse the field names mongoimport refuses (before anything is read or written), with its reason.

    With ``use_array_index_fields`` (--useArrayIndexFields), numeric parts are array indexes, which must
    start from 0 and increase one by one (``a.0,a.1``; ``a.0.x,a.1.x``)."""
    for name in names:
        if name.endswith("."):
            raise TransferError(f"field `{name}` cannot end with a '.'")
        if name.startswith("."):
            raise TransferError(f"field `{name}` cannot start with a '.'")
        if name.startswith("$"):
            raise TransferError(f"field `{name}` cannot start with a '$'")
        if ".." in name:
            raise TransferError(f"field `{name}` cannot contain consecutive '.' characters")
    tree: dict = {}
    for name in names:
        _add_to_tree(name.split("."), name, "", tree, use_array_index_fields)


def set_indexed_path(doc: dict, parts: list[str], value) -> None:
    """mongoimport's setNestedDocumentValue with --useArrayIndexFields: numeric parts (after the first) build
    arrays, whose elements must come in order; ValueError when the row cannot be built that way."""
    if len(parts) == 1:
        doc[parts[0]] = value
        return
    head = parts[0]
    if is_index(parts[1]):
        child = doc.get(head)
        if child is None:
            child = doc[head] = []
        elif not isinstance(child, list):
            raise ValueError(f"Expected document element to be an array, but element has already been set as a "
                             f"document or other value: {child!r}")
        _set_indexed_array(child, parts[1:], value)
    else:
        child = doc.get(head)
        if child is None:
            child = doc[head] = {}
        elif not isinstance(child, dict):
            raise ValueError(f"Expected document element to be an document, but element has already been set as "
                             f"another value: {child!r}")
        set_indexed_path(child, parts[1:], value)


def _set_indexed_array(array: list, parts: list[str], value) -> None:
    index = int(parts[0])
    if len(parts) == 1:
        if index != len(array):
            raise ValueError(f"Trying to add value to array at index {index}, but array is {len(array)} elements "
                             "long. Array indices in fields must start from 0 and increase sequentially")
        array.append(value)
        return
    present = index < len(array)
    if is_index(parts[1]):
        if present and not isinstance(array[index], list):
            raise ValueError(f"Expected array element to be a sub-array, but element has already been set as a "
                             f"document or other value: {array[index]!r}")
        if not present:
            array.append([])  # Go appends, whatever the index: the field check keeps indexes in order
        _set_indexed_array(array[index if present else -1], parts[1:], value)
    else:
        if present and not isinstance(array[index], dict):
            raise ValueError(f"Expected array element to be a document, but element has already been set as "
                             f"another value: {array[index]!r}")
        if not present:
            array.append({})
        set_indexed_path(array[index if present else -1], parts[1:], value)


def _set_path(doc: dict, field: str, value) -> None:
    parts = field.split(".")
    for part in parts[:-1]:
        child = doc.get(part)
        if not isinstance(child, dict):
            child = doc[part] = {}
        doc = child
    doc[parts[-1]] = value


class CSVSyntaxError(Exception):
    def __init__(self, line: int, column: int, reason: str):
        super().__init__(f"line {line}, column {column}: {reason}")


_BARE_QUOTE = 'bare " in non-quoted-field'
_QUOTE = 'extraneous " in field'


def _text_lines(source: TextSource) -> Iterator[str]:
    """Lines ending at "\n" only ("\r\n" read as "\n", a lone "\r" kept), as Go's CSV reader reads them."""
    rest = ""
    while True:
        chunk = source.read()
        if not chunk:
            if rest:
                yield rest
            return
        parts = (rest + chunk).split("\n")
        rest = parts.pop()
        for part in parts:
            yield (part[:-1] if part.endswith("\r") else part) + "\n"


def csv_records(lines: Iterator[str]) -> Iterator[tuple[int, list[str]]]:
    """(line number, fields) of each record, as mongoimport's CSV reader (TrimLeadingSpace) reads them.

    Unquoted fields lose leading and trailing white space, quoted ones keep theirs; a quote
    inside an unquoted field, text after a closing quote, or an unclosed quote is an error
    naming the line and column (0-based, in characters), in mongoimport's words."""
    number = 0
    lines = iter(lines)
    for line in lines:
        number += 1
        if '"' not in line:
            body = line[:-1] if line.endswith("\n") else line
            if body:
                yield number, [field.strip() for field in body.split(",")]
            continue
        first = number
        fields, number = _quoted_record(line, lines, number)
        if fields is not None:
            yield first, fields


def _quoted_record(line: str, lines: Iterator[str], number: int) -> tuple[list[str] | None, int]:
    """Go's csv.Reader.parseRecord, character by character, for a record holding a quote."""
    text, pos, column = line, 0, -1
    fields: list[str] = []

    def read():
        nonlocal pos, column
        if pos >= len(text):
            return None
        char = text[pos]
        pos += 1
        column += 1
        return char

    def more() -> bool:  # a quoted field goes on past the end of the line
        nonlocal text, pos
        nxt = next(lines, None)
        if nxt is None:
            return False
        text, pos = nxt, 0
        return True

    while True:
        field: list[str] = []
        char = read()
        while char is not None and char != "\n" and char.isspace():
            char = read()
        if char is None:
            fields.append("")
            return fields, number
        if char == ",":
            fields.append("")
            continue
        if char == "\n":
            if column == 0:
                return None, number  # an empty line: no record
            fields.append("")
            return fields, number
        if char == '"':
            while True:
                char = read()
                if char is None:
                    raise CSVSyntaxError(number, column, _QUOTE)
                if char == '"':
                    char = read()
                    if char is not None and char != "\n" and char.isspace():
                        while char is not None and char != "\n" and char.isspace():
                            char = read()
                        if char == '"':
                            raise CSVSyntaxError(number, column - 1, _QUOTE)
                    if char is None or char == ",":
                        break
                    if char == "\n":
                        fields.append("".join(field))
                        return fields, number
                    if char != '"':
                        raise CSVSyntaxError(number, column - 1, _QUOTE)
                    field.append('"')
                elif char == "\n":
                    field.append("\n")
                    if not more():
                        raise CSVSyntaxError(number, column, _QUOTE)
                    number += 1
                    column = -1
                else:
                    field.append(char)
            fields.append("".join(field))
            if char is None:
                return fields, number
            continue
        spaces: list[str] = []
        while True:
            if char.isspace():
                spaces.append(char)
            else:
                if spaces:
                    field.extend(spaces)
                    spaces = []
                field.append(char)
            char = read()
            if char is None or char == ",":
                break
            if char == "\n":
                fields.append("".join(field))
                return fields, number
            if char == '"':
                raise CSVSyntaxError(number, column, _BARE_QUOTE)
        fields.append("".join(field))
        if char is None:
            return fields, number


def _tsv_records(source: TextSource) -> Iterator[tuple[int, list[str]]]:
    for number, line in enumerate(_text_lines(source), 1):
        body = line.rstrip("\r\n")
        if body:  # mongoimport would store {first_field: ""} for a blank line: skipped, see README
            yield number, body.split("\t")


class DelimitedDocuments:
    """CSV or TSV rows as documents (field names from --fields or the header line), as mongoimport reads them."""

    def __init__(self, source: TextSource, kind: str, fields: list[str] | None, header_line: bool,
                 ignore_blanks: bool = False, columns_have_types: bool = False, parse_grace: str = "stop",
                 log=None, rejects=None, use_array_index_fields: bool = False):
        self.source = source
        self.kind = kind
        self.header_line = header_line
        self.ignore_blanks = ignore_blanks  # --ignoreBlanks: an empty value adds no field
        self.columns_have_types = columns_have_types  # --columnsHaveTypes: fields are name.type(arg)
        self.parse_grace = parse_grace  # --parseGrace: what a value that is not of its column's type does
        self.log = log or (lambda message: None)
        self.rejects = rejects  # skipRow: where skipped rows are written (stdout, as mongoimport)
        self.use_array_index_fields = use_array_index_fields  # --useArrayIndexFields: a.0,a.1 build arrays
        self.specs = None
        self.count = 0
        self._records = csv_records(_text_lines(source)) if kind == "csv" else _tsv_records(source)
        self.fields = None
        if fields is not None:
            self._set_fields(fields)

    def _set_fields(self, fields: list[str]) -> None:
        if self.columns_have_types:
            self.specs = parse_typed_headers(fields)
            fields = [spec.name for spec in self.specs]
        elif self.use_array_index_fields:
            self.specs = [ColumnSpec(name, "auto", auto_parse) for name in fields]  # the row-by-row path below
        validate_field_names(fields, self.use_array_index_fields)
        self.fields = fields

    def _next_record(self):
        try:
            return next(self._records, None)
        except CSVSyntaxError as exc:
            raise MalformedInput(f"read error on entry #{self.count + 1}: {exc}") from None

    def read_header(self) -> list[str]:
        """--headerline: read and check the field names now (an empty input is an error, as in mongoimport)."""
        if self.fields is None:
            record = self._next_record()
            if record is None:
                raise MalformedInput(f"EOF: {self.source.opened.name} is empty, so it has no header line "
                                     "with the field names (--headerline)")
            self._set_fields(record[1])
        return self.fields

    def __iter__(self) -> Iterator[dict]:
        fields = self.read_header()
        if self.specs is not None:
            yield from self._typed()
            return
        names = set(fields)
        while True:
            record = self._next_record()
            if record is None:
                return
            line, row = record
            doc: dict = {}
            for index, text in enumerate(row):
                if self.ignore_blanks and text == "":
                    continue
                if index < len(fields):
                    name = fields[index]
                else:
                    name = f"field{index}"
                    if name in names:
                        raise MalformedInput(f"duplicate field name - on {name} - for token #{index + 1} "
                                             f"(`{text}`) in document #{self.count + 1} (line {line})")
                value = auto_value(text)
                if "." in name:
                    _set_path(doc, name, value)
                else:
                    doc[name] = value
            self.count += 1
            yield doc

    def _typed(self) -> Iterator[dict]:
        """Rows of typed columns (mongoimport's tokensToBSON with --columnsHaveTypes and --parseGrace), and
        rows whose field names hold array indexes (--useArrayIndexFields)."""
        specs, grace, names = self.specs, self.parse_grace, set(self.fields)
        indexed = self.use_array_index_fields
        rows = 0
        while True:
            record = self._next_record()
            if record is None:
                return
            line, row = record
            rows += 1
            doc: dict | None = {}
            for index, text in enumerate(row):
                if self.ignore_blanks and text == "":
                    continue
                if index < len(specs):
                    spec = specs[index]
                    try:
                        value = spec.parse(text)
                    except CoercionFailed:
                        if grace == "autoCast":
                            value = auto_parse(text)
                        elif grace == "skipField":
                            continue
                        elif grace == "skipRow":
                            self._reject(row, rows, line)
                            doc = None
                            break
                        else:
                            raise MalformedInput(
                                f"type coercion failure in document #{rows} for column {quote(spec.name)}, "
                                f"could not parse token {quote(text)} to type {spec.type_name} (line {line})"
                            ) from None
                    if len(spec.parts) > 1:
                        if indexed:
                            try:
                                set_indexed_path(doc, spec.parts, value)
                            except ValueError as exc:
                                raise MalformedInput(f"can't set value for key {quote(spec.name)}: {exc} "
                                                     f"(document #{rows}, line {line})") from None
                        else:
                            _set_path(doc, spec.name, value)
                    else:
                        doc[spec.name] = value
                else:
                    name = f"field{index}"
                    if name in names:
                        raise MalformedInput(f"duplicate field name - on {name} - for token #{index + 1} "
                                             f"(`{text}`) in document #{rows} (line {line})")
                    doc[name] = auto_parse(text)
            if doc is None:
                continue
            self.count += 1
            yield doc

    def _reject(self, row: list[str], number: int, line: int) -> None:
        """skipRow: log the row and write it to the rejects stream (stdout), as mongoimport does."""
        self.log(f"skipping row #{number} (line {line}): [{' '.join(row)}]")
        if self.rejects is not None:
            text = "\t".join(row) if self.kind == "tsv" else ",".join(_csv_cell(cell) for cell in row)
            self.rejects.write(text + "\n")
            self.rejects.flush()


def _csv_cell(cell: str) -> str:
    """A cell as Go's encoding/csv Writer writes it (quoted when it must be)."""
    if cell == "":
        return cell
    if cell == "\\." or any(ch in cell for ch in ',"\r\n') or cell[0].isspace():
        return '"' + cell.replace('"', '""') + '"'
    return cell
