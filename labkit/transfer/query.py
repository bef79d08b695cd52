"""--query, --queryFile and --sort values: what mongoexport accepts, as a filter or sort document.

Strict Extended JSON is read by ``labkit.ejson``; anything else goes through a small parser of
the mongo-tools JSON dialect (mongo-tools/common/json): unquoted keys, single-quoted strings,
shell-style constructors (``ObjectId("...")``, ``ISODate("...")``, ``new Date(0)``,
``NumberLong(5)``, ``NumberInt(5)``, ``NumberDecimal("1.5")``, ``Timestamp(1, 2)``,
``BinData(0, "...")``, ``MinKey``, ``MaxKey``, ``/regex/flags``), then the same Extended JSON
wrappers as strict input.
"""
from __future__ import annotations

import base64
import json
import re

from bson import Binary, Code, Decimal128, Int64, MaxKey, MinKey, ObjectId, Regex, Timestamp

from labkit.ejson import DECODER, object_hook
from labkit.errors import TransferError

_NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?|-?Infinity|NaN")
_NAME = re.compile(r"[A-Za-z_$][A-Za-z0-9_$.]*")
_SPACE = re.compile(r"\s*")


class _Syntax(Exception):
    def __init__(self, pos: int, message: str):
        super().__init__(message)
        self.pos = pos


class _Parser:
    def __init__(self, text: str, hook=object_hook):
        self.text = text
        self.pos = 0
        self.hook = hook  # wrappers such as {"$oid": ...} into BSON values

    def space(self) -> str:
        self.pos = _SPACE.match(self.text, self.pos).end()
        return self.text[self.pos: self.pos + 1]

    def expect(self, char: str) -> None:
        if self.space() != char:
            found = self.text[self.pos: self.pos + 1] or "end of input"
            raise _Syntax(self.pos, f"expected {char!r}, found {found!r}")
        self.pos += 1

    def document(self):
        value = self.value()
        if self.space():
            raise _Syntax(self.pos, f"unexpected {self.text[self.pos]!r} after the document")
        return value

    def value(self):
        char = self.space()
        if char == "{":
            return self.object()
        if char == "[":
            self.pos += 1
            items = []
            if self.space() == "]":
                self.pos += 1
                return items
            while True:
                items.append(self.value())
                if self.space() == ",":
                    self.pos += 1
                    continue
                self.expect("]")
                return items
        if char and char in "\"'":
            return self.string()
        if char == "/":
            return self.regex()
        number = _NUMBER.match(self.text, self.pos)
        if number and number.group():
            self.pos = number.end()
            text = number.group()
            if re.fullmatch(r"-?\d+", text):
                value = int(text)
                return value if -(2**31) <= value < 2**31 else Int64(value)
            return float(text)
        name = _NAME.match(self.text, self.pos)
        if not name:
            raise _Syntax(self.pos, f"invalid character {char!r} looking for beginning of value" if char
                          else "unexpected end of input")
        self.pos = name.end()
        word = name.group()
        if word == "new":
            self.space()
            word_match = _NAME.match(self.text, self.pos)
            if not word_match:
                raise _Syntax(self.pos, "expected a constructor after 'new'")
            self.pos = word_match.end()
            word = word_match.group()
        literal = {"true": True, "false": False, "null": None, "undefined": None, "MinKey": MinKey(),
                   "MaxKey": MaxKey()}
        if word in literal and self.space() != "(":
            return literal[word]
        return self.constructor(word)

    def arguments(self) -> list:
        self.expect("(")
        args = []
        if self.space() == ")":
            self.pos += 1
            return args
        while True:
            args.append(self.value())
            if self.space() == ",":
                self.pos += 1
                continue
            self.expect(")")
            return args

    def constructor(self, word: str):
        start = self.pos
        args = self.arguments()
        try:
            if word == "ObjectId":
                return ObjectId(*args)
            if word in ("ISODate", "Date"):
                if not args:
                    raise ValueError("a date needs a value")
                arg = args[0]
                return self.hook({"$date": arg if isinstance(arg, str) else Int64(int(arg))})
            if word == "NumberLong":
                return Int64(int(args[0]))
            if word == "NumberInt":
                return int(args[0])
            if word == "NumberDecimal":
                return Decimal128(str(args[0]))
            if word == "Timestamp":
                return Timestamp(int(args[0]), int(args[1]))
            if word == "BinData":
                return Binary(base64.b64decode(args[1]), int(args[0]))
            if word in ("MinKey", "MaxKey"):
                return MinKey() if word == "MinKey" else MaxKey()
            if word == "RegExp":
                return Regex(args[0], args[1] if len(args) > 1 else "")
        except Exception as exc:
            raise _Syntax(start, f"invalid {word}(...): {exc}") from None
        raise _Syntax(start, f"unknown constructor {word}(...)")

    def string(self) -> str:
        quote = self.text[self.pos]
        if quote == '"':
            try:
                value, self.pos = json.decoder.scanstring(self.text, self.pos + 1)
            except json.JSONDecodeError as exc:
                raise _Syntax(exc.pos, exc.msg) from None
            return value
        end = self.pos + 1
        out = []
        while end < len(self.text) and self.text[end] != "'":
            if self.text[end] == "\\" and end + 1 < len(self.text):
                end += 1
            out.append(self.text[end])
            end += 1
        if end >= len(self.text):
            raise _Syntax(self.pos, "Unterminated string")
        self.pos = end + 1
        return "".join(out)

    def regex(self) -> Regex:
        match = re.compile(r"/((?:\\.|[^/\\])*)/([a-z]*)").match(self.text, self.pos)
        if not match:
            raise _Syntax(self.pos, "unterminated regular expression")
        self.pos = match.end()
        return Regex(match.group(1), match.group(2))

    def object(self) -> dict:
        self.pos += 1
        doc: dict = {}
        if self.space() == "}":
            self.pos += 1
            return self.hook(doc)
        while True:
            char = self.space()
            if char and char in "\"'":
                key = self.string()
            else:
                name = _NAME.match(self.text, self.pos)
                if not name:
                    raise _Syntax(self.pos, f"invalid character {char!r} looking for beginning of object key string")
                key = name.group()
                self.pos = name.end()
            self.expect(":")
            doc[key] = self.value()
            if self.space() == ",":
                self.pos += 1
                continue
            self.expect("}")
            return self.hook(doc)


