"""Benchmark labkit export / import against raw pymongo on the embedded server.

    .venv/bin/python bench/bench_transfer.py [--docs 200000] [--memory-docs 1000000]

Import: documents/s of ``import_file`` (reading a relaxed Extended JSON file)
against the ceiling of ``insert_many`` of the same documents already parsed
(goal >= 0.8x). Export: documents/s of ``export_collection`` to a file against
a raw cursor plus ``json_util.dumps`` per document (goal >= 0.9x). Each side
runs --rounds times (default 2), interleaved, best counts (the machine is shared); the
import runs once per --batch-sizes setting in each round (default: the
latency-sized batches and fixed batches of 10,000). Peak memory: a
child process imports, then exports, --memory-docs documents; its peak RSS is
reported (goal <= 200 MB each way). Workload (only with --workload-docs N;
bench_workload.py measures it better, with an idle window before each import
and several batch settings): the lab's continuous-insert loop runs in a child
process, idle and then while N documents are imported into its collection;
the ratio of its p99 latencies (goal <= 2x). Customer-like documents are generated here
(about 1 KB each, nested, with dates, decimals and arrays, no _id, as
mgeneratejs output).
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import resource
import subprocess
import signal
import sys
import tempfile
import time
from pathlib import Path

from bson import Decimal128, json_util
from pymongo import MongoClient

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from labkit import deploy  # noqa: E402
from labkit import ejson  # noqa: E402
from labkit.transfer import export_collection, import_file  # noqa: E402

FIRST = ["Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Margaret", "Ken", "Frances", "John", "Radia", "Linus"]
LAST = ["Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Hamilton", "Thompson", "Allen", "Backus"]
CITIES = ["Oslo", "Zürich", "Lisbon", "Austin", "Kyoto", "Nairobi", "Lima", "Perth", "Québec", "Gdańsk"]
TIERS = ["bronze", "silver", "gold", "platinum"]
BASE = dt.datetime(2015, 1, 1, tzinfo=dt.timezone.utc)


def customer(rng: random.Random, n: int) -> dict:
    first, last = rng.choice(FIRST), rng.choice(LAST)
    return {
        "customer_id": n,
        "firstname": first,
        "lastname": last,
        "email": f"{first.lower()}.{last.lower()}{n}@example.com",
        "phone": f"+1-555-{rng.randrange(10000):04d}",
        "dob": BASE - dt.timedelta(days=rng.randrange(6000, 30000)),
        "address": {"street": f"{rng.randrange(1, 999)} Main St", "city": rng.choice(CITIES),
                    "zip": f"{rng.randrange(100000):05d}", "country": "XX",
                    "location": {"type": "Point", "coordinates": [rng.uniform(-180, 180), rng.uniform(-90, 90)]}},
        "created": BASE + dt.timedelta(seconds=rng.randrange(300_000_000), milliseconds=rng.randrange(1000)),
        "active": rng.random() < 0.8,
        "loyalty": {"tier": rng.choice(TIERS), "points": rng.randrange(100000), "ratio": rng.random()},
        "balance": Decimal128(f"{rng.randrange(1000000) / 100:.2f}"),
        "tags": rng.sample(["vip", "newsletter", "sms", "b2b", "churn-risk", "promo"], 3),
        "orders": [
            {"order_no": n * 10 + k, "date": BASE + dt.timedelta(days=rng.randrange(3000)),
             "total": round(rng.uniform(5, 500), 2),
             "items": [{"sku": f"SKU-{rng.randrange(10000)}", "qty": rng.randrange(1, 5), "price": round(rng.uniform(1, 99), 2)}
                       for _ in range(rng.randrange(1, 4))]}
            for k in range(rng.randrange(1, 4))
        ],
        "notes": "Prefers e-mail contact; asked about the spring catalogue." if rng.random() < 0.3 else "",
    }


def write_file(path: Path, count: int) -> int:
    rng = random.Random(42)
    size = 0
    with open(path, "w", encoding="utf-8") as f:
        for n in range(count):
            line = ejson.dumps(customer(rng, n)) + "\n"
            size += len(line)
            f.write(line)
    return size


def timed(func) -> float:
    started = time.perf_counter()
    func()
    return time.perf_counter() - started


def bench(uri: str, client: MongoClient, path: Path, count: int, rounds: int, batch_sizes: list) -> None:
    db = client["bench_transfer"]
    client.drop_database("bench_transfer")

    def baseline_import(name: str) -> float:
        with open(path, encoding="utf-8") as f:  # parsed before the clock starts
            docs = [json_util.loads(line) for line in f]
        seconds = timed(lambda: db[name].insert_many(docs, ordered=False))
        assert db[name].estimated_document_count() == count
        db[name].drop()
        return seconds

    def labkit_import(name: str, batch_size: int | None) -> float:
        seconds = timed(lambda: import_file(uri, "bench_transfer", name, str(path), batch_size=batch_size, quiet=True))
        assert db[name].estimated_document_count() == count
        db[name].drop()
        return seconds

    # The default pacing (full batches when alone) and fixed sizes, interleaved with the baseline.
    raw, ours = [], {setting: [] for setting in batch_sizes}
    for round_ in range(rounds):
        raw.append(baseline_import(f"raw{round_}"))
        for setting in batch_sizes:
            ours[setting].append(labkit_import(f"ours{round_}", setting))
    r = min(raw)
    print(f"import  {count:>9,} docs: insert_many (parsed) {count / r:>9,.0f} docs/s (rounds "
          f"{', '.join(f'{count / t:,.0f}' for t in raw)})  load {os.getloadavg()[0]:.1f}")
    for setting, times in ours.items():
        o = min(times)
        name = "auto (default)" if setting is None else f"--batchSize {setting}"
        print(f"        labkit import {name:<20} {count / o:>9,.0f} docs/s (rounds "
              f"{', '.join(f'{count / t:,.0f}' for t in times)})   ratio {r / o:.2f}x (goal >= 0.8x)")

    import_file(uri, "bench_transfer", "source", str(path), quiet=True)
    out = path.with_name("export.json")

    def baseline_export() -> float:
        def run():
            for doc in db.get_collection("source", codec_options=ejson.CODEC_OPTIONS).find():
                json_util.dumps(doc)
        return timed(run)

    def labkit_export() -> float:
        return timed(lambda: export_collection(uri, "bench_transfer", "source", out=str(out), quiet=True))

    raw, ours = [], []
    for _ in range(rounds):
        raw.append(baseline_export())
        ours.append(labkit_export())
    r, o = min(raw), min(ours)
    print(f"export  {count:>9,} docs: cursor + json_util.dumps {count / r:>9,.0f} docs/s   "
          f"labkit export {count / o:>9,.0f} docs/s   ratio {r / o:.2f}x (goal >= 0.9x)")
    client.drop_database("bench_transfer")


def memory_child(mode: str, uri: str, path: str) -> None:
    """Runs in a child process: one import or export, then prints peak RSS in MB."""
    if mode == "import":
        report = import_file(uri, "bench_memory", "c", path, quiet=True)
        count = report.imported
    else:
        count = export_collection(uri, "bench_memory", "c", out=path, quiet=True).count
    print(json.dumps({"count": count, "peak_mb": peak_rss_mb()}))


def peak_rss_mb() -> float:
    """This process's peak RSS. VmHWM, not ru_maxrss: Linux carries ru_maxrss over fork and
    exec, so a child of a big parent would report the parent's peak."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def memory(uri: str, client: MongoClient, folder: Path, count: int) -> None:
    path = folder / "memory.json"
    print(f"memory: writing {count:,} documents ...", flush=True)
    size = write_file(path, count)
    client.drop_database("bench_memory")
    env = {**os.environ, "BENCH_URI": uri}  # the URI travels in the environment, not argv
    for mode, target in (("import", path), ("export", folder / "memory-export.json")):
        started = time.perf_counter()
        out = subprocess.run([sys.executable, __file__, "--memory-child", mode, str(target)], env=env,
                             capture_output=True, text=True, check=True)
        result = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"memory  {mode:<6} {result['count']:>9,} docs ({size / 1e6:,.0f} MB file): peak RSS "
              f"{result['peak_mb']:.0f} MB (goal <= 200 MB), {time.perf_counter() - started:.0f} s")
    client.drop_database("bench_memory")


