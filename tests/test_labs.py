"""The lab registry, parameter validation, challenge generation and the checks' verdicts (no notebook runs)."""
from __future__ import annotations

import json

import nbformat
import pytest

from labkit.lab import actions as steps, checks, notebooks, topic as labs
from labkit.errors import LabError
from labkit.workspace import Workspace

STEP_IDS = [
    "partial-recovery.concepts", "partial-recovery.flow", "partial-recovery.requirements",
    "partial-recovery.tools", "partial-recovery.atlas-clusters", "partial-recovery.load-and-snapshot",
    "partial-recovery.verify-present", "partial-recovery.delete-docs", "partial-recovery.pitr-export-import",
]
LAB_IDS = ["lab-partial-recovery-overview", "lab-partial-recovery-setup", "lab-partial-recovery-execute"]


# --- registry ----------------------------------------------------------------------------------


def test_registry_has_nine_steps_in_three_labs_with_their_points():
    topic = labs.topic()
    assert [lab.id for lab in topic.labs] == LAB_IDS
    assert labs.step_ids() == STEP_IDS
    assert [[s.points for s in lab.steps] for lab in topic.labs] == [[5, 10, 10], [5, 10, 10], [5, 5, 15]]
    assert topic.points == 75
    assert [labs.lab_of(s).id for s in STEP_IDS] == [LAB_IDS[i // 3] for i in range(9)]
    for step in topic.steps:
        assert step.title and step.narrative and step.instructions and step.hint and step.tips
        assert step.minutes > 0 and step.production, step.id
    notebooks_named = [lab.notebook for lab in topic.labs]
    assert notebooks_named == ["01-overview.ipynb", "02-setup.ipynb", "03-execute.ipynb"]


def test_production_commands_cover_atlas_mongosh_and_the_tools():
    text = json.dumps([labs.step(s).production for s in STEP_IDS])
    for needle in ("Atlas >", "mongosh", "deleteMany", "mongoexport", "mongoimport", "mgeneratejs", "--query"):
        assert needle in text


def test_unknown_ids_are_clear_errors_listing_the_valid_ones():
    with pytest.raises(LabError) as err:
        labs.step("partial-recovery.nope")
    assert "partial-recovery.nope" in str(err.value)
    assert all(s in str(err.value) for s in STEP_IDS)
    with pytest.raises(LabError, match="lab-partial-recovery-setup"):
        labs.lab("lab-nope")
    with pytest.raises(LabError, match="partial-recovery"):
        labs.topic("no-such-topic")


def test_describe_step_shows_question_and_production_commands():
    text = labs.describe_step("partial-recovery.flow")
    assert "10 points" in text and "C. Find and note the time" in text and "In production:" in text
    text = labs.describe_step("partial-recovery.pitr-export-import")
    assert "mongoexport: mongoexport --uri" in text and "--username" in text and "Atlas UI:" in text
    assert "--password" not in text.replace("Without --password", "")  # the tools ask for it: never in argv


def test_labs_and_progress_commands(labkit_cli, tmp_path):
    result = labkit_cli("labs")
    assert result.returncode == 0, result.stderr
    assert "75 points" in result.stdout
    assert all(step in result.stdout for step in STEP_IDS) and all(lab in result.stdout for lab in LAB_IDS)
    listed = json.loads(labkit_cli("labs", "--json").stdout)
    assert [s["points"] for lab in listed for s in lab["steps"]] == [5, 10, 10, 5, 10, 10, 5, 5, 15]
    result = labkit_cli("progress", "--workspace", str(tmp_path / "ws"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("not checked") == 9 and "points: 0/75" in result.stdout


# --- parameters --------------------------------------------------------------------------------


def valid(**changes):
    params = dict(target="embedded", main_uri_env="LABKIT_MAIN_URI", temp_uri_env="LABKIT_TEMP_URI", customers=100,
                  template="customer360", seed=42, insert_rate=10.0,
                  recovery_query='{"firstname": {"$exists": true}}', mode="lab")
    params.update(changes)
    return params


@pytest.mark.parametrize("changes, message", [
    ({"customers": 0}, "customers must be a whole number of at least 1"),
    ({"customers": -5}, "customers must be a whole number of at least 1"),
    ({"customers": "100"}, "customers must be"),
    ({"customers": True}, "customers must be"),
    ({"mode": "exam"}, "Unknown mode 'exam': use one of lab, demo, challenge"),
    ({"target": "atlas"}, "Unknown target 'atlas'"),
    ({"insert_rate": 0}, "insert_rate must be"),
    ({"seed": 1.5}, "seed must be"),
    ({"recovery_query": "{firstname"}, "recovery_query is not valid"),
    ({"recovery_query": "[1]"}, "must be a JSON object"),
    ({"main_uri_env": "mongodb://u:p@h/"}, "NAME of an environment variable"),
    ({"flavour_answer": "x"}, "Unknown parameter"),
])
def test_bad_parameters_are_clear_errors(changes, message, clean_env):
    with pytest.raises(LabError) as err:
        steps.validate_params(**valid(**changes))
    assert message in str(err.value)
    assert err.value._render_traceback_() == [f"LabError: {err.value}"]  # what Jupyter shows instead of a traceback


def test_uri_target_needs_the_named_variables_and_stores_only_names(clean_env):
    with pytest.raises(LabError, match=r"variable MY_MAIN \(Main.s connection string\) is not set"):
        steps.validate_params(**valid(target="uri", main_uri_env="MY_MAIN", temp_uri_env="MY_TEMP"))
    clean_env.setenv("MY_MAIN", "mongodb://u:hunter2@h1/")
    clean_env.setenv("MY_TEMP", "mongodb://u:hunter2@h2/")
    stored = steps.validate_params(**valid(target="uri", main_uri_env="MY_MAIN", temp_uri_env="MY_TEMP"))
    assert stored["main_uri_env"] == "MY_MAIN" and "hunter2" not in json.dumps(stored)


def test_answers_are_normalised():
    assert checks.normalize_answer(" B ", "choice") == "b"
    assert checks.normalize_answer("C, E, B, A, D", "order") == "CEBAD"
    assert checks.normalize_answer(["c", "e", "b", "a", "d"], "order") == "CEBAD"


def test_knowledge_checks_read_the_answers_recorded_in_the_workspace(tmp_path, capsys):
    ws = steps.begin(tmp_path / "ws", customers=10)
    failed = checks.run_check(ws, "partial-recovery.concepts")
    assert not failed.passed and failed.points == 0 and "No answer recorded" in failed.message
    assert failed.hint == labs.step("partial-recovery.concepts").hint
    steps.answer(ws, "partial-recovery.concepts", "a")
    steps.answer(ws, "partial-recovery.flow", "CEBAD")
    assert not checks.run_check(ws, "partial-recovery.concepts").passed
    assert checks.run_check(ws, "partial-recovery.flow").points == 10
    steps.answer(ws, "partial-recovery.concepts", "b")
    steps.check(ws, "partial-recovery.concepts")
    assert "PASS partial-recovery.concepts: 5/5 points" in capsys.readouterr().out
    rows = {row["step"]: row for row in checks.progress_rows(Workspace(ws.path))}
    assert rows["partial-recovery.concepts"]["status"] == "passed"
    assert rows["partial-recovery.tools"]["status"] == "not checked"
    assert "points: 15/75" in checks.progress_table(ws)


def test_deployment_checks_fail_with_hints_before_anything_runs(tmp_path):
    ws = steps.begin(tmp_path / "ws", customers=10)
    for step_id in STEP_IDS[2:]:
        result = checks.run_check(ws, step_id)
        assert not result.passed and result.points == 0, step_id
        assert result.message and result.hint in result.text() and "FAIL" in result.text()


# --- notebooks and the challenge version -------------------------------------------------------


def test_strip_solutions_keeps_the_indent_and_rejects_unbalanced_markers():
    source = "x = 1\nif x:\n    ### BEGIN SOLUTION\n    y = 2\n    z = 3\n    ### END SOLUTION\nprint(x)"
    assert notebooks.strip_solutions(source) == "x = 1\nif x:\n    # YOUR CODE HERE\nprint(x)"
    with pytest.raises(LabError, match="without ### END SOLUTION"):
        notebooks.strip_solutions("### BEGIN SOLUTION\nx = 1")
    with pytest.raises(LabError, match="line 2: ### END SOLUTION without"):
        notebooks.strip_solutions("x = 1\n### END SOLUTION")


def read_notebooks(folder):
    return {p.name: nbformat.read(p, as_version=4) for p in sorted(folder.glob("*.ipynb"))}


def test_source_notebooks_are_well_formed():
    sources = read_notebooks(notebooks.source_dir())
    assert list(sources) == ["01-overview.ipynb", "02-setup.ipynb", "03-execute.ipynb"]
    for name, nb in sources.items():
        nbformat.validate(nb)
        assert nb.metadata.kernelspec.name == "python3"
        tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
        assert len(tagged) == 1, name
        for parameter in ("workspace", "target", "main_uri_env", "temp_uri_env", "customers = 100", "template",
                          "seed", "insert_rate", "recovery_query", "mode", "incident_time_zone", "concepts_answer",
                          "flow_answer"):
            assert parameter in tagged[0].source, (name, parameter)
        assert "mongodb://" not in tagged[0].source
        for cell in nb.cells:
            if cell.cell_type == "code" and not notebooks.is_checked(cell):
                assert cell.outputs == [] and cell.execution_count is None, (name, cell.source)
            if cell.cell_type == "code" and cell is not tagged[0]:
                lines = [line for line in cell.source.splitlines()
                         if line.strip() not in (notebooks.BEGIN, notebooks.END) and not line.startswith("# NBVAL")]
                assert len(lines) <= 8, "notebook cells are short: a few lines a learner would type"
        lab = next(lab for lab in labs.topic().labs if lab.notebook == name)
        for step in lab.steps:
            assert f'lab.check(ws, "{step.id}")' in "".join(c.source for c in nb.cells), (name, step.id)
            assert f'lab.show_step("{step.id}")' in "".join(c.source for c in nb.cells)
        assert any(notebooks.BEGIN in c.source for c in nb.cells)


def test_challenge_notebooks_replace_every_solution_and_clear_outputs(labkit_cli, tmp_path):
    result = labkit_cli("notebooks", "--mode", "challenge", "--out", str(tmp_path / "challenge"))
    assert result.returncode == 0, result.stderr
    sources, made = read_notebooks(notebooks.source_dir()), read_notebooks(tmp_path / "challenge")
    assert list(made) == list(sources)
    for name, nb in made.items():
        text = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
        regions = sum(c.source.count(notebooks.BEGIN) for c in sources[name].cells)
        assert regions and text.count("# YOUR CODE HERE") == regions
        assert notebooks.BEGIN not in text and notebooks.END not in text
        assert 'mode = "challenge"' in text and 'answer = answer or "b"' not in text
        assert all(c.outputs == [] for c in nb.cells if c.cell_type == "code")
        assert nb.metadata.kernelspec.name == "python3"
        assert len(nb.cells) == len(sources[name].cells)
    notebooks.write_notebooks("demo", tmp_path / "demo")
    demo = read_notebooks(tmp_path / "demo")
    assert all('mode = "demo"' in nb.cells[1].source and notebooks.BEGIN in json.dumps(nb) for nb in demo.values())


def test_notebooks_command_rejects_an_unknown_mode(labkit_cli, tmp_path):
    result = labkit_cli("notebooks", "--mode", "exam", "--out", str(tmp_path))
    assert result.returncode == 2 and "exam" in result.stderr
    with pytest.raises(LabError, match="Unknown notebook mode"):
        notebooks.write_notebooks("exam", tmp_path)
