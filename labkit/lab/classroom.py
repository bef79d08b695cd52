"""A class on one server: each learner's progress record, and the instructor's view of them all.

When the instructor sets a class folder (``LABKIT_CLASS_DIR``, set once in the
hub's configuration), every check a learner runs also writes that learner's
progress record there: ``<folder>/<learner>.json``, written atomically under a
name nobody can predict, readable by the folder's group (0640: the
instructors), not by other learners. A record holds, per step, the status,
points, attempts, the last failing message and mistake key and how often each
mistake was made, plus the learner's workspaces: never data, connection
strings or secrets. Without a class folder nothing is written.

Who wrote a record is the file's owner, which nobody but root can forge: a
record counts as learner X's only when X's OS user owns it. A name that is no
OS user (``LABKIT_LEARNER`` set by a hub) is shown with the OS user that wrote
it. A record for X made by another user first (squatting) is reported, not
shown as X, and X's own checks then write ``X~<uid>.json`` instead. A
learner can still edit their own record: records are progress as the
learner's checks report it, not a gradebook (nbgrader grades). A record that
labkit's checks cannot have written (points a step does not give, totals that
do not add up) is reported as edited by hand.

``class_status`` reads every record of a folder: one row per learner, one
column per step, who is stuck and on what mistake, whether their labs run
(read from the process table when asked, see ``labprocs``), the class's
progress per step and how many learners made each mistake.
"""
from __future__ import annotations

import csv
import datetime as dt
import getpass
import io
import json
import os
import pwd
import re
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path

from labkit import __version__
from labkit.errors import LabError
from labkit.files import now_iso, parse_iso
from labkit.lab import labprocs, topic
from labkit.uris import redact
from labkit.workspace import DEFAULT_TOPIC, Workspace

CLASS_DIR_ENV = "LABKIT_CLASS_DIR"
LEARNER_ENV = "LABKIT_LEARNER"
RECORD_MODE = 0o640  # the instructor's group reads it; other learners do not
STUCK_FAILURES = 3  # failed checks in a row on one step
IDLE_MINUTES = 15.0
MAX_RECORD_BYTES = 1 << 20  # far above any record labkit writes
MAX_MESSAGE = 300
KEPT_WORKSPACES = 10
NOT_A_GRADEBOOK = ("Progress as each learner's own checks report it, not a gradebook: a learner can edit their "
                   "own record. Grade with nbgrader.")
_LEARNER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_MISTAKE = re.compile(r"^[a-z0-9][a-z0-9-]{0,47}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]+")  # a record is a learner's file: nothing in it drives a terminal


def class_dir() -> Path | None:
    """The class folder the instructor set, or None (a self-paced learner)."""
    value = os.environ.get(CLASS_DIR_ENV, "").strip()
    return Path(value).expanduser() if value else None


def learner_name(name: str | None = None) -> str:
    """The learner's name: given, else ``LABKIT_LEARNER``, else the OS user."""
    name = name or os.environ.get(LEARNER_ENV) or getpass.getuser()
    if not _LEARNER.match(name):
        raise LabError(f"{name!r} cannot name a learner's progress record: use letters, digits, '.', '_' or '-' "
                       f"(at most 64), e.g. set {LEARNER_ENV}=ada.lovelace.")
    return name


# --- the learner's side: one record per learner, updated by every check -----------------------


def record_check(ws: Workspace, result: dict, learner: str | None = None) -> Path | None:
    """Add a check's result to the learner's record in the class folder; None when there is none.

    Raises LabError when the record cannot be saved; the caller shows it beside the check's result.
    """
    folder = class_dir()
    if folder is None:
        return None
    name = learner_name(learner)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        path = own_record_path(folder, name)
        write_record(path, updated_record(read_own_record(path), ws, result, name))
    except OSError as exc:
        raise LabError(f"Your check ran, but your progress could not be saved in the class folder {folder} "
                       f"({exc.strerror or exc}). Tell your instructor; your work is not affected.") from None
    return path


