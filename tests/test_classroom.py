"""A class on one server: learners' progress records and the instructor's `labkit class` commands.

The records and the view of them are tested first with the test's own user; then, with real OS users
(homes 0700, a class folder 3773 in an instructors' group, as docs/instructor.md sets it up), what
another user can do to them: forge, squat, turn `labkit class cleanup` run as root against another
learner, and what an instructor who is not root gets.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import shutil
import stat
import subprocess
import sys
import sysconfig
import tempfile
import threading
import uuid
from pathlib import Path

import pytest
from pymongo import MongoClient

from labkit import deploy, procs
from labkit.errors import LabError
from labkit.lab import actions, checks, classroom, dashboard, labprocs
from labkit.workspace import CREDENTIALS_FILE, Workspace

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


def result(step_id: str, passed: bool, points: int = 5, mistake: str | None = None, message: str = "") -> dict:
    return {"step_id": step_id, "passed": passed, "points": points if passed else 0, "max_points": points,
            "checked_at": "2026-12-01T10:00:00.000Z", "mistake": mistake, "message": message}


# --- the learner's record ------------------------------------------------------------------------


def test_a_check_writes_nothing_without_a_class_folder(tmp_path, clean_env):
    ws = Workspace(tmp_path / "ws")
    actions.answer(ws, CONCEPTS, "b")
    assert checks.run_check(ws, CONCEPTS).passed
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ws"]
    assert classroom.record_check(ws, result(CONCEPTS, True)) is None


def test_checks_record_the_last_failing_message_and_every_mistake_of_a_step(fresh_lab, class_folder):
    ws = fresh_lab
    step = "partial-recovery.requirements"
    first = checks.run_check(ws, step)  # nothing recorded yet
    actions.answer(ws, "main-replica-set", "not-the-set")
    second = checks.run_check(ws, step)
    assert (first.mistake, second.mistake) == ("no-set-name", "wrong-set-name")
    path = class_folder / "ada.json"
    entry = json.loads(path.read_text())["steps"][step]
    assert entry["status"] == "failed" and entry["failed_in_a_row"] == 2 and entry["attempts"] == 2
    assert entry["last_mistake"] == "wrong-set-name" and entry["last_message"] == second.message
    assert entry["mistakes"] == {"no-set-name": 1, "wrong-set-name": 1}

    actions.answer(ws, "main-replica-set", ws.main.client.admin.command("hello")["setName"])
    assert checks.run_check(ws, step).passed
    record = json.loads(path.read_text())
    entry = record["steps"][step]
    assert entry["status"] == "passed" and entry["points"] == 10 and entry["failed_in_a_row"] == 0
    assert entry["mistakes"] == {"no-set-name": 1, "wrong-set-name": 1}  # the history stays for the histogram
    assert record["workspaces"] == [str(ws.path)] and record["uid"] == os.geteuid()
    assert record["deployments_alive"] == {"main": True, "temp": True}
    assert record["deployment_kinds"] == {"main": "embedded", "temp": "embedded"}
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    password = json.loads((ws.path / CREDENTIALS_FILE).read_text())["main"]
    assert password not in path.read_text()


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
                                         "failed_in_a_row": 0, "last_checked": second.checked_at,
                                         "last_mistake": None, "last_message": first.message}
    assert record["points"] == 5 and record["max_points"] == 75
    assert record["current_step"] == "partial-recovery.flow"
    assert record["deployments_alive"] == {"main": True} and record["application_running"] is False
    assert record["deployment_kinds"] == {"main": "uri"}
    text = path.read_text()
    assert "mongodb" not in text and "****" not in text and "example.net" not in text
    assert sorted(record) == ["application_running", "current_step", "deployment_kinds", "deployments_alive",
                              "labkit", "learner", "max_points", "points", "steps", "topic", "uid", "updated",
                              "workspace", "workspaces"]


def test_a_failing_message_is_kept_as_one_masked_printable_line(tmp_path, class_folder):
    message = "Cannot reach mongodb://ada:hunter2@db.example.net/ \x1b[31mred\x1b[0m\n" + "x" * 1000
    classroom.record_check(Workspace(tmp_path / "ws"), result(STEPS[3], False, mistake="no-version", message=message))
    kept = json.loads((class_folder / "ada.json").read_text())["steps"][STEPS[3]]["last_message"]
    assert "hunter2" not in kept and "mongodb://ada:****@db.example.net/" in kept
    assert "\x1b" not in kept and "\n" not in kept and len(kept) == classroom.MAX_MESSAGE


def test_the_record_names_every_workspace_the_learner_checked_in(tmp_path, class_folder):
    first, second = Workspace(tmp_path / "one"), Workspace(tmp_path / "two")
    for ws in (first, second, first):
        classroom.record_check(ws, result(CONCEPTS, True))
    record = json.loads((class_folder / "ada.json").read_text())
    assert record["workspaces"] == [str(second.path), str(first.path)] and record["workspace"] == str(first.path)


def test_a_link_in_place_of_the_record_is_never_written_through(tmp_path, class_folder):
    target = tmp_path / "elsewhere.txt"
    target.write_text("not a record")
    (class_folder / "ada.json").symlink_to(target)
    saved = classroom.record_check(Workspace(tmp_path / "ws"), result(CONCEPTS, True))
    assert saved == class_folder / f"ada~{os.geteuid()}.json"
    assert target.read_text() == "not a record"
    assert json.loads(saved.read_text())["steps"][CONCEPTS]["status"] == "passed"
    assert not [p for p in class_folder.iterdir() if p.name.endswith(".tmp")]  # no temporary file left


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
    classroom.record_check(ws, {"step_id": "partial-recovery.concepts", "passed": i % 2 == 0, "points": 5 * (i % 2 == 0),
                                "max_points": 5, "checked_at": "2026-12-01T10:00:00.000Z", "mistake": None,
                                "message": "not yet"})
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
    status = classroom.class_status(class_folder)
    assert status["learners"] == learners and status["problems"] == []  # what labkit writes passes its own reading


# --- the instructor's view -------------------------------------------------------------------------


def write_record(folder, learner, steps, updated, alive=True, **extra):
    record = {"learner": learner, "topic": "partial-recovery", "updated": updated, "workspace": f"/home/{learner}/ws",
              "steps": steps, "points": sum(s.get("points", 0) for s in steps.values()), "max_points": 75,
              "current_step": next((s for s in STEPS if steps.get(s, {}).get("status") != "passed"), None),
              "deployments_alive": {"main": alive, "temp": alive}, "application_running": alive, **extra}
    (folder / f"{learner}.json").write_text(json.dumps(record))
    return record


def passed(points, mistakes=None):
    entry = {"status": "passed", "points": points, "max_points": points, "attempts": 1, "failed_in_a_row": 0}
    if mistakes:
        entry.update(mistakes=mistakes, attempts=1 + sum(mistakes.values()))
    return entry


def failed(points, times, mistake=None, message="", mistakes=None):
    return {"status": "failed", "points": 0, "max_points": points, "attempts": times, "failed_in_a_row": times,
            "last_mistake": mistake, "last_message": message, "mistakes": mistakes or ({mistake: times} if mistake else {})}


NOW = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.timezone.utc)
POINTS = [5, 10, 10, 5, 10, 10, 5, 5, 15]


@pytest.fixture
def recorded_class(tmp_path):
    folder = tmp_path / "records"
    folder.mkdir()
    done = {s: passed(p) for s, p in zip(STEPS, POINTS)}
    done[STEPS[7]] = passed(5, {"local-as-utc": 2, "moment-late": 1})
    write_record(folder, "done", done, "2026-12-01T11:59:00Z")
    stuck_steps = {s: passed(p) for s, p in zip(STEPS[:3], POINTS)}
    stuck_steps[STEPS[3]] = failed(5, 4, "no-version", "No server version recorded for Main yet.")
    write_record(folder, "stuck", stuck_steps, "2026-12-01T11:58:00Z")
    idle_steps = {STEPS[0]: passed(5), STEPS[7]: failed(5, 1, "local-as-utc", "typed local time",
                                                         {"local-as-utc": 1})}
    idle_steps.update({s: passed(p) for s, p in zip(STEPS[1:7], POINTS[1:7])})
    write_record(folder, "idle", idle_steps, "2026-12-01T11:00:00Z", alive=False)
    (folder / "broken.json").write_text('{"learner": "broken", "steps": ')
    return folder


def test_class_status_finds_who_passed_who_is_stuck_on_what_and_who_is_idle(recorded_class):
    status = classroom.class_status(recorded_class, now=NOW)
    assert status["note"].startswith("Progress as each learner's own checks report it, not a gradebook")
    rows = {row["learner"]: row for row in status["rows"]}
    assert sorted(rows) == ["done", "idle", "stuck"] and status["learners"] == 3
    assert {row["os_user"] for row in rows.values()} == {classroom.os_user_name(os.geteuid())}
    assert rows["done"]["points"] == 75 and rows["done"]["stuck"] == "" and rows["done"]["current_step"] is None
    assert rows["done"]["failing"] is None
    assert rows["stuck"]["points"] == 25 and rows["stuck"]["stuck"] == "4 failed checks on tools"
    assert rows["stuck"]["failing"] == {"step": STEPS[3], "mistake": "no-version",
                                        "message": "No server version recorded for Main yet."}
    assert rows["stuck"]["steps"][STEPS[3]] == "failed x4" and rows["stuck"]["steps"][STEPS[4]] == "-"
    assert rows["idle"]["stuck"] == "no activity for 60 min" and rows["idle"]["failing"]["mistake"] == "local-as-utc"
    assert status["stuck"] == ["idle", "stuck"]
    assert status["passed_per_step"][STEPS[0]] == 3 and status["passed_per_step"][STEPS[3]] == 2
    # Learners, not attempts: "done" made local-as-utc twice and counts once.
    assert status["mistakes"][STEPS[7]] == {"checked": 2, "learners": {"local-as-utc": 2, "moment-late": 1}}
    assert status["mistakes"][STEPS[3]] == {"checked": 3, "learners": {"no-version": 1}}
    assert status["mistakes"][STEPS[0]] == {"checked": 3, "learners": {}}
    assert status["problems"] == [f"broken.json (OS user {classroom.os_user_name(os.geteuid())}): damaged "
                                  "(Expecting value: line 1 column 32 (char 31)); ignored"]


def test_liveness_comes_from_the_process_table_when_status_is_asked(recorded_class):
    # The records say "done" and "stuck" run their labs; no process of theirs runs: status says so.
    rows = {row["learner"]: row for row in classroom.class_status(recorded_class, now=NOW)["rows"]}
    assert all(row["liveness"] == "live" for row in rows.values())
    assert [rows[n]["deployments_alive"] for n in ("done", "stuck")] == [False, False]
    assert not rows["done"]["application_running"] and not rows["stuck"]["application_running"]


def test_a_lab_stopped_after_the_last_check_shows_as_stopped(fresh_lab, class_folder, labkit_cli):
    ws = fresh_lab
    assert labkit_cli("workload", "start", "--workspace", str(ws.path), "--rate", "5").returncode == 0
    actions.answer(ws, CONCEPTS, "b")
    checks.run_check(ws, CONCEPTS)
    record = json.loads((class_folder / "ada.json").read_text())
    assert record["deployments_alive"] == {"main": True, "temp": True} and record["application_running"] is True
    row = classroom.class_status(class_folder)["rows"][0]
    assert (row["deployments_alive"], row["application_running"], row["liveness"]) == (True, True, "live")
    assert row["labs_running"] >= 1 and classroom.lab_cell(row).startswith("up+app")

    ws.down()  # as `lab.down` or an idle stop do: no check runs afterwards
    row = classroom.class_status(class_folder)["rows"][0]
    assert (row["deployments_alive"], row["application_running"], row["liveness"]) == (False, False, "live")
    assert classroom.lab_cell(row).startswith("down")
    assert json.loads((class_folder / "ada.json").read_text()) == record  # the record itself was not touched


def forged_records(folder: Path) -> dict[str, str]:
    """Records a learner edited by hand, each with what status must say of it."""
    full = {s: passed(p) for s, p in zip(STEPS, POINTS)}
    cases = {
        "bigger": ({**full, STEPS[1]: {**passed(10), "points": 50}}, "flow: 50 points for a passed check of a 10-point step"),
        "total": ({STEPS[0]: passed(5)}, "its total 75 is not the sum of its steps' points (5)"),
        "unknown": ({"partial-recovery.bonus": passed(5)}, "'partial-recovery.bonus' is not a step of partial-recovery"),
        "noattempt": ({STEPS[0]: {**passed(5), "attempts": 0}}, "concepts: 0 attempts"),
        "inarow": ({STEPS[0]: {**passed(5), "failed_in_a_row": 2, "attempts": 3}},
                   "concepts: 2 failed checks in a row after a passed check"),
        "mistakes": ({STEPS[0]: {**passed(5), "mistakes": {"x": 5}}}, "concepts: mistake counts that do not add up"),
        "failedpoints": ({STEPS[0]: {**failed(5, 1), "points": 5}}, "concepts: 5 points for a failed check of a 5-point step"),
    }
    expected = {}
    for name, (steps, reason) in cases.items():
        record = write_record(folder, name, steps, "2026-12-01T11:59:00Z")
        if name == "total":
            record["points"] = 75
            (folder / f"{name}.json").write_text(json.dumps(record))
        expected[f"{name}.json"] = reason
    return expected


def test_records_labkit_cannot_have_written_are_reported_as_edited_not_shown(tmp_path):
    folder = tmp_path / "records"
    folder.mkdir()
    expected = forged_records(folder)
    write_record(folder, "honest", {STEPS[0]: passed(5)}, "2026-12-01T11:59:00Z")
    (folder / "other.json").write_text(json.dumps({"learner": "somebody", "steps": {}}))  # a name not its own
    os.mkfifo(folder / "fifo.json")  # reading it would block the status for ever
    (folder / "link.json").symlink_to(folder / "honest.json")
    (folder / "huge.json").write_text(" " * (classroom.MAX_RECORD_BYTES + 10))
    status = classroom.class_status(folder, now=NOW)
    assert [row["learner"] for row in status["rows"]] == ["honest"]
    user = classroom.os_user_name(os.geteuid())
    problems = {line.split(" ", 1)[0]: line for line in status["problems"]}
    for name, reason in expected.items():
        assert problems[name] == f"{name} (OS user {user}): edited by hand, not written by labkit's checks " \
                                 f"({reason}); not shown", problems[name]
    assert "edited by hand: it names the learner 'somebody'" in problems["other.json"]
    assert "not a regular file" in problems["fifo.json"] and "not a regular file" in problems["link.json"]
    assert "larger than any record labkit writes" in problems["huge.json"]


def test_labkit_class_status_in_its_formats(recorded_class, labkit_cli):
    text = labkit_cli("class", "status", str(recorded_class), "--idle-minutes", "100000")
    assert text.returncode == 0, text.stderr
    lines = text.stdout.splitlines()
    assert lines[0].startswith("Progress as each learner's own checks report it, not a gradebook")
    assert lines[1].split()[:5] == ["learner", "user", "concepts", "flow", "requirements"]
    row = next(line for line in lines if line.startswith("stuck"))
    assert row.split()[2:7] == ["ok", "ok", "ok", "x4", "."] and "4 failed checks on tools" in row
    cells = row.split()
    assert cells[cells.index("25/75") + 1] == "down"  # (N labs) may follow: this suite's user runs other labs
    assert next(line for line in lines if line.startswith("passed")).split()[1:3] == ["3/3", "3/3"]
    assert "  stuck on tools [no-version]: No server version recorded for Main yet." in lines
    assert "  delete-docs: local-as-utc 2 of 3, moment-late 1 of 3" in lines
    assert "  tools: no-version 1 of 3" in lines
    assert "stuck: stuck" in text.stdout and "problem: broken.json" in text.stdout
    assert "Labs: labs read from the process table now." in lines

    as_json = json.loads(labkit_cli("class", "status", str(recorded_class), "--json").stdout)
    assert as_json["learners"] == 3 and as_json["mistakes"][STEPS[7]]["learners"]["local-as-utc"] == 2
    assert "not a gradebook" in as_json["note"]

    as_csv = labkit_cli("class", "status", str(recorded_class), "--csv")
    rows = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert [r["learner"] for r in rows] == ["done", "idle", "stuck"]
    assert rows[2][STEPS[3]] == "failed x4" and rows[0]["points"] == "75"
    assert (rows[2]["failing_mistake"], rows[2]["liveness"]) == ("no-version", "live")

    histogram = labkit_cli("class", "status", str(recorded_class), "--csv", "--mistakes")
    assert list(csv.reader(io.StringIO(histogram.stdout))) == [
        ["step", "mistake", "learners", "of", "checked"], [STEPS[3], "no-version", "1", "3", "3"],
        [STEPS[7], "local-as-utc", "2", "3", "2"], [STEPS[7], "moment-late", "1", "3", "2"]]
    only = labkit_cli("class", "status", str(recorded_class), "--mistakes")
    assert only.returncode == 0 and "  delete-docs: local-as-utc 2 of 3, moment-late 1 of 3" in only.stdout
    assert "stuck" not in only.stdout and "points" not in only.stdout  # the histogram alone
    as_json = json.loads(labkit_cli("class", "status", str(recorded_class), "--json", "--mistakes").stdout)
    assert sorted(as_json) == ["learners", "mistakes", "note"]


def test_a_message_from_a_record_is_text_in_a_spreadsheet(tmp_path):
    folder = tmp_path / "records"
    folder.mkdir()
    write_record(folder, "eve", {STEPS[0]: failed(5, 1, "x", '=HYPERLINK("http://evil.example","click")')},
                 "2026-12-01T11:59:00Z")
    row = next(csv.DictReader(io.StringIO(classroom.status_csv(classroom.class_status(folder, now=NOW)))))
    assert row["failing_message"] == "'=HYPERLINK(\"http://evil.example\",\"click\")"


def test_labkit_class_status_errors_say_what_to_do(tmp_path, labkit_cli, clean_env):
    missing = labkit_cli("class", "status", str(tmp_path / "nowhere"))
    assert missing.returncode == 1 and "does not exist" in missing.stderr and "Traceback" not in missing.stderr
    both = labkit_cli("class", "status", str(tmp_path), "--json", "--csv")
    assert both.returncode == 2 and "Choose one of --json and --csv" in both.stderr
    cleanup = labkit_cli("class", "cleanup", str(tmp_path / "nowhere"))
    assert cleanup.returncode == 1 and "does not exist" in cleanup.stderr and "Traceback" not in cleanup.stderr


def test_the_charts_count_learners_in_whole_numbers(recorded_class):
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    status = classroom.class_status(recorded_class, now=NOW)
    figure = dashboard.progress_figure(status)
    try:
        passed_axes, mistakes_axes = figure.axes
        assert [t for t in passed_axes.get_yticks() if not float(t).is_integer()] == []
        assert [t for t in mistakes_axes.get_xticks() if not float(t).is_integer()] == []
        assert [label.get_text() for label in mistakes_axes.get_yticklabels()] == [
            "delete-docs: moment-late", "delete-docs: local-as-utc", "tools: no-version"]
        assert [bar.get_width() for bar in mistakes_axes.patches] == [1, 2, 1]
    finally:
        plt.close(figure)
    assert dashboard.progress_png(status).startswith(b"\x89PNG")
    html = dashboard.status_html(status)
    assert "<b>no-version</b> No server version recorded" in html and "2 of 3" in html and "not a gradebook" in html


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
    assert "local-as-utc 2 of 3" in data["text/plain"] and "Mistakes per step" in data["text/html"]
    assert "<table" in data["text/html"] and data["image/png"]


def test_cleanup_as_root_leaves_roots_own_labs_alone(fresh_lab, tmp_path, labkit_cli):
    if os.geteuid() != 0:
        pytest.skip("only root's own records are root's (cleanup as a non-root instructor: the OS-user tests)")
    folder = tmp_path / "records"
    folder.mkdir()
    record = {"learner": "ada", "topic": "partial-recovery", "workspace": str(fresh_lab.path), "steps": {}}
    (folder / "ada.json").write_text(json.dumps(record))
    done = labkit_cli("class", "cleanup", str(folder))
    assert done.returncode == 0, done.stderr
    assert "root: a record written by root is no learner's: root's labs are left alone" in done.stdout
    assert fresh_lab.is_up() and all(procs.recorded_alive(r) for r in fresh_lab.read()["deployments"].values())


# --- real OS users: a class on a shared server ------------------------------------------------------


@pytest.fixture(scope="session")
def learner_bin(tmp_path_factory):
    """A `labkit` every OS user may run, on this checkout and its dependencies (this suite's .venv may sit
    where other users cannot run its interpreter, e.g. under /root; a class image installs into a shared
    place). A venv of the system's Python of the same version whose site path adds ours."""
    system = shutil.which("python3", path="/usr/bin:/bin")
    if not system:
        pytest.skip("no system python3 for other OS users")
    version = subprocess.run([system, "-c", "import sys; print(sys.version_info[:2])"], capture_output=True,
                             text=True).stdout.strip()
    if version != str(sys.version_info[:2]):
        pytest.skip(f"the system's python3 is {version}, not {sys.version_info[:2]} like this suite's")
    root = Path(tempfile.mkdtemp(prefix="labkit-learner-bin-"))
    try:
        root.chmod(0o755)
        subprocess.run([system, "-m", "venv", "--without-pip", str(root / "venv")], check=True, capture_output=True)
        bin_dir = root / "venv" / "bin"
        purelib = subprocess.run([str(bin_dir / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                 capture_output=True, text=True, check=True).stdout.strip()
        ours = sysconfig.get_paths()["purelib"]
        Path(purelib, "labkit-suite.pth").write_text(f"import site; site.addsitedir({ours!r})\n")
        for name, module in (("labkit", "labkit.cli"), ("secantusd-py", "secantus.cli")):
            (bin_dir / name).write_text(f"#!{bin_dir / 'python'}\nimport sys\nfrom {module} import main\n"
                                        "sys.exit(main())\n")
            (bin_dir / name).chmod(0o755)
        subprocess.run(["chmod", "-R", "a+rX", str(root)], check=True)
        probe = subprocess.run([str(bin_dir / "labkit"), "--version"], user=65534, group=65534, extra_groups=[],
                               capture_output=True, text=True, cwd="/")
        if probe.returncode != 0:
            pytest.skip(f"other OS users cannot run this checkout's labkit ({probe.stderr.strip()[-200:]}): "
                        "put the checkout where every user may read it")
        yield bin_dir
    finally:
        shutil.rmtree(root, ignore_errors=True)


class ClassHost:
    """A shared server as docs/instructor.md sets it up: learners with 0700 homes, an instructors' group,
    the class folder 3773 (setgid, sticky: learners add records but cannot list, read or replace others')."""

    def __init__(self, make_os_user, learner_bin: Path, stopper):
        self.make_os_user = make_os_user
        self.bin = learner_bin
        self.stopper = stopper
        self.root = Path(tempfile.mkdtemp(prefix="labkit-class-"))
        self.root.chmod(0o755)
        self.group = f"labkit-i{uuid.uuid4().hex[:8]}"
        subprocess.run(["groupadd", self.group], check=True, capture_output=True)
        self.gid = int(subprocess.run(["getent", "group", self.group], capture_output=True, text=True,
                                      check=True).stdout.split(":")[2])
        self.folder = self.root / "class"
        self.folder.mkdir()
        os.chown(self.folder, 0, self.gid)
        self.folder.chmod(0o3773)

    def user(self, instructor: bool = False):
        user = self.make_os_user(home=self.root / f"home-{uuid.uuid4().hex[:6]}")
        if instructor:
            subprocess.run(["usermod", "-aG", self.group, user.name], check=True, capture_output=True)
        return user

    def env(self, user) -> dict:
        """What the hub gives a learner's processes: nothing of this suite's environment but its leak marker."""
        return {"HOME": str(user.home), "PATH": f"{self.bin}:/usr/bin:/bin", "LABKIT_CLASS_DIR": str(self.folder),
                "LABKIT_LEARNER": user.name, "PYTEST_LABKIT_SUITE": os.environ["PYTEST_LABKIT_SUITE"]}

    def run(self, user, *args, instructor: bool = False, hidepid: str | None = None,
            timeout: float = 180) -> subprocess.CompletedProcess:
        """`labkit ARGS` as ``user`` (an instructor with the instructors' group), from their home; with
        ``hidepid`` (mount options such as "hidepid=2"), in a mount namespace of its own whose /proc hides
        other users' processes, as docs/instructor.md recommends, the rest of the machine unchanged."""
        command = [str(self.bin / "labkit"), *args]
        if hidepid:
            groups = f"--groups={self.gid}" if instructor else "--clear-groups"
            command = ["unshare", "--mount", "--propagation", "private", "sh", "-c",
                       f'mount -t proc -o {hidepid} proc /proc && exec "$@"', "hidepid", "setpriv",
                       f"--reuid={user.uid}", f"--regid={user.gid}", groups, "--", *command]
            who = {}
        else:
            who = {"user": user.uid, "group": user.gid, "extra_groups": [self.gid] if instructor else []}
        proc = subprocess.Popen(command, **who, env=self.env(user), cwd=str(user.home), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        try:
            out, err = proc.communicate(timeout=timeout)
        except BaseException:
            self.stopper(proc)
            raise
        return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)

    def up(self, user, workspace: Path) -> None:
        done = self.run(user, "up", "--workspace", str(workspace))
        assert done.returncode == 0, done.stderr

    def check(self, user, workspace: Path, answer: str = "b") -> str:
        """A learner's check cell, as the notebook runs it: answer the concepts question and check it."""
        code = ("import sys; from labkit.lab import actions, checks; from labkit.workspace import Workspace; "
                "ws = Workspace(sys.argv[1]); actions.answer(ws, 'partial-recovery.concepts', sys.argv[2]); "
                "print(checks.run_check(ws, 'partial-recovery.concepts').text())")
        done = subprocess.run([str(self.bin / "python"), "-c", code, str(workspace), answer], user=user.uid,
                              group=user.gid, extra_groups=[], env=self.env(user), cwd=str(user.home), capture_output=True,
                              text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        return done.stdout

    def close(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
        subprocess.run(["groupdel", self.group], capture_output=True)


@pytest.fixture
def class_host(make_os_user, learner_bin, process_stopper):
    host = ClassHost(make_os_user, learner_bin, process_stopper)
    yield host
    host.close()  # make_os_user's teardown (after this one) stops every process the users still run


def lab_names(uid: int) -> dict[str, set[str]]:
    """workspace -> names of the lab processes ``uid`` runs there."""
    return {ws: set(found) for ws, found in labprocs.running_labs({uid}).get(uid, {}).items()}


def owners_under(path: Path) -> set[int]:
    return {os.lstat(p).st_uid for p in [path, *path.rglob("*")]}


def test_cleanup_as_root_stops_every_lab_of_a_learner_as_that_learner_and_locks_nobody_out(class_host,
                                                                                          labkit_cli):
    ada = class_host.user()
    course = ada.home / "partial-recovery" / ".labkit" / "partial-recovery"
    scratch = ada.home / "scratch" / "ws"  # a second lab, where no check ever ran: found by its processes
    class_host.up(ada, course)
    assert "PASS" in class_host.check(ada, course)
    started = class_host.run(ada, "workload", "start", "--workspace", str(course), "--rate", "5")
    assert started.returncode == 0, started.stderr
    class_host.up(ada, scratch)
    running = lab_names(ada.uid)
    assert running[str(course)] >= {"main", "temp", "workload", "idle-stop"} and running[str(scratch)] >= {"main", "temp"}
    record = class_host.folder / f"{ada.name}.json"
    assert record.stat().st_uid == ada.uid and stat.S_IMODE(record.stat().st_mode) == 0o640
    assert record.stat().st_gid == class_host.gid  # the folder's setgid bit: the instructors' group reads it

    done = labkit_cli("class", "cleanup", str(class_host.folder))
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{ada.name}: {course}: stopped idle-stop, stopped workload, stopped Main, stopped Temp" in done.stdout
    assert f"{ada.name}: {scratch}: stopped idle-stop, stopped Main, stopped Temp" in done.stdout
    assert f"{ada.name}: 2 stopped (2 workspace(s) looked at)" in done.stdout
    assert "Traceback" not in done.stderr and lab_names(ada.uid) == {}
    assert owners_under(ada.home) == {ada.uid}  # nothing was written as root: no file locks ada out

    for command in (["status"], ["up"], ["status"], ["down", "--purge"]):
        result = class_host.run(ada, *command, "--workspace", str(course))
        assert result.returncode == 0 and "Traceback" not in result.stderr, (command, result.stderr)
    assert not course.exists()
    assert class_host.run(ada, "down", "--purge", "--workspace", str(scratch)).returncode == 0


def _forge(home: str, folder: str, victim: str, victim_ws: str, victim_pid: int, victim_marker: str,
           protected: str, absent: str) -> None:
    """The attacker, as themselves: hand-made workspaces that name the victim's server, and records."""
    os.umask(0o077)
    fake = Path(home, "fake")  # a workspace whose state names the victim's server
    fake.mkdir()
    state = {"version": 1, "lab": "partial-recovery", "up": True, "path": str(fake),
             "deployments": {"main": {"kind": "embedded", "port": 1, "pid": victim_pid, "marker": ""}},
             "processes": {"workload": {"pid": victim_pid, "marker": victim_marker, "stop_rank": 1},
                           "capture": {"pid": victim_pid, "stop_rank": 2}}}
    (fake / "state.json").write_text(json.dumps(state))
    linked = Path(home, "linked")  # a workspace whose lock and busy files are links to root's files
    linked.mkdir()
    (linked / "state.json").write_text(json.dumps({**state, "path": str(linked)}))
    (linked / ".lock").symlink_to(protected)
    (linked / ".busy").symlink_to(absent)
    unreadable = Path(home, "unreadable")  # a workspace whose state nobody may read (not even its owner)
    unreadable.mkdir()
    (unreadable / "state.json").write_text("{}")
    (unreadable / "state.json").chmod(0)
    me = os.getuid()
    record = {"learner": Path(home).name, "topic": "partial-recovery", "steps": {},
              "workspaces": [str(fake), str(linked), str(unreadable), str(Path(home, "gone\x1b[2J")), victim_ws],
              "workspace": str(fake)}
    for name in (f"mallory-{me}", victim):  # their own record, and one squatting the victim's name
        path = Path(folder, f"{name}.json")
        path.write_text(json.dumps({**record, "learner": name}))
        path.chmod(0o640)


def test_a_forged_record_cannot_turn_cleanup_as_root_against_another_learner(class_host, as_user, labkit_cli):
    ada, mallory = class_host.user(), class_host.user()
    ada_ws = ada.home / "partial-recovery" / ".labkit" / "partial-recovery"
    class_host.up(ada, ada_ws)
    server = {p.name: p for p in labprocs.lab_processes({ada.uid})}["main"]
    protected = class_host.root / "root-only" / "protected"
    protected.parent.mkdir()
    protected.write_text("root's")
    protected.chmod(0o644)
    absent = protected.parent / "created-through-a-link"
    as_user((mallory.uid, mallory.gid), _forge, str(mallory.home), str(class_host.folder), ada.name, str(ada_ws),
            server.pid, server.marker, str(protected), str(absent))

    done = labkit_cli("class", "cleanup", str(class_host.folder))
    out = done.stdout
    assert "Traceback" not in done.stderr, done.stderr
    assert procs.alive(server.pid, server.marker, uid=ada.uid)  # ada's server runs on, and answers
    port = json.loads(subprocess.run(["cat", str(ada_ws / "state.json")], capture_output=True,
                                     text=True).stdout)["deployments"]["main"]["port"]
    client = MongoClient(deploy.embedded_uri(port), serverSelectionTimeoutMS=5000)
    assert client.admin.command("ping")["ok"] == 1
    client.close()
    assert f"{mallory.name}: {mallory.home / 'fake'}:" not in out  # ran as mallory: nothing of hers ran there
    assert f"{mallory.name}: 2 with nothing running, 2 refused, 1 no longer there (5 workspace(s) looked at)" in out
    assert "\x1b" not in out + done.stderr  # a path from a record never drives root's terminal
    assert f"{mallory.name}: {ada_ws}: not touched: it belongs to {ada.name}, not to {mallory.name}" in out
    assert f"{mallory.name}: {mallory.home / 'linked'}: not touched: its .lock is a symbolic link" in out
    assert f"{mallory.name}: {mallory.home / 'unreadable'}: cannot be read (Permission denied)" in out
    # Nothing made or changed through the links, nothing written as root in the attacker's home.
    assert not absent.exists() and stat.S_IMODE(protected.stat().st_mode) == 0o644
    assert protected.read_text() == "root's"
    assert owners_under(mallory.home) == {mallory.uid}
    assert json.loads(as_user((mallory.uid, mallory.gid), Path.read_text,
                              mallory.home / "fake" / "state.json"))["up"] is False  # stopped, as mallory

    # The instructor's status: the squatted record is reported, not shown as ada.
    status = json.loads(labkit_cli("class", "status", str(class_host.folder), "--json").stdout)
    assert [row["learner"] for row in status["rows"]] == [f"mallory-{mallory.uid}"]
    assert f"{ada.name}.json (OS user {mallory.name}): made by OS user {mallory.name} (uid {mallory.uid}), not by " \
           f"{ada.name}: another learner's name taken; not shown as {ada.name}" in status["problems"]


def _write_as_learner(folder: str, name: str, record: dict) -> None:
    path = Path(folder, f"{name}.json")
    path.write_text(json.dumps(record))
    path.chmod(0o640)


def test_squatted_and_hand_edited_records_are_reported_for_what_they_are(class_host, as_user, labkit_cli):
    ada, bob, cyd = class_host.user(), class_host.user(), class_host.user()
    folder = str(class_host.folder)
    full = {s: passed(p) for s, p in zip(STEPS, POINTS)}
    fake = {"learner": ada.name, "topic": "partial-recovery", "updated": "2026-12-01T11:59:00Z", "steps": full,
            "points": 75}
    # bob writes ada's record before ada does, and both of cyd's possible names.
    as_user((bob.uid, bob.gid), _write_as_learner, folder, ada.name, fake)
    as_user((bob.uid, bob.gid), _write_as_learner, folder, cyd.name, {**fake, "learner": cyd.name})
    as_user((bob.uid, bob.gid), _write_as_learner, folder, f"{cyd.name}~{cyd.uid}", {**fake, "learner": cyd.name})
    # Learners cannot list or read each other's records, nor replace them.
    with pytest.raises(AssertionError, match="PermissionError"):
        as_user((ada.uid, ada.gid), os.listdir, folder)
    with pytest.raises(AssertionError, match="PermissionError"):
        as_user((ada.uid, ada.gid), Path.read_text, class_host.folder / f"{ada.name}.json")

    ada_ws, cyd_ws = ada.home / "ws", cyd.home / "ws"
    assert "PASS" in class_host.check(ada, ada_ws) and "Note:" not in class_host.check(ada, ada_ws)
    cyd_says = class_host.check(cyd, cyd_ws)
    assert "\nPASS partial-recovery.concepts: 5/5 points." in cyd_says and f"another user made {cyd.name}.json and {cyd.name}~{cyd.uid}.json" \
        in cyd_says and "Tell your instructor" in cyd_says
    # ada's progress went to the name only ada's uid may claim.
    kept = class_host.folder / f"{ada.name}~{ada.uid}.json"
    assert kept.stat().st_uid == ada.uid

    # ada then edits her own record to full marks, inconsistently.
    edited = {**fake, "steps": {**full, STEPS[1]: {**passed(10), "points": 50}}, "points": 115}
    status = json.loads(labkit_cli("class", "status", folder, "--json").stdout)
    rows = {row["learner"]: row for row in status["rows"]}
    assert sorted(rows) == [ada.name] and rows[ada.name]["os_user"] == ada.name and rows[ada.name]["points"] == 5
    problems = "\n".join(status["problems"])
    assert f"{ada.name}.json (OS user {bob.name}): made by OS user {bob.name}" in problems
    assert f"{cyd.name}~{cyd.uid}.json (OS user {bob.name}): made by OS user {bob.name} (uid {bob.uid}) under the " \
           f"name kept for uid {cyd.uid}; not shown as {cyd.name}" in problems
    as_user((ada.uid, ada.gid), _write_as_learner, folder, f"{ada.name}~{ada.uid}", edited)
    status = json.loads(labkit_cli("class", "status", folder, "--json").stdout)
    assert status["rows"] == [] and f"{ada.name}~{ada.uid}.json (OS user {ada.name}): edited by hand, not written " \
        "by labkit's checks (flow: 50 points for a passed check of a 10-point step); not shown" in status["problems"]


def test_cleanup_and_status_as_an_instructor_who_is_not_root(class_host, labkit_cli):
    ada, teacher, outsider = class_host.user(), class_host.user(instructor=True), class_host.user()
    ada_ws = ada.home / "partial-recovery" / ".labkit" / "partial-recovery"
    teacher_ws = teacher.home / "try-it" / "ws"  # the instructor tried the lab with the class folder set
    class_host.up(ada, ada_ws)
    class_host.check(ada, ada_ws)
    class_host.up(teacher, teacher_ws)
    class_host.check(teacher, teacher_ws)
    before = lab_names(ada.uid)

    done = class_host.run(teacher, "class", "cleanup", str(class_host.folder), instructor=True)
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    assert f"{teacher.name}: {teacher_ws}: stopped idle-stop, stopped Main, stopped Temp" in done.stdout
    assert lab_names(teacher.uid) == {}
    assert f"{ada.name}: {ada_ws}: not reached: runs idle-stop, main, temp as OS user {ada.name}" in done.stdout
    assert f"{ada.name}: 1 not reached (1 workspace(s) looked at)" in done.stdout
    assert "Run labkit class cleanup as root" in done.stdout
    assert lab_names(ada.uid) == before  # nothing was stopped, nothing written

    status = class_host.run(teacher, "class", "status", str(class_host.folder), "--json", instructor=True)
    assert status.returncode == 0, status.stderr
    row = {row["learner"]: row for row in json.loads(status.stdout)["rows"]}[ada.name]
    assert (row["learner"], row["os_user"], row["points"]) == (ada.name, ada.name, 5)
    assert (row["deployments_alive"], row["liveness"]) == (True, "live")  # read now: /proc shows processes here

    # Where /proc hides other users' processes: liveness as of the learner's last check, said so.
    hidden = class_host.run(teacher, "class", "status", str(class_host.folder), instructor=True, hidepid="hidepid=2")
    assert hidden.returncode == 0, hidden.stderr
    row = next(line for line in hidden.stdout.splitlines() if line.startswith(ada.name))
    assert " ~up " in row  # ada's lab ran at her check: marked as not read now
    assert f"Labs: labs of {ada.name} as of their last check: their processes are hidden from you" in hidden.stdout
    hidden = class_host.run(teacher, "class", "cleanup", str(class_host.folder), instructor=True, hidepid="hidepid=2")
    assert hidden.returncode == 1 and "Traceback" not in hidden.stderr, hidden.stderr
    assert f"{ada.name}: {ada_ws}: not reached: OS user {ada.name}'s processes are hidden from you (/proc hidepid)" \
        in hidden.stdout
    assert lab_names(ada.uid) == before
    # /proc's gid= exempts the instructors' group: their status reads learners' labs live again.
    exempt = class_host.run(teacher, "class", "status", str(class_host.folder), "--json", instructor=True,
                            hidepid=f"hidepid=2,gid={class_host.gid}")
    row = {row["learner"]: row for row in json.loads(exempt.stdout)["rows"]}[ada.name]
    assert (row["deployments_alive"], row["liveness"]) == (True, "live")

    for command in (["class", "status"], ["class", "cleanup"]):  # not in the instructors' group
        refused = class_host.run(outsider, *command, str(class_host.folder))
        assert refused.returncode == 1 and "Traceback" not in refused.stderr, refused.stderr
        assert f"The class folder {class_host.folder} cannot be read by you (Permission denied)" in refused.stderr
        assert len(refused.stderr.strip().splitlines()) == 1
