"""Unattended lab runs: the three notebooks with papermill, and batches of runs.

``run_lab`` executes the topic's notebooks in order in a fresh workspace,
saves the executed notebooks, and always stops every process the run started
(kernels, servers, the application, the backup capture), also on failure or
Ctrl-C. ``run_batch`` runs every combination of a parameter grid, each in its
own workspace and its own ``labkit run`` process, and writes ``summary.csv``
and ``summary.md``; a failing run becomes a failed row, never a stopped batch.

Parameters reach the notebooks through papermill, which records them in the
executed notebooks' metadata: that is why a notebook takes the *names* of the
environment variables holding connection strings, never the strings.
"""
from __future__ import annotations

import ast
import contextlib
import datetime as dt
import itertools
import json
import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

from labkit import procs
from labkit.errors import LabError, LabkitError
from labkit.files import mkdir_private, private_umask, unsafe_folder, write_json
from labkit.lab import checks, notebooks, topic
from labkit.uris import password_of, redact
from labkit.workspace import DEFAULT_TOPIC, Workspace

RESULT_FILE = "result.json"
RUN_LOG = "run.log"
KERNELS_LOG = "kernels.log"
KEY_FIGURES = ("expected", "restored", "identical", "workload_inserts", "workload_failures", "max_gap_ms",
               "restore_seconds")


@dataclass
class RunResult:
    topic: str
    params: dict
    output_dir: str
    workspace: str
    status: str = "not started"  # passed | failed | error | interrupted
    error: str | None = None
    failed_notebook: str | None = None
    steps: list = field(default_factory=list)
    points: int = 0
    max_points: int = 0
    figures: dict = field(default_factory=dict)
    notebooks: list = field(default_factory=list)
    duration_s: float = 0.0

    @property
    def checks_passed(self) -> int:
        return sum(1 for step in self.steps if step["status"] == "passed")

    @property
    def ok(self) -> bool:
        return self.status == "passed"

    def to_dict(self) -> dict:
        return {**asdict(self), "checks_passed": self.checks_passed}

    def report(self) -> str:
        """The table of steps, status and points, the total and the key figures."""
        lines = [f"{'step':<38} {'status':<12} points"]
        lines += [f"{s['step']:<38} {s['status']:<12} {s['points']:>2}/{s['max_points']}" for s in self.steps]
        lines.append(f"points: {self.points}/{self.max_points}")
        lines.append(key_figures_line(self.figures))
        lines.append(f"status: {self.status} in {self.duration_s:.0f} s; executed notebooks in {self.output_dir}")
        if self.error:
            lines.append(f"error{f' in {self.failed_notebook}' if self.failed_notebook else ''}: {self.error}")
        return "\n".join(lines)


def key_figures_line(figures: dict) -> str:
    expected = figures.get("expected", "?")
    gap = figures.get("max_gap_ms")
    seconds = figures.get("restore_seconds")
    return (f"restored {figures.get('restored', 0)}/{expected}, identical {figures.get('identical', 0)}/{expected}, "
            f"workload inserts {figures.get('workload_inserts', 'n/a')}, failures {figures.get('workload_failures', 'n/a')}, "
            f"max gap {f'{gap:.0f} ms' if isinstance(gap, (int, float)) else 'n/a'}, "
            f"restore duration {f'{seconds:.1f} s' if isinstance(seconds, (int, float)) else 'n/a'}")


# --- parameters ---------------------------------------------------------------------------------


def notebook_parameters(topic_id: str = DEFAULT_TOPIC) -> dict:
    """Name -> default value of the notebooks' ``parameters`` cell (the same in every notebook)."""
    import papermill

    found = papermill.inspect_notebook(str(notebooks.notebook_paths(topic_id)[0]))
    return {name: _literal(info["default"]) for name, info in found.items()}


def _literal(text: str):
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def coerce_params(raw: dict, topic_id: str = DEFAULT_TOPIC) -> dict:
    """``-p NAME VALUE`` strings to the type of the parameter's default; unknown names are an error.

    A value that does not convert is passed on as text: the notebook's first cell then says what is wrong
    with it, as it would for a learner.
    """
    defaults = notebook_parameters(topic_id)
    result = {}
    for name, value in raw.items():
        if name not in defaults:
            raise LabError(f"Unknown parameter {name!r}. The notebooks take: {', '.join(defaults)}.")
        if name == "workspace":
            raise LabError("Give the workspace with --workspace, not as a parameter: each run needs a fresh one.")
        result[name] = _coerce(value, defaults[name])
    return result


