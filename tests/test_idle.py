"""A lab nobody uses stops by itself, never in the middle of a restore or an import, and comes back with `up`."""
from __future__ import annotations

import fcntl
import os
import threading
import time

import pytest

from labkit import procs
from labkit.backup import Backup
from labkit.lab import idle
from labkit.workspace import Workspace

IDLE_MINUTES = "0.05"  # 3 s: the watchdog polls every 0.3 s


@pytest.fixture
def idle_env(clean_env):
    clean_env.setenv(idle.IDLE_ENV, IDLE_MINUTES)
    return dict(os.environ)


@pytest.fixture
def workspace(tmp_path):
    ws = Workspace(tmp_path / "ws")
    yield ws
    if ws.is_up():
        ws.down()


def test_an_idle_lab_stops_itself_and_up_brings_it_back_with_its_data_capture_and_application(
        workspace, idle_env, labkit_cli, wait_for):
    started = labkit_cli("up", "--workspace", str(workspace.path), env=idle_env)
    assert started.returncode == 0, started.stderr
    assert workspace.process_alive(idle.PROCESS)
    workspace.main.client.test.kept.insert_one({"_id": "before the idle stop"})
    capture = labkit_cli("backup", "enable", "--workspace", str(workspace.path), env=idle_env)
    assert capture.returncode == 0, capture.stderr
    app = labkit_cli("workload", "start", "--workspace", str(workspace.path), "--rate", "20", env=idle_env)
    assert app.returncode == 0, app.stderr
    servers = [record["pid"] for record in workspace.read()["deployments"].values()]
    capture_pid = workspace.process_record("capture")["pid"]

    # The watchdog logs its event last, after stopping everything and noting what ran.
    wait_for(lambda: any(e["kind"] == "idle-stop" for e in workspace.events()), 120, "the idle lab to stop")
    state = workspace.read()
    assert not state["up"]
    assert sorted(state["idle_stop"]["processes"]) == ["capture", "workload"]
    assert state["idle_stop"]["after_minutes"] == 0.05
    assert not any(procs.alive(pid) for pid in [*servers, capture_pid])
    assert not workspace.process_alive("workload") and not workspace.process_alive(idle.PROCESS)
    assert not Backup(workspace).capture_running()
    assert [e["kind"] for e in workspace.events()][-1] == "idle-stop"
    archive = Backup(workspace).archive
    captured_before = archive.key(archive.capture_state(), "last")

    back = labkit_cli("up", "--workspace", str(workspace.path), env={**idle_env, idle.IDLE_ENV: "0"})
    assert back.returncode == 0, back.stderr
    assert "The backup capture was stopped with the idle lab: restarted" in back.stderr
    assert "The application was stopped with the idle lab: restarted (20 inserts/s)" in back.stderr
    assert back.stderr.index("backup capture") < back.stderr.index("application was stopped")
    assert workspace.main.client.test.kept.find_one() == {"_id": "before the idle stop"}
    assert workspace.process_alive("workload") and Backup(workspace).capture_running()
    assert workspace.process_record("capture")["pid"] != capture_pid and "idle_stop" not in workspace.read()
    assert not workspace.process_alive(idle.PROCESS)  # 0: no watchdog
    # The restarted capture reads on: the application's new inserts reach the archive.
    wait_for(lambda: archive.key(archive.capture_state(), "last") > captured_before, 60,
             "the restarted capture to copy the application's new inserts")


