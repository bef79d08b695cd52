"""The continuous-insert application: a live workload that proves it never stopped.

It inserts one small document at a steady rate into Main's ``test.customers``
(by default) until stopped, and keeps count of everything: acknowledged
inserts, retries, latencies, the longest pause. Each document carries the run
id, a sequence number ``seq`` (1, 2, 3, ... per run) and the client time, and
its ``_id`` is derived from (run, seq), so a retried insert can never create
a duplicate. It never carries ``firstname``: the lab's recovery query
``{"firstname": {"$exists": true}}`` must not select it.

Run it in the foreground (``run_foreground``, ``labkit insert``) or as the
workspace's background process (``Workload(ws).start()``, ``labkit workload
start``), which is ``python -m labkit.workload.loop`` with Main's real URI in its
environment. On stop, the report verifies the run against the database:
every acknowledged insert present, seqs contiguous, nothing duplicated.
"""
from __future__ import annotations

import argparse
import datetime as dt
import math
import os
import secrets
import signal
import sys
import threading
import time
from pathlib import Path

from pymongo import MongoClient
from pymongo.errors import ConnectionFailure, DuplicateKeyError, OperationFailure, PyMongoError

from labkit import deploy
from labkit.deploy import driver_error, unreachable
from labkit.errors import ConfigError, LabkitError, WorkloadError
from labkit.files import write_json
from labkit.uris import mask_uri, validate_uri
from labkit.workload.stats import RunStats, WorkloadReport, build_report, format_status
from labkit.workspace import FolderGuard, current_uri, state_stamp

DEFAULT_RATE = 10.0
MAX_RATE = 100_000.0
CATCH_UP_LIMIT_S = 1.0  # further behind schedule than this: skip the missed slots instead of bursting
BACKOFF_FIRST_S, BACKOFF_CAP_S = 0.05, 1.0
STATS_EVERY_S = 0.5
REREAD_URI_EVERY_S = 1.0  # owned by a workspace: when its state changed (or after an error), ask where Main is now
CONNECT_CHECK_MS = 5_000
# Server error codes meaning "restarting, stepping down or briefly unable": retry.
TRANSIENT_CODES = {6, 7, 89, 91, 189, 262, 9001, 10107, 11600, 11602, 13435, 13436, 50, 64}


def new_run_id() -> str:
    return time.strftime("%Y%m%dT%H%M%S") + "-" + secrets.token_hex(3)


def document_id(run_id: str, seq: int) -> str:
    """Deterministic: the same (run, seq) always has the same _id; ids of a run sort by seq."""
    return f"{run_id}-{seq:09d}"


def is_transient(exc: BaseException) -> bool:
    """Network trouble, a restarting or stepping-down server, timeouts: worth retrying as is."""
    if not isinstance(exc, PyMongoError):
        return False
    if isinstance(exc, ConnectionFailure) or getattr(exc, "timeout", False):
        return True
    if exc.has_error_label("RetryableWriteError"):
        return True
    return isinstance(exc, OperationFailure) and exc.code in TRANSIENT_CODES


# --- input checks ---------------------------------------------------------------------------


def validate_rate(rate) -> float:
    try:
        value = float(rate)
    except (TypeError, ValueError):
        raise ConfigError(f"The rate {rate!r} is not a number: give inserts per second, such as 10.") from None
    if not math.isfinite(value) or value <= 0 or value > MAX_RATE:
        raise ConfigError(f"The rate must be more than 0 and at most {MAX_RATE:g} inserts per second, not {rate!r}.")
    return value


def validate_duration(duration) -> float | None:
    if duration is None:
        return None
    try:
        value = float(duration)
    except (TypeError, ValueError):
        raise ConfigError(f"The duration {duration!r} is not a number of seconds.") from None
    if not math.isfinite(value) or value <= 0:
        raise ConfigError(f"The duration must be a positive number of seconds, not {duration!r}. Leave it out to run until stopped.")
    return value


def validate_namespace(db: str, collection: str) -> None:
    if not db or any(c in db for c in '/\\. "$\0') or len(db) > 63:
        raise ConfigError(f"{db!r} is not a valid database name (no spaces or / \\ . \" $ characters, at most 63).")
    if not collection or "$" in collection or "\0" in collection or collection.startswith("system."):
        raise ConfigError(f"{collection!r} is not a valid collection name (not empty, no $, not system.*).")


def connect(uri: str, **overrides) -> MongoClient:
    """The application's client (see deploy.PURPOSES["workload"])."""
    return deploy.connect(uri, "workload", **overrides)


def check_reachable(uri: str, label: str = "the server") -> None:
    """Fail fast with a clear message when nothing answers at ``uri``."""
    client = connect(uri, serverSelectionTimeoutMS=CONNECT_CHECK_MS, connectTimeoutMS=CONNECT_CHECK_MS)
    try:
        client.admin.command("ping")
    except Exception as exc:  # a PyMongoError, or what the driver raises on a malformed login reply
        if not isinstance(exc, PyMongoError) and not deploy.auth_failed(exc):
            raise
        raise unreachable(label, uri, exc, CONNECT_CHECK_MS // 1000,
                          "Check the host and port (is the server running? labkit up starts the lab's servers).") from None
    finally:
        deploy.close_client(client)


