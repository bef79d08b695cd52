"""What happened in a lab, re-derived from the deployments and labkit's own records.

The checks never trust what a notebook passes in. They ask:

- **Main's oplog** (``local.oplog.rs``): when the customers were loaded, the
  first delete of a customer (also inside ``applyOps``), what else the delete
  removed, where re-imported customers went and whether any was overwritten;
- **the backup's restore record** (``labkit restore`` and the notebook's
  restore both go through ``Backup.restore``, which records it);
- **the workspace's event log**, where ``labkit export``/``labkit import``
  (command line or ``!`` cells, with a workspace) and the notebook actions
  note what they exported and imported, and the files they wrote;
- **Temp and Main** themselves (what they hold now).

So a recovery done with notebook calls, ``!labkit`` cells or a terminal is
judged the same way. ``analyse_point`` names what is wrong with a restore point
(after the first delete, before the load, a local time typed as UTC).
"""
from __future__ import annotations

import datetime as dt
import functools

import bson
from bson import json_util
from bson.timestamp import Timestamp

from labkit.backup import Backup
from labkit.backup.timespec import show_time
from labkit.files import iso_utc
from labkit.lab.topic import CANONICAL, COLLECTION, DB, params, recovery_query, zone_of
from labkit.workspace import Workspace

NS = f"{DB}.{COLLECTION}"
TIME_SLACK_SECONDS = 120  # "exactly your UTC offset away": within this of a valid point after removing the offset


def ts_text(ts: Timestamp | None) -> str | None:
    return None if ts is None else f"{ts.time}:{ts.inc}"


def parse_ts(text) -> Timestamp | None:
    if isinstance(text, Timestamp):
        return text
    if not text or ":" not in str(text):
        return None
    seconds, _, inc = str(text).partition(":")
    try:
        return Timestamp(int(seconds), int(inc))
    except ValueError:
        return None


def utc_text(ts: Timestamp | dt.datetime | None) -> str:
    if ts is None:
        return "-"
    moment = ts.as_datetime() if isinstance(ts, Timestamp) else ts
    return moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def seconds_between(a: Timestamp, b: Timestamp) -> str:
    """How far ``a`` is from ``b``, said the way a learner reads it."""
    delta = a.time - b.time
    if delta == 0:
        return f"in the same second, {abs(a.inc - b.inc)} operation(s) {'after' if a.inc > b.inc else 'before'}"
    words = f"{abs(delta)} s" if abs(delta) < 120 else f"{abs(delta) / 60:.0f} min ({abs(delta)} s)"
    return f"{words} {'after' if delta > 0 else 'before'}"


def deletes_in(entries, ns: str = NS) -> list[tuple[Timestamp, object]]:
    """(ts, _id) of the deletes on ``ns`` in oplog ``entries``: plain ``op: "d"`` entries, and deletes inside
    an ``applyOps`` (mongod writes a transaction, and on 8.0 a batched multi-delete, as one such entry,
    possibly nested)."""
    found = []
    for entry in entries:
        if entry.get("op") == "d" and entry.get("ns") == ns:
            found.append((entry["ts"], (entry.get("o") or {}).get("_id")))
        elif entry.get("op") == "c" and isinstance((entry.get("o") or {}).get("applyOps"), list):
            inner = [{**op, "ts": entry["ts"]} for op in entry["o"]["applyOps"] if isinstance(op, dict)]
            found += deletes_in(inner, ns)
    return found