def own_record_path(folder: Path, name: str) -> Path:
    """Where this OS user keeps ``name``'s record: ``<name>.json``, or ``<name>~<uid>.json`` when another
    user made ``<name>.json`` first (the class status reports that file, not as this learner's)."""
    uid = os.geteuid()
    free = []
    for path in (folder / f"{name}.json", folder / f"{name}~{uid}.json"):
        try:
            info = os.lstat(path)
        except FileNotFoundError:
            free.append(path)
            continue
        if stat.S_ISREG(info.st_mode) and info.st_uid == uid:
            return path
    if free:
        return free[0]
    raise LabError(f"Your check ran, but your progress cannot be saved: another user made {name}.json and "
                   f"{name}~{uid}.json in the class folder {folder} before you. Tell your instructor (labkit "
                   "class status names that user); your work is not affected.")


def read_own_record(path: Path) -> dict:
    """This user's earlier record at ``path`` ({} when there is none, or it is not a record of ours)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return {}
    with open(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode) or info.st_uid != os.geteuid():
            return {}
        try:
            record = json.loads(handle.read(MAX_RECORD_BYTES))
        except ValueError:
            return {}
    return record if isinstance(record, dict) else {}


def write_record(path: Path, record: dict) -> None:
    """Atomically, through a temporary file of an unpredictable name (O_EXCL): in a folder every learner
    can write, a name someone could guess might be a link they placed."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, RECORD_MODE)
        with open(fd, "w") as handle:
            json.dump(record, handle, indent=1, sort_keys=True)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def updated_record(previous: dict, ws: Workspace, result: dict, name: str) -> dict:
    """The learner's record with one more check's ``result`` (a ``CheckResult.to_dict()``)."""
    steps = previous.get("steps") if isinstance(previous.get("steps"), dict) else {}
    step = dict(steps.get(result["step_id"]) or {})
    step["attempts"] = _count(step.get("attempts")) + 1
    # Failures since the last pass: what "stuck" counts.
    step["failed_in_a_row"] = 0 if result["passed"] else _count(step.get("failed_in_a_row")) + 1
    step.update(status="passed" if result["passed"] else "failed", points=result["points"],
                max_points=result["max_points"], last_checked=result.get("checked_at") or now_iso())
    if not result["passed"]:
        key = result.get("mistake")
        step["last_mistake"] = key if isinstance(key, str) and _MISTAKE.match(key) else None
        step["last_message"] = clean(redact(str(result.get("message") or "")), MAX_MESSAGE)
        if step["last_mistake"]:
            mistakes = step.get("mistakes") if isinstance(step.get("mistakes"), dict) else {}
            mistakes[key] = _count(mistakes.get(key)) + 1
            step["mistakes"] = mistakes
    steps[result["step_id"]] = step
    topic_id = result["step_id"].split(".", 1)[0]
    earlier = previous.get("workspaces") if isinstance(previous.get("workspaces"), list) else []
    kept = [p for p in earlier if isinstance(p, str) and p != str(ws.path)]
    return {
        "learner": name, "uid": os.geteuid(), "topic": topic_id, "labkit": __version__, "updated": now_iso(),
        "workspace": str(ws.path), "workspaces": [*kept, str(ws.path)][-KEPT_WORKSPACES:], "steps": steps,
        "points": sum(s.get("points", 0) for s in steps.values()),
        "max_points": topic.topic(topic_id).points,
        "current_step": _current_step(topic.topic(topic_id), steps),
        **_alive(ws),
    }


def _count(value) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def clean(text, limit: int = 200) -> str:
    """``text`` as one printable line of at most ``limit`` characters."""
    text = _CONTROL.sub(" ", str(text)).strip()
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _current_step(course, steps: dict) -> str | None:
    """The first step of the topic not passed yet (None when all are)."""
    for step in course.steps:
        if (steps.get(step.id) or {}).get("status") != "passed":
            return step.id
    return None


def _alive(ws: Workspace) -> dict:
    """The learner's deployments (kind, running) and application as this check saw them: the class status
    reads them live when it can, and falls back to these."""
    try:
        status = ws.status(describe=False)
    except Exception:  # a damaged state must not stop the check from being recorded
        return {"deployments_alive": {}, "deployment_kinds": {}, "application_running": False}
    deployments = status["deployments"]
    return {"deployments_alive": {name: entry.get("running", status["up"])  # a URI deployment: as the lab is
                                  for name, entry in deployments.items()},
            "deployment_kinds": {name: entry.get("kind") for name, entry in deployments.items()},
            "application_running": status["processes"].get("workload", {}).get("running", False)}


