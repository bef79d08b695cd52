"""The on-disk lab state: open, attach, up, status, down.

A workspace is a directory (default ``./.labkit/<lab>``; ``--workspace`` or
``LABKIT_WORKSPACE`` override it) holding ``state.json`` plus the embedded
servers' storage and logs, and whatever later steps keep there (workload
stats, the backup archive, marks, step results). Every process that opens the
same directory sees the same lab: notebook kernels, the CLI, tests.

``state.json`` never holds a password: a deployment given by URI is recorded
masked, with the name of the environment variable that holds the real string.
Embedded servers always require a login: their generated passwords live in
``credentials.json`` (owner-only), which only this module reads.
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
import shutil
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from labkit import deploy, procs
from labkit.deploy import LABELS, Deployment
from labkit.errors import DeploymentError, WorkspaceError
from labkit.files import (append_jsonl, make_tree_private, mkdir_private, now_iso, read_json, unsafe_folder,
                          write_json)
from labkit.uris import mask_uri, password_of

DEFAULT_TOPIC = "partial-recovery"  # the lab topic a workspace is for, unless told otherwise
STATE_FILE = "state.json"
CREDENTIALS_FILE = "credentials.json"  # the embedded servers' generated passwords: owner-only, never printed
URI_ENV = {"main": "LABKIT_MAIN_URI", "temp": "LABKIT_TEMP_URI"}
STATE_VERSION = 1
# Workspaces made before the backup package recorded the capture process under its old module name.
MOVED_MODULES = {"labkit.capture": "labkit.backup.capture"}


def resolve_path(path: str | os.PathLike | None = None, topic: str = DEFAULT_TOPIC) -> Path:
    if path:
        return Path(path).expanduser().absolute()
    if os.environ.get("LABKIT_WORKSPACE"):
        return Path(os.environ["LABKIT_WORKSPACE"]).expanduser().absolute()
    return Path.cwd() / ".labkit" / topic


class Workspace:
    """The lab's state directory. Cheap to construct; nothing starts until ``up``."""

    def __init__(self, path: str | os.PathLike | None = None, topic: str = DEFAULT_TOPIC):
        self.path = resolve_path(path, topic)
        self.topic = topic
        self._uris: dict[str, str] = {}  # real URIs given to this process (may hold passwords)
        self._deployments: dict[str, Deployment] = {}
        self._lock_depth = 0
        self._thread_lock = threading.RLock()
        self._lock_file = None

    def __repr__(self) -> str:
        return f"Workspace({str(self.path)!r})"

    # --- files and locking ------------------------------------------------------------------

    @property
    def state_file(self) -> Path:
        return self.path / STATE_FILE

    def exists(self) -> bool:
        self.require_safe()
        return self.state_file.exists()

    def require_safe(self) -> None:
        """Refuse a workspace another user could swap or change (see ``files.unsafe_folder``)."""
        reason = unsafe_folder(self.path)
        if reason:
            raise WorkspaceError(
                f"labkit does not keep a lab in {self.path}: {reason}, so another user of this machine could "
                "replace it with their own. Use a folder only you can change (under your home folder, or "
                "chmod go-w the folder named), with --workspace DIR or the LABKIT_WORKSPACE environment variable."
            )

    def ensure_dir(self, relative: str | None = None) -> Path:
        """Create the workspace (or a folder inside it) readable by the owner only."""
        self.require_safe()
        target = self.path / relative if relative else self.path
        try:
            mkdir_private(target)
            os.chmod(target, 0o700)
            # A probe of our own: processes opening the workspace at once must not unlink each other's.
            fd, probe = tempfile.mkstemp(prefix=".write-test-", dir=target)
            os.close(fd)
            os.unlink(probe)
        except OSError as exc:
            raise WorkspaceError(
                f"Cannot use {target} as a lab workspace: {exc.strerror or exc}. "
                "Choose a writable folder with --workspace or the LABKIT_WORKSPACE environment variable."
            ) from None
        return target

    @contextlib.contextmanager
    def locked(self):
        """Exclusive across processes (flock) and re-entrant within this object."""
        with self._thread_lock:
            if self._lock_depth == 0:
                self.ensure_dir()
                self._lock_file = open(self.path / ".lock", "a+")
                os.chmod(self.path / ".lock", 0o600)
                fcntl.flock(self._lock_file, fcntl.LOCK_EX)
            self._lock_depth += 1
            try:
                yield
            finally:
                self._lock_depth -= 1
                if self._lock_depth == 0:
                    fcntl.flock(self._lock_file, fcntl.LOCK_UN)
                    self._lock_file.close()
                    self._lock_file = None

    def read(self) -> dict:
        self.require_safe()
        try:
            text = self.state_file.read_text()
        except FileNotFoundError:
            return {"version": STATE_VERSION, "lab": self.topic, "created": now_iso(), "up": False,
                    "deployments": {}, "processes": {}}
        try:
            state = json.loads(text)
        except json.JSONDecodeError as exc:
            raise WorkspaceError(
                f"The workspace state {self.state_file} is damaged ({exc}). Run labkit down --purge and labkit up to start afresh."
            ) from None
        problem = "not a JSON object" if not isinstance(state, dict) else state_problem(state)
        if problem:
            raise WorkspaceError(
                f"The workspace state {self.state_file} is damaged ({problem}). "
                "Run labkit down --purge and labkit up to start afresh."
            )
        self._refuse_copy(state.get("path"))
        return state

    def _refuse_copy(self, made_at) -> None:
        """A workspace copied or moved from elsewhere names another lab's servers and passwords: never attach."""
        if made_at is None or made_at == str(self.path):
            return
        with contextlib.suppress(OSError, TypeError, ValueError):
            if os.path.samefile(made_at, self.path):
                return  # the same folder reached another way (a symbolic link)
        raise WorkspaceError(
            f"The lab workspace {self.path} was made at {made_at} and copied or moved here (a submission, a "
            "backup). Its servers and passwords belong to that lab, so labkit does not attach to it. Delete it "
            f"(labkit down --purge --workspace {self.path} deletes the folder and stops nothing), or move it back."
        )

    def write(self, state: dict) -> None:
        """Atomic: a reader sees the old state or the new one, never half of it."""
        self.ensure_dir()
        state["path"] = str(self.path)  # where it was made: a copy elsewhere is refused (``_refuse_copy``)
        write_json(self.state_file, state, indent=2, fsync=True)

    @property
    def busy_file(self) -> Path:
        return self.path / ".busy"

    @contextlib.contextmanager
    def busy(self):
        """Held while a restore or an import runs (shared: several may run): the idle stop waits for it."""
        self.ensure_dir()
        with open(os.open(self.busy_file, os.O_RDWR | os.O_CREAT, 0o600)) as handle:
            fcntl.flock(handle, fcntl.LOCK_SH)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    @contextlib.contextmanager
    def edit(self):
        """``with ws.edit() as state:`` read, change and save the state under the lock."""
        with self.locked():
            state = self.read()
            yield state
            self.write(state)

    # --- deployments ------------------------------------------------------------------------

    def is_up(self) -> bool:
        return self.exists() and bool(self.read().get("up"))

    def require_up(self) -> dict:
        state = self.read() if self.exists() else None
        if not state or not state.get("up"):
            raise WorkspaceError(f"The lab workspace {self.path} is not up. Start it with: labkit up --workspace {self.path}")
        return state

    @property
    def main(self) -> Deployment:
        return self.deployment("main")

    @property
    def temp(self) -> Deployment:
        return self.deployment("temp")

    def deployment(self, name: str) -> Deployment:
        if name not in LABELS:
            raise WorkspaceError(f"Unknown deployment {name!r}: use 'main' or 'temp'.")
        record = self.require_up()["deployments"].get(name)
        if not record:
            raise WorkspaceError(f"{LABELS[name]} is not part of this workspace. Run labkit up.")
        uri = self._real_uri(name, record)
        cached = self._deployments.get(name)
        if cached is not None and cached.uri == uri:
            return cached
        if cached is not None:
            # `labkit up` in another process moved this deployment (new port): drop the stale
            # client in the background, its close waits for a server that is gone.
            threading.Thread(target=cached.close, daemon=True).start()
        self._deployments[name] = Deployment(name, record["kind"], uri)
        return self._deployments[name]

    def _real_uri(self, name: str, record: dict) -> str:
        if record["kind"] == "embedded":
            if record.get("auth"):
                return deploy.embedded_uri(record["port"], record.get("username", deploy.USERNAME),
                                           self._password(name))
            return deploy.embedded_uri(record["port"])  # made before labkit turned auth on: `up` migrates it
        if not record.get("has_password"):
            return record["uri"]
        return self._secret(name, record)

    @property
    def credentials_file(self) -> Path:
        return self.path / CREDENTIALS_FILE

    def _credentials(self) -> dict[str, str]:
        """The stored passwords; a missing or damaged file holds none (``up`` then sets new ones)."""
        stored = read_json(self.credentials_file)
        if not isinstance(stored, dict):
            return {}
        return {name: value for name, value in stored.items() if isinstance(value, str) and value}

    def _password(self, name: str, create: bool = False) -> str:
        """The generated password of embedded ``name`` (made on first need with ``create``)."""
        stored = self._credentials()
        if stored.get(name):
            return stored[name]
        if not create:
            raise DeploymentError(
                f"{LABELS[name]}'s password is missing from {self.credentials_file}. Run labkit up: it sets a "
                "new one (your data stays)."
            )
        with self.locked():
            stored = self._credentials()
            stored[name] = secrets.token_urlsafe(24)  # about 144 bits, safe in a URI as it is
            write_json(self.credentials_file, stored, fsync=True)
        return stored[name]

    def _secret(self, name: str, record: dict) -> str | None:
        """The connection string or password that is deliberately kept out of state.json."""
        if not record.get("has_password"):
            return None
        env = record.get("uri_env") or URI_ENV[name]
        uri = self._uris.get(name) or os.environ.get(env)
        if not uri or mask_uri(uri) != record["uri"]:
            raise DeploymentError(
                f"{LABELS[name]}'s connection string carries a password, which labkit never stores. "
                f"Set the environment variable {env} to {record['uri']} (with the real password) and try again."
            )
        return password_of(uri) if record["kind"] == "embedded" else uri

    def _has_password(self, name: str) -> bool:
        return bool(self._credentials().get(name))

    def _serves_with_auth(self, name: str, record: dict) -> bool:
        """A running embedded server started with a login (older workspaces ran without)."""
        return bool(record.get("auth")) and self._has_password(name)

    def child_env(self) -> dict:
        """Environment for processes the workspace starts: real URIs travel here, never in argv."""
        env = dict(os.environ)
        env["LABKIT_WORKSPACE"] = str(self.path)
        state = self.read()
        for name in state.get("deployments", {}):
            env[URI_ENV[name]] = self.deployment(name).uri
        return env

    def up(self, main_uri: str | None = None, temp_uri: str | None = None, *,
           main_uri_env: str | None = None, temp_uri_env: str | None = None, progress=None) -> dict:
        """Start (or reconnect to) Main and Temp; restart anything found dead. Returns ``status()``."""
        say = progress or (lambda message: None)
        given = {"main": main_uri, "temp": temp_uri}
        if bool(main_uri) != bool(temp_uri):
            missing = "temp" if main_uri else "main"
            raise DeploymentError(
                f"Give both connection strings or neither: --{missing}-uri is missing. "
                "Without them labkit starts two embedded servers."
            )
        envs = {"main": main_uri_env or URI_ENV["main"], "temp": temp_uri_env or URI_ENV["temp"]}
        with self.edit() as state:
            started: list[tuple[str, dict]] = []
            legacy = any(record["kind"] == "embedded" and not record.get("auth")
                         for record in state["deployments"].values())
            try:
                # A server whose password is no longer stored (credentials.json deleted or damaged) runs with
                # a password nobody knows: it restarts with the new one made next.
                lost = {name for name, record in state["deployments"].items()
                        if record.get("kind") == "embedded" and record.get("auth") and not self._has_password(name)}
                # Passwords first, here: making one takes the workspace's lock, which this thread holds.
                passwords = {name: self._password(name, create=True) for name in ("main", "temp")
                             if not given[name] and state["deployments"].get(name, {}).get("kind") != "uri"}
                # Main and Temp come up side by side: each start waits seconds for its provisioning and login.
                with ThreadPoolExecutor(max_workers=2) as pool:
                    futures = [pool.submit(self._bring_up, name, state, given[name], envs[name], passwords.get(name),
                                           started, say, name in lost) for name in ("main", "temp")]
                for future in futures:
                    future.result()  # the first failure is raised, once both have finished
            except BaseException:
                for _, record in started:  # leave nothing running that the state does not know
                    deploy.stop_embedded(record)
                raise
            finally:
                self._deployments.clear()
            if legacy:  # made by a labkit that wrote files readable by others: make them the owner's only
                make_tree_private(self.path)
            state["up"] = True
            state["up_since"] = state.get("up_since") if not started else now_iso()
            self._restart_processes(state, say)
        return self.status()

    def _bring_up(self, name: str, state: dict, given: str | None, env: str, password: str | None, started: list,
                  say, password_lost: bool = False) -> None:
        """Check, reconnect to or start one deployment; record it in ``state`` (and what started in ``started``)."""
        record = state["deployments"].get(name)
        if given:
            if record and record["kind"] == "embedded" and deploy.embedded_alive(record):
                raise DeploymentError(
                    f"This workspace already runs an embedded {LABELS[name]}. Run labkit down first, "
                    "or use another --workspace for your own replica sets."
                )
            say(f"Checking {LABELS[name]} at {mask_uri(given)} ...")
            deploy.check_replica_set(name, given)
            self._uris[name] = given.strip()
            state["deployments"][name] = {
                "kind": "uri", "uri": mask_uri(given.strip()), "uri_env": env,
                "has_password": password_of(given) is not None,
            }
        elif record and record["kind"] == "uri":
            deploy.check_replica_set(name, self._real_uri(name, record))
        elif (record and deploy.embedded_alive(record) and self._serves_with_auth(name, record)
              and not password_lost):
            say(f"{LABELS[name]} is already running on port {record['port']}.")
        else:
            if record and deploy.embedded_alive(record) and password_lost:
                say(f"{LABELS[name]}'s password is no longer in {self.credentials_file}: restarting it with a new "
                    "password (its data stays) ...")
                deploy.stop_embedded(record)
            elif record and deploy.embedded_alive(record):
                # Made before labkit required a login: restart it with one, data intact.
                say(f"{LABELS[name]} runs without authentication: restarting it with a login "
                    "(its data stays) ...")
                deploy.stop_embedded(record)
            elif record:
                say(f"{LABELS[name]} was not running: restarting it with its data ...")
            else:
                say(f"Starting {LABELS[name]} (embedded server) ...")
            storage = self.ensure_dir(f"{name}/data")
            # The user is (re)created in the storage before the server listens, and the server
            # counts as started once it accepts that login: never a moment without authentication.
            fresh = deploy.start_embedded(
                name, storage, self.path / name / "server.log", port=(record or {}).get("port"), password=password,
            )
            state["deployments"][name] = {**(record or {}), **fresh, "username": deploy.USERNAME,
                                          "storage": str(storage),
                                          "log": str(self.path / name / "server.log")}
            started.append((name, fresh))
            say(f"{LABELS[name]} is up on port {fresh['port']}.")

    def down(self, purge: bool = False, progress=None) -> list[str]:
        """Stop every process the workspace started; with ``purge`` delete its data. Returns what was done."""
        say = progress or (lambda message: None)
        if not self.exists():
            raise WorkspaceError(f"There is no lab workspace at {self.path}: nothing to stop.")
        done = []
        with self.locked():
            if purge:
                self._refuse_purge_of_running_nested()
            try:
                state = self.read()
            except WorkspaceError:
                if not purge:
                    raise
                return self._purge_damaged(say)
            if not state.get("up") and not purge:
                raise WorkspaceError(f"The lab workspace {self.path} is not up: nothing to stop. Start it with labkit up.")
            for name, record in sorted(state.get("processes", {}).items(), key=lambda kv: kv[1].get("stop_rank", 50)):
                if record.get("pid") == os.getpid():  # the idle watchdog stopping the lab: it ends by itself
                    record["pid"] = None
                    continue
                if procs.recorded_alive(record):
                    say(f"Stopping {name} (pid {record['pid']}) ...")
                    procs.stop_recorded(record, record.get("stop_timeout", 15))
                    done.append(f"stopped {name}")
                record["pid"] = None
            for deployment in self._deployments.values():  # open connections slow a server's shutdown
                deployment.close()
            self._deployments.clear()
            running = {name: record for name, record in state.get("deployments", {}).items()
                       if record["kind"] == "embedded" and deploy.embedded_alive(record)}
            for name, record in running.items():
                say(f"Stopping {LABELS[name]} (pid {record['pid']}) ...")
                done.append(f"stopped {LABELS[name]}")
            with ThreadPoolExecutor(max_workers=2) as pool:  # graceful shutdowns take seconds: overlap them
                list(pool.map(deploy.stop_embedded, running.values()))
            for record in state.get("deployments", {}).values():
                record["pid"] = None
            state["up"] = False
            if purge:
                shutil.rmtree(self.path, ignore_errors=True)
                done.append(f"deleted {self.path}")
            else:
                self.write(state)
        return done

    def _refuse_purge_of_running_nested(self) -> None:
        """Deleting this folder would delete any other workspace inside it and leave its servers running."""
        for folder, _dirs, files in os.walk(self.path):
            # Its servers' storage and its processes' markers lie in its folder.
            if folder != str(self.path) and STATE_FILE in files and procs.pids_with(f"{folder}{os.sep}"):
                raise WorkspaceError(
                    f"{self.path} holds another lab workspace that is running, {folder}: stop it first with "
                    f"labkit down --workspace {folder} (nothing was stopped or deleted)."
                )

    def _purge_damaged(self, say) -> list[str]:
        """``down --purge`` with an unreadable state: stop whatever runs from this folder, then delete it."""
        done = []
        inside = f"{self.path}{os.sep}"  # servers' storage paths and processes' markers lie in the folder
        for pid in procs.pids_with(inside):  # only our own processes: never another user's
            say(f"Stopping pid {pid} ...")
            procs.terminate(pid)
            done.append(f"stopped pid {pid}")
        shutil.rmtree(self.path, ignore_errors=True)
        done.append(f"deleted {self.path}")
        return done

    # --- processes owned by the workspace ----------------------------------------------------

    def start_process(self, name: str, args: list[str], *, stop_rank: int = 50, restart_on_up: bool = False,
                      stop_timeout: float = 15, extra: dict | None = None) -> int:
        """Start ``args`` detached, with the real URIs in its environment; record it under ``name``."""
        marker = f"--labkit-process={self.path}/{name}"
        with self.edit() as state:
            record = state.setdefault("processes", {}).get(name)
            if record and procs.recorded_alive(record):
                raise WorkspaceError(f"{name} is already running (pid {record['pid']}).")
            log = self.ensure_dir("logs") / f"{name}.log"
            proc = procs.spawn([*args, marker], log, env=self.child_env(), cwd=self.path)
            state["processes"][name] = {
                "pid": proc.pid, "marker": marker, "args": args, "log": str(log), "started": now_iso(),
                "stop_rank": stop_rank, "restart_on_up": restart_on_up, "stop_timeout": stop_timeout,
                **(extra or {}),
            }
            return proc.pid

    def process_record(self, name: str) -> dict | None:
        return self.read().get("processes", {}).get(name)

    def process_alive(self, name: str) -> bool:
        record = self.process_record(name)
        return bool(record) and procs.recorded_alive(record)

    def stop_process(self, name: str, timeout: float | None = None) -> bool:
        """Stop ``name`` gracefully; False if it was not running."""
        with self.edit() as state:
            record = state.get("processes", {}).get(name)
            if not record or not procs.recorded_alive(record):
                return False
            procs.stop_recorded(record, timeout or record.get("stop_timeout", 15))
            record["pid"] = None
            return True

    def _restart_processes(self, state: dict, say) -> None:
        for name, record in state.get("processes", {}).items():
            if record.get("restart_on_up") and record.get("pid") is not None and not procs.recorded_alive(record):
                say(f"Restarting {name} ...")
                record["args"] = [MOVED_MODULES.get(arg, arg) for arg in record["args"]]
                env = dict(os.environ, LABKIT_WORKSPACE=str(self.path))
                for dep in state["deployments"]:
                    env[URI_ENV[dep]] = self._real_uri(dep, state["deployments"][dep])
                log = Path(record["log"])
                proc = procs.spawn([*record["args"], record["marker"]], log, env=env, cwd=self.path)
                record["pid"] = proc.pid
                record["started"] = now_iso()

    # --- the lab's event log (what happened when: the recovery timeline draws it) --------------

    @property
    def events_file(self) -> Path:
        return self.path / "events.jsonl"

    def log_event(self, kind: str, **details) -> dict:
        """Append an event (snapshot, mark, delete, restore, import, ...) with the current UTC time."""
        event = {"time": now_iso(), "kind": kind, **details}
        self.ensure_dir()
        append_jsonl(self.events_file, event)
        return event

    def events(self) -> list[dict]:
        try:
            lines = self.events_file.read_text().splitlines()
        except FileNotFoundError:
            return []
        return [json.loads(line) for line in lines if line.strip()]

    # --- status -----------------------------------------------------------------------------

    def status(self, describe: bool = True) -> dict:
        """What runs, where, and how it is doing. Never contains a password."""
        if not self.exists():
            return {"workspace": str(self.path), "exists": False, "up": False, "deployments": {}, "processes": {}}
        state = self.read()
        result = {"workspace": str(self.path), "exists": True, "lab": state.get("lab"), "up": bool(state.get("up")),
                  "deployments": {}, "processes": {}}
        for name, record in state.get("deployments", {}).items():
            entry = {"kind": record["kind"]}
            if record["kind"] == "embedded":
                entry.update(port=record["port"], pid=record.get("pid"), storage=record.get("storage"),
                             uri=mask_uri(deploy.embedded_uri(record["port"], record.get("username"),
                                                              "x" if record.get("has_password") else None)),
                             running=deploy.embedded_alive(record))
            else:
                entry.update(uri=record["uri"])
            if state.get("up") and describe and entry.get("running", True):
                try:
                    entry.update(self.deployment(name).describe())
                    entry["running"] = True
                except Exception as exc:  # status reports problems, it does not raise them
                    entry["running"] = entry.get("running", False) if record["kind"] == "embedded" else False
                    entry["error"] = str(exc).splitlines()[0]
            result["deployments"][name] = entry
        for name, record in state.get("processes", {}).items():
            result["processes"][name] = {"pid": record.get("pid"),
                                         "running": procs.recorded_alive(record),
                                         "started": record.get("started"), "log": record.get("log")}
        return result


