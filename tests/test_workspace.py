"""Foundation: workspace up / status / down against real embedded servers."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest
from pymongo import WriteConcern

from labkit import deploy, procs
from labkit.errors import DeploymentError, WorkspaceError
from labkit.workspace import Workspace


def _wait_dead(pid, timeout=10):
    deadline = time.monotonic() + timeout
    while procs.alive(pid) and time.monotonic() < deadline:
        procs.reap(pid)
        time.sleep(0.05)
    assert not procs.alive(pid)


def test_up_status_down_up_keeps_data(tmp_path, clean_env, stop_workspace):
    ws = Workspace(tmp_path / "ws")
    stop_workspace(ws)
    status = ws.up()
    assert status["up"] is True
    main, temp = status["deployments"]["main"], status["deployments"]["temp"]
    assert main["running"] and temp["running"]
    assert main["port"] != temp["port"]
    assert main["topology"].startswith("replica set")
    ws.main.client.shop.orders.insert_many([{"n": i} for i in range(25)])
    assert ws.status()["deployments"]["main"]["counts"] == {"shop.orders": 25}
    ws.down()
    assert not procs.alive(main["pid"]) and not procs.alive(temp["pid"])
    assert ws.status()["up"] is False

    again = Workspace(tmp_path / "ws")
    again.up()
    assert again.main.client.shop.orders.count_documents({}) == 25
    again.down()


def test_files_are_private(fresh_lab):
    assert oct(fresh_lab.path.stat().st_mode & 0o777) == "0o700"
    assert oct(fresh_lab.state_file.stat().st_mode & 0o777) == "0o600"
    assert oct((fresh_lab.path / "main" / "data").stat().st_mode & 0o777) == "0o700"


def test_attach_from_a_second_process(fresh_lab):
    fresh_lab.main.client.test.customers.insert_many([{"firstname": f"n{i}"} for i in range(7)])
    code = (
        "from labkit.workspace import Workspace; import sys; "
        f"ws = Workspace({str(fresh_lab.path)!r}); "
        "print(ws.main.client.test.customers.count_documents({}), ws.temp.ping())"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["7", "True"]


def test_up_twice_attaches_instead_of_starting_again(fresh_lab):
    before = fresh_lab.read()["deployments"]
    Workspace(fresh_lab.path).up()
    after = fresh_lab.read()["deployments"]
    assert before["main"]["pid"] == after["main"]["pid"]
    assert before["temp"]["pid"] == after["temp"]["pid"]


def test_concurrent_up_is_safe(tmp_path, clean_env, stop_workspace):
    path = tmp_path / "ws"
    ws = Workspace(path)
    stop_workspace(ws)
    code = f"from labkit.workspace import Workspace; Workspace({str(path)!r}).up()"
    runs = [subprocess.Popen([sys.executable, "-c", code]) for _ in range(2)]
    try:
        codes = [p.wait(timeout=120) for p in runs]
    finally:
        for p in runs:
            if p.poll() is None:
                p.kill()
                p.wait()
    assert codes == [0, 0]
    state = ws.read()
    # exactly one server per deployment: the second up attached to the first one's
    servers = [line for line in (procs.cmdline(pid) or "" for pid in _pids()) if str(path) in line and "secantusd" in line]
    assert len(servers) == 2
    assert procs.alive(state["deployments"]["main"]["pid"])
    ws.down()


def _pids():
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]


def test_killed_server_is_reported_and_restarted_with_data(fresh_lab, labkit_cli):
    durable = fresh_lab.main.client.test.get_collection("customers", write_concern=WriteConcern(j=True))
    durable.insert_many([{"firstname": "a"}, {"firstname": "b"}])  # j: in the log before kill -9
    pid = fresh_lab.read()["deployments"]["main"]["pid"]
    os.kill(pid, signal.SIGKILL)
    _wait_dead(pid)

    result = labkit_cli("status", "--workspace", str(fresh_lab.path), "--json")
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)
    assert info["deployments"]["main"]["running"] is False
    assert info["deployments"]["temp"]["running"] is True
    text = labkit_cli("status", "--workspace", str(fresh_lab.path)).stdout
    assert "NOT RUNNING" in text

    result = labkit_cli("up", "--workspace", str(fresh_lab.path))
    assert result.returncode == 0, result.stderr
    assert "restarting" in result.stderr
    ws = Workspace(fresh_lab.path)
    assert ws.main.client.test.customers.count_documents({}) == 2


def test_restart_when_old_port_was_taken(fresh_lab):
    record = fresh_lab.read()["deployments"]["main"]
    fresh_lab.main.client.test.get_collection("x", write_concern=WriteConcern(j=True)).insert_one({"k": 1})
    fresh_lab.main.close()  # no client of ours keeps reconnecting to the old port
    os.kill(record["pid"], signal.SIGKILL)
    _wait_dead(record["pid"])
    squatter = socket.socket()
    squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    deadline = time.monotonic() + 60
    while True:  # take the port ourselves: a port only seen busy for a moment may be free again at `up`
        try:
            squatter.bind(("127.0.0.1", record["port"]))
            squatter.listen()
            break
        except OSError:
            assert time.monotonic() < deadline, "could not take Main's old port"
            time.sleep(0.1)
    try:
        assert not deploy.port_is_free(record["port"])  # the premise, as labkit up will see it
        ws = Workspace(fresh_lab.path)
        ws.up()
        new = ws.read()["deployments"]["main"]
        assert new["port"] != record["port"]
        assert ws.main.client.test.x.count_documents({"k": 1}) == 1
    finally:
        squatter.close()


def test_two_workspaces_at_once(lab, tmp_path, clean_env, stop_workspace):
    other = Workspace(tmp_path / "other")
    stop_workspace(other)
    other.up()
    try:
        mine = {d["port"] for d in lab.read()["deployments"].values()}
        theirs = {d["port"] for d in other.read()["deployments"].values()}
        assert not mine & theirs
        lab.main.client.iso.c.insert_one({"who": "lab"})
        assert other.main.client.iso.c.count_documents({}) == 0
    finally:
        other.down(purge=True)
    assert not (tmp_path / "other").exists()


def test_down_when_not_up_is_a_clear_error(tmp_path, labkit_cli):
    result = labkit_cli("down", "--workspace", str(tmp_path / "never"))
    assert result.returncode == 1
    assert "no lab workspace" in result.stderr and "Traceback" not in result.stderr
    with pytest.raises(WorkspaceError, match="nothing to stop"):
        Workspace(tmp_path / "never").down()


def test_down_twice(tmp_path, clean_env, stop_workspace):
    ws = Workspace(tmp_path / "ws")
    stop_workspace(ws)
    ws.up()
    ws.down()
    with pytest.raises(WorkspaceError, match="is not up"):
        ws.down()


def test_workspace_path_not_writable(tmp_path, labkit_cli):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    result = labkit_cli("up", "--workspace", str(blocker / "ws"))
    assert result.returncode == 1
    assert "Cannot use" in result.stderr and "--workspace" in result.stderr
    assert "Traceback" not in result.stderr
    result = labkit_cli("up", "--workspace", "/proc/labkit-ws")
    assert result.returncode == 1 and "Cannot use" in result.stderr


def test_workspace_from_environment(tmp_path, labkit_cli, stop_workspace):
    env = dict(os.environ, LABKIT_WORKSPACE=str(tmp_path / "from-env"))
    stop_workspace(Workspace(tmp_path / "from-env"))
    assert labkit_cli("up", env=env).returncode == 0
    try:
        assert (tmp_path / "from-env" / "state.json").exists()
        assert "up" in labkit_cli("status", env=env).stdout
    finally:
        assert labkit_cli("down", "--purge", env=env).returncode == 0


def test_processes_owned_by_workspace_stop_on_down(fresh_lab):
    pid = fresh_lab.start_process("sleeper", [sys.executable, "-c", "import time; time.sleep(600)"])
    assert fresh_lab.process_alive("sleeper")
    assert fresh_lab.status()["processes"]["sleeper"]["running"] is True
    fresh_lab.down()
    _wait_dead(pid)


def test_attached_workspace_follows_a_moved_deployment(fresh_lab):
    attached = Workspace(fresh_lab.path)
    attached.main.client.test.x.insert_one({"k": 1})
    record = fresh_lab.read()["deployments"]["main"]
    with fresh_lab.edit() as state:  # as if `labkit up` elsewhere had restarted Main on another port
        state["deployments"]["main"]["port"] = record["port"] + 1
    assert attached.main.display_uri.endswith(f":{record['port'] + 1}/?directConnection=true")
    with fresh_lab.edit() as state:
        state["deployments"]["main"]["port"] = record["port"]
    assert attached.main.client.test.x.count_documents({}) == 1


# --- damaged, missing and stale ------------------------------------------------------------------


def test_damaged_state_is_named_and_down_purge_still_stops_everything(fresh_lab, labkit_cli):
    pids = [r["pid"] for r in fresh_lab.read()["deployments"].values()]
    fresh_lab.state_file.write_text('{"up": tru')  # a half-written file from another tool
    w = ["--workspace", str(fresh_lab.path)]
    for command in (["status"], ["up"], ["down"]):
        result = labkit_cli(*command, *w)
        assert result.returncode == 1, (command, result.stdout, result.stderr)
        assert "is damaged" in result.stderr and "labkit down --purge" in result.stderr, command
        assert "Traceback" not in result.stderr
    assert all(procs.alive(pid) for pid in pids)  # nothing was touched by a command that could not read it
    result = labkit_cli("down", "--purge", *w)  # the way out the message gives must work
    assert result.returncode == 0, result.stderr
    for pid in pids:
        _wait_dead(pid)
    assert not fresh_lab.path.exists()


def test_missing_server_binary_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "executable", str(tmp_path / "no-venv" / "python"))
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    ws = Workspace(tmp_path / "ws")
    with pytest.raises(DeploymentError, match="secantusd-py is not installed.*--main-uri"):
        ws.up()
    assert not ws.is_up() and not procs.pids_with(f"{ws.path}{os.sep}")


def test_missing_server_binary_at_the_cli(tmp_path, clean_env):
    code = ("import sys; sys.executable = sys.argv.pop(1); from labkit.cli import main; main()")
    env = dict(os.environ, PATH=str(tmp_path / "empty-bin"))
    result = subprocess.run([sys.executable, "-c", code, str(tmp_path / "no-venv" / "python"), "up",
                             "--workspace", str(tmp_path / "ws")], capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 1
    assert "secantusd-py is not installed" in result.stderr and "Traceback" not in result.stderr


def test_a_lock_left_by_a_killed_process_does_not_block(fresh_lab, labkit_cli):
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from labkit.workspace import Workspace; ws = Workspace(sys.argv[1]); "
        "ws.locked().__enter__(); print('locked', flush=True); time.sleep(600)"), str(fresh_lab.path)],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait(timeout=60)
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()
    assert (fresh_lab.path / ".lock").exists()  # the file stays; the kernel released the lock with its holder
    result = labkit_cli("status", "--workspace", str(fresh_lab.path))
    assert result.returncode == 0, result.stderr
    fresh_lab.main.client.test.x.insert_one({"k": 1})
    with fresh_lab.edit() as state:
        state["touched"] = True
    assert fresh_lab.read()["touched"] is True


# --- a workspace nobody else can swap, and copies ------------------------------------------------


def test_a_workspace_others_could_swap_is_refused_before_anything_starts(tmp_path, labkit_cli):
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)  # a shared folder without the sticky bit: anyone may rename what is in it
    w = ["--workspace", str(shared / "partial-recovery")]
    for command in (["up"], ["status"], ["down", "--purge"]):
        result = labkit_cli(*command, *w)
        assert result.returncode == 1, (command, result.stderr)
        assert f"labkit does not keep a lab in {shared / 'partial-recovery'}: {shared} is writable by others " \
               "(mode 0777)" in result.stderr, command
        assert "Traceback" not in result.stderr
    assert list(shared.iterdir()) == []  # nothing was made there
    assert not procs.pids_with(str(shared))


def test_a_copied_workspace_is_refused_and_its_purge_leaves_the_original_running(fresh_lab, tmp_path, labkit_cli):
    import shutil

    fresh_lab.main.client.test.kept.insert_one({"k": 1})
    servers = [r["pid"] for r in fresh_lab.read()["deployments"].values()]
    copy = tmp_path / "submitted" / "ws"  # as `nbgrader submit` and `collect` copy a learner's folder
    shutil.copytree(fresh_lab.path, copy, ignore=shutil.ignore_patterns("*.sock", ".lock", ".busy"))
    w = ["--workspace", str(copy)]
    for command in (["status"], ["up"], ["down"]):
        result = labkit_cli(*command, *w)
        assert result.returncode == 1, (command, result.stdout, result.stderr)
        assert f"was made at {fresh_lab.path} and copied or moved here" in result.stderr, command
        assert "Traceback" not in result.stderr
    with pytest.raises(WorkspaceError, match="copied or moved here"):
        Workspace(copy).main
    result = labkit_cli("down", "--purge", *w)
    assert result.returncode == 0, result.stderr
    assert not copy.exists()
    assert all(procs.alive(pid) for pid in servers)  # the original lab was not touched
    assert fresh_lab.main.client.test.kept.count_documents({}) == 1


def test_the_same_workspace_through_a_link_is_not_a_copy(fresh_lab, tmp_path):
    link = tmp_path / "link"
    link.symlink_to(fresh_lab.path)
    assert Workspace(link).status()["up"] is True


# --- credentials lost while the servers run (issue 23, point 6) -----------------------------------


def test_up_after_the_credentials_were_lost_restarts_the_servers_with_new_ones(fresh_lab, labkit_cli, wait_for):
    from labkit.workload import Workload

    durable = fresh_lab.main.client.test.get_collection("customers", write_concern=WriteConcern(j=True))
    durable.insert_many([{"firstname": f"n{i}"} for i in range(3)])
    Workload(fresh_lab).start(rate=20)
    wait_for(lambda: (Workload(fresh_lab).stats() or {}).get("acknowledged", 0) >= 5, what="5 inserts")
    old = {name: r["pid"] for name, r in fresh_lab.read()["deployments"].items()}
    (fresh_lab.path / "credentials.json").unlink()  # deleted by hand, or lost with a restored backup
    w = ["--workspace", str(fresh_lab.path)]
    result = labkit_cli("status", *w)
    assert result.returncode == 0 and "password is missing" in result.stdout and "labkit up" in result.stdout

    result = labkit_cli("up", *w)
    assert result.returncode == 0, result.stderr
    assert "already running" not in result.stderr
    assert "new password" in result.stderr
    ws = Workspace(fresh_lab.path)
    state = ws.read()
    assert all(state["deployments"][name]["pid"] != old[name] for name in old)
    assert all(not procs.alive(pid) for pid in old.values())
    assert ws.main.client.test.customers.count_documents({"firstname": {"$exists": True}}) == 3
    assert ws.temp.ping()
    result = labkit_cli("status", *w)
    assert result.returncode == 0 and "problem" not in result.stdout, result.stdout
    # The application logs in again with the new password and goes on.
    acknowledged = Workload(ws).stats()["acknowledged"]
    wait_for(lambda: Workload(ws).stats()["acknowledged"] >= acknowledged + 10, what="inserts with the new password")
    report = Workload(ws).stop()
    assert report.ok and report.missing == 0 and report.duplicates == 0, str(report)


# --- down --purge touches only what is ours and this workspace's (issue 23, point 4) ---------------------


def test_down_purge_of_a_damaged_state_leaves_another_users_process_alone(fresh_lab, make_os_user, labkit_cli):
    """Another user's process carrying the workspace's path in its arguments (anyone may start one) is not
    ours to stop: the purge stops the lab's own servers, deletes the folder, and says nothing went wrong."""
    other = make_os_user()
    theirs = subprocess.Popen(["/bin/sh", "-c", "sleep 600", f"{fresh_lab.path}/main/data"], user=other.uid,
                              group=other.gid, stdin=subprocess.DEVNULL)
    try:
        servers = [r["pid"] for r in fresh_lab.read()["deployments"].values()]
        fresh_lab.state_file.write_text("[1, 2")  # damaged: the purge falls back to finding processes by path
        result = labkit_cli("down", "--purge", "--workspace", str(fresh_lab.path))
        assert result.returncode == 0, result.stderr
        assert "Traceback" not in result.stderr and f"pid {theirs.pid}" not in result.stderr
        for pid in servers:
            _wait_dead(pid)
        assert not fresh_lab.path.exists()
        assert theirs.poll() is None and procs.alive(theirs.pid, uid=other.uid)
    finally:
        theirs.kill()
        theirs.wait()


