"""MongoDB Extended JSON v2: one writer (the output style a parameter) and one fast reader.

Writing: ``writer(json_format, style, pretty)`` returns a function from a
document to one line of text. Two styles:

- ``"export"``: mongoexport's: compact (``{"_id":{"$oid":"..."},"n":1}``),
  UTF-8 kept as is, an Int64 written as a plain number in relaxed mode (as
  mongoexport does); ``pretty`` indents with tabs (Go's ``json.Indent``).
- ``"generate"``: bson.json_util's spacing (``{"a": 1, "b": 2}``, ASCII
  escapes) for generated documents, with every Int64 written as
  ``{"$numberLong": "95"}`` like mgeneratejs, so a value that fits in 32 bits
  is still stored as an int64 by an import.

Relaxed documents go through the standard library's C encoder (``json``'s
public ``JSONEncoder``), whose ``default`` hook converts only BSON values. The
C encoder writes ``str`` and ``int`` subclasses as plain strings and numbers,
so a document holding ``Code`` (a ``str``), an ``Int64`` the style wraps, NaN
or Infinity is first converted in Python (``_convert``), as is every canonical
or pretty document. Output equals ``bson.json_util.dumps`` with the same mode
(except for the style's spacing and Int64 rule).

Reading: ``DECODER`` is ``json`` with an object hook that hands only
``$``-keyed objects to ``json_util``, so plain sub-documents cost nothing.
Dates outside what Python's datetime can hold (before year 1 or after 9999)
stay exact as ``DatetimeMS``. A document shaped like a DBRef
(``{"$ref": ..., "$id": ...}``) stays a document, fields in order, as the Go
driver of mongoimport reads it.
"""
from __future__ import annotations

import datetime as dt
import json
import math
from typing import Any, Callable

from bson import SON, Code, DBRef, Decimal128, Int64, ObjectId, json_util
from bson.codec_options import CodecOptions, DatetimeConversion
from bson.datetime_ms import DatetimeMS
from bson.json_util import JSONMode, JSONOptions
from bson.raw_bson import RawBSONDocument
from bson.tz_util import utc as _BSON_UTC

__all__ = ["CODEC_OPTIONS", "DECODER", "JSON_FORMATS", "STYLES", "decimal128_text", "dumps", "object_hook", "writer"]

# Every BSON value survives a round trip: no uuid conversion, no date clamping.
CODEC_OPTIONS = CodecOptions(document_class=dict, tz_aware=True, datetime_conversion=DatetimeConversion.DATETIME_AUTO)
RELAXED = JSONOptions(json_mode=JSONMode.RELAXED, tz_aware=True, datetime_conversion=DatetimeConversion.DATETIME_AUTO)
CANONICAL = JSONOptions(json_mode=JSONMode.CANONICAL, tz_aware=True, datetime_conversion=DatetimeConversion.DATETIME_AUTO)
JSON_FORMATS = ("relaxed", "canonical")


class Style:
    """How text is laid out and which values are wrapped, beyond the relaxed/canonical mode."""

    def __init__(self, name: str, separators: tuple[str, str], ensure_ascii: bool, wrap_int64: bool):
        self.name = name
        self.separators = separators
        self.ensure_ascii = ensure_ascii
        self.wrap_int64 = wrap_int64  # Int64 as {"$numberLong": ...} even in relaxed mode


STYLES = {
    "export": Style("export", (",", ":"), ensure_ascii=False, wrap_int64=False),
    "generate": Style("generate", (", ", ": "), ensure_ascii=True, wrap_int64=True),
}

# --- writing -------------------------------------------------------------------------------------

_UTC_ZONES = (None, dt.timezone.utc, _BSON_UTC)
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
_ONE_MS = dt.timedelta(milliseconds=1)
_COEFFICIENT_MASK = (1 << 113) - 1
_MAX_COEFFICIENT = 10**34 - 1

# Pieces of ISO-8601 text, so a datetime is written with a few lookups.
_CLOCK = tuple(f"{h:02d}:{m:02d}:" for h in range(24) for m in range(60))
_SECONDS = tuple(f"{s:02d}" for s in range(60))
_MILLIS = ("",) + tuple(f".{ms:03d}" for ms in range(1, 1000))  # json_util omits ".000"
_DAYS: dict[int, str] = {}


