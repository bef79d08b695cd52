"""A class on one server: learners' progress records and the instructor's `labkit class` commands."""
from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from labkit.errors import LabError
from labkit.lab import actions, checks, classroom
from labkit.workspace import Workspace

CONCEPTS = "partial-recovery.concepts"
DASHBOARD = Path(__file__).resolve().parents[1] / "notebooks" / "instructor" / "class-dashboard.ipynb"
STEPS = [f"partial-recovery.{short}" for short in (
    "concepts", "flow", "requirements", "tools", "atlas-clusters", "load-and-snapshot", "verify-present",
    "delete-docs", "pitr-export-import")]


@pytest.fixture
def class_folder(tmp_path, clean_env):
    folder = tmp_path / "class"
    folder.mkdir()
    clean_env.setenv(classroom.CLASS_DIR_ENV, str(folder))
    clean_env.setenv(classroom.LEARNER_ENV, "ada")
    return folder


def result(step_id: str, passed: bool, points: int = 5) -> dict:
    return {"step_id": step_id, "passed": passed, "points": points if passed else 0, "max_points": points,
            "checked_at": "2026-12-01T10:00:00.000Z"}


def test_a_check_writes_nothing_without_a_class_folder(tmp_path, clean_env):
    ws = Workspace(tmp_path / "ws")
    actions.answer(ws, CONCEPTS, "b")
    assert checks.run_check(ws, CONCEPTS).passed
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ws"]
    assert classroom.record_check(ws, result(CONCEPTS, True)) is None


def test_each_check_updates_the_learners_record_group_readable_without_secrets(tmp_path, class_folder):
    ws = Workspace(tmp_path / "ws")
    # A workspace whose Main is given by URI: the record must say nothing of it.
    ws.write({"up": True, "deployments": {"main": {"kind": "uri", "uri": "mongodb://ada:****@db.example.net/",
                                                     "uri_env": "LABKIT_MAIN_URI", "has_password": True}},
              "processes": {}})
    actions.answer(ws, CONCEPTS, "a")
    first = checks.run_check(ws, CONCEPTS)
    actions.answer(ws, CONCEPTS, "b")
    second = checks.run_check(ws, CONCEPTS)
    assert not first.passed and second.passed
    path = class_folder / "ada.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    record = json.loads(path.read_text())
    assert record["learner"] == "ada" and record["topic"] == "partial-recovery"
    assert record["steps"][CONCEPTS] == {"status": "passed", "points": 5, "max_points": 5, "attempts": 2,
                                         "failed_in_a_row": 0, "last_checked": second.checked_at}
    assert record["points"] == 5 and record["max_points"] == 75
    assert record["current_step"] == "partial-recovery.flow"
    assert record["deployments_alive"] == {"main": True} and record["application_running"] is False
    text = path.read_text()
    assert "mongodb" not in text and "****" not in text and "example.net" not in text
    assert sorted(record) == ["application_running", "current_step", "deployments_alive", "labkit", "learner",
                              "max_points", "points", "steps", "topic", "updated", "workspace"]


def test_a_class_folder_that_cannot_be_written_leaves_the_check_intact(tmp_path, clean_env):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the class folder should be")
    clean_env.setenv(classroom.CLASS_DIR_ENV, str(blocker / "class"))
    ws = Workspace(tmp_path / "ws")
    actions.answer(ws, CONCEPTS, "b")
    checked = checks.run_check(ws, CONCEPTS)
    assert checked.passed and checked.points == 5
    assert "progress could not be saved in the class folder" in checked.message
    assert checks.results(ws)[CONCEPTS]["passed"] is True


def test_a_bad_learner_name_is_refused_with_what_to_use(tmp_path, class_folder, clean_env):
    clean_env.setenv(classroom.LEARNER_ENV, "../../etc/passwd")
    with pytest.raises(LabError, match="cannot name a learner's progress record"):
        classroom.record_check(Workspace(tmp_path / "ws"), result(CONCEPTS, True))
    assert list(class_folder.iterdir()) == []


