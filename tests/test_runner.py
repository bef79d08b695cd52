"""`labkit run` and `labkit batch`: papermill runs in fresh workspaces, batches, and no secret anywhere."""
from __future__ import annotations

import json
import os
from pathlib import Path

import nbformat
import pandas as pd
import pytest
from pymongo import MongoClient

from labkit import deploy
from labkit.lab import runner
from labkit.errors import LabError
from labkit.workspace import Workspace

PASSWORD = "Pw-7f3a9c1e-not-for-notebooks"
USER = "labadmin"


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


def start_auth_server(root, name):
    """An embedded server with a user, restarted with --auth (SecantusDB: createUser first, then --auth)."""
    storage, log = root / name / "data", root / name / "server.log"
    record = deploy.start_embedded(name, storage, log)
    client = MongoClient(deploy.embedded_uri(record["port"]))
    try:
        client.admin.command("createUser", USER, pwd=PASSWORD, roles=[{"role": "root", "db": "admin"}])
    finally:
        client.close()
    deploy.stop_embedded(record)
    return deploy.start_embedded(name, storage, log, port=record["port"], auth=True)


@pytest.fixture(scope="module")
def auth_servers(tmp_path_factory):
    root = tmp_path_factory.mktemp("auth")
    records = [start_auth_server(root, "main"), start_auth_server(root, "temp")]
    yield [deploy.embedded_uri(r["port"], USER, PASSWORD) for r in records]
    for record in records:
        deploy.stop_embedded(record)


def test_uri_run_passes_and_leaves_no_secret_anywhere(auth_servers, tmp_path, labkit_cli, clean_env):
    main_uri, temp_uri = auth_servers
    anonymous = MongoClient(main_uri.replace(f"{USER}:{PASSWORD}@", ""), serverSelectionTimeoutMS=3000)
    with pytest.raises(Exception):
        anonymous.test.customers.find_one()  # the servers really require the password
    anonymous.close()
    env = {**os.environ, "LAB_MAIN": main_uri, "LAB_TEMP": temp_uri}
    out = tmp_path / "run"
    result = labkit_cli("run", "partial-recovery", "-p", "target", "uri", "-p", "main_uri_env", "LAB_MAIN",
                        "-p", "temp_uri_env", "LAB_TEMP", "-p", "customers", "20", "-p", "insert_rate", "20",
                        "-p", "mode", "lab", "--output-dir", str(out), env=env, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "points: 75/75" in result.stdout and "identical 20/20" in result.stdout
    assert "restored 20/20" in result.stdout and "failures 0" in result.stdout
    executed = sorted(out.glob("*.ipynb"))
    assert [p.name for p in executed] == ["01-overview.ipynb", "02-setup.ipynb", "03-execute.ipynb"]
    assert nbformat.read(executed[0], as_version=4).metadata.papermill.parameters["main_uri_env"] == "LAB_MAIN"
    # Every file the run wrote (notebooks and their metadata, run.log, result.json, the workspace's state,
    # logs, exports and backup archive) and everything it printed: no password, no URI with credentials.
    needles = [PASSWORD.encode(), f"{USER}:".encode() + PASSWORD[:6].encode()]
    files = [p for p in out.rglob("*") if p.is_file()]
    assert len(files) > 10
    for path in files:
        data = path.read_bytes()
        assert not any(needle in data for needle in needles), path
    assert PASSWORD not in result.stdout + result.stderr
    assert json.loads((out / "result.json").read_text())["status"] == "passed"
    assert not Workspace(out / "workspace").is_up()


# --- batches ---------------------------------------------------------------------------------


def test_batch_runs_every_combination_and_a_failing_run_fails_in_its_row(labkit_cli, tmp_path, server, clean_env):
    """2x2 with --parallel 2: demo mode on embedded servers passes; target=uri with an unreachable Temp fails."""
    unreachable = deploy.embedded_uri(deploy.free_port())
    env = {**os.environ, "BATCH_MAIN": server.uri, "BATCH_TEMP": unreachable}
    out = tmp_path / "batch"
    result = labkit_cli("batch", "partial-recovery", "--grid", "customers=5,8", "--grid", "target=embedded,uri",
                        "-p", "main_uri_env", "BATCH_MAIN", "-p", "temp_uri_env", "BATCH_TEMP",
                        "-p", "insert_rate", "20", "-p", "mode", "demo", "--parallel", "2",
                        "--output-dir", str(out), env=env, timeout=900)
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
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == parent:
            found.append(int(stat.parent.name))
    return found


def test_ctrl_c_stops_every_process_the_run_started(tmp_path, clean_env):
    import signal
    import subprocess
    import time

    from labkit import procs
    from tests.conftest import LABKIT

    out = tmp_path / "run"
    state_file = out / "workspace" / "state.json"
    proc = subprocess.Popen([LABKIT, "run", "partial-recovery", "-p", "customers", "5", "--output-dir", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:  # interrupt once the overview notebook has started Main and Temp
            state = json.loads(state_file.read_text()) if state_file.exists() else {}
            if all((state.get("deployments", {}).get(name) or {}).get("pid") for name in ("main", "temp")):
                break
            assert proc.poll() is None, proc.stdout.read()
            time.sleep(0.2)
        else:
            pytest.fail("the run never started Main and Temp")
        started = [(r["pid"], r.get("marker")) for r in [*state["deployments"].values(), *state["processes"].values()]]
        kernels = [(pid, None) for pid in children_of(proc.pid)]  # papermill's kernel
        proc.send_signal(signal.SIGINT)
        output, _ = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, output
    assert "Interrupted" in output
    assert len(started) >= 2 and kernels  # Main, Temp (and anything else by then); the kernel
    assert not [pid for pid, marker in started + kernels if procs.alive(pid, marker)]
    assert json.loads((out / "result.json").read_text())["status"] == "interrupted"


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