def parse_document(text: str | dict | None, what: str) -> dict | None:
    """A --query / --sort value (Extended JSON, strict or in the mongo shell's dialect, or a dict) as a document.

    Raises TransferError with mongoexport's words: "error parsing query as Extended JSON: ..." for a
    query, "query '...' is not valid JSON: ..." for a sort (mongoexport says "query" there too)."""
    if text is None:
        return None
    if isinstance(text, dict):
        return text
    if not isinstance(text, str):
        raise TransferError(f"The {what} must be Extended JSON text or a dict, not {type(text).__name__}.")
    if not text.strip():
        return None
    try:
        value = DECODER.decode(text)
    except Exception:
        try:
            value = _Parser(text).document()
        except _Syntax as exc:
            near = text[max(0, exc.pos - 15): exc.pos + 15]
            reason = f"{exc} at column {exc.pos + 1} near {near!r}"
            if what == "query":
                raise TransferError(f"error parsing query as Extended JSON: {reason}") from None
            raise TransferError(f"query '{text}' is not valid JSON: {reason}") from None
        except Exception as exc:  # a malformed wrapper such as {"$oid": "xyz"}
            raise TransferError(f"error parsing {what} as Extended JSON: {exc}") from None
    if not isinstance(value, dict):
        raise TransferError(f"error parsing {what} as Extended JSON: it must be a document such as {{\"a\": 1}}, "
                            f"not {text.strip()[:40]!r}")
    return value


