"""Bad input ends in one line that says what is wrong, exit 1, never a traceback (issue 23, point 7).

A workspace state of the wrong shape, numbers beyond what BSON holds in export's options and query,
an export to a full disk; then property-based tests (hypothesis) over the state file and over the
command line's numeric and JSON options.
"""
from __future__ import annotations

import json
import traceback
import os
import subprocess
import uuid
from pathlib import Path

import psutil
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


# --- property-based: whatever the state file or an option holds, a message and never a traceback -------

from click.testing import CliRunner  # noqa: E402
from hypothesis import HealthCheck, assume, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from labkit.cli import main as labkit_main  # noqa: E402

PROPERTY = settings(max_examples=60, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

# JSON values as a damaged or hand-edited file may hold them: huge and negative numbers, NaN, deep nesting.
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=12)
NOT_RUNNING = 2**22 + 17  # above Linux's largest pid: a record of it names no process (nothing may be signalled)


def _valid_state(path: str) -> dict:
    server = {"kind": "embedded", "port": 40000, "pid": NOT_RUNNING, "marker": f"{path}/main/data", "auth": True,
              "username": "labkit", "storage": f"{path}/main/data", "log": f"{path}/main/server.log"}
    return {"version": 1, "lab": "partial-recovery", "created": "2026-01-01T00:00:00.000Z", "up": True, "path": path,
            "deployments": {"main": server, "temp": {**server, "port": 40001}},
            "processes": {"workload": {"pid": NOT_RUNNING, "marker": f"--labkit-process={path}/workload",
                                       "args": ["python", "-m", "labkit.workload.loop"], "log": f"{path}/logs/w.log",
                                       "started": "2026-01-01T00:00:00.000Z", "stop_rank": 10,
                                       "restart_on_up": False, "stop_timeout": 15}},
            "workload": {"run_id": "r", "rate": 10, "db": "test", "collection": "customers"}}


@st.composite
def damaged_states(draw, path: str):
    """A valid state with a few values replaced (at any depth, by anything JSON holds), or any JSON at all."""
    if draw(st.booleans()):
        return draw(json_values)
    state = _valid_state(path)
    for _ in range(draw(st.integers(1, 3))):
        node = state  # walk down from the top, then replace the value at the place reached
        while True:
            key = draw(st.sampled_from(list(node) if isinstance(node, dict) else list(range(len(node)))))
            child = node[key]
            if not child or not isinstance(child, (dict, list)) or draw(st.booleans()):
                node[key] = draw(json_values)
                break
            node = child
    return state


def _pids_in(value) -> list[int]:
    """Every number recorded under a "pid" key, at any depth."""
    if isinstance(value, dict):
        own = [value["pid"]] if isinstance(value.get("pid"), int) and not isinstance(value["pid"], bool) else []
        return own + [pid for child in value.values() for pid in _pids_in(child)]
    if isinstance(value, list):
        return [pid for child in value for pid in _pids_in(child)]
    return []


@pytest.fixture
def invoke(monkeypatch):
    """Run `labkit ARGS...` in this process (fast enough for hundreds of examples) and check the outcome:
    0, or 1 or 2 with a one-line message (``Error: ...`` / ``Failed: ...``), and never a traceback."""
    previous = os.umask(0o022)
    os.umask(previous)
    for key in list(os.environ):
        if key.startswith("LABKIT_"):
            monkeypatch.delenv(key, raising=False)

    def run(*args: str, ok=(0,)):
        try:
            result = CliRunner().invoke(labkit_main, list(args))
        finally:
            os.umask(previous)  # `labkit` sets 077 for itself
        assert result.exception is None or isinstance(result.exception, SystemExit), \
            (args, "".join(traceback.format_exception(result.exception)[-6:]))
        assert "Traceback" not in result.output, (args, result.output)
        assert result.exit_code in (*ok, 1, 2), (args, result.exit_code, result.output)
        if result.exit_code not in ok:
            messages = [line for line in result.stderr.splitlines() if line.startswith(("Error: ", "Failed: "))]
            assert messages, (args, result.stderr)
        return result

    return run


