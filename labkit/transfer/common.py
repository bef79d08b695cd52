"""What export and import share: connecting, logging to stderr, progress bars."""
from __future__ import annotations

import sys
from typing import Callable

from pymongo import MongoClient
from pymongo.errors import PyMongoError
from pymongo.uri_parser import parse_uri

from labkit.deploy import Deployment
from labkit.errors import TransferError
from labkit.uris import mask_uri, password_of, redact, validate_uri

CONNECT_TIMEOUT_MS = 10_000


class Connection:
    """A MongoClient plus a printable name for it; closes the client only if it opened it."""

    def __init__(self, uri_or_client):
        self.secret = None
        self.owned = False
        if isinstance(uri_or_client, Deployment):
            uri_or_client = uri_or_client.uri  # our own client, with the options below
        if isinstance(uri_or_client, str):
            uri = validate_uri(uri_or_client)
            self.secret = password_of(uri)
            self.display = mask_uri(uri)
            # Options written in the URI (e.g. serverSelectionTimeoutMS) win over our defaults.
            given = {key.lower() for key in parse_uri(uri, validate=False).get("options", {})} if uri.startswith("mongodb://") else set()
            # Only server selection is shortened (an unreachable server fails in 10 s): connectTimeoutMS
            # also bounds the driver's heartbeats, and a busy server missing one cancels a running export.
            # Retryable writes off: see import_.py.
            defaults = {"serverSelectionTimeoutMS": CONNECT_TIMEOUT_MS, "retryWrites": False}
            kwargs = {k: v for k, v in defaults.items() if k.lower() not in given}
            self.client = MongoClient(uri, tz_aware=True, **kwargs)
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
        text = str(exc).split(", Timeout:")[0].split(", full error:")[0]
        return redact(text, self.secret)

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


def progress(desc: str, quiet: bool, total: int | None = None, unit: str = "doc"):
    """A tqdm bar on stderr: the notebook widget in Jupyter, text in a terminal, nothing when
    stderr is a pipe or a file (so test output and logs stay clean) or with --quiet."""
    from tqdm import tqdm as text_tqdm

    in_notebook = "ipykernel" in sys.modules and "IPython" in sys.modules
    interactive = in_notebook or (hasattr(sys.stderr, "isatty") and sys.stderr.isatty())
    if quiet or not interactive:
        return text_tqdm(total=total, disable=True)
    if in_notebook:
        from tqdm.auto import tqdm as auto_tqdm

        return auto_tqdm(total=total, desc=desc, unit=unit, unit_scale=True, file=sys.stderr)
    return text_tqdm(total=total, desc=desc, unit=unit, unit_scale=True, file=sys.stderr, leave=False)
