"""labkit as a normal package: a wheel installed with plain pip, without the repository, runs the course.

What an instructor does to build a class image: build the wheel, ``pip install`` it
into a fresh environment (no editable install, no repository on the path), then,
from an empty folder, generate data, hand out the notebooks and run the lab.
Takes a couple of minutes (it installs labkit's dependencies into the new venv;
pip's cache and the machine's wheel folders make it quicker).
"""
from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SKIP_IN_COPY = shutil.ignore_patterns(".git", ".venv", "build", "dist", "*.egg-info", ".labkit", "labkit-runs",
                                      "__pycache__", ".pytest_cache", "bench", "tests")


def _run(args, **kwargs):
    done = subprocess.run(args, capture_output=True, text=True, **kwargs)
    assert done.returncode == 0, f"{' '.join(map(str, args))} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


@pytest.mark.timeout(900)
def test_wheel_installs_and_runs_the_lab_without_the_repository(tmp_path):
    source = tmp_path / "src"
    shutil.copytree(REPO, source, symlinks=True, ignore=SKIP_IN_COPY)  # the build never writes into the clone
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(tmp_path / "dist"), str(source)],
         timeout=300)
    wheels = list((tmp_path / "dist").glob("labkit-*.whl"))
    assert len(wheels) == 1

    venv = tmp_path / "venv"
    base_python = getattr(sys, "_base_executable", None) or sys.executable
    _run([base_python, "-m", "venv", str(venv)], timeout=120)
    assert "include-system-site-packages = false" in (venv / "pyvenv.cfg").read_text()
    _run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", str(wheels[0])], timeout=600)

    empty = tmp_path / "empty"
    empty.mkdir()
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("LABKIT_", "PYTHON", "VIRTUAL_ENV"))}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    labkit = str(venv / "bin" / "labkit")

    where = _run([str(venv / "bin" / "python"), "-c", "import labkit; print(labkit.__file__)"], env=env, cwd=empty)
    assert where.stdout.strip().startswith(str(venv)), where.stdout  # the installed copy, not the repository

    generated = _run([labkit, "generate", "customer360", "-n", "3"], env=env, cwd=empty, timeout=120)
    assert len(generated.stdout.strip().splitlines()) == 3

    course = empty / "partial-recovery"
    _run([labkit, "notebooks", "--out", str(course)], env=env, cwd=empty, timeout=120)
    assert sorted(p.name for p in course.glob("*.ipynb")) == ["01-overview.ipynb", "02-setup.ipynb",
                                                             "03-execute.ipynb"]
    assert "# YOUR CODE HERE" in (course / "03-execute.ipynb").read_text()  # the learner's version

    run = _run([labkit, "run", "partial-recovery"], env=env, cwd=empty, timeout=600)
    assert "points: 75/75" in run.stdout, run.stdout
    runs = empty / "labkit-runs"
    loose = [f"{oct(stat.S_IMODE(p.lstat().st_mode))} {p}" for p in [runs, *runs.rglob("*")]
             if not p.is_symlink() and not stat.S_ISSOCK(p.lstat().st_mode) and stat.S_IMODE(p.lstat().st_mode) & 0o077]
    assert not loose, "readable by others:\n" + "\n".join(loose[:20])
    assert sorted(p.name for p in empty.iterdir()) == ["labkit-runs", "partial-recovery"]
