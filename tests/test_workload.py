"""The insert loop against the real embedded server: rate control, report, retries, statistics."""
from __future__ import annotations

import datetime as dt
import json
import math
import random
import threading

import pytest
from pymongo.errors import AutoReconnect

from labkit.errors import ConfigError
from labkit.workload.loop import CATCH_UP_LIMIT_S, InsertLoop, document_id, run_foreground, validate_duration, validate_rate
from labkit.workload.stats import LatencyHistogram, build_report

RATE_SECONDS = 10


def _run_in_thread(results, key, **kwargs):
    results[key] = run_foreground(status_every=None, **kwargs)


def test_schedule_is_kept_at_10_and_100_per_second(server, db, tmp_path):
    """Both rates run side by side for 10 s. Only what holds at any machine speed is asserted: every
    planned slot is inserted or knowingly skipped, no insert runs ahead of its slot, a stalled loop
    never bursts beyond its catch-up limit, and the per-second series adds up. (How close to the
    target rate an idle machine gets is bench_workload.py's business.)"""
    results = {}
    threads = [threading.Thread(target=_run_in_thread, args=(results, rate),
                                kwargs=dict(uri=server.uri, db=db.name, collection=f"c{rate}", rate=rate,
                                            duration=RATE_SECONDS, stats_path=tmp_path / f"stats{rate}.json"))
               for rate in (10, 100)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=240)
        assert not thread.is_alive(), "a run never ended"
    for rate in (10, 100):
        report = results[rate]
        planned = rate * RATE_SECONDS
        assert report.ok, str(report)
        # The schedule is absolute: every planned slot was either inserted or knowingly skipped.
        assert abs(report.acknowledged + report.skipped_slots - planned) <= 1, str(report)
        final = json.loads((tmp_path / f"stats{rate}.json").read_text())
        started = dt.datetime.fromisoformat(final["started"].replace("Z", "+00:00"))
        # Never ahead of schedule: document seq n is due (n - 1) / rate s after the loop's start at the
        # earliest (skipped slots only push it later), and the stats clock started before the loop.
        docs = list(db[f"c{rate}"].find({"run": report.run_id}, {"client_time": 1, "seq": 1}).sort("seq", 1))
        assert len(docs) == report.acknowledged
        for doc in docs:
            ahead = (doc["seq"] - 1) / rate - (doc["client_time"] - started).total_seconds()
            assert ahead <= 0.01, (doc, ahead)  # 10 ms: the clocks' and BSON dates' millisecond rounding
        # A stalled loop catches up at most CATCH_UP_LIMIT_S worth of slots, then skips; the series adds up.
        series = final["series"]
        complete = [s["inserts"] for s in series[1:-1]]  # the first and last seconds are partial
        assert not complete or max(complete) <= rate * (1 + CATCH_UP_LIMIT_S) + 2, series
        assert sum(s["inserts"] for s in series) == report.acknowledged


def test_report_matches_the_database(server, db, tmp_path):
    stats_file = tmp_path / "stats.json"
    report = run_foreground(server.uri, db.name, "customers", rate=40, duration=1.5, stats_path=stats_file,
                            status_every=None)
    docs = list(db.customers.find({"run": report.run_id}).sort("seq", 1))
    assert report.ok and report.verified
    assert report.documents_found == len(docs) == report.acknowledged > 0
    assert [d["seq"] for d in docs] == list(range(1, len(docs) + 1))
    assert all(d["_id"] == document_id(report.run_id, d["seq"]) for d in docs)
    assert all(set(d) == {"_id", "seq", "run", "client_time"} for d in docs)
    assert db.customers.count_documents({"firstname": {"$exists": True}}) == 0  # the lab's recovery query
    assert report.missing == report.duplicates == report.unacknowledged_present == 0
    lat = report.latency_ms
    assert 0 < lat["p50"] <= lat["p95"] <= lat["p99"] <= lat["max"]
    assert report.max_gap_ms > 0
    final = json.loads(stats_file.read_text())
    assert final["running"] is False and final["acknowledged"] == report.acknowledged
    assert final["run_id"] == report.run_id

    # The verification can fail: a lost document and a duplicate are both reported.
    db.customers.delete_one({"_id": document_id(report.run_id, 2)})
    db.customers.insert_one({"_id": document_id(report.run_id, 3) + "-copy", "seq": 3, "run": report.run_id})
    checked = build_report(final, db.customers)
    assert checked.missing == 1 and checked.duplicates == 1 and not checked.ok
    assert "missing" in str(checked) and "duplicate" in str(checked)


class _ReplyLost:
    """The real collection, except that one insert lands on the server and its answer is then lost."""

    def __init__(self, collection, lose_seq):
        self.collection, self.lose_seq = collection, lose_seq

    def insert_one(self, doc):
        result = self.collection.insert_one(doc)
        if doc["seq"] == self.lose_seq:
            self.lose_seq = None
            raise AutoReconnect("connection reset by peer (injected after the insert landed)")
        return result


def test_a_retried_insert_that_had_landed_counts_once(server, db, monkeypatch):
    real_coll = InsertLoop.coll
    lossy = {}

    def coll(self):
        return lossy.setdefault(self.run_id, _ReplyLost(real_coll.fget(self), lose_seq=3))
    monkeypatch.setattr(InsertLoop, "coll", property(coll))
    report = run_foreground(server.uri, db.name, "retry", rate=50, duration=0.5, status_every=None)
    assert report.retries == 1
    assert report.ok, str(report)
    assert report.acknowledged == report.documents_found == db.retry.count_documents({})


def test_latency_histogram_percentiles():
    rng = random.Random(7)
    values = [rng.lognormvariate(0, 1) for _ in range(5000)]
    hist = LatencyHistogram()
    for value in values:
        hist.add(value)
    ordered = sorted(values)
    for p in (50, 95, 99):
        exact = ordered[math.ceil(len(ordered) * p / 100) - 1]
        assert hist.percentile(p) == pytest.approx(exact, rel=0.02)
    earlier = LatencyHistogram(hist.to_json())  # round-trips through JSON
    for _ in range(100):
        hist.add(1000.0)
    later = hist.minus(earlier)
    assert later.count == 100 and later.percentile(50) == pytest.approx(1000.0, rel=0.02)
    assert LatencyHistogram().percentile(99) is None


@pytest.mark.parametrize("rate", [0, -1, "abc", float("nan"), float("inf"), 1e9])
def test_invalid_rate(rate):
    with pytest.raises(ConfigError, match="rate"):
        validate_rate(rate)


@pytest.mark.parametrize("duration", [0, -5, "soon", float("nan")])
def test_invalid_duration(duration):
    with pytest.raises(ConfigError, match="duration"):
        validate_duration(duration)


def test_invalid_namespace_is_refused_before_connecting():
    with pytest.raises(ConfigError, match="database name"):
        run_foreground("mongodb://127.0.0.1:1/", "bad db", "c", duration=1)
