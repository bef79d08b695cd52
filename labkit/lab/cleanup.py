"""After class: stop every lab the learners left running, without lending anyone root's power.

Who is in the class: the OS users that own the records of the class folder (a
record's content is its writer's to choose, its owner is not). Which labs: every
workspace their records name and every workspace their running processes name
(``labprocs``), so a learner's several labs are all found.

How, as root: for each lab, a forked child drops to that learner's uid and gid
(no supplementary groups) and runs the normal ``Workspace.down`` there, then
stops any process of the learner still carrying that workspace's marker. Every
safety check of ``labkit down`` thus runs as the learner: only the learner's
own processes can be signalled, and nothing is written as root (no root-owned
file locks the learner out afterwards). Before forking, root only looks, never
following a link: a workspace that is a link, is not the learner's, or holds a
``.lock``, ``.busy``, ``state.json`` or ``credentials.json`` that is a link or
another user's, is reported and not touched. Ownership is never changed.

As an instructor who is not root: the instructor's own labs are stopped; every
learner's lab still running is reported as not reached, with what it runs.
"""
from __future__ import annotations

import json
import os
import pwd
import stat
from dataclasses import dataclass, field
from pathlib import Path

from labkit import procs
from labkit.errors import LabkitError
from labkit.lab import labprocs
from labkit.lab.classroom import clean, os_user_name, scan_records
from labkit.workspace import Workspace

WORKSPACE_FILES = (".lock", ".busy", "state.json", "credentials.json")  # what a stop opens or writes in it


@dataclass
class Report:
    """What cleanup did: one line per lab it stopped, refused or could not reach, one summary per user."""

    lines: list[str] = field(default_factory=list)
    stopped: int = 0
    unreached: int = 0


def cleanup(folder: str | os.PathLike, progress=None) -> Report:
    say = progress or (lambda line: None)
    report = Report()
    named: dict[int, list[str]] = {}  # uid -> the workspaces its records name
    for found in scan_records(folder):
        if found.record is None:
            report.lines.append(f"skipped {found.name}: {found.problem}")
        named.setdefault(found.uid, []).extend(_workspaces_of(found.record or {}))
    running = labprocs.running_labs(set(named))
    for uid in sorted(named):
        user = os_user_name(uid)
        if uid == 0:
            report.lines.append("root: a record written by root is no learner's: root's labs are left alone")
            continue
        paths = list(dict.fromkeys([*named[uid], *running.get(uid, {})]))
        counts: dict[str, int] = {}
        for path in paths:
            kind, line = _clean_up_lab(uid, user, path, running.get(uid, {}).get(path, {}), say)
            counts[kind] = counts.get(kind, 0) + 1
            if line:  # paths and process names come from learners' files and processes: one printable line
                report.lines.append(f"{user}: {clean(path, 300)}: {clean(line, 600)}")
        report.stopped += counts.get("stopped", 0)
        report.unreached += counts.get("unreached", 0)
        summary = ", ".join(f"{n} {PHRASES[kind]}" for kind, n in counts.items()) or "no lab found"
        report.lines.append(f"{user}: {summary} ({len(paths)} workspace(s) looked at)")
    if report.unreached:
        report.lines.append(f"{report.unreached} lab(s) not reached: only root (or each learner, with labkit down) "
                            "can stop another user's lab. Run labkit class cleanup as root.")
    return report


def _workspaces_of(record: dict) -> list[str]:
    named = record.get("workspaces") if isinstance(record.get("workspaces"), list) else []
    return [path for path in [*named, record.get("workspace")] if isinstance(path, str) and path.startswith("/")]


def _clean_up_lab(uid: int, user: str, path: str, seen: dict, say) -> tuple[str, str | None]:
    """(kind, line): stop the lab at ``path`` of OS user ``uid``; the line is None when there is nothing to say."""
    me = os.geteuid()
    if uid != me and me != 0:
        if seen:
            return "unreached", f"not reached: runs {', '.join(sorted(seen))} as OS user {user}"
        if labprocs.can_see(uid):
            return "down", None
        return "unreached", f"not reached: OS user {user}'s processes are hidden from you (/proc hidepid)"
    refused = refuse(path, uid) if uid != me else None
    if uid == me:
        say(f"Stopping your lab at {clean(path, 300)} ...")
        outcome = stop_own_lab(path)
    else:
        try:
            entry = pwd.getpwuid(uid)
        except KeyError:
            return "refused", f"not touched: uid {uid} is no OS user any more"
        if refused and not seen:
            return "refused", f"not touched: {refused}"
        say(f"Stopping {user}'s lab at {clean(path, 300)} (as {user}) ...")
        # A workspace root must not open is not opened: its processes are only signalled, as their owner.
        outcome = run_as(uid, entry.pw_gid, entry.pw_dir, stop_processes if refused else stop_own_lab, path)
    left = sorted(p.name for p in labprocs.lab_processes({uid}) if p.workspace == path)
    done = ", ".join(outcome["done"])
    problem = clean(outcome.get("error") or (refused and f"not opened: {refused}") or "", 300)
    if left:
        return "unreached", f"could not stop it{f' ({problem})' if problem else ''}{f'; {done}' if done else ''}; " \
                            f"still running: {', '.join(left)}"
    if done:
        return "stopped", f"{problem}; {done}" if problem else done
    note = outcome.get("note")
    if refused:
        return "refused", f"not touched: {refused}"
    if note == "no workspace there" and not problem:
        return "gone", None
    if problem or note not in (None, "already down"):
        return "down", problem or clean(note, 300)
    return "down", None


