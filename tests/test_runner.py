"""`labkit run` and `labkit batch`: papermill runs in fresh workspaces, batches, and no secret anywhere."""
from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import nbformat
import pandas as pd
import psutil
import pytest
from pymongo import MongoClient
from pymongo.errors import OperationFailure

from labkit import deploy, procs
from labkit.lab import runner
from labkit.errors import LabError
from labkit.workspace import Workspace

RUN_TIMEOUT_S = 600  # a whole lab run as a subprocess; the tests running one allow pytest more than that
# --- parameters and grids ----------------------------------------------------------------------


def test_parameters_take_the_type_of_their_default():
    params = runner.coerce_params({"customers": "10", "insert_rate": "2.5", "seed": "None", "mode": "demo",
                                   "concepts_answer": "b"})
    assert params == {"customers": 10, "insert_rate": 2.5, "seed": None, "mode": "demo", "concepts_answer": "b"}
    assert runner.coerce_params({"customers": "ten"}) == {"customers": "ten"}  # the notebook says what is wrong
    with pytest.raises(LabError, match="Unknown parameter 'customer'.*customers"):
        runner.coerce_params({"customer": "10"})
    with pytest.raises(LabError, match="--workspace"):
        runner.coerce_params({"workspace": "/tmp/x"})


def test_grids():
    grid = runner.parse_grid(["customers=100,1000", "insert_rate=10, 100"])
    assert grid == {"customers": ["100", "1000"], "insert_rate": ["10", "100"]}
    assert len(runner.combinations(grid)) == 4
    assert {"customers": "1000", "insert_rate": "10"} in runner.combinations(grid)
    for bad in (["customers"], ["=1,2"], ["customers="], ["seed=1", "seed=2"]):
        with pytest.raises(LabError, match="--grid"):
            runner.parse_grid(bad)
    with pytest.raises(LabError, match="Unknown parameter"):
        runner.run_batch(grid={"colour": ["red"]})
    with pytest.raises(LabError, match="parallel"):
        runner.run_batch(grid={"seed": ["1"]}, parallel=0)


def test_markdown_summary_table():
    frame = pd.DataFrame([{"run": "run-01", "status": "passed", "error": None},
                          {"run": "run-02", "status": "error", "error": "a | b"}])
    assert runner.markdown_table(frame).splitlines() == [
        "| run | status | error |", "|---|---|---|", "| run-01 | passed |  |", "| run-02 | error | a \\| b |"]


def test_a_run_needs_a_fresh_workspace(tmp_path):
    Workspace(tmp_path / "ws").write({"up": False, "deployments": {}, "processes": {}})
    with pytest.raises(LabError, match="not fresh"):
        runner.run_lab(params={}, output_dir=tmp_path / "out", workspace=tmp_path / "ws")


# --- target=uri with passwords: no secret anywhere --------------------------------------------


@pytest.mark.timeout(RUN_TIMEOUT_S + 120)
def test_uri_run_passes_and_leaves_no_secret_anywhere(auth_servers, tmp_path, labkit_cli, clean_env):
    main_uri, temp_uri = auth_servers
    USER, PASSWORD = auth_servers.user, auth_servers.password
    anonymous = MongoClient(main_uri.replace(f"{USER}:{PASSWORD}@", ""), serverSelectionTimeoutMS=3000)
    try:
        with pytest.raises(OperationFailure) as refused:
            anonymous.test.customers.find_one()  # the servers really require the password
        assert refused.value.code == 13, refused.value  # Unauthorized, not any other failure
    finally:
        anonymous.close()
    env = {**os.environ, "LAB_MAIN": main_uri, "LAB_TEMP": temp_uri}
    out = tmp_path / "run"
    result = labkit_cli("run", "partial-recovery", "-p", "target", "uri", "-p", "main_uri_env", "LAB_MAIN",
                        "-p", "temp_uri_env", "LAB_TEMP", "-p", "customers", "20", "-p", "insert_rate", "20",
                        "-p", "mode", "lab", "--output-dir", str(out), env=env, timeout=RUN_TIMEOUT_S)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "points: 75/75" in result.stdout and "identical 20/20" in result.stdout
    assert "restored 20/20" in result.stdout and "failures 0" in result.stdout
    executed = sorted(out.glob("*.ipynb"))
    assert [p.name for p in executed] == ["01-overview.ipynb", "02-setup.ipynb", "03-execute.ipynb"]
    assert nbformat.read(executed[0], as_version=4).metadata.papermill.parameters["main_uri_env"] == "LAB_MAIN"
    # Every file the run wrote (notebooks and their metadata, run.log, result.json, the workspace's state,
    # logs, exports and backup archive) and everything it printed: no password, no URI with credentials.
    needles = [PASSWORD.encode(), f"{USER}:".encode() + PASSWORD[:6].encode()]
    assert PASSWORD in main_uri
    files = [p for p in out.rglob("*") if p.is_file()]
    assert len(files) > 10
    for path in files:
        data = path.read_bytes()
        assert not any(needle in data for needle in needles), path
    assert PASSWORD not in result.stdout + result.stderr
    assert json.loads((out / "result.json").read_text())["status"] == "passed"
    assert not Workspace(out / "workspace").is_up()