@PROPERTY
@given(data=st.data())
def test_any_state_file_gives_a_message_never_a_traceback(tmp_path_factory, invoke, data):
    folder = tmp_path_factory.mktemp("state")
    folder.chmod(0o700)
    path = folder / "ws"
    path.mkdir(mode=0o700)
    state = data.draw(damaged_states(str(path)))
    # No record may name a live process: `down` would stop it (a real one of ours, by chance).
    assume(all(pid <= 0 or not psutil.pid_exists(pid) for pid in _pids_in(state)))
    if isinstance(state, dict) and isinstance(state.get("deployments"), dict) and any(
            isinstance(r, dict) and r.get("kind") == "uri" for r in state["deployments"].values()):
        state["up"] = False  # a valid-looking uri deployment that is up would be contacted: not from a test
    (path / "state.json").write_text(json.dumps(state))
    w = ["--workspace", str(path)]
    for command in (["status"], ["status", "--json"], ["uri", "main"], ["workload", "status"], ["progress"],
                    ["down"]):
        invoke(*command, *w)
    invoke("down", "--purge", *w)
    assert not path.exists()


numbers = st.integers(min_value=-(2**80), max_value=2**80) | st.sampled_from([2**63 - 1, 2**63, -(2**63), -(2**63) - 1])
numeric_text = numbers.map(str) | st.floats().map(repr) | st.text(max_size=8)


def valid_or_not(low, high) -> st.SearchStrategy[str]:
    """Half the time a value the option takes (so the others' checks are reached too), else anything."""
    return st.integers(low, high).map(str) | numeric_text


def _json_text(value) -> str:
    return json.dumps(value, allow_nan=True)


# Documents as --query / --sort take them: plain JSON, Extended JSON wrappers with any payload, shell dialect.
wrappers = st.sampled_from(["$numberLong", "$numberInt", "$numberDouble", "$numberDecimal", "$date", "$oid",
                            "$timestamp", "$binary", "$regularExpression", "$minKey", "$exists", "$gt", "$in"])
documents = st.dictionaries(st.text(max_size=6), json_values | st.builds(lambda k, v: {k: v}, wrappers, json_values),
                            max_size=3)
query_text = (documents.map(_json_text) | json_values.map(_json_text) | st.text(max_size=30)
              | st.builds(lambda f, n: f'{{"d": {f}("{n}")}}',
                          st.sampled_from(["NumberLong", "NumberInt", "NumberDecimal", "ObjectId", "ISODate",
                                           "Timestamp", "BinData"]), numeric_text))


@pytest.fixture(scope="module")
def exported(server):
    name = server.new_db_name()
    server.client[name].people.insert_many([{"_id": i, "n": i} for i in range(5)])
    yield server.uri, name
    server.client.drop_database(name)
    server.client.drop_database("propdb")


@PROPERTY
@given(skip=valid_or_not(0, 10), limit=valid_or_not(0, 10), query=query_text, sort=query_text)
def test_export_options_give_a_message_never_a_traceback(exported, invoke, skip, limit, query, sort):
    uri, db = exported
    invoke("export", "--uri", uri, "-d", db, "-c", "people", "--skip", skip, "--limit", limit, "-q", query,
           "--sort", sort, "--quiet")


@PROPERTY
@given(query=query_text)
def test_export_query_alone_gives_a_message_never_a_traceback(exported, invoke, query):
    uri, db = exported
    invoke("export", "--uri", uri, "-d", db, "-c", "people", "-q", query, "--quiet", "--out", "/dev/null")


@PROPERTY
@given(batch=valid_or_not(1, 1000), workers=valid_or_not(0, 4), write_concern=query_text | numeric_text,
       line=query_text)
def test_import_options_give_a_message_never_a_traceback(exported, invoke, tmp_path_factory, batch, workers,
                                                         write_concern, line):
    uri, db = exported
    data = tmp_path_factory.mktemp("import") / "in.json"
    data.write_text(line + "\n")
    invoke("import", "--uri", uri, "-d", db, "-c", "imported", "--file", str(data), "--batchSize", batch,
           "-j", workers if not workers.isdigit() or int(workers) < 64 else "64", "--writeConcern", write_concern,
           "--quiet")


@PROPERTY
@given(number=valid_or_not(0, 20), seed=valid_or_not(0, 2**32))
def test_generate_numbers_give_a_message_never_a_traceback(invoke, number, seed):
    assume(not number.strip().isdigit() or int(number) <= 50)  # a valid large count would just run long
    invoke("generate", "customer360", "-n", number, "--seed", seed, "--quiet")


@PROPERTY
@given(rate=valid_or_not(1, 1000), duration=st.sampled_from(["0.05", "0.2"]) | numeric_text)
def test_insert_numbers_give_a_message_never_a_traceback(exported, invoke, rate, duration):
    uri, _ = exported
    try:
        assume(not 0 < float(duration) or float(duration) <= 0.3)  # a valid long run would just run long
    except ValueError:
        pass
    invoke("insert", "--uri", uri, "-d", "propdb", "-c", "ins", "--rate", rate, "--duration", duration)
