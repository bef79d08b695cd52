"""The three lab notebooks executed for real: nbval (lab mode), the challenge version, bad parameters.

Each full run costs kernels and servers, so there are few: one nbval run of the committed notebooks whose
workspace many assertions share, one challenge run, and three runs that stop in their first cell.
(Demo mode and papermill runs with 75/75 are in test_runner.py: the batch and the target=uri run.)
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

import bson
import nbformat
import pytest
from bson import json_util
from bson.codec_options import CodecOptions
from bson.raw_bson import RawBSONDocument

from labkit.lab import actions as steps, notebooks, runner, topic as labs
from labkit.workspace import Workspace

NOTEBOOKS = notebooks.source_dir()


NBVAL_TIMEOUT_S = 600
# The nbval run happens in the first test's setup: pytest-timeout must allow more than the run's own limit.
pytestmark = pytest.mark.timeout(NBVAL_TIMEOUT_S + 120)


@pytest.fixture(scope="module")
def nbval_run(tmp_path_factory, process_stopper, down_workspace):
    """nbval --nbval-lax over the committed notebooks, in order, all in one workspace."""
    ws = Workspace(tmp_path_factory.mktemp("nbval") / "ws")
    env = {k: v for k, v in os.environ.items() if not k.startswith("LABKIT_")}
    env["LABKIT_WORKSPACE"] = str(ws.path)
    args = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:randomly", "-q", "--nbval-lax",
            "--nbval-sanitize-with", str(NOTEBOOKS / "nbval-sanitize.cfg"), "--rootdir", str(NOTEBOOKS),
            *[str(NOTEBOOKS / lab.notebook) for lab in labs.topic().labs]]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            cwd=str(NOTEBOOKS))
    try:
        out, err = proc.communicate(timeout=NBVAL_TIMEOUT_S)
        yield subprocess.CompletedProcess(args, proc.returncode, out, err), ws
    finally:
        process_stopper(proc)  # on a timeout: the inner pytest and its kernels, not only the former
        down_workspace(ws)


def test_nbval_runs_the_lab_notebooks_and_checked_outputs_match(nbval_run):
    proc, _ = nbval_run
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert " passed" in proc.stdout and "failed" not in proc.stdout.splitlines()[-1]


def test_lab_mode_passes_all_nine_checks(nbval_run):
    _, ws = nbval_run
    saved = ws.read()["steps"]
    assert sorted(saved) == sorted(labs.step_ids())
    assert all(result["passed"] for result in saved.values()), {k: v["message"] for k, v in saved.items()}
    assert sum(result["points"] for result in saved.values()) == 75
    figures = ws.read()["labrun"]["figures"]
    assert figures["restored"] == figures["identical"] == 100
    report = ws.read()["labrun"]["workload_report"]
    assert report["failures"] == 0 and report["missing"] == 0 and report["duplicates"] == 0


def test_restored_customers_are_byte_identical_to_the_generated_ones(nbval_run):
    """Checked here independently of the check's own code: raw BSON on Main against the generated file."""
    _, ws = nbval_run
    assert not ws.is_up()  # the last cell of lab 3 stopped everything the lab started
    ws.up()  # the data stays in the workspace: start the servers again to look at it
    loaded = ws.read()["labrun"]["customers"]
    with open(loaded["file"]) as f:
        generated = [json_util.loads(line, json_options=steps.CANONICAL) for line in f if line.strip()]
    assert len(generated) == 100 and all("firstname" in doc for doc in generated)
    coll = ws.main.client[steps.DB].get_collection(steps.COLLECTION,
                                                   codec_options=CodecOptions(document_class=RawBSONDocument))
    on_main = {doc["_id"]: doc.raw for doc in coll.find({"firstname": {"$exists": True}})}
    assert len(on_main) == 100
    assert all(on_main[doc["_id"]] == bson.encode(doc) for doc in generated)
    assert coll.count_documents({}) > 100  # the application's documents are there too


def test_events_for_the_timeline_are_in_order(nbval_run):
    _, ws = nbval_run
    kinds = [event["kind"] for event in ws.events()]
    assert "mark" not in kinds  # nobody notes the time before an incident
    for earlier, later in (("load", "snapshot"), ("snapshot", "delete"), ("delete", "restore"),
                           ("restore", "export"), ("export", "import")):
        assert kinds.index(earlier) < kinds.index(later), kinds
    assert next(e for e in ws.events() if e["kind"] == "delete")["count"] == 100


