"""The course played as a learner would, mistakes included: every check names the mistake.

One workspace (real embedded servers, the application writing) is brought to just after the incident;
each test then makes one mistake on purpose with the commands a learner types (``labkit restore``,
``labkit export``, ``labkit import``, pymongo), asserts the check's message and hint, and puts the
workspace back with ``labkit reset --step`` / ``lab.reset``. The incident report is in Europe/Berlin
(UTC+01:00 in winter, +02:00 in summer) so the local-time-typed-as-UTC mistakes are real.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import re
import time
import zoneinfo

import nbformat
import pymongo
import pytest
from bson.timestamp import Timestamp

import labkit.lab.actions as lab
from labkit.lab import checks, notebooks, topic
from labkit.lab.evidence import Evidence
from labkit.workload import Workload
from tests.conftest import run_labkit

CUSTOMERS = 20
ZONE = "Europe/Berlin"
QUERY = '{"firstname": {"$exists": true}}'
TOOLS, LOAD, COUNT, DELETE, PITR = (f"partial-recovery.{s}" for s in (
    "tools", "load-and-snapshot", "verify-present", "delete-docs", "pitr-export-import"))


def cli(ws, *args, cwd=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("LABKIT_")}
    env["LABKIT_WORKSPACE"] = str(ws.path)
    result = run_labkit(*args, env=env)
    return result


def check(ws, step_id):
    return checks.run_check(ws, step_id)


def first_delete(ws) -> Timestamp:
    return Evidence(ws).incident["first"]


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """Main and Temp up with continuous backup; nothing else yet."""
    ws = lab.begin(tmp_path_factory.mktemp("course") / "ws", customers=CUSTOMERS, incident_time_zone=ZONE,
                   insert_rate=20.0)
    try:
        lab.create_clusters(ws)
        yield ws
    finally:
        ws.down()


@pytest.fixture(scope="module")
def setup(course):
    """Lab 2 done: the customers loaded, the application writing, a snapshot."""
    ws = course
    lab.answer(ws, "predict-load-twice", CUSTOMERS)
    lab.load_customers(ws, CUSTOMERS)
    lab.start_workload(ws, 20.0)
    lab.take_snapshot(ws)
    return ws


@pytest.fixture(scope="module")
def incident(setup):
    """The customers counted, the incident happened and its moment recorded, the questions of step 9
    answered: the state in which a learner starts the recovery."""
    ws = setup
    lab.answer(ws, "customers-counted", lab.main(ws).customers.count_documents(json.loads(QUERY)))
    time.sleep(1.5)  # the incident comes a little after the snapshot, as in a lab
    lab.delete_customers(ws)
    lab.answer(ws, "moment-of-loss", f"{first_delete(ws).time}:{first_delete(ws).inc}")
    lab.answer(ws, "why-temp", "b")
    lab.answer(ws, "predict-temp-customers", CUSTOMERS)
    lab.answer(ws, "predict-second-import", CUSTOMERS)
    return ws


@pytest.fixture
def fresh_recovery(incident):
    """Each recovery test starts right after the incident, the questions answered first, and leaves it so."""
    for name, value in (("why-temp", "b"), ("predict-temp-customers", CUSTOMERS), ("predict-second-import", CUSTOMERS)):
        lab.answer(incident, name, value)
    yield incident
    lab.reset(incident, PITR)
    incident.main.client.test.drop_collection("lost_records")


def recover(ws, tmp_path, *, to=None, query=QUERY, source="temp", target="main", collection="customers",
            name="lost_records.json"):
    """The recovery as the README lists it: labkit restore, labkit export, labkit import."""
    first = first_delete(ws)
    to = to or f"{first.time}:{first.inc - 1}"
    out = str(tmp_path / name)
    results = [cli(ws, "restore", "--to", to, "--ns", "test.customers")]
    results.append(cli(ws, "export", "--target", source, "-d", "test", "-c", "customers", *(["-q", query] if query else []),
                       "--jsonFormat=canonical", "--out", out, "--quiet"))
    results.append(cli(ws, "import", "--target", target, "-d", "test", "-c", collection, "--file", out, "--quiet"))
    return results


def assert_mistake(result, key, *needles):
    assert not result.passed and result.points == 0, result.text()
    assert result.mistake == key, result.text()
    for needle in needles:
        assert re.search(needle, result.message), (needle, result.message)
    step = topic.step(result.step_id)
    assert result.hint == step.mistakes[key]
    return result


# --- before the incident -------------------------------------------------------------------------


def test_requirements_check_wants_the_replica_set_name_read_from_main(course):
    step = "partial-recovery.requirements"
    assert_mistake(check(course, step), "no-set-name", "no replica set name is recorded")
    lab.answer(course, "main-replica-set", "rs0")
    assert_mistake(check(course, step), "wrong-set-name", "You recorded 'rs0'")
    lab.answer(course, "main-replica-set", course.main.client.admin.command("hello")["setName"])
    assert check(course, step).passed


def test_tools_check_fails_with_its_cell_left_empty(course):
    assert_mistake(check(course, TOOLS), "no-version", "cell that asks Main is still empty")
    lab.answer(course, "main-version", pymongo.version)
    assert_mistake(check(course, TOOLS), "wrong-version", "pymongo's own version")
    lab.answer(course, "main-version", course.main.client.server_info()["version"])
    assert check(course, TOOLS).passed


def test_setup_checks_and_a_second_load_inserts_nothing(setup, capsys):
    assert check(setup, LOAD).passed
    lab.load_customers(setup, CUSTOMERS)  # the load cell run again
    assert "0 document(s) imported successfully. 20 document(s) failed" in capsys.readouterr().out
    assert check(setup, LOAD).passed
    lab.answer(setup, "predict-load-twice", 40)  # changed after seeing the result
    assert_mistake(check(setup, LOAD), "no-prediction", "recorded after the cell it predicts ran")
    with setup.edit() as state:  # as if 40 had been the prediction all along
        state["labrun"]["answer_times"]["predict-load-twice"] = "2000-01-01T00:00:00.000Z"
    assert_mistake(check(setup, LOAD), "wrong-prediction", "You predicted 40", "duplicate")
    lab.answer(setup, "predict-load-twice", CUSTOMERS)
    with setup.edit() as state:
        state["labrun"]["answer_times"]["predict-load-twice"] = "2000-01-01T00:00:00.000Z"


def test_the_load_cell_run_after_the_incident_does_not_recover_the_customers(incident, capsys):
    lab.load_customers(incident, CUSTOMERS)
    assert "bringing them back is the recovery's job" in capsys.readouterr().out
    assert lab.main(incident).customers.count_documents(json.loads(QUERY)) == 0
    assert check(incident, LOAD).passed  # the oplog still says 20 customers were loaded before the incident


def test_counting_the_total_instead_of_the_customers(incident):
    assert check(incident, COUNT).passed
    lab.answer(incident, "customers-counted", CUSTOMERS + 37)
    assert_mistake(check(incident, COUNT), "counted-total", "application's documents")
    lab.answer(incident, "customers-counted", CUSTOMERS)


# --- the moment of loss ----------------------------------------------------------------------------


def test_the_moment_of_loss_is_the_first_delete_in_the_oplog(incident, capsys):
    result = check(incident, DELETE)
    assert result.passed, result.text()
    first = first_delete(incident)
    assert f"{first.time}:{first.inc}" in result.message
    lab.delete_customers(incident)  # the bad script run again
    assert "Nothing to delete" in capsys.readouterr().out
    second = Evidence(incident).incident["customer_deletes"][1]
    lab.answer(incident, "moment-of-loss", f"{second.time}:{second.inc}")
    assert_mistake(check(incident, DELETE), "moment-late", "customer number 2")
    local = first.as_datetime().astimezone(zoneinfo.ZoneInfo(ZONE))
    lab.answer(incident, "moment-of-loss", local.strftime("%Y-%m-%dT%H:%M:%SZ"))  # local time typed as UTC
    assert_mistake(check(incident, DELETE), "local-as-utc", r"UTC offset \+0[12]:00 \(Europe/Berlin\)")
    lab.answer(incident, "moment-of-loss", local.isoformat(timespec="seconds"))  # with its offset: right
    assert check(incident, DELETE).passed
    lab.answer(incident, "moment-of-loss", f"{first.time}:{first.inc}")


def test_the_incident_report_is_in_local_time(incident, capsys):
    lab.incident_report(incident)
    out = capsys.readouterr().out
    local = first_delete(incident).as_datetime().astimezone(zoneinfo.ZoneInfo(ZONE))
    assert f"at about {local:%H:%M}" in out and "Europe/Berlin" in out


# --- the recovery: a correct one by the command line, then every mistake ---------------------------


def test_a_correct_recovery_typed_at_the_command_line_passes(fresh_recovery, tmp_path):
    """Found when played: labkit restore/export/import brought Main back, yet the check said nothing was done."""
    for result in recover(fresh_recovery, tmp_path):
        assert result.returncode == 0, result.stderr
    result = check(fresh_recovery, PITR)
    assert result.passed, result.text()
    assert f"identical {CUSTOMERS}/{CUSTOMERS}" in result.message
    assert result.details["figures"]["restored"] == CUSTOMERS


def test_restore_point_after_the_first_delete(fresh_recovery, tmp_path):
    last = Evidence(fresh_recovery).incident["last"]
    recover(fresh_recovery, tmp_path, to=f"{last.time}:{last.inc}")
    assert_mistake(check(fresh_recovery, PITR), "restore-after-delete", r"after the first delete",
                   f"Temp therefore lacks the {CUSTOMERS} customer", "Temp holds 0 customers")


def test_restore_point_outside_the_window_is_refused_with_the_reason(fresh_recovery, capsys):
    lab.window(fresh_recovery)
    assert "restorable:" in capsys.readouterr().out
    lab.restore_to_temp(fresh_recovery, "2020-01-01T00:00:00Z")
    out = capsys.readouterr().out
    assert out.startswith("Refused:") and "before the earliest snapshot" in out
    assert_mistake(check(fresh_recovery, PITR), "restore-before-load", "before the customers were loaded")


@pytest.mark.parametrize("zone_typed_as_utc", [True, False])
def test_incident_time_zone_variant(fresh_recovery, tmp_path, capsys, zone_typed_as_utc):
    """The report says local time (Europe/Berlin): typed as UTC it is refused with the offset named;
    converted (or written with its offset) it restores the customers."""
    first = first_delete(fresh_recovery)
    local = (first.as_datetime() - dt.timedelta(seconds=1)).astimezone(zoneinfo.ZoneInfo(ZONE))
    typed = local.strftime("%Y-%m-%dT%H:%M:%SZ") if zone_typed_as_utc else local.isoformat(timespec="seconds")
    lab.restore_to_temp(fresh_recovery, typed)
    out = capsys.readouterr().out
    if zone_typed_as_utc:
        assert out.startswith("Refused:") and "exactly your UTC offset" in out
        assert_mistake(check(fresh_recovery, PITR), "local-as-utc", r"exactly your UTC offset \+0[12]:00 \(Europe/Berlin\)")
    else:
        assert f"Temp now holds {CUSTOMERS} customers" in out
        out_file = str(tmp_path / "lost.json")
        assert cli(fresh_recovery, "export", "--target", "temp", "-c", "customers", "-q", QUERY, "--out", out_file,
                   "--jsonFormat=canonical").returncode == 0
        assert cli(fresh_recovery, "import", "--target", "main", "-c", "customers", "--file", out_file).returncode == 0
        assert check(fresh_recovery, PITR).passed


def test_export_without_the_query(fresh_recovery, tmp_path):
    """Found when played: an export with {} (documents and duplicate failures) passed 15/15."""
    results = recover(fresh_recovery, tmp_path, query="{}")
    assert results[2].returncode == 0
    result = assert_mistake(check(fresh_recovery, PITR), "broad-export",
                            rf"The export wrote \d+ documents: {CUSTOMERS} customers and \d+ others",
                            r"gave \d+ duplicate failure")
    others = int(re.search(r"and (\d+) others", result.message).group(1))
    assert f"gave {others} duplicate failure" in result.message  # every application document came back a duplicate


def test_export_from_main_instead_of_temp(fresh_recovery, tmp_path):
    recover(fresh_recovery, tmp_path, source="main")
    assert_mistake(check(fresh_recovery, PITR), "export-from-main", "Main had 0 customers")


def test_import_into_the_wrong_collection(fresh_recovery, tmp_path):
    """Found when played: an import into test.lost_records was reported as 'Nothing was imported into main'."""
    recover(fresh_recovery, tmp_path, collection="lost_records")
    assert_mistake(check(fresh_recovery, PITR), "import-wrong-collection", f"{CUSTOMERS} into test.lost_records",
                   "Remove what you imported there")


def test_import_into_the_wrong_deployment(fresh_recovery, tmp_path):
    recover(fresh_recovery, tmp_path, target="temp")
    assert_mistake(check(fresh_recovery, PITR), "import-wrong-deployment", "The import went to Temp",
                   f"{CUSTOMERS} failed")


def test_import_run_twice_passes_with_a_note(fresh_recovery, tmp_path):
    recover(fresh_recovery, tmp_path)
    again = cli(fresh_recovery, "import", "--target", "main", "-c", "customers", "--file",
                str(tmp_path / "lost_records.json"))
    assert f"0 document(s) imported successfully. {CUSTOMERS} document(s) failed" in again.stderr
    result = check(fresh_recovery, PITR)
    assert result.passed, result.text()
    assert any("imported into Main 2 times" in note and f"{CUSTOMERS} duplicate(s)" in note
               and "nothing was overwritten (0 updates" in note for note in result.notes), result.notes
    assert "Note: " in result.text()


def test_wrong_predictions_are_named(fresh_recovery, tmp_path):
    lab.answer(fresh_recovery, "predict-temp-customers", 0)
    recover(fresh_recovery, tmp_path)
    assert_mistake(check(fresh_recovery, PITR), "wrong-prediction", "You predicted Temp would hold 0")
    lab.answer(fresh_recovery, "predict-temp-customers", CUSTOMERS)  # changed after seeing Temp
    assert_mistake(check(fresh_recovery, PITR), "no-prediction", "recorded after the cell it predicts ran")
    lab.answer(fresh_recovery, "why-temp", "a")
    assert_mistake(check(fresh_recovery, PITR), "wrong-why-temp", "not why the restore goes to Temp")


def test_the_duplicates_sandbox_on_temp_is_graded(fresh_recovery, tmp_path):
    recover(fresh_recovery, tmp_path)
    file = str(tmp_path / "lost_records.json")
    again = cli(fresh_recovery, "import", "--target", "temp", "-c", "customers", "--file", file, "--quiet")
    assert again.returncode == 0
    assert check(fresh_recovery, PITR).passed  # predicted: every customer a duplicate
    lab.answer(fresh_recovery, "predict-upsert", "a")
    one = lab.temp(fresh_recovery).customers.find_one({"firstname": {"$exists": True}})
    lab.temp(fresh_recovery).customers.update_one({"_id": one["_id"]}, {"$set": {"segment": "edited"}})
    assert cli(fresh_recovery, "import", "--target", "temp", "-c", "customers", "--file", file, "--mode", "upsert",
               "--quiet").returncode == 0
    assert lab.temp(fresh_recovery).customers.find_one({"_id": one["_id"]})["segment"] != "edited"
    assert_mistake(check(fresh_recovery, PITR), "wrong-upsert", "the edit is gone")
    lab.answer(fresh_recovery, "predict-upsert", "b")  # after seeing it
    assert_mistake(check(fresh_recovery, PITR), "no-prediction", "predict-upsert")
    with fresh_recovery.edit() as state:
        state["labrun"]["answer_times"]["predict-upsert"] = "2000-01-01T00:00:00.000Z"
    lab.answer(fresh_recovery, "predict-export-all", 3)
    assert cli(fresh_recovery, "export", "--target", "temp", "-c", "customers", "--out", str(tmp_path / "all.json"),
               "--quiet").returncode == 0
    total = lab.temp(fresh_recovery).customers.count_documents({})
    assert_mistake(check(fresh_recovery, PITR), "wrong-prediction", f"without the query wrote {total}",
                   "never lost")


def test_application_stopped_is_named_with_since_when(fresh_recovery, tmp_path):
    recover(fresh_recovery, tmp_path)
    lab.finish(fresh_recovery)  # stops the application
    try:
        assert_mistake(check(fresh_recovery, PITR), "application-stopped", r"stopped since \d{4}-\d\d-\d\dT")
    finally:
        lab.start_workload(fresh_recovery, 20.0)


def test_application_failing_is_named_with_its_last_error(fresh_recovery, tmp_path):
    recover(fresh_recovery, tmp_path)
    customers = lab.main(fresh_recovery).customers
    # A validator only customers pass: every insert of the application is refused from now on.
    lab.main(fresh_recovery).command("collMod", "customers", validator={"firstname": {"$exists": True}})
    try:
        deadline = time.monotonic() + 60
        while not (Workload(fresh_recovery).stats() or {}).get("failures"):
            assert time.monotonic() < deadline, "the application never failed an insert"
            time.sleep(0.2)
        assert_mistake(check(fresh_recovery, PITR), "application-failing", r"The application had \d+ failed inserts")
    finally:
        lab.main(fresh_recovery).command("collMod", "customers", validator={})
        lab.finish(fresh_recovery)  # a fresh run of the application, without the failures
        lab.start_workload(fresh_recovery, 20.0)
    assert customers.count_documents({"firstname": {"$exists": True}}) == CUSTOMERS


def test_a_later_restore_onto_main_does_not_hide_the_restore_onto_temp(fresh_recovery, tmp_path):
    recover(fresh_recovery, tmp_path)
    first = first_delete(fresh_recovery)
    copy = cli(fresh_recovery, "restore", "--to", f"{first.time}:{first.inc - 1}", "--ns", "test.customers",
               "--target", "main", "--rename", "test.customers:test.customers_before")
    try:
        assert copy.returncode == 0, copy.stderr
        assert check(fresh_recovery, PITR).passed
    finally:
        lab.main(fresh_recovery).drop_collection("customers_before")


def test_reset_returns_to_before_the_recovery(fresh_recovery, tmp_path):
    recover(fresh_recovery, tmp_path)
    assert check(fresh_recovery, PITR).passed
    result = cli(fresh_recovery, "reset", "--step", PITR)
    assert result.returncode == 0 and "Reset to before partial-recovery.pitr-export-import" in result.stdout
    assert lab.main(fresh_recovery).customers.count_documents(json.loads(QUERY)) == 0
    assert lab.temp(fresh_recovery).customers.count_documents({}) == 0
    lab.answer(fresh_recovery, "why-temp", "b")
    lab.answer(fresh_recovery, "predict-temp-customers", CUSTOMERS)
    lab.answer(fresh_recovery, "predict-second-import", CUSTOMERS)
    assert_mistake(check(fresh_recovery, PITR), "no-restore", "No point-in-time restore to Temp was made")
    recover(fresh_recovery, tmp_path)  # and the recovery can be done again
    assert check(fresh_recovery, PITR).passed


def test_setup_steps_are_reset_by_starting_over(incident):
    result = cli(incident, "reset", "--step", "partial-recovery.load-and-snapshot")
    assert result.returncode == 1 and "setup step: start the setup over with labkit down --purge" in result.stderr


def test_a_delete_broader_than_the_customers(incident, tmp_path):
    """Found when played: delete_customers(ws, "{}") passed both the delete and the recovery checks."""
    lab.reset(incident, DELETE)
    assert lab.main(incident).customers.count_documents(json.loads(QUERY)) == CUSTOMERS
    try:
        lab.delete_customers(incident, "{}")
        first = first_delete(incident)
        lab.answer(incident, "moment-of-loss", f"{first.time}:{first.inc}")
        assert_mistake(check(incident, DELETE), "broad-delete", r"removed \d+ application document\(s\) as well as "
                       f"{CUSTOMERS} customers", "broader than the customers")
        for answer, value in (("why-temp", "b"), ("predict-temp-customers", CUSTOMERS),
                              ("predict-second-import", CUSTOMERS)):
            lab.answer(incident, answer, value)
        recover(incident, tmp_path)  # brings back the customers only
        assert_mistake(check(incident, PITR), "broad-delete", r"\d+ application document\(s\) the delete removed "
                                                              "are still missing")
    finally:
        lab.reset(incident, DELETE)
        lab.delete_customers(incident)
        first = first_delete(incident)
        lab.answer(incident, "moment-of-loss", f"{first.time}:{first.inc}")
    assert check(incident, DELETE).passed


def test_deletes_are_found_in_plain_entries_and_inside_apply_ops():
    """mongod 8 can log a batched deleteMany as one applyOps entry (the embedded server never does)."""
    from labkit.lab.evidence import deletes_in

    t1, t2 = Timestamp(100, 1), Timestamp(100, 2)
    entries = [
        {"op": "i", "ns": "test.customers", "ts": Timestamp(99, 1), "o": {"_id": 0}},
        {"op": "c", "ns": "admin.$cmd", "ts": t1, "o": {"applyOps": [
            {"op": "d", "ns": "test.customers", "o": {"_id": 1}},
            {"op": "d", "ns": "test.other", "o": {"_id": 9}},
            {"op": "c", "ns": "admin.$cmd", "o": {"applyOps": [{"op": "d", "ns": "test.customers", "o": {"_id": 2}}]}},
        ]}},
        {"op": "d", "ns": "test.customers", "ts": t2, "o": {"_id": 3}},
    ]
    assert deletes_in(entries) == [(t1, 1), (t1, 2), (t2, 3)]


# --- hints ---------------------------------------------------------------------------------------


def solution_lines() -> list[str]:
    lines = []
    for path in notebooks.notebook_paths():
        for cell in nbformat.read(path, as_version=4).cells:
            inside = False
            for line in cell.source.splitlines():
                if line.strip() == notebooks.BEGIN:
                    inside = True
                elif line.strip() == notebooks.END:
                    inside = False
                elif inside and line.strip():
                    lines.append(line.strip())
    return lines


def test_no_hint_prints_a_solution_line():
    solutions = solution_lines()
    assert len(solutions) >= 10
    for step in topic.topic().steps:
        for hint in [step.hint, step.nudge, *step.mistakes.values()]:
            for line in solutions:
                assert line not in hint, (step.id, line)
            assert '{"firstname"' not in hint and "$exists" not in hint, (step.id, hint)


def test_challenge_hints_are_progressive(tmp_path):
    ws = lab.begin(tmp_path / "ws", customers=5, mode="challenge")
    first = checks.run_check(ws, "partial-recovery.concepts")
    assert first.hint == topic.step("partial-recovery.concepts").nudge
    second = checks.run_check(ws, "partial-recovery.concepts")
    assert second.hint == topic.step("partial-recovery.concepts").hint


def test_lab_one_says_where_the_question_is_printed():
    """Found when played: lab 1 said 'Answer the question printed above' while it printed below."""
    nb = nbformat.read(notebooks.notebook_paths()[0], as_version=4)
    for step_id in ("partial-recovery.concepts", "partial-recovery.flow"):
        intro = next(i for i, c in enumerate(nb.cells) if c.metadata.get("labkit") == {"step": step_id, "part": "intro"})
        assert "printed by the cell below" in nb.cells[intro].source and "above" not in nb.cells[intro].source
        assert f'lab.show_step("{step_id}")' in nb.cells[intro + 1].source
        assert f'lab.answer(ws, "{step_id}"' in nb.cells[intro + 2].source


def test_notebook_markdown_does_not_drift_from_the_lab_data():
    for path in notebooks.notebook_paths():
        nb = nbformat.read(path, as_version=4)
        generated = [c for c in nb.cells if c.metadata.get("labkit")]
        assert len(generated) >= 4, path.name
        assert notebooks.drift(nb) == [], f"{path.name}: run python -m labkit.lab.notebooks sync"
    for step in topic.topic().steps:  # every production command reaches a notebook
        text = "".join(c.source for p in notebooks.notebook_paths() for c in nbformat.read(p, as_version=4).cells)
        for command in step.production.values():
            assert command.splitlines()[0] in text, (step.id, command)


def test_drift_is_detected_and_sync_repairs_it(tmp_path):
    import shutil

    for path in notebooks.notebook_paths():
        shutil.copy(path, tmp_path / path.name)
    target = tmp_path / "03-execute.ipynb"
    nb = nbformat.read(target, as_version=4)
    index = next(i for i, c in enumerate(nb.cells) if c.metadata.get("labkit", {}).get("part") == "production")
    nb.cells[index].source += "\n(edited by hand)"
    nbformat.write(nb, target)
    assert notebooks.drift(nbformat.read(target, as_version=4)) == [index]
    assert notebooks.sync(source=tmp_path) == [target]
    assert notebooks.drift(nbformat.read(target, as_version=4)) == []


def test_production_commands_are_the_documented_ones():
    text = json.dumps([s.production for s in topic.topic().steps])
    for needle in ("atlas clusters create Main --provider", "--region", "--mdbVersion", "--backup",
                   "atlas backups snapshots create Main --desc", "--pointInTimeUTCSeconds", "--oplogTs", "--oplogInc",
                   "atlas backups restores watch", "atlas clusters connectionStrings describe Temp",
                   "atlas clusters delete Temp", "--queryFile", "Project Owner", "replaces ALL data"):
        assert needle in text, needle
    assert "$MAIN_URI" not in text and "$TEMP_URI" not in text  # password-free forms only
    assert not re.search(r"mongodb(\+srv)?://[^/\s\"]*:[^/\s\"]*@", text) and not re.search(r"--password[ =]\S", text)
