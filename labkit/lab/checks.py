"""Self-checks: one per step, inspecting the workspace and the deployments.

A check never looks at notebook variables: it reads what the lab's actions
recorded in the workspace (``state["labrun"]``) and asks Main and Temp
directly. Each returns passed or not, the points earned and, when it fails,
the step's hint; results are kept in ``state["steps"]`` for ``labkit
progress`` and the runner.
"""
from __future__ import annotations

import shutil
import time
from dataclasses import asdict, dataclass, field

import bson
import pymongo
from bson import json_util
from bson.codec_options import CodecOptions
from bson.raw_bson import RawBSONDocument
from bson.timestamp import Timestamp
from pymongo.errors import PyMongoError

from labkit import __version__
from labkit.backup import Backup
from labkit.deploy import driver_error
from labkit.errors import LabkitError
from labkit.files import now_iso
from labkit.lab import classroom, topic
from labkit.lab.topic import CANONICAL, COLLECTION, DB, MARK, params, recovery_query
from labkit.workload import Workload
from labkit.workspace import DEFAULT_TOPIC, Workspace

PRODUCTION_TOOLS = ("mongosh", "mongoexport", "mongoimport", "mongorestore", "mgeneratejs", "atlas")
GROWTH_WAIT = 10.0  # seconds a check waits to see the application's writes arrive


class CheckFailed(Exception):
    """Raised inside a check: the message says what was found."""


@dataclass
class CheckResult:
    step_id: str
    passed: bool
    points: int
    max_points: int
    message: str
    hint: str = ""
    details: dict = field(default_factory=dict)
    checked_at: str = ""

    def text(self) -> str:
        status = "PASS" if self.passed else "FAIL"
        lines = [f"{status} {self.step_id}: {self.points}/{self.max_points} points. {self.message}"]
        if not self.passed:
            lines.append(f"Hint: {self.hint}")
        return "\n".join(lines)

    __str__ = text

    def to_dict(self) -> dict:
        return asdict(self)


def run_check(ws: Workspace, step_id: str) -> CheckResult:
    """Check ``step_id`` against the workspace, save the result there and return it."""
    step = topic.step(step_id)
    details: dict = {}
    try:
        message = CHECKS[step.id](ws, step, details)
        passed = True
    except CheckFailed as exc:
        passed, message = False, str(exc)
    except LabkitError as exc:
        passed, message = False, str(exc).splitlines()[0]
    except PyMongoError as exc:
        passed, message = False, f"A deployment did not answer: {driver_error(exc)[:300]}"
    result = CheckResult(step_id=step_id, passed=passed, points=step.points if passed else 0,
                         max_points=step.points, message=message, hint=step.hint, details=details,
                         checked_at=now_iso())
    if ws.path.exists():
        with ws.edit() as state:
            state.setdefault("steps", {})[step_id] = result.to_dict()
            if details.get("figures"):
                state.setdefault("labrun", {}).setdefault("figures", {}).update(details["figures"])
    try:
        classroom.record_check(ws, result.to_dict())  # only when the instructor set a class folder
    except LabkitError as exc:
        result.message = f"{result.message} Note: {exc}"
    return result


def results(ws: Workspace) -> dict:
    """Saved results by step id (only the steps checked so far)."""
    return ws.read().get("steps", {}) if ws.exists() else {}


def progress_rows(ws: Workspace, topic_id: str = DEFAULT_TOPIC) -> list[dict]:
    saved = results(ws)
    rows = []
    for lab in topic.topic(topic_id).labs:
        for step in lab.steps:
            result = saved.get(step.id)
            status = "not checked" if result is None else ("passed" if result["passed"] else "failed")
            rows.append({"lab": lab.id, "step": step.id, "status": status,
                         "points": result["points"] if result else 0, "max_points": step.points,
                         "message": result["message"] if result else ""})
    return rows


def progress_table(ws: Workspace, topic_id: str = DEFAULT_TOPIC) -> str:
    rows = progress_rows(ws, topic_id)
    lines = [f"{'step':<38} {'status':<12} points"]
    for row in rows:
        lines.append(f"{row['step']:<38} {row['status']:<12} {row['points']:>2}/{row['max_points']}")
    earned = sum(row["points"] for row in rows)
    lines.append(f"points: {earned}/{topic.topic(topic_id).points}")
    return "\n".join(lines)


# --- helpers ------------------------------------------------------------------------------------


def _labrun(ws: Workspace) -> dict:
    if not ws.exists():
        raise CheckFailed(f"There is no lab workspace at {ws.path} yet.")
    return ws.read().get("labrun", {})


def _collection(deployment, raw: bool = False):
    coll = deployment.client[DB][COLLECTION]
    return coll.with_options(codec_options=CodecOptions(document_class=RawBSONDocument)) if raw else coll


def _up(ws: Workspace):
    ws.require_up()
    return ws.main, ws.temp


def _ts(text: str | None) -> Timestamp | None:
    if not text:
        return None
    seconds, inc = str(text).split(":")
    return Timestamp(int(seconds), int(inc))


# --- the checks ---------------------------------------------------------------------------------


