"""The lab's actions: what a notebook cell calls besides the learner's own pymongo and mongo-tools lines.

The learner types the operations a production recovery needs (counting,
deleting and verifying with pymongo on ``main(ws)`` / ``temp(ws)``, reading
Main's oplog, choosing the restore point, ``!labkit export`` / ``!labkit
import``); these actions do what has no one-line production equivalent
(starting deployments, generating customers, the application, snapshots, the
restore engine), record decisions and predictions (``answer``), bring a fresh
workspace to where a lab starts (``catch_up``), return it to before a step
(``reset``) and run the checks. Every action prints what it did in a few
lines, records what the checks need in the workspace (``state["labrun"]``)
and appends the lab's events for the recovery timeline. Nothing here prints
or stores a connection string's password.
"""
from __future__ import annotations

import json
import os
import shutil
import sys
import textwrap
import time

import pymongo
from bson import json_util
from bson.objectid import ObjectId

from labkit import __version__
from labkit.backup import Backup, RestoreFailed
from labkit.backup.timespec import parse_time
from labkit.deploy import cluster_time
from labkit.errors import BackupError, LabError
from labkit.files import now_iso, write_atomic
from labkit.generate import generate
from labkit.lab import checks, idle, topic
from labkit.lab.evidence import Evidence, analyse_point, ts_text
from labkit.lab.topic import (CANONICAL, COLLECTION, DB, DEFAULT_QUERY, TARGETS, params, parse_query,
                              recovery_query, validate_params, zone_of)
from labkit.lab.widgets import LiveCounts, RecoveryTimeline, summary
from labkit.transfer import export_collection, import_file
from labkit.workload import Workload
from labkit.workspace import URI_ENV, Workspace

# --- parameters ---------------------------------------------------------------------------------


def begin(workspace=None, *, target="embedded", main_uri_env=URI_ENV["main"], temp_uri_env=URI_ENV["temp"],
          customers=100, template="customer360", seed=42, insert_rate=10.0,
          recovery_query=DEFAULT_QUERY, mode="lab", incident_time_zone=None, **answers) -> Workspace:
    """Check the notebook's parameters and open the lab workspace. Raises LabError saying which parameter is wrong.

    Also points ``!labkit ...`` cells at this workspace (LABKIT_WORKSPACE) and at the labkit next to this
    kernel's Python, so the command-line forms need neither --workspace nor a connection string."""
    params = validate_params(target=target, main_uri_env=main_uri_env, temp_uri_env=temp_uri_env,
                             customers=customers, template=template, seed=seed, insert_rate=insert_rate,
                             recovery_query=recovery_query, mode=mode, incident_time_zone=incident_time_zone,
                             **answers)
    ws = Workspace(workspace)
    with ws.edit() as state:
        state.setdefault("labrun", {})["params"] = params
    os.environ["LABKIT_WORKSPACE"] = str(ws.path)
    bin_dir = os.path.dirname(sys.executable)
    if bin_dir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")
    print(f"Lab workspace: {ws.path}")
    print(f"Target: {target}" + (f" (Main from ${main_uri_env}, Temp from ${temp_uri_env})" if target == "uri" else
                                 " (labkit runs Main and Temp as local servers)"))
    if mode == "challenge":
        print("Challenge mode: fill in each '# YOUR CODE HERE', then run the check cell below it.")
    return ws


def _record(ws: Workspace, key: str, value) -> None:
    with ws.edit() as state:
        state.setdefault("labrun", {})[key] = value


# --- showing the registry ----------------------------------------------------------------------


def show_step(step_id: str) -> None:
    """Print the step as the learner reads it, with the production commands beside it."""
    print(topic.describe_step(step_id))


def show_lab(lab_id: str) -> None:
    lab = topic.lab(lab_id)
    print(f"{lab.title}: {lab.summary}")
    print(f"{len(lab.steps)} steps, about {lab.minutes} min, {lab.points} points:")
    for step in lab.steps:
        print(f"  {step.id:<36} {step.points:>3} points  {step.title}")


# --- overview ----------------------------------------------------------------------------------


