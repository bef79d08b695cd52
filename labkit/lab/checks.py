"""Self-checks: one per step, re-deriving the verdict from the deployments and labkit's records.

A check never looks at notebook variables. It asks Main and Temp, Main's
oplog, the backup's restore record and the workspace's event log (see
``evidence``), so a recovery done with notebook calls, ``!labkit`` cells or a
terminal is judged alike. The learner's own answers (decisions and
predictions recorded with ``answer``) are compared with what the deployments
then show.

A failed check names the mistake: ``Mistake(key, message)``, where the
message says what was found (with the figures) and the step's
``mistakes[key]`` in the lab data is the hint, which never prints solution
code. In challenge mode hints are progressive: the step's nudge first, the
mistake's hint from the second failure on. Results are kept in
``state["steps"]`` for ``labkit progress`` and the runner.
"""
from __future__ import annotations

import shutil
import time
from dataclasses import asdict, dataclass, field

import pymongo
from bson.codec_options import CodecOptions
from bson.raw_bson import RawBSONDocument
from pymongo.errors import PyMongoError

from labkit import __version__
from labkit.backup import Backup
from labkit.deploy import driver_error
from labkit.errors import LabkitError
from labkit.files import now_iso
from labkit.lab import classroom, topic
from labkit.lab.evidence import NS, Evidence, analyse_point, seconds_between, ts_text, utc_text
from labkit.lab.topic import COLLECTION, DB, params, recovery_query
from labkit.workload import Workload
from labkit.workspace import DEFAULT_TOPIC, Workspace

PRODUCTION_TOOLS = ("mongosh", "mongoexport", "mongoimport", "mongorestore", "mgeneratejs", "atlas")
GROWTH_WAIT = 10.0  # seconds a check waits to see the application's writes arrive


class CheckFailed(Exception):
    """Raised inside a check: the message says what was found; ``key`` names the mistake."""

    def __init__(self, message: str, key: str | None = None):
        super().__init__(message)
        self.key = key


def Mistake(key: str, message: str) -> CheckFailed:  # noqa: N802 - reads as the thing it raises
    return CheckFailed(message, key)


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
    mistake: str | None = None
    notes: list = field(default_factory=list)

    def text(self) -> str:
        status = "PASS" if self.passed else "FAIL"
        lines = [f"{status} {self.step_id}: {self.points}/{self.max_points} points. {self.message}"]
        lines += [f"Note: {note}" for note in self.notes]
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
    key = None
    try:
        message = CHECKS[step.id](ws, step, details)
        passed = True
    except CheckFailed as exc:
        passed, message, key = False, str(exc), exc.key
    except LabkitError as exc:
        passed, message = False, str(exc).splitlines()[0]
    except PyMongoError as exc:
        passed, message = False, f"A deployment did not answer: {driver_error(exc)[:300]}"
    failures = (results(ws).get(step_id, {}).get("failures", 0) if ws.exists() else 0) + (0 if passed else 1)
    result = CheckResult(step_id=step_id, passed=passed, points=step.points if passed else 0,
                         max_points=step.points, message=message, hint=hint_for(ws, step, key, failures),
                         details=details, checked_at=now_iso(), mistake=key, notes=details.pop("notes", []))
    if ws.path.exists():
        with ws.edit() as state:
            state.setdefault("steps", {})[step_id] = {**result.to_dict(), "failures": failures}
            if details.get("figures"):
                state.setdefault("labrun", {}).setdefault("figures", {}).update(details["figures"])
    try:
        classroom.record_check(ws, result.to_dict())  # only when the instructor set a class folder
    except LabkitError as exc:
        result.message = f"{result.message} Note: {exc}"
    return result


def hint_for(ws: Workspace, step, key: str | None, failures: int) -> str:
    """The mistake's own hint; in challenge mode the step's nudge on the first failure."""
    specific = step.mistakes.get(key) if key else None
    mode = params(ws).get("mode") if ws.exists() else "lab"
    if mode == "challenge" and failures <= 1 and step.nudge:
        return step.nudge
    return specific or step.hint


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


