"""The lab's actions, one call per notebook cell.

Notebooks hold no library logic: each code cell is one call into this module
(``begin``, ``connect``, ``load_customers``, ``delete_customers``,
``restore_to_temp``, ``check`` ...). Every action prints what it did in a few
lines, records what the checks need in the workspace (``state["labrun"]``)
and appends the lab's events (load, delete, export, import) for the recovery
timeline. Nothing here prints or stores a connection string's password.
"""
from __future__ import annotations

import json
import os
import shutil
import time

import pymongo
from bson import json_util
from bson.objectid import ObjectId

from labkit import __version__
from labkit.backup import Backup
from labkit.errors import LabError
from labkit.files import now_iso, write_atomic
from labkit.generate import generate
from labkit.lab import checks, topic
from labkit.lab.topic import (CANONICAL, COLLECTION, DB, DEFAULT_QUERY, MARK, TARGETS, params, parse_query,
                              recovery_query, validate_params)
from labkit.lab.widgets import LiveCounts, RecoveryTimeline, summary
from labkit.transfer import export_collection, import_file
from labkit.workload import Workload
from labkit.workspace import URI_ENV, Workspace

# --- parameters ---------------------------------------------------------------------------------


def begin(workspace=None, *, target="embedded", main_uri_env=URI_ENV["main"], temp_uri_env=URI_ENV["temp"],
          customers=100, template="customer360", seed=42, insert_rate=10.0,
          recovery_query=DEFAULT_QUERY, mode="lab", **answers) -> Workspace:
    """Check the notebook's parameters and open the lab workspace. Raises LabError saying which parameter is wrong."""
    params = validate_params(target=target, main_uri_env=main_uri_env, temp_uri_env=temp_uri_env,
                             customers=customers, template=template, seed=seed, insert_rate=insert_rate,
                             recovery_query=recovery_query, mode=mode, **answers)
    ws = Workspace(workspace)
    with ws.edit() as state:
        state.setdefault("labrun", {})["params"] = params
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


def answer(ws: Workspace, step_id: str, value) -> None:
    """Record the learner's answer to a knowledge question (checked by ``check``)."""
    step = topic.step(step_id)
    if not step.question:
        raise LabError(f"{step_id} has no knowledge question to answer.")
    if value is None or (isinstance(value, str) and not value.strip()):
        print(f"No answer recorded for {step_id} yet.")
        return
    with ws.edit() as state:
        state.setdefault("labrun", {}).setdefault("answers", {})[step_id] = value
    print(f"Answer recorded for {step_id}: {value}")


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
                              "imported": report.imported, "failed": report.failed, "time": now_iso()})
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


# --- execute -----------------------------------------------------------------------------------


def verify_present(ws: Workspace, mark: str = MARK) -> None:
    """Count the customers on Main and note the time (a mark) before anything goes wrong."""
    coll = ws.main.client[DB][COLLECTION]
    count = coll.count_documents(recovery_query(ws))
    total = coll.count_documents({})
    noted = Backup(ws).mark(mark)
    _record(ws, "present", {"count": count, "total": total, "mark": mark, "time": now_iso()})
    print(f"Main holds {count} customers ({total} documents in {DB}.{COLLECTION}).")
    print(f"Mark {mark!r} noted: {noted['shown']}, oplog timestamp {noted['ts']}.")


def delete_customers(ws: Workspace, query=None) -> None:
    """``db.customers.deleteMany({firstname: {$exists: true}})`` on Main: the incident."""
    query = parse_query(query) if query is not None else recovery_query(ws)
    client = ws.main.client
    with client.start_session() as session:
        result = client[DB][COLLECTION].delete_many(query, session=session)
        operation_time = session.operation_time
    total = client[DB][COLLECTION].count_documents({})
    record = {"count": result.deleted_count, "time": now_iso(), "total_after": total,
              "query": json_util.dumps(query),
              "cluster_time": f"{operation_time.time}:{operation_time.inc}" if operation_time else None}
    _record(ws, "delete", record)
    ws.log_event("delete", count=result.deleted_count, query=record["query"])
    print(f"Deleted {result.deleted_count} customers from Main at {record['time']} (UTC); "
          f"{total} documents remain in {DB}.{COLLECTION}.")


def restore_to_temp(ws: Workspace, to: str = f"mark:{MARK}") -> None:
    """Atlas "Point in Time Restore" of Main onto Temp, to the noted time."""
    started = time.monotonic()
    report = Backup(ws).restore(to, namespaces=[f"{DB}.{COLLECTION}"], target="temp", progress=False)
    seconds = time.monotonic() - started
    _record(ws, "restore", {"to": to, "seconds": round(seconds, 3), "time": now_iso(), "report": _jsonable(report)})
    print(report)
    print(f"Temp now holds {ws.temp.client[DB][COLLECTION].count_documents(recovery_query(ws))} customers "
          f"(restored in {seconds:.1f} s).")


def export_lost(ws: Workspace, query=None) -> None:
    """``mongoexport --query ... --jsonFormat=canonical --out lost_records.json`` from Temp."""
    query = parse_query(query) if query is not None else recovery_query(ws)
    out = ws.ensure_dir("lab") / "lost_records.json"
    report = export_collection(ws.temp.client, DB, COLLECTION, query=query, json_format="canonical",
                               out=str(out), quiet=True)
    _record(ws, "export", {"count": report.count, "file": str(out), "time": now_iso()})
    ws.log_event("export", count=report.count)
    print(f"exported {report.count} record{'s' if report.count != 1 else ''} from Temp to {out}")


def import_lost(ws: Workspace, file: str | None = None) -> None:
    """``mongoimport --file lost_records.json`` into Main, while the application writes."""
    file = file or ws.read().get("labrun", {}).get("export", {}).get("file")
    if not file:
        raise LabError("Nothing was exported yet: run export_lost(ws) first, or give the file to import.")
    report = import_file(ws.main.client, DB, COLLECTION, file, mode="insert", quiet=True)
    _record(ws, "import", {"imported": report.imported, "failed": report.failed, "file": file, "time": now_iso()})
    ws.log_event("import", imported=report.imported, failed=report.failed)
    print(report.closing_line())


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
        for tool, command in topic.step(step_id).production.items():
            print(f"  {topic.PRODUCTION_LABELS.get(tool, tool)}: {command}")


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