def _coerce(value, default):
    if not isinstance(value, str):
        return value
    if value == "None":
        return None
    try:
        if isinstance(default, bool):
            return {"true": True, "false": False}[value.lower()]
        if isinstance(default, int):
            return int(value)
        if isinstance(default, float):
            return float(value)
    except (ValueError, KeyError):
        return value
    return value


# --- one run ------------------------------------------------------------------------------------


def default_output_dir(topic_id: str) -> Path:
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    return Path.cwd() / "labkit-runs" / f"{topic_id}-{stamp}"


def refuse_unsafe_output(out: Path) -> None:
    """The executed notebooks hold the learner's answers and the workspace under them runs the lab: never
    in a folder another user could swap (labkit-runs/ in a shared folder, see ``files.unsafe_folder``)."""
    reason = unsafe_folder(out)
    if reason:
        raise LabError(f"labkit does not write a run in {out}: {reason}, so another user of this machine could "
                       "replace it. Run from a folder only you can change (under your home folder), or give "
                       "--output-dir DIR there.")


@private_umask()  # the executed notebooks, logs and answers, and everything the kernels write: owner-only
def run_lab(topic_id: str = DEFAULT_TOPIC, params: dict | None = None, output_dir=None, workspace=None,
            progress=None, timeout: float = 1800) -> RunResult:
    """Run the topic's notebooks in order in a fresh workspace; always stop what the run started."""
    lab_topic = topic.topic(topic_id)
    params = dict(params or {})
    out = Path(output_dir) if output_dir else default_output_dir(topic_id)
    refuse_unsafe_output(out)
    ws = Workspace(workspace if workspace else out / "workspace")
    if ws.exists():
        raise LabError(f"The workspace {ws.path} is not fresh (it holds a lab already). Choose another --workspace, "
                       f"or remove it with labkit down --purge --workspace {ws.path}.")
    try:
        mkdir_private(out)
    except OSError as exc:
        raise LabError(f"Cannot create the output folder {out}: {exc.strerror or exc}.") from None
    log_path = out / RUN_LOG
    secrets = _secrets(params)

    def say(message: str) -> None:
        message = redact(message, *secrets)
        with open(log_path, "a") as log:
            log.write(f"{dt.datetime.now().isoformat(timespec='seconds')} {message}\n")
        if progress:
            progress(message)

    result = RunResult(topic=topic_id, params=params, output_dir=str(out), workspace=str(ws.path),
                       max_points=lab_topic.points)
    started = time.monotonic()
    try:
        sources = _sources(topic_id, params.get("mode", "lab"), out)
        result.status = "running"
        for source in sources:
            target = out / source.name
            say(f"running {source.name} ...")
            error = _execute(source, target, {**params, "workspace": str(ws.path)}, out, timeout)
            result.notebooks.append(str(target))
            if error:
                result.status, result.error, result.failed_notebook = "error", redact(error, *secrets), source.name
                say(f"{source.name} stopped: {result.error}")
                break
            say(f"{source.name} done")
    except KeyboardInterrupt:
        result.status, result.error = "interrupted", "interrupted (Ctrl-C)"
        say("interrupted: stopping everything the run started")
        raise
    except LabkitError as exc:
        result.status, result.error = "error", redact(str(exc), *secrets)
    finally:
        stopped = _stop_everything(ws)
        if stopped:
            say("stopped: " + ", ".join(stopped))
        _collect(result, ws)
        if result.status == "running":
            result.status = "passed" if result.checks_passed == len(result.steps) else "failed"
        result.duration_s = round(time.monotonic() - started, 1)
        write_json(out / RESULT_FILE, result.to_dict(), indent=2)
        say(f"{result.status}: points {result.points}/{result.max_points}")
    return result


def _secrets(params: dict) -> list[str]:
    """Connection strings named by the parameters: scrubbed from everything the runner writes."""
    names = {params.get("main_uri_env", "LABKIT_MAIN_URI"), params.get("temp_uri_env", "LABKIT_TEMP_URI")}
    found = []
    for name in names:
        uri = os.environ.get(str(name))
        if uri:
            found += [uri, password_of(uri)]
    return [s for s in found if s]


