"""The continuous oplog capture process: ``python -m labkit.backup.capture``.

Started by ``Backup.enable()`` as a process the workspace owns (``labkit
down`` stops it, ``labkit up`` restarts it). It tails Main's oplog with a
tailable await cursor from the last captured entry and appends every batch to
the archive as an fsynced, checksummed block. Main's connection string comes
from the environment (LABKIT_MAIN_URI), never from argv; after a connection
failure it is re-read from the workspace, because ``labkit up`` may have
restarted Main on another port.

If Main's oplog no longer holds the entry after the last captured one (it
rolled over while capture was down), the capture records a *gap* and carries
on from the oldest entry still there: restores into the gap are refused
rather than silently wrong.

Progress goes to ``capture.json`` (last captured entry, the cluster time up to
which the capture is known complete, a heartbeat), read by restores that must
wait for the capture to catch up and by ``labkit status``.
"""
from __future__ import annotations

import os
import signal
import sys
import time

from pymongo import CursorType, MongoClient
from pymongo.errors import PyMongoError

from labkit.backup.archive import Archive, OplogWriter
from labkit.backup.timespec import ts_from_key, ts_key, ts_str
from labkit.deploy import auth_failed, close_client, cluster_time, connect, driver_error, impostor_message
from labkit.files import now_iso
from labkit.workspace import FolderGuard, current_uri, state_stamp

HEARTBEAT_SECONDS = 0.5
AWAIT_MS = 200  # an empty poll at least this often: restores waiting for the capture see progress soon
RETRY_SECONDS = 1.0
CHECK_WORKSPACE_SECONDS = 1.0  # while tailing: has `labkit up` moved Main? (the state file changed)