PHRASES = {"stopped": "stopped", "down": "with nothing running", "gone": "no longer there", "refused": "refused",
           "unreached": "not reached"}


def refuse(path: str, uid: int) -> str | None:
    """Why root must not act on ``path`` for ``uid`` (looked at without following a link), or None."""
    folder = Path(path)
    if not folder.is_absolute() or ".." in folder.parts:
        return "not an absolute path"
    user = os_user_name(uid)
    try:
        info = os.lstat(folder)
    except FileNotFoundError:
        return None  # gone: only processes still carrying its name are left, stopped as their owner
    except OSError as exc:
        return f"cannot be inspected ({exc.strerror})"
    if stat.S_ISLNK(info.st_mode):
        return "it is a symbolic link; labkit follows no link for another user"
    if not stat.S_ISDIR(info.st_mode):
        return "not a folder"
    if info.st_uid != uid:
        return f"it belongs to {os_user_name(info.st_uid)}, not to {user}"
    for name in WORKSPACE_FILES:
        try:
            inner = os.lstat(folder / name)
        except FileNotFoundError:
            continue
        except OSError as exc:
            return f"{name} cannot be inspected ({exc.strerror})"
        if stat.S_ISLNK(inner.st_mode):
            return f"its {name} is a symbolic link; labkit follows no link for another user"
        if not stat.S_ISREG(inner.st_mode) or inner.st_uid != uid:
            return f"its {name} is not a file of {user}'s"
    return None


def stop_own_lab(path: str) -> dict:
    """As the lab's owner: what ``labkit down`` does for the workspace at ``path``, then any process of ours
    still carrying its marker (a state that lost track of one, a deleted folder). {"done", "note"}."""
    done, note = [], None
    ws = Workspace(path)
    try:
        if not ws.exists():
            note = "no workspace there"
        elif ws.is_up():
            done += ws.down()
        else:
            note = "already down"
    except LabkitError as exc:
        note = str(exc).splitlines()[0]
    except OSError as exc:
        note = f"cannot be read ({exc.strerror or exc})"
    return {"done": done + stop_processes(path)["done"], "note": note}


def stop_processes(path: str) -> dict:
    """As their owner: stop our processes that carry the marker of the workspace at ``path`` (without
    opening anything in it). {"done"}."""
    done = []
    found = [p for p in labprocs.lab_processes({os.getuid()}) if p.workspace == path and p.pid != os.getpid()]
    for process in sorted(found, key=lambda p: p.name in labprocs.SERVERS):  # servers last, as down does
        if procs.alive(process.pid, process.marker):
            procs.terminate(process.pid, process.marker, timeout=15)
            done.append(f"stopped {process.name} (pid {process.pid})")
    return {"done": done}


def run_as(uid: int, gid: int, home: str, fn, *args) -> dict:
    """``fn(*args)`` in a forked child that has dropped to ``uid``/``gid`` for good; its JSON-able result,
    or {"error": ...} with the child's one-line reason."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: become the learner, never come back
        try:
            try:
                os.close(read_end)
                os.setgroups([])
                os.setgid(gid)
                os.setuid(uid)  # real, effective and saved: no way back to root
                os.umask(0o077)
                os.environ["HOME"] = home
                os.chdir("/")
                payload = {"done": [], **fn(*args)}
            except BaseException as exc:  # noqa: BLE001 - reported to the parent as one line
                payload = {"done": [], "error": clean(f"{type(exc).__name__}: {exc}", 300)}
            data = json.dumps(payload, default=str).encode()
            while data:
                data = data[os.write(write_end, data):]
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        answer = pipe.read()
    os.waitpid(pid, 0)
    try:
        return json.loads(answer)
    except ValueError:
        return {"done": [], "error": "the stop as the learner ended without an answer"}
