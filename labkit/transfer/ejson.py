"""MongoDB Extended JSON v2 in and out, fast enough to stream millions of documents.

Writing: relaxed output goes through the C JSON encoder, which calls
``json_util.default`` only for BSON types (ObjectId, datetime, Decimal128...);
a document holding NaN or Infinity (which the C encoder cannot wrap) and every
canonical document go through ``json_util`` itself. Output is compact, like
mongoexport: ``{"_id":{"$oid":"..."},"n":1}``.

Reading: ``json`` with an object hook that hands only ``$``-keyed objects to
``json_util``, so plain sub-documents cost nothing extra. Dates outside what
Python's datetime can hold (before year 1 or after 9999) stay exact as
``DatetimeMS``.
"""
from __future__ import annotations

import datetime as dt
import json
from typing import Any

from bson import Decimal128, Int64, ObjectId, json_util
from bson.codec_options import CodecOptions, DatetimeConversion
from bson.datetime_ms import DatetimeMS
from bson.json_util import JSONMode, JSONOptions

from labkit.errors import TransferError

# Every BSON value survives a round trip: no uuid conversion, no date clamping.
CODEC_OPTIONS = CodecOptions(document_class=dict, tz_aware=True, datetime_conversion=DatetimeConversion.DATETIME_AUTO)
RELAXED = JSONOptions(json_mode=JSONMode.RELAXED, tz_aware=True, datetime_conversion=DatetimeConversion.DATETIME_AUTO)
CANONICAL = JSONOptions(json_mode=JSONMode.CANONICAL, tz_aware=True, datetime_conversion=DatetimeConversion.DATETIME_AUTO)
JSON_FORMATS = ("relaxed", "canonical")


def _relaxed_default(value: Any) -> Any:
    return json_util.default(value, RELAXED)


_relaxed_encode = json.JSONEncoder(
    separators=(",", ":"), ensure_ascii=False, allow_nan=False, check_circular=False, default=_relaxed_default
).encode


def dumps(doc: dict, json_format: str = "relaxed", pretty: bool = False) -> str:
    """One document as Extended JSON v2 text (no trailing newline)."""
    if pretty:
        options = CANONICAL if json_format == "canonical" else RELAXED
        # mongoexport indents with tabs (Go's json.Indent with "\t").
        return json_util.dumps(doc, json_options=options, indent="\t", ensure_ascii=False)
    if json_format == "canonical":
        return json_util.dumps(doc, json_options=CANONICAL, separators=(",", ":"), ensure_ascii=False)
    try:
        return _relaxed_encode(doc)
    except ValueError:  # NaN or Infinity somewhere: json_util wraps them as {"$numberDouble": ...}
        return json_util.dumps(doc, json_options=RELAXED, separators=(",", ":"), ensure_ascii=False)


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


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


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
        return json_util.object_hook(obj, RELAXED)
    return obj


DECODER = json.JSONDecoder(object_hook=object_hook)


def parse_document(text: str | dict | None, what: str) -> dict | None:
    """Parse a --query / --sort value: Extended JSON text (strict, quoted keys) or a dict."""
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
    except json.JSONDecodeError as exc:
        near = text[max(0, exc.pos - 15): exc.pos + 15]
        raise TransferError(
            f"error parsing {what} as Extended JSON: {exc.msg} at column {exc.colno} near {near!r}. "
            f'Write it as strict JSON with quoted keys, e.g. {{"firstname": {{"$exists": true}}}}.'
        ) from None
    except Exception as exc:  # a malformed wrapper such as {"$oid": "xyz"}
        raise TransferError(f"error parsing {what} as Extended JSON: {exc}") from None
    if not isinstance(value, dict):
        raise TransferError(f"The {what} must be a JSON object such as {{\"a\": 1}}, not {text.strip()[:40]!r}.")
    return value

