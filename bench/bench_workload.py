"""Benchmark the continuous-insert application against the embedded server.

    .venv/bin/python bench/bench_workload.py [--seconds 60] [--idle-seconds 20] [--import-docs 100000]

1. Highest sustainable insert rate: `labkit insert` unthrottled for --seconds
   (acknowledged inserts per second, and the slowest whole second), against
   the baseline of a bare pymongo ``insert_one`` loop with the same write
   concern (w: majority, j: true), run just before and just after it:
   ratio = labkit / bare.
2. Latency p50/p99 of the workload at 50 inserts/s on an idle server.
3. The same workload while ``labkit.transfer.import_file`` imports
   --import-docs customer-like documents into the same collection: p99 during
   the import / p99 idle (goal <= 2x) and the largest gap between two
   acknowledged inserts during the import (goal <= 250 ms). Each import
   setting of --batch-sizes ("auto" is the default pacing, a number a
   fixed --batchSize) runs --repeats times, interleaved, in the same run; the
   imported documents stay in the collection (each import adds new _ids).

The workload runs as its own process (as in the lab), reading the stats file
it writes; windows are cut by subtracting two snapshots of its latency
histogram. The server's URI travels in the environment (LABKIT_MAIN_URI).
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bson import Decimal128, json_util
from pymongo import MongoClient

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from labkit import deploy  # noqa: E402
from labkit.workload.loop import MAX_RATE, connect, document_id, new_run_id  # noqa: E402
from labkit.workload.stats import LatencyHistogram  # noqa: E402

LABKIT = str(Path(sys.executable).parent / "labkit")
IDLE_RATE = 50
BASE = dt.datetime(2015, 1, 1, tzinfo=dt.timezone.utc)


def customer(rng: random.Random, n: int) -> dict:
    """About 1 KB, nested, like a Customer360 document (with a firstname, as the lab's are)."""
    first = rng.choice(["Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Margaret", "Radia"])
    last = rng.choice(["Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Hamilton", "Perlman"])
    return {
        "customer_id": n, "firstname": first, "lastname": last,
        "email": f"{first.lower()}.{last.lower()}{n}@example.com",
        "dob": BASE - dt.timedelta(days=rng.randrange(6000, 30000)),
        "address": {"street": f"{rng.randrange(1, 999)} Main St", "city": rng.choice(["Oslo", "Lima", "Kyoto"]),
                    "zip": f"{rng.randrange(100000):05d}",
                    "location": {"type": "Point", "coordinates": [rng.uniform(-180, 180), rng.uniform(-90, 90)]}},
        "balance": Decimal128(f"{rng.randrange(1000000) / 100:.2f}"),
        "tags": rng.sample(["vip", "newsletter", "sms", "b2b", "churn-risk", "promo"], 3),
        "orders": [{"order_no": n * 10 + k, "date": BASE + dt.timedelta(days=rng.randrange(3000)),
                    "items": [{"sku": f"SKU-{rng.randrange(10000)}", "qty": rng.randrange(1, 5),
                               "price": round(rng.uniform(1, 99), 2)} for _ in range(rng.randrange(1, 4))]}
                   for k in range(rng.randrange(1, 4))],
        "notes": "Prefers e-mail contact; asked about the spring catalogue. " * rng.randrange(1, 4),
    }


def write_customers(path: Path, count: int) -> None:
    rng = random.Random(42)
    with open(path, "w", encoding="utf-8") as f:
        for n in range(count):
            f.write(json_util.dumps(customer(rng, n), json_options=json_util.RELAXED_JSON_OPTIONS) + "\n")


class WorkloadProcess:
    """`labkit insert` in its own process, watched through its stats file."""

    def __init__(self, uri: str, db: str, rate: float, stats: Path, duration: float | None = None):
        self.stats_path = stats
        self.duration = duration
        args = [LABKIT, "insert", "-d", db, "-c", "customers", "--rate", str(rate), "--stats", str(stats), "--json"]
        if duration:
            args += ["--duration", str(duration)]
        self.proc = subprocess.Popen(args, env={**os.environ, "LABKIT_MAIN_URI": uri},
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.wait_for(lambda s: s["acknowledged"] > 0, 30)

    def stats(self) -> dict | None:
        try:
            return json.loads(self.stats_path.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return None

    def wait_for(self, predicate, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            stats = self.stats()
            if stats and predicate(stats):
                return stats
            if self.proc.poll() is not None:
                raise SystemExit(f"the workload process ended with code {self.proc.returncode}")
            time.sleep(0.05)
        raise SystemExit("timed out waiting for the workload's stats")

    def fresh_stats(self) -> dict:
        """Stats written after this call (the file is replaced every half second)."""
        now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        return self.wait_for(lambda s: s["updated"] > now, 10)

    def finish(self) -> dict:
        """Stop it (a run with a duration ends by itself) and return its verified report."""
        if self.proc.poll() is None and not self.duration:
            self.proc.send_signal(signal.SIGTERM)
        out, _ = self.proc.communicate(timeout=(self.duration or 0) + 300)
        return json.loads(out)


def window(before: dict, after: dict) -> dict:
    hist = LatencyHistogram(after["latency_histogram"]).minus(LatencyHistogram(before["latency_histogram"]))
    first, last = int(dt.datetime.fromisoformat(before["updated"].replace("Z", "+00:00")).timestamp()), \
        int(dt.datetime.fromisoformat(after["updated"].replace("Z", "+00:00")).timestamp())
    seconds = [s for s in after["series"] if first <= s["t"] <= last]
    gaps = [s["gap_max_ms"] for s in seconds if s["gap_max_ms"] is not None]
    return {"count": hist.count, "p50": hist.percentile(50), "p99": hist.percentile(99),
            "max_gap_ms": max(gaps) if gaps else None,
            "empty_seconds": sum(1 for s in seconds if s["inserts"] == 0)}


def bare_insert_rate(uri: str, db: str, seconds: float) -> float:
    """The ceiling: insert_one in a tight loop, same documents and write concern, no bookkeeping."""
    client = connect(uri)
    coll = client[db]["bare"]
    run, n = new_run_id(), 0
    end = time.monotonic() + seconds
    started = time.monotonic()
    while time.monotonic() < end:
        n += 1
        coll.insert_one({"_id": document_id(run, n), "seq": n, "run": run,
                         "client_time": dt.datetime.now(dt.timezone.utc)})
    rate = n / (time.monotonic() - started)
    client.close()
    return rate


def _setting(text: str) -> tuple[str, int | None, int]:
    """"auto" (the default pacing), "auto:N" (N documents per batch while others write), or a fixed batch size."""
    from labkit.transfer import pacing

    if text.startswith("auto"):
        return text, None, int(text.partition(":")[2] or pacing.POLITE_DOCS)
    return f"batchSize {int(text)}", int(text), pacing.POLITE_DOCS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=60, help="length of the highest-rate run (default 60)")
    parser.add_argument("--idle-seconds", type=float, default=20, help="length of the idle latency window")
    parser.add_argument("--import-docs", type=int, default=100_000, help="documents imported during the workload")
    parser.add_argument("--batch-sizes", default="auto,1000",
                        help="import settings to compare: auto (the default pacing), auto:N (N documents per batch "
                             "while others write) and/or fixed batch sizes (default auto,1000)")
    parser.add_argument("--repeats", type=int, default=2, help="imports per setting (default 2)")
    args = parser.parse_args()
    settings = [_setting(s.strip()) for s in args.batch_sizes.split(",")]
    from labkit.transfer import import_file

    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the start "
          "(figures from a shared, loaded machine are noisy)")
    with tempfile.TemporaryDirectory(prefix="bench-workload-") as tmp:
        folder = Path(tmp)
        record = deploy.start_embedded("main", folder / "data", folder / "server.log")
        uri = deploy.embedded_uri(record["port"])
        try:
            if args.seconds:  # 0 skips it
                # 1. Highest sustainable rate, and the bare pymongo ceiling measured in the same run.
                # The bare loop runs before and after (the machine's load drifts); their mean is the baseline.
                bare_seconds = min(args.seconds / 2, 10)
                before = bare_insert_rate(uri, "bench_bare", bare_seconds)
                flat_out = WorkloadProcess(uri, "bench_max", MAX_RATE, folder / "max.json", duration=args.seconds)
                report = flat_out.finish()
                bare = (before + bare_insert_rate(uri, "bench_bare", bare_seconds)) / 2
                series = [s["inserts"] for s in flat_out.stats()["series"]]
                while series and series[0] == 0:  # connecting, before the first insert
                    series.pop(0)
                series = series[1:-1]  # the first and last seconds are partial
                print(f"highest rate   labkit insert {report['average_rate']:>8,.0f} inserts/s over {report['duration_s']:.0f} s "
                      f"(slowest second {min(series) if series else 0:,}/s, longest gap {report['max_gap_ms']:,.0f} ms; "
                      f"verified {'OK' if report['ok'] else 'NOT OK'})   "
                      f"bare insert_one {bare:>8,.0f}/s   ratio {report['average_rate'] / bare:.2f}x")

            # 2. and 3. One workload at 50/s: an idle window, then a window with an import running.
            path = folder / "customers.json"
            write_customers(path, args.import_docs)
            workload = WorkloadProcess(uri, "bench_live", IDLE_RATE, folder / "live.json")
            time.sleep(2)  # warm up
            idle_start = workload.fresh_stats()
            time.sleep(args.idle_seconds)
            idle = window(idle_start, workload.fresh_stats())
            print(f"idle at {IDLE_RATE}/s   latency p50 {idle['p50']:.2f} ms  p99 {idle['p99']:.2f} ms  "
                  f"max gap {idle['max_gap_ms']:.0f} ms  ({idle['count']} inserts)", flush=True)
            client = MongoClient(uri)
            results: dict = {}
            for repeat in range(args.repeats):
                for setting in settings:
                    name, batch_size, polite_docs = setting
                    # The idle p99 right before each import is its baseline (the shared machine's load drifts).
                    before_idle = workload.fresh_stats()
                    time.sleep(args.idle_seconds)
                    before = workload.fresh_stats()
                    idle_here = window(before_idle, before)
                    started = time.monotonic()
                    result = import_file(uri, "bench_live", "customers", str(path), batch_size=batch_size, quiet=True,
                                         polite_docs=polite_docs)
                    import_seconds = time.monotonic() - started
                    busy = window(before, workload.fresh_stats())
                    ratio = busy["p99"] / idle_here["p99"]
                    results.setdefault(name, []).append((ratio, busy["max_gap_ms"], result.imported / import_seconds))
                    print(f"import {name:<15} {result.imported:,} docs in {import_seconds:5.1f} s "
                          f"({result.imported / import_seconds:6,.0f} docs/s): workload p50 {busy['p50']:6.2f} ms  "
                          f"p99 {busy['p99']:7.2f} ms / idle p99 {idle_here['p99']:6.2f} ms = {ratio:5.2f}x (goal <= 2x)  "
                          f"max gap {busy['max_gap_ms']:4.0f} ms (goal <= 250)  "
                          f"({busy['count']} inserts)  load {os.getloadavg()[0]:.1f}", flush=True)
                    # The imported documents stay: deleting 100,000 documents leaves the server slow for a
                    # while afterwards, which would spoil the next idle window. _ids are new each import.
                    time.sleep(2)
            idle_end = workload.fresh_stats()
            time.sleep(args.idle_seconds)
            idle_after = window(idle_end, workload.fresh_stats())
            final = workload.finish()
            client.close()
            print(f"idle again     latency p50 {idle_after['p50']:.2f} ms  p99 {idle_after['p99']:.2f} ms  "
                  f"max gap {idle_after['max_gap_ms']:.0f} ms  ({idle_after['count']} inserts)")
            for name, runs in results.items():
                ratios, gaps, rates = zip(*runs)
                print(f"summary {name:<15} p99 ratio {min(ratios):.2f}-{max(ratios):.2f}x   "
                      f"max gap {min(gaps):.0f}-{max(gaps):.0f} ms   import {min(rates):,.0f}-{max(rates):,.0f} docs/s")
            details = [f"{final['acknowledged']} acknowledged, {final['missing']} missing, {final['duplicates']} duplicates"]
            details += [final["verification_error"]] if final.get("verification_error") else []
            details += final.get("problems") or []
            print(f"workload report after the imports: {'OK' if final['ok'] else 'NOT OK'} ({'; '.join(details)})")
        finally:
            deploy.stop_embedded(record)
    print(f"load average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    # `timeout` or kill: leave through the finally blocks, which stop the servers this started
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    main()