class Capture:
    def __init__(self, archive: Archive, uri: str, workspace_path: str | None = None):
        self.archive = archive
        self.uri = uri
        self.workspace_path = workspace_path
        self.stopping = False
        self.state = archive.capture_state()
        self.writer = OplogWriter(archive.oplog_dir)
        # Resume after everything known captured: the last entry, or the cluster time of an empty poll.
        known = [Archive.key(self.state, "start"), self.writer.last_key, Archive.key(self.state, "synced_to")]
        self.position = max(key for key in known if key is not None)
        if self.writer.last_key is None:
            self.writer.last_key = Archive.key(self.state, "start")
        self.state.update(pid=os.getpid(), error=None, tailing=False, started=now_iso())
        self._last_save = 0.0
        self._stamp = state_stamp(workspace_path) if workspace_path else None
        self._checked = time.monotonic()
        self._guard = FolderGuard(workspace_path) if workspace_path else None
        self._unsafe: str | None = None  # why the workspace may not be used now (see _workspace_unsafe)

    def log(self, message: str) -> None:
        print(f"{now_iso()} capture: {message}", flush=True)

    def run(self) -> None:
        self.log(f"capturing Main's oplog after {ts_str(ts_from_key(self.position))}")
        self.save(force=True)
        failures = 0
        while not self.stopping:
            if self._workspace_unsafe():
                time.sleep(RETRY_SECONDS)
                continue
            client = connect(self.uri, "capture")
            try:
                self.tail(client)
                failures = 0
            except Exception as exc:
                if not isinstance(exc, PyMongoError) and not auth_failed(exc):
                    # the archive cannot be written (disk full, permissions): stop, say why
                    self.state.update(tailing=False, error=f"capture stopped: {exc}", pid=None)
                    self.save(force=True)
                    raise
                failures += 1
                self.state["tailing"] = False
                if auth_failed(exc):  # not the learner's Main: copy nothing from it
                    self.state["error"] = f"refused: {impostor_message('Main', self.uri)}"
                else:
                    self.state["error"] = f"cannot read Main's oplog: {driver_error(exc, self.uri)[:200]}"
                self.save(force=True)
                if failures == 1 or failures % 30 == 0:
                    self.log(f"{self.state['error']}; retrying")
                time.sleep(RETRY_SECONDS)
                if self.workspace_path:
                    self.uri = current_uri(self.workspace_path) or self.uri
                    self._stamp = state_stamp(self.workspace_path)
            finally:
                close_client(client)
        self.writer.close()
        self.state["pid"] = None
        self.save(force=True)
        self.log("stopped")

    def tail(self, client: MongoClient) -> None:
        oplog = client.local["oplog.rs"]
        first = oplog.find_one({}, sort=[("$natural", 1)], projection={"ts": 1})
        if first is not None and ts_key(first["ts"]) > self.position:
            # The entry after our last one is gone: say so, and go on from what is left.
            gap = {"from": ts_str(ts_from_key(self.position)), "to": ts_str(first["ts"]), "detected": now_iso()}
            self.state.setdefault("gaps", []).append(gap)
            self.log(f"GAP: Main's oplog no longer holds the operations after {gap['from']} "
                     f"(its oldest entry is {gap['to']}); restores into that range are impossible")
            self.position = ts_key(first["ts"]) - 1  # so that `$gt position` starts at the oldest entry left
        self.state.update(error=None, tailing=True)
        self.save(force=True)
        cursor = oplog.find_raw_batches({"ts": {"$gt": ts_from_key(self.position)}},
                                        cursor_type=CursorType.TAILABLE_AWAIT).max_await_time_ms(AWAIT_MS)
        try:
            pending_synced = cluster_time(client)
            while not self.stopping:
                if self._main_moved():
                    return  # reopen on the server the workspace now names as Main
                try:
                    payload = next(cursor)
                except StopIteration:
                    if not cursor.alive:
                        return  # the server ended the cursor; reopen from the last captured entry
                    # An empty poll: everything up to the cluster time read before it is captured.
                    self.position = max(self.position, ts_key(pending_synced))
                    self.state["synced_to"] = ts_str(ts_from_key(self.position))
                    self.save(force=True)
                    pending_synced = cluster_time(client)
                    continue
                if not payload:
                    continue
                if self._workspace_unsafe():  # checked before every write: the folder could have been swapped
                    return
                count, _first, last_key = self.writer.append(payload)
                self.position = max(self.position, last_key)
                self.state["last"] = ts_str(ts_from_key(last_key))
                self.state["last_wall"] = ts_from_key(last_key).as_datetime().isoformat().replace("+00:00", "Z")
                self.state["captured"] = self.state.get("captured", 0) + count
                self.save()
        finally:
            cursor.close()

    def _workspace_unsafe(self) -> bool:
        """Another user could have swapped the workspace folder (see workspace.FolderGuard): then copy nothing
        into it and follow nothing it says, until it is safe again; say so once, in the log."""
        problem = self._guard.problem() if self._guard else None
        if problem != self._unsafe:
            self._unsafe = problem
            self.log(f"refused: {problem}; copying nothing into it until that is fixed" if problem else
                     "the workspace folder is safe again: capturing")
        return problem is not None

    def _main_moved(self) -> bool:
        """The workspace's state changed and names another Main URI, or the workspace may no longer be used
        (checked at most once a second): either way, leave the cursor."""
        if not self.workspace_path or time.monotonic() - self._checked < CHECK_WORKSPACE_SECONDS:
            return False
        self._checked = time.monotonic()
        if self._workspace_unsafe():
            return True
        stamp = state_stamp(self.workspace_path)
        if stamp == self._stamp:
            return False
        uri = current_uri(self.workspace_path)
        if uri is None:
            return False
        self._stamp = stamp
        if uri == self.uri:
            return False
        self.log("the workspace names a new Main: reconnecting")
        self.uri = uri
        return True

    def save(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last_save < HEARTBEAT_SECONDS:
            return
        if self._workspace_unsafe():
            return
        self._last_save = now
        self.state["heartbeat"] = now_iso()
        self.state["last"] = ts_str(ts_from_key(self.writer.last_key))
        self.archive.save_capture_state(self.state, fsync=False)


def main() -> int:
    workspace = os.environ.get("LABKIT_WORKSPACE")
    uri = os.environ.get("LABKIT_MAIN_URI")
    if not workspace or not uri:
        print("labkit.backup.capture is started by labkit (backup enable); LABKIT_WORKSPACE and LABKIT_MAIN_URI "
              "must be set.", file=sys.stderr)
        return 2
    from pathlib import Path

    capture = Capture(Archive(Path(workspace) / "backup"), uri, workspace)

    def stop(signum, frame):
        capture.stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    capture.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