def _sources(topic_id: str, mode: str, out: Path) -> list[Path]:
    if mode == "challenge":
        return notebooks.write_notebooks("challenge", out / "challenge-source", topic_id)
    return notebooks.notebook_paths(topic_id)


def _execute(source: Path, target: Path, parameters: dict, cwd: Path, timeout: float) -> str | None:
    """Run one notebook with papermill; None when it ran to the end, else what stopped it."""
    import papermill
    from papermill.exceptions import PapermillExecutionError

    try:
        with _stderr_to(cwd / KERNELS_LOG), _noting_interrupts() as interrupts:  # kernels' warnings go to a log
            papermill.execute_notebook(str(source), str(target), parameters=parameters, kernel_name="python3",
                                       progress_bar=False, log_output=False, cwd=str(cwd), execution_timeout=timeout)
    except PapermillExecutionError as exc:
        return f"{exc.ename}: {exc.evalue}".strip()
    except KeyboardInterrupt:
        raise
    except Exception as exc:  # kernel died, timeout, unreadable notebook: the run fails, the batch goes on
        if interrupts:  # Ctrl-C inside papermill's event loop can surface as "Event loop stopped before Future completed"
            raise KeyboardInterrupt from None
        return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    return None


@contextlib.contextmanager
def _noting_interrupts():
    """A list that gets an entry when SIGINT or SIGTERM arrives; the handler in place still handles it."""
    received: list[int] = []
    previous = {}
    if threading.current_thread() is threading.main_thread():  # signal handlers belong to the main thread
        for signum in (signal.SIGINT, signal.SIGTERM):
            handler = signal.getsignal(signum)
            if callable(handler):  # not ignored, not the process-ending default: noted, then handled as before
                previous[signum] = signal.signal(signum, _noting(handler, received))
    try:
        yield received
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _noting(handler, received: list):
    def note(signum, frame):
        received.append(signum)
        handler(signum, frame)
    return note


@contextlib.contextmanager
def _stderr_to(path: Path):
    sys.stderr.flush()
    saved = os.dup(2)
    with open(path, "ab") as log:
        os.dup2(log.fileno(), 2)
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)


def _stop_everything(ws: Workspace) -> list[str]:
    if not ws.exists():
        return []
    try:
        return ws.down()
    except LabkitError:
        return []


def _collect(result: RunResult, ws: Workspace) -> None:
    try:
        result.steps = checks.progress_rows(ws, result.topic)
        state = ws.read() if ws.exists() else {}
    except LabkitError:
        return
    result.points = sum(step["points"] for step in result.steps)
    labrun = state.get("labrun", {})
    figures = dict(labrun.get("figures", {}))
    report = labrun.get("workload_report")
    if report:  # the final, verified figures once the application was stopped
        figures.update(workload_inserts=report.get("acknowledged"), workload_failures=report.get("failures"),
                       max_gap_ms=report.get("max_gap_ms"))
    figures.setdefault("expected", labrun.get("params", {}).get("customers", result.params.get("customers")))
    result.figures = figures


# --- batches ------------------------------------------------------------------------------------


def parse_grid(items: list[str]) -> dict[str, list[str]]:
    """``["customers=100,1000", "insert_rate=10,100"]`` -> {"customers": ["100", "1000"], ...}."""
    grid: dict[str, list[str]] = {}
    for item in items:
        name, sep, values = item.partition("=")
        name = name.strip()
        choices = [v.strip() for v in values.split(",") if v.strip()]
        if not sep or not name or not choices:
            raise LabError(f"--grid {item!r}: write it as NAME=VALUE1,VALUE2 (e.g. customers=100,1000).")
        if name in grid:
            raise LabError(f"--grid names {name} twice: give all its values in one --grid {name}=A,B.")
        grid[name] = choices
    return grid


def combinations(grid: dict[str, list[str]]) -> list[dict]:
    names = list(grid)
    return [dict(zip(names, values)) for values in itertools.product(*(grid[n] for n in names))]


