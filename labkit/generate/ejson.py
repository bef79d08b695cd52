"""Extended JSON text for generated documents.

``relaxed(doc)`` returns exactly what ``bson.json_util.dumps(doc,
json_options=RELAXED_JSON_OPTIONS)`` returns, several times faster: the
standard library's C encoder writes dicts, lists, strings and numbers, and a
``default`` hook converts only the BSON types (with fast paths for the
datetimes and Decimal128 values generation produces, json_util for the rest).
"""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from json.encoder import c_make_encoder, encode_basestring_ascii

from bson import Decimal128, json_util
from bson.json_util import CANONICAL_JSON_OPTIONS, RELAXED_JSON_OPTIONS

_UTC = timezone.utc
_EPOCH = datetime(1970, 1, 1, tzinfo=_UTC)
_ONE_MS = timedelta(milliseconds=1)
_COEFFICIENT_MASK = (1 << 113) - 1
_MAX_COEFFICIENT = 10**34 - 1


# Pieces of ISO-8601 text, so a datetime is written with a few lookups.
_CLOCK = tuple(f"{h:02d}:{m:02d}:" for h in range(24) for m in range(60))
_SECONDS = tuple(f"{s:02d}" for s in range(60))
_MILLIS = ("",) + tuple(f".{ms:03d}" for ms in range(1, 1000))  # json_util omits ".000"
_DAYS: dict[int, str] = {}


def _datetime(value: datetime):
    if value.tzinfo is not _UTC:
        return json_util.default(value, RELAXED_JSON_OPTIONS)
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


def _default(value):
    """BSON value -> JSON-able value, for the C encoder (called only for non-JSON types)."""
    kind = value.__class__
    if kind is datetime:
        return _datetime(value)
    if kind is Decimal128:
        return {"$numberDecimal": decimal128_text(value)}
    return json_util.default(value, RELAXED_JSON_OPTIONS)


def _make_encoder():
    """The C JSON encoder, built once (json.dumps would rebuild it for every document)."""
    if c_make_encoder is None:  # no C accelerator: the pure-Python encoder, same output
        return json.JSONEncoder(check_circular=False, allow_nan=False, default=_default).encode
    encode = c_make_encoder(None, _default, encode_basestring_ascii, None, ": ", ", ", False, False, False)
    join = "".join
    return lambda doc: join(encode(doc, 0))


_relaxed_encode = _make_encoder()


def relaxed(doc) -> str:
    """Relaxed Extended JSON, byte-identical to json_util.dumps with RELAXED_JSON_OPTIONS."""
    try:
        return _relaxed_encode(doc)
    except ValueError:  # NaN or Infinity: json_util writes {"$numberDouble": ...}
        return json_util.dumps(doc, json_options=RELAXED_JSON_OPTIONS)


def canonical(doc) -> str:
    """Canonical Extended JSON (types kept exactly: $numberInt, $numberDouble...)."""
    return json_util.dumps(doc, json_options=CANONICAL_JSON_OPTIONS)


ENCODERS = {"relaxed": relaxed, "canonical": canonical}
