"""A lab nobody uses stops by itself: the idle watchdog.

``labkit up`` (and the notebooks' step that brings Main and Temp up) start it
as a process the workspace owns. Every minute it looks at the workspace's last
activity: the last change of its state or its event log, which every lab
action, check and command writes. After ``LABKIT_IDLE_MINUTES`` without
activity (default: a class day, 8 hours; 0 turns it off), and never while a
restore or an import holds the workspace's busy lock, it stops everything the
lab runs, as ``labkit down`` does, and notes what was running. ``labkit up``
(or the notebooks' first step) brings the lab back with its data, and restarts
what was running: the backup capture and the application, with its last settings.

The setting is read by ``labkit up`` and the notebooks' first step: a watchdog
started under another ``LABKIT_IDLE_MINUTES`` is replaced at once (or stopped, for
0), so a hub's new setting takes effect at the learner's next start without
``labkit down``.

The watchdog imports nothing but the standard library until it has to stop the
lab: an idle learner's footprint must stay small (see bench/bench_class.py).
"""
from __future__ import annotations

import argparse
import fcntl
import os
import sys
import time

from labkit.errors import ConfigError

IDLE_ENV = "LABKIT_IDLE_MINUTES"
DEFAULT_MINUTES = 8 * 60
PROCESS = "idle-stop"
LONGEST_POLL_SECONDS = 60.0


def idle_minutes() -> float | None:
    """The configured idle time in minutes, or None when idle stops are off (0)."""
    raw = os.environ.get(IDLE_ENV, "").strip()
    if not raw:
        return float(DEFAULT_MINUTES)
    try:
        minutes = float(raw)
    except ValueError:
        minutes = -1.0
    if not minutes >= 0 or minutes == float("inf"):
        raise ConfigError(f"{IDLE_ENV}={raw!r} is not a number of minutes: give e.g. {DEFAULT_MINUTES} "
                          "(a lab nobody used for that long stops by itself), or 0 to keep labs running.")
    return minutes or None


def ensure_watch(ws, say=None) -> int | None:
    """Make the workspace's watchdog follow the configured idle time; returns the pid of one it started.

    None when one already watches with that time, or idle stops are off (a running one is then stopped).
    """
    say = say or (lambda line: None)
    minutes = idle_minutes()
    record = ws.process_record(PROCESS)
    watching = bool(record) and ws.process_alive(PROCESS)
    changed = bool(record) and watched_minutes(record) != minutes  # the hub's setting changed since
    if minutes is None:
        if watching:
            ws.stop_process(PROCESS)
            say(f"Idle stop: off from now on ({IDLE_ENV} changed).")
        return None
    if watching and not changed:
        return None
    if watching:
        ws.stop_process(PROCESS)
    if changed:
        say(f"Idle stop: after {minutes:g} min without activity from now on ({IDLE_ENV} changed).")
    return ws.start_process(PROCESS, [sys.executable, "-m", "labkit.lab.idle", "--minutes", repr(minutes),
                                      str(ws.state_file), str(ws.events_file), str(ws.busy_file)],
                            stop_rank=0, stop_timeout=5)


def watched_minutes(record: dict) -> float | None:
    """The idle time a running watchdog was started with (from its recorded command line)."""
    args = record.get("args") or []
    try:
        return float(args[args.index("--minutes") + 1])
    except (ValueError, IndexError, TypeError):
        return None


def resume(ws, say=print) -> list[str]:
    """After ``ws.up()``: restart what an idle stop stopped (the backup capture, the application), then
    make the watchdog follow ``LABKIT_IDLE_MINUTES``. Returns the names restarted."""
    resumed = []
    stopped = (ws.read().get("idle_stop") or {}).get("processes", [])
    # The capture first: it then reads the oplog on from where it stopped, before the application writes.
    for name in sorted(stopped, key=lambda name: name != "capture"):
        restart = RESTARTERS.get(name)
        if restart is None:
            say(f"{name} was running when the lab stopped for being idle: start it again yourself.")
            continue
        if restart(ws, say):
            resumed.append(name)
    if stopped:
        with ws.edit() as state:
            state.pop("idle_stop", None)
    ensure_watch(ws, say)
    return resumed


def _restart_capture(ws, say) -> bool:
    from labkit.backup import Backup  # here, not at the top: the watchdog process never needs it

    backup = Backup(ws)
    if backup.capture_running():
        return False
    backup.enable()
    say("The backup capture was stopped with the idle lab: restarted (it reads Main's oplog on from where it stopped).")
    return True


def _restart_workload(ws, say) -> bool:
    from labkit.workload import Workload  # here, not at the top: the watchdog process never needs it

    workload = Workload(ws)
    if workload.running():
        return False
    last = ws.read().get("workload") or {}
    workload.start(rate=last.get("rate", 10.0), db=last.get("db", "test"),
                   collection=last.get("collection", "customers"))
    say(f"The application was stopped with the idle lab: restarted ({last.get('rate', 10.0):g} inserts/s).")
    return True


RESTARTERS = {"capture": _restart_capture, "workload": _restart_workload}


def last_activity(*paths: str) -> float:
    """The latest modification time among ``paths`` (0 when none exists)."""
    times = []
    for path in paths:
        try:
            times.append(os.stat(path).st_mtime)
        except OSError:
            continue
    return max(times, default=0.0)


def watch(minutes: float, state_file: str, events_file: str, busy_file: str) -> str:
    """Wait until the lab is idle for ``minutes`` (and not busy), stop it; returns why the watch ended."""
    limit = minutes * 60
    poll = min(LONGEST_POLL_SECONDS, max(limit / 10, 0.2))
    while True:
        time.sleep(poll)
        if not os.path.exists(state_file):
            return "the workspace was deleted"
        if time.time() - last_activity(state_file, events_file) < limit:
            continue
        with open(os.open(busy_file, os.O_RDWR | os.O_CREAT, 0o600)) as busy:
            try:
                fcntl.flock(busy, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # a restore or an import is running: never stop in the middle of one
            return stop_lab(os.path.dirname(state_file), minutes)


def stop_lab(path: str, minutes: float) -> str:
    from labkit.files import now_iso  # only now: importing the workspace brings the driver
    from labkit.workspace import Workspace

    ws = Workspace(path)
    state = ws.read()
    if not state.get("up"):
        return "the lab was already down"
    running = [name for name, record in state.get("processes", {}).items()
               if name != PROCESS and record.get("pid") and ws.process_alive(name)]
    done = ws.down(progress=lambda line: print(line, flush=True))
    with ws.edit() as state:
        state["idle_stop"] = {"time": now_iso(), "after_minutes": minutes, "processes": running}
    ws.log_event("idle-stop", minutes=minutes, stopped=done)
    return f"stopped the lab after {minutes:g} min without activity: {', '.join(done) or 'nothing ran'}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m labkit.lab.idle", description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, required=True)
    parser.add_argument("state_file")
    parser.add_argument("events_file")
    parser.add_argument("busy_file")
    parser.add_argument("--labkit-process", help="marker identifying the process; ignored")
    args = parser.parse_args(argv)
    print(f"watching {os.path.dirname(args.state_file)}: idle stop after {args.minutes:g} min", flush=True)
    print(watch(args.minutes, args.state_file, args.events_file, args.busy_file), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