class Evidence:
    """Lazily computed facts about the lab in ``ws`` (one instance per check)."""

    def __init__(self, ws: Workspace):
        self.ws = ws
        self.state = ws.read() if ws.exists() else {}
        self.run = self.state.get("labrun", {})
        self.params = params(ws)

    # --- records ---------------------------------------------------------------------------

    @functools.cached_property
    def since(self) -> Timestamp | None:
        """The last ``reset`` to before the incident: older deletes and recoveries no longer count."""
        return parse_ts(self.run.get("incident_reset"))

    @functools.cached_property
    def events(self) -> list[dict]:
        events = self.ws.events()
        cut = self.run.get("recovery_reset_time")
        return [e for e in events if not cut or e.get("time", "") > cut]

    def answers(self) -> dict:
        return self.run.get("answers", {})

    def answer_time(self, name: str) -> str | None:
        return self.run.get("answer_times", {}).get(name)

    # --- the customers -----------------------------------------------------------------------

    @functools.cached_property
    def generated(self) -> dict:
        """_id -> BSON bytes of every customer the load generated (empty before the load)."""
        loaded = self.run.get("customers")
        if not loaded:
            return {}
        found = {}
        try:
            with open(loaded["file"]) as f:
                for line in f:
                    if line.strip():
                        doc = json_util.loads(line, json_options=CANONICAL)
                        found[doc["_id"]] = bson.encode(doc)
        except OSError:
            return {}
        return found

    @property
    def expected(self) -> int:
        return self.params["customers"]

    # --- Main's oplog ------------------------------------------------------------------------

    @property
    def oplog(self):
        return self.ws.main.client.local["oplog.rs"]

    def _after(self, query: dict, since: Timestamp | None) -> dict:
        return {**query, "ts": {"$gt": since}} if since is not None else query

    @functools.cached_property
    def loaded_at(self) -> Timestamp | None:
        """The first insert of a loaded customer into Main."""
        ids = list(self.generated)
        if not ids:
            return None
        first = self.oplog.find_one({"op": "i", "ns": NS, "o._id": {"$in": ids}}, sort=[("$natural", 1)],
                                    projection={"ts": 1})
        return first["ts"] if first else None

    def deletes(self) -> list[tuple[Timestamp, object]]:
        """(ts, _id) of every delete on test.customers after ``since``, in oplog order, applyOps included."""
        query = {"$or": [{"op": "d", "ns": NS},
                         {"op": "c", "o.applyOps": {"$elemMatch": {"op": "d", "ns": NS}}}]}
        return deletes_in(self.oplog.find(self._after(query, self.since), sort=[("$natural", 1)],
                                          projection={"ts": 1, "op": 1, "ns": 1, "o": 1}))

    @functools.cached_property
    def incident(self) -> dict | None:
        """The first delete of a customer and what the incident removed, or None before it."""
        ids = self.generated
        deletes = self.deletes()
        customer_deletes = [(ts, _id) for ts, _id in deletes if _id in ids]
        if not customer_deletes:
            return None
        # Each customer's first delete belongs to the incident; later ones (after a recovery and a reset) do not.
        seen: dict = {}
        for ts, _id in customer_deletes:
            seen.setdefault(_id, ts)
        times = sorted(seen.values())
        first = times[0]
        others = {_id for ts, _id in deletes if _id not in ids}
        return {"first": first, "last": times[-1], "customers": len(seen), "customer_deletes": times,
                "others": others}

    def note_incident(self) -> None:
        """Put the incident on the recovery timeline once (a delete typed in pymongo logs nothing by itself)."""
        incident = self.incident
        if incident is None:
            return
        first = ts_text(incident["first"])
        if any(e.get("kind") == "delete" and e.get("ts") == first for e in self.ws.events()):
            return
        # The entry's wall clock (milliseconds), not its ts (whole seconds): a timeline sample taken in the
        # same second but before the delete must not look as if it came after it.
        entry = self.oplog.find_one({"ts": incident["first"]}, projection={"wall": 1}) or {}
        moment = iso_utc(entry["wall"]) if entry.get("wall") else incident["first"].as_datetime().strftime(
            "%Y-%m-%dT%H:%M:%S.000Z")
        self.ws.log_event("delete", time=moment, ts=first, count=incident["customers"])

    def inserts_after(self, ts: Timestamp, ids) -> dict[str, int]:
        """Namespace -> customers inserted into it on Main after ``ts``."""
        found: dict[str, int] = {}
        for entry in self.oplog.find({"op": "i", "ts": {"$gt": ts}, "o._id": {"$in": list(ids)}},
                                     projection={"ns": 1}):
            found[entry["ns"]] = found.get(entry["ns"], 0) + 1
        return found

    def inserts_before(self, ts: Timestamp) -> set:
        """The loaded customers inserted into test.customers on Main before ``ts`` (distinct _ids)."""
        ids = list(self.generated)
        return {entry["o"]["_id"] for entry in self.oplog.find(
            {"op": "i", "ns": NS, "ts": {"$lt": ts}, "o._id": {"$in": ids}}, projection={"o": 1})}

    @property
    def recovery_since(self) -> Timestamp | None:
        """Main's cluster time at the last reset to before the recovery step (older imports no longer count)."""
        return parse_ts(self.run.get("recovery_reset"))

    def updates_after(self, ts: Timestamp, ids) -> int:
        return self.oplog.count_documents({"op": "u", "ns": NS, "ts": {"$gt": ts}, "o2._id": {"$in": list(ids)}})

    # --- the restore ------------------------------------------------------------------------

    @functools.cached_property
    def restore(self) -> dict | None:
        """The last complete restore onto Temp that covered test.customers (after a reset), else None."""
        backup = self.state.get("backup", {})
        cut = self.run.get("recovery_reset_time") or ""
        for record in reversed(backup.get("restores") or [backup.get("last_restore") or {}]):
            if record.get("when", "") <= cut:
                return None  # older ones came before the reset too
            if (record.get("target") == "Temp" and record.get("status") == "complete"
                    and NS in record.get("namespaces", {})):
                return record
        return None

    def restore_bound(self) -> Timestamp | None:
        return parse_ts((self.restore or {}).get("point", {}).get("bound"))

    def restore_attempts(self) -> list[dict]:
        return self.run.get("restore_attempts", [])

    # --- exports and imports ------------------------------------------------------------------

    def transfers(self, kind: str) -> list[dict]:
        return [e for e in self.events if e.get("kind") == kind]

    @staticmethod
    def file_contents(path: str | None) -> list | None:
        """The _ids in an exported file, or None when it cannot be read."""
        if not path:
            return None
        try:
            with open(path) as f:
                return [json_util.loads(line, json_options=CANONICAL).get("_id") for line in f if line.strip()]
        except (OSError, ValueError):
            return None

    # --- the application ----------------------------------------------------------------------

    def customers_on(self, deployment) -> int:
        return deployment.client[DB][COLLECTION].count_documents(recovery_query(self.ws))

    def window_text(self) -> str:
        spans = Backup(self.ws).window()
        return "; ".join(span["shown"] for span in spans) or "nothing yet"