def check_concepts(ws, step, details) -> str:
    return _knowledge(ws, step, details)


def check_flow(ws, step, details) -> str:
    return _knowledge(ws, step, details)


def _knowledge(ws, step, details) -> str:
    given = _labrun(ws).get("answers", {}).get(step.id)
    if given is None:
        raise CheckFailed("No answer recorded yet.")
    expected = step.question["answer"]
    normalized = normalize_answer(given, step.question["kind"])
    details["answer"] = normalized
    if normalized != expected:
        raise CheckFailed(f"{given!r} is not right yet.")
    return f"Correct: {expected}. {step.question.get('explanation', '')}".strip()


def normalize_answer(value, kind: str) -> str:
    """'b', ' B ' -> 'b' for a choice; 'C,E,B,A,D', ['C','E',...], 'c e b a d' -> 'CEBAD' for an order."""
    if isinstance(value, (list, tuple)):
        value = "".join(str(v) for v in value)
    text = "".join(ch for ch in str(value) if ch.isalnum())
    return text.lower() if kind == "choice" else text.upper()


def check_requirements(ws, step, details) -> str:
    main, temp = _up(ws)
    found = {}
    for deployment in (main, temp):
        hello = deployment.client.admin.command("hello")
        if not hello.get("setName"):
            raise CheckFailed(f"{deployment.label} is not a replica set: point-in-time restore needs an oplog.")
        if deployment.client.local["oplog.rs"].find_one({}, projection={"ts": 1}) is None:
            raise CheckFailed(f"{deployment.label} has no readable oplog (local.oplog.rs).")
        version = deployment.client.server_info().get("version", "0")
        found[deployment.name] = {"set": hello["setName"], "hosts": sorted(hello.get("hosts", [])), "version": version}
    details["deployments"] = found
    if found["main"]["set"] == found["temp"]["set"] and set(found["main"]["hosts"]) & set(found["temp"]["hosts"]):
        raise CheckFailed("Main and Temp are the same deployment: a restore onto Temp would replace Main's data.")
    if _version(found["temp"]["version"])[:2] < _version(found["main"]["version"])[:2]:
        raise CheckFailed(f"Temp runs {found['temp']['version']}, older than Main's {found['main']['version']}: "
                          "a restore needs the same or a newer version.")
    return (f"Main ({main.kind}, {found['main']['version']}) and Temp ({temp.kind}, {found['temp']['version']}) "
            "are two separate replica sets with an oplog.")


def _version(text: str) -> tuple:
    parts = []
    for piece in str(text).split(".")[:3]:
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits or 0))
    return tuple(parts)


def check_tools(ws, step, details) -> str:
    main, temp = _up(ws)
    versions = {d.label: d.client.server_info().get("version") for d in (main, temp)}
    found = {tool: shutil.which(tool) for tool in PRODUCTION_TOOLS}
    details.update(labkit=__version__, pymongo=pymongo.version, servers=versions,
                   tools={k: v for k, v in found.items() if v})
    present = [tool for tool, path in found.items() if path]
    return (f"labkit {__version__}, pymongo {pymongo.version}, Main {versions['Main']}, Temp {versions['Temp']}; "
            f"MongoDB tools found: {', '.join(present) if present else 'none (labkit provides them)'}.")


def check_atlas_clusters(ws, step, details) -> str:
    main, temp = _up(ws)
    for deployment in (main, temp):
        if not deployment.ping():
            raise CheckFailed(f"{deployment.label} does not answer: run labkit up (or the cell above) again.")
    summary = Backup(ws).summary() or {}
    details["backup"] = summary
    if not summary.get("capture_running"):
        raise CheckFailed("Main's continuous backup is not on: no oplog capture is running.")
    return "Main and Temp are up, and Main's continuous backup (oplog capture) is running."


def check_load_and_snapshot(ws, step, details) -> str:
    main, _ = _up(ws)
    expected = params(ws)["customers"]
    count = _collection(main).count_documents(recovery_query(ws))
    details["customers"] = count
    if count != expected:
        raise CheckFailed(f"Main holds {count} customers, expected {expected}.")
    workload = Workload(ws)
    stats = workload.stats()
    if not workload.running():
        raise CheckFailed(f"Main holds {count} customers, but the application is not running.")
    snapshots = list(Backup(ws).snapshots())
    details["snapshots"] = len(snapshots)
    if not snapshots:
        raise CheckFailed(f"Main holds {count} customers and the application runs, but no snapshot exists.")
    acknowledged = (stats or {}).get("acknowledged", 0)
    return f"Main holds {count} customers, the application runs ({acknowledged} inserts so far), {len(snapshots)} snapshot(s)."


def check_verify_present(ws, step, details) -> str:
    present = _labrun(ws).get("present")
    expected = params(ws)["customers"]
    if not present:
        raise CheckFailed("The customers were not counted and no time was noted yet.")
    names = [m["name"] for m in Backup(ws).marks()]
    if present["mark"] not in names:
        raise CheckFailed(f"No mark named {present['mark']!r} exists.")
    details.update(count=present["count"], mark=present["mark"])
    if present["count"] != expected:
        raise CheckFailed(f"Main held {present['count']} customers when the time was noted, expected {expected}.")
    deleted = _labrun(ws).get("delete")
    if deleted and deleted["time"] < present["time"]:
        raise CheckFailed("The mark was noted after the customers were deleted: it must come before.")
    return f"Main held {present['count']} customers at mark {MARK!r} ({present['time']} UTC)."


