"""JavaScript's String(value), for values that mgeneratejs turns into text.

$join casts array elements to strings and mustache expressions are spliced into
text; both follow JavaScript's rules so labkit writes the same text as
mgeneratejs (1.5 -> "1.5", 1e21 -> "1e+21", null -> "", [1, 2] -> "1,2").
"""
from __future__ import annotations

import re
from datetime import datetime, timezone
from decimal import Decimal

from bson import Decimal128, Int64, ObjectId, Regex, Timestamp


def number_to_string(value) -> str:
    """Number.prototype.toString() for a Python int or float."""
    if isinstance(value, int) and abs(value) < 10**21:
        return str(value)
    value = float(value)
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0:
        return "0"
    sign, digits, exponent = Decimal(repr(value)).normalize().as_tuple()
    text = "".join(map(str, digits))
    size = len(text)
    point = exponent + size  # digits before the decimal point
    if size <= point <= 21:
        body = text + "0" * (point - size)
    elif 0 < point <= 21:
        body = text[:point] + "." + text[point:]
    elif -6 < point <= 0:
        body = "0." + "0" * -point + text
    else:
        power = point - 1
        body = text[0] + ("." + text[1:] if size > 1 else "") + ("e+" if power > 0 else "e-") + str(abs(power))
    return ("-" if sign else "") + body


def to_string(value) -> str:
    """String(value) as JavaScript (and lodash templates) would write it; null -> ""."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)) and not isinstance(value, Int64):
        return number_to_string(value)
    if isinstance(value, Int64):
        return str(int(value))
    if isinstance(value, list):
        return ",".join(to_string(item) for item in value)
    if isinstance(value, datetime):
        moment = value.astimezone(timezone.utc) if value.tzinfo else value
        return moment.strftime("%a %b %d %Y %H:%M:%S GMT+0000 (Coordinated Universal Time)")
    if isinstance(value, (Decimal128, ObjectId)):
        return str(value)
    if isinstance(value, Regex):
        return f"/{value.pattern}/{_regex_flags(value.flags)}"
    if isinstance(value, Timestamp):
        return str((value.time << 32) | value.inc)
    if isinstance(value, bytes):
        return value.decode("latin-1")
    return "[object Object]"


def _regex_flags(flags) -> str:
    if isinstance(flags, str):
        return flags
    return "".join(letter for letter, bit in (("i", re.I), ("m", re.M), ("s", re.S), ("u", re.U)) if flags & bit)
