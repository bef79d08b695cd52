"""Benchmark `labkit generate` against mgeneratejs 0.6.0 on the same templates.

    .venv/bin/python bench/bench_generate.py [-n 100000] [--rounds 1] [--npm-dir DIR]

Installs mgeneratejs@0.6.0 with the machine's npm into a temporary folder (or
reuses --npm-dir), then runs both tools on customer360.json and on a mixed
template using most built-in operators, n documents each, output to /dev/null,
in the same run (interleaved; with --rounds > 1 the best round counts, the
machine may be shared). mgeneratejs reads its template on stdin. Prints
documents/s of each (wall clock), CPU seconds, the ratio labkit/mgeneratejs
(goal >= 3x) and the peak memory of each child process.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GOAL = 3.0

# Most built-ins and a few chance.js functions, understood by both tools.
MIXED = json.loads((ROOT / "data" / "templates" / "mixed.json").read_text())


def install_mgeneratejs(folder: Path) -> Path:
    script = folder / "node_modules" / "mgeneratejs" / "bin" / "mgenerate.js"
    if not script.exists():
        npm = shutil.which("npm")
        if not npm:
            sys.exit("npm is not installed: install Node.js (node and npm) to run this benchmark.")
        print(f"Installing mgeneratejs@0.6.0 into {folder} ...", flush=True)
        subprocess.run([npm, "install", "--prefix", str(folder), "--no-audit", "--no-fund", "--silent",
                        "mgeneratejs@0.6.0"], check=True)
    return script


def measure(command: list[str], stdin_path: Path | None) -> tuple[float, float, float]:
    """(wall seconds, CPU seconds, peak RSS MB) of one child process writing to /dev/null."""
    with open(os.devnull, "w") as sink, open(stdin_path or os.devnull) as source, tempfile.TemporaryFile() as errors:
        start = time.perf_counter()
        child = subprocess.Popen(command, stdin=source, stdout=sink, stderr=errors)
        _, status, usage = os.wait4(child.pid, 0)  # wait4: this child's own CPU time and peak RSS
        wall = time.perf_counter() - start
        child.returncode = os.waitstatus_to_exitcode(status)
        errors.seek(0)
        message = errors.read().decode(errors="replace").strip()
    if child.returncode != 0:
        sys.exit(f"{' '.join(command[:2])} failed ({child.returncode}): {message[:500]}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=100_000, help="documents per run (default 100000)")
    parser.add_argument("--rounds", type=int, default=1, help="runs per tool and template; the best counts")
    parser.add_argument("--npm-dir", type=Path, help="reuse (or create) this folder for the npm install")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-generate-") as tmp:
        folder = args.npm_dir or Path(tmp) / "npm"
        folder.mkdir(parents=True, exist_ok=True)
        mgeneratejs = [shutil.which("node") or "node", str(install_mgeneratejs(folder)), "-n", str(args.n)]
        mixed = Path(tmp) / "mixed.json"
        mixed.write_text(json.dumps(MIXED, indent=2))
        templates = {"customer360.json": ROOT / "data" / "templates" / "customer360.json", "mixed.json": mixed}
        labkit = [sys.executable, "-c", "from labkit.cli import main; main()", "generate"]
        print(f"n = {args.n} documents per run, output to /dev/null, best of {args.rounds} round(s)\n")
        print(f"{'template':18} {'tool':12} {'docs/s':>9} {'wall s':>8} {'CPU s':>7} {'peak MB':>8}")
        met = True
        for name, path in templates.items():
            best: dict[str, tuple[float, float, float]] = {}
            for _ in range(args.rounds):
                runs = {
                    "mgeneratejs": (mgeneratejs, path),
                    "labkit": (labkit + [str(path), "-n", str(args.n), "--seed", "1", "--quiet"], None),
                }
                for tool, (command, stdin_path) in runs.items():
                    result = measure(command, stdin_path)
                    if tool not in best or result[0] < best[tool][0]:
                        best[tool] = result
            for tool, (wall, cpu, peak) in best.items():
                print(f"{name:18} {tool:12} {args.n / wall:9.0f} {wall:8.2f} {cpu:7.2f} {peak:8.1f}")
            ratio = best["mgeneratejs"][0] / best["labkit"][0]
            cpu_ratio = best["mgeneratejs"][1] / best["labkit"][1]
            met = met and ratio >= GOAL
            print(f"{name:18} {'ratio':12} {ratio:8.2f}x labkit/mgeneratejs by wall clock "
                  f"({cpu_ratio:.2f}x by CPU time); goal >= {GOAL:g}x: {'met' if ratio >= GOAL else 'NOT met'}\n")
        print("goal met on both templates" if met else "goal NOT met")


if __name__ == "__main__":
    main()
