"""Main and Temp: the lab's two deployments.

*embedded*: a SecantusDB server (``secantusd-py``) started as its own process
on 127.0.0.1, a free port and its own storage directory, like ``mongod``.
*uri*: a replica set the learner already has, given by connection string.
Only this module knows how servers start and stop; everything else talks to a
``Deployment`` through its ``client``.
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pymongo
from pymongo import MongoClient
from pymongo.errors import OperationFailure, PyMongoError

from labkit import procs
from labkit.errors import DeploymentError
from labkit.files import mkdir_private
from labkit.uris import mask_uri, password_of, redact, validate_uri

LABELS = {"main": "Main", "temp": "Temp"}
SYSTEM_DATABASES = ("admin", "local", "config")
START_TIMEOUT = 30.0
CONNECT_TIMEOUT_MS = 10_000
# The capture process copies the oplog continuously; the server only has to
# keep enough of it for a lab's pauses (coffee breaks, a kernel restart).
OPLOG_MAX_ENTRIES = 2_000_000
OPLOG_RETENTION_SECONDS = 7 * 24 * 3600
CHECKPOINT_SECONDS = 10  # the embedded server's checkpoint interval (see start_embedded)


# Every client labkit opens, by what it is for: the timeouts and write options live here only.
# A busy server may answer heartbeats slowly and a timed-out heartbeat cancels a running query,
# so long-running readers (capture, transfer) shorten server selection only.
PURPOSES = {
    # Deployment.client: the learner's code, checks, restores' reads.
    "lab": {"serverSelectionTimeoutMS": CONNECT_TIMEOUT_MS, "tz_aware": True},
    # Is a server that is starting serving yet?
    "probe": {"serverSelectionTimeoutMS": 1_000, "connectTimeoutMS": 1_000},
    # Checking a replica set given by URI before the lab uses it.
    "check": {"serverSelectionTimeoutMS": CONNECT_TIMEOUT_MS, "connectTimeoutMS": CONNECT_TIMEOUT_MS},
    # Status and checks go on when a server is slow: a quick answer or none.
    "status": {"serverSelectionTimeoutMS": 3_000, "connectTimeoutMS": 3_000},
    # Live counts refresh every second: never hang 30 s on a stopped server; a count may scan 1.5 s.
    "widgets": {"serverSelectionTimeoutMS": 2_000, "connectTimeoutMS": 2_000, "socketTimeoutMS": 6_500,
                "tz_aware": True, "appname": "labkit-widgets"},
    # The application: every retry is ours, so it is counted and a duplicate-key answer can only mean
    # an earlier attempt of ours landed; w=majority + j: acknowledged means durable across a kill -9.
    "workload": {"serverSelectionTimeoutMS": 1_000, "connectTimeoutMS": 2_000, "socketTimeoutMS": 10_000,
                 "retryWrites": False, "w": "majority", "journal": True, "tz_aware": True,
                 "appname": "labkit-workload"},
    # Restore targets: replay is idempotent and a failed restore is rerun whole, while the embedded
    # server scans its record of every retryable write on each write (slow past 10,000).
    "restore": {"serverSelectionTimeoutMS": 5_000, "connectTimeoutMS": 5_000, "tz_aware": True,
                "retryWrites": False},
    # The oplog capture: SecantusDB may scan a big oplog to answer the resume query.
    "capture": {"serverSelectionTimeoutMS": 60_000, "connectTimeoutMS": 60_000},
    # Export and import: retryable writes off (see transfer/import_.py); options in the URI win.
    "transfer": {"serverSelectionTimeoutMS": CONNECT_TIMEOUT_MS, "retryWrites": False, "tz_aware": True},
}


def connect(uri: str, purpose: str, **overrides) -> MongoClient:
    """A client for ``purpose`` (a key of PURPOSES); options written in the URI win over its defaults."""
    given = _uri_options(uri)
    options = {key: value for key, value in PURPOSES[purpose].items() if key.lower() not in given}
    return MongoClient(uri, **{**options, **overrides})


def close_client(client: MongoClient) -> None:
    """``client.close()`` that never raises: closing ends the client's sessions on the server, which logs
    in first, and a server answering that login malformed makes the driver raise a plain KeyError."""
    try:
        client.close()
    except Exception:
        client.close()  # the sessions were taken off the client before the failure: this closes the rest


def _uri_options(uri: str) -> set[str]:
    """The option names (lower case) a connection string sets itself."""
    query = uri.partition("?")[2]
    return {pair.split("=", 1)[0].lower() for pair in query.split("&") if pair}


def driver_error(exc: BaseException, uri: str | None = None) -> str:
    """A driver error as one short line, without the driver's topology dump and without any password."""
    if not isinstance(exc, PyMongoError) and _raised_in_driver_login(exc):
        return f"the server answered the login in a way no MongoDB server does ({type(exc).__name__}: {exc})"
    text = str(exc).split(", Timeout:")[0].split(", full error:")[0]
    lines = text.splitlines()
    return redact(lines[0] if lines else type(exc).__name__, password_of(uri) if uri else None)


