"""The lab notebooks in their three modes: lab, demo and challenge.

The notebooks in ``notebooks/<topic>/`` are the *lab* version: solution code
sits between nbgrader's markers (``### BEGIN SOLUTION`` / ``### END
SOLUTION``), so nbgrader itself can also process them. The *challenge*
version replaces each such region with a ``# YOUR CODE HERE`` stub at the same
indent; unlike nbgrader's stub it does not raise, so "Run All" reaches the
check cells, which then say what is missing. Every mode writes the notebooks
without outputs and with the ``mode`` parameter set.
"""
from __future__ import annotations

import os
import re
from importlib.resources import files
from pathlib import Path

import nbformat

from labkit.errors import LabError
from labkit.files import mkdir_private, write_atomic
from labkit.lab import topic
from labkit.workspace import DEFAULT_TOPIC

MODES = ("lab", "demo", "challenge")
BEGIN = "### BEGIN SOLUTION"
END = "### END SOLUTION"
STUB = "# YOUR CODE HERE"
_MODE_LINE = re.compile(r'^(?P<head>\s*mode\s*=\s*)(?P<value>"[^"]*"|\'[^\']*\')(?P<tail>.*)$', re.MULTILINE)


def source_dir(topic_id: str = DEFAULT_TOPIC) -> Path:
    """The notebooks shipped with labkit: package data ``labkit/data/notebooks/<topic>`` (in the
    repository a link to ``notebooks/``)."""
    folder = Path(str(files("labkit") / "data" / "notebooks" / topic_id))
    if not folder.is_dir():
        raise LabError(f"The {topic_id} notebooks are not at {folder}: reinstall labkit (pip install labkit), "
                       "or give the notebooks' folder with --source.")
    return folder


def notebook_paths(topic_id: str = DEFAULT_TOPIC, source: str | os.PathLike | None = None) -> list[Path]:
    """The topic's notebooks in lab order, as the registry lists them."""
    folder = Path(source) if source else source_dir(topic_id)
    paths = [folder / lab.notebook for lab in topic.topic(topic_id).labs]
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise LabError(f"Notebook(s) missing: {', '.join(missing)}.")
    return paths


def strip_solutions(source: str, where: str = "cell") -> str:
    """Replace each BEGIN/END SOLUTION region (markers included) with a stub at the marker's indent."""
    out: list[str] = []
    inside = False
    for number, line in enumerate(source.splitlines(), 1):
        marker = line.strip()
        if marker == BEGIN:
            if inside:
                raise LabError(f"{where}, line {number}: {BEGIN} inside another solution region.")
            inside = True
            out.append(line[: len(line) - len(line.lstrip())] + STUB)
        elif marker == END:
            if not inside:
                raise LabError(f"{where}, line {number}: {END} without {BEGIN}.")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise LabError(f"{where}: {BEGIN} without {END}.")
    return "\n".join(out)


def set_mode(source: str, mode: str) -> str:
    """Set ``mode = "..."`` in the parameters cell, keeping its comment."""
    return _MODE_LINE.sub(lambda m: f'{m.group("head")}"{mode}"{m.group("tail")}', source, count=1)


def clear_outputs(nb) -> None:
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        cell.metadata.pop("execution", None)
        cell.metadata.pop("papermill", None)
    nb.metadata.pop("papermill", None)


def convert(nb, mode: str, name: str = "notebook"):
    """The notebook ``nb`` (lab version, nbformat node) in ``mode``; a new node, ``nb`` is untouched."""
    if mode not in MODES:
        raise LabError(f"Unknown notebook mode {mode!r}: use one of {', '.join(MODES)}.")
    nb = nbformat.from_dict(nb)
    clear_outputs(nb)
    for index, cell in enumerate(nb.cells):
        if "parameters" in cell.metadata.get("tags", []):
            cell.source = set_mode(cell.source, mode)
        if mode == "challenge" and cell.cell_type == "code":
            cell.source = strip_solutions(cell.source, f"{name}, cell {index}")
    return nb


def write_notebooks(mode: str, out: str | os.PathLike, topic_id: str = DEFAULT_TOPIC,
                    source: str | os.PathLike | None = None) -> list[Path]:
    """Write the topic's notebooks in ``mode`` into ``out``; returns the paths written."""
    if mode not in MODES:
        raise LabError(f"Unknown notebook mode {mode!r}: use one of {', '.join(MODES)}.")
    out = Path(out)
    written = []
    converted = [(path.name, convert(nbformat.read(path, as_version=4), mode, path.name))
                 for path in notebook_paths(topic_id, source)]  # all converted before anything is written
    try:
        mkdir_private(out)
    except OSError as exc:
        raise LabError(f"Cannot create {out}: {exc.strerror or exc}.") from None
    for name, nb in converted:
        target = out / name
        write_atomic(target, lambda f, nb=nb: nbformat.write(nb, f))
        written.append(target)
    return written


CHECKED_MARK = "# NBVAL_CHECK_OUTPUT"


def is_checked(cell) -> bool:
    return cell.cell_type == "code" and cell.source.lstrip().startswith(CHECKED_MARK)
