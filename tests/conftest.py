"""Shared fixtures: real embedded servers, started as their own processes.

``lab`` is one workspace (Main + Temp up) per test module, torn down after it;
``fresh_lab`` is a workspace per test, for tests that kill or break things.
``server`` is a single embedded server for the whole session, for tests that
only need somewhere to read and write (give each test its own database name).

Every process the suite starts carries ``SUITE_ENV`` in its environment (set
here, inherited by servers, the workload, the capture, kernels and `labkit`
commands). When the session ends, any such process still alive fails the run
and is named (then stopped), so a leak cannot hide behind a passing suite.
"""
from __future__ import annotations

import json
import os
import pwd
import shutil
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest
from pymongo import MongoClient

from labkit import deploy, procs
from labkit.workspace import Workspace

REPO = Path(__file__).resolve().parents[1]
LABKIT = str(Path(sys.executable).parent / "labkit")

# Not a LABKIT_* name: clean_env removes those, and this one must reach every child.
SUITE_ENV = "PYTEST_LABKIT_SUITE"
_OWNER = SUITE_ENV not in os.environ  # False inside a pytest that a test started: the outer one checks
SUITE_ID = os.environ.setdefault(SUITE_ENV, uuid.uuid4().hex)
LEAK_GRACE_S = 15  # a kernel or browser that is already exiting gets this long before it counts as a leak

# Timeouts: pytest-timeout (pyproject) is 300 s per test. A subprocess must time out first, so the test
# (not pytest) stops it and what it started; tests that run whole labs mark themselves longer.
COMMAND_TIMEOUT_S = 120


def stop_process_tree(proc: subprocess.Popen, grace: float = 60) -> None:
    """Stop a `labkit` command the test started, as a user would (Ctrl-C), then by force, with its children."""
    if proc.poll() is None:
        try:
            proc.send_signal(signal.SIGINT)  # labkit run/batch stop their workspaces on Ctrl-C
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            pass
    try:
        children = psutil.Process(proc.pid).children(recursive=True)
    except psutil.Error:
        children = []
    for child in children:
        procs.terminate(child.pid, timeout=5)
    if proc.poll() is None:
        proc.kill()
        proc.wait(timeout=30)


def run_labkit(*args: str, env: dict | None = None, input: str | None = None,
               timeout: float = COMMAND_TIMEOUT_S, cwd=None) -> subprocess.CompletedProcess:
    """Run the real `labkit` command; returns CompletedProcess with text stdout/stderr.

    On timeout the command is interrupted (and killed with its children) before the error is raised.
    """
    proc = subprocess.Popen([LABKIT, *args], stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=cwd)
    try:
        out, err = proc.communicate(input=input, timeout=timeout)
    except BaseException:
        stop_process_tree(proc)
        proc.communicate()
        raise
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


@pytest.fixture
def labkit_cli():
    return run_labkit


