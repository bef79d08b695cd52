"""What export and import share: connecting and logging to stderr."""
from __future__ import annotations

import sys
from typing import Callable

from pymongo import MongoClient
from pymongo.errors import PyMongoError

from labkit.deploy import Deployment, connect, driver_error
from labkit.errors import TransferError
from labkit.uris import mask_uri, validate_uri


class Connection:
    """A MongoClient plus a printable name for it; closes the client only if it opened it."""

    def __init__(self, uri_or_client):
        self.uri = None
        self.owned = False
        if isinstance(uri_or_client, Deployment):
            uri_or_client = uri_or_client.uri  # our own client, with the options below
        if isinstance(uri_or_client, str):
            self.uri = validate_uri(uri_or_client)
            self.display = mask_uri(self.uri)
            self.client = connect(self.uri, "transfer")  # options written in the URI win over its defaults
            self.owned = True
        elif isinstance(uri_or_client, MongoClient):
            self.client = uri_or_client
            self.display = _client_name(uri_or_client)
        else:
            raise TransferError(
                f"Cannot connect with {type(uri_or_client).__name__}: give a connection string, a MongoClient or a Deployment."
            )

    def check(self) -> dict:
        """Reach the server now (so an unreachable one fails before any work); returns hello."""
        try:
            return self.client.admin.command("hello")
        except PyMongoError as exc:
            raise TransferError(
                f"error connecting to host: could not reach {self.display}: {self.clean(exc)}. "
                "Check the connection string, that the server is running and that this machine may connect to it."
            ) from None

    def clean(self, exc: BaseException) -> str:
        """A driver error as one short line, without any password."""
        return driver_error(exc, self.uri)

    def close(self) -> None:
        if self.owned:
            self.client.close()


def _client_name(client: MongoClient) -> str:
    try:
        host, port = client.address or next(iter(client.topology_description.server_descriptions()))
        return f"mongodb://{host}:{port}/"
    except Exception:
        return "the given MongoClient"


def logger(quiet: bool) -> Callable[[str], None]:
    """mongo tools print their log lines (and closing line) on stderr; --quiet silences them."""
    if quiet:
        return lambda message: None
    return lambda message: print(message, file=sys.stderr, flush=True)



def parse_write_concern(text: str | None):
    """--writeConcern as mongoimport reads it: ``majority``, a number, a tag set name, or a document such as
    ``{w: 3, wtimeout: 500, j: true}`` (missing w: majority). None when not given (the connection string's
    write concern, or the server's default, applies)."""
    from pymongo import WriteConcern

    from labkit.transfer.query import parse_document

    if text is None:
        return None
    text = text.strip()
    if not text:
        raise TransferError("error constructing write concern: --writeConcern is empty (e.g. --writeConcern majority)")
    options: dict = {}
    if text.startswith("{"):
        try:
            doc = parse_document(text, "write concern")
        except TransferError as exc:
            raise TransferError(f"error constructing write concern: {exc}") from None
        w = doc.get("w", "majority")
        if "wtimeout" in doc:
            try:
                options["wtimeout"] = int(doc["wtimeout"])
            except (TypeError, ValueError):
                raise TransferError(f"error constructing write concern: invalid 'wtimeout' argument: "
                                    f"{doc['wtimeout']}") from None
        if doc.get("j"):
            options["j"] = True
        if doc.get("fsync"):
            options["fsync"] = True
    else:
        w = text
    if isinstance(w, str) and w.lstrip("-").isdigit():
        w = int(w)
    if isinstance(w, bool) or not isinstance(w, (int, str)):
        raise TransferError(f"error constructing write concern: invalid 'w' argument type: {w!r}")
    if isinstance(w, int) and w < 0:
        raise TransferError(f"error constructing write concern: invalid 'w' argument: {w}")
    if w == 0:
        raise TransferError("--writeConcern with w: 0 is not supported by labkit: unacknowledged writes cannot be "
                            "counted, so the import could not say what it imported; use w: 1 or majority.")
    return WriteConcern(w=w, **options)