def workload_child() -> None:
    """Runs in a child process: the lab's continuous-insert loop until SIGTERM; prints its stats."""
    import signal
    import threading

    from labkit.workload.loop import DEFAULT_RATE, InsertLoop

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    final = InsertLoop(os.environ["BENCH_URI"], "bench_workload", "customers", DEFAULT_RATE).run(stop)
    print(json.dumps(final, default=str))


def workload_p99(uri: str, client: MongoClient, folder: Path, count: int) -> None:
    """The workload's p99 insert latency while labkit imports into its collection, over idle."""
    path = folder / "workload-import.json"
    write_file(path, count)
    client.drop_database("bench_workload")
    env = {**os.environ, "BENCH_URI": uri}

    def run_workload(during) -> tuple[float, int]:
        child = subprocess.Popen([sys.executable, __file__, "--workload-child"], env=env, stdout=subprocess.PIPE, text=True)
        time.sleep(3)  # connected and inserting
        during()
        child.terminate()
        stats = json.loads(child.communicate(timeout=60)[0].strip().splitlines()[-1])
        return stats["latency_ms"]["p99"], stats.get("acknowledged", 0)

    loaded_seconds = []

    def load():
        loaded_seconds.append(timed(lambda: import_file(uri, "bench_workload", "customers", str(path), quiet=True)))

    idle, idle_n = run_workload(lambda: time.sleep(15))
    busy, busy_n = run_workload(load)
    print(f"workload p99 idle {idle:.1f} ms ({idle_n} inserts), while importing {count:,} docs into its collection "
          f"({loaded_seconds[0]:.0f} s) {busy:.1f} ms ({busy_n} inserts): ratio {busy / idle:.2f}x (goal <= 2x)")
    client.drop_database("bench_workload")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=2, help="runs of each side; the best counts")
    parser.add_argument("--memory-docs", type=int, default=1_000_000, help="0 to skip the memory runs")
    parser.add_argument("--workload-docs", type=int, default=0,
                        help="documents imported under a workload, p99 ratio (default 0: bench_workload.py measures it better)")
    parser.add_argument("--workload-child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--memory-child", nargs=2, metavar=("MODE", "PATH"), help=argparse.SUPPRESS)
    parser.add_argument("--batch-sizes", default="auto,10000",
                        help="import settings to compare: auto (the default pacing) and/or fixed --batchSize values")
    args = parser.parse_args()
    batch_sizes = [None if s.strip() == "auto" else int(s) for s in args.batch_sizes.split(",")]
    if args.workload_child:
        workload_child()
        return
    if args.memory_child:
        memory_child(args.memory_child[0], os.environ["BENCH_URI"], args.memory_child[1])
        return
    with tempfile.TemporaryDirectory(prefix="bench-transfer-") as tmp:
        folder = Path(tmp)
        record = deploy.start_embedded("main", folder / "data", folder / "server.log")
        uri = deploy.embedded_uri(record["port"])
        client = MongoClient(uri)
        try:
            path = folder / "customers.json"
            size = write_file(path, args.docs)
            print(f"{args.docs:,} customer-like documents, {size / args.docs:.0f} bytes each as relaxed Extended JSON")
            bench(uri, client, path, args.docs, args.rounds, batch_sizes)
            if args.workload_docs:
                workload_p99(uri, client, folder, args.workload_docs)
            if args.memory_docs:
                memory(uri, client, folder, args.memory_docs)
        finally:
            client.close()
            deploy.stop_embedded(record)


if __name__ == "__main__":
    # `timeout` or kill: leave through the finally blocks, which stop the servers this started
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    main()
