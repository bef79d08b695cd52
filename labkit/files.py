"""Files and times every layer uses: atomic writes, JSON lines, UTC timestamps.

Everything here creates files readable by their owner only (0600): lab state
may describe a learner's deployments.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import stat
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


def mkdir_private(path: str | os.PathLike) -> Path:
    """``path`` and every missing folder above it, each created readable by its owner only (0700)."""
    path = Path(path)
    missing = []
    while not path.exists():
        missing.append(path)
        path = path.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=0o700)
        except FileExistsError:
            pass
    return Path(path) if not missing else missing[0]


def make_tree_private(root: str | os.PathLike) -> None:
    """Take away every permission of group and others under ``root`` (files made by older versions)."""
    for folder, dirs, files in os.walk(root):
        for name in [folder, *(os.path.join(folder, f) for f in files)]:
            try:
                mode = os.lstat(name).st_mode
                if mode & 0o077 and not os.path.islink(name):
                    os.chmod(name, mode & 0o700)
            except OSError:
                pass


def open_private(path: str | os.PathLike, mode: str = "wb", **kwargs):
    """``open(path, mode)`` for writing, the file created readable by its owner only (0600)."""
    flags = os.O_WRONLY | os.O_CREAT
    if "a" in mode:
        flags |= os.O_APPEND
    elif "w" in mode:
        flags |= os.O_TRUNC
    fd = os.open(path, flags, 0o600)
    try:
        return open(fd, mode, **kwargs)
    except BaseException:
        os.close(fd)
        raise


_umask_lock = threading.Lock()


@contextlib.contextmanager
def private_umask():
    """Within the block (or a function it decorates) new files are 0600 and folders 0700, also in
    the processes started meanwhile (notebook kernels, servers). The umask is process-wide: the
    previous one comes back after."""
    with _umask_lock:
        previous = os.umask(0o077)
    try:
        yield
    finally:
        with _umask_lock:
            os.umask(previous)


def fsync_dir(path: str | os.PathLike) -> None:
    """Make a rename or a new file in ``path`` durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def unsafe_folder(path: str | os.PathLike) -> str | None:
    """Why another user of this machine could swap or change the folder ``path``, or None when it is safe.

    ``path`` (where it exists) must be a real folder of our own, and every folder above it, up to ``/``,
    ours or root's: none of them writable by group or others, except a sticky folder such as ``/tmp``,
    where nobody may rename or delete what is not theirs. Symbolic links on the way must be ours or
    root's. The same rule as OpenSSH's for the files it trusts.
    """
    uid = os.getuid()
    path = Path(os.path.abspath(path))
    try:
        # What the path passes through as written: a link someone else made could be re-pointed.
        for part in [path, *path.parents]:
            try:
                info = os.lstat(part)
            except (FileNotFoundError, NotADirectoryError):
                continue
            if stat.S_ISLNK(info.st_mode) and info.st_uid not in (uid, 0):
                return f"{part} is a symbolic link that belongs to another user (uid {info.st_uid})"
        real = Path(os.path.realpath(path))
        for part in [real, *real.parents]:
            try:
                info = os.lstat(part)
            except (FileNotFoundError, NotADirectoryError):
                continue
            if not stat.S_ISDIR(info.st_mode):
                continue  # nothing can be made under a file: using it fails with its own error
            if part == real and info.st_uid != uid:
                return f"{part} belongs to another user (uid {info.st_uid})"
            if info.st_uid not in (uid, 0):
                return f"{part} belongs to another user (uid {info.st_uid})"
            if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH) and not info.st_mode & stat.S_ISVTX:
                return f"{part} is writable by {'others' if info.st_mode & stat.S_IWOTH else 'its group'} " \
                       f"(mode {stat.S_IMODE(info.st_mode):04o})"
    except OSError as exc:
        return f"{exc.filename or path} cannot be inspected ({exc.strerror or exc})"
    return None