# --- the shape of state.json: every field labkit reads, checked before anything uses it --------------

SECTIONS = ("deployments", "processes", "workload", "backup", "marks", "labrun", "steps", "idle_stop")


def state_problem(state: dict) -> str | None:
    """What is wrong with the shape of a workspace state (a JSON object), naming the field; None when fine."""
    for key in SECTIONS:
        if key in state and not isinstance(state[key], dict):
            return f"{key} is {_shown(state[key])}, not an object"
    for key in ("up",):
        if key in state and not isinstance(state[key], bool):
            return f"{key} is {_shown(state[key])}, not true or false"
    if state.get("path") is not None and not isinstance(state["path"], str):
        return f"path is {_shown(state['path'])}, not a folder name"
    for name, record in (state.get("deployments") or {}).items():
        problem = _deployment_problem(name, record)
        if problem:
            return problem
    for name, record in (state.get("processes") or {}).items():
        problem = _process_problem(name, record)
        if problem:
            return problem
    return None


def _deployment_problem(name: str, record) -> str | None:
    where = f"deployments.{name}"
    if name not in LABELS:
        return f"{where} is not a deployment labkit makes (main or temp)"
    if not isinstance(record, dict):
        return f"{where} is {_shown(record)}, not an object"
    kind = record.get("kind")
    if kind not in ("embedded", "uri"):
        return f"{where}.kind is {_shown(kind)}, not \"embedded\" or \"uri\""
    if kind == "embedded":
        port = record.get("port")
        if not _is_int(port) or not 0 < port < 65536:
            return f"{where}.port is {_shown(port)}, not a port number"
        expected = {"pid": (int, type(None)), "marker": (str, type(None)), "auth": (bool, type(None)),
                    "username": (str, type(None)), "storage": (str, type(None)), "log": (str, type(None)),
                    "has_password": (bool, type(None))}
    else:
        if not isinstance(record.get("uri"), str):
            return f"{where}.uri is {_shown(record.get('uri'))}, not a connection string"
        expected = {"has_password": (bool, type(None)), "uri_env": (str, type(None))}
    return _fields_problem(where, record, expected)


