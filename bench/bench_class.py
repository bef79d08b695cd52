"""A class on one server: N learners' full labs at once, and what an idle learner costs.

    .venv/bin/python bench/bench_class.py [--learners 10] [--idle-seconds 20] [--max-learners N]

1. Idle footprint, the baseline for a class: one learner's lab left up after
   its run (Main, Temp, the application and the oplog capture, all idle but the
   application's 10 inserts/s): resident memory of all its processes summed
   (psutil, USS where readable, else RSS) and their CPU share of one core over
   ``--idle-seconds``. Goals: at most 170 MB and 5 % of a core per learner.
2. N learners' full labs concurrently, each ``labkit run partial-recovery`` in
   its own workspace as a separate process (as N notebook users would): how
   many passed 75/75, each learner's wall time (median and slowest), each
   application's longest gap and failures. Goal on 2 cores: 10 learners all
   pass, every application's max gap at most 1 s.
3. With ``--max-learners M``, classes of 2, 4, ... up to M learners, to find
   the largest N that still passes (slow: every class is a full run).
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

LABKIT = str(Path(sys.executable).parent / "labkit")
MAX_GAP_GOAL_MS = 1000.0
MEMORY_GOAL_MB = 170.0
CPU_GOAL = 0.05


def run_class(root: Path, learners: int, keep_up: bool = False) -> list[dict]:
    """Start ``learners`` lab runs at once; wait for all; return each one's result (with its wall time)."""
    runs = []
    for n in range(learners):
        out = root / f"learner-{n:02d}"
        args = [LABKIT, "run", "partial-recovery", "--output-dir", str(out), "--json"]
        if keep_up:
            args += ["--workspace", str(root / f"ws-{n:02d}")]
        runs.append((out, time.monotonic(), subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                                             text=True, start_new_session=True)))
    results = []
    try:
        for out, started, proc in runs:
            stdout, _ = proc.communicate(timeout=1800)
            seconds = time.monotonic() - started
            try:
                result = json.loads(stdout)
            except ValueError:
                result = {"status": "error", "error": f"exit {proc.returncode}, no JSON result"}
            result["wall_s"] = seconds
            results.append(result)
    finally:
        for _, _, proc in runs:  # a timed-out or interrupted bench leaves no run behind
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(timeout=60)
    return results


def summarize(results: list[dict]) -> tuple[bool, str]:
    passed = [r for r in results if r.get("points") == r.get("max_points") == 75]
    walls = [r["wall_s"] for r in results]
    gaps = [(r.get("figures") or {}).get("max_gap_ms") for r in results]
    failures = [(r.get("figures") or {}).get("workload_failures") for r in results]
    known_gaps = [g for g in gaps if isinstance(g, (int, float))]
    ok = len(passed) == len(results) and len(known_gaps) == len(results) and max(known_gaps) <= MAX_GAP_GOAL_MS \
        and not any(failures)
    line = (f"{len(results)} learners: {len(passed)} passed 75/75; wall time median {statistics.median(walls):.0f} s, "
            f"slowest {max(walls):.0f} s; application max gap "
            f"{'n/a' if not known_gaps else f'median {statistics.median(known_gaps):.0f} ms, worst {max(known_gaps):.0f} ms'}"
            f"; failures {sum(f or 0 for f in failures)}")
    return ok, line


def lab_processes(workspace: Path) -> list[psutil.Process]:
    """Every process the learner's lab runs: its servers (storage folder in their command line) and helpers."""
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        line = " ".join(proc.info["cmdline"] or [])
        if str(workspace) in line:
            found.append(proc)
    return found


def idle_footprint(workspace: Path, seconds: float) -> tuple[float, float, int]:
    """(MB resident, share of one core, processes) of the lab's processes over ``seconds``."""
    processes = lab_processes(workspace)
    for proc in processes:
        proc.cpu_percent(None)  # start measuring
    time.sleep(seconds)
    memory = cpu = 0.0
    for proc in processes:
        try:
            info = proc.memory_full_info()
            memory += getattr(info, "uss", info.rss)
            cpu += proc.cpu_percent(None) / 100.0
        except psutil.Error:
            continue
    return memory / 1e6, cpu, len(processes)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--learners", type=int, default=10)
    parser.add_argument("--idle-seconds", type=float, default=20.0)
    parser.add_argument("--max-learners", type=int, default=0, help="also find the largest class that passes")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # leave through the finally blocks
    root = Path(tempfile.mkdtemp(prefix="labkit-bench-class-"))
    ok = True
    try:
        print("1. one learner's lab left up, idle (baseline for a class):", flush=True)
        solo = run_class(root / "solo", 1, keep_up=True)
        workspace = root / "solo" / "ws-00"
        # The run stops what it started; bring the lab back with its capture and application, as a
        # learner who is still in lab 3 has it (the idle watchdog comes with `labkit up`).
        subprocess.run([LABKIT, "up", "--workspace", str(workspace)], capture_output=True, check=True)
        subprocess.run([LABKIT, "backup", "enable", "--workspace", str(workspace)], capture_output=True, check=True)
        subprocess.run([LABKIT, "workload", "start", "--workspace", str(workspace)], capture_output=True, check=True)
        try:
            memory, cpu, count = idle_footprint(workspace, args.idle_seconds)
        finally:
            subprocess.run([LABKIT, "down", "--workspace", str(workspace)], capture_output=True)
        idle_ok = memory <= MEMORY_GOAL_MB and cpu <= CPU_GOAL
        ok &= idle_ok
        print(f"   {count} processes, {memory:.0f} MB resident (goal <= {MEMORY_GOAL_MB:.0f}), "
              f"{cpu * 100:.1f} % of one core (goal <= {CPU_GOAL * 100:.0f} %): {'OK' if idle_ok else 'NOT MET'}; "
              f"its own run took {solo[0]['wall_s']:.0f} s", flush=True)

        print(f"2. {args.learners} learners at once:", flush=True)
        class_ok, line = summarize(run_class(root / "class", args.learners))
        ok &= class_ok
        print(f"   {line}: {'OK' if class_ok else 'NOT MET'} (goal: all pass, max gap <= {MAX_GAP_GOAL_MS:.0f} ms)",
              flush=True)

        if args.max_learners:
            largest = 0
            size = 2
            while size <= args.max_learners:
                size_ok, line = summarize(run_class(root / f"class-{size}", size))
                print(f"3. {line}: {'passes' if size_ok else 'does not pass'}", flush=True)
                if not size_ok:
                    break
                largest = size
                size *= 2
            print(f"   largest class that passes here: {largest} learner(s)")
    finally:
        subprocess.run(["rm", "-rf", str(root)])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
