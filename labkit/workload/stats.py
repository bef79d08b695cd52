"""Live statistics and the final report of the continuous-insert application.

The insert loop records every acknowledged insert here; a small thread turns
the counters into a JSON snapshot and writes it atomically (temp file +
rename) to the stats file, which widgets, ``labkit workload status`` and the
benchmarks read. Latencies go into a log-bucketed histogram (2 % resolution),
so percentiles over a run of any length cost a bounded amount of memory, and
two snapshots of the histogram can be subtracted to get the percentiles of
the time between them. The final report checks a run against the database.
"""
from __future__ import annotations

import math
import os
import threading
import time
from collections import deque
from dataclasses import asdict, dataclass, field

from pymongo.errors import PyMongoError

from labkit.deploy import driver_error
from labkit.files import iso_utc

BUCKET_RATIO = 1.02  # neighbouring histogram buckets differ by 2 %
SMALLEST_MS = 0.001
SERIES_SECONDS = 300  # per-second series kept in the stats file (for charts)
RATE_WINDOW_SECONDS = 5  # "current rate" = inserts of the last 5 complete seconds


class LatencyHistogram:
    """Counts of latencies (ms) per logarithmic bucket; JSON-able; subtractable."""

    def __init__(self, buckets: dict | None = None):
        self.buckets: dict[int, int] = {int(k): int(v) for k, v in (buckets or {}).items()}

    @staticmethod
    def bucket_of(ms: float) -> int:
        return max(0, int(math.log(max(ms, SMALLEST_MS) / SMALLEST_MS, BUCKET_RATIO)))

    @staticmethod
    def value_of(bucket: int) -> float:
        return SMALLEST_MS * BUCKET_RATIO ** (bucket + 0.5)  # middle of the bucket

    def add(self, ms: float) -> None:
        bucket = self.bucket_of(ms)
        self.buckets[bucket] = self.buckets.get(bucket, 0) + 1

    @property
    def count(self) -> int:
        return sum(self.buckets.values())

    def percentile(self, p: float) -> float | None:
        total = self.count
        if not total:
            return None
        rank = math.ceil(total * p / 100.0)
        seen = 0
        for bucket in sorted(self.buckets):
            seen += self.buckets[bucket]
            if seen >= rank:
                return self.value_of(bucket)
        return self.value_of(max(self.buckets))

    def minus(self, earlier: "LatencyHistogram") -> "LatencyHistogram":
        """The latencies recorded after ``earlier`` was taken (both from the same run)."""
        return LatencyHistogram({b: n - earlier.buckets.get(b, 0) for b, n in self.buckets.items()
                                 if n - earlier.buckets.get(b, 0) > 0})

    def to_json(self) -> dict:
        return {str(b): n for b, n in sorted(self.buckets.items())}


def percentiles(histogram: LatencyHistogram, max_ms: float | None) -> dict:
    def rounded(value):  # a bucket's middle may lie above the exact maximum: never report more
        return None if value is None else round(min(value, max_ms if max_ms is not None else value), 3)
    return {"p50": rounded(histogram.percentile(50)), "p95": rounded(histogram.percentile(95)),
            "p99": rounded(histogram.percentile(99)), "max": rounded(max_ms)}