WRITER = """
import sys
from labkit.lab import classroom
from labkit.workspace import Workspace
ws = Workspace(sys.argv[1])
for i in range(int(sys.argv[2])):
    classroom.record_check(ws, {"step_id": "partial-recovery.concepts", "passed": i % 2 == 0, "points": 0,
                                "max_points": 5, "checked_at": "2026-12-01T10:00:00.000Z"})
"""


def test_records_are_atomic_under_concurrent_learners(tmp_path, class_folder):
    learners, checks_each = 4, 25
    seen_damaged = []
    stop = threading.Event()

    def read_continuously():
        while not stop.is_set():
            for path in class_folder.glob("*.json"):
                try:
                    json.loads(path.read_text())
                except FileNotFoundError:
                    continue
                except ValueError:
                    seen_damaged.append(path.name)

    reader = threading.Thread(target=read_continuously)
    reader.start()
    writers = []
    try:
        for n in range(learners):
            env = dict(os.environ, LABKIT_LEARNER=f"learner{n}")
            writers.append(subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path / f"ws{n}"), str(checks_each)],
                                            env=env))
        codes = [w.wait(timeout=120) for w in writers]
    finally:
        for w in writers:
            if w.poll() is None:
                w.kill()
                w.wait()
        stop.set()
        reader.join()
    assert codes == [0] * learners
    assert not seen_damaged
    assert sorted(p.name for p in class_folder.iterdir()) == [f"learner{n}.json" for n in range(learners)]
    for n in range(learners):
        record = json.loads((class_folder / f"learner{n}.json").read_text())
        assert record["steps"][CONCEPTS]["attempts"] == checks_each


def write_record(folder, learner, steps, updated, alive=True):
    record = {"learner": learner, "topic": "partial-recovery", "updated": updated, "workspace": f"/home/{learner}/ws",
              "steps": steps, "points": sum(s.get("points", 0) for s in steps.values()), "max_points": 75,
              "current_step": next((s for s in STEPS if steps.get(s, {}).get("status") != "passed"), None),
              "deployments_alive": {"main": alive, "temp": alive}, "application_running": alive}
    (folder / f"{learner}.json").write_text(json.dumps(record))


def passed(points):
    return {"status": "passed", "points": points, "max_points": points, "attempts": 1, "failed_in_a_row": 0}


NOW = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.timezone.utc)


@pytest.fixture
def recorded_class(tmp_path):
    folder = tmp_path / "records"
    folder.mkdir()
    points = [5, 10, 10, 5, 10, 10, 5, 5, 15]
    write_record(folder, "done", {s: passed(p) for s, p in zip(STEPS, points)}, "2026-12-01T11:59:00Z")
    stuck_steps = {s: passed(p) for s, p in zip(STEPS[:3], points)}
    stuck_steps[STEPS[3]] = {"status": "failed", "points": 0, "max_points": 5, "attempts": 4, "failed_in_a_row": 4}
    write_record(folder, "stuck", stuck_steps, "2026-12-01T11:58:00Z")
    write_record(folder, "idle", {STEPS[0]: passed(5)}, "2026-12-01T11:00:00Z", alive=False)
    (folder / "broken.json").write_text('{"learner": "broken", "steps": ')
    return folder


def test_class_status_finds_who_passed_who_is_stuck_and_who_is_idle(recorded_class):
    status = classroom.class_status(recorded_class, now=NOW)
    rows = {row["learner"]: row for row in status["rows"]}
    assert sorted(rows) == ["done", "idle", "stuck"] and status["learners"] == 3
    assert rows["done"]["points"] == 75 and rows["done"]["stuck"] == "" and rows["done"]["current_step"] is None
    assert rows["stuck"]["points"] == 25 and rows["stuck"]["stuck"] == "4 failed checks on tools"
    assert rows["stuck"]["steps"][STEPS[3]] == "failed x4" and rows["stuck"]["steps"][STEPS[4]] == "-"
    assert rows["idle"]["stuck"] == "no activity for 60 min" and rows["idle"]["deployments_alive"] is False
    assert status["stuck"] == ["idle", "stuck"]
    assert status["passed_per_step"][STEPS[0]] == 3 and status["passed_per_step"][STEPS[3]] == 1
    assert status["problems"] == ["broken.json: damaged (Expecting value: line 1 column 32 (char 31)); ignored"]


