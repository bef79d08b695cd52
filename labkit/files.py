"""Files and times every layer uses: atomic writes, JSON lines, UTC timestamps.

Everything here creates files readable by their owner only (0600): lab state
may describe a learner's deployments.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import threading
from pathlib import Path


def now_iso() -> str:
    """The current UTC time as ``2026-12-01T15:04:05.123Z``."""
    return iso_utc(dt.datetime.now(dt.timezone.utc))


def iso_utc(moment: dt.datetime | float) -> str:
    """A datetime (naive means UTC) or epoch seconds as ``...T...123Z``, to the millisecond."""
    if not isinstance(moment, dt.datetime):
        moment = dt.datetime.fromtimestamp(moment, dt.timezone.utc)
    elif moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return moment.astimezone(dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_iso(text: str) -> dt.datetime:
    """The inverse of ``iso_utc`` (and any ISO-8601 time with an offset or a ``Z``)."""
    return dt.datetime.fromisoformat(str(text).replace("Z", "+00:00"))


def write_atomic(path: str | os.PathLike, write, *, binary: bool = False, fsync: bool = False) -> None:
    """Call ``write(file)`` on a temporary file beside ``path``, then rename it over ``path``.

    A reader sees the old file or the new one, never half of one; on any error the
    temporary file is removed and ``path`` is left as it was.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb" if binary else "w") as f:
            write(f)
            if fsync:
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_json(path: str | os.PathLike, data, *, indent: int | None = None, fsync: bool = False) -> None:
    """``data`` as JSON in ``path``, atomically (see ``write_atomic``)."""
    write_atomic(path, lambda f: json.dump(data, f, indent=indent, sort_keys=indent is not None, default=str),
                 fsync=fsync)


def read_json(path: str | os.PathLike) -> dict | None:
    """The JSON in ``path``, or None when it is missing or not JSON (a reader must never crash on it)."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None


def append_jsonl(path: str | os.PathLike, record: dict) -> None:
    """Append ``record`` as one JSON line. One write per line: concurrent writers never interleave."""
    line = (json.dumps(record, sort_keys=True, default=str) + "\n").encode()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


def fsync_dir(path: str | os.PathLike) -> None:
    """Make a rename or a new file in ``path`` durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