# --- the insert loop ------------------------------------------------------------------------


class InsertLoop:
    """Inserts at ``rate`` per second on an absolute schedule (slot n at t0 + n/rate) until stopped."""

    def __init__(self, uri: str, db: str, collection: str, rate: float, run_id: str | None = None,
                 stats_path: Path | None = None, workspace_path: str | None = None,
                 status_every: float | None = None, say=None):
        self.uri = uri
        self.db, self.collection, self.rate = db, collection, rate
        self.run_id = run_id or new_run_id()
        self.stats_path = Path(stats_path) if stats_path else None
        self.workspace_path = workspace_path
        self.status_every = status_every
        self.say = say or (lambda line: None)
        self.stats = RunStats(self.run_id, db, collection, rate, mask_uri(uri))
        self.client = connect(uri)
        self._uri_checked = time.monotonic()
        self._stamp = state_stamp(workspace_path) if workspace_path else None
        self._refused = False  # the server at our URI refused our login (an impostor on Main's port)
        self._guard = FolderGuard(workspace_path) if workspace_path else None
        self._unsafe: str | None = None  # why the workspace folder may not be used now (see _workspace_unsafe)
        self._done = threading.Event()  # tells the stats writer that the run is over

    @property
    def coll(self):
        return self.client[self.db][self.collection]

    def run(self, stop: threading.Event, duration: float | None = None) -> dict:
        """Insert until ``stop`` is set (or ``duration`` s passed); return the final stats snapshot."""
        reporter = threading.Thread(target=self._report, name="workload-stats", daemon=True)
        self._write(self.stats.snapshot(running=True))  # the file exists as soon as the run does
        reporter.start()
        try:
            self._loop(stop, duration)
        finally:
            self._done.set()
            reporter.join(timeout=5)
            final = self.stats.snapshot(running=False)
            self._write(final)
            deploy.close_client(self.client)
        return final

    def _loop(self, stop: threading.Event, duration: float | None) -> None:
        interval = 1.0 / self.rate
        t0 = time.monotonic()
        end = t0 + duration if duration else None
        slot = 0  # slots since t0 (inserted or skipped)
        seq = 0
        while not stop.is_set():
            due = t0 + slot * interval
            if end is not None and due >= end:
                return
            now = time.monotonic()
            if due > now:
                if stop.wait(due - now):
                    return
            elif now - due > CATCH_UP_LIMIT_S:
                # After an outage or a stall, resume the steady rate instead of bursting to catch up.
                missed = int((now - due) / interval)
                self.stats.skipped(missed)
                slot += missed
            self._follow_workspace()
            seq += 1
            if not self._insert(seq, stop):
                return
            slot += 1

    def _insert(self, seq: int, stop: threading.Event) -> bool:
        """Insert document ``seq``, retrying until acknowledged (True) or stopped (False)."""
        doc = {"_id": document_id(self.run_id, seq), "seq": seq, "run": self.run_id,
               "client_time": dt.datetime.now(dt.timezone.utc)}
        started = time.perf_counter()
        backoff = BACKOFF_FIRST_S
        attempts = 0
        while True:
            attempts += 1
            try:
                self.coll.insert_one(doc)
                break
            except DuplicateKeyError:
                if attempts > 1:
                    break  # an earlier attempt landed but its answer was lost: count it once
                raise WorkloadError(f"A document with _id {doc['_id']!r} already exists: the run id "
                                    f"{self.run_id!r} was used before. Start a new run.") from None
            except Exception as exc:  # a PyMongoError, or what the driver raises on a malformed login reply
                if not isinstance(exc, PyMongoError) and not deploy.auth_failed(exc):
                    raise
                refused = deploy.auth_failed(exc) and self.workspace_path is not None
                transient = refused or is_transient(exc)
                message = (deploy.impostor_message("Main", self.uri) if refused else driver_error(exc, self.uri))[:300]
                if refused and not self._refused:
                    self.say(f"Refused: {message}.")
                self._refused = refused
                if not transient and self.stats.acknowledged == 0:
                    raise WorkloadError(f"The server refused the first insert into {self.db}.{self.collection}: {message}") from None
                self.stats.error(message, transient)
                if transient:
                    self._follow_workspace(after_error=True)
            if stop.wait(backoff):
                self.stats.in_doubt_seq = seq  # sent at least once, never acknowledged
                return False
            backoff = min(backoff * 2, BACKOFF_CAP_S)
        self.stats.acknowledged_insert(time.perf_counter() - started)
        return True

    def _follow_workspace(self, after_error: bool = False) -> None:
        """`labkit up` may have restarted Main on another port: reconnect there.

        Checked when the workspace's state changed (at most once a second), not only after an error:
        the client never keeps writing to a port the workspace no longer names as Main's.
        """
        if not self.workspace_path or time.monotonic() - self._uri_checked < REREAD_URI_EVERY_S:
            return
        self._uri_checked = time.monotonic()
        if self._workspace_unsafe():
            return
        stamp = state_stamp(self.workspace_path)
        if stamp == self._stamp and not after_error:
            return
        uri = current_uri(self.workspace_path)
        if uri is None:
            return  # mid-restart: ask again later (the stamp is kept, so the next change is seen)
        self._stamp = stamp
        if uri != self.uri:
            self.say(f"Main moved to {mask_uri(uri)}: reconnecting.")
            deploy.close_client(self.client)
            self.uri = uri
            self.client = connect(uri)

    def _report(self) -> None:
        last_line = time.monotonic()
        while not self._done.wait(STATS_EVERY_S):
            snapshot = self.stats.snapshot(running=True)
            self._write(snapshot)
            if self.status_every and time.monotonic() - last_line >= self.status_every:
                last_line = time.monotonic()
                self.say(format_status(snapshot))

    def _workspace_unsafe(self) -> bool:
        """Another user could have swapped the workspace folder (see workspace.FolderGuard): then neither
        follow its state nor write in it, and say so once; the Main we are logged in to stays ours."""
        problem = self._guard.problem() if self._guard else None
        if problem != self._unsafe:
            self._unsafe = problem
            self.say(f"Refused: {problem}. Not following the workspace or writing in it until that is fixed "
                     "(the inserts go on into the Main already logged in to)." if problem else
                     "The workspace folder is safe again: following it and writing statistics.")
        return problem is not None

    def _write(self, snapshot: dict) -> None:
        if self.stats_path and not self._workspace_unsafe():
            try:
                write_json(self.stats_path, snapshot)
            except OSError as exc:  # a full disk must not stop the application itself
                self.say(f"Cannot write the stats file {self.stats_path}: {exc}")