def test_labkit_class_status_in_its_three_formats(recorded_class, labkit_cli):
    text = labkit_cli("class", "status", str(recorded_class), "--idle-minutes", "100000")
    assert text.returncode == 0, text.stderr
    lines = text.stdout.splitlines()
    assert lines[0].split()[:4] == ["learner", "concepts", "flow", "requirements"]
    row = next(line for line in lines if line.startswith("stuck"))
    assert row.split()[1:6] == ["ok", "ok", "ok", "x4", "."] and "4 failed checks on tools" in row
    assert next(line for line in lines if line.startswith("passed")).split()[1:3] == ["3/3", "2/3"]
    assert "stuck: stuck" in text.stdout and "problem: broken.json: damaged" in text.stdout

    as_json = labkit_cli("class", "status", str(recorded_class), "--json")
    assert json.loads(as_json.stdout)["learners"] == 3

    as_csv = labkit_cli("class", "status", str(recorded_class), "--csv")
    rows = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert [r["learner"] for r in rows] == ["done", "idle", "stuck"]
    assert rows[2][STEPS[3]] == "failed x4" and rows[0]["points"] == "75"


def test_labkit_class_status_errors_say_what_to_do(tmp_path, labkit_cli, clean_env):
    missing = labkit_cli("class", "status", str(tmp_path / "nowhere"))
    assert missing.returncode == 1 and "does not exist" in missing.stderr and "Traceback" not in missing.stderr
    both = labkit_cli("class", "status", str(tmp_path), "--json", "--csv")
    assert both.returncode == 2 and "Choose one of --json and --csv" in both.stderr


def test_class_cleanup_stops_what_learners_left_running(fresh_lab, tmp_path, labkit_cli):
    folder = tmp_path / "records"
    folder.mkdir()
    record = {"learner": "ada", "topic": "partial-recovery", "workspace": str(fresh_lab.path), "steps": {}}
    (folder / "ada.json").write_text(json.dumps(record))
    (folder / "gone.json").write_text(json.dumps({**record, "learner": "gone", "workspace": str(tmp_path / "no")}))
    done = labkit_cli("class", "cleanup", str(folder))
    assert done.returncode == 0, done.stderr
    assert "ada: stopped Main, stopped Temp" in done.stdout and "gone: no workspace" in done.stdout
    assert not fresh_lab.is_up()
    again = labkit_cli("class", "cleanup", str(folder))
    assert "ada: " + str(fresh_lab.path) + " is already down" in again.stdout


def test_the_dashboard_notebook_runs_under_papermill_against_recorded_progress(recorded_class, tmp_path):
    import nbformat
    import papermill

    out = tmp_path / "dashboard.ipynb"
    papermill.execute_notebook(str(DASHBOARD), str(out),
                               parameters={"class_dir": str(recorded_class), "refresh_seconds": 1,
                                           "run_for_seconds": 2, "idle_minutes": 100000},
                               kernel_name="python3", progress_bar=False, execution_timeout=120)
    outputs = [o for cell in nbformat.read(out, as_version=4).cells if cell.cell_type == "code"
               for o in cell.get("outputs", [])]
    static = [o for o in outputs if o.get("output_type") == "display_data" and "text/html" in o.get("data", {})]
    assert static, outputs
    data = static[-1]["data"]
    assert "4 failed checks on tools" in data["text/plain"] and "problem: broken.json" in data["text/plain"]
    assert "<table" in data["text/html"] and data["image/png"]
