"""Files and times every layer uses: atomic writes, JSON lines, UTC timestamps.

Everything here creates files readable by their owner only (0600): lab state
may describe a learner's deployments.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import re
import secrets
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


def temp_path_for(path: str | os.PathLike) -> Path:
    """A fresh, unguessable name beside ``path`` for writing it atomically (``.NAME.RANDOM.tmp``), cut so that
    it fits the file system's longest name even when ``path``'s own name is as long as allowed."""
    path = Path(path)
    tail = f".{secrets.token_hex(6)}.tmp"
    try:
        longest = os.pathconf(path.parent, "PC_NAME_MAX")
    except (OSError, ValueError):
        longest = 255
    room = longest - len(os.fsencode(tail)) - 1  # the leading dot
    name = os.fsencode(path.name)[:room].decode(errors="ignore")  # never half a UTF-8 character
    return path.with_name(f".{name}{tail}")


def create_private(path: str | os.PathLike) -> int:
    """A new file at ``path``, owner-only, opened for writing; never follows or reuses what is already there
    (a link someone placed at the name fails instead of redirecting the write)."""
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)


def write_atomic(path: str | os.PathLike, write, *, binary: bool = False, fsync: bool = False) -> None:
    """Call ``write(file)`` on a temporary file beside ``path``, then rename it over ``path``.

    A reader sees the old file or the new one, never half of one; on any error the
    temporary file is removed and ``path`` is left as it was.
    """
    path = Path(path)
    tmp = temp_path_for(path)
    fd = create_private(tmp)
    try:
        with open(fd, "wb" if binary else "w") as f:
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


# --- output files named by the user (--out): devices and pipes directly, regular files atomically --------

# Paths that name one of this process's open descriptors: write to that descriptor, as a shell would.
_DESCRIPTOR_PATH = re.compile(r"/dev/(?P<std>stdin|stdout|stderr)|/dev/fd/(?P<fd>\d+)|/proc/(?:self|thread-self|"
                              r"(?P<pid>\d+))/fd/(?P<pfd>\d+)")
_STANDARD = {"stdin": 0, "stdout": 1, "stderr": 2}


class OutputFile:
    """Where a command writes the file a user named (``--out PATH``), as the Unix tools do.

    A terminal, a device (``/dev/null``), a named pipe, or a descriptor path (``/dev/stdout``, ``/dev/fd/3``)
    is written directly and never replaced, whoever runs it (root too). Anything else is a regular file,
    new or replaced: written to an owner-only temporary file beside it (a name that fits however long the
    target's name is) and renamed over it by ``commit``, so a reader sees the old file or the new one and
    a failure leaves the old one; a link is followed to the file it names. A regular file is refused in a
    folder another user could change (``unsafe_folder``): they could swap the file after it is written.

    ``open()`` returns a text file (or binary with ``binary=True``); then ``commit()`` on success or
    ``discard()`` on failure. Errors are OSError subclasses with a ``strerror`` a message can show; a
    problem of the path itself raises ``OutputRefused`` (a ValueError) saying what is wrong.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = os.path.abspath(os.fspath(path))
        self.direct = False  # written in place: a device, a pipe, a descriptor
        self.target: str | None = None  # the regular file that commit() replaces
        self.tmp: Path | None = None
        self._file = None

    def open(self, *, binary: bool = False, encoding: str = "utf-8"):
        fd = self._open_fd()
        mode = "wb" if binary else "w"
        try:
            self._file = open(fd, mode, **({} if binary else {"encoding": encoding, "newline": ""}))
        except BaseException:
            os.close(fd)
            raise
        return self._file

    def _open_fd(self) -> int:
        named = _DESCRIPTOR_PATH.fullmatch(self.path)
        if named and named["pid"] in (None, str(os.getpid())):
            number = _STANDARD[named["std"]] if named["std"] else int(named["fd"] or named["pfd"])
            self.direct = True
            return os.dup(number)  # the descriptor as it is: a file, a pipe or a terminal, its offset and mode
        try:
            info = os.stat(self.path)
        except FileNotFoundError:
            info = None
        if info is not None and stat.S_ISDIR(info.st_mode):
            raise OutputRefused(f"{self.path} is a directory; give a file name")
        if info is not None and stat.S_ISSOCK(info.st_mode):
            raise OutputRefused(f"{self.path} is a socket, which cannot be opened as a file")
        if info is not None and not stat.S_ISREG(info.st_mode):
            self.direct = True
            return os.open(self.path, os.O_WRONLY | os.O_NOCTTY | os.O_CLOEXEC)
        self.target = os.path.realpath(self.path)
        folder = os.path.dirname(self.target)
        if not os.path.isdir(folder):
            raise OutputRefused(f"the folder {folder} does not exist")
        reason = unsafe_folder(folder)
        if reason:
            raise OutputRefused(f"{reason}, so another user of this machine could replace {self.target} "
                                "after it is written; write it in a folder only you can change")
        self.tmp = temp_path_for(self.target)
        return create_private(self.tmp)

    def commit(self) -> None:
        """Make the output complete: flush (a device or pipe), or fsync and rename over the target."""
        self._file.flush()
        if self.tmp is None:
            self._file.close()
            return
        os.fsync(self._file.fileno())
        self._file.close()
        os.replace(self.tmp, self.target)
        self.tmp = None
        fsync_dir(os.path.dirname(self.target))

    def discard(self) -> None:
        """After a failure: close, and remove the temporary file (the target stays as it was)."""
        if self._file is not None:
            with contextlib.suppress(OSError):
                self._file.close()
        if self.tmp is not None:
            self.tmp.unlink(missing_ok=True)
            self.tmp = None


class OutputRefused(ValueError):
    """An output path labkit will not write (a folder, a socket, a folder others may change)."""