@private_umask()
def run_batch(topic_id: str = DEFAULT_TOPIC, grid: dict | None = None, fixed: dict | None = None,
              output_dir=None, parallel: int = 1, progress=None, run_timeout: float = 1800):
    """Every combination of ``grid`` (plus ``fixed``) in its own workspace; returns the summary DataFrame."""
    import pandas as pd

    grid, fixed = dict(grid or {}), dict(fixed or {})
    if isinstance(parallel, bool) or not isinstance(parallel, int) or parallel < 1:
        raise LabError(f"--parallel must be a whole number of at least 1, not {parallel!r}.")
    overlap = set(grid) & set(fixed)
    if overlap:
        raise LabError(f"{', '.join(sorted(overlap))} given both in --grid and -p: choose one.")
    coerce_params({**fixed, **{name: values[0] for name, values in grid.items()}}, topic_id)  # names checked up front
    out = Path(output_dir) if output_dir else default_output_dir(topic_id).with_name(
        default_output_dir(topic_id).name + "-batch")
    refuse_unsafe_output(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise LabError(f"Cannot create the output folder {out}: {exc.strerror or exc}.") from None
    runs = [{**fixed, **combo} for combo in combinations(grid)] or [dict(fixed)]
    say = progress or (lambda message: None)
    say(f"{len(runs)} run(s), {parallel} at a time, into {out}")

    procs: dict[int, subprocess.Popen] = {}

    def one(index_params):
        index, run_params = index_params
        run_dir = out / f"run-{index:02d}"
        started = time.monotonic()
        args = [sys.executable, "-c", "from labkit.cli import main; main()", "run", topic_id,
                "--output-dir", str(run_dir), "--quiet"]
        for name, value in run_params.items():
            args += ["-p", name, str(value)]
        run_dir.mkdir(parents=True, exist_ok=True)
        with open(run_dir / "run.out", "wb") as log:
            proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
            procs[index] = proc
            try:
                proc.wait(timeout=run_timeout)
            except subprocess.TimeoutExpired:
                proc.send_signal(signal.SIGINT)  # the run stops what it started, then exits
                try:
                    proc.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        row = _row(index, run_params, grid, run_dir, proc.returncode, time.monotonic() - started)
        say(f"run-{index:02d} {row['status']}: points {row['points']}/{row['max_points']}"
            + (f" ({row['error']})" if row.get("error") else ""))
        return row

    try:
        with ThreadPoolExecutor(max_workers=parallel) as pool:
            rows = list(pool.map(one, enumerate(runs, 1)))
    except KeyboardInterrupt:
        for proc in procs.values():  # each run stops its own servers and processes on SIGINT
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
        for proc in procs.values():
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
        raise
    frame = pd.DataFrame(rows)
    frame.to_csv(out / "summary.csv", index=False)
    (out / "summary.md").write_text(markdown_table(frame))
    return frame


def _row(index: int, run_params: dict, grid: dict, run_dir: Path, returncode, seconds: float) -> dict:
    row = {"run": f"run-{index:02d}", **{name: run_params.get(name) for name in grid}}
    try:
        result = json.loads((run_dir / RESULT_FILE).read_text())
    except (OSError, ValueError):
        result = {"status": "error", "error": procs.tail(run_dir / "run.out", 3) or f"exit code {returncode}",
                  "max_points": topic.topic().points}
    figures = result.get("figures", {})
    row.update(status=result.get("status"), checks_passed=result.get("checks_passed", 0),
               checks=len(result.get("steps", [])) or len(topic.topic().steps),
               points=result.get("points", 0), max_points=result.get("max_points"),
               **{name: figures.get(name) for name in KEY_FIGURES},
               duration_s=round(seconds, 1), exit_code=returncode, error=result.get("error"),
               notebooks=";".join(result.get("notebooks", [])), output_dir=str(run_dir))
    return row


def markdown_table(frame) -> str:
    """A GitHub-flavoured Markdown table of the summary (no extra dependency)."""
    def cell(value) -> str:
        if value is None or (isinstance(value, float) and value != value):
            return ""
        return str(value).replace("|", "\\|").replace("\n", " ")

    columns = list(frame.columns)
    lines = ["| " + " | ".join(columns) + " |", "|" + "|".join("---" for _ in columns) + "|"]
    for record in frame.to_dict("records"):
        lines.append("| " + " | ".join(cell(record[c]) for c in columns) + " |")
    return "\n".join(lines) + "\n"
