"""A shared class server (issue 15): another user of the machine can neither get in nor read, nor take over.

Real embedded servers throughout. Tests that need a second OS user create one
(``useradd -M``), act as it in a forked child (``os.setuid``) and remove it; they
are skipped, saying why, when the tests do not run as root.
"""
from __future__ import annotations

import inspect
import json
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
from urllib.parse import quote, quote_plus
import time
import uuid
from pathlib import Path

import psutil
import pytest
from pymongo import MongoClient
from pymongo.errors import OperationFailure

from labkit import deploy, procs
from labkit.backup import Backup
from labkit.cli.workspace import SHELL_CONNECT
from labkit.workload import Workload
from labkit.workspace import CREDENTIALS_FILE, Workspace
from tests.conftest import down_if_up

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def open_folder():
    """A folder others may traverse (0755), as a careless home folder would be: labkit must protect itself."""
    folder = Path(tempfile.mkdtemp(prefix="labkit-shared-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def lab_in_open_folder(open_folder):
    ws = Workspace(open_folder / "ws")
    ws.up()
    yield ws
    try:
        ws.down()
    except Exception:
        pass


def _try_commands(port: int) -> dict:
    """What a client without credentials gets for each command (run as the other user)."""
    client = MongoClient(deploy.embedded_uri(port), serverSelectionTimeoutMS=3000)
    outcomes = {}
    commands = {
        "hello": {"hello": 1}, "ping": {"ping": 1}, "buildInfo": {"buildInfo": 1},
        "listDatabases": {"listDatabases": 1},
        "find": {"find": "customers", "filter": {}, "$db": "test"},
        "insert": {"insert": "customers", "documents": [{"x": 1}], "$db": "test"},
        "delete": {"delete": "customers", "deletes": [{"q": {}, "limit": 0}], "$db": "test"},
        "createUser": {"createUser": "evil", "pwd": "evil", "roles": ["root"]},
        "secantusAdmin.backupArchive": {"secantusAdmin.backupArchive": 1, "outputPath": "/tmp/stolen.tar.gz"},
        "secantusAdmin.restoreArchive": {"secantusAdmin.restoreArchive": 1, "archivePath": "/tmp/x.tar.gz",
                                         "targetDir": "/tmp/x", "allowExisting": True},
        "secantusAdmin.pruneOplog": {"secantusAdmin.pruneOplog": 1},
    }
    for name, command in commands.items():
        command = dict(command)
        db = command.pop("$db", "admin")
        try:
            client[db].command(command)
            outcomes[name] = "ok"
        except OperationFailure as exc:
            outcomes[name] = f"refused {exc.code}"
    client.close()
    return outcomes


def _readable(paths: list[str]) -> list[str]:
    """Which of ``paths`` the calling user can open (files) or list (folders)."""
    opened = []
    for path in paths:
        try:
            if os.path.isdir(path):
                os.listdir(path)
            else:
                with open(path, "rb") as f:
                    f.read(1)
            opened.append(path)
        except OSError:
            pass
    return opened


def _tree(root: Path) -> list[Path]:
    return [root, *sorted(root.rglob("*"))]


def assert_owner_only(root: Path) -> None:
    """Every folder under ``root`` is 0700 and every file 0600 (or stricter)."""
    loose = []
    for path in _tree(root):
        mode = path.lstat().st_mode
        if stat.S_ISLNK(mode) or stat.S_ISSOCK(mode):
            continue
        if stat.S_IMODE(mode) & 0o077:
            loose.append(f"{oct(stat.S_IMODE(mode))} {path}")
    assert not loose, "readable by others:\n" + "\n".join(loose[:30])


# --- SecantusDB's API that labkit relies on -------------------------------------------------


def test_secantus_storage_api_labkit_relies_on():
    """The provisioning process (deploy.PROVISION_SCRIPT) and the server flags use exactly this."""
    from importlib.metadata import version

    pin = re.search(r'"SecantusDB==([^"]+)"', (REPO / "pyproject.toml").read_text())
    assert pin, "pyproject.toml must pin SecantusDB exactly (==)"
    assert version("SecantusDB") == pin.group(1)

    from secantus import auth, cli, config
    from secantus.storage import Storage

    init = inspect.signature(Storage.__init__).parameters
    for name in ("path", "oplog_retention_seconds", "oplog_max_entries", "ttl_sweep_seconds", "durable"):
        assert name in init, f"Storage({name}=...) is gone"
    assert list(inspect.signature(Storage.add_user).parameters)[:4] == ["self", "db", "username", "record"]
    assert "replace" in inspect.signature(Storage.add_user).parameters
    assert callable(Storage.close) and callable(Storage.get_user)
    assert auth.SCRAM_SHA_256 == "SCRAM-SHA-256"
    assert "mechanism" in inspect.signature(auth.derive_credentials).parameters
    assert set(auth.derive_credentials("x", mechanism=auth.SCRAM_SHA_256).to_doc()) == {"SCRAM-SHA-256"}
    flags = {action.dest for action in cli.build_parser()._actions}
    assert {"config", "auth", "host", "port", "storage_path"} <= flags
    # An explicit --config turns off the lookup of ./secantusd.toml, ~/.secantus/..., /etc/secantus/...
    assert "explicit_path" in inspect.signature(config.load_config).parameters
    for key in ("host", "port", "storage_path", "log_level", "auth", "enable_test_commands"):
        assert key in config._TABLE_FIELDS["server"]
    assert {"retention_seconds", "max_entries"} <= config._TABLE_FIELDS["oplog"]
    # README says SecantusDB has no setting that slows or locks out failed logins (issue 23, point 8): if a
    # version adds one, this fails, so labkit's config turns it on and README says so.
    keys = {key for fields in config._TABLE_FIELDS.values() for key in fields}
    assert not {key for key in keys if any(word in key for word in ("lock", "delay", "fail", "attempt", "throttl"))}
    assert set(config._TABLE_FIELDS) == {"server", "oplog", "storage", "tls"}


def test_provisioned_user_before_first_listen(tmp_path):
    """The user exists in the storage before the server listens; the server never answers without a login."""
    storage = tmp_path / "main" / "data"
    record = deploy.start_embedded("main", storage, tmp_path / "main" / "server.log", password="pw-" + "x" * 20)
    try:
        assert record["auth"] is True
        anonymous = MongoClient(deploy.embedded_uri(record["port"]), serverSelectionTimeoutMS=3000)
        with pytest.raises(OperationFailure) as refused:
            anonymous.test.customers.insert_one({"x": 1})
        assert refused.value.code == 13
        anonymous.close()
        good = MongoClient(deploy.embedded_uri(record["port"], deploy.USERNAME, "pw-" + "x" * 20))
        assert good.admin.command("connectionStatus")["authInfo"]["authenticatedUsers"][0]["user"] == deploy.USERNAME
        good.close()
        # The server's own config file and folders are owner-only; it ran in its storage folder.
        assert stat.S_IMODE((storage.parent / "secantusd.toml").stat().st_mode) == 0o600
        assert psutil.Process(record["pid"]).cwd() == str(storage)
        assert_owner_only(storage)
    finally:
        deploy.stop_embedded(record)


# --- the workspace: logins, the one command that prints a password ----------------------------


def test_workspace_servers_refuse_anonymous_clients(fresh_lab, clean_env, labkit_cli):
    ws = fresh_lab
    port = ws.read()["deployments"]["main"]["port"]
    outcomes = _try_commands(port)
    assert {outcomes[name] for name in ("hello", "ping", "buildInfo")} == {"ok"}
    refused = {name: outcome for name, outcome in outcomes.items() if name not in ("hello", "ping", "buildInfo")}
    assert all(outcome == "refused 13" for outcome in refused.values()), refused
    ws.main.client.test.customers.insert_one({"x": 1})  # the workspace's own client logs in

    password = json.loads((ws.path / CREDENTIALS_FILE).read_text())["main"]
    assert stat.S_IMODE((ws.path / CREDENTIALS_FILE).stat().st_mode) == 0o600
    assert password not in ws.state_file.read_text()
    status = labkit_cli("status", "--workspace", str(ws.path))
    assert status.returncode == 0 and password not in status.stdout + status.stderr
    assert "labkit:****@" in status.stdout

    shown = labkit_cli("uri", "main", "--workspace", str(ws.path))
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.strip() == ws.main.uri and password in shown.stdout
    assert "password" in shown.stderr and password not in shown.stderr
    client = MongoClient(shown.stdout.strip())
    assert client.test.customers.count_documents({}) == 1
    client.close()


def test_another_user_can_neither_connect_nor_read(lab_in_open_folder, intruder, as_user, tmp_path, labkit_cli):
    ws = lab_in_open_folder
    ws.main.client.test.customers.insert_many([{"firstname": f"n{i}"} for i in range(10)])
    Backup(ws).enable()
    Backup(ws).snapshot(progress=False)
    export = labkit_cli("export", "--workspace", str(ws.path), "-d", "test", "-c", "customers",
                     "-o", str(ws.path / "exported.json"))
    assert export.returncode == 0, export.stderr

    port = ws.read()["deployments"]["main"]["port"]
    outcomes = as_user(intruder, _try_commands, port)
    assert {outcomes[name] for name in ("hello", "ping", "buildInfo")} == {"ok"}
    assert all(outcome == "refused 13" for name, outcome in outcomes.items()
               if name not in ("hello", "ping", "buildInfo")), outcomes

    assert_owner_only(ws.path)
    inside = [str(path) for path in _tree(ws.path)]
    assert as_user(intruder, _readable, inside) == []
    assert ws.main.client.test.customers.count_documents({}) == 10


class CommandLineWatch:
    """Every command line on the machine showing one of ``needles``, sampled every 20 ms until ``stop``."""

    def __init__(self, *needles: str):
        self.needles = needles
        self.seen: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        while not self._stop.is_set():
            for process in psutil.process_iter(["cmdline"]):
                line = " ".join(process.info["cmdline"] or [])
                self.seen.extend(line for needle in self.needles if needle in line)
            time.sleep(0.02)

    def stop(self) -> list[str]:
        """End the watch (again is harmless); returns what was seen."""
        self._stop.set()
        self._thread.join()
        return self.seen


def test_no_password_in_the_process_list(auth_servers, tmp_path, clean_env, stop_workspace, labkit_cli):
    """up, import and export with URI targets: the password never shows in any command line (ps)."""
    main_uri, temp_uri = auth_servers
    password = main_uri.split(":")[2].split("@")[0]
    watch = CommandLineWatch(password)
    env = dict(os.environ, CLASS_MAIN=main_uri, CLASS_TEMP=temp_uri)
    data = tmp_path / "in.json"
    data.write_text("".join(json.dumps({"_id": i, "firstname": f"n{i}"}) + "\n" for i in range(2000)))
    stop_workspace(Workspace(tmp_path / "ws"))  # its idle watcher and capture are stopped at teardown
    try:
        up = labkit_cli("up", "--workspace", str(tmp_path / "ws"), "--main-uri-env", "CLASS_MAIN",
                     "--temp-uri-env", "CLASS_TEMP", env=env)
        assert up.returncode == 0, up.stderr
        imported = labkit_cli("import", "--uri-env", "CLASS_MAIN", "-d", "psdb", "-c", "people", "--file", str(data),
                           env=env)
        assert imported.returncode == 0, imported.stderr
        exported = labkit_cli("export", "--uri-env", "CLASS_MAIN", "-d", "psdb", "-c", "people",
                           "-o", str(tmp_path / "out.json"), env=env)
        assert exported.returncode == 0, exported.stderr
        assert stat.S_IMODE((tmp_path / "out.json").stat().st_mode) == 0o600
        for result in (up, imported, exported):
            assert password not in result.stdout + result.stderr
            assert "Warning" not in result.stderr
        assert watch.stop() == []
        # A password typed as an argument works, with a warning.
        typed = labkit_cli("export", "--uri", main_uri, "-d", "psdb", "-c", "people", "-o", str(tmp_path / "o2.json"))
        assert typed.returncode == 0 and "Warning" in typed.stderr and password not in typed.stderr
    finally:
        watch.stop()
        MongoClient(main_uri).drop_database("psdb")


# --- port takeover ----------------------------------------------------------------------------


def _impostor_on(port: int, folder, wait_for) -> dict:
    """A server without authentication on ``port``: the killed server's socket may linger a moment
    on a busy machine, and start_embedded then picks another port, so wait and try again."""
    for attempt in range(20):
        wait_for(lambda: deploy.port_is_free(port), 60, f"port {port} to be free")
        record = deploy.start_embedded("impostor", folder / f"data{attempt}", folder / "log", port=port)
        if record["port"] == port:
            return record
        deploy.stop_embedded(record)
    raise AssertionError(f"could not start the impostor on port {port}")


def test_impostor_on_mains_port_is_refused_and_main_is_followed(fresh_lab, tmp_path, clean_env, wait_for, labkit_cli):
    ws = fresh_lab
    ws.main.client.test.customers.insert_many([{"firstname": f"n{i}"} for i in range(5)])
    Backup(ws).enable()
    Workload(ws).start(rate=20)
    wait_for(lambda: (Workload(ws).stats() or {}).get("acknowledged", 0) >= 10, 60, "10 inserts")

    main = ws.read()["deployments"]["main"]
    ws.main.close()
    os.kill(main["pid"], signal.SIGKILL)
    wait_for(lambda: not deploy.embedded_alive(main), 60, "Main to die")
    impostor = _impostor_on(main["port"], tmp_path / "impostor", wait_for)
    try:
        fake = MongoClient(deploy.embedded_uri(impostor["port"]))
        # Workload and capture meet the impostor, fail to log in, and say so.
        wait_for(lambda: "refused" in str((Workload(ws).stats() or {}).get("last_error", "")), 60,
                  "the workload to report the refusal")
        capture_state = ws.path / "backup" / "capture.json"
        wait_for(lambda: "refused" in str(json.loads(capture_state.read_text()).get("error")), 60,
                  "the capture to report the refusal")
        time.sleep(2)
        assert fake.test.customers.count_documents({}) == 0
        assert "test" not in fake.list_database_names()
        acknowledged = Workload(ws).stats()["acknowledged"]

        up = labkit_cli("up", "--workspace", str(ws.path))
        assert up.returncode == 0, up.stderr
        moved = ws.read()["deployments"]["main"]["port"]
        assert moved != main["port"]
        wait_for(lambda: Workload(ws).stats()["acknowledged"] >= acknowledged + 20, 60,
                  "inserts to resume on the real Main")
        wait_for(lambda: json.loads(capture_state.read_text()).get("tailing") is True, 60,
                  "the capture to follow Main")
        assert fake.test.customers.count_documents({}) == 0
        fake.close()
    finally:
        deploy.stop_embedded(impostor)
    report = Workload(ws).stop()
    assert report.ok, str(report)
    assert report.missing == 0 and report.duplicates == 0


# --- stray configuration ----------------------------------------------------------------------


def test_stray_secantusd_toml_changes_nothing(tmp_path, clean_env, labkit_cli):
    cwd, home = tmp_path / "cwd", tmp_path / "home"
    (home / ".secantus").mkdir(parents=True)
    cwd.mkdir()
    stray = '[server]\nauth = false\nenable_test_commands = true\nlog_level = "DEBUG"\n[oplog]\nmax_entries = 10\n'
    (cwd / "secantusd.toml").write_text(stray)
    (home / ".secantus" / "secantusd.toml").write_text(stray)
    env = dict(os.environ, HOME=str(home))
    up = labkit_cli("up", "--workspace", str(tmp_path / "ws"), env=env, cwd=cwd)
    ws = Workspace(tmp_path / "ws")
    try:
        assert up.returncode == 0, up.stderr
        port = ws.read()["deployments"]["main"]["port"]
        assert _try_commands(port)["find"] == "refused 13"  # auth stayed on
        with pytest.raises(OperationFailure) as no_test_commands:
            ws.main.client.admin.command("configureFailPoint", "failCommand", mode="off")
        assert no_test_commands.value.code in (59, 13)  # CommandNotFound: test commands stayed off
        ws.main.client.test.many.insert_many([{"n": i} for i in range(50)])
        assert ws.main.client.local["oplog.rs"].count_documents({"ns": "test.many"}) == 50  # max_entries = 10 ignored
        for pid in (ws.read()["deployments"][name]["pid"] for name in ("main", "temp")):
            assert "--config" in psutil.Process(pid).cmdline()
    finally:
        ws.down()


# --- upgrade ----------------------------------------------------------------------------------


def test_workspace_made_without_auth_is_migrated_by_up(tmp_path, clean_env, labkit_cli):
    """A workspace from before auth (servers running without a login) keeps its data through `up`."""
    path = tmp_path / "ws"
    path.mkdir(mode=0o700)
    records = {}
    for name in ("main", "temp"):
        (path / name).mkdir(mode=0o755)
        record = deploy.start_embedded(name, path / name / "data", path / name / "server.log")  # no auth: old labkit
        records[name] = {**record, "storage": str(path / name / "data"), "log": str(path / name / "server.log")}
        records[name].pop("auth")
    old_main = MongoClient(deploy.embedded_uri(records["main"]["port"]))
    old_main.test.customers.insert_many([{"firstname": f"n{i}"} for i in range(42)])
    old_main.close()
    (path / "state.json").write_text(json.dumps({"version": 1, "lab": "partial-recovery", "created": "2026-11-01",
                                                 "up": True, "deployments": records, "processes": {}}))
    ws = Workspace(path)
    try:
        assert ws.main.client.test.customers.count_documents({}) == 42  # still reachable as it was
        result = labkit_cli("up", "--workspace", str(path))
        assert result.returncode == 0, result.stderr
        assert "without authentication" in result.stderr
        fresh = Workspace(path)
        state = fresh.read()
        assert all(state["deployments"][name]["auth"] for name in ("main", "temp"))
        assert fresh.main.client.test.customers.count_documents({}) == 42
        assert _try_commands(state["deployments"]["main"]["port"])["find"] == "refused 13"
        assert not deploy.embedded_alive(records["main"])  # the old unauthenticated server is gone
        assert_owner_only(path / "main" / "data")
    finally:
        Workspace(path).down()
        for record in records.values():
            deploy.stop_embedded(record)


def test_a_password_with_reserved_characters_end_to_end(auth_servers, tmp_path, clean_env, stop_workspace,
                                                        labkit_cli):
    """A password holding @ : / ? # [ ] % and a space, percent-encoded in the URIs: up, status, import,
    export and a refused login work or fail cleanly, and only `labkit uri` ever shows it."""
    password = "p@ss:w/o?r#d[1]%2 x"
    forms = {password, quote(password, safe=""), quote(password), quote_plus(password)}
    admins = [MongoClient(uri) for uri in auth_servers]
    uris = []
    for admin, record in zip(admins, auth_servers.records):
        admin.admin.command("createUser", "odd", pwd=password, roles=["root"])
        uris.append(f"mongodb://odd:{quote(password, safe='')}@127.0.0.1:{record['port']}/"
                    "?directConnection=true&authSource=admin")
    env = dict(os.environ, ODD_MAIN=uris[0], ODD_TEMP=uris[1],
               WRONG=uris[0].replace(quote(password, safe=""), quote(password + "!", safe="")))
    watch = CommandLineWatch(*forms)
    ws = tmp_path / "ws"
    stop_workspace(Workspace(ws))
    data = tmp_path / "in.json"
    data.write_text("".join(json.dumps({"_id": i}) + "\n" for i in range(50)))
    try:
        results = [labkit_cli("up", "--workspace", str(ws), "--main-uri-env", "ODD_MAIN", "--temp-uri-env", "ODD_TEMP",
                              env=env)]
        results.append(labkit_cli("status", "--workspace", str(ws), env=env))
        results.append(labkit_cli("import", "--uri-env", "ODD_MAIN", "-d", "odddb", "-c", "c", "--file", str(data),
                                  env=env))
        results.append(labkit_cli("export", "--uri-env", "ODD_MAIN", "-d", "odddb", "-c", "c",
                                  "-o", str(tmp_path / "out.json"), env=env))
        assert [r.returncode for r in results] == [0, 0, 0, 0], [r.stderr for r in results]
        assert "odd:****@127.0.0.1" in results[1].stdout
        refused = labkit_cli("export", "--uri-env", "WRONG", "-d", "odddb", "-c", "c", env=env)
        assert refused.returncode == 1 and "Traceback" not in refused.stderr
        results.append(refused)
        for result in results:
            for form in forms | {quote(password + "!", safe=""), password + "!"}:
                assert form not in result.stdout + result.stderr, (form, result.args)
        shown = labkit_cli("uri", "main", "--workspace", str(ws), env=env)
        assert shown.returncode == 0 and shown.stdout.strip() == uris[0]  # the one command that prints it
        assert watch.stop() == []
    finally:
        watch.stop()
        for admin in admins:
            admin.drop_database("odddb")
            admin.admin.command("dropUser", "odd")
            admin.close()


# --- mongosh without the password on its command line (issue 23, point 1) ---------------------------

STANDIN = '''#!{python}
"""A stand-in for mongosh: records its arguments, its environment and what descriptor 3 holds."""
import json, os, sys
try:
    fd3 = os.read(3, 65536).decode()
except OSError as exc:
    fd3 = f"unreadable: {{exc}}"
with open(os.environ["STANDIN_RECORD"], "w") as f:
    json.dump({{"argv": sys.argv, "env": dict(os.environ), "fd3": fd3}}, f)
'''


def _real_mongosh() -> str | None:
    """mongosh from `make mongosh` (npm, into .venv/mongosh), else one on PATH."""
    local = REPO / ".venv" / "mongosh" / "node_modules" / ".bin" / "mongosh"
    return str(local) if os.access(local, os.X_OK) else shutil.which("mongosh")


def test_labkit_shell_hands_mongosh_the_connection_string_through_a_pipe(fresh_lab, tmp_path, clean_env, labkit_cli,
                                                                       wait_for):
    """With a stand-in that records what it is given: the password is on no command line and in no
    environment variable; descriptor 3 carries the full connection string, read by the first --eval."""
    ws = fresh_lab
    password = json.loads((ws.path / CREDENTIALS_FILE).read_text())["main"]
    standin = tmp_path / "mongosh"
    standin.write_text(STANDIN.format(python=sys.executable))
    standin.chmod(0o700)
    record = tmp_path / "record.json"
    env = dict(os.environ, STANDIN_RECORD=str(record))
    watch = CommandLineWatch(password)
    try:
        shown = labkit_cli("shell", "main", "--workspace", str(ws.path), "--mongosh", str(standin), env=env)
        assert shown.returncode == 0, shown.stderr
        seen = json.loads(record.read_text())
        assert seen["argv"] == [str(standin), "--nodb", "--eval", SHELL_CONNECT, "--shell"]
        assert seen["fd3"] == ws.main.uri and password in seen["fd3"]
        assert not [key for key, value in seen["env"].items() if password in value]
        # Arguments after -- reach mongosh; with --eval it runs and exits (no --shell added).
        shown = labkit_cli("shell", "temp", "-w", str(ws.path), "--", "--quiet", "--eval", "db.x.find()",
                           env=dict(env, LABKIT_MONGOSH=str(standin)))
        assert shown.returncode == 0, shown.stderr
        seen = json.loads(record.read_text())
        assert seen["argv"][1:] == ["--nodb", "--eval", SHELL_CONNECT, "--quiet", "--eval", "db.x.find()"]
        assert seen["fd3"] == ws.temp.uri
        assert watch.stop() == []
    finally:
        watch.stop()
    # What README used to say, mongosh "$(labkit uri main)", put it where the watch sees it (so it can see).
    old_way = CommandLineWatch(password)
    try:
        sleeper = subprocess.Popen([sys.executable, "-c", "import sys, time; time.sleep(60)",
                                    labkit_cli("uri", "main", "-w", str(ws.path)).stdout.strip()])
        try:
            wait_for(lambda: old_way.seen, what="the watch to see a password given as an argument")
        finally:
            sleeper.kill()
            sleeper.wait()
    finally:
        old_way.stop()
    missing = labkit_cli("shell", "main", "-w", str(ws.path), env=dict(os.environ, PATH=str(tmp_path / "empty")))
    assert missing.returncode == 1 and "mongosh is not installed" in missing.stderr and "npm install -g mongosh" \
        in missing.stderr and "Traceback" not in missing.stderr


def test_labkit_shell_with_the_real_mongosh(fresh_lab, tmp_path, clean_env, labkit_cli):
    """The real mongosh logs in, answers, and never shows the password to ps or writes it in its files."""
    mongosh = _real_mongosh()
    if not mongosh:
        pytest.skip("mongosh is not installed: `make mongosh` installs it from npm into .venv/mongosh "
                    "(the stand-in test above still checks what labkit hands it)")
    ws = fresh_lab
    ws.main.client.test.customers.insert_many([{"firstname": f"n{i}"} for i in range(7)])
    password = json.loads((ws.path / CREDENTIALS_FILE).read_text())["main"]
    home = tmp_path / "home"  # mongosh's log, history and config land here, to be searched afterwards
    home.mkdir(mode=0o700)
    env = dict(os.environ, HOME=str(home), LABKIT_MONGOSH=mongosh)
    watch = CommandLineWatch(password)
    try:
        counted = labkit_cli("shell", "main", "-w", str(ws.path), "--", "--quiet", "--eval",
                             "db.customers.countDocuments({firstname: {$exists: true}})", env=env)
        assert counted.returncode == 0, counted.stderr
        assert counted.stdout.strip() == "7"
        typed = labkit_cli("shell", "main", "-w", str(ws.path), "--", "--quiet", env=env,
                           input="db.runCommand({connectionStatus: 1}).authInfo.authenticatedUsers[0].user\n"
                                 "db.customers.insertOne({_id: 'typed'}).acknowledged\nexit\n")
        assert typed.returncode == 0, typed.stderr
        assert "labkit" in typed.stdout and "true" in typed.stdout
        assert ws.main.client.test.customers.count_documents({"_id": "typed"}) == 1
        assert watch.stop() == []
    finally:
        watch.stop()
    for output in (counted, typed):
        assert password not in output.stdout + output.stderr
    leaked = [str(path) for path in home.rglob("*") if path.is_file() and password.encode() in path.read_bytes()]
    assert leaked == []


def test_no_documented_command_puts_a_password_on_a_command_line():
    """README, docs, notebooks, lab data and every command's help: no `$(labkit uri ...)` in an argument."""
    from click.testing import CliRunner

    from labkit.cli import main

    texts = {str(path): path.read_text() for pattern in ("README.md", "docs/*.md", "notebooks/**/*.ipynb",
                                                        "labkit/data/labs/*.json", "bench/README.md")
             for path in REPO.glob(pattern)}
    for name, command in main.commands.items():
        texts[f"labkit {name} --help"] = CliRunner().invoke(main, [name, "--help"]).output
    offending = {name: re.findall(r".{0,40}\$\(labkit uri.{0,20}", text) for name, text in texts.items()}
    assert {name: found for name, found in offending.items() if found} == {}
    assert "labkit shell main" in texts[str(REPO / "README.md")]


# --- a shared folder: the workspace swapped for another user's (issue 23, point 3) --------------------


def _swap_in(workspace: str, port: int, moved_to: str | None) -> list[str]:
    """Run as the other user: (move the learner's workspace away and) put their own in its place, naming
    their server as Main, readable and writable by all so the learner's processes could write into it."""
    if moved_to:
        os.rename(workspace, moved_to)
    os.mkdir(workspace)
    os.chmod(workspace, 0o777)
    record = {"kind": "embedded", "port": port, "pid": None, "marker": "x", "auth": False}
    state = {"version": 1, "lab": "partial-recovery", "up": True, "path": workspace, "processes": {},
             "deployments": {"main": record, "temp": dict(record)}}
    with open(os.path.join(workspace, "state.json"), "w") as f:
        json.dump(state, f)
    os.chmod(os.path.join(workspace, "state.json"), 0o666)
    return sorted(os.listdir(workspace))


def _listing(folder: str) -> list[str]:
    return sorted(str(path.relative_to(folder)) for path in Path(folder).rglob("*"))


@pytest.fixture
def intruder_server(make_os_user, open_folder):
    """The other user, and "their" embedded server without a login: (user, port, client). The server is
    started by the test (the other user cannot run this venv's Python, which may live under /root); what
    the other user does to the learner's folders is done as them. Test folders go in ``open_folder``,
    which the other user can reach."""
    user = make_os_user()
    record = deploy.start_embedded("intruder", open_folder / "intruder" / "data", open_folder / "intruder" / "log")
    client = MongoClient(deploy.embedded_uri(record["port"]), serverSelectionTimeoutMS=5000)
    try:
        yield user, record["port"], client
    finally:
        client.close()
        deploy.stop_embedded(record)


def test_a_workspace_in_a_shared_folder_is_refused_before_the_other_user_can_swap_it(intruder_server, as_user,
                                                                                     open_folder, clean_env,
                                                                                     labkit_cli):
    """The issue's attack, in a class share writable by everyone: the other user makes `partial-recovery/`
    first (or swaps it in), naming their server as Main; no labkit command of the learner uses it."""
    user, port, theirs = intruder_server
    shared = open_folder / "class-share"
    shared.mkdir()
    shared.chmod(0o777)  # without the sticky bit: anyone may rename or replace what is in it
    workspace = shared / "partial-recovery"
    before = as_user((user.uid, user.gid), _swap_in, str(workspace), port, None)
    w = ["--workspace", str(workspace)]
    for command in (["up"], ["status"], ["workload", "start"], ["insert", "--duration", "2"], ["snapshot"],
                    ["export", "-c", "customers"], ["import", "-c", "customers", "--file", "/dev/null"],
                    ["shell", "main"], ["down"]):
        result = labkit_cli(*command, *w)
        assert result.returncode == 1, (command, result.stdout, result.stderr)
        assert f"labkit does not keep a lab in {workspace}: " in result.stderr, (command, result.stderr)
        assert "Traceback" not in result.stderr
    assert _listing(str(workspace)) == before  # nothing of the learner's was written there
    assert theirs.list_database_names() == ["admin", "config", "local"] or "test" not in theirs.list_database_names()
    assert not procs.pids_with(str(workspace))


def test_a_folder_made_unsafe_while_the_lab_runs_is_no_longer_followed(intruder_server, as_user, open_folder,
                                                                       clean_env, wait_for, labkit_cli):
    """The lab runs (application and capture); a folder above the workspace becomes writable by everyone and
    the other user swaps the workspace for theirs. The application and the capture neither follow it nor
    write into it, say so in their logs, and carry on once the folder is safe again."""
    user, port, theirs = intruder_server
    base = open_folder / "course"
    base.mkdir(mode=0o755)
    ws = Workspace(base / "partial-recovery")
    ws.up()
    try:
        main = ws.main.client
        main.test.customers.insert_many([{"firstname": f"n{i}"} for i in range(5)])
        Backup(ws).enable()
        Workload(ws).start(rate=20)
        wait_for(lambda: (Workload(ws).stats() or {}).get("acknowledged", 0) >= 10, what="10 inserts")
        moved = base / "moved-away"
        logs = moved / "logs"  # the processes keep writing their logs through the files they opened

        base.chmod(0o777)  # e.g. a `chmod -R a+w` on the course folder
        swapped = as_user((user.uid, user.gid), _swap_in, str(ws.path), port, str(moved))
        wait_for(lambda: "Refused: " in (logs / "workload.log").read_text(), what="the application to refuse")
        wait_for(lambda: "refused: " in (logs / "capture.log").read_text(), what="the capture to refuse")
        refusal = [line for line in (logs / "workload.log").read_text().splitlines() if "Refused: " in line][0]
        assert f"{base} is writable by others (mode 0777)" in refusal or \
            f"{ws.path} belongs to another user (uid {user.uid})" in refusal, refusal
        # Main's storage moved with the folder (its server may fail): the application retries, and each
        # failure is when it used to re-read the workspace and follow it. Its next status line comes 10 s on.
        wait_for(lambda: "RETRYING" in (logs / "workload.log").read_text().split("Refused: ", 1)[1] or
                 " acknowledged, " in (logs / "workload.log").read_text().split("Refused: ", 1)[1],
                 what="a status line of the application after its refusal")
        assert _listing(str(ws.path)) == swapped  # nothing written into the other user's folder
        assert "test" not in theirs.list_database_names()
        status = labkit_cli("status", "--workspace", str(ws.path))
        assert status.returncode == 1 and "labkit does not keep a lab in" in status.stderr

        # The folder is made safe again and the workspace put back: both carry on.
        _put_back(ws.path, moved)
        base.chmod(0o755)
        logs = ws.path / "logs"
        wait_for(lambda: "safe again" in (logs / "workload.log").read_text(), what="the application to resume")
        wait_for(lambda: "safe again" in (logs / "capture.log").read_text(), what="the capture to resume")
        stats_written = (ws.path / "workload" / "stats.json").stat().st_mtime
        wait_for(lambda: (ws.path / "workload" / "stats.json").stat().st_mtime > stats_written,
                 what="the statistics to be written again")
        capture_state = ws.path / "backup" / "capture.json"
        saved = capture_state.stat().st_mtime
        wait_for(lambda: capture_state.stat().st_mtime > saved, what="the capture to write its state again")
        assert "test" not in theirs.list_database_names()
        for log in ("workload.log", "capture.log"):
            assert "Traceback" not in (logs / log).read_text()
        # (Main's server does not survive its storage being moved while it runs: the lab is restarted.)
        assert labkit_cli("down", "--workspace", str(ws.path)).returncode == 0
    finally:
        base.chmod(0o755)
        _put_back(ws.path, base / "moved-away")
        down_if_up(ws)


def _put_back(workspace: Path, moved: Path) -> None:
    """Remove the other user's folder and move the learner's workspace back (when it was moved)."""
    if moved.exists():
        shutil.rmtree(workspace, ignore_errors=True)
        os.rename(moved, workspace)


def test_labkit_runs_in_a_shared_folder_is_refused(tmp_path, labkit_cli, clean_env):
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    for command in (["run", "partial-recovery"], ["batch", "partial-recovery", "--grid", "customers=100,200"]):
        result = labkit_cli(*command, cwd=shared)
        assert result.returncode == 1, (command, result.stderr)
        assert f"labkit does not write a run in {shared / 'labkit-runs'}" in result.stderr, result.stderr
        assert f"{shared} is writable by others (mode 0777)" in result.stderr and "Traceback" not in result.stderr
    result = labkit_cli("run", "partial-recovery", "--output-dir", str(shared / "mine"))
    assert result.returncode == 1 and "labkit does not write a run in" in result.stderr
    assert list(shared.iterdir()) == []