# --- the restore point --------------------------------------------------------------------------


def incident_offset(ev: Evidence, at: Timestamp) -> tuple[int, str]:
    """(seconds, '+01:00 (Europe/Berlin)') of the incident report's zone at ``at``."""
    zone_name = ev.params.get("incident_time_zone")
    zone = zone_of(zone_name)
    offset = at.as_datetime().astimezone(zone).utcoffset() or dt.timedelta(0)
    seconds = int(offset.total_seconds())
    sign = "+" if seconds >= 0 else "-"
    hours, minutes = divmod(abs(seconds) // 60, 60)
    label = f"{sign}{hours:02d}:{minutes:02d}" + (f" ({zone_name})" if zone_name else " (this machine's zone)")
    return seconds, label


def analyse_point(ev: Evidence, bound: Timestamp, kind: str = "timestamp") -> tuple[str, str] | None:
    """None when ``bound`` is a good restore point (after the load, before the first delete); else
    (mistake key, message). ``kind`` is the restore point's kind ("time" for a wall-clock time)."""
    incident = ev.incident
    loaded = ev.loaded_at
    if incident is None:
        return None
    first = incident["first"]
    if (loaded is None or bound >= loaded) and bound < first:
        return None
    offset, label = incident_offset(ev, first)
    if offset and kind == "time":
        shifted = Timestamp(max(bound.time - offset, 0), bound.inc)
        if abs(shifted.time - first.time) <= TIME_SLACK_SECONDS and (loaded is None or shifted >= loaded):
            valid = shifted < first
            return ("local-as-utc",
                    f"The restore point {utc_text(bound)} is exactly your UTC offset {label} away from "
                    f"{utc_text(shifted)}, {'a valid point' if valid else 'right by the moment of loss'}: "
                    f"a local time was typed as UTC. The first delete was at {utc_text(first)} "
                    f"({first.as_datetime().astimezone(zone_of(ev.params.get('incident_time_zone'))).strftime('%H:%M:%S')} local).")
    if bound >= first:
        lost = sum(1 for ts in incident["customer_deletes"] if ts <= bound)
        return ("restore-after-delete",
                f"The restore point {ts_text(bound)} ({utc_text(bound)}) is {seconds_between(bound, first)} the first "
                f"delete ({ts_text(first)}, {utc_text(first)}): Temp therefore lacks the {lost} customer(s) deleted "
                "up to that point.")
    return ("restore-before-load",
            f"The restore point {ts_text(bound)} ({utc_text(bound)}) is before the customers were loaded "
            f"({utc_text(loaded)}, oplog {ts_text(loaded)}): Temp holds Main as it was then, without the customers.")


def show(ts: Timestamp) -> str:
    return show_time(ts)
