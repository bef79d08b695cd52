"""Parse template text: strict JSON, plus the unquoted keys mgeneratejs accepts.

``parse`` returns plain Python values (dict, list, str, int, float, bool, None)
and a ``Locator`` that maps every value's JSON path to its line and column, so
that errors found later (unknown operator, bad option) can point at the spot.
"""
from __future__ import annotations

import bisect
import json
import re
from json.decoder import scanstring

from labkit.errors import TemplateError

_WHITESPACE = re.compile(r"[ \t\n\r]*")
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?")
# mgeneratejs quotes any run of characters other than , { whitespace and quotes
# that precedes a colon; we accept the same, minus JSON's structural characters.
_BARE_KEY = re.compile(r"[^\s,{}\[\]:\"']+")
_LITERALS = (("true", True), ("false", False), ("null", None))


class Locator:
    """Maps JSON paths (tuples of keys and indices) to line and column."""

    def __init__(self, text: str = "", source: str = "template") -> None:
        self.source = source
        self.offsets: dict[tuple, int] = {}  # where each value starts
        self.key_offsets: dict[tuple, int] = {}  # where each object key starts
        self._line_starts = [0] + [m.end() for m in re.finditer("\n", text)]

    def line_col(self, offset: int) -> tuple[int, int]:
        line = bisect.bisect_right(self._line_starts, offset)
        return line, offset - self._line_starts[line - 1] + 1

    def position(self, path: tuple, key: bool = False) -> tuple[int, int] | None:
        """Line and column of the value (or key) at ``path``, else of its closest recorded parent."""
        if key and path in self.key_offsets:
            return self.line_col(self.key_offsets[path])
        while True:
            if path in self.offsets:
                return self.line_col(self.offsets[path])
            if not path:
                return None
            path = path[:-1]


def parse(text: str, source: str = "template") -> tuple[object, Locator]:
    """Parse template text; raise TemplateError with line and column if it is not valid."""
    if text.startswith("\ufeff"):
        text = text[1:]
    locator = Locator(text, source)
    parser = _Parser(text, locator)
    try:
        value = parser.document()
    except RecursionError:
        raise parser.fail(0, "the template is nested too deeply") from None
    return value, locator


_INT64 = 2**63


def _number(match: re.Match) -> int | float:
    """A JSON number as mgeneratejs's output stores it: JavaScript has one number
    type and prints a whole one without a decimal point (5.0 and 5e0 print 5), so
    mongoimport stores it as an integer; beyond 64 bits it is a double."""
    text = match.group()
    if match.group(1) or match.group(2):
        value = float(text)
        if value.is_integer() and -_INT64 <= value < _INT64:
            return int(value)
        return value
    value = int(text)
    return value if -_INT64 <= value < _INT64 else float(value)


class _Parser:
    def __init__(self, text: str, locator: Locator) -> None:
        self.text = text
        self.locator = locator

    def fail(self, pos: int, message: str) -> TemplateError:
        line, col = self.locator.line_col(pos)
        return TemplateError(
            f"{self.locator.source}:{line}:{col}: invalid JSON: {message}. "
            "A template is JSON; keys may be left unquoted, like {name: \"$name\"}."
        )

    def skip(self, pos: int) -> int:
        return _WHITESPACE.match(self.text, pos).end()

    def found(self, pos: int) -> str:
        if pos >= len(self.text):
            return "the end of the text"
        return json.dumps(self.text[pos])

    def document(self) -> object:
        pos = self.skip(0)
        if pos >= len(self.text):
            raise self.fail(pos, "the template is empty")
        value, pos = self.value(pos, ())
        pos = self.skip(pos)
        if pos < len(self.text):
            raise self.fail(pos, f"unexpected {self.found(pos)} after the end of the template")
        return value

    def value(self, pos: int, path: tuple) -> tuple[object, int]:
        self.locator.offsets[path] = pos
        char = self.text[pos : pos + 1]
        if char == "{":
            return self.object(pos, path)
        if char == "[":
            return self.array(pos, path)
        if char == '"':
            return self.string(pos)
        number = _NUMBER.match(self.text, pos)
        if number:
            return _number(number), number.end()
        for word, literal in _LITERALS:
            if self.text.startswith(word, pos):
                return literal, pos + len(word)
        if char == "'":
            raise self.fail(pos, "strings need double quotes (\"...\"), not single quotes")
        raise self.fail(pos, f"expected a value (object, array, string, number, true, false or null), found {self.found(pos)}")

    def string(self, pos: int) -> tuple[str, int]:
        try:
            return scanstring(self.text, pos + 1, True)
        except json.JSONDecodeError as exc:
            raise self.fail(exc.pos, exc.msg.lower()) from None

    def object(self, pos: int, path: tuple) -> tuple[dict, int]:
        result: dict = {}
        pos = self.skip(pos + 1)
        if self.text.startswith("}", pos):
            return result, pos + 1
        while True:
            key_pos = pos
            key, pos = self.key(pos)
            self.locator.key_offsets[path + (key,)] = key_pos
            pos = self.skip(pos)
            if not self.text.startswith(":", pos):
                raise self.fail(pos, f"expected ':' after the key {json.dumps(key)}, found {self.found(pos)}")
            pos = self.skip(pos + 1)
            result[key], pos = self.value(pos, path + (key,))
            pos = self.skip(pos)
            if self.text.startswith("}", pos):
                return result, pos + 1
            if not self.text.startswith(",", pos):
                raise self.fail(pos, f"expected ',' or '}}' after the value of {json.dumps(key)}, found {self.found(pos)} (missing comma?)")
            pos = self.skip(pos + 1)
            if self.text.startswith("}", pos):
                raise self.fail(pos, "trailing comma before '}': remove the last ','")

    def key(self, pos: int) -> tuple[str, int]:
        if self.text.startswith('"', pos):
            return self.string(pos)
        bare = _BARE_KEY.match(self.text, pos)
        if not bare:
            raise self.fail(pos, f"expected a key, found {self.found(pos)}")
        return bare.group(), bare.end()

    def array(self, pos: int, path: tuple) -> tuple[list, int]:
        result: list = []
        pos = self.skip(pos + 1)
        if self.text.startswith("]", pos):
            return result, pos + 1
        while True:
            item, pos = self.value(pos, path + (len(result),))
            result.append(item)
            pos = self.skip(pos)
            if self.text.startswith("]", pos):
                return result, pos + 1
            if not self.text.startswith(",", pos):
                raise self.fail(pos, f"expected ',' or ']' in the array, found {self.found(pos)} (missing comma?)")
            pos = self.skip(pos + 1)
            if self.text.startswith("]", pos):
                raise self.fail(pos, "trailing comma before ']': remove the last ','")