# --- reading the folder: who wrote each record, and whether labkit could have ------------------


@dataclass
class RecordFile:
    """One ``*.json`` of the class folder: its owner (who wrote it) and its record, or why it is not shown."""

    name: str
    uid: int
    record: dict | None
    problem: str | None = None

    @property
    def os_user(self) -> str:
        return os_user_name(self.uid)


def os_user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"


def scan_records(folder: str | os.PathLike) -> list[RecordFile]:
    """Every record file of ``folder`` with its owner; never follows a link, never blocks on a pipe."""
    folder = Path(folder).expanduser()
    try:
        names = sorted(entry.name for entry in os.scandir(folder))
    except (FileNotFoundError, NotADirectoryError):
        raise LabError(f"The class folder {folder} does not exist. Give the folder the hub sets as "
                       f"{CLASS_DIR_ENV}, e.g. labkit class status /srv/class/progress.") from None
    except OSError as exc:
        raise LabError(f"The class folder {folder} cannot be read by you ({exc.strerror or exc}): run this as a "
                       f"member of its group (ls -ld {folder}), which the instructors are.") from None
    return [found for found in (_record_file(folder / name) for name in names
                                if name.endswith(".json") and not name.startswith(".")) if found]


def _record_file(path: Path) -> RecordFile | None:
    try:
        info = os.lstat(path)
    except OSError:
        return None  # gone since the listing
    if not stat.S_ISREG(info.st_mode):
        return RecordFile(path.name, info.st_uid, None, "not a regular file (a link, a pipe or a folder); ignored")
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        with open(fd, "rb") as handle:
            data = handle.read(MAX_RECORD_BYTES + 1)
    except PermissionError:
        return RecordFile(path.name, info.st_uid, None, "not readable by you (records are 0640 in the class "
                                                         "folder's group: check its group and setgid bit)")
    except OSError as exc:
        return RecordFile(path.name, info.st_uid, None, f"unreadable ({exc.strerror or exc}); ignored")
    if len(data) > MAX_RECORD_BYTES:
        return RecordFile(path.name, info.st_uid, None, "larger than any record labkit writes; ignored")
    try:
        record = json.loads(data)
    except ValueError as exc:
        return RecordFile(path.name, info.st_uid, None, f"damaged ({clean(exc, 120)}); ignored")
    if not isinstance(record, dict) or not isinstance(record.get("steps"), dict):
        return RecordFile(path.name, info.st_uid, None, "not a labkit progress record; ignored")
    return RecordFile(path.name, info.st_uid, record)


def uid_of(name: str) -> int | None:
    try:
        return pwd.getpwnam(name).pw_uid
    except KeyError:
        return None


def identity_problem(found: RecordFile) -> str | None:
    """Why ``found`` is not the progress of the learner its name says (another user made it), or None."""
    stem = found.name[: -len(".json")]
    name, _, kept_for = stem.partition("~")
    writer = f"OS user {found.os_user} (uid {found.uid})"
    if not _LEARNER.match(name) or (kept_for and not kept_for.isdigit()):
        return "not a name labkit gives a record (<learner>.json); ignored"
    if found.record.get("learner") != name:
        return f"edited by hand: it names the learner {clean(repr(found.record.get('learner')), 60)}; not shown"
    if kept_for and int(kept_for) != found.uid:
        return f"made by {writer} under the name kept for uid {kept_for}; not shown as {name}"
    owner = uid_of(name)
    if owner is not None and owner != found.uid:
        return f"made by {writer}, not by {name}: another learner's name taken; not shown as {name}"
    return None