def _process_problem(name: str, record) -> str | None:
    where = f"processes.{name}"
    if not isinstance(record, dict):
        return f"{where} is {_shown(record)}, not an object"
    problem = _fields_problem(where, record, {
        "pid": (int, type(None)), "marker": (str, type(None)), "log": (str, type(None)),
        "restart_on_up": (bool, type(None)), "stop_rank": (int, float, type(None)),
        "stop_timeout": (int, float, type(None)), "args": (list, type(None))})
    if problem:
        return problem
    if any(not isinstance(arg, str) for arg in record.get("args") or ()):
        return f"{where}.args holds {_shown(next(a for a in record['args'] if not isinstance(a, str)))}, not text"
    if record.get("restart_on_up") and not (record.get("args") and record.get("log")):
        return f"{where} is restarted by labkit up but names no command (args) or log"
    return None


def _fields_problem(where: str, record: dict, expected: dict) -> str | None:
    for key, types in expected.items():
        value = record.get(key)
        if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
            wanted = " or ".join(_TYPE_NAMES[kind] for kind in types
                                 if kind is not type(None) and not (kind is int and float in types))
            return f"{where}.{key} is {_shown(value)}, not {wanted}"
        if isinstance(value, (int, float)) and not isinstance(value, bool) and key != "pid" and \
                not 0 <= value < float("inf"):
            return f"{where}.{key} is {_shown(value)}, not a number of 0 or more"
    return None


