"""A class on one server: each learner's progress record, and the instructor's view of them all.

When the instructor sets a class folder (``LABKIT_CLASS_DIR``, set once in the
hub's configuration), every check a learner runs also writes that learner's
progress record there: ``<folder>/<learner>.json``, written atomically,
group-readable (0640) so the instructor's group can read it and other
learners cannot. A record holds steps, statuses, points, attempts, the current
step, the last activity and whether the learner's deployments and application
are alive: never data, connection strings or secrets. Without a class folder
nothing is written and the learner sees no difference.

``class_status`` reads every record of a folder: one row per learner, one
column per step, totals, who is stuck (several failed checks on one step, or
no activity for a while) and the class's progress per step.
"""
from __future__ import annotations

import csv
import datetime as dt
import getpass
import io
import json
import os
import re
from pathlib import Path

from labkit import __version__
from labkit.errors import LabError, LabkitError
from labkit.files import now_iso, parse_iso, read_json, write_atomic
from labkit.lab import topic
from labkit.workspace import DEFAULT_TOPIC, Workspace

CLASS_DIR_ENV = "LABKIT_CLASS_DIR"
LEARNER_ENV = "LABKIT_LEARNER"
RECORD_MODE = 0o640  # the instructor's group reads it; other learners do not
STUCK_FAILURES = 3  # failed checks in a row on one step
IDLE_MINUTES = 15.0
_LEARNER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


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


def record_check(ws: Workspace, result: dict, learner: str | None = None) -> Path | None:
    """Add a check's result to the learner's record in the class folder; None when there is none.

    Raises LabError when the folder cannot be written; the caller shows it beside the check's result.
    """
    folder = class_dir()
    if folder is None:
        return None
    name = learner_name(learner)
    path = folder / f"{name}.json"
    record = read_json(path) or {}
    steps = record.get("steps") if isinstance(record.get("steps"), dict) else {}
    step = dict(steps.get(result["step_id"]) or {})
    step["attempts"] = int(step.get("attempts", 0)) + 1
    # Failures since the last pass: what "stuck" counts.
    step["failed_in_a_row"] = 0 if result["passed"] else int(step.get("failed_in_a_row", 0)) + 1
    step.update(status="passed" if result["passed"] else "failed", points=result["points"],
                max_points=result["max_points"], last_checked=result.get("checked_at") or now_iso())
    steps[result["step_id"]] = step
    topic_id = result["step_id"].split(".", 1)[0]
    record = {
        "learner": name, "topic": topic_id, "labkit": __version__, "updated": now_iso(),
        "workspace": str(ws.path), "steps": steps,
        "points": sum(s.get("points", 0) for s in steps.values()),
        "max_points": topic.topic(topic_id).points,
        "current_step": _current_step(topic_id, steps),
        **_alive(ws),
    }
    try:
        folder.mkdir(parents=True, exist_ok=True)
        write_atomic(path, lambda f: json.dump(record, f, indent=1, sort_keys=True))
        os.chmod(path, RECORD_MODE)
    except OSError as exc:
        raise LabError(f"Your check ran, but your progress could not be saved in the class folder {folder} "
                       f"({exc.strerror or exc}). Tell your instructor; your work is not affected.") from None
    return path


def _current_step(topic_id: str, steps: dict) -> str | None:
    """The first step of the topic not passed yet (None when all are)."""
    for step in topic.topic(topic_id).steps:
        if steps.get(step.id, {}).get("status") != "passed":
            return step.id
    return None


def _alive(ws: Workspace) -> dict:
    """Whether the learner's deployments and application run, as ``labkit status`` sees it without connecting."""
    try:
        status = ws.status(describe=False)
    except Exception:  # a damaged state must not stop the check from being recorded
        return {"deployments_alive": {}, "application_running": False}
    return {"deployments_alive": {name: entry.get("running", status["up"])  # a URI deployment: as the lab is
                                  for name, entry in status["deployments"].items()},
            "application_running": status["processes"].get("workload", {}).get("running", False)}


# --- the instructor's view --------------------------------------------------------------------


def read_records(folder: str | os.PathLike) -> tuple[list[dict], list[str]]:
    """(records, problems): every learner's record in ``folder``; a damaged one is a problem, not an error."""
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise LabError(f"The class folder {folder} does not exist. Give the folder the hub sets as "
                       f"{CLASS_DIR_ENV}, e.g. labkit class status /srv/class/progress.")
    records, problems = [], []
    for path in sorted(folder.glob("*.json")):
        try:
            record = json.loads(path.read_text())
            if not isinstance(record, dict) or not isinstance(record.get("steps"), dict):
                raise ValueError("not a labkit progress record")
            record.setdefault("learner", path.stem)
            records.append(record)
        except PermissionError:
            problems.append(f"{path.name}: not readable by you (check the class folder's group)")
        except (OSError, ValueError) as exc:
            problems.append(f"{path.name}: damaged ({str(exc).splitlines()[0][:120]}); ignored")
    return records, problems