def answer(ws: Workspace, name: str, value) -> None:
    """Record an answer: to a knowledge question (by step id), or a decision or prediction the lab asks
    for by name (``customers-counted``, ``moment-of-loss``, ``predict-temp-customers`` ...). The checks
    compare it with what the deployments show; a prediction must be recorded before the cell it predicts."""
    if name in topic.step_ids():
        if not topic.step(name).question:
            raise LabError(f"{name} has no knowledge question to answer.")
    else:
        topic.ask(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        print(f"No answer recorded for {name} yet.")
        return
    if not isinstance(value, (str, int, float, list, tuple)):
        value = str(value)
    with ws.edit() as state:
        run = state.setdefault("labrun", {})
        run.setdefault("answers", {})[name] = value
        run.setdefault("answer_times", {})[name] = now_iso()
    print(f"Answer recorded for {name}: {value}")


def main(ws: Workspace):
    """Main's ``test`` database (a ``pymongo.database.Database``): ``main(ws).customers.count_documents(...)``."""
    return ws.main.client[DB]


def temp(ws: Workspace):
    """Temp's ``test`` database (a ``pymongo.database.Database``)."""
    return ws.temp.client[DB]


def connect(ws: Workspace, target: str = "embedded", main_uri_env: str = URI_ENV["main"],
            temp_uri_env: str = URI_ENV["temp"]) -> None:
    """Start (embedded) or connect to (uri) Main and Temp; print what they are."""
    if target not in TARGETS:
        raise LabError(f"Unknown target {target!r}: use 'embedded' or 'uri'.")
    if target == "uri":
        uris = {}
        for name, env in (("Main", main_uri_env), ("Temp", temp_uri_env)):
            if not os.environ.get(env):
                raise LabError(f"The environment variable {env} with {name}'s connection string is not set.")
            uris[name] = os.environ[env]
        ws.up(uris["Main"], uris["Temp"], main_uri_env=main_uri_env, temp_uri_env=temp_uri_env, progress=print)
    else:
        ws.up(progress=print)
    idle.resume(ws)  # an idle-stopped application comes back; a lab nobody uses stops by itself
    for deployment in (ws.main, ws.temp):
        info = deployment.describe()
        print(f"{deployment.label}: {deployment.kind} {deployment.display_uri}, server {info['version']}, {info['topology']}")


# --- setup -------------------------------------------------------------------------------------


def tools(ws: Workspace) -> None:
    """What the lab works with: labkit, pymongo, the servers, and the real MongoDB tools if installed."""
    print(f"labkit {__version__}, pymongo {pymongo.version}")
    for deployment in (ws.main, ws.temp):
        print(f"{deployment.label}: server {deployment.client.server_info().get('version', '?')}")
    found = {}
    for tool in checks.PRODUCTION_TOOLS:
        found[tool] = shutil.which(tool)
        print(f"{tool:<12} {found[tool] or 'not installed (labkit provides the same operation)'}")
    _record(ws, "tools", {"found": {k: v for k, v in found.items() if v}, "time": now_iso()})


def create_clusters(ws: Workspace, target: str = "embedded", main_uri_env: str = URI_ENV["main"],
                    temp_uri_env: str = URI_ENV["temp"]) -> None:
    """Main and Temp up, and continuous backup (oplog capture) turned on for Main."""
    connect(ws, target, main_uri_env, temp_uri_env)
    Backup(ws).enable()
    print("Continuous backup of Main: on (every operation on Main is captured from now on).")


def load_customers(ws: Workspace, n: int = 100, template: str = "customer360", seed: int | None = 42) -> None:
    """``mgeneratejs TEMPLATE -n N | mongoimport -d test -c customers``: generate, save, import into Main."""
    folder = ws.ensure_dir("lab")
    generated = folder / "customers.json"
    loaded = ws.read().get("labrun", {}).get("customers") or {}
    if loaded and Evidence(ws).incident is not None:
        print("The customers were deleted in the incident: bringing them back is the recovery's job (step 9), "
              "not a second load. Nothing was imported. (To start the incident over: lab.reset(ws, "
              "\"partial-recovery.delete-docs\").)")
        return
    same = (loaded.get("n"), loaded.get("template"), loaded.get("seed")) == (n, template, seed)
    if not (same and generated.exists()):
        def write_customers(out):
            for doc in generate(template, n, seed=seed):
                # Our own _id, so the check can compare each restored customer with what was generated.
                doc = {"_id": doc.pop("_id", None) or ObjectId(), **doc}
                out.write(json_util.dumps(doc, json_options=CANONICAL) + "\n")

        write_atomic(generated, write_customers)
    report = import_file(ws.main.client, DB, COLLECTION, str(generated), mode="insert", quiet=True)
    _record(ws, "customers", {"n": n, "template": template, "seed": seed, "file": str(generated),
                              "imported": report.imported, "failed": report.failed, "time": now_iso(),
                              "first_time": loaded.get("first_time") if same else now_iso()})
    ws.log_event("load", count=report.imported)
    print(f"Generated {n} customers from the {template} template (seed {seed}).")
    print(report.closing_line())
    if same and report.failed and not report.imported:
        print("(They were already loaded: the same customers were not inserted twice.)")


def start_workload(ws: Workspace, rate: float = 10.0) -> None:
    """Start the application that keeps inserting into Main (``python continuous-insert.py &``)."""
    workload = Workload(ws)
    if workload.running():
        print("The application is already running:", _short_stats(workload.stats()))
        return
    info = workload.start(rate=rate, db=DB, collection=COLLECTION)
    print(f"The application inserts {rate:g} documents/s into {DB}.{COLLECTION} (run {info['run_id']}).")


def take_snapshot(ws: Workspace) -> None:
    """A base snapshot of Main, taken while the application writes."""
    snapshot = Backup(ws).snapshot(progress=False)
    print(f"Snapshot {snapshot['id']}: {snapshot['documents']} documents in {snapshot['namespaces']} namespace(s), "
          f"consistent at {snapshot['consistent']}.")


# --- execute ---------------------------------------------------------------------------------


def delete_customers(ws: Workspace, query=None) -> None:
    """The bad script: ``db.customers.deleteMany(QUERY)`` on Main (the recovery query unless told otherwise).
    Running it again deletes nothing and says so."""
    query = parse_query(query) if query is not None else recovery_query(ws)
    result = ws.main.client[DB][COLLECTION].delete_many(query)
    total = ws.main.client[DB][COLLECTION].count_documents({})
    if not result.deleted_count:
        print(f"Nothing to delete: no document of {DB}.{COLLECTION} matches {json_util.dumps(query)}.")
        return
    print(f"The script deleted {result.deleted_count} documents from {DB}.{COLLECTION}; {total} remain.")


def incident_report(ws: Workspace) -> None:
    """What the support ticket says: roughly when customers went missing, in the incident's time zone."""
    ev = Evidence(ws)
    incident = ev.incident
    if incident is None:
        print("No incident yet: no customer has been deleted from Main.")
        return
    ev.note_incident()
    zone_name = ev.params.get("incident_time_zone")
    local = incident["first"].as_datetime().astimezone(zone_of(zone_name))
    print(f"Support ticket: \"All customer records vanished at about {local:%H:%M} on {local:%Y-%m-%d}"
          f" ({zone_name or 'our local time'}, UTC{local:%z}). The app still works.\"")
    print("The exact moment is in Main's oplog: find the first delete on test.customers.")


def window(ws: Workspace) -> list[dict]:
    """Print (and return) the restorable window: ``labkit window``."""
    spans = Backup(ws).window()
    if not spans:
        print("Nothing is restorable yet: a snapshot is needed, and the capture must catch up.")
    for span in spans:
        print(f"restorable: {span['shown']}  (oplog {span['from']} .. {span['to']})")
    return spans


def restore_to_temp(ws: Workspace, to) -> None:
    """Atlas "Point in Time Restore" of Main's test.customers onto Temp, to the point ``to`` you chose
    (SECONDS:INC, a UTC time such as 2026-03-01T14:05:29Z, a time with an offset, or a local time).
    A point the backup cannot restore is refused with the reason, and nothing changes on Temp."""
    if to is None or (isinstance(to, str) and not to.strip()):
        print("No restore point chosen yet: nothing was restored.")
        return
    started = time.monotonic()
    text = to if isinstance(to, str) else str(to)
    try:
        report = Backup(ws).restore(text, namespaces=[f"{DB}.{COLLECTION}"], target="temp", progress=False)
    except RestoreFailed:
        raise  # it started and broke: its message says what is incomplete and to run it again
    except BackupError as exc:
        message = str(exc).splitlines()[0]
        record = {"to": text, "message": message, "time": now_iso()}
        try:
            point = parse_time(text, ws.read().get("marks", {}))
            problem = analyse_point(Evidence(ws), point.bound, point.kind)
        except BackupError:
            problem = None
        if problem:
            record.update(mistake=problem[0], message=f"{message} {problem[1]}")
        with ws.edit() as state:
            state.setdefault("labrun", {}).setdefault("restore_attempts", []).append(record)
        print(f"Refused: {record['message']}")
        return
    seconds = time.monotonic() - started
    _record(ws, "restore", {"to": text, "seconds": round(seconds, 3), "time": now_iso(), "report": _jsonable(report)})
    print(report)
    print(f"Temp now holds {ws.temp.client[DB][COLLECTION].count_documents(recovery_query(ws))} customers "
          f"(restored in {seconds:.1f} s).")


def export_lost(ws: Workspace, query=None, out: str | None = None) -> None:
    """``mongoexport --query ... --jsonFormat=canonical --out lost_records.json`` from Temp."""
    query = parse_query(query) if query is not None else recovery_query(ws)
    out = out or str(ws.ensure_dir("lab") / "lost_records.json")
    report = export_collection(ws.temp.client, DB, COLLECTION, query=query, json_format="canonical",
                               out=out, quiet=True)
    ws.log_event("export", via="notebook", source="temp", db=DB, collection=COLLECTION,
                 query=json_util.dumps(query), count=report.count, file=os.path.abspath(out))
    print(f"exported {report.count} record{'s' if report.count != 1 else ''} from Temp to {out}")


def import_lost(ws: Workspace, file: str | None = None, target: str = "main") -> None:
    """``mongoimport --file lost_records.json`` into Main (or Temp), while the application writes."""
    exports = [e for e in ws.events() if e.get("kind") == "export"]
    file = file or (exports[-1].get("file") if exports else None)
    if not file:
        raise LabError("Nothing was exported yet: export the customers from Temp first, or give the file to import.")
    with ws.busy():  # an idle lab is never stopped in the middle of an import
        report = import_file(ws.deployment(target).client, DB, COLLECTION, file, mode="insert", quiet=True)
    ws.log_event("import", via="notebook", target=target, db=DB, collection=COLLECTION, file=os.path.abspath(file),
                 mode="insert", imported=report.imported, failed=report.failed)
    print(report.closing_line())


def reset(ws: Workspace, step_id: str) -> None:
    """Return the workspace to the state before ``step_id`` (``labkit reset --step ID``): re-run the step from there.

    Before the recovery (``pitr-export-import``): Temp's test.customers is dropped, the customers imported
    into Main since the incident are deleted again, and earlier restores, exports and imports no longer
    count. Before the incident (``delete-docs``, ``verify-present``): that, and every customer is put back
    on Main, so the bad script can run again. The setup steps are reset by starting over
    (``labkit down --purge``)."""
    step = topic.step(step_id)
    order = topic.step_ids()
    position = order.index(step.id)
    if position < order.index("partial-recovery.verify-present"):
        if step.question or step.id == "partial-recovery.requirements":
            with ws.edit() as state:
                state.get("labrun", {}).get("answers", {}).pop(step.id, None)
                state.get("steps", {}).pop(step.id, None)
            print(f"{step.id}: your answer and its check were cleared.")
            return
        raise LabError(f"{step.id} is a setup step: start the setup over with labkit down --purge "
                       "(or a new workspace); lab 3's catch-up cell brings a fresh workspace to where lab 3 starts.")
    ws.require_up()
    ev = Evidence(ws)
    now = cluster_time(ws.main.client)
    temp_coll = ws.temp.client[DB][COLLECTION]
    temp_coll.drop()
    ids = list(ev.generated)
    incident = ev.incident
    if incident is not None:  # what the recovery put back goes again: the state right after the incident
        ws.main.client[DB][COLLECTION].delete_many({"_id": {"$in": ids}})
    answers_gone = [name for s in topic.topic().steps[position:] for name in s.asks] + ["why-temp"]
    with ws.edit() as state:
        run = state.setdefault("labrun", {})
        run["recovery_reset"] = ts_text(cluster_time(ws.main.client))
        run["recovery_reset_time"] = now_iso()
        run["restore_attempts"] = []
        for name in answers_gone:
            run.get("answers", {}).pop(name, None)
        for later in order[position:]:
            state.get("steps", {}).pop(later, None)
    done = ["Temp's test.customers dropped", "the recovery's records set aside"]
    if position <= order.index("partial-recovery.delete-docs"):
        loaded = ws.read().get("labrun", {}).get("customers")
        if loaded:
            report = import_file(ws.main.client, DB, COLLECTION, loaded["file"], mode="insert", quiet=True)
            done.append(f"{report.imported} customers put back on Main")
        with ws.edit() as state:
            state.setdefault("labrun", {})["incident_reset"] = ts_text(cluster_time(ws.main.client))
        done.append("the earlier incident set aside")
    ws.log_event("reset", step=step.id, ts=ts_text(now))
    print(f"Reset to before {step.id}: " + "; ".join(done) + ".")


def catch_up(ws: Workspace, lab_id: str) -> None:
    """Bring this workspace to where ``lab_id`` starts, doing only what is missing (safe to re-run):
    for the setup lab, Main and Temp up; for the execute lab, also continuous backup, the customers,
    the application and a snapshot. Earlier labs' checks are not passed for you."""
    p = params(ws)
    labs = [lab.id for lab in topic.topic().labs]
    position = labs.index(topic.lab(lab_id).id)
    done = []
    if position >= 1 and not ws.is_up():
        connect(ws, p["target"], p["main_uri_env"], p["temp_uri_env"])
        done.append("Main and Temp started")
    if position >= 2:
        backup = Backup(ws)
        if not backup.capture_running():
            backup.enable()
            done.append("continuous backup on")
        loaded = ws.read().get("labrun", {}).get("customers")
        if not loaded:
            load_customers(ws, p["customers"], p["template"], p["seed"])
            done.append("customers loaded")
        if not Workload(ws).running():
            start_workload(ws, p["insert_rate"])
            done.append("application started")
        if not backup.snapshots():
            take_snapshot(ws)
            done.append("snapshot taken")
    print("Caught up: " + ", ".join(done) + "." if done else f"Nothing to catch up: the workspace is ready for {lab_id}.")


def down(ws: Workspace) -> None:
    """Stop everything the lab started (servers, the application, the backup capture): ``labkit down``.
    The workspace and its records stay; ``labkit up`` (or a catch-up cell) starts it all again."""
    if not ws.is_up():
        print("Nothing is running: the lab was already stopped.")
        return
    stopped = ws.down()
    print("Stopped: " + ", ".join(stopped) + "." if stopped else "Nothing was running.")


def finish(ws: Workspace) -> None:
    """Stop the application, print its verified report and the learner's progress."""
    workload = Workload(ws)
    if workload.running():
        report = workload.stop()
        print(report)
        _record(ws, "workload_report", report.to_dict())
    else:
        print("The application is not running.")
    progress(ws)


# --- watching (ipywidgets; static renderings in executed notebooks) ----------------------------


def watch(ws: Workspace, timeline: bool = False):
    """Show the live counts panel (Main and Temp, the application) and, with ``timeline``, the live
    recovery timeline under it; returns them for ``stop_watching``."""
    if not ws.is_up():
        print("Main and Temp are not up yet: nothing to watch.")
        return []
    options = {"namespace": f"{DB}.{COLLECTION}", "query": recovery_query(ws)}
    panels = [LiveCounts(ws, **options)] + ([RecoveryTimeline(ws, **options)] if timeline else [])
    for panel in panels:
        panel.show()
    return panels


def stop_watching(panels) -> None:
    """Stop refreshing the panels and leave their final state in the notebook."""
    for panel in panels or []:
        panel.stop()


def timeline(ws: Workspace) -> None:
    """Draw the recovery timeline once: counts over time with the lab's events."""
    if not ws.exists():
        print("There is no lab workspace yet: nothing to draw.")
        return
    summary(ws, namespace=f"{DB}.{COLLECTION}", query=recovery_query(ws))


# --- checks and progress -----------------------------------------------------------------------


def check(ws: Workspace, step_id: str) -> None:
    """Run the step's self-check and print PASS/FAIL with its hint (in demo mode, also the production commands)."""
    print(checks.run_check(ws, step_id).text())
    if params(ws).get("mode") == "demo" and topic.step(step_id).production:
        print("In production:")
        print(textwrap.indent(topic.production_block(topic.step(step_id)), "  "))


def progress(ws: Workspace) -> None:
    print(checks.progress_table(ws))


# --- helpers -----------------------------------------------------------------------------------


def _short_stats(stats: dict | None) -> str:
    if not stats:
        return "no statistics yet"
    return (f"{stats.get('acknowledged', 0)} inserts acknowledged, {stats.get('failures', 0)} failures, "
            f"max gap {stats.get('max_gap_ms')} ms")


def _jsonable(value):
    for attr in ("to_dict", "as_dict"):
        if hasattr(value, attr):
            return getattr(value, attr)()
    try:
        from dataclasses import asdict, is_dataclass

        if is_dataclass(value):
            return json.loads(json_util.dumps(asdict(value)))
    except Exception:  # a report we cannot serialise is still shown; only its record is lost
        pass
    return str(value)