# --- mongoimport --legacy: the mongo-tools JSON dialect with legacy Extended JSON (bsonutil.ParseSpecialKeys) ---


def _legacy_millis(value) -> int:
    if isinstance(value, str):
        return int(value, 10)
    return int(value)


def legacy_hook(doc: dict):
    """Legacy Extended JSON wrappers as mongo-tools' bsonutil.ParseSpecialKeys reads them; anything else
    (the v2-only forms too, e.g. {"$binary": {"base64": ..., "subType": ...}}) stays a document."""
    if len(doc) == 1:
        key, value = next(iter(doc.items()))
        if key == "$date":
            if isinstance(value, str):
                return object_hook({"$date": value})
            if isinstance(value, dict) and "$numberLong" in value:
                return object_hook({"$date": {"$numberLong": str(_legacy_millis(value["$numberLong"]))}})
            if isinstance(value, (int, float, Int64)) and not isinstance(value, bool):
                return object_hook({"$date": Int64(int(value))})
            if isinstance(value, (dict, list, bool)) or value is None:
                raise ValueError("invalid type for $date field")
            return value  # already a date (ISODate(...) inside)
        if key == "$code":
            if not isinstance(value, str):
                raise ValueError("expected $code field to have string value")
            return Code(value)
        if key == "$oid":
            if not isinstance(value, str):
                raise ValueError("expected $oid field to have string value")
            return ObjectId(value)
        if key == "$numberLong":
            return Int64(_legacy_millis(value))
        if key == "$numberInt":
            if not isinstance(value, str):
                raise ValueError("expected $numberInt field to have string value")
            number = int(value, 0)
            if not -(2 ** 31) <= number < 2 ** 31:
                raise ValueError(f"$numberInt {value} is out of range")
            return number
        if key == "$timestamp":
            if not isinstance(value, dict) or "t" not in value or "i" not in value:
                raise ValueError("expected $timestamp to have 't' and 'i' fields")
            return Timestamp(int(value["t"]), int(value["i"]))
        if key == "$numberDecimal":
            if not isinstance(value, str):
                raise ValueError("expected $numberDecimal field to have string value")
            return Decimal128(value)
        if key == "$undefined":
            return None  # stored as null: pymongo cannot write BSON undefined
        if key == "$maxKey":
            return MaxKey()
        if key == "$minKey":
            return MinKey()
    elif len(doc) == 2:
        if "$code" in doc:
            if "$scope" not in doc or not isinstance(doc["$scope"], dict):
                raise ValueError("expected $scope field with $code field")
            return Code(doc["$code"], doc["$scope"])
        if "$regex" in doc:
            options = doc.get("$options")
            if not isinstance(doc["$regex"], str) or not isinstance(options, str):
                raise ValueError("expected $regex and $options fields to have string values")
            for option in options:
                if option not in "gims":
                    raise ValueError(f"invalid regular expression option '{option}'")
            return Regex(doc["$regex"], options)
        if "$binary" in doc:
            data, subtype = doc["$binary"], doc.get("$type")
            if not isinstance(data, str) or not isinstance(subtype, str):
                raise ValueError("expected $binary and $type fields to have string values")
            kind = bytes.fromhex(subtype)
            if len(kind) != 1:
                raise ValueError("expected single byte (as hexadecimal string) for $type field")
            return Binary(base64.b64decode(data, validate=True), kind[0])
    return doc


class LegacySyntax(ValueError):
    def __init__(self, pos: int, message: str):
        super().__init__(message)
        self.pos = pos


def legacy_raw_decode(text: str, pos: int):
    """(value, end) of the document starting at ``pos``, read as mongoimport --legacy reads it."""
    parser = _Parser(text, legacy_hook)
    parser.pos = pos
    try:
        return parser.value(), parser.pos
    except _Syntax as exc:
        raise LegacySyntax(exc.pos, str(exc)) from None