def forged(record: dict, course) -> str | None:
    """What in ``record`` labkit's checks cannot have written (a learner edited it), or None."""
    steps = {step.id: step for step in course.steps}
    total = 0
    for step_id, entry in record["steps"].items():
        step = steps.get(step_id)
        if step is None:
            return f"{clean(repr(step_id), 60)} is not a step of {course.id}"
        if not isinstance(entry, dict):
            return f"{step.short_id}: not a step record"
        status, points = entry.get("status"), entry.get("points")
        attempts, failed = entry.get("attempts"), entry.get("failed_in_a_row", 0)
        if status not in ("passed", "failed"):
            return f"{step.short_id}: status {clean(repr(status), 40)}"
        if not _count(attempts):
            return f"{step.short_id}: {clean(repr(attempts), 40)} attempts"
        if points != (step.points if status == "passed" else 0) or isinstance(points, bool):
            return f"{step.short_id}: {clean(repr(points), 40)} points for a {status} check of a {step.points}-point step"
        if not isinstance(failed, int) or not 0 <= failed <= attempts or (failed == 0) != (status == "passed"):
            return f"{step.short_id}: {clean(repr(failed), 40)} failed checks in a row after a {status} check"
        mistakes = entry.get("mistakes", {})
        if (not isinstance(mistakes, dict) or not all(isinstance(k, str) and _MISTAKE.match(k) and _count(n)
                                                       for k, n in mistakes.items())
                or sum(mistakes.values()) > attempts):
            return f"{step.short_id}: mistake counts that do not add up"
        last = entry.get("last_mistake")
        if last is not None and not (isinstance(last, str) and _MISTAKE.match(last)):
            return f"{step.short_id}: a mistake key labkit does not write"
        total += points
    if record.get("points", total) != total:
        return f"its total {clean(repr(record.get('points')), 40)} is not the sum of its steps' points ({total})"
    return None


def read_records(folder: str | os.PathLike, topic_id: str = DEFAULT_TOPIC) -> tuple[list[dict], list[str]]:
    """(records, problems): the records of ``topic_id`` that are their learners' own, each with ``os_user``,
    ``uid`` and ``file``; any other file of the folder is a problem (a line saying why), never an error."""
    course = topic.topic(topic_id)
    newest: dict[tuple[str, int], dict] = {}
    problems = []
    for found in scan_records(folder):
        problem = found.problem or identity_problem(found)
        if not problem and found.record.get("topic", topic_id) != topic_id:
            continue  # another course's record
        if not problem and (reason := forged(found.record, course)):
            problem = f"edited by hand, not written by labkit's checks ({reason}); not shown"
        if problem:
            problems.append(f"{found.name} (OS user {found.os_user}): {problem}")
            continue
        record = {**found.record, "os_user": found.os_user, "uid": found.uid, "file": found.name}
        key = (record["learner"], found.uid)  # <name>.json and <name>~<uid>.json of one user: the newest counts
        if key not in newest or str(record.get("updated")) > str(newest[key].get("updated")):
            newest[key] = record
    records = sorted(newest.values(), key=lambda r: (r["learner"], r["os_user"]))
    by_name: dict[str, list[str]] = {}
    for record in records:
        by_name.setdefault(record["learner"], []).append(record["os_user"])
    problems += [f"{name}: records of this name come from {len(users)} OS users ({', '.join(users)}); each row "
                 "names its user" for name, users in by_name.items() if len(users) > 1]
    return records, problems


# --- the instructor's view --------------------------------------------------------------------


def class_status(folder: str | os.PathLike, *, topic_id: str = DEFAULT_TOPIC, idle_minutes: float = IDLE_MINUTES,
                 stuck_failures: int = STUCK_FAILURES, now: dt.datetime | None = None) -> dict:
    """The class at a glance: rows per learner, progress and mistakes per step, who is stuck, problems."""
    now = now or dt.datetime.now(dt.timezone.utc)
    course = topic.topic(topic_id)
    steps = [s.id for s in course.steps]
    records, problems = read_records(folder, topic_id)
    visible = {record["uid"] for record in records if labprocs.can_see(record["uid"])}
    labs = labprocs.running_labs(visible) if visible else {}
    rows = [_row(record, course, labs.get(record["uid"], {}), record["uid"] in visible, now, idle_minutes,
                 stuck_failures) for record in records]
    per_step = {step: sum(1 for row in rows if row["steps"][step] == "passed") for step in steps}
    return {"folder": str(folder), "topic": topic_id, "note": NOT_A_GRADEBOOK, "learners": len(rows),
            "steps": steps, "rows": rows, "passed_per_step": per_step,
            "mistakes": mistake_histogram(records, steps),
            "stuck": [row["learner"] for row in rows if row["stuck"]],
            "liveness": _liveness_note(rows), "problems": problems}