@pytest.mark.parametrize("damaged", [False, True], ids=["readable state", "damaged state"])
def test_down_purge_refuses_a_folder_holding_another_running_workspace(tmp_path, clean_env, stop_workspace,
                                                                       labkit_cli, damaged):
    outer = Workspace(tmp_path / "course")
    inner = Workspace(tmp_path / "course" / "runs" / "ws")  # e.g. a run's workspace inside another lab's folder
    stop_workspace(inner)
    stop_workspace(outer)
    outer.up()
    inner.up()
    inner.main.client.test.kept.insert_one({"k": 1})
    if damaged:
        outer.state_file.write_text("{")
    result = labkit_cli("down", "--purge", "--workspace", str(outer.path))
    assert result.returncode == 1, result.stderr
    assert f"{outer.path} holds another lab workspace that is running, {inner.path}: stop it first with " \
           f"labkit down --workspace {inner.path}" in result.stderr
    assert "Traceback" not in result.stderr
    assert inner.status(describe=False)["deployments"]["main"]["running"]
    assert inner.main.client.test.kept.count_documents({}) == 1
    if not damaged:  # nothing of the outer lab was stopped either
        assert all(procs.alive(r["pid"]) for r in outer.read()["deployments"].values())
    inner.down()
    result = labkit_cli("down", "--purge", "--workspace", str(outer.path))
    assert result.returncode == 0, result.stderr
    assert not outer.path.exists()
