"""Grading with real nbgrader: `labkit nbgrader --out` writes a course that nbgrader's own commands grade."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from labkit.errors import LabError
from labkit.lab import grading, notebooks, topic
from labkit.workspace import Workspace

nbgrader_api = pytest.importorskip("nbgrader.api", reason="nbgrader is not installed: pip install 'labkit[instructor]'")

BIN = Path(sys.executable).parent
TOPIC = "partial-recovery"


def test_the_course_has_a_graded_cell_per_step_worth_its_points(tmp_path, labkit_cli):
    done = labkit_cli("nbgrader", "--out", str(tmp_path / "course"))
    assert done.returncode == 0, done.stderr
    source = tmp_path / "course" / "source" / TOPIC
    graded, solutions = {}, 0
    for path in sorted(source.glob("*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            meta = cell.metadata.get("nbgrader")
            if not meta:
                assert notebooks.BEGIN not in cell.source
                continue
            assert meta["schema_version"] == 3
            if meta["grade"]:
                assert meta["locked"] and not meta["solution"]
                graded[meta["grade_id"]] = meta["points"]
                assert "assert _result.passed, _result.message" in cell.source and not cell.get("outputs")
            else:
                assert meta["solution"] and notebooks.BEGIN in cell.source
                solutions += 1
    assert graded == {f"check-{s.id.split('.', 1)[1]}": s.points for s in topic.topic().steps}
    assert sum(graded.values()) == 75 and solutions >= 9
    assert 'c.CourseDirectory.course_id = "partial-recovery"' in (tmp_path / "course" / "nbgrader_config.py").read_text()
    again = labkit_cli("nbgrader", "--out", str(tmp_path / "course"))
    assert again.returncode == 1 and "already holds an assignment" in again.stderr


def test_a_course_needs_one_check_cell_per_step(tmp_path):
    source = tmp_path / "notebooks"
    source.mkdir()
    for path in notebooks.notebook_paths(TOPIC):
        nb = nbformat.read(path, as_version=4)
        nb.cells = [c for c in nb.cells if 'lab.check(ws, "partial-recovery.flow")' not in c.source]
        nbformat.write(nb, source / path.name)
    with pytest.raises(LabError, match="8 check cells for 9 steps"):
        grading.write_course(tmp_path / "course", source=source)
    assert not (tmp_path / "course").exists()


def steps_without_code(source: Path) -> int:
    """Points of the steps whose check follows no solution cell since the previous check: free in a release."""
    points, code_since_check = 0, False
    for path in sorted(source.glob("*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            meta = cell.metadata.get("nbgrader") or {}
            if meta.get("solution"):
                code_since_check = True
            elif meta.get("grade"):
                points += 0 if code_since_check else meta["points"]
                code_since_check = False
    return points


def nbgrader(course: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LABKIT_")}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"  # nbgrader runs alembic from PATH
    return subprocess.run([str(BIN / "nbgrader"), *args], cwd=course, env=env, capture_output=True, text=True,
                          timeout=1500)


@pytest.mark.timeout(1800)
def test_nbgrader_autograde_scores_solved_unsolved_and_one_mistake(tmp_path, labkit_cli):
    course = tmp_path / "course"
    assert labkit_cli("nbgrader", "--out", str(course)).returncode == 0
    generated = nbgrader(course, "generate_assignment", TOPIC)
    assert generated.returncode == 0, generated.stderr[-3000:]
    source, release = course / "source" / TOPIC, course / "release" / TOPIC
    submissions = {"solved": source, "unsolved": release, "mistake": source}
    for student, folder in submissions.items():
        shutil.copytree(folder, course / "submitted" / student / TOPIC)
    # The typical first mistake: the wrong choice for the concepts question (5 points).
    wrong = course / "submitted" / "mistake" / TOPIC / "01-overview.ipynb"
    wrong.write_text(wrong.read_text().replace('answer = answer or \\"b\\"', 'answer = answer or \\"a\\"'))
    assert '\\"a\\"' in wrong.read_text()
    try:
        graded = nbgrader(course, "autograde", TOPIC)
        assert graded.returncode == 0, graded.stderr[-3000:]
    finally:
        stopping = []
        for student in submissions:  # every submission brought up its own Main and Temp
            ws = Workspace(course / "autograded" / student / TOPIC / ".labkit" / TOPIC)
            try:
                if ws.exists():
                    ws.down(purge=True)  # also when its state is damaged
            except Exception as exc:  # stop the other students' servers all the same
                stopping.append(f"{student}: {exc}")
        if stopping and sys.exc_info()[0] is None:  # never hide the failure that got us here
            raise AssertionError(f"could not stop every submission's servers: {stopping}")
    with nbgrader_api.Gradebook(f"sqlite:///{course / 'gradebook.db'}") as book:
        scores = {student: book.find_submission(TOPIC, student).score for student in submissions}
    assert scores["solved"] == 75, graded.stderr[-3000:]
    assert scores["mistake"] == 70
    assert scores["unsolved"] == steps_without_code(course / "source" / TOPIC)