def _row(record: dict, course, labs: dict, visible: bool, now, idle_minutes: float, stuck_failures: int) -> dict:
    saved = record["steps"]
    current = _current_step(course, saved)
    idle = _minutes_since(record.get("updated"), now)
    entry = (saved.get(current) or {}) if current else {}
    failed = entry.get("failed_in_a_row", 0)
    stuck = []
    if current and failed >= stuck_failures:
        stuck.append(f"{failed} failed checks on {current.split('.', 1)[-1]}")
    if current and idle is not None and idle >= idle_minutes:
        stuck.append(f"no activity for {idle:.0f} min")
    failing = None
    if entry.get("status") == "failed":
        failing = {"step": current, "mistake": entry.get("last_mistake"),
                   "message": clean(entry.get("last_message") or "", MAX_MESSAGE)}
    return {
        "learner": record["learner"], "os_user": record["os_user"],
        "steps": {step.id: _cell(saved.get(step.id)) for step in course.steps},
        "points": sum(step.points for step in course.steps if (saved.get(step.id) or {}).get("status") == "passed"),
        "max_points": course.points, "current_step": current,
        "last_activity": record.get("updated") if idle is not None else None,
        "idle_minutes": None if idle is None else round(idle, 1), "failing": failing,
        **_liveness(record, labs, visible), "stuck": "; ".join(stuck),
    }


def _liveness(record: dict, labs: dict, visible: bool) -> dict:
    """Whether the learner's deployments and application run: read now from the process table when this
    user can see the learner's processes, else as the learner's last check saw them."""
    recorded = record.get("deployments_alive") if isinstance(record.get("deployments_alive"), dict) else {}
    kinds = record.get("deployment_kinds") if isinstance(record.get("deployment_kinds"), dict) else {}
    if not visible:
        return {"deployments_alive": bool(recorded) and all(recorded.values()),
                "application_running": bool(record.get("application_running")), "labs_running": None,
                "liveness": "last check"}
    running = labs.get(record.get("workspace"), {}) if isinstance(record.get("workspace"), str) else {}
    names = [name for name in recorded if name in labprocs.SERVERS] or list(labprocs.SERVERS)
    # A deployment given by URI (Atlas) runs no process here: as the last check saw it.
    alive = [bool(recorded.get(name)) if kinds.get(name) == "uri" else name in running for name in names]
    return {"deployments_alive": all(alive), "application_running": "workload" in running,
            "labs_running": sum(1 for processes in labs.values() if set(processes) & {"main", "temp", "workload"}),
            "liveness": "live"}


def _liveness_note(rows: list[dict]) -> str:
    stale = [row["learner"] for row in rows if row["liveness"] != "live"]
    if not stale:
        return "labs read from the process table now"
    return (f"labs of {', '.join(stale)} as of their last check: their processes are hidden from you "
            "(/proc hidepid); run labkit class status as root, or as a member of /proc's gid, to read them now")


def mistake_histogram(records: list[dict], steps: list[str]) -> dict:
    """Per step: how many learners checked it and, per mistake key, how many learners made it at least once."""
    histogram = {}
    for step in steps:
        entries = [record["steps"].get(step) for record in records if record["steps"].get(step)]
        counts: dict[str, int] = {}
        for entry in entries:
            for key in entry.get("mistakes") or {}:
                counts[key] = counts.get(key, 0) + 1
        histogram[step] = {"checked": len(entries),
                           "learners": dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))}
    return histogram


def _cell(step: dict | None) -> str:
    if not step:
        return "-"
    if step.get("status") == "passed":
        return "passed"
    return f"failed x{step.get('failed_in_a_row', 1)}"


def _minutes_since(iso: str | None, now: dt.datetime) -> float | None:
    try:
        return max(0.0, (now - parse_iso(iso)).total_seconds() / 60)
    except (TypeError, ValueError):
        return None


