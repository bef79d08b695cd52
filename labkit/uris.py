"""Connection strings: validation and password masking.

A password never leaves this process in clear: every repr, message, status
line and state file uses ``mask_uri``. ``redact`` scrubs a known password out
of free text (server logs, driver error messages) before it is shown.
"""
from __future__ import annotations

import re
from urllib.parse import quote, quote_plus, unquote

from labkit.errors import ConfigError

_URI = re.compile(r"^(?P<scheme>mongodb(?:\+srv)?://)(?:(?P<user>[^:@/]*)(?::(?P<password>[^@/]*))?@)?(?P<rest>.*)$")
# Any credentials inside a mongodb:// string found in free text.
_CREDENTIALS_IN_TEXT = re.compile(r"(mongodb(?:\+srv)?://[^:@/\s\"']+:)[^@/\s\"']+@")
# user:password@ after any scheme (http://, mongo://, ...): a mistyped scheme still hides the password.
_CREDENTIALS_ANY_SCHEME = re.compile(r"^([^:/\s]*://[^:@/\s]*:)[^@/\s]*@")


def validate_uri(uri: str, label: str = "connection string") -> str:
    """Return the URI stripped, or raise ConfigError saying what is wrong with it."""
    if not isinstance(uri, str) or not uri.strip():
        raise ConfigError(f"The {label} is empty: give a URI such as mongodb://host:27017/?replicaSet=rs0.")
    uri = uri.strip()
    match = _URI.match(uri)
    if not match:
        shown = _CREDENTIALS_ANY_SCHEME.sub(r"\1****@", uri)
        raise ConfigError(
            f"The {label} {shown!r} is not a MongoDB URI: it must start with mongodb:// or mongodb+srv://."
        )
    hosts = match.group("rest").split("/", 1)[0].split("?", 1)[0]
    if not hosts:
        raise ConfigError(f"The {label} {mask_uri(uri)!r} names no host: write it as mongodb://host:port/.")
    try:
        from pymongo.uri_parser import parse_uri

        if match.group("scheme") == "mongodb://":
            parse_uri(uri)
    except Exception as exc:  # pymongo says what is wrong; keep its words but never the password
        raise ConfigError(f"The {label} {mask_uri(uri)!r} is malformed: {redact(str(exc), password_of(uri))}") from None
    return uri


def password_of(uri: str) -> str | None:
    match = _URI.match(uri or "")
    if not match or match.group("password") is None:
        return None
    return unquote(match.group("password"))


def mask_uri(uri: str) -> str:
    """``mongodb://user:secret@host`` -> ``mongodb://user:****@host``; anything else unchanged."""
    match = _URI.match(uri or "")
    if not match or match.group("password") is None:
        return uri
    return f"{match.group('scheme')}{match.group('user')}:****@{match.group('rest')}"


def redact(text: str, *secrets: str | None) -> str:
    """Mask credentials of any URI in ``text`` and every occurrence of the given secrets, also
    percent-encoded as they stand in a connection string (``p@ss`` as ``p%40ss``)."""
    text = _CREDENTIALS_IN_TEXT.sub(r"\1****@", text)
    for secret in secrets:
        if secret:
            # Longest first: the plain form may be part of an encoded one.
            for form in sorted({secret, quote(secret, safe=""), quote(secret), quote_plus(secret)}, key=len,
                               reverse=True):
                text = text.replace(form, "****")
    return text