def auth_failed(exc: BaseException) -> bool:
    """The server refused our login, could not prove it knows the password, or answered the login in a
    way no MongoDB server does: not the server we mean."""
    if isinstance(exc, OperationFailure) and exc.code == 18:
        return True
    if isinstance(exc, PyMongoError):
        return "invalid signature" in str(exc).lower()
    return _raised_in_driver_login(exc)


_DRIVER_DIR = os.path.dirname(pymongo.__file__) + os.sep


def _raised_in_driver_login(exc: BaseException) -> bool:
    """A plain Python error (KeyError, ValueError...) from the driver's authentication code: pymongo
    reads a server's SCRAM replies without checking their shape, so a malformed one (``saslStart``
    answered ``{ok: 1, done: true}`` without ``payload``) surfaces as such an error, not a PyMongoError."""
    if not isinstance(exc, Exception):
        return False
    frame = exc.__traceback__
    while frame is not None:
        filename = frame.tb_frame.f_code.co_filename
        if filename.startswith(_DRIVER_DIR) and os.path.basename(filename) in ("auth.py", "auth_shared.py"):
            return True
        frame = frame.tb_next
    return False


def impostor_message(label: str, uri: str) -> str:
    """What to say when the server at ``uri`` refuses the workspace's login."""
    where = mask_uri(uri).split("@")[-1].split("/")[0]
    return (f"the server at {where} refused {label}'s login: it is not this workspace's {label} (did {label} stop "
            "and another program take its port?). Nothing is written there; waiting for labkit up to restart "
            f"{label}")


def cluster_time(client: MongoClient):
    """The server's current cluster time: at or after every acknowledged write (cheap: one ``hello``)."""
    hello = client.admin.command("hello")
    last_write = hello.get("lastWrite", {}).get("opTime", {}).get("ts")
    if last_write is not None:
        return last_write
    entry = client.local["oplog.rs"].find_one({}, sort=[("$natural", -1)], projection={"ts": 1})
    return entry["ts"] if entry else None


