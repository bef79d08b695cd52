"""Reading operator options, with errors that point into the template.

``Where`` knows where a template node is (source, line, column, JSON path);
``Options`` reads one operator's evaluated options and raises a TemplateError
naming the operator, the option, the value given and what is allowed.
"""
from __future__ import annotations

import difflib
import json
import math
import re
from datetime import datetime, timedelta, timezone

from labkit.errors import TemplateError
from labkit.generate.syntax import Locator


def show(value: object) -> str:
    """A value as the learner wrote it (JSON), shortened for messages."""
    try:
        text = json.dumps(value, default=repr, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def dotted(path: tuple) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + part
    return out or "the top level"


def suggest(name: str, known, prefix: str = "") -> str:
    close = difflib.get_close_matches(name, list(known), n=3, cutoff=0.6)
    if not close:
        return ""
    return " (did you mean " + " or ".join(prefix + c for c in close) + "?)"


def check_names(op: str, accepted, given, where: "Where") -> None:
    """Raise for an option the operator does not know."""
    for key in given:
        if key not in accepted:
            listed = ", ".join(accepted) or "no options"
            raise where.child(key).error(
                f"${op} has no option '{key}'" + suggest(key, accepted) + f"; it accepts: {listed}", at_key=True
            )


class Where:
    """A node's location: the source name, its JSON path and the locator."""

    __slots__ = ("locator", "path")

    def __init__(self, locator: Locator, path: tuple = ()) -> None:
        self.locator = locator
        self.path = path

    def child(self, *parts) -> "Where":
        return Where(self.locator, self.path + parts)

    def error(self, message: str, at_key: bool = False) -> TemplateError:
        position = self.locator.position(self.path, key=at_key)
        where = self.locator.source
        if position:
            where += f":{position[0]}:{position[1]}"
        return TemplateError(f"{where}: {message} (at {dotted(self.path)})")


_ISO_DATE = re.compile(
    r"(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?"
    r"(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6})\d*)?)?)?"
    r"\s*(Z|[+-]\d{2}:?\d{2})?"
)
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def parse_date(value) -> int | None:
    """Milliseconds since the epoch of an ISO-8601 date string (UTC unless an offset is given)."""
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
        return (moment - _EPOCH) // timedelta(milliseconds=1)
    if not isinstance(value, str):
        return None
    match = _ISO_DATE.fullmatch(value.strip())
    if not match:
        return None
    year, month, day, hour, minute, second, fraction, offset = match.groups()
    try:
        moment = datetime(
            int(year), int(month or 1), int(day or 1), int(hour or 0), int(minute or 0), int(second or 0),
            int((fraction or "0").ljust(6, "0")), tzinfo=timezone.utc,
        )
    except ValueError:
        return None
    if offset and offset != "Z":
        sign = -1 if offset[0] == "-" else 1
        digits = offset[1:].replace(":", "")
        moment -= sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    return (moment - _EPOCH) // timedelta(milliseconds=1)


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _range_text(low, high) -> str:
    if low is not None and high is not None:
        return f" from {low} to {high}"
    if low is not None:
        return f" >= {low}"
    if high is not None:
        return f" <= {high}"
    return ""


class Options:
    """The evaluated options of one operator call, with typed, checked readers."""

    __slots__ = ("op", "values", "where")

    def __init__(self, op: str, values: dict, where: Where) -> None:
        self.op = op
        self.values = values
        self.where = where

    def __contains__(self, name: str) -> bool:
        return name in self.values

    def get(self, name: str, default=None):
        return self.values.get(name, default)

    def fail(self, name: str, allowed: str) -> TemplateError:
        value = self.values.get(name)
        return self.where.child(name).error(
            f"${self.op} option '{name}' must be {allowed}, got {show(value)}"
        )

    def integer(self, name: str, default, *, low=None, high=None) -> int:
        if name not in self.values:
            return default
        value = self.values[name]
        if not _is_number(value) or value != int(value):
            raise self.fail(name, "a whole number" + _range_text(low, high))
        value = int(value)
        if (low is not None and value < low) or (high is not None and value > high):
            raise self.fail(name, "a whole number" + _range_text(low, high))
        return value

    def number(self, name: str, default, *, low=None, high=None):
        if name not in self.values:
            return default
        value = self.values[name]
        if not _is_number(value):
            raise self.fail(name, "a number" + _range_text(low, high))
        if (low is not None and value < low) or (high is not None and value > high):
            raise self.fail(name, "a number" + _range_text(low, high))
        return value

    def string(self, name: str, default, *, choices=None) -> str:
        if name not in self.values:
            return default
        value = self.values[name]
        if choices is not None:
            if value not in choices:
                raise self.fail(name, "one of " + ", ".join(json.dumps(c) for c in choices))
        elif not isinstance(value, str):
            raise self.fail(name, "a string")
        return value

    def boolean(self, name: str, default: bool) -> bool:
        if name not in self.values:
            return default
        value = self.values[name]
        if not isinstance(value, bool):
            raise self.fail(name, "true or false")
        return value

    def array(self, name: str, default, *, nonempty: bool = False) -> list:
        if name not in self.values:
            return default
        value = self.values[name]
        if not isinstance(value, list) or (nonempty and not value):
            raise self.fail(name, "a non-empty array" if nonempty else "an array")
        return value

    def date(self, name: str, default: str) -> int:
        """An ISO-8601 date option, as milliseconds since the epoch."""
        value = self.values.get(name, default)
        ms = parse_date(value)
        if ms is None:
            raise self.fail(name, 'an ISO-8601 date like "2015-01-01" or "2015-01-01T12:30:00.000Z"')
        return ms

    def limits(self, name: str, default: tuple, low, high) -> tuple:
        """A [min, max] pair of numbers within [low, high], like long_lim or lat_lim."""
        if name not in self.values:
            return default
        value = self.values[name]
        if (
            not isinstance(value, list)
            or len(value) != 2
            or not all(_is_number(v) for v in value)
            or not low <= value[0] <= value[1] <= high
        ):
            raise self.fail(name, f"a pair [min, max] of numbers with {low} <= min <= max <= {high}")
        return value[0], value[1]

    def bounds(self, low, high) -> None:
        """Check that option 'min' is not greater than option 'max'."""
        if low > high:
            raise self.where.child("min").error(
                f"${self.op} option 'min' ({show(low)}) must not be greater than 'max' ({show(high)})"
            )