# --- batches ---------------------------------------------------------------------------------


@pytest.mark.timeout(2 * RUN_TIMEOUT_S + 120)
def test_batch_runs_every_combination_and_a_failing_run_fails_in_its_row(labkit_cli, tmp_path, server, clean_env):
    """2x2 with --parallel 2: demo mode on embedded servers passes; target=uri with an unreachable Temp fails."""
    unreachable = deploy.embedded_uri(deploy.free_port())
    env = {**os.environ, "BATCH_MAIN": server.uri, "BATCH_TEMP": unreachable}
    out = tmp_path / "batch"
    result = labkit_cli("batch", "partial-recovery", "--grid", "customers=5,8", "--grid", "target=embedded,uri",
                        "-p", "main_uri_env", "BATCH_MAIN", "-p", "temp_uri_env", "BATCH_TEMP",
                        "-p", "insert_rate", "20", "-p", "mode", "demo", "--parallel", "2",
                        "--output-dir", str(out), env=env, timeout=2 * RUN_TIMEOUT_S)
    assert result.returncode == 1, result.stdout + result.stderr  # not every run passed
    summary = pd.read_csv(out / "summary.csv")
    assert len(summary) == 4 and (out / "summary.md").read_text().count("| run-0") == 4
    assert sorted(zip(summary.customers, summary.target)) == [(5, "embedded"), (5, "uri"), (8, "embedded"), (8, "uri")]
    for row in summary.to_dict("records"):
        if row["target"] == "embedded":
            assert row["status"] == "passed" and row["checks_passed"] == 9 and row["points"] == 75, row
            assert row["restored"] == row["identical"] == row["customers"], row
            assert row["workload_failures"] == 0 and row["max_gap_ms"] > 0 and row["duration_s"] > 0
            assert len(row["notebooks"].split(";")) == 3
        else:
            assert row["status"] == "error" and row["points"] < 75, row
            assert "Cannot reach Temp" in row["error"] and row["error"].count("\n") == 0
            assert "Traceback" not in row["error"]
        assert not Workspace(os.path.join(row["output_dir"], "workspace")).is_up()


def children_of(parent: int) -> list[int]:
    try:
        return [child.pid for child in psutil.Process(parent).children()]
    except psutil.Error:
        return []