class RunStats:
    """Counters of one run, updated by the insert loop, read by the stats writer (thread-safe)."""

    def __init__(self, run_id: str, db: str, collection: str, rate: float, uri: str):
        self.lock = threading.Lock()
        self.info = {"run_id": run_id, "db": db, "collection": collection, "target_rate": rate,
                     "uri": uri, "pid": os.getpid()}
        self.started_wall = time.time()
        self.started_mono = time.monotonic()
        self.state = "starting"
        self.acknowledged = 0
        self.retries = 0  # attempts repeated after a transient error (network, restart, timeout)
        self.failures = 0  # attempts the server refused for another reason (also retried)
        self.skipped_slots = 0  # schedule slots dropped because the loop fell > 1 s behind
        self.last_error: str | None = None
        self.last_error_time: float | None = None
        self.in_doubt_seq: int | None = None  # attempted when stopped, never acknowledged
        self.histogram = LatencyHistogram()
        self.max_latency_ms: float | None = None
        self.max_gap_ms: float | None = None
        self.last_ack_mono: float | None = None
        self.series: deque = deque(maxlen=SERIES_SECONDS)
        self._second: dict | None = None  # the second being filled

    # --- updates from the insert loop -----------------------------------------------------

    def acknowledged_insert(self, latency_s: float) -> None:
        now_mono, now_wall = time.monotonic(), time.time()
        latency_ms = latency_s * 1000.0
        with self.lock:
            self.state = "inserting"
            self.acknowledged += 1
            self.histogram.add(latency_ms)
            self.max_latency_ms = max(self.max_latency_ms or 0.0, latency_ms)
            gap_ms = None
            if self.last_ack_mono is not None:
                gap_ms = (now_mono - self.last_ack_mono) * 1000.0
                self.max_gap_ms = max(self.max_gap_ms or 0.0, gap_ms)
            self.last_ack_mono = now_mono
            second = self._roll(now_wall)
            second["inserts"] += 1
            second["latency_sum_ms"] += latency_ms
            second["latency_max_ms"] = max(second["latency_max_ms"], latency_ms)
            if gap_ms is not None:
                second["gap_max_ms"] = max(second["gap_max_ms"], gap_ms)

    def error(self, message: str, transient: bool) -> None:
        with self.lock:
            if transient:
                self.retries += 1
            else:
                self.failures += 1
            self.state = "retrying"
            self.last_error = message
            self.last_error_time = time.time()

    def skipped(self, slots: int) -> None:
        with self.lock:
            self.skipped_slots += slots

    def _roll(self, now_wall: float) -> dict:
        """Close finished seconds (zeros for seconds without inserts) and return the current one."""
        current = int(now_wall)
        if self._second is not None and self._second["t"] < current:
            for t in range(self._second["t"], current):
                if t == self._second["t"]:
                    self.series.append(self._finish(self._second))
                elif current - t <= SERIES_SECONDS:
                    self.series.append({"t": t, "inserts": 0, "latency_avg_ms": None, "latency_max_ms": None,
                                        "gap_max_ms": None})
            self._second = None
        if self._second is None:
            self._second = {"t": current, "inserts": 0, "latency_sum_ms": 0.0, "latency_max_ms": 0.0, "gap_max_ms": 0.0}
        return self._second

    @staticmethod
    def _finish(second: dict) -> dict:
        n = second["inserts"]
        return {"t": second["t"], "inserts": n,
                "latency_avg_ms": round(second["latency_sum_ms"] / n, 3) if n else None,
                "latency_max_ms": round(second["latency_max_ms"], 3) if n else None,
                "gap_max_ms": round(second["gap_max_ms"], 3) if second["gap_max_ms"] else None}

    # --- the snapshot written to the stats file ---------------------------------------------

    def snapshot(self, running: bool = True) -> dict:
        now_mono, now_wall = time.monotonic(), time.time()
        with self.lock:
            self._roll(now_wall)
            series = list(self.series)
            if not running and self._second and self._second["inserts"]:
                series.append(self._finish(self._second))  # the last, partial second of a finished run
            recent = series[-RATE_WINDOW_SECONDS:]
            elapsed = now_mono - self.started_mono
            if len(recent) == RATE_WINDOW_SECONDS:
                rate = sum(s["inserts"] for s in recent) / len(recent)
            else:
                rate = self.acknowledged / elapsed if elapsed > 0 else 0.0
            return {
                **self.info,
                "running": running,
                "state": self.state if running else "stopped",
                "started": iso_utc(self.started_wall),
                "updated": iso_utc(now_wall),
                "elapsed_s": round(elapsed, 3),
                "acknowledged": self.acknowledged,
                "retries": self.retries,
                "failures": self.failures,
                "skipped_slots": self.skipped_slots,
                "last_error": self.last_error,
                "last_error_time": iso_utc(self.last_error_time) if self.last_error_time else None,
                "in_doubt_seq": self.in_doubt_seq,
                "rate": round(rate, 3),
                "average_rate": round(self.acknowledged / elapsed, 3) if elapsed > 0 else 0.0,
                "latency_ms": percentiles(self.histogram, self.max_latency_ms),
                "max_gap_ms": round(self.max_gap_ms, 3) if self.max_gap_ms is not None else None,
                "current_gap_ms": round((now_mono - self.last_ack_mono) * 1000.0, 3) if self.last_ack_mono else None,
                "series": series,
                "latency_histogram": self.histogram.to_json(),
            }


def format_status(stats: dict) -> str:
    """One status line for a terminal or a log."""
    lat = stats.get("latency_ms") or {}

    def ms(value):
        return "-" if value is None else f"{value:.1f} ms"
    line = (f"{time.strftime('%H:%M:%S')} {stats['acknowledged']} acknowledged, {stats['rate']:.1f}/s "
            f"(target {stats['target_rate']:g}/s), latency p50 {ms(lat.get('p50'))} p99 {ms(lat.get('p99'))} "
            f"max {ms(lat.get('max'))}, max gap {ms(stats.get('max_gap_ms'))}, "
            f"retries {stats['retries']}, failures {stats['failures']}")
    if stats.get("state") == "retrying" and stats.get("last_error"):
        line += f" - RETRYING: {stats['last_error']}"
    return line


# --- the final report -----------------------------------------------------------------------


