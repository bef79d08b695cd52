"""The application as a background process owned by the workspace: start, watch, stop.

``Workload(ws).start()`` runs ``python -m labkit.workload.loop`` detached, with
Main's real URI in its environment (never in argv); ``labkit down`` stops it
with the lab. ``stop`` returns the run's report, verified against Main.
"""
from __future__ import annotations

import contextlib
import sys
import time
from pathlib import Path

from labkit import procs
from labkit.errors import LabkitError, WorkloadError
from labkit.files import read_json
from labkit.workload.loop import DEFAULT_RATE, check_reachable, new_run_id, validate_namespace, validate_rate
from labkit.workload.stats import WorkloadReport, build_report
from labkit.workspace import Workspace

PROCESS_NAME = "workload"


class Workload:
    """The workspace's continuous-insert process: start, watch, stop."""

    def __init__(self, ws):
        self.ws = ws

    @property
    def stats_path(self) -> Path:
        return self.ws.path / "workload" / "stats.json"

    def running(self) -> bool:
        return self.ws.process_alive(PROCESS_NAME)

    def start(self, rate: float = DEFAULT_RATE, db: str = "test", collection: str = "customers") -> dict:
        """Start inserting into Main in a background process; returns its run id, pid and stats file."""
        rate = validate_rate(rate)
        validate_namespace(db, collection)
        self.ws.require_up()
        with self.ws.locked():  # two simultaneous starts must not both pass the check
            if self.running():
                current = self.ws.read().get("workload", {})
                raise WorkloadError(
                    f"A workload is already running in this workspace (run {current.get('run_id')}, "
                    f"{current.get('rate', '?')}/s into {current.get('db')}.{current.get('collection')}, "
                    f"pid {self.ws.process_record(PROCESS_NAME)['pid']}); not starting another. "
                    "Stop it first with labkit workload stop."
                )
            main = self.ws.main
            check_reachable(main.uri, main.label)
            run_id = new_run_id()
            self.ws.ensure_dir("workload")
            self.stats_path.unlink(missing_ok=True)
            args = [sys.executable, "-m", "labkit.workload.loop", "--db", db, "--collection", collection,
                    "--rate", repr(rate), "--stats", str(self.stats_path), "--run-id", run_id]
            pid = self.ws.start_process(PROCESS_NAME, args, stop_rank=10, stop_timeout=15)
            info = {"run_id": run_id, "pid": pid, "rate": rate, "db": db, "collection": collection,
                    "stats_file": str(self.stats_path), "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
            with self.ws.edit() as state:
                state["workload"] = dict(info)
            self.ws.log_event("workload-start", rate=rate, run_id=run_id)
        self._wait_for_first_stats(pid)
        return info

    def _wait_for_first_stats(self, pid: int, timeout: float = 20.0) -> None:
        """Until the first insert is answered (or retried): a first insert the server refuses for good
        ends the process, and that must be this call's error, not a surprise later."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            stats = read_json(self.stats_path) if self.stats_path.exists() else None
            if stats and stats.get("state") in ("inserting", "retrying") and self.running():
                return
            if not self.running():
                record = self.ws.process_record(PROCESS_NAME) or {}
                raise WorkloadError(f"The workload process (pid {pid}) ended right after starting. "
                                    f"Last lines of its log {record.get('log')}:\n{procs.tail(Path(record.get('log', '')))}")
            time.sleep(0.1)

    def stats(self) -> dict | None:
        """The latest statistics (see ``RunStats.snapshot``), or None before the first start."""
        stats = read_json(self.stats_path)
        if stats is None:
            return None
        if stats.get("running") and not self.running():
            stats["running"], stats["state"] = False, "died"  # killed without writing its final stats
        return stats

    def stop(self) -> WorkloadReport:
        """Stop the process and return its report, verified against Main."""
        if not self.running():
            raise WorkloadError(self._not_running_message())
        self.ws.stop_process(PROCESS_NAME)
        stats = self.stats()
        if stats is None:
            raise WorkloadError(f"The workload stopped but left no statistics in {self.stats_path}.")
        try:
            with self._current_main() as main:
                report = build_report(stats, main.client[stats["db"]][stats["collection"]])
        except LabkitError as exc:
            report = build_report(stats)
            report.verification_error = str(exc)
        with self.ws.edit() as state:
            state.setdefault("workload", {})["last_report"] = report.to_dict()
        self.ws.log_event("workload-stop", acknowledged=report.acknowledged)
        return report

    @contextlib.contextmanager
    def _current_main(self):
        """Main as the state says now: `labkit up` in another process may have moved it since
        ``self.ws`` cached its connection."""
        try:
            main = Workspace(self.ws.path).main
        except LabkitError:  # e.g. a password only this process knows
            yield self.ws.main
            return
        try:
            yield main
        finally:
            main.close()

    def _not_running_message(self) -> str:
        info = self.ws.read().get("workload") if self.ws.exists() else None
        if not info:
            return "No workload is running in this workspace: start one with labkit workload start."
        if info.get("last_report"):
            return f"No workload is running: the last one (run {info['run_id']}) was already stopped. Start one with labkit workload start."
        if (self.stats() or {}).get("state") == "stopped":
            return (f"No workload is running: the last one (run {info['run_id']}) was stopped (labkit down stops it too). "
                    "See its last statistics with labkit workload status; start a new one with labkit workload start.")
        record = self.ws.process_record(PROCESS_NAME) or {}
        return (f"No workload is running: the last one (run {info['run_id']}) ended without being stopped. "
                f"See its log {record.get('log')} and its last statistics with labkit workload status.")

    def summary(self) -> dict | None:
        """A few figures for `labkit status`; None if no workload was ever started here."""
        info = self.ws.read().get("workload")
        if not info:
            return None
        stats = self.stats() or {}
        result = {"run_id": info["run_id"], "namespace": f"{info['db']}.{info['collection']}",
                  "running": bool(stats.get("running")), "target_rate": info["rate"],
                  "acknowledged": stats.get("acknowledged", 0), "rate": stats.get("rate"),
                  "p99_ms": (stats.get("latency_ms") or {}).get("p99"), "max_gap_ms": stats.get("max_gap_ms"),
                  "retries": stats.get("retries", 0)}
        if stats.get("state") == "retrying":
            result["last_error"] = stats.get("last_error")
        if info.get("last_report"):
            result["verified_ok"] = info["last_report"]["ok"]
        return result
