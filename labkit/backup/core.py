"""Continuous backup of Main and point-in-time restore, as Atlas Cloud Backup does it.

- **Snapshots** (``snapshot``): a copy of every user namespace on Main taken
  while the application writes, ``mongodump --oplog`` style (the embedded
  server ignores ``atClusterTime``): note Main's cluster time before, copy
  every collection (documents, indexes, options), note it after. Replaying the
  captured oplog between the two makes the copy consistent as of *after*.
- **Capture** (``enable``): a process owned by the workspace tails Main's
  oplog into the archive (``capture``, ``archive``).
- **Marks** (``mark``): "write down the time": wall clock plus Main's cluster time.
- **Window** (``window``): what can be restored, from the earliest snapshot's
  consistent point to the last captured operation, minus gaps.
- **Restore** (``restore``): newest snapshot consistent at or before T, loaded
  into the target, then every captured operation after its *before* point up
  to T replayed (``oplog``), for the chosen namespaces only.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import os
import re
import shutil
import sys
import time
import zlib
from dataclasses import asdict, dataclass, field
from pathlib import Path

from bson import Timestamp
from bson.raw_bson import RawBSONDocument
from pymongo import MongoClient
from pymongo.errors import PyMongoError

from labkit import procs
from labkit.backup.archive import Archive, dump_path, iter_dump, metadata_json, read_entries, read_metadata, \
    verify_range
from labkit.backup.oplog import OplogApplier
from labkit.backup.timespec import RestorePoint, parse_time, show_time, ts_from_key, ts_key, ts_parse, ts_str
from labkit.deploy import LABELS, SYSTEM_DATABASES, cluster_time, connect, driver_error
from labkit.errors import BackupError, LabkitError
from labkit.files import mkdir_private, now_iso, open_private, write_json
from labkit.progress import progress_bar

CAPTURE_PROCESS = "capture"
CAPTURE_STOP_RANK = 90  # after the workload (10), so the capture sees its last writes; before the servers
SNAPSHOT_MARGIN_SECONDS = 1  # replay starts a little before the dump: harmless (idempotent), covers in-flight writes
CATCH_UP_WAIT_SECONDS = 10.0
INSERT_BATCH_DOCS = 5000
INSERT_BATCH_BYTES = 8 * 1024 * 1024
REPLAY_CHUNK = 5000  # entries handed to the applier at a time (progress bar steps)
# The applier folds every operation on one document within a batch into one write, so big batches
# save round trips and server work (a document inserted, updated and deleted in one batch costs nothing).
REPLAY_BATCH = 25_000
KEPT_RESTORES = 50  # restore records kept in the workspace state
RESTORE_LOCK = "restore.lock"  # in the archive folder: held (flock) for the whole of a restore
_MARK_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")
_NAMESPACE = re.compile(r"^[^.\s$/\\\"]+\.[^\s$][^\s]*$")


def _utc(moment: dt.datetime | Timestamp) -> str:
    if isinstance(moment, Timestamp):
        moment = moment.as_datetime()
    return moment.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z")


def _local(moment: dt.datetime | Timestamp) -> str:
    if isinstance(moment, Timestamp):
        moment = moment.as_datetime()
    return moment.astimezone().isoformat()


@dataclass
class RestoreReport:
    """What a restore did. ``status`` is "complete" or "failed"; a failed run lists ``incomplete``."""

    target: str
    point: dict
    point_description: str
    snapshot: dict
    namespaces: dict = field(default_factory=dict)  # target ns -> {"source", "documents", "operations"}
    operations_applied: int = 0
    duration_seconds: float = 0.0
    status: str = "running"
    incomplete: list = field(default_factory=list)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == "complete"

    def as_dict(self) -> dict:
        return asdict(self)

    def lines(self) -> list[str]:
        out = [f"Restore to {self.target}: {self.status.upper()}",
               f"  restored to: {self.point_description}",
               f"  T in UTC:    {self.point['utc']}   (local: {self.point['local']})",
               f"  snapshot:    {self.snapshot['id']} (consistent at {self.snapshot['consistent']})"]
        for ns, info in sorted(self.namespaces.items()):
            source = f" (from {info['source']})" if info["source"] != ns else ""
            docs = "?" if info.get("documents") is None else info["documents"]
            out.append(f"  {ns}{source}: {docs} document(s), {info.get('operations', 0)} operation(s) replayed")
        out.append(f"  operations applied: {self.operations_applied} in {self.duration_seconds:.2f} s")
        if self.incomplete:
            out.append(f"  INCOMPLETE on {self.target}: {', '.join(self.incomplete)}")
        if self.error:
            out.append(f"  error: {self.error}")
        return out

    def __str__(self) -> str:
        return "\n".join(self.lines())


class RestoreFailed(BackupError):
    """A restore that started changing the target and could not finish; ``report`` says what is incomplete."""

    def __init__(self, message: str, report: RestoreReport):
        super().__init__(message)
        self.report = report


class Backup:
    """The workspace's backup: ``Backup(ws)``."""

    def __init__(self, ws):
        self.ws = ws
        self.archive = Archive(Path(ws.path) / "backup")

    # --- capture -------------------------------------------------------------------------

    def capture_running(self) -> bool:
        return self.ws.process_alive(CAPTURE_PROCESS)

    def enable(self, timeout: float = 30.0) -> dict:
        """Start the continuous oplog capture (once; again after it died). Returns the capture state."""
        self.ws.require_up()
        if self.capture_running():
            return self.archive.capture_state()
        if not self.archive.exists():
            start = self._main_cluster_time()
            self.archive.create(ts_key(start))
        pid = self.ws.start_process(CAPTURE_PROCESS, [sys.executable, "-m", "labkit.backup.capture"],
                                    stop_rank=CAPTURE_STOP_RANK, restart_on_up=True)
        with self.ws.edit() as state:
            state.setdefault("backup", {}).setdefault("enabled", now_iso())
        self._wait_for_capture(pid, timeout)
        return self.archive.capture_state()

    def _wait_for_capture(self, pid: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        record = self.ws.process_record(CAPTURE_PROCESS) or {}
        while time.monotonic() < deadline:
            state = self.archive.capture_state()
            if state.get("pid") == pid and state.get("tailing"):
                return
            if not procs.alive(pid, record.get("marker")):
                log = procs.tail(Path(record.get("log", "")))
                raise BackupError(f"The oplog capture process stopped right after starting. Its log:\n{log}")
            time.sleep(0.05)
        error = self.archive.capture_state().get("error")
        raise BackupError(f"The oplog capture did not start reading Main's oplog within {timeout:.0f} s"
                          + (f": {error}" if error else "") + ". It keeps retrying; check labkit status.")

    def _main_cluster_time(self) -> Timestamp:
        main = self.ws.main
        try:
            ts = cluster_time(main.client)
        except PyMongoError as exc:
            raise BackupError(f"Cannot reach Main ({main.display_uri}): {driver_error(exc, main.uri)}. "
                              "Is it running? labkit up restarts it.") from None
        if ts is None:
            raise BackupError("Main has no oplog: point-in-time restore needs a replica set member.")
        return ts

    def _main_now(self) -> Timestamp | None:
        """Main's cluster time, or None when it cannot be reached quickly (status and checks go on)."""
        try:
            client = connect(self.ws.main.uri, "status")
        except LabkitError:
            return None
        try:
            return cluster_time(client)
        except PyMongoError:
            return None
        finally:
            client.close()

    # --- snapshots -------------------------------------------------------------------------

    def snapshot(self, progress: bool = True) -> dict:
        """Copy every user namespace of Main into the archive; enables backup first if needed."""
        self.enable()
        main = self.ws.main
        capture = self.archive.capture_state()
        begun = self._main_cluster_time()
        # Replay from a little before the dump, but never from before what the capture holds
        # without holes: its start, or the end of the latest gap.
        floor = max([Archive.key(capture, "start")] + [g_to - 1 for _, g_to in self.archive.gaps(capture)])
        before = max(ts_from_key(floor), Timestamp(max(begun.time - SNAPSHOT_MARGIN_SECONDS, 0), 0))
        started = now_iso()
        snap_id = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S.%fZ")
        folder = self.archive.snapshots_dir / snap_id
        partial = self.archive.snapshots_dir / f".{snap_id}.partial"
        partial.mkdir(parents=True, mode=0o700)
        namespaces = {}
        try:
            collections = self._list_collections(main.client)
            bar = progress_bar("snapshot", len(collections), "coll", enabled=progress)
            for ns, kind, options in collections:
                namespaces[ns] = self._dump_collection(main.client, partial, ns, kind, options)
                bar.update(1)
            bar.close()
            after = self._main_cluster_time()
            meta = {"format": 1, "id": snap_id, "started": started, "finished": now_iso(),
                    "before": ts_str(before), "after": ts_str(after), "consistent_utc": _utc(after),
                    "namespaces": namespaces, "main": main.display_uri}
            write_json(partial / "meta.json", meta, indent=1, fsync=True)
            os.rename(partial, folder)
        except PyMongoError as exc:
            shutil.rmtree(partial, ignore_errors=True)
            raise BackupError(f"The snapshot failed while reading Main ({main.display_uri}): "
                              f"{driver_error(exc, main.uri)}. Nothing was kept; try again.") from None
        except BaseException:
            shutil.rmtree(partial, ignore_errors=True)
            raise
        self.ws.log_event("snapshot", name=meta["id"])
        return self._describe_snapshot({**meta, "path": str(folder)})

    @staticmethod
    def _list_collections(client: MongoClient) -> list[tuple[str, str, dict]]:
        found = []
        for db_name in sorted(client.list_database_names()):
            if db_name in SYSTEM_DATABASES:
                continue
            for info in client[db_name].list_collections():
                name = info["name"]
                if name.startswith("system."):
                    continue
                found.append((f"{db_name}.{name}", info.get("type", "collection"), dict(info.get("options", {}))))
        # Views last: they may be defined on collections restored before them.
        return sorted(found, key=lambda item: (item[1] == "view", item[0]))

    @staticmethod
    def _dump_collection(client: MongoClient, folder: Path, ns: str, kind: str, options: dict) -> dict:
        db_name, coll_name = ns.split(".", 1)
        relative = dump_path(ns)
        mkdir_private((folder / relative).parent)
        coll = client[db_name][coll_name]
        indexes = [] if kind == "view" else [dict(spec) for spec in coll.list_indexes()]
        for spec in indexes:
            spec.pop("ns", None)
        count = size = crc = 0
        with open_private(folder / f"{relative}.bson", "wb") as out:
            if kind != "view":
                for batch in coll.find_raw_batches({}):
                    out.write(batch)
                    crc = zlib.crc32(batch, crc)
                    size += len(batch)
                    count += _count_documents(batch)
            out.flush()
            os.fsync(out.fileno())
        with open_private(folder / f"{relative}.metadata.json", "w") as meta:
            meta.write(metadata_json(options, indexes, ns, kind))
        return {"file": relative, "type": kind, "documents": count, "bytes": size, "crc32": crc}

    def snapshots(self) -> list[dict]:
        """Snapshots in the archive, oldest first, with their times in UTC and local time."""
        return [self._describe_snapshot(meta) for meta in self.archive.snapshots()]

    @staticmethod
    def _describe_snapshot(meta: dict) -> dict:
        after = ts_parse(meta["after"])
        return {"id": meta["id"], "consistent": show_time(after), "consistent_utc": _utc(after),
                "consistent_local": _local(after), "before": meta["before"], "after": meta["after"],
                "namespaces": len(meta["namespaces"]),
                "documents": sum(n["documents"] for n in meta["namespaces"].values()), "path": meta.get("path")}

    # --- marks ---------------------------------------------------------------------------

    def mark(self, name: str) -> dict:
        """Note the time: wall clock and Main's cluster time (exact to the operation), under ``name``."""
        if not isinstance(name, str) or not _MARK_NAME.match(name):
            raise BackupError(f"{name!r} is not a usable mark name: use letters, digits, '.', '_' or '-' "
                              "(up to 64), e.g. before-delete.")
        self.ws.require_up()
        ts = self._main_cluster_time()
        wall = dt.datetime.now(dt.timezone.utc)
        record = {"name": name, "ts": ts_str(ts), "wall": wall.isoformat(timespec="milliseconds").replace("+00:00", "Z")}
        with self.ws.edit() as state:
            state.setdefault("marks", {})[name] = record
        self.ws.log_event("mark", name=name)
        return self._describe_mark(record)

    def marks(self) -> list[dict]:
        marks = self.ws.read().get("marks", {})
        return sorted((self._describe_mark(m) for m in marks.values()), key=lambda m: ts_key(ts_parse(m["ts"])))

    @staticmethod
    def _describe_mark(record: dict) -> dict:
        wall = dt.datetime.fromisoformat(record["wall"].replace("Z", "+00:00"))
        return {**record, "utc": _utc(wall), "local": _local(wall), "shown": show_time(wall, precise=True),
                "restore_with": f"mark:{record['name']}"}

    # --- restorable window ---------------------------------------------------------------

    def _covered_key(self, state: dict) -> int:
        """Up to where the capture is known complete: its last entry, or the cluster time of an empty poll."""
        keys = [Archive.key(state, "last"), Archive.key(state, "synced_to"), Archive.key(state, "start")]
        return max(k for k in keys if k is not None)

    def _ranges(self, state: dict) -> list[tuple[dict, int]]:
        """(snapshot meta, last restorable key from it, ignoring how far capture got)."""
        gaps = self.archive.gaps(state)
        out = []
        for meta in self.archive.snapshots():
            before, after = ts_key(ts_parse(meta["before"])), ts_key(ts_parse(meta["after"]))
            # A gap matters when operations it lost (strictly between its ends) come after `before`.
            end = min([g_from for g_from, g_to in gaps if g_to - 1 > before], default=1 << 64)
            if end >= after:
                out.append((meta, end))
        return out

    def window(self) -> list[dict]:
        """Restorable ranges (as ``pbm list`` shows them), each with UTC and local times."""
        state = self.archive.capture_state()
        covered = self._covered_key(state)
        spans = []
        for meta, end in self._ranges(state):
            start, end = ts_key(ts_parse(meta["after"])), min(end, covered)
            if end < start:
                continue
            if spans and start <= spans[-1][1]:
                spans[-1][1] = max(spans[-1][1], end)
            else:
                spans.append([start, end])
        return [{"from": ts_str(ts_from_key(a)), "to": ts_str(ts_from_key(b)),
                 "from_utc": _utc(ts_from_key(a)), "to_utc": _utc(ts_from_key(b)),
                 "from_local": _local(ts_from_key(a)), "to_local": _local(ts_from_key(b)),
                 "shown": f"{show_time(ts_from_key(a))} - {show_time(ts_from_key(b))}"} for a, b in spans]

    def gaps(self) -> list[dict]:
        return [{"after": ts_str(ts_from_key(a)), "before": ts_str(ts_from_key(b)),
                 "shown": f"{show_time(ts_from_key(a))} - {show_time(ts_from_key(b))}"}
                for a, b in self.archive.gaps()]

    # --- restore -------------------------------------------------------------------------

    def restore(self, to, namespaces=None, target: str = "temp", rename=None, *,
                wait: float = CATCH_UP_WAIT_SECONDS, progress: bool = True) -> RestoreReport:
        """Rebuild the chosen namespaces on ``target`` as they were at ``to``; see the module doc.

        One restore at a time per workspace: another one (any thread or process) gets a BackupError.
        """
        began = time.monotonic()
        state = self.archive.capture_state()  # raises "backup is not enabled"
        # The idle stop never stops a lab in the middle of a restore (the workspace's busy lock).
        with self._restore_lock(), self.ws.busy():
            return self._restore(began, state, to, namespaces, target, rename, wait, progress)

    @contextlib.contextmanager
    def _restore_lock(self):
        path = self.archive.root / RESTORE_LOCK
        with open(path, "a+") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                lock.seek(0)
                holder = lock.read().strip() or "another process"
                raise BackupError(f"A restore is already running on this workspace ({holder}). Wait for it to "
                                  "finish, then run yours: two restores at once would mix their results on the "
                                  "target.") from None
            try:
                lock.seek(0)
                lock.truncate()
                lock.write(f"pid {os.getpid()}, started {now_iso()}")
                lock.flush()
                yield
            finally:
                lock.truncate(0)
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _restore(self, began: float, state: dict, to, namespaces, target: str, rename, wait: float,
                 progress: bool) -> RestoreReport:
        point = to if isinstance(to, RestorePoint) else parse_time(_time_text(to), self.ws.read().get("marks", {}))
        bound = ts_key(point.bound)
        meta = self._pick_snapshot(state, point)
        before = ts_key(ts_parse(meta["before"]))
        renames = _parse_renames(rename)
        # Before the namespaces are checked: one created after the snapshot is known from the captured oplog.
        self._wait_for_capture_to_reach(point, wait)
        sources = self._select_namespaces(meta, namespaces, renames, before, bound)
        plan = self._plan_targets(target, sources, renames)
        full = namespaces is None and not renames
        deployment = self.ws.deployment(target)
        entries_total = verify_range(self.archive.oplog_dir, before, bound)  # damage found before the target is touched
        client = connect(deployment.uri, "restore")
        report = RestoreReport(target=deployment.label, point=point.as_dict(), point_description=point.describe(),
                               snapshot={"id": meta["id"], "consistent": show_time(ts_parse(meta["after"]))},
                               namespaces={dst: {"source": src, "documents": None, "operations": 0}
                                           for src, dst in plan.items()},
                               incomplete=sorted(plan.values()) + (["(and any created after the snapshot)"] if full else []))
        try:
            try:
                client.admin.command("ping")
            except PyMongoError as exc:
                raise BackupError(f"Cannot reach {deployment.label} ({deployment.display_uri}): "
                                  f"{driver_error(exc, deployment.uri)}. Nothing was changed. Is it running? "
                                  "labkit up restarts it.") from None
            self._record_restore(report)
            phase = "removing the target namespaces"
            try:
                self._clear_target(client, target, full, plan)
                phase = "loading the snapshot"
                self._load_snapshot(client, meta, plan, progress)
                phase = "replaying the oplog"
                applied = self._replay(client, None if full else plan, renames, before, bound, entries_total, progress)
                phase = "counting the result"
                self._finish_report(client, report, full, applied)
                if target == "main":
                    self._remember_restored_on_main(plan.values())
            except (PyMongoError, BackupError) as exc:
                detail = driver_error(exc, deployment.uri) if isinstance(exc, PyMongoError) else str(exc)
                report.status = "failed"
                report.error = f"{phase}: {detail}"
                report.duration_seconds = time.monotonic() - began
                self._record_restore(report)
                raise RestoreFailed(
                    f"The restore to {deployment.label} failed while {phase}: {detail}\n"
                    f"These namespaces on {deployment.label} are INCOMPLETE: {', '.join(report.incomplete)}. "
                    f"Run the same restore again (after labkit up if {deployment.label} stopped): it starts over "
                    "and replaces them.", report) from None
            except BaseException:  # interrupted (Ctrl-C, kernel stop): never leave it looking complete
                report.status, report.error = "failed", f"{phase}: interrupted"
                self._record_restore(report)
                raise
        finally:
            client.close()
        report.status = "complete"
        report.incomplete = []
        report.duration_seconds = time.monotonic() - began
        self._record_restore(report)
        self.ws.log_event("restore", point=report.point.get("utc"), target=target,
                          documents=sum((info.get("documents") or 0) for info in report.namespaces.values()))
        return report

    def _pick_snapshot(self, state: dict, point: RestorePoint) -> dict:
        bound = ts_key(point.bound)
        snapshots = self.archive.snapshots()
        if not snapshots:
            raise BackupError("There is no snapshot yet, so nothing can be restored. Take one with labkit snapshot "
                              "(Backup(ws).snapshot()).")
        earliest = ts_parse(snapshots[0]["after"])
        if bound < ts_key(earliest):
            raise BackupError(f"{point.describe()} is before the earliest snapshot: the earliest restorable time is "
                              f"{show_time(earliest)} ({ts_str(earliest)}).")
        for g_from, g_to in self.archive.gaps(state):
            if g_from < bound < g_to:
                raise BackupError(
                    f"{point.describe()} falls in a gap of the captured oplog: the operations between "
                    f"{show_time(ts_from_key(g_from))} and {show_time(ts_from_key(g_to))} were lost (the capture was "
                    "down while Main's oplog rolled over). Restorable ranges: " + self._window_text())
        usable = [meta for meta, end in self._ranges(state)
                  if ts_key(ts_parse(meta["after"])) <= bound <= end]
        if not usable:
            raise BackupError(f"No snapshot can reach {point.describe()}: a gap in the captured oplog lies between "
                              "the snapshots and that time. Take a new snapshot (labkit snapshot) to restore to times "
                              "after it. Restorable ranges: " + self._window_text())
        return usable[-1]

    def _window_text(self) -> str:
        return "; ".join(span["shown"] for span in self.window()) or "none"

    def _select_namespaces(self, meta: dict, namespaces, renames: dict, before: int, bound: int) -> list[str]:
        """Source namespaces to restore; None means every user namespace."""
        if namespaces is None:
            if renames:
                namespaces = list(renames)
            else:
                return sorted(meta["namespaces"])
        if isinstance(namespaces, str):
            namespaces = [namespaces]
        chosen = []
        for ns in namespaces:
            if not isinstance(ns, str) or not _NAMESPACE.match(ns) or ns.split(".", 1)[0] in SYSTEM_DATABASES:
                raise BackupError(f"{ns!r} is not a namespace that can be restored: write it as database.collection "
                                  "(for example test.customers), outside admin, local and config.")
            if ns not in chosen:
                chosen.append(ns)
        unknown = [ns for ns in chosen if ns not in meta["namespaces"]]
        if unknown:
            seen = self._namespaces_in_oplog(before, bound, set(unknown))
            unknown = [ns for ns in unknown if ns not in seen]
        if unknown:
            known = ", ".join(sorted(meta["namespaces"])) or "none"
            raise BackupError(f"Unknown namespace {', '.join(unknown)}: it is neither in snapshot {meta['id']} nor "
                              f"created in the captured oplog up to that time. Namespaces in the snapshot: {known}.")
        for ns in renames:
            if ns not in chosen:
                raise BackupError(f"--rename {ns}:{renames[ns]} names a namespace that is not being restored; "
                                  f"add --ns {ns}.")
        return chosen

    def _namespaces_in_oplog(self, before: int, bound: int, wanted: set[str]) -> set[str]:
        seen = set()
        for entry in read_entries(self.archive.oplog_dir, before, bound):
            ns = entry.get("ns", "")
            if entry.get("op") == "c" and isinstance(entry.get("o"), dict):
                db = ns.split(".", 1)[0]
                o = entry["o"]
                names = [f"{db}.{o['create']}"] if isinstance(o.get("create"), str) else []
                names += [o["to"]] if isinstance(o.get("to"), str) else []
                seen.update(n for n in names if n in wanted)
            elif ns in wanted:
                seen.add(ns)
            if seen == wanted:
                break
        return seen

    def _plan_targets(self, target: str, sources: list[str], renames: dict) -> dict:
        """source namespace -> target namespace."""
        if target not in LABELS:
            raise BackupError(f"Unknown restore target {target!r}: use temp (the usual) or main (with --rename).")
        plan = {ns: renames.get(ns, ns) for ns in sources}
        if len(set(plan.values())) != len(plan):
            raise BackupError("Two namespaces would be restored onto the same target namespace; check --rename.")
        if target != "main":
            return plan
        missing = [ns for ns in sources if ns not in renames]
        if missing or not sources:
            example = (missing or ["test.customers"])[0]
            raise BackupError("Restoring onto Main would overwrite the live data. Give --rename for every namespace "
                              f"restored to Main (e.g. --rename {example}:{example}_restored), or restore to Temp.")
        live = set(self.ws.main.user_namespaces())
        ours = set(self.ws.read().get("backup", {}).get("restored_on_main", []))
        clash = sorted(dst for dst in plan.values() if dst in plan or (dst in live and dst not in ours))
        if clash:
            raise BackupError(f"--rename onto {', '.join(clash)} would replace live data on Main. Choose a new "
                              "namespace name (an earlier restore's result may be replaced).")
        return plan

    def _wait_for_capture_to_reach(self, point: RestorePoint, wait: float) -> None:
        """Every operation <= T that exists must be captured; T must also have passed on Main."""
        bound = ts_key(point.bound)
        state = self.archive.capture_state()
        if self._covered_key(state) >= bound:
            return
        now = self._main_now()
        now = None if now is None else ts_key(now)
        if now is not None and bound > now:
            raise BackupError(f"{point.describe()} has not happened yet on Main (its clock is at "
                              f"{show_time(ts_from_key(now))}): choose a time in the past.")
        needed = bound if now is None else min(bound, now)
        deadline = time.monotonic() + wait
        while True:
            state = self.archive.capture_state()
            covered = self._covered_key(state)
            if covered >= needed:
                return
            if time.monotonic() >= deadline:
                running = "running but behind" if self.capture_running() else "NOT running (labkit backup enable starts it)"
                raise BackupError(
                    f"{point.describe()} is after the last captured operation "
                    f"({show_time(ts_from_key(covered))}, {ts_str(ts_from_key(covered))}); waited {wait:.0f} s for "
                    f"the oplog capture to catch up. The capture is {running}.")
            time.sleep(0.1)

    def _record_restore(self, report: RestoreReport) -> None:
        record = {**report.as_dict(), "when": now_iso()}
        with self.ws.edit() as state:
            backup = state.setdefault("backup", {})
            backup["last_restore"] = record
            # Every recent restore, oldest first: a later restore onto Main must not hide one onto Temp.
            backup["restores"] = (backup.get("restores") or [])[-(KEPT_RESTORES - 1):] + [record]

    @staticmethod
    def _clear_target(client: MongoClient, target: str, everything: bool, plan: dict) -> None:
        """Target namespaces are replaced; a full restore to Temp replaces all of Temp's user data."""
        if everything and target == "temp":
            for db_name in client.list_database_names():
                if db_name not in SYSTEM_DATABASES:
                    client.drop_database(db_name)
            return
        for dst in plan.values():
            db_name, coll_name = dst.split(".", 1)
            client[db_name].drop_collection(coll_name)

    def _load_snapshot(self, client: MongoClient, meta: dict, plan: dict, progress: bool) -> None:
        folder = Path(meta["path"])
        todo = [(src, dst) for src, dst in plan.items() if src in meta["namespaces"]]
        total = sum(meta["namespaces"][src]["documents"] for src, _ in todo)
        bar = progress_bar("load snapshot", total, "doc", enabled=progress and total >= 10_000)
        for src, dst in todo:
            info = meta["namespaces"][src]
            metadata = read_metadata(folder / f"{info['file']}.metadata.json")
            db_name, coll_name = dst.split(".", 1)
            db = client[db_name]
            options = dict(metadata.get("options") or {})
            db.command({"create": coll_name, **options})
            if info["type"] == "view":
                continue
            coll = db[coll_name]
            batch, size = [], 0
            for raw in iter_dump(folder / f"{info['file']}.bson", info["crc32"]):
                batch.append(RawBSONDocument(raw))
                size += len(raw)
                if len(batch) >= INSERT_BATCH_DOCS or size >= INSERT_BATCH_BYTES:
                    coll.insert_many(batch, ordered=False, bypass_document_validation=True)
                    bar.update(len(batch))
                    batch, size = [], 0
            if batch:
                coll.insert_many(batch, ordered=False, bypass_document_validation=True)
                bar.update(len(batch))
            indexes = [_index_spec(spec) for spec in metadata.get("indexes", []) if spec.get("name") != "_id_"]
            if indexes:
                db.command({"createIndexes": coll_name, "indexes": indexes})
        bar.close()

    def _replay(self, client: MongoClient, plan: dict | None, renames: dict, before: int, bound: int,
                total: int, progress: bool) -> dict:
        applier = OplogApplier(client, namespaces=set(plan) if plan is not None else None,
                               rename=renames or None, batch_size=REPLAY_BATCH)
        # Selective restores skip other namespaces' entries unseen, so their count is not known up front.
        bar = progress_bar("replay oplog", total if plan is None else None, "op",
                           enabled=progress and total >= 10_000)
        chunk = []
        for entry in read_entries(self.archive.oplog_dir, before, bound, None if plan is None else set(plan)):
            chunk.append(entry)
            if len(chunk) >= REPLAY_CHUNK:
                applier.apply(chunk)
                bar.update(len(chunk))
                chunk = []
        if chunk:
            applier.apply(chunk)
            bar.update(len(chunk))
        applier.flush()
        bar.close()
        return dict(applier.applied)

    def _remember_restored_on_main(self, namespaces) -> None:
        with self.ws.edit() as state:
            section = state.setdefault("backup", {})
            section["restored_on_main"] = sorted(set(section.get("restored_on_main", [])) | set(namespaces))

    @staticmethod
    def _finish_report(client: MongoClient, report: RestoreReport, full: bool, applied: dict) -> None:
        if full:  # full restore: whatever user namespaces the target holds now
            for db_name in client.list_database_names():
                if db_name in SYSTEM_DATABASES:
                    continue
                for name in client[db_name].list_collection_names():
                    if not name.startswith("system."):
                        report.namespaces[f"{db_name}.{name}"] = {"source": f"{db_name}.{name}"}
        for ns, info in report.namespaces.items():
            db_name, coll_name = ns.split(".", 1)
            info["documents"] = client[db_name][coll_name].count_documents({})
            info["operations"] = applied.get(ns, 0)
        report.operations_applied = sum(applied.values())

    # --- status --------------------------------------------------------------------------

    def summary(self) -> dict | None:
        """For ``labkit status``: None when backup was never enabled."""
        if not self.archive.exists():
            return None
        state = self.archive.capture_state()
        snapshots = self.archive.snapshots()
        last = ts_from_key(Archive.key(state, "last"))
        covered = ts_from_key(self._covered_key(state))
        summary = {"snapshots": len(snapshots),
                   "latest_snapshot": show_time(ts_parse(snapshots[-1]["after"])) if snapshots else None,
                   "capture_running": self.capture_running(),
                   "last_captured_op": f"{show_time(last)} ({ts_str(last)})",
                   "captured_ops": state.get("captured", 0),
                   "gaps": len(state.get("gaps", []))}
        now = self._main_now()
        summary["capture_lag_seconds"] = None if now is None else max(0, now.time - covered.time)
        if state.get("error"):
            summary["capture_error"] = state["error"]
        last_restore = self.ws.read().get("backup", {}).get("last_restore")
        if last_restore:
            summary["last_restore"] = f"{last_restore['status']} to {last_restore['target']} ({last_restore['when']})"
        return summary


def _time_text(to) -> str:
    """What notebooks pass besides text: a mark as ``Backup(ws).mark()`` returned it, a datetime, a Timestamp."""
    if isinstance(to, dict) and "name" in to and "ts" in to:
        return f"mark:{to['name']}"
    if isinstance(to, Timestamp):
        return ts_str(to)
    if isinstance(to, dt.datetime):
        return to.isoformat()
    return str(to)


def _count_documents(batch: bytes) -> int:
    count = position = 0
    while position < len(batch):
        position += int.from_bytes(batch[position:position + 4], "little")
        count += 1
    return count


def _index_spec(spec: dict) -> dict:
    return {k: v for k, v in spec.items() if k not in ("v", "ns")}


def _parse_renames(rename) -> dict:
    """``{"db.coll": "db.new"}`` or ``["db.coll:db.new", ...]`` -> dict, validated."""
    if not rename:
        return {}
    pairs = rename.items() if isinstance(rename, dict) else []
    if not isinstance(rename, dict):
        items = [rename] if isinstance(rename, str) else list(rename)
        parsed = []
        for item in items:
            if not isinstance(item, str) or item.count(":") != 1:
                raise BackupError(f"--rename {item!r} must be SOURCE:TARGET, e.g. test.customers:test.customers_restored.")
            parsed.append(tuple(item.split(":")))
        pairs = parsed
    out = {}
    for src, dst in pairs:
        for ns in (src, dst):
            if not isinstance(ns, str) or not _NAMESPACE.match(ns) or ns.split(".", 1)[0] in SYSTEM_DATABASES:
                raise BackupError(f"--rename {src}:{dst}: {ns!r} is not a database.collection namespace outside "
                                  "admin, local and config.")
        out[src] = dst
    return out