def _number(value):
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def _prediction(ev: Evidence, name: str, before: str | None = None, what: str = "") -> int:
    """The learner's numeric prediction ``name``; it must have been recorded before ``before`` (an ISO time)."""
    given = ev.answers().get(name)
    if given is None or _number(given) is None:
        raise Mistake("no-prediction", f"No prediction recorded for {name} yet{f' ({what})' if what else ''}.")
    when = ev.answer_time(name)
    if before and when and when > before:
        raise Mistake("no-prediction", f"Your prediction for {name} was recorded after the cell it predicts ran: "
                                       "predict first, then run.")
    return _number(given)


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
    given = _labrun(ws).get("answers", {}).get("main-replica-set")
    if given is None or not str(given).strip():
        raise Mistake("no-set-name", "Main and Temp are up, but no replica set name is recorded for Main yet.")
    if str(given).strip() != found["main"]["set"]:
        raise Mistake("wrong-set-name", f"You recorded {given!r}; Main's replica set is named {found['main']['set']!r}.")
    return (f"Main ({main.kind}, {found['main']['version']}, replica set {found['main']['set']!r}, as you read it) and "
            f"Temp ({temp.kind}, {found['temp']['version']}) are two separate replica sets with an oplog.")


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
    given = _labrun(ws).get("answers", {}).get("main-version")
    if given is None or not str(given).strip():
        raise Mistake("no-version", "No server version recorded for Main yet: the cell that asks Main is still empty.")
    if str(given).strip() != versions["Main"]:
        raise Mistake("wrong-version", f"You recorded {given!r}, but Main runs {versions['Main']}"
                                       + (" (that is pymongo's own version)" if str(given).strip() == pymongo.version else "")
                                       + ".")
    present = [tool for tool, path in found.items() if path]
    return (f"Main runs {versions['Main']}, as you read it; Temp {versions['Temp']}; labkit {__version__}, pymongo "
            f"{pymongo.version}; MongoDB tools found: {', '.join(present) if present else 'none (labkit provides them)'}.")


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
    ev = Evidence(ws)
    expected = ev.expected
    if not ev.generated:
        raise Mistake("not-loaded", "No customers were generated and loaded yet.")
    incident = ev.incident
    # After the incident Main's count says nothing about the load: the oplog does.
    count = _collection(main).count_documents(recovery_query(ws)) if incident is None else \
        len(ev.inserts_before(incident["first"]))
    details["customers"] = count
    if count != expected:
        raise Mistake("not-loaded", f"Main holds {count} customers, expected {expected}.")
    predicted = _prediction(ev, "predict-load-twice", ev.run.get("customers", {}).get("first_time"),
                            "how many customers a second load leaves")
    if predicted != expected:
        raise Mistake("wrong-prediction", f"You predicted {predicted} customers after a second load; Main holds "
                                          f"{expected}: the second import reports every customer as a duplicate "
                                          "and inserts none.")
    workload = Workload(ws)
    stats = workload.stats()
    if not workload.running():
        raise Mistake("no-application", f"Main holds {count} customers, but the application is not running.")
    snapshots = list(Backup(ws).snapshots())
    details["snapshots"] = len(snapshots)
    if not snapshots:
        raise Mistake("no-snapshot", f"Main holds {count} customers and the application runs, but no snapshot exists.")
    acknowledged = (stats or {}).get("acknowledged", 0)
    return (f"Main holds {count} customers (and you predicted a second load leaves {predicted}), the application runs "
            f"({acknowledged} inserts so far), {len(snapshots)} snapshot(s).")


def check_verify_present(ws, step, details) -> str:
    main, _ = _up(ws)
    ev = Evidence(ws)
    expected = ev.expected
    given = ev.answers().get("customers-counted")
    if given is None:
        raise Mistake("no-count", "No customer count recorded yet.")
    counted = _number(given)
    details["counted"] = counted
    incident = ev.incident
    if incident is None:
        actual = _collection(main).count_documents(recovery_query(ws))
    else:
        actual = len(ev.inserts_before(incident["first"]))
    if counted == actual == expected:
        return f"Main held {actual} customers, as you counted."
    if counted is not None and counted > actual:
        raise Mistake("counted-total", f"You recorded {counted}, but Main holds {actual} customers: {counted} counts "
                                       "the application's documents as well.")
    raise Mistake("wrong-count", f"You recorded {given!r}; Main held {actual} customers"
                                 + (f" (expected {expected})" if actual != expected else "") + ".")