@pytest.fixture
def labkit_popen():
    """``labkit_popen(*args, env=None)`` starts the real `labkit` (stdout and stderr merged, text) without
    waiting; whatever is still running at teardown is interrupted, then killed with its children."""
    started: list[subprocess.Popen] = []

    def start(*args: str, env: dict | None = None) -> subprocess.Popen:
        proc = subprocess.Popen([LABKIT, *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                stdin=subprocess.DEVNULL, env=env)
        started.append(proc)
        return proc

    yield start
    for proc in started:
        stop_process_tree(proc)
        if proc.stdout:
            proc.stdout.close()


WAIT_S = 60  # a condition a test waits for: generous, so a busy machine only makes the test slower


def wait_until(predicate, timeout: float = WAIT_S, what: str | None = None, step: float = 0.05):
    """Poll ``predicate`` until it returns something true and return that; fail naming ``what`` at the deadline."""
    assert what, "wait_for needs what=...: the failure names what it waited for"
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(step)


@pytest.fixture(scope="session")
def wait_for():
    """``wait_for(predicate, timeout=60, what="...")``: the predicate's first true value, or a failure naming ``what``.
    Tests wait on conditions with generous deadlines, never on a fixed sleep."""
    return wait_until


@pytest.fixture(scope="session")
def values():
    """``values(spec, n=200, seed=7)``: what a template field ``spec`` generates over ``n`` documents."""
    from labkit.generate import generate

    def field_values(spec, n: int = 200, seed=7) -> list:
        return [doc["x"] for doc in generate({"x": spec}, n, seed=seed)]

    return field_values


@pytest.fixture(scope="session")
def labkit_exe() -> str:
    """Path of the real `labkit` command (for tests that need Popen)."""
    return LABKIT


def _up(path: Path) -> Workspace:
    ws = Workspace(path)
    try:
        ws.up()
    except BaseException:
        _down(ws)  # up stops what it started on failure; this catches anything else
        raise
    return ws


def _down(ws: Workspace) -> None:
    """Stop whatever the workspace still runs. A failure here is a test error, never swallowed."""
    if not ws.exists():
        return
    state = ws.read()
    if state.get("up"):
        ws.down(purge=False)
        return
    # Not marked up (a test stopped it), yet a server or process of its may still run.
    leftovers = [r for r in [*state.get("deployments", {}).values(), *state.get("processes", {}).values()]
                 if procs.recorded_alive(r)]
    for record in leftovers:
        procs.stop_recorded(record)
    assert not leftovers, f"the workspace {ws.path} was down but still ran {[r['pid'] for r in leftovers]}"


def down_if_up(ws: Workspace) -> None:
    """For a test's finally: stop a workspace the test brought up, whatever state it was left in."""
    _down(ws)


@pytest.fixture(scope="session")
def process_stopper():
    """``process_stopper(popen)``: interrupt, then kill, a command a module fixture started, with its children."""
    return stop_process_tree


@pytest.fixture(scope="session")
def down_workspace():
    """The teardown function itself, for module-scoped fixtures: ``down_workspace(ws)``."""
    return _down


@pytest.fixture
def stop_workspace():
    """``stop_workspace(ws)`` registers a workspace the test brings up; it is stopped at teardown."""
    started: list[Workspace] = []
    yield started.append
    errors = []
    for ws in reversed(started):
        try:
            _down(ws)
        except Exception as exc:  # stop the others, then report
            errors.append(f"{ws.path}: {exc}")
    assert not errors, errors


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    ws = _up(tmp_path_factory.mktemp("lab") / "ws")
    yield ws
    _down(ws)


@pytest.fixture
def fresh_lab(tmp_path):
    ws = _up(tmp_path / "ws")
    yield ws
    _down(ws)


class Server:
    def __init__(self, uri: str, record: dict):
        self.uri = uri
        self.record = record
        self.client = MongoClient(uri, tz_aware=True)

    def new_db_name(self) -> str:
        return f"t_{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("server")
    record = deploy.start_embedded("main", root / "data", root / "server.log")
    try:
        srv = Server(deploy.embedded_uri(record["port"]), record)
        yield srv
        srv.client.close()
    finally:
        deploy.stop_embedded(record)


@pytest.fixture
def db(server):
    """A fresh database on the session server, dropped afterwards."""
    name = server.new_db_name()
    yield server.client[name]
    server.client.drop_database(name)


@pytest.fixture
def clean_env(monkeypatch):
    """No LABKIT_* variables from the developer's shell leak into a test."""
    for key in list(os.environ):
        if key.startswith("LABKIT_"):
            monkeypatch.delenv(key, raising=False)
    return monkeypatch


AUTH_USER = "labadmin"
AUTH_PASSWORD = "Sup3r-S3cret-pw"


class AuthServers(tuple):
    """(main_uri, temp_uri), both carrying the password; ``.user``, ``.password`` and ``.records`` too."""

    user = AUTH_USER
    password = AUTH_PASSWORD
    records: list


def start_auth_server(name: str, root: Path, user: str = AUTH_USER, password: str = AUTH_PASSWORD) -> dict:
    """An embedded server with a root user, restarted with --auth (SecantusDB: createUser first, then --auth)."""
    record = deploy.start_embedded(name, root / "data", root / "server.log")
    try:
        client = MongoClient(deploy.embedded_uri(record["port"]))
        try:
            client.admin.command("createUser", user, pwd=password, roles=["root"])
        finally:
            client.close()
    finally:
        deploy.stop_embedded(record)
    return deploy.start_embedded(name, root / "data", root / "server.log", port=record["port"], auth=True)


@pytest.fixture(scope="session")
def auth_servers(tmp_path_factory):
    """Two embedded servers that require a password: (main_uri, temp_uri), both carrying it."""
    records = []
    try:
        for name in ("main", "temp"):
            records.append(start_auth_server(name, tmp_path_factory.mktemp(f"auth-{name}")))
        servers = AuthServers(deploy.embedded_uri(r["port"], AUTH_USER, AUTH_PASSWORD) + "&authSource=admin"
                              for r in records)
        servers.records = records
        yield servers
    finally:
        for record in records:
            deploy.stop_embedded(record)


# --- the session-end leak check ---------------------------------------------------------------------


# --- other OS users --------------------------------------------------------------------------


@dataclass(frozen=True)
class OSUser:
    name: str
    uid: int
    gid: int
    home: Path | None


@pytest.fixture
def make_os_user():
    """Make throw-away OS users (``make_os_user(home=None)``); each is removed afterwards with whatever
    it still runs (found by its uid, never by name). Skipped, saying why, when not root."""
    if os.geteuid() != 0:
        pytest.skip("needs root to create other OS users (useradd) and act as them")
    if not shutil.which("useradd") or not shutil.which("userdel"):
        pytest.skip("useradd/userdel are not installed")
    made: list[OSUser] = []

    def make(home: Path | None = None) -> OSUser:
        name = f"labkit-u{uuid.uuid4().hex[:8]}"
        subprocess.run(["useradd", "-M", "-s", "/usr/sbin/nologin", *(["-d", str(home)] if home else []), name],
                       check=True, capture_output=True)
        entry = pwd.getpwnam(name)
        user = OSUser(name, entry.pw_uid, entry.pw_gid, home)
        made.append(user)
        if home:
            home.mkdir(parents=True, exist_ok=True)
            os.chown(home, user.uid, user.gid)
            home.chmod(0o700)
        return user

    try:
        yield make
    finally:
        for user in made:
            for process in psutil.process_iter(["uids"]):
                if process.info["uids"] and process.info["uids"].real == user.uid:
                    procs.terminate(process.pid, uid=user.uid, timeout=5)
            subprocess.run(["userdel", user.name], capture_output=True)


@pytest.fixture
def intruder(make_os_user):
    """(uid, gid) of a throw-away OS user, removed afterwards."""
    user = make_os_user()
    return user.uid, user.gid


def _as_user(user: tuple[int, int], fn, *args):
    """Run ``fn(*args)`` in a forked child as ``user``; return its JSON-able result (or raise its error)."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: drop to the other user, never come back
        try:
            os.close(read_end)
            os.setgroups([])
            os.setgid(user[1])
            os.setuid(user[0])
            payload = json.dumps({"result": fn(*args)}, default=str)
        except BaseException as exc:  # noqa: BLE001 - reported to the parent
            payload = json.dumps({"error": f"{type(exc).__name__}: {exc}"})
        os.write(write_end, payload.encode())
        os._exit(0)
    os.close(write_end)
    chunks = []
    with os.fdopen(read_end, "rb") as pipe:
        while chunk := pipe.read(65536):
            chunks.append(chunk)
    os.waitpid(pid, 0)
    answer = json.loads(b"".join(chunks) or b'{"error": "no answer"}')
    if "error" in answer:
        raise AssertionError(f"as the other user: {answer['error']}")
    return answer["result"]


@pytest.fixture(scope="session")
def as_user():
    """``as_user((uid, gid), fn, *args)``: ``fn(*args)`` run in a forked child as that user, its result returned."""
    return _as_user


def suite_processes() -> list[psutil.Process]:
    """Live processes (not zombies, not this one or its ancestors) started by this test session."""
    own = {os.getpid(), *(p.pid for p in psutil.Process().parents())}
    found = []
    for process in psutil.process_iter(["pid"]):
        if process.pid in own:
            continue
        try:
            if process.status() == psutil.STATUS_ZOMBIE:
                continue
            if process.environ().get(SUITE_ENV) == SUITE_ID:
                found.append(process)
        except (psutil.Error, OSError):
            continue
    return found


def _describe(process: psutil.Process) -> str:
    try:
        return f"pid {process.pid}: {' '.join(process.cmdline())[:300]}"
    except psutil.Error:
        return f"pid {process.pid}"


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session, exitstatus):
    if not _OWNER or hasattr(session.config, "workerinput"):
        return
    deadline = time.monotonic() + LEAK_GRACE_S
    leaked = suite_processes()
    while leaked and time.monotonic() < deadline:
        for process in leaked:
            procs.reap(process.pid)
        time.sleep(0.2)
        leaked = suite_processes()
    if not leaked:
        return
    lines = [_describe(p) for p in leaked]
    for process in leaked:  # named, then stopped: the next run starts clean
        procs.terminate(process.pid, timeout=10)
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    message = (f"{len(lines)} process(es) started by the test suite were still running at the end "
               "(a test or fixture did not stop them):\n  " + "\n  ".join(lines))
    if reporter:
        reporter.write_line("")
        reporter.write_sep("=", "leaked processes", red=True)
        reporter.write_line(message)
    else:
        print(message, file=sys.stderr)
    session.exitstatus = pytest.ExitCode.TESTS_FAILED
