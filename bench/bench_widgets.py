"""What one LiveCounts refresh costs on a big collection, against counting without the partial index.

    .venv/bin/python bench/bench_widgets.py [-n 100000] [--repeat 7]

Starts a lab workspace (embedded Main + Temp), fills Main's test.customers
with n application documents and 100 customers, then measures in the same run
(median of --repeat):

1. the baseline: ``count_documents({"firstname": {"$exists": true}})`` with no
   index, a collection scan, which is what a naive panel would do every second;
2. the customers count LiveCounts does (hinted to its partial index
   ``labkit_count_firstname``, which holds only the customers);
3. the estimated count for the total (on SecantusDB it walks the collection's
   ids; on mongod it reads metadata);
4. one whole refresh (``Sampler.sample``: Main and Temp, the application's
   stats), with the totals and between two measurements of the totals.

Prints each figure, the ratio baseline / indexed count (goal: >= 20x at
100,000 documents) and the refresh interval the thread will actually keep
(it waits at least 3x what a refresh took, so counting uses <= 25 % of the time).
"""
from __future__ import annotations

import argparse
import statistics
import signal
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from labkit.lab import widgets  # noqa: E402
from labkit.workspace import Workspace  # noqa: E402

QUERY = {"firstname": {"$exists": True}}
GOAL = 20.0


def timed(function, repeat: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-n", type=int, default=100_000, help="application documents (default 100000)")
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()

    ws = Workspace(Path(tempfile.mkdtemp(prefix="labkit-bench-widgets-")) / "ws")
    ws.up()
    try:
        coll = ws.main.client.test.customers
        batch = 10_000
        for start in range(0, args.n, batch):
            coll.insert_many([{"seq": i, "run": "bench", "payload": "x" * 64}
                              for i in range(start, min(start + batch, args.n))], ordered=False)
        coll.insert_many([{"firstname": f"first{i}", "lastname": "last"} for i in range(100)])
        print(f"Main: test.customers with {args.n:,} application documents and 100 customers")

        scan, n_scan = timed(lambda: coll.count_documents(QUERY), max(3, args.repeat // 2))
        name = widgets.ensure_count_index(coll, QUERY)
        indexed, n_indexed = timed(lambda: coll.count_documents(QUERY, hint=name), args.repeat)
        estimated, total = timed(coll.estimated_document_count, args.repeat)
        sampler = widgets.Sampler(ws)
        sampler.sample()  # connect, find the index

        def full_refresh():
            sampler._totals.clear()  # as when the totals are due
            return sampler.sample()
        refresh, sample = timed(full_refresh, max(3, args.repeat // 2))
        between, _ = timed(sampler.sample, args.repeat)
        sampler.close()
        assert n_scan == n_indexed == 100 and sample["main"]["customers"] == 100, (n_scan, n_indexed, sample)

        ratio = scan / indexed
        print(f"baseline: customers by collection scan     {scan * 1000:9.1f} ms")
        print(f"labkit:   customers via the partial index  {indexed * 1000:9.1f} ms")
        print(f"          total (estimated count, {total:,})  {estimated * 1000:9.1f} ms")
        print(f"          a refresh with the totals         {refresh * 1000:9.1f} ms")
        print(f"          a refresh between totals          {between * 1000:9.1f} ms")
        spacing = widgets.TOTAL_SPACING * estimated if estimated > widgets.TOTAL_BUDGET_S else 0
        print(f"at interval=1.0: customers refreshed every {max(1.0, (widgets.LOAD_FACTOR + 1) * between):.2f} s, "
              f"totals every {max(1.0, spacing, (widgets.LOAD_FACTOR + 1) * refresh):.1f} s")
        print(f"ratio scan / indexed: {ratio:.0f}x (goal >= {GOAL:.0f}x): {'MET' if ratio >= GOAL else 'NOT MET'}")
        return 0
    finally:
        ws.down()


if __name__ == "__main__":
    # `timeout` or kill: leave through the finally blocks, which stop the servers this started
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    sys.exit(main())
