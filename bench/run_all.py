"""Run every benchmark in this folder, one after the other (`make bench`).

Each script prints its own figures, baseline and ratio; pass a script's name
(e.g. `bench_generate`) to run only that one. Benchmarks share the machine with
nothing else: run them on a quiet machine.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(names: list[str]) -> int:
    scripts = sorted(HERE.glob("bench_*.py"))
    if names:
        scripts = [s for s in scripts if s.stem in names or s.name in names]
        if not scripts:
            print(f"No benchmark named {', '.join(names)}; choose from: "
                  + ", ".join(s.stem for s in sorted(HERE.glob('bench_*.py'))), file=sys.stderr)
            return 2
    failed = []
    for script in scripts:
        print(f"\n=== {script.stem} ===", flush=True)
        if subprocess.call([sys.executable, str(script)]) != 0:
            failed.append(script.stem)
    if failed:
        print(f"\nfailed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