@dataclass
class WorkloadReport:
    """What a run did and whether the database agrees with it."""

    run_id: str
    db: str
    collection: str
    target_rate: float
    started: str | None
    stopped: str | None
    duration_s: float
    acknowledged: int
    retries: int
    failures: int
    average_rate: float
    latency_ms: dict
    max_gap_ms: float | None
    skipped_slots: int = 0
    verified: bool = False
    documents_found: int | None = None
    missing: int | None = None  # acknowledged but not in the database: lost
    duplicates: int | None = None
    unacknowledged_present: int | None = None  # present but never acknowledged (in doubt when stopped)
    seq_contiguous: bool | None = None
    verification_error: str | None = None
    problems: list = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.verified and not self.problems

    def to_dict(self) -> dict:
        return {**asdict(self), "ok": self.ok}

    def __str__(self) -> str:
        lat = self.latency_ms or {}

        def ms(value):
            return "-" if value is None else f"{value:.1f} ms"
        lines = [
            f"Workload run {self.run_id} into {self.db}.{self.collection}: {self.duration_s:.1f} s at a target of {self.target_rate:g}/s",
            f"  acknowledged inserts: {self.acknowledged} ({self.average_rate:.2f}/s), retries: {self.retries}, "
            f"failures: {self.failures}, skipped slots: {self.skipped_slots}",
            f"  latency: p50 {ms(lat.get('p50'))}, p95 {ms(lat.get('p95'))}, p99 {ms(lat.get('p99'))}, max {ms(lat.get('max'))}",
            f"  largest gap between two acknowledged inserts: {ms(self.max_gap_ms)}",
        ]
        if self.verified:
            lines.append(f"  in the database: {self.documents_found} document(s) of this run, {self.missing} missing, "
                         f"{self.duplicates} duplicate(s), seqs {'contiguous' if self.seq_contiguous else 'NOT contiguous'}"
                         + (f", {self.unacknowledged_present} present but unacknowledged" if self.unacknowledged_present else ""))
        else:
            lines.append(f"  NOT VERIFIED: {self.verification_error}")
        lines.append("  verdict: " + ("OK - nothing lost, nothing duplicated" if self.ok else "PROBLEM - " + "; ".join(self.problems or ["not verified"])))
        return "\n".join(lines)


def run_filter(run_id: str) -> dict:
    """Documents of one run, found through the _id index (ids are "<run>-<seq>"; '-' < '.' in ASCII)."""
    return {"_id": {"$gte": f"{run_id}-", "$lt": f"{run_id}."}, "run": run_id}


def verify(collection, run_id: str, acknowledged: int) -> dict:
    """Compare the run's documents in ``collection`` with the acknowledged count."""
    per_seq = [{"$match": run_filter(run_id)}, {"$group": {"_id": "$seq", "n": {"$sum": 1}}}]
    totals = {"_id": None, "distinct": {"$sum": 1}, "found": {"$sum": "$n"},
              "low": {"$min": "$_id"}, "high": {"$max": "$_id"},
              "acked": {"$sum": {"$cond": [{"$lte": ["$_id", acknowledged]}, 1, 0]}}}
    rows = list(collection.aggregate(per_seq + [{"$group": totals}]))
    row = rows[0] if rows else {"distinct": 0, "found": 0, "low": None, "high": None, "acked": 0}
    distinct, high = row["distinct"], row["high"]
    return {
        "documents_found": row["found"],
        "duplicates": row["found"] - distinct,
        "missing": acknowledged - row["acked"],
        "unacknowledged_present": distinct - row["acked"],
        "seq_contiguous": distinct == 0 or (row["low"] == 1 and high == distinct),
    }


def build_report(stats: dict, collection=None) -> WorkloadReport:
    """The report of a finished run from its final stats; verified when ``collection`` is given."""
    report = WorkloadReport(
        run_id=stats["run_id"], db=stats["db"], collection=stats["collection"], target_rate=stats["target_rate"],
        started=stats.get("started"), stopped=stats.get("updated"), duration_s=stats.get("elapsed_s", 0.0),
        acknowledged=stats["acknowledged"], retries=stats["retries"], failures=stats["failures"],
        average_rate=stats.get("average_rate", 0.0), latency_ms=stats.get("latency_ms") or {},
        max_gap_ms=stats.get("max_gap_ms"), skipped_slots=stats.get("skipped_slots", 0),
    )
    if collection is None:
        report.verification_error = "no database to verify against"
        return report
    try:
        found = verify(collection, report.run_id, report.acknowledged)
    except PyMongoError as exc:
        report.verification_error = f"cannot read the run's documents: {driver_error(exc)[:300]}"
        return report
    report.verified = True
    for key, value in found.items():
        setattr(report, key, value)
    if report.missing:
        report.problems.append(f"{report.missing} acknowledged insert(s) missing")
    if report.duplicates:
        report.problems.append(f"{report.duplicates} duplicate(s)")
    if not report.seq_contiguous:
        report.problems.append("seqs are not contiguous")
    # One unacknowledged document may exist: the insert in flight when the run stopped.
    if report.unacknowledged_present > (1 if stats.get("in_doubt_seq") else 0):
        report.problems.append(f"{report.unacknowledged_present} document(s) present that were never acknowledged")
    return report