@dataclass
class Deployment:
    """One of the lab's deployments: ``name`` is "main" or "temp"."""

    name: str
    kind: str  # "embedded" or "uri"
    uri: str = field(repr=False)  # may carry a password: never print it
    _client: MongoClient | None = field(default=None, repr=False)

    @property
    def label(self) -> str:
        return LABELS.get(self.name, self.name)

    @property
    def display_uri(self) -> str:
        return mask_uri(self.uri)

    def __repr__(self) -> str:
        return f"Deployment({self.label}, kind={self.kind!r}, uri={self.display_uri!r})"

    @property
    def client(self) -> MongoClient:
        if self._client is None:
            self._client = connect(self.uri, "lab")
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def ping(self) -> bool:
        try:
            self.client.admin.command("ping")
            return True
        except PyMongoError:
            return False

    def user_namespaces(self) -> list[str]:
        names = []
        for db in self.client.list_database_names():
            if db in SYSTEM_DATABASES:
                continue
            for coll in sorted(self.client[db].list_collection_names()):
                if not coll.startswith("system."):
                    names.append(f"{db}.{coll}")
        return sorted(names)

    def describe(self) -> dict:
        """Server version, topology, oplog span and document counts per user namespace."""
        try:
            hello = self.client.admin.command("hello")
            version = self.client.server_info().get("version", "?")
            oplog = self.client.local["oplog.rs"]
            first = oplog.find_one({}, sort=[("$natural", 1)], projection={"ts": 1, "wall": 1})
            last = oplog.find_one({}, sort=[("$natural", -1)], projection={"ts": 1, "wall": 1})
            counts = {}
            for ns in self.user_namespaces():
                db, coll = ns.split(".", 1)
                counts[ns] = self.client[db][coll].estimated_document_count()
        except PyMongoError as exc:
            raise DeploymentError(f"Cannot describe {self.label} ({self.display_uri}): {driver_error(exc, self.uri)}") from None
        return {
            "deployment": self.label,
            "kind": self.kind,
            "uri": self.display_uri,
            "version": version,
            "topology": f"replica set {hello['setName']}" if hello.get("setName") else "standalone",
            "oplog_first": _oplog_time(first),
            "oplog_last": _oplog_time(last),
            "counts": counts,
        }


def _oplog_time(entry: dict | None) -> str | None:
    if not entry:
        return None
    ts = entry["ts"]
    return f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(ts.time))} ({ts.time}:{ts.inc})"


# --- embedded servers -------------------------------------------------------------------------


def server_binary() -> str:
    """The secantusd-py launcher installed beside this Python (the venv), else on PATH."""
    beside = Path(sys.executable).parent / "secantusd-py"
    if beside.exists():
        return str(beside)
    found = shutil.which("secantusd-py")
    if not found:
        raise DeploymentError(
            "The embedded server secantusd-py is not installed. Install labkit with its dependencies "
            "(make lab does this), or give --main-uri and --temp-uri to use your own replica sets."
        )
    return found


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # As the server binds (SO_REUSEADDR): a port left in TIME_WAIT by a killed server is reusable.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def embedded_uri(port: int, username: str | None = None, password: str | None = None) -> str:
    credentials = f"{username}:{password}@" if username else ""
    return f"mongodb://{credentials}127.0.0.1:{port}/?directConnection=true"


# --- authentication: the user exists before the server first listens ------------------------

USERNAME = "labkit"  # the root user of every embedded server labkit starts
# Run by the interpreter SecantusDB is installed in, in a short-lived process of its own (the server's
# GPL code never runs inside labkit's process). The request, password included, comes on stdin: never
# argv, never the environment. Uses SecantusDB's storage API (pinned exactly in pyproject.toml; the
# API is guarded by tests/test_security.py::test_secantus_storage_api_labkit_relies_on):
# Storage(path, ...), Storage.add_user(db, name, record, replace=), Storage.close(),
# secantus.auth.derive_credentials(password, mechanism=) -> .to_doc(), secantus.auth.SCRAM_SHA_256.
PROVISION_SCRIPT = """
import json, sys
from secantus.auth import SCRAM_SHA_256, derive_credentials
from secantus.storage import Storage
request = json.loads(sys.stdin.read())
user = request["username"]
store = Storage(request["storage"], oplog_retention_seconds=request["oplog_retention_seconds"],
                oplog_max_entries=request["oplog_max_entries"], ttl_sweep_seconds=0, durable=True)
try:
    record = {"_id": "admin." + user, "user": user, "db": "admin",
              "credentials": derive_credentials(request["password"], mechanism=SCRAM_SHA_256).to_doc(),
              "roles": [{"role": "root", "db": "admin"}], "mechanisms": [SCRAM_SHA_256]}
    store.add_user("admin", user, record, replace=True)
finally:
    store.close()
print("provisioned", user)
"""


