"""Grading with nbgrader: the course as a ready nbgrader course folder.

``write_course(out)`` writes ``out/source/<topic>/`` (the topic's notebooks
with nbgrader's cell metadata) and ``out/nbgrader_config.py``. In the
notebooks, every region between ``### BEGIN SOLUTION`` and ``### END
SOLUTION`` becomes an nbgrader solution cell, and every check cell
(``lab.check(ws, "<step id>")``) becomes one autograded test cell worth that
step's points, which runs the step's check and fails with its message. The
instructor then uses nbgrader's own commands unchanged::

    nbgrader generate_assignment partial-recovery    # the learners' version (solutions stubbed)
    nbgrader autograde partial-recovery              # re-executes each submission, on its own deployments
"""
from __future__ import annotations

import os
import re
from pathlib import Path

import nbformat

from labkit.errors import LabError
from labkit.files import write_atomic
from labkit.lab import notebooks, topic
from labkit.workspace import DEFAULT_TOPIC

CHECK_CELL = re.compile(r'^\s*(?:#[^\n]*\n\s*)*lab\.check\(ws,\s*"(?P<step>[A-Za-z0-9-]+\.[A-Za-z0-9-]+)"\)\s*$')
# Each submission runs its three labs in a row, on deployments of its own: minutes, not seconds.
CELL_TIMEOUT_SECONDS = 600

CONFIG = '''"""nbgrader settings for the {topic} course written by `labkit nbgrader`."""
c = get_config()  # noqa: F821 (nbgrader provides it)

c.CourseDirectory.course_id = "{topic}"
# Learners "Run All" the released notebooks: a stub must not raise, the check cells then say what is missing.
c.ClearSolutions.code_stub = {{"python": "# YOUR CODE HERE"}}
# A submission brings up its own Main and Temp (in its folder's .labkit/): cells may take a while.
c.ExecutePreprocessor.timeout = {timeout}
c.Execute.timeout = {timeout}
'''

TEST_CELL = '''# Autograded: the check of {step} ({points} points). Do not change this cell.
from labkit.lab.checks import run_check

_result = run_check(ws, "{step}")
print(_result.text())
assert _result.passed, _result.message
'''


def nbgrader_cell(cell, grade_id: str, *, solution: bool = False, points: int | None = None) -> None:
    """Mark ``cell`` for nbgrader (schema 3): a solution cell, or a locked autograded test cell with points."""
    meta = {"grade_id": grade_id, "schema_version": 3, "task": False, "solution": solution,
            "grade": points is not None, "locked": points is not None}
    if points is not None:
        meta["points"] = points
    cell.metadata["nbgrader"] = meta


def convert(nb, topic_id: str, name: str) -> tuple[int, int]:
    """Give ``nb`` nbgrader's metadata in place; returns (solution cells, graded cells)."""
    notebooks.clear_outputs(nb)
    solutions = graded = 0
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        check = CHECK_CELL.match(cell.source)
        if check:
            step = topic.step(check["step"], topic_id)
            cell.source = TEST_CELL.format(step=step.id, points=step.points)
            nbgrader_cell(cell, f"check-{step.id.split('.', 1)[-1]}", points=step.points)
            graded += 1
        elif notebooks.BEGIN in cell.source:
            nbgrader_cell(cell, f"{Path(name).stem}-solution-{index}", solution=True)
            solutions += 1
    return solutions, graded


def write_course(out: str | os.PathLike, topic_id: str = DEFAULT_TOPIC,
                 source: str | os.PathLike | None = None) -> list[Path]:
    """Write the nbgrader course folder; returns the files written. Refuses to overwrite a course."""
    course = Path(out).expanduser()
    assignment = course / "source" / topic_id
    if assignment.exists() and any(assignment.iterdir()):
        raise LabError(f"{assignment} already holds an assignment: choose another --out, or remove it first "
                       "(nbgrader's gradebook and submissions next to it are kept either way).")
    lab_topic = topic.topic(topic_id)
    converted, graded_steps = [], []
    for path in notebooks.notebook_paths(topic_id, source):
        nb = nbformat.read(path, as_version=4)
        _, graded = convert(nb, topic_id, path.name)
        graded_steps += [cell.metadata["nbgrader"]["grade_id"] for cell in nb.cells
                         if cell.metadata.get("nbgrader", {}).get("grade")]
        converted.append((path.name, nb))
    if len(graded_steps) != len(lab_topic.steps):
        raise LabError(f"The notebooks have {len(graded_steps)} check cells for {len(lab_topic.steps)} steps: "
                       "each step needs exactly one `lab.check(ws, \"<step id>\")` cell to be graded.")
    try:
        assignment.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise LabError(f"Cannot create {assignment}: {exc.strerror or exc}.") from None
    written = []
    for name, nb in converted:
        write_atomic(assignment / name, lambda f, nb=nb: nbformat.write(nb, f))
        written.append(assignment / name)
    config = course / "nbgrader_config.py"
    write_atomic(config, lambda f: f.write(CONFIG.format(topic=topic_id, timeout=CELL_TIMEOUT_SECONDS)))
    written.append(config)
    return written
