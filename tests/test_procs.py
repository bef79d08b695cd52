"""labkit only ever touches its own user's processes, and only the one a record names (issues 22 and 23).

Real processes: a `sleep` started as another OS user with the very marker labkit would look for, and
processes of our own whose command lines merely resemble a marker.
"""
from __future__ import annotations

import contextlib
import os
import signal
import subprocess

import pytest

from labkit import procs

MARKER = "--labkit-process=/home/learner/.labkit/partial-recovery/workload"


@pytest.fixture
def started():
    """``start(args, user=None)`` runs a process (as another user when given); all are stopped afterwards."""
    running: list[subprocess.Popen] = []

    def start(args: list[str], user=None) -> subprocess.Popen:
        proc = subprocess.Popen(args, user=user.uid if user else None, group=user.gid if user else None,
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True)
        running.append(proc)
        return proc

    yield start
    for proc in running:  # the shell and its sleep
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)


def sleeper(*extra: str) -> list[str]:
    """A shell that waits, ``extra`` in its command line (the system's sh: any user may run it)."""
    return ["/bin/sh", "-c", "trap 'kill $!; exit 143' TERM; sleep 600 & wait", "sh", *extra]


def test_another_users_process_is_never_ours_even_with_our_marker(started, make_os_user):
    other = make_os_user()
    proc = started(sleeper(MARKER), user=other)
    assert procs.owner(proc.pid) == other.uid
    assert not procs.alive(proc.pid, MARKER)
    assert not procs.alive(proc.pid)  # not even without a marker
    assert not procs.recorded_alive({"pid": proc.pid, "marker": MARKER})
    assert procs.terminate(proc.pid, MARKER, timeout=1) is False
    assert procs.stop_recorded({"pid": proc.pid, "marker": MARKER}, 1) is False
    assert proc.poll() is None  # still running: nothing was sent to it
    assert proc.pid not in procs.pids_with(MARKER)
    # Acting for that user (as an instructor's cleanup run as root would) is explicit.
    assert procs.alive(proc.pid, MARKER, uid=other.uid)
    assert proc.pid in procs.pids_with(MARKER, uid=other.uid)


def test_a_record_without_a_whole_marker_matches_nothing(started):
    proc = started(sleeper(MARKER + "-not-quite", "x" + MARKER))
    for record in ({"pid": proc.pid}, {"pid": proc.pid, "marker": ""}, {"pid": proc.pid, "marker": None},
                   {"pid": proc.pid, "marker": MARKER}, {"pid": proc.pid, "marker": ["list"]}):
        assert not procs.recorded_alive(record), record
        assert procs.stop_recorded(record, 1) is False
    assert proc.poll() is None
    assert procs.alive(proc.pid, MARKER + "-not-quite")  # the whole argument is a match
    assert procs.recorded_alive({"pid": proc.pid, "marker": MARKER + "-not-quite"})


@pytest.mark.parametrize("pid", [None, 0, -1, True, "123", 1.5])
def test_nonsense_pids_are_not_alive(pid):
    assert not procs.alive(pid)
    assert not procs.recorded_alive({"pid": pid, "marker": MARKER})


def test_our_own_recorded_process_is_stopped(started):
    proc = started(sleeper(MARKER))
    record = {"pid": proc.pid, "marker": MARKER}
    assert procs.recorded_alive(record)
    assert procs.stop_recorded(record, 10) is False  # it went on SIGTERM, no SIGKILL needed
    assert not procs.alive(proc.pid)  # gone (terminate reaped it: its exit status is not ours to read)