def server_python() -> str:
    """The interpreter that runs secantusd-py (its launcher's #! line), else this one."""
    try:
        with open(server_binary(), "rb") as launcher:
            first = launcher.readline().decode(errors="replace").strip()
    except OSError:
        return sys.executable
    if first.startswith("#!"):
        interpreter = first[2:].strip().split()[0]
        if os.path.basename(interpreter).startswith("python") and os.access(interpreter, os.X_OK):
            return interpreter
    return sys.executable


def provision_user(storage: Path, password: str, username: str = USERNAME, log_path: Path | None = None) -> None:
    """Create (or reset) ``username`` with the root role in a stopped server's ``storage``.

    The server is not running (WiredTiger allows one opener), so the user exists before the
    server first listens with ``--auth``: there is no moment without authentication.
    """
    mkdir_private(storage)
    request = json.dumps({"storage": str(storage), "username": username, "password": password,
                          "oplog_retention_seconds": OPLOG_RETENTION_SECONDS, "oplog_max_entries": OPLOG_MAX_ENTRIES})
    try:
        done = subprocess.run([server_python(), "-c", PROVISION_SCRIPT], input=request, capture_output=True,
                              text=True, cwd=storage, env=server_env(), umask=0o077, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise DeploymentError(f"Could not create the lab's user in {storage}: {exc}") from None
    if done.returncode != 0:
        output = redact((done.stderr or done.stdout).strip(), password)
        last = "\n".join(output.splitlines()[-8:])
        raise DeploymentError(f"Could not create the lab's user in {storage} (is another server using this "
                              f"folder?):\n{last}")


def server_env() -> dict:
    """The environment of servers and provisioning: SecantusDB's test-only switches removed."""
    # Checkpoint every CHECKPOINT_SECONDS instead of SecantusDB's 60: a checkpoint after a large
    # import stalled the application's inserts for 300-600 ms; at 10 s stalls stay near 100 ms.
    # A variable the user set wins.
    env = {"SECANTUS_CHECKPOINT_SECONDS": str(CHECKPOINT_SECONDS), **os.environ}
    for key in list(env):
        if key.startswith("SECANTUS_TEST_"):  # e.g. SECANTUS_TEST_FAST_STORAGE turns off the journal
            del env[key]
    return env


def write_config(path: Path, storage: Path, port: int, auth: bool) -> Path:
    """The server's own config file: with --config SecantusDB reads no ./secantusd.toml, ~/.secantus/... or /etc/..."""
    text = (
        "# Written by labkit for this server; labkit rewrites it at every start.\n"
        "[server]\n"
        f'host = "127.0.0.1"\nport = {port}\nstorage_path = {json.dumps(str(storage))}\n'
        f'log_level = "WARNING"\nauth = {"true" if auth else "false"}\nenable_test_commands = false\n'
        "[oplog]\n"
        f"retention_seconds = {OPLOG_RETENTION_SECONDS}\nmax_entries = {OPLOG_MAX_ENTRIES}\n"
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with open(fd, "w") as f:
        f.write(text)
    os.chmod(path, 0o600)
    return path


def start_embedded(name: str, storage: Path, log_path: Path, port: int | None = None, auth: bool = False,
                   password: str | None = None) -> dict:
    """Start a server for ``name``; return its record (port, pid, marker). Raises DeploymentError.

    With ``password`` the user ``USERNAME`` is created in ``storage`` first and the server starts
    with ``--auth``: it never listens without authentication. ``auth`` alone starts with ``--auth``
    on storage whose users exist already. The server runs with umask 077, its storage folder as
    working directory and a config file written beside it (``secantusd.toml`` next to ``storage``).
    """
    label = LABELS.get(name, name)
    mkdir_private(storage)
    if password is not None:
        provision_user(storage, password)
        auth = True
    config = storage.parent / "secantusd.toml"
    attempts = 3
    for attempt in range(attempts):
        if port is None or not port_is_free(port):
            port = free_port()
        write_config(config, storage, port, auth)
        args = [
            server_binary(), "--config", str(config), "--host", "127.0.0.1", "--port", str(port),
            "--storage-path", str(storage),
        ]
        if auth:
            args.append("--auth")
        log_offset = log_path.stat().st_size if log_path.exists() else 0
        proc = procs.spawn(args, log_path, env=server_env(), cwd=storage)
        try:
            _wait_until_serving(proc, port, label, password)
        except _PortTaken:
            procs.terminate(proc.pid)
            port = None
            if attempt + 1 < attempts:
                continue
            raise DeploymentError(
                f"{label} could not start: every port tried was taken by another process. Free some ports and run labkit up again."
            ) from None
        except DeploymentError as exc:
            procs.terminate(proc.pid)
            output = _log_since(log_path, log_offset)
            raise DeploymentError(f"{exc}\nLast lines of the server's output ({log_path}):\n{output or '(empty)'}") from None
        return {"kind": "embedded", "port": port, "pid": proc.pid, "marker": str(storage), "auth": auth}
    raise AssertionError("unreachable")


class _PortTaken(Exception):
    pass


def _log_since(log_path: Path, offset: int, lines: int = 15) -> str:
    try:
        with open(log_path, "rb") as f:
            f.seek(offset)
            text = f.read().decode(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.rstrip().splitlines()[-lines:])


def _wait_until_serving(proc, port: int, label: str, password: str | None = None) -> None:
    """Until the server answers; with ``password``, until it accepts our login (so it is ours)."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        code = proc.poll()
        if code is not None:
            if not port_is_free(port) and code != 0:
                # Someone else grabbed the port between our check and the server's bind.
                raise _PortTaken()
            raise DeploymentError(f"{label}'s server exited during start-up with code {code}.")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                pass
        except OSError:
            time.sleep(0.1)
            continue
        client = connect(embedded_uri(port, USERNAME if password else None, password), "probe")
        try:
            client.admin.command("ping")
            return
        except OperationFailure as exc:
            if exc.code == 18:  # authentication failed: whoever answers on this port is not our server
                raise _PortTaken() from None
            time.sleep(0.1)
        except PyMongoError:
            time.sleep(0.1)
        finally:
            client.close()
    raise DeploymentError(f"{label}'s server did not answer ping within {START_TIMEOUT:.0f} s.")


def stop_embedded(record: dict, timeout: float = 15.0) -> None:
    if record.get("pid"):
        procs.stop_recorded(record, timeout)


def embedded_alive(record: dict) -> bool:
    return procs.recorded_alive(record)


# --- deployments given by URI -----------------------------------------------------------------


def unreachable(label: str, uri: str, exc: Exception, seconds: int, hint: str) -> DeploymentError:
    """The error for a server that did not answer: the driver's reason, never the password."""
    reason = driver_error(exc, uri)
    return DeploymentError(f"Cannot reach {label} at {mask_uri(uri)} within {seconds} s: {reason}. {hint}")


def check_replica_set(name: str, uri: str) -> None:
    """Reachable within 10 s and a replica set, else DeploymentError saying which and why."""
    label = LABELS.get(name, name)
    uri = validate_uri(uri, f"{label} connection string")
    client = connect(uri, "check")
    try:
        hello = client.admin.command("hello")
    except OperationFailure as exc:
        raise DeploymentError(
            f"{label} at {mask_uri(uri)} refused the connection: {redact(str(exc).split(', full error')[0], password_of(uri))}. "
            "Check the user name, password and authSource in the connection string."
        ) from None
    except PyMongoError as exc:
        raise unreachable(label, uri, exc, CONNECT_TIMEOUT_MS // 1000,
                          "Check the host, port, credentials and network access list.") from None
    finally:
        client.close()
    if not hello.get("setName"):
        raise DeploymentError(
            f"{label} must be a replica set: point-in-time restore needs an oplog. {mask_uri(uri)} is a standalone "
            "server; start it with --replSet (and rs.initiate()) or use an Atlas cluster."
        )