def check_delete_docs(ws, step, details) -> str:
    main, _ = _up(ws)
    ev = Evidence(ws)
    expected = ev.expected
    incident = ev.incident
    if incident is None:
        raise Mistake("no-delete", "No customer was deleted from Main yet: its oplog holds no delete on test.customers.")
    details.update(deleted=incident["customers"], first=ts_text(incident["first"]), others=len(incident["others"]))
    ev.note_incident()
    if incident["others"]:
        gone = _still_missing(main, incident["others"])
        raise Mistake("broad-delete", f"The delete removed {len(incident['others'])} application document(s) as well as "
                                      f"{incident['customers']} customers ({gone} of them are still missing from "
                                      "Main): the filter was broader than the customers.")
    if incident["customers"] < expected:
        raise Mistake("partial-delete", f"Only {incident['customers']} of the {expected} customers were deleted.")
    coll = _collection(main)
    total_before = coll.count_documents({})
    total = _wait_for_growth(coll, total_before)
    details["total"] = total
    if total <= total_before:
        raise Mistake("application-stopped", f"Main's total stayed at {total}: the application is not writing.")
    given = ev.answers().get("moment-of-loss")
    if given is None or not str(given).strip():
        raise Mistake("no-moment", f"{incident['customers']} customers were deleted, but no moment of loss is recorded yet.")
    _judge_moment(ev, str(given).strip(), incident)
    first = incident["first"]
    return (f"{incident['customers']} customers deleted, nothing else; the first delete was at {ts_text(first)} "
            f"({utc_text(first)}, epoch {first.time}), as you found; Main's total keeps growing ({total_before} -> {total}).")


def _judge_moment(ev: Evidence, given: str, incident: dict) -> None:
    """The recorded moment must be the first delete: its SECONDS:INC, or a UTC time in its second."""
    from labkit.backup.timespec import parse_time
    from labkit.errors import BackupError

    first = incident["first"]
    try:
        point = parse_time(given)
    except BackupError as exc:
        raise Mistake("no-moment", f"{given!r} is not a time or an oplog timestamp: {exc}") from None
    if point.kind == "timestamp":
        if point.bound == first:
            return
        if point.bound > first:
            later = sum(1 for ts in incident["customer_deletes"] if ts < point.bound)
            if point.bound <= incident["last"]:
                raise Mistake("moment-late", f"{given} is the delete of customer number {later + 1}, "
                                             f"{seconds_between(point.bound, first)} the first one.")
        else:
            raise Mistake("moment-early", f"At {given} ({utc_text(point.bound)}) no customer had been deleted yet: "
                                          f"it is {seconds_between(point.bound, first)} the first delete.")
    elif point.bound.time == first.time:  # a wall-clock time: the first delete's second is close enough
        return
    problem = analyse_point(ev, point.bound, point.kind)
    if problem and problem[0] == "local-as-utc":
        raise Mistake("local-as-utc", problem[1].replace("The restore point", "The moment you recorded"))
    later = point.bound > first
    raise Mistake("moment-late" if later else "moment-early",
                  f"{given} ({utc_text(point.bound)}) is {seconds_between(point.bound, first)} the first delete.")


def _still_missing(main, ids) -> int:
    present = _collection(main).count_documents({"_id": {"$in": list(ids)}})
    return len(ids) - present


def _wait_for_growth(coll, before: int) -> int:
    deadline = time.monotonic() + GROWTH_WAIT
    total = coll.count_documents({})
    while total <= before and time.monotonic() < deadline:
        time.sleep(0.2)
        total = coll.count_documents({})
    return total