def _relaxed_date(value: dt.datetime) -> dict:
    """{"$date": ...} as json_util writes it in relaxed mode."""
    if value.tzinfo not in _UTC_ZONES or value.utcoffset():
        return json_util.default(value, RELAXED)
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.timezone.utc)
    if value >= _EPOCH:
        ordinal = value.toordinal()
        day = _DAYS.get(ordinal)
        if day is None:
            if len(_DAYS) > 100_000:
                _DAYS.clear()
            day = _DAYS[ordinal] = f"{value.year:04d}-{value.month:02d}-{value.day:02d}T"
        return {
            "$date": day + _CLOCK[value.hour * 60 + value.minute] + _SECONDS[value.second]
            + _MILLIS[value.microsecond // 1000] + "Z"
        }
    return {"$date": {"$numberLong": str((value - _EPOCH) // _ONE_MS)}}


def decimal128_text(value: Decimal128) -> str:
    """str(value), computed from the BID bits instead of through decimal.Decimal."""
    bits = int.from_bytes(value.bid, "little")
    high = bits >> 64
    if (high >> 61) & 3 == 3:  # NaN, Infinity or the rare large-coefficient form
        return str(value)
    coefficient = bits & _COEFFICIENT_MASK
    if coefficient > _MAX_COEFFICIENT:
        return str(value)
    exponent = ((high >> 49) & 0x3FFF) - 6176
    digits = str(coefficient)
    # Python's Decimal.__str__ (scientific notation rules of the decimal spec).
    left = exponent + len(digits)
    dot = left if exponent <= 0 and left > -6 else 1
    if dot <= 0:
        text = "0." + "0" * -dot + digits
    elif dot >= len(digits):
        text = digits + "0" * (dot - len(digits))
    else:
        text = digits[:dot] + "." + digits[dot:]
    if left != dot:
        text += "E%+d" % (left - dot)
    return "-" + text if high >> 63 else text


def _relaxed_default(wrap_int64: bool) -> Callable[[Any], Any]:
    """The C encoder's hook: a BSON value as JSON-able data (called only for non-JSON types)."""

    def default(value: Any) -> Any:
        kind = value.__class__
        if kind is dt.datetime:
            return _relaxed_date(value)
        if kind is Decimal128:
            return {"$numberDecimal": decimal128_text(value)}
        if kind is ObjectId:
            return {"$oid": str(value)}
        if hasattr(value, "items") or kind is DBRef:  # RawBSONDocument, DBRef: their values may need it
            return _convert(value, False, wrap_int64)
        return json_util.default(value, RELAXED)  # Binary, Regex, Timestamp, MinKey...: plain JSON data

    return default


def _convert(value: Any, canonical: bool, wrap_int64: bool) -> Any:
    """Any BSON value as plain JSON data (dict, list, str, int, float, bool, None), as json_util does."""
    kind = value.__class__
    if kind is dict or (kind is not str and hasattr(value, "items")):  # dict, SON, RawBSONDocument
        return {key: _convert(item, canonical, wrap_int64) for key, item in value.items()}
    if kind is list or kind is tuple:
        return [_convert(item, canonical, wrap_int64) for item in value]
    if kind is str or kind is bool or value is None:
        return value
    if kind is int:
        return json_util.default(value, CANONICAL) if canonical else value
    if kind is Int64:
        return {"$numberLong": str(int(value))} if canonical or wrap_int64 else int(value)
    if kind is float:
        if canonical or not math.isfinite(value):
            return json_util.default(value, CANONICAL)
        return value
    if kind is Code:  # a str subclass: never let it through as a plain string
        if value.scope is None:
            return {"$code": str(value)}
        return {"$code": str(value), "$scope": _convert(value.scope, canonical, wrap_int64)}
    if kind is DBRef:
        return _convert(value.as_doc(), canonical, wrap_int64)
    if not canonical:
        if kind is dt.datetime:
            return _relaxed_date(value)
        if kind is Decimal128:
            return {"$numberDecimal": decimal128_text(value)}
    return json_util.default(value, CANONICAL if canonical else RELAXED)  # already plain JSON data


_CONTAINERS = frozenset((dict, list, tuple, SON, RawBSONDocument))
_WRAPPED = {False: frozenset((Code,)), True: frozenset((Code, Int64))}


def _needs_convert(doc: Any, wrapped: frozenset) -> bool:
    """Does the document hold a value the C encoder would write wrongly (Code, or an Int64 to wrap)?"""
    for value in (doc.values() if hasattr(doc, "values") else doc):
        kind = value.__class__
        if kind in _CONTAINERS:
            if _needs_convert(value, wrapped):
                return True
        elif kind in wrapped:
            return True
    return False


_SCALARS = frozenset((str, int, float, bool, type(None), dt.datetime, ObjectId, Decimal128))


def _wrapped_copy(value: Any, wrap_int64: bool) -> Any:
    """The value with Code (and Int64 when wrapped) replaced by their wrappers, copying only the
    containers on the way to them; everything else is left to the C encoder and its hook."""
    kind = value.__class__
    if kind is dict:
        out = None
        for key, item in value.items():
            if item.__class__ in _SCALARS:
                continue
            new = _wrapped_copy(item, wrap_int64)
            if new is not item:
                if out is None:
                    out = dict(value)
                out[key] = new
        return value if out is None else out
    if kind is list or kind is tuple:
        out = None
        for index, item in enumerate(value):
            if item.__class__ in _SCALARS:
                continue
            new = _wrapped_copy(item, wrap_int64)
            if new is not item:
                if out is None:
                    out = list(value)
                out[index] = new
        return value if out is None else out
    if kind is Code or (wrap_int64 and kind is Int64) or kind in _CONTAINERS:  # SON, RawBSONDocument
        return _convert(value, False, wrap_int64)
    return value


def writer(json_format: str = "relaxed", style: str = "export", pretty: bool = False) -> Callable[[Any], str]:
    """A function writing one document as Extended JSON v2 text (no trailing newline)."""
    if json_format not in JSON_FORMATS:
        raise ValueError(f"json_format must be one of {', '.join(JSON_FORMATS)}, not {json_format!r}")
    if style not in STYLES:
        raise ValueError(f"style must be one of {', '.join(STYLES)}, not {style!r}")
    form = STYLES[style]
    canonical = json_format == "canonical"
    wrap = form.wrap_int64
    if pretty:
        # mongoexport --pretty: tabs, ", " inside lines is not used (Go's json.Indent keeps ",").
        indented = json.JSONEncoder(indent="\t", separators=(",", ": "), ensure_ascii=form.ensure_ascii,
                                    allow_nan=False, check_circular=False).encode
        return lambda doc: indented(_convert(doc, canonical, wrap))
    plain = json.JSONEncoder(separators=form.separators, ensure_ascii=form.ensure_ascii, allow_nan=False,
                             check_circular=False).encode
    if canonical:
        return lambda doc: plain(_convert(doc, True, wrap))
    wrapped = _WRAPPED[wrap]
    fast = json.JSONEncoder(separators=form.separators, ensure_ascii=form.ensure_ascii, allow_nan=False,
                            check_circular=False, default=_relaxed_default(wrap)).encode

    def relaxed(doc) -> str:
        try:
            if wrap:  # Int64 is common in generated documents: one walk that copies only what it changes
                return fast(_wrapped_copy(doc, True))
            if _needs_convert(doc, wrapped):  # Code is rare: a walk that stops at the first one
                return fast(_wrapped_copy(doc, False))
            return fast(doc)
        except ValueError:  # NaN or Infinity somewhere: written as {"$numberDouble": ...}
            return plain(_convert(doc, False, wrap))

    return relaxed


_WRITERS: dict[tuple, Callable[[Any], str]] = {}


def dumps(doc: Any, json_format: str = "relaxed", pretty: bool = False, style: str = "export") -> str:
    """One document as Extended JSON v2 text (no trailing newline); see ``writer``."""
    key = (json_format, style, pretty)
    write = _WRITERS.get(key)
    if write is None:
        write = _WRITERS[key] = writer(json_format, style, pretty)
    return write(doc)


# --- reading -------------------------------------------------------------------------------------


def _iso_date(text: str) -> dt.datetime:
    value = dt.datetime.fromisoformat(text)
    if value.tzinfo is None:
        raise ValueError("no time zone")  # let json_util decide what a zone-less date means
    return value


# The wrappers found in almost every file, parsed directly; anything else (or anything odd
# about these) goes to json_util, which knows every form and says what is wrong.
_FAST = {
    "$oid": ObjectId,
    "$date": _iso_date,
    "$numberDecimal": Decimal128,
    "$numberLong": lambda text: Int64(int(text)),
    "$numberInt": int,
    "$numberDouble": float,
}


def _millis_date(millis: int):
    """{"$date": {"$numberLong": ...}}: a datetime, or DatetimeMS outside years 1-9999."""
    try:
        return _EPOCH + dt.timedelta(milliseconds=millis)
    except OverflowError:
        return DatetimeMS(int(millis))


def object_hook(obj: dict) -> Any:
    """Turn ``{"$oid": ...}``-style wrappers into BSON values; leave plain objects alone."""
    for key in obj:
        if key[:1] != "$":
            return obj  # only the first key decides: a wrapper's keys all start with "$"
        if len(obj) == 1:
            value = obj[key]
            fast = _FAST.get(key)
            try:
                if fast is not None and type(value) is str:
                    return fast(value)
                if key == "$date" and type(value) is Int64:  # the inner $numberLong is already parsed
                    return _millis_date(value)
            except Exception:
                pass
        elif key == "$ref" or key == "$id" or key == "$db":
            return obj  # DBRef-shaped: an ordinary document for mongoimport (its fields keep their order)
        return json_util.object_hook(obj, RELAXED)
    return obj


DECODER = json.JSONDecoder(object_hook=object_hook)


def loads(text: str) -> Any:
    """Extended JSON text to Python/BSON values (strict JSON syntax)."""
    return DECODER.decode(text)