_TYPE_NAMES = {int: "a whole number", float: "a number", str: "text", bool: "true or false", list: "a list"}


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _shown(value) -> str:
    """A value as it stands in the JSON file, cut short."""
    text = json.dumps(value, default=str)
    return text if len(text) <= 40 else text[:37] + "..."


def state_stamp(path: str | os.PathLike) -> int | None:
    """Changes whenever the workspace's state does (cheap: one stat); None when it cannot be read."""
    try:
        return os.stat(Path(path) / STATE_FILE).st_mtime_ns
    except OSError:
        return None


class FolderGuard:
    """For a process that runs for hours in a workspace (the application, the capture): is the workspace
    still the folder it started in, and still one only its owner can change?

    A folder above it may become writable by others while the lab runs (a ``chmod`` on a shared folder);
    another user could then swap the workspace for one of their own, naming their server as Main. Such a
    process checks ``problem()`` before it follows the state or writes into the folder, and while there is
    one it does neither (it reports in its log, which it opened at its start).
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.identity = self._identity()

    def _identity(self) -> tuple[int, int] | None:
        try:
            info = os.stat(self.path)
        except OSError:
            return None
        return info.st_dev, info.st_ino

    def problem(self) -> str | None:
        """Why the process must not use the workspace now, or None."""
        reason = unsafe_folder(self.path)
        if reason:
            return f"{reason}, so another user of this machine could replace the workspace {self.path}"
        if self._identity() != self.identity:
            return f"{self.path} is no longer the workspace folder this process started in (moved or replaced)"
        return None


def current_uri(path: str | os.PathLike, name: str = "main") -> str | None:
    """Where ``name`` runs now, as the workspace at ``path`` records it; None while that cannot be read.

    Long-lived clients (the application, the capture, live counts) ask this after a failure:
    ``labkit up`` in another process may have restarted the server on another port.
    """
    try:
        return Workspace(path).deployment(name).uri
    except Exception:  # the workspace may be mid-restart: the caller keeps its URI and asks again later
        return None