# The steps whose cells hold a blank for the learner (a decision, a count, a query, a command line).
BLANK_STEPS = {"partial-recovery.concepts", "partial-recovery.flow", "partial-recovery.requirements",
               "partial-recovery.tools",
               "partial-recovery.load-and-snapshot", "partial-recovery.verify-present", "partial-recovery.delete-docs",
               "partial-recovery.pitr-export-import"}


def test_challenge_version_runs_without_exceptions_and_checks_fail_with_hints(tmp_path):
    result = runner.run_lab(params={"mode": "challenge", "customers": 5}, output_dir=tmp_path / "run")
    assert result.error is None and result.status == "failed"
    failed = {row["step"] for row in result.steps if row["status"] == "failed"}
    assert failed == BLANK_STEPS, failed
    assert not Workspace(result.workspace).is_up()
    for path in result.notebooks:
        nb = nbformat.read(path, as_version=4)
        assert "# YOUR CODE HERE" in json.dumps(nb.cells)
        outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
        assert not [o for o in outputs if o.output_type == "error"]
        checks_text = "".join(o.get("text", "") for c in nb.cells if "lab.check(" in c.source for o in c.outputs)
        lab = next(lab for lab in labs.topic().labs if path.endswith(lab.notebook))
        for step in lab.steps:
            if step.id in BLANK_STEPS:
                assert f"FAIL {step.id}: 0/{step.points} points" in checks_text
                assert f"Hint: {step.nudge}" in checks_text  # challenge mode: the nudge comes first


@pytest.mark.parametrize("lab_index", [1, 2])
def test_a_notebook_alone_on_a_fresh_workspace_passes_its_checks(tmp_path, lab_index, capsys):
    """The catch-up cell brings a fresh workspace to where the lab starts: lab 2 or lab 3 run alone."""
    import papermill

    lab = labs.topic().labs[lab_index]
    ws = Workspace(tmp_path / "ws")
    env_before = dict(os.environ)
    try:
        papermill.execute_notebook(str(NOTEBOOKS / lab.notebook), str(tmp_path / lab.notebook), kernel_name="python3",
                                   parameters={"workspace": str(ws.path), "customers": 20}, progress_bar=False,
                                   cwd=str(tmp_path))
        saved = ws.read()["steps"]
        assert sorted(saved) == sorted(step.id for step in lab.steps)
        assert all(result["passed"] for result in saved.values()), {k: v["message"] for k, v in saved.items()}
        nb = nbformat.read(tmp_path / lab.notebook, as_version=4)
        caught_up = "".join(o.get("text", "") for c in nb.cells if "lab.catch_up(" in c.source for o in c.outputs)
        assert "Caught up: " in caught_up
        if lab_index == 2:
            assert not ws.is_up()  # the last cell of lab 3 stops everything the lab started
            steps.down(ws)  # and running it again is harmless
            assert "Nothing is running" in capsys.readouterr().out
    finally:
        os.environ.clear()
        os.environ.update(env_before)
        if ws.exists() and ws.is_up():
            ws.down()


@pytest.mark.parametrize("name, value, message", [
    ("customers", 0, "customers must be a whole number of at least 1"),
    ("mode", "exam", "Unknown mode 'exam'"),
    ("target", "cloud", "Unknown target 'cloud'"),
])
def test_bad_parameters_stop_the_first_cell_with_a_clear_error(tmp_path, name, value, message):
    result = runner.run_lab(params={name: value}, output_dir=tmp_path / "run")
    assert result.status == "error" and result.failed_notebook == "01-overview.ipynb"
    assert message in result.error and result.error.startswith("LabError")
    nb = nbformat.read(result.notebooks[0], as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    errors = [(i, o) for i, c in enumerate(code) for o in c.outputs if o.output_type == "error"]
    assert len(errors) == 1
    index, error = errors[0]
    assert "lab.begin(" in code[index].source  # the first cell after the parameters
    assert all("parameters" in c.metadata.get("tags", []) or "injected-parameters" in c.metadata.get("tags", [])
               for c in code[:index])
    assert error.traceback == [f"LabError: {error.evalue}"] and message in error.evalue  # no traceback spew
    assert not Workspace(result.workspace).is_up()