def class_status(folder: str | os.PathLike, *, topic_id: str = DEFAULT_TOPIC, idle_minutes: float = IDLE_MINUTES,
                 stuck_failures: int = STUCK_FAILURES, now: dt.datetime | None = None) -> dict:
    """The class at a glance: rows per learner, progress per step, who is stuck, problems."""
    now = now or dt.datetime.now(dt.timezone.utc)
    steps = [s.id for s in topic.topic(topic_id).steps]
    records, problems = read_records(folder)
    rows = []
    for record in records:
        if record.get("topic", topic_id) != topic_id:
            continue
        idle = _minutes_since(record.get("updated"), now)
        current = record.get("current_step")
        failed = (record["steps"].get(current) or {}).get("failed_in_a_row", 0) if current else 0
        stuck = []
        if current and failed >= stuck_failures:
            stuck.append(f"{failed} failed checks on {current.split('.', 1)[-1]}")
        if current and idle is not None and idle >= idle_minutes:
            stuck.append(f"no activity for {idle:.0f} min")
        rows.append({
            "learner": record["learner"],
            "steps": {step: _cell(record["steps"].get(step)) for step in steps},
            "points": record.get("points", 0), "max_points": topic.topic(topic_id).points,
            "current_step": current, "last_activity": record.get("updated"),
            "idle_minutes": None if idle is None else round(idle, 1),
            "deployments_alive": all((record.get("deployments_alive") or {"?": False}).values()),
            "application_running": bool(record.get("application_running")),
            "stuck": "; ".join(stuck),
        })
    per_step = {step: sum(1 for row in rows if row["steps"][step] == "passed") for step in steps}
    return {"folder": str(folder), "topic": topic_id, "learners": len(rows), "steps": steps, "rows": rows,
            "passed_per_step": per_step, "stuck": [row["learner"] for row in rows if row["stuck"]],
            "problems": problems}


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


def status_text(status: dict) -> str:
    """The table a terminal shows: a column per step (its short name), points, state."""
    short = [step.split(".", 1)[-1] for step in status["steps"]]
    marks = {"passed": "ok", "-": "."}
    header = ["learner", *short, "points", "state"]
    table = []
    for row in status["rows"]:
        cells = [marks.get(row["steps"][s], row["steps"][s].replace("failed x", "x")) for s in status["steps"]]
        state = row["stuck"] or ("" if row["deployments_alive"] else "deployments down")
        table.append([row["learner"], *cells, f"{row['points']}/{row['max_points']}", state or "ok"])
    passed = ["passed", *[f"{status['passed_per_step'][s]}/{status['learners']}" for s in status["steps"]], "", ""]
    widths = [max(len(str(line[i])) for line in [header, passed, *table]) for i in range(len(header))]
    lines = ["  ".join(str(cell).ljust(width) for cell, width in zip(line, widths)).rstrip()
             for line in [header, *table, passed]]
    lines.append(f"{status['learners']} learner(s); stuck: {', '.join(status['stuck']) or 'nobody'}"
                 "  (ok: passed, xN: N failed checks in a row, .: not checked yet)")
    lines += [f"problem: {problem}" for problem in status["problems"]]
    return "\n".join(lines)


def status_csv(status: dict) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["learner", *status["steps"], "points", "max_points", "current_step", "last_activity",
                     "deployments_alive", "application_running", "stuck"])
    for row in status["rows"]:
        writer.writerow([row["learner"], *[row["steps"][s] for s in status["steps"]], row["points"],
                         row["max_points"], row["current_step"] or "", row["last_activity"] or "",
                         row["deployments_alive"], row["application_running"], row["stuck"]])
    return out.getvalue()


def cleanup(folder: str | os.PathLike, progress=None) -> list[str]:
    """Stop what the class's learners left running: their workspaces as their records name them.

    Only workspaces the caller owns are touched, except for root (the hub's admin), who may stop all.
    Returns one line per workspace: what was done or why not.
    """
    say = progress or (lambda line: None)
    records, problems = read_records(folder)
    done = [f"skipped {problem}" for problem in problems]
    me = os.geteuid()
    for record in records:
        path = Path(record.get("workspace") or "")
        learner = record["learner"]
        if not record.get("workspace") or not (path / "state.json").exists():
            done.append(f"{learner}: no workspace at {path or '?'}; nothing to stop")
            continue
        if me != 0 and path.stat().st_uid != me:
            done.append(f"{learner}: {path} belongs to another user; only its owner or root can stop it")
            continue
        ws = Workspace(path)
        try:
            if not ws.is_up():
                done.append(f"{learner}: {path} is already down")
                continue
            say(f"Stopping {learner}'s lab at {path} ...")
            stopped = ws.down(progress=say)
            done.append(f"{learner}: {', '.join(stopped) or 'nothing was running'}")
        except LabkitError as exc:
            done.append(f"{learner}: {exc}")
        except Exception as exc:  # one learner's broken workspace must not stop the cleanup of the others
            done.append(f"{learner}: could not stop {path}: {str(exc).splitlines()[0]}")
    return done
