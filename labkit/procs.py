"""Background processes that outlive the process that started them.

Servers, the workload and the oplog capture run detached (own session, output
to a log file) so they survive notebook kernels. A PID is only trusted when
its command line (read through psutil) still carries the marker we started it
with, so a recycled PID is never mistaken for ours (or killed).
"""
from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import psutil


def spawn(args: list[str], log_path: Path, env: dict | None = None, cwd: Path | None = None) -> subprocess.Popen:
    """Start ``args`` detached, output appended to ``log_path``, with umask 077: what it writes is its owner's only."""
    log_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with open(fd, "ab", buffering=0) as log:
        os.chmod(log_path, 0o600)
        return subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # not killed with the kernel or terminal that started it
            env=env,
            cwd=cwd,
            close_fds=True,
            umask=0o077,
        )


def cmdline(pid: int) -> str | None:
    """The process's command line joined by spaces; None when it is gone or not ours to read."""
    try:
        return " ".join(psutil.Process(pid).cmdline())
    except (psutil.Error, OSError):
        return None


def owner(pid: int) -> int | None:
    """The real user id ``pid`` runs as; None when it is gone."""
    try:
        return psutil.Process(pid).uids().real
    except (psutil.Error, OSError):
        return None


def carries(args: list[str], marker: str | None) -> bool:
    """Whether a command line ``args`` holds ``marker`` as one whole argument (an empty marker matches nothing)."""
    return isinstance(marker, str) and bool(marker) and marker in args


def alive(pid: int | None, marker: str | None = None, *, uid: int | None = None) -> bool:
    """True when ``pid`` runs (a zombie does not) as user ``uid`` (default: ours) and, unless ``marker``
    is None (a child we have just started), its command line carries ``marker`` (see ``carries``)."""
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
        return False
    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return False
        if process.uids().real != (os.getuid() if uid is None else uid):
            return False
        return marker is None or carries(process.cmdline(), marker)
    except (psutil.Error, OSError):
        return False


def recorded_alive(record: dict, *, uid: int | None = None) -> bool:
    """The process a lab record names (``pid`` and ``marker``) still runs as ours; never without a marker."""
    return alive(record.get("pid"), record.get("marker") or "", uid=uid)


def stop_recorded(record: dict, timeout: float = 10.0, *, uid: int | None = None) -> bool:
    """``terminate`` the process a lab record names, if ``recorded_alive`` accepts it."""
    return terminate(record.get("pid"), record.get("marker") or "", timeout, uid=uid)


def pids_with(text: str, *, uid: int | None = None) -> list[int]:
    """Live processes of user ``uid`` (default: ours; not zombies, not this one or its ancestors) whose
    command line contains ``text``."""
    found = []
    own = {os.getpid(), *(p.pid for p in psutil.Process().parents())}
    uid = os.getuid() if uid is None else uid
    for process in psutil.process_iter(["pid", "uids"]):
        if process.pid in own or process.info["uids"] is None or process.info["uids"].real != uid:
            continue
        try:
            if process.status() != psutil.STATUS_ZOMBIE and text in " ".join(process.cmdline()):
                found.append(process.pid)
        except (psutil.Error, OSError):
            continue
    return found


def reap(pid: int) -> None:
    """Collect a finished child of ours so it does not linger as a zombie."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def terminate(pid: int, marker: str | None = None, timeout: float = 10.0, *, uid: int | None = None) -> bool:
    """SIGTERM, wait up to ``timeout`` s, then SIGKILL; only a process ``alive`` accepts. True if it had to kill."""
    if not alive(pid, marker, uid=uid):
        return False
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        reap(pid)
        if not alive(pid, marker, uid=uid):
            return False
        time.sleep(0.05)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return False
    for _ in range(100):
        reap(pid)
        if not alive(pid, marker, uid=uid):
            break
        time.sleep(0.05)
    return True


def tail(path: Path, lines: int = 15) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.rstrip().splitlines()[-lines:])