def test_a_changed_idle_time_takes_effect_at_the_next_up_without_down(workspace, clean_env, labkit_cli, wait_for):
    w = ["--workspace", str(workspace.path)]
    day = labkit_cli("up", *w, env={**os.environ, idle.IDLE_ENV: "480"})
    assert day.returncode == 0, day.stderr
    first = workspace.process_record(idle.PROCESS)
    assert idle.watched_minutes(first) == 480 and workspace.process_alive(idle.PROCESS)
    servers = {name: record["pid"] for name, record in workspace.read()["deployments"].items()}

    off = labkit_cli("up", *w, env={**os.environ, idle.IDLE_ENV: "0"})
    assert off.returncode == 0, off.stderr
    assert "Idle stop: off from now on (LABKIT_IDLE_MINUTES changed)" in off.stderr
    assert not procs.alive(first["pid"], first["marker"]) and not workspace.process_alive(idle.PROCESS)

    short = labkit_cli("up", *w, env={**os.environ, idle.IDLE_ENV: IDLE_MINUTES})
    assert short.returncode == 0, short.stderr
    assert "Idle stop: after 0.05 min without activity from now on" in short.stderr
    assert idle.watched_minutes(workspace.process_record(idle.PROCESS)) == 0.05
    # The lab ran on the whole time (same servers), and now stops under the new setting.
    assert {name: record["pid"] for name, record in workspace.read()["deployments"].items()} == servers
    wait_for(lambda: any(e["kind"] == "idle-stop" for e in workspace.events()), 120,
             "the lab to stop under the new idle time")
    assert not workspace.is_up() and workspace.read()["idle_stop"]["after_minutes"] == 0.05

    back = labkit_cli("up", *w, env={**os.environ, idle.IDLE_ENV: "480"})
    assert back.returncode == 0, back.stderr
    watching = workspace.process_record(idle.PROCESS)["pid"]
    again = labkit_cli("up", *w, env={**os.environ, idle.IDLE_ENV: "480"})
    assert again.returncode == 0 and "Idle stop" not in again.stderr  # unchanged: the watchdog is kept
    assert workspace.process_record(idle.PROCESS)["pid"] == watching and workspace.process_alive(idle.PROCESS)


def test_the_lab_is_not_stopped_while_a_restore_or_import_holds_it(workspace, idle_env, labkit_cli, wait_for):
    assert labkit_cli("up", "--workspace", str(workspace.path), env=idle_env).returncode == 0
    with workspace.busy():
        time.sleep(3 * 3)  # three times the idle limit (3 s)
        assert workspace.is_up() and workspace.process_alive(idle.PROCESS)
    wait_for(lambda: not workspace.is_up(), 120, "the idle lab to stop once the work is done")


def test_a_restore_holds_the_busy_lock_while_it_runs(tmp_path, monkeypatch):
    ws = Workspace(tmp_path / "ws")
    inside, release = threading.Event(), threading.Event()

    def slow_restore(self, *args, **kwargs):
        inside.set()
        release.wait(30)
        return "restored"

    monkeypatch.setattr(Backup, "_restore", slow_restore)
    backup = Backup(ws)
    backup.archive.root.mkdir(parents=True)
    monkeypatch.setattr(backup.archive, "capture_state", dict)  # as if backup were enabled
    result = []
    runner = threading.Thread(target=lambda: result.append(backup.restore("12:00")))
    runner.start()
    try:
        assert inside.wait(30)
        with open(ws.busy_file) as busy:
            with pytest.raises(BlockingIOError):
                fcntl.flock(busy, fcntl.LOCK_EX | fcntl.LOCK_NB)
    finally:
        release.set()
        runner.join(30)
    assert result == ["restored"]
    with open(ws.busy_file) as busy:
        fcntl.flock(busy, fcntl.LOCK_EX | fcntl.LOCK_NB)  # free again


def test_idle_minutes_zero_turns_the_watchdog_off_and_bad_values_are_refused(workspace, clean_env, labkit_cli):
    bad = labkit_cli("up", "--workspace", str(workspace.path), env={**os.environ, idle.IDLE_ENV: "soon"})
    assert bad.returncode == 1 and "LABKIT_IDLE_MINUTES='soon' is not a number of minutes" in bad.stderr
    assert not workspace.exists()  # refused before anything started
    off = labkit_cli("up", "--workspace", str(workspace.path), env={**os.environ, idle.IDLE_ENV: "0"})
    assert off.returncode == 0, off.stderr
    assert workspace.process_record(idle.PROCESS) is None