# --- foreground run -------------------------------------------------------------------------


def run_foreground(uri: str, db: str = "test", collection: str = "customers", rate: float = DEFAULT_RATE,
                   duration: float | None = None, stats_path: str | os.PathLike | None = None,
                   run_id: str | None = None, status_every: float | None = 5.0, say=None,
                   stop: threading.Event | None = None, verify_at_end: bool = True,
                   workspace_path: str | None = None) -> WorkloadReport:
    """Run the application until SIGINT/SIGTERM, ``stop`` or ``duration``; return the final report.

    With ``workspace_path`` (the workspace's own process) it follows Main when `labkit up`
    restarts it elsewhere; ``uri`` must then be that workspace's Main.
    """
    uri = validate_uri(uri)
    rate = validate_rate(rate)
    duration = validate_duration(duration)
    validate_namespace(db, collection)
    if stats_path:
        stats_path = Path(stats_path).expanduser().absolute()
        if not stats_path.parent.is_dir():
            raise ConfigError(f"Cannot write the stats file {stats_path}: the folder {stats_path.parent} does not exist.")
    check_reachable(uri)
    stop = stop or threading.Event()
    loop = InsertLoop(uri, db, collection, rate, run_id=run_id, stats_path=stats_path,
                      workspace_path=workspace_path, status_every=status_every, say=say)
    previous = {}
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGINT, signal.SIGTERM):
            previous[signum] = signal.signal(signum, lambda *_: stop.set())
    try:
        final = loop.run(stop, duration)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    if not verify_at_end:
        return build_report(final)
    # Verifying may scan a big collection: no socket timeout.
    client = connect(loop.uri, serverSelectionTimeoutMS=10_000, connectTimeoutMS=10_000, socketTimeoutMS=None)
    try:
        return build_report(final, client[db][collection])
    finally:
        deploy.close_client(client)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the background process; Main's real URI comes from the environment."""
    parser = argparse.ArgumentParser(prog="python -m labkit.workload.loop", description=__doc__.split("\n")[0])
    parser.add_argument("--db", default="test")
    parser.add_argument("--collection", default="customers")
    parser.add_argument("--rate", type=float, default=DEFAULT_RATE)
    parser.add_argument("--stats", required=True)
    parser.add_argument("--run-id")
    parser.add_argument("--uri-env", default="LABKIT_MAIN_URI", help="environment variable holding the URI")
    parser.add_argument("--labkit-process", help="marker identifying the process; ignored")
    args = parser.parse_args(argv)

    def say(line: str) -> None:
        print(line, flush=True)
    try:
        uri = os.environ.get(args.uri_env)
        if not uri:
            raise ConfigError(f"The environment variable {args.uri_env} with the server's URI is not set.")
        report = run_foreground(uri, args.db, args.collection, args.rate, stats_path=args.stats, run_id=args.run_id,
                                status_every=10.0, say=say, verify_at_end=False,
                                workspace_path=os.environ.get("LABKIT_WORKSPACE"))
    except LabkitError as exc:
        say(f"Error: {exc}")
        return 1
    say(f"Stopped: run {report.run_id}, {report.acknowledged} acknowledged insert(s). "
        "labkit workload stop verifies them against the database.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
