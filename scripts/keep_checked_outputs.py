#!/usr/bin/env python3
"""For maintainers: copy the outputs of the nbval-checked cells of an executed notebook into its source.

The committed notebooks carry outputs only in cells marked ``# NBVAL_CHECK_OUTPUT``
(what nbval compares); every other cell is saved empty. After changing the lab
data or a checked cell, run the lab (``make lab``) and then, for each notebook:

    python scripts/keep_checked_outputs.py labkit-runs/<run>/01-overview.ipynb notebooks/partial-recovery/01-overview.ipynb
"""
from __future__ import annotations

import sys
from pathlib import Path

import nbformat

from labkit.files import write_atomic
from labkit.lab.notebooks import clear_outputs, is_checked


def keep_checked_outputs(executed: Path, source: Path) -> int:
    """Cells are matched by their id. Returns the cells updated."""
    done = nbformat.read(executed, as_version=4)
    outputs = {cell.get("id"): (cell.outputs, cell.execution_count) for cell in done.cells if is_checked(cell)}
    nb = nbformat.read(source, as_version=4)
    clear_outputs(nb)
    updated = 0
    for cell in nb.cells:
        if is_checked(cell) and cell.get("id") in outputs:
            cell.outputs, cell.execution_count = outputs[cell.get("id")]  # nbval compares only cells that ran
            updated += 1
    write_atomic(source, lambda f: nbformat.write(nb, f))
    return updated


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    print(f"{keep_checked_outputs(Path(sys.argv[1]), Path(sys.argv[2]))} checked cell(s) updated in {sys.argv[2]}")