def check_pitr_export_import(ws, step, details) -> str:
    main, temp = _up(ws)
    ev = Evidence(ws)
    expected = ev.expected
    figures = {"expected": expected}
    details["figures"] = figures
    notes = details.setdefault("notes", [])
    incident = ev.incident
    if incident is None:
        raise Mistake("no-incident", "No customer was deleted from Main yet: there is nothing to recover.")
    ids = ev.generated
    first = incident["first"]

    # 1. why Temp (asked before the restore)
    why = ev.answers().get("why-temp")
    if why is None:
        raise Mistake("no-prediction", "No answer recorded for why-temp yet (why the restore goes to Temp).")
    if normalize_answer(why, "choice") != step.asks["why-temp"]["answer"]:
        raise Mistake("wrong-why-temp", f"{why!r} is not why the restore goes to Temp.")

    # 2. the restore
    restore = ev.restore
    if restore is None:
        attempts = ev.restore_attempts()
        if attempts and attempts[-1].get("mistake"):
            raise Mistake(attempts[-1]["mistake"], attempts[-1]["message"])
        if attempts:
            raise Mistake("restore-refused", f"Your restore to {attempts[-1]['to']!r} was refused: "
                                             f"{attempts[-1]['message']}")
        raise Mistake("no-restore", "No point-in-time restore to Temp was made (neither the restore cell nor "
                                    "labkit restore --to ... recorded one).")
    bound = ev.restore_bound()
    figures["restore_seconds"] = round(restore.get("duration_seconds", 0), 3)
    figures["restore_point"] = ts_text(bound)
    problem = analyse_point(ev, bound, restore.get("point", {}).get("kind", "timestamp"))
    if problem:
        key, message = problem
        on_temp = ev.customers_on(temp)
        raise Mistake(key, f"{message} (Temp holds {on_temp} customers now.)")
    predicted = _prediction(ev, "predict-temp-customers", restore.get("when"), "customers on Temp after the restore")
    if predicted != expected:
        raise Mistake("wrong-prediction", f"You predicted Temp would hold {predicted} customers; the restore to just "
                                          f"before the first delete brought back {expected}.")

    # 3. the export (records from labkit export and the notebook) and the file it wrote
    exports = ev.transfers("export")
    imports_main = [e for e in ev.transfers("import") if e.get("target") == "main"]
    imports_temp = [e for e in ev.transfers("import") if e.get("target") == "temp"]
    used = {e.get("file") for e in imports_main}
    export = next((e for e in reversed(exports) if e.get("file") in used), exports[-1] if exports else None)
    if export is not None:
        figures["exported"] = export.get("count")
        if export.get("source") == "main":
            raise Mistake("export-from-main", f"The export read Main, not Temp: Main had 0 customers at that moment, "
                                              f"so the file holds {export.get('count')} document(s) and no lost customer.")
        in_file = ev.file_contents(export.get("file"))
        if in_file is not None:
            customers_in_file = sum(1 for _id in in_file if _id in ids)
            others = len(in_file) - customers_in_file
            if others:
                failed = sum(e.get("failed", 0) for e in imports_main if e.get("file") == export.get("file"))
                raise Mistake("broad-export", f"The export wrote {len(in_file)} documents: {customers_in_file} customers "
                                              f"and {others} others (the query was missing or broader than the "
                                              f"customers); importing it into Main gave {failed} duplicate failure(s)"
                                              + (" and brought back documents that were not lost" if failed < others
                                                 and imports_main else "") + ".")

    # 4. where the customers went (Main's oplog) and how often they were imported
    since = max(first, ev.recovery_since) if ev.recovery_since else first
    went = ev.inserts_after(since, ids)
    figures["reimported"] = went.get(NS, 0)
    elsewhere = {ns: n for ns, n in went.items() if ns != NS}
    if elsewhere and went.get(NS, 0) < expected:
        where = ", ".join(f"{n} into {ns}" for ns, n in sorted(elsewhere.items()))
        raise Mistake("import-wrong-collection", f"The customers went to the wrong collection on Main ({where}), not "
                                                 f"into {NS}. Remove what you imported there (drop that collection if "
                                                 "it holds nothing else) and import into test.customers.")
    if not went.get(NS) and not imports_main:
        if imports_temp:
            e = imports_temp[-1]
            raise Mistake("import-wrong-deployment", f"The import went to Temp ({e.get('imported', 0)} imported, "
                                                     f"{e.get('failed', 0)} failed into {e.get('db')}.{e.get('collection')} "
                                                     "there), not to Main: Main still has none of the lost customers. Nothing to "
                                                     "remove on Temp (it is thrown away afterwards); import into Main.")
        if export is None:
            raise Mistake("no-export", "Nothing was exported from Temp and nothing imported into Main yet.")
        raise Mistake("no-import", f"Nothing was imported into Main yet (the export holds {export.get('count')} documents).")
    overwritten = ev.updates_after(since, ids)
    if overwritten:
        notes.append(f"{overwritten} update(s) of restored customers on Main after the incident (an upsert or merge "
                     "import overwrites documents instead of reporting duplicates).")
    again = [e for e in imports_main if e.get("collection") == COLLECTION and e.get("failed") and e is not imports_main[0]]
    if len(imports_main) > 1 and again:
        notes.append(f"The file was imported into Main {len(imports_main)} times: the later import(s) reported "
                     f"{sum(e.get('failed', 0) for e in again)} duplicate(s) and inserted {sum(e.get('imported', 0) for e in again)};"
                     f" nothing was overwritten ({overwritten} updates in Main's oplog).")

    # 5. Main: every customer back, identical
    restored, identical = _compare_with_generated(ws, main, ids)
    figures.update(restored=restored, identical=identical)
    now = _collection(main).count_documents(recovery_query(ws))
    figures["customers_on_main"] = now
    if identical != expected or now != expected:
        key = "overwritten" if overwritten and restored == expected else "incomplete"
        raise Mistake(key, f"Main holds {now} customers, {identical}/{expected} identical to the ones lost.")

    # 6. what else the incident removed
    if incident["others"]:
        gone = _still_missing(main, incident["others"])
        if gone:
            raise Mistake("broad-delete", f"The customers are back, but {gone} application document(s) the delete "
                                          "removed are still missing from Main.")

    # 7. the duplicates lesson, on Temp
    second = _prediction(ev, "predict-second-import", None, "documents failing on a second import")
    sandbox = [e for e in imports_temp if e.get("file") == (export or {}).get("file") and e.get("mode", "insert") == "insert"]
    if sandbox:
        actual = sandbox[-1].get("failed", 0)
        if second != actual:
            raise Mistake("wrong-prediction", f"You predicted {second} failures for a second import; importing the "
                                              f"same file again (on Temp) reported {actual}.")
    elif second != expected:
        raise Mistake("wrong-prediction", f"You predicted {second} failures for a second import of the {expected} "
                                          "customers.")

    # the upsert danger and the export without the query, each predicted before it ran (on Temp)
    upserts = [e for e in imports_temp if e.get("mode") == "upsert"]
    if upserts:
        chosen = ev.answers().get("predict-upsert")
        if chosen is None or (ev.answer_time("predict-upsert") or "") > upserts[-1].get("time", ""):
            raise Mistake("no-prediction", "Predict what the upsert import does to the edited customer (predict-upsert) "
                                           "before you run it.")
        if normalize_answer(chosen, "choice") != step.asks["predict-upsert"]["answer"]:
            raise Mistake("wrong-upsert", f"You predicted {chosen!r}; the upsert import replaced the edited customer "
                                          "with the file's older version: the edit is gone.")
    everything = [e for e in exports if e.get("source") == "temp" and e.get("query") in (None, "", "{}")
                  and e is not export]
    if everything:
        said = _prediction(ev, "predict-export-all", everything[-1].get("time"), "documents an export without the query writes")
        if said != everything[-1].get("count"):
            raise Mistake("wrong-prediction", f"You predicted {said} documents; the export of Temp without the query "
                                              f"wrote {everything[-1].get('count')}: the application's documents too, "
                                              "which were never lost.")

    # 8. the application, all along
    stats = Workload(ws).stats()
    if stats:
        figures.update(workload_inserts=stats.get("acknowledged"), workload_failures=stats.get("failures"),
                       max_gap_ms=stats.get("max_gap_ms"), workload_retries=stats.get("retries"))
    if not stats or not stats.get("running"):
        since = (stats or {}).get("updated") or "an unknown time"
        raise Mistake("application-stopped", f"The customers are back, but the application is not running "
                                             f"(stopped since {since}).")
    if stats.get("failures"):
        raise Mistake("application-failing", f"The application had {stats['failures']} failed inserts, the last at "
                                             f"{stats.get('last_error_time') or '?'}: {stats.get('last_error') or ''}".strip())
    gap = figures.get("max_gap_ms")
    return (f"restored to {ts_text(bound)} ({utc_text(bound)}), just before the first delete; restored {restored}/"
            f"{expected}, identical {identical}/{expected}; the application kept writing: "
            f"{figures.get('workload_inserts')} inserts, 0 failures, max gap "
            f"{f'{gap:.0f} ms' if isinstance(gap, (int, float)) else 'n/a'}.")


def _compare_with_generated(ws, main, generated: dict) -> tuple[int, int]:
    """(customers present by _id, customers byte-identical to the generated file)."""
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
