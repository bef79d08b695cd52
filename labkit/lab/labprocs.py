"""Which labs an OS user runs, read from the process table: no file of theirs is opened.

Every process a lab starts names its workspace in its command line, as one whole
argument: a server its storage folder (``<workspace>/main/data`` after
``--storage-path``), the application, the backup capture and the idle watchdog
their marker ``--labkit-process=<workspace>/<name>`` (see ``Workspace.start_process``).
The class status reads learners' liveness here when it is asked (never stale
after ``labkit down`` or an idle stop), and the class cleanup finds every lab a
learner left running, not only the one their record names.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import PurePosixPath

import psutil

MARKER = "--labkit-process="
SERVERS = ("main", "temp")
HIDDEN = ("1", "2", "4", "noaccess", "invisible", "ptraceable")  # /proc's hidepid values that hide others


@dataclass(frozen=True)
class LabProcess:
    pid: int
    uid: int
    workspace: str  # the workspace folder as the lab wrote it
    name: str  # main, temp, workload, capture, idle-stop, ...
    marker: str  # the whole argument that identifies it: what procs.alive(pid, marker, uid=uid) checks


def lab_process_of(args: list[str]) -> tuple[str, str, str] | None:
    """(workspace, name, marker) of a lab's process from its command line, or None for any other process."""
    for i, arg in enumerate(args):
        if arg.startswith(MARKER):
            workspace, _, name = arg[len(MARKER):].rpartition("/")
            if workspace.startswith("/") and name:
                return workspace, name, arg
        if arg == "--storage-path" and i + 1 < len(args):
            storage = PurePosixPath(args[i + 1])
            if storage.is_absolute() and storage.name == "data" and storage.parent.name in SERVERS:
                return str(storage.parent.parent), storage.parent.name, args[i + 1]
    return None


def lab_processes(uids: set[int] | None = None) -> list[LabProcess]:
    """Every lab process this user can see, of the users ``uids`` (all when None); zombies left out."""
    found = []
    for process in psutil.process_iter(["pid", "uids"]):
        try:
            uid = process.info["uids"].real if process.info["uids"] else None
            if uid is None or (uids is not None and uid not in uids):
                continue
            if process.status() == psutil.STATUS_ZOMBIE:
                continue
            lab = lab_process_of(process.cmdline())
        except (psutil.Error, OSError):
            continue
        if lab:
            found.append(LabProcess(process.pid, uid, *lab))
    return found


def running_labs(uids: set[int] | None = None) -> dict[int, dict[str, dict[str, int]]]:
    """uid -> workspace -> {process name: pid}: what each user's labs run right now."""
    labs: dict[int, dict[str, dict[str, int]]] = {}
    for process in lab_processes(uids):
        labs.setdefault(process.uid, {}).setdefault(process.workspace, {})[process.name] = process.pid
    return labs


def can_see(uid: int) -> bool:
    """Whether this process sees ``uid``'s processes and their command lines (``/proc`` with hidepid hides them)."""
    if uid == os.getuid() or os.geteuid() == 0:
        return True
    options = _proc_options()
    hidden = options.get("hidepid", "0") in HIDDEN
    exempt = options.get("gid", "").isdigit() and int(options["gid"]) in {os.getgid(), *os.getgroups()}
    return not hidden or exempt


def _proc_options() -> dict[str, str]:
    """The mount options of /proc (``hidepid``, ``gid``): of the last mount there, the one in use."""
    options: dict[str, str] = {}
    try:
        with open("/proc/self/mountinfo") as mounts:
            for line in mounts:
                fields = line.split()
                if len(fields) > 5 and fields[4] == "/proc" and " - " in line:
                    found = fields[5].split(",") + line.split(" - ", 1)[1].split()[-1].split(",")
                    options = dict(option.partition("=")[::2] for option in found)
    except OSError:
        pass
    return options
