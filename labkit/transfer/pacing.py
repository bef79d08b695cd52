"""How much the import writes per command: a lot while it has the collection to
itself, a little while other clients write to the same collection.

The lab imports into a collection its application keeps writing to. A server
writes one batch to a collection at a time (SecantusDB holds a per-collection
lock; mongod's document locks still queue an insert behind a batch's index
and journal work), so the application's insert waits behind the batch in
progress: its latency grows with our batch. The server's per-collection
counters (the ``top`` command) tell us whether anyone else is writing:

- nobody else writes: full batches (mongoimport's 1,000 documents), the
  fastest import;
- others write: one document per command (POLITE_DOCS). The embedded server
  is one Python process on a shared machine: a batch of even 8 documents a
  command kept it busy all the time, and the others' inserts queued behind it
  (their p99 latency 2.5-3.8x the idle one; 2 documents 1.7-2.7x, 1 document
  1.1-1.9x, bench/bench_workload.py). Waiting for each answer leaves the
  server idle between our commands, which is when theirs run. The import is
  about 7x slower while they write (1,700 against 12,000 documents/s) and
  speeds up again QUIET_SECONDS after they stop;
- ``top`` is not allowed for this user (or not supported): batches sized to
  about UNKNOWN_TARGET_MS of server time, a middle way.

A fixed ``--batchSize`` turns all of this off.
"""
from __future__ import annotations

import threading
import time

from pymongo.errors import PyMongoError

PROBE_SECONDS = 0.25  # how often ``top`` is read (it costs well under a millisecond)
QUIET_SECONDS = 2.0  # others silent this long: back to full batches
POLITE_DOCS = 1  # while others write: documents per command
UNKNOWN_TARGET_MS = 30  # without ``top``: server time per batch to aim for
UNKNOWN_MIN_DOCS = 100  # without ``top``: the floor (the fixed per-command cost would shrink batches forever)
WRITE_SECTIONS = ("insert", "update", "remove")


class OtherWriters:
    """Whether clients other than us wrote to ``db.collection`` lately, read from ``top``.

    ``top`` counts write commands per namespace; the difference between its count and the
    commands we sent is the others' share. ``available`` is False when ``top`` cannot be read."""

    def __init__(self, client, db: str, collection: str):
        self.admin = client.admin
        self.namespace = f"{db}.{collection}"
        self.available = True
        self.last_seen = float("-inf")  # monotonic time others were last seen writing
        self.probed = False  # until the first reading, assume others write (a first full batch could stall them)
        self.ours = 0  # write commands we sent since the last reading
        self.count = self._read()

    def _read(self) -> int | None:
        try:
            totals = self.admin.command("top")["totals"]
        except (PyMongoError, KeyError, TypeError):
            self.available = False
            return None
        entry = totals.get(self.namespace) or {}
        return sum(int((entry.get(section) or {}).get("count", 0)) for section in WRITE_SECTIONS)

    def update(self, in_flight: int = 0) -> None:
        """Read ``top`` again. ``in_flight``: our commands sent but not answered (``top`` may or
        may not count them yet), so only writes beyond them are the others'."""
        count = self._read()
        if count is None:
            return
        others = count - self.count - self.ours - in_flight
        if count < self.count:  # the collection was dropped and its counters reset
            others = 0
        self.probed = True
        if others > 0:
            self.last_seen = time.monotonic()
        self.count = count - in_flight  # the in-flight ones are counted in ``ours`` when they finish
        self.ours = 0

    @property
    def active(self) -> bool:
        return not self.probed or time.monotonic() - self.last_seen < QUIET_SECONDS


class BatchPacer:
    """The size of the next batch (documents and bytes), from who else writes and how long ours take."""

    def __init__(self, client, db: str, collection: str, max_docs: int, max_bytes: int, fixed: bool,
                 polite_docs: int = POLITE_DOCS):
        self.max_docs = max_docs
        self.polite_docs = polite_docs  # documents per command while others write
        self.max_bytes = max_bytes
        self.lock = threading.Lock()
        self.others = None if fixed else OtherWriters(client, db, collection)
        self.next_probe = time.monotonic() + PROBE_SECONDS
        self.in_flight = 0
        self.ms_per_doc: float | None = None  # smoothed server time per document (without ``top``)
        self.unknown_floor = min(UNKNOWN_MIN_DOCS, max_docs)
        self.unknown_docs = self.unknown_floor

    def limits(self) -> tuple[int, int]:
        """(documents, bytes) the batch being filled may hold."""
        if self.others is None:
            return self.max_docs, self.max_bytes
        if not self.others.available:
            return self.unknown_docs, self.max_bytes
        if self.others.active:
            return min(self.polite_docs, self.max_docs), self.max_bytes
        return self.max_docs, self.max_bytes

    def sending(self) -> None:
        with self.lock:
            self.in_flight += 1

    def sent(self, docs: int, seconds: float) -> None:
        """A write command of ``docs`` documents was answered after ``seconds``."""
        with self.lock:
            self.in_flight -= 1
            if self.others is None:
                return
            self.others.ours += 1
            if self.others.available and time.monotonic() >= self.next_probe:
                self.others.update(self.in_flight)
                self.next_probe = time.monotonic() + PROBE_SECONDS
            if not self.others.available and docs:
                sample = seconds * 1000 / docs  # smoothed: one slow batch on a busy machine does not swing it
                self.ms_per_doc = sample if self.ms_per_doc is None else 0.7 * self.ms_per_doc + 0.3 * sample
                size = int(UNKNOWN_TARGET_MS / max(self.ms_per_doc, 1e-6))
                self.unknown_docs = max(self.unknown_floor, min(self.max_docs, size))
