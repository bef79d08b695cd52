"""Bad input ends in one line that says what is wrong, exit 1, never a traceback (issue 23, point 7).

A workspace state of the wrong shape, numbers beyond what BSON holds in export's options and query,
an export to a full disk; then property-based tests (hypothesis) over the state file and over the
command line's numeric and JSON options.
"""
from __future__ import annotations

import json
import os
import subprocess
import uuid
from pathlib import Path

import pytest

from labkit.workspace import Workspace

SHAPES = {
    "a list": ([], "not a JSON object"),
    "a deployment without kind": (
        {"up": True, "deployments": {"main": {"port": 1234, "pid": None}}, "processes": {}},
        'deployments.main.kind is null, not "embedded" or "uri"'),
    "deployments as a list": (
        {"up": True, "deployments": [{"kind": "embedded", "port": 1234}], "processes": {}},
        "deployments is [{\"kind\": \"embedded\", \"port\": 1234}], not an object"),
    "a port that is not a number": (
        {"up": True, "deployments": {"main": {"kind": "embedded", "port": "abc", "pid": None, "auth": True}},
         "processes": {}},
        'deployments.main.port is "abc", not a port number'),
}


def _workspace_with_state(folder: Path, state) -> Path:
    path = folder / "ws"
    path.mkdir(mode=0o700)
    (path / "state.json").write_text(json.dumps(state))
    return path


@pytest.mark.parametrize("shape", list(SHAPES))
def test_a_state_of_the_wrong_shape_is_named(shape, tmp_path, labkit_cli, clean_env):
    state, problem = SHAPES[shape]
    path = _workspace_with_state(tmp_path, state)
    w = ["--workspace", str(path)]
    for command in (["status"], ["status", "--json"], ["up"], ["down"], ["uri", "main"],
                    ["export", "-c", "customers"], ["snapshot"], ["progress"]):
        result = labkit_cli(*command, *w)
        assert result.returncode == 1, (command, result.stdout, result.stderr)
        assert "Traceback" not in result.stderr, (command, result.stderr)
        assert f"The workspace state {path / 'state.json'} is damaged ({problem}). Run labkit down --purge" \
               in result.stderr, (command, result.stderr)
    assert set(os.listdir(path)) <= {"state.json", ".lock"}  # nothing was started or written
    assert json.loads((path / "state.json").read_text()) == state
    result = labkit_cli("down", "--purge", *w)  # the way out the message gives
    assert result.returncode == 0, result.stderr
    assert not path.exists()