def lab_cell(row: dict) -> str:
    """The learner's lab in a word: up (servers run), +app (the application too), down; ~ marks a value
    from the last check rather than read now; (N labs) when they run more than one."""
    text = ("up" if row["deployments_alive"] else "down") + ("+app" if row["application_running"] else "")
    if row["liveness"] != "live":
        text = "~" + text
    if row["labs_running"] and row["labs_running"] > 1:
        text += f" ({row['labs_running']} labs)"
    return text


def mistake_lines(status: dict) -> list[str]:
    """"delete-docs: local-as-utc 12 of 30, moment-late 3 of 30" per step that has mistakes."""
    lines = []
    for step in status["steps"]:
        counts = status["mistakes"][step]["learners"]
        if counts:
            lines.append(f"  {step.split('.', 1)[-1]}: " + ", ".join(f"{key} {n} of {status['learners']}"
                                                                    for key, n in counts.items()))
    return lines


def status_text(status: dict) -> str:
    """The table a terminal shows: a column per step (its short name), points, lab, state; then who fails on
    what, the mistakes per step, and problems."""
    short = [step.split(".", 1)[-1] for step in status["steps"]]
    marks = {"passed": "ok", "-": "."}
    header = ["learner", "user", *short, "points", "lab", "state"]
    table = []
    for row in status["rows"]:
        cells = [marks.get(row["steps"][s], row["steps"][s].replace("failed x", "x")) for s in status["steps"]]
        table.append([row["learner"], row["os_user"], *cells, f"{row['points']}/{row['max_points']}", lab_cell(row),
                      row["stuck"] or "ok"])
    passed = ["passed", "", *[f"{status['passed_per_step'][s]}/{status['learners']}" for s in status["steps"]], "",
              "", ""]
    widths = [max(len(str(line[i])) for line in [header, passed, *table]) for i in range(len(header))]
    lines = [status["note"]]
    lines += ["  ".join(str(cell).ljust(width) for cell, width in zip(line, widths)).rstrip()
              for line in [header, *table, passed]]
    lines.append(f"{status['learners']} learner(s); stuck: {', '.join(status['stuck']) or 'nobody'}"
                 "  (ok: passed, xN: N failed checks in a row, .: not checked yet)")
    failing = [row for row in status["rows"] if row["failing"]]
    if failing:
        lines.append("Failing now (the learner's last check):")
        lines += [f"  {row['learner']} on {row['failing']['step'].split('.', 1)[-1]}"
                  f"{' [' + row['failing']['mistake'] + ']' if row['failing']['mistake'] else ''}: "
                  f"{row['failing']['message']}" for row in failing]
    lines.append("Mistakes per step (learners who made each at least once):")
    lines += mistake_lines(status) or ["  none recorded yet"]
    lines.append(f"Labs: {status['liveness']}.")
    lines += [f"problem: {problem}" for problem in status["problems"]]
    return "\n".join(lines)


def _cell_text(value) -> str:
    """A CSV cell a spreadsheet shows as text: a learner's message starting with = + - @ is no formula."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


def status_csv(status: dict) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["learner", "os_user", *status["steps"], "points", "max_points", "current_step",
                     "failing_mistake", "failing_message", "last_activity", "deployments_alive",
                     "application_running", "labs_running", "liveness", "stuck"])
    for row in status["rows"]:
        failing = row["failing"] or {}
        writer.writerow([row["learner"], row["os_user"], *[row["steps"][s] for s in status["steps"]], row["points"],
                         row["max_points"], row["current_step"] or "", failing.get("mistake") or "",
                         _cell_text(failing.get("message")), row["last_activity"] or "", row["deployments_alive"],
                         row["application_running"], "" if row["labs_running"] is None else row["labs_running"],
                         row["liveness"], row["stuck"]])
    return out.getvalue()


def mistakes_csv(status: dict) -> str:
    """The mistake histogram, one row per step and mistake: step,mistake,learners,of,checked."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["step", "mistake", "learners", "of", "checked"])
    for step in status["steps"]:
        entry = status["mistakes"][step]
        for key, n in entry["learners"].items():
            writer.writerow([step, key, n, status["learners"], entry["checked"]])
    return out.getvalue()