def check_delete_docs(ws, step, details) -> str:
    main, _ = _up(ws)
    deleted = _labrun(ws).get("delete")
    if not deleted:
        raise CheckFailed("No delete was recorded.")
    coll = _collection(main)
    left = coll.count_documents(recovery_query(ws))
    details.update(deleted=deleted["count"], left=left)
    if left:
        raise CheckFailed(f"Main still holds {left} customers.")
    total = _wait_for_growth(coll, deleted["total_after"])
    details["total"] = total
    if total <= deleted["total_after"]:
        raise CheckFailed(f"Main holds 0 customers, but its total stayed at {total}: the application is not writing.")
    return (f"{deleted['count']} customers deleted; Main holds 0 customers and its total keeps growing "
            f"({deleted['total_after']} -> {total}).")


def _wait_for_growth(coll, before: int) -> int:
    deadline = time.monotonic() + GROWTH_WAIT
    total = coll.count_documents({})
    while total <= before and time.monotonic() < deadline:
        time.sleep(0.2)
        total = coll.count_documents({})
    return total


def check_pitr_export_import(ws, step, details) -> str:
    main, _ = _up(ws)
    run = _labrun(ws)
    expected = params(ws)["customers"]
    figures = {"expected": expected}
    details["figures"] = figures
    restore = run.get("restore")
    if restore:
        figures["restore_seconds"] = restore.get("seconds")
    problems = []
    if not restore:
        problems.append("no point-in-time restore was made")
    elif run.get("delete"):
        restored_to, deleted_at = _restore_point(restore), _ts(run["delete"].get("cluster_time"))
        figures["restore_point"] = str(restored_to) if restored_to else None
        if restored_to is not None and deleted_at is not None and not restored_to < deleted_at:
            problems.append("the restore point is not before the delete")
    if not run.get("export"):
        problems.append("nothing was exported from Temp")
    if not run.get("import"):
        problems.append("nothing was imported into Main")

    restored, identical = _compare_with_generated(ws, main, run)
    figures.update(restored=restored, identical=identical)
    now = _collection(main).count_documents(recovery_query(ws))
    figures["customers_on_main"] = now
    if identical != expected:
        problems.append(f"Main holds {identical}/{expected} customers identical to the generated ones")
    if now != expected:
        problems.append(f"Main holds {now} customers in all, expected {expected}")

    stats = Workload(ws).stats()
    if stats:
        figures.update(workload_inserts=stats.get("acknowledged"), workload_failures=stats.get("failures"),
                       max_gap_ms=stats.get("max_gap_ms"), workload_retries=stats.get("retries"))
    if not stats or not stats.get("running"):
        problems.append("the application is not running")
    elif stats.get("failures"):
        problems.append(f"the application had {stats['failures']} failed inserts")
    if problems:
        raise CheckFailed("; ".join(problems).capitalize() + ".")
    gap = figures.get("max_gap_ms")
    return (f"restored {restored}/{expected}, identical {identical}/{expected}; the application kept writing: "
            f"{figures.get('workload_inserts')} inserts, 0 failures, max gap "
            f"{f'{gap:.0f} ms' if isinstance(gap, (int, float)) else 'n/a'}.")


def _restore_point(restore: dict) -> Timestamp | None:
    """The oplog timestamp the restore went back to, from its report."""
    report = restore.get("report")
    bound = report.get("point", {}).get("bound") if isinstance(report, dict) else None
    return _ts(bound) if bound else None


def _compare_with_generated(ws, main, run) -> tuple[int, int]:
    """(customers present by _id, customers byte-identical to the generated file)."""
    loaded = run.get("customers")
    if not loaded:
        return 0, 0
    generated = {}
    with open(loaded["file"]) as f:
        for line in f:
            if line.strip():
                doc = json_util.loads(line, json_options=CANONICAL)
                generated[doc["_id"]] = bson.encode(doc)
    restored = identical = 0
    coll = _collection(main, raw=True)
    ids = list(generated)
    for start in range(0, len(ids), 1000):
        for doc in coll.find({"_id": {"$in": ids[start:start + 1000]}}):
            restored += 1
            identical += doc.raw == generated[doc["_id"]]
    return restored, identical


# Each step's check, by full step id: checks belong to their topic.
CHECKS = {
    "partial-recovery.concepts": check_concepts,
    "partial-recovery.flow": check_flow,
    "partial-recovery.requirements": check_requirements,
    "partial-recovery.tools": check_tools,
    "partial-recovery.atlas-clusters": check_atlas_clusters,
    "partial-recovery.load-and-snapshot": check_load_and_snapshot,
    "partial-recovery.verify-present": check_verify_present,
    "partial-recovery.delete-docs": check_delete_docs,
    "partial-recovery.pitr-export-import": check_pitr_export_import,
}
