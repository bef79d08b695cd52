"""--query and --sort values: Extended JSON text (or a dict) to a filter or sort document."""
from __future__ import annotations

import json

from labkit.ejson import DECODER
from labkit.errors import TransferError


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