def wait_for_servers(proc, state_file: Path, timeout: float = 240) -> dict:
    """The run's state once its overview notebook has started Main and Temp."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            state = json.loads(state_file.read_text()) if state_file.exists() else {}
        except ValueError:  # written atomically, but be safe
            state = {}
        if all((state.get("deployments", {}).get(name) or {}).get("pid") for name in ("main", "temp")):
            return state
        assert proc.poll() is None, proc.stdout.read()
        time.sleep(0.2)
    pytest.fail("the run never started Main and Temp")


def started_by(state: dict) -> list[tuple[int, str | None]]:
    return [(r["pid"], r.get("marker")) for r in [*state["deployments"].values(), *state["processes"].values()]
            if r.get("pid")]


def test_ctrl_c_stops_every_process_the_run_started(tmp_path, clean_env, labkit_popen):
    out = tmp_path / "run"
    proc = labkit_popen("run", "partial-recovery", "-p", "customers", "5", "--output-dir", str(out))
    state = wait_for_servers(proc, out / "workspace" / "state.json")
    started = started_by(state)
    kernels = [(pid, None) for pid in children_of(proc.pid)]  # papermill's kernel
    proc.send_signal(signal.SIGINT)
    output, _ = proc.communicate(timeout=240)
    assert proc.returncode == 130, output
    assert "Interrupted" in output
    assert len(started) >= 2 and kernels  # Main, Temp (and anything else by then); the kernel
    assert not [pid for pid, marker in started + kernels if procs.alive(pid, marker)]
    assert json.loads((out / "result.json").read_text())["status"] == "interrupted"


def test_a_kernel_that_crashes_ends_the_run_as_an_error_and_stops_everything(tmp_path, clean_env, labkit_popen):
    out = tmp_path / "run"
    proc = labkit_popen("run", "partial-recovery", "-p", "customers", "5", "--output-dir", str(out))
    deadline = time.monotonic() + 240
    # The last notebook's kernel, while it works (its cells take seconds: restore, export, import).
    while "running 03-execute.ipynb" not in ((out / runner.RUN_LOG).read_text() if (out / runner.RUN_LOG).exists() else ""):
        assert time.monotonic() < deadline and proc.poll() is None, "the run never reached 03-execute"
        time.sleep(0.05)
    while not (kernels := children_of(proc.pid)):
        assert time.monotonic() < deadline and proc.poll() is None, "no kernel to crash"
        time.sleep(0.02)
    for pid in kernels:
        os.kill(pid, signal.SIGKILL)  # the kernel dies as it would from a segfault or the OOM killer
    output, _ = proc.communicate(timeout=300)
    assert proc.returncode == 1, output
    assert "Traceback" not in output
    result = json.loads((out / "result.json").read_text())
    assert result["status"] == "error" and result["points"] < 75, result
    assert "kernel" in result["error"].lower() and "\n" not in result["error"], result["error"]
    state = json.loads((out / "workspace" / "state.json").read_text())
    assert not [pid for pid, marker in started_by(state) + [(k, None) for k in kernels] if procs.alive(pid, marker)]
    assert not Workspace(out / "workspace").is_up()


def test_a_failed_run_exits_1_and_says_why(tmp_path, labkit_cli, clean_env):
    unreachable = deploy.embedded_uri(deploy.free_port())
    env = {**os.environ, "RUN_MAIN": unreachable, "RUN_TEMP": unreachable}
    out = tmp_path / "run"
    result = labkit_cli("run", "partial-recovery", "-p", "target", "uri", "-p", "main_uri_env", "RUN_MAIN",
                        "-p", "temp_uri_env", "RUN_TEMP", "-p", "customers", "5", "--output-dir", str(out),
                        env=env, timeout=RUN_TIMEOUT_S)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Cannot reach Main" in result.stdout + result.stderr and "Traceback" not in result.stderr
    assert json.loads((out / "result.json").read_text())["status"] == "error"


def test_an_output_folder_that_cannot_be_written_is_a_clear_error(tmp_path, labkit_cli, clean_env):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    for command in (["run", "partial-recovery"], ["batch", "partial-recovery", "--grid", "customers=5"]):
        result = labkit_cli(*command, "--output-dir", str(blocker / "out"))
        assert result.returncode == 1, (command, result.stdout, result.stderr)
        assert "Cannot create the output folder" in result.stderr and "Traceback" not in result.stderr, command
    assert blocker.read_text() == "not a folder"


@pytest.mark.timeout(RUN_TIMEOUT_S + 120)
def test_ctrl_c_during_a_batch_exits_130_and_stops_every_run(tmp_path, clean_env, labkit_popen):
    out = tmp_path / "batch"
    proc = labkit_popen("batch", "partial-recovery", "--grid", "customers=5,6", "--parallel", "2",
                        "--output-dir", str(out))
    state = wait_for_servers(proc, out / "run-01" / "workspace" / "state.json")
    proc.send_signal(signal.SIGINT)
    output, _ = proc.communicate(timeout=300)
    assert proc.returncode == 130, output
    assert "Traceback" not in output
    for run_dir in sorted(out.glob("run-*")):
        ws_state = run_dir / "workspace" / "state.json"
        if ws_state.exists():
            assert not [pid for pid, marker in started_by(json.loads(ws_state.read_text())) if procs.alive(pid, marker)]
            assert not Workspace(run_dir / "workspace").is_up(), run_dir
    assert started_by(state)


def test_ctrl_c_that_papermill_reports_as_another_error_still_interrupts(tmp_path, monkeypatch):
    """SIGINT inside papermill's event loop can come out as "RuntimeError: Event loop stopped before Future
    completed" (seen in CI): the run must still end as interrupted, not as a failed notebook."""
    import signal

    import papermill

    def interrupted_in_the_event_loop(*args, **kwargs):
        try:
            signal.raise_signal(signal.SIGINT)
        except KeyboardInterrupt:  # what asyncio's loop does with it before run_until_complete gives up
            pass
        raise RuntimeError("Event loop stopped before Future completed.")

    monkeypatch.setattr(papermill, "execute_notebook", interrupted_in_the_event_loop)
    out = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        runner.run_lab(output_dir=out)
    assert json.loads((out / "result.json").read_text())["status"] == "interrupted"
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # put back as it was


def test_a_notebook_error_without_ctrl_c_is_an_error(tmp_path, monkeypatch):
    import papermill

    def broken(*args, **kwargs):
        raise RuntimeError("the kernel died")

    monkeypatch.setattr(papermill, "execute_notebook", broken)
    result = runner.run_lab(output_dir=tmp_path / "run")
    assert result.status == "error" and result.error == "RuntimeError: the kernel died"
