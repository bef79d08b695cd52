"""Deployments given by URI, bad inputs, and passwords that must never show."""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

import psutil
import pytest

from labkit import deploy, procs
from labkit.errors import ConfigError, DeploymentError
from labkit.uris import mask_uri, redact, validate_uri
from labkit.workspace import Workspace


def test_mask_uri():
    assert mask_uri("mongodb://u:p%40ss@h:1/db?x=1") == "mongodb://u:****@h:1/db?x=1"
    assert mask_uri("mongodb+srv://user:pw@cluster0.example.net") == "mongodb+srv://user:****@cluster0.example.net"
    assert mask_uri("mongodb://h:1/") == "mongodb://h:1/"
    assert redact("failed for mongodb://a:secret@h/ (secret)", "secret") == "failed for mongodb://a:****@h/ (****)"


@pytest.mark.parametrize("uri, words", [
    ("", "empty"),
    ("http://u:Zq9-secret@example.com", "must start with mongodb://"),
    ("mongodb://", "names no host"),
    ("mongodb://u:Zq9-secret@h:notaport/", "malformed"),
    ("mongodb://u:Zq9-secret@/", "names no host"),
])
def test_malformed_uris(uri, words):
    with pytest.raises(ConfigError, match=words) as info:
        validate_uri(uri, "Main connection string")
    assert "Zq9-secret" not in str(info.value)  # never the password, in any form


def test_malformed_uri_at_the_cli(tmp_path, labkit_cli):
    result = labkit_cli("up", "--workspace", str(tmp_path / "ws"),
                        "--main-uri", "mongodb://bob:hunter22@h:port/", "--temp-uri", "mongodb://h/")
    assert result.returncode == 1
    assert "malformed" in result.stderr and "hunter22" not in result.stderr + result.stdout
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "ws" / "state.json").exists() or not json.loads((tmp_path / "ws" / "state.json").read_text())["up"]


def test_only_one_uri_is_a_usage_error(tmp_path):
    with pytest.raises(DeploymentError, match="--temp-uri is missing"):
        Workspace(tmp_path / "ws").up(main_uri="mongodb://127.0.0.1:1/")


def test_unreachable_host_fails_with_the_ten_second_limit_named(tmp_path, labkit_cli):
    # The limit itself is the driver's server selection timeout (deploy.PURPOSES["check"]); the command
    # ends on its own (labkit_cli's timeout fails the test otherwise), whatever the machine's speed.
    assert deploy.PURPOSES["check"]["serverSelectionTimeoutMS"] == 10_000
    result = labkit_cli("up", "--workspace", str(tmp_path / "ws"),
                        "--main-uri", "mongodb://127.0.0.1:1/?replicaSet=rs0",
                        "--temp-uri", "mongodb://127.0.0.1:2/?replicaSet=rs0")
    assert result.returncode == 1
    assert "Cannot reach Main" in result.stderr and "within 10 s" in result.stderr
    assert "Traceback" not in result.stderr
    assert not _our_servers(tmp_path)


def _our_servers(root: Path) -> list[int]:
    return [int(p) for p in os.listdir("/proc") if p.isdigit() and str(root) in (procs.cmdline(int(p)) or "")]


def test_standalone_server_is_refused_as_main(tmp_path, server, labkit_cli):
    log = tmp_path / "standalone.log"
    proc = procs.spawn([deploy.server_binary(), "--host", "127.0.0.1", "--port", str(port := deploy.free_port()),
                        "--storage-path", str(tmp_path / "sa"), "--standalone"], log)
    try:
        deadline = time.monotonic() + 30
        while deploy.port_is_free(port) and time.monotonic() < deadline:
            time.sleep(0.1)
        result = labkit_cli("up", "--workspace", str(tmp_path / "ws"),
                            "--main-uri", f"mongodb://127.0.0.1:{port}/", "--temp-uri", server.uri)
        assert result.returncode == 1
        assert "Main must be a replica set: point-in-time restore needs an oplog" in result.stderr
    finally:
        procs.terminate(proc.pid)


def test_uri_deployments_with_password_never_show_it(tmp_path, auth_servers, labkit_cli, clean_env, stop_workspace):
    main_uri, temp_uri = auth_servers
    password = auth_servers.password
    path = tmp_path / "ws"
    env = dict(os.environ, LABKIT_MAIN_URI=main_uri, LABKIT_TEMP_URI=temp_uri)
    outputs = []
    stop_workspace(Workspace(path))
    result = labkit_cli("up", "--workspace", str(path), env=env)
    outputs.append(result.stdout + result.stderr)
    assert result.returncode == 0, result.stderr
    for args in (("status",), ("status", "--json")):
        result = labkit_cli(*args, "--workspace", str(path), env=env)
        assert result.returncode == 0
        outputs.append(result.stdout + result.stderr)
    assert "****" in outputs[0]
    status = json.loads(outputs[2])
    assert status["deployments"]["main"]["kind"] == "uri" and status["deployments"]["main"]["version"]

    # Another process without the environment variable gets a clear instruction, not a crash.
    bare = {k: v for k, v in os.environ.items() if not k.startswith("LABKIT_")}
    result = labkit_cli("status", "--workspace", str(path), env=bare)
    outputs.append(result.stdout + result.stderr)
    assert "LABKIT_MAIN_URI" in result.stdout

    ws = Workspace(path)
    clean_env.setenv("LABKIT_MAIN_URI", main_uri)
    clean_env.setenv("LABKIT_TEMP_URI", temp_uri)
    outputs.append(repr(ws.main) + repr(ws.temp) + str(ws.status()))
    assert ws.main.ping()

    result = labkit_cli("down", "--workspace", str(path), env=env)
    outputs.append(result.stdout + result.stderr)
    assert result.returncode == 0
    assert password in main_uri  # the premise: the URIs given carried it
    for text in outputs:
        assert password not in text
    for file in path.rglob("*"):
        if file.is_file():
            assert password.encode() not in file.read_bytes(), file


def test_wrong_password_is_explained(tmp_path, auth_servers):
    main_uri, temp_uri = auth_servers
    wrong = main_uri.replace(auth_servers.password, "not-the-password")
    assert wrong != main_uri
    with pytest.raises(DeploymentError, match="refused the connection") as info:
        Workspace(tmp_path / "ws").up(main_uri=wrong, temp_uri=temp_uri)
    assert "not-the-password" not in str(info.value)


def test_server_that_cannot_start_shows_its_output(tmp_path):
    first = deploy.start_embedded("main", tmp_path / "data", tmp_path / "first.log")
    try:  # a second server on the same storage cannot take WiredTiger's lock
        with pytest.raises(DeploymentError) as info:
            deploy.start_embedded("main", tmp_path / "data", tmp_path / "second.log")
    finally:
        deploy.stop_embedded(first)
    message = str(info.value)
    assert "Main's server exited during start-up" in message
    assert "Last lines of the server's output" in message and "(empty)" not in message


def test_cli_version_help_and_usage_errors(labkit_cli):
    result = labkit_cli("--version")
    assert result.returncode == 0 and "labkit" in result.stdout
    for command in ("up", "status", "down"):
        result = labkit_cli(command, "--help")
        assert result.returncode == 0 and "--workspace" in result.stdout
    result = labkit_cli("status", "--no-such-flag")
    assert result.returncode == 2
    result = labkit_cli("no-such-command")
    assert result.returncode == 2


def test_embedded_server_checkpoints_every_ten_seconds(server, monkeypatch, tmp_path):
    # A shorter checkpoint interval than SecantusDB's 60 s keeps the stall after a large import short.
    environ = psutil.Process(server.record["pid"]).environ()
    assert environ.get("SECANTUS_CHECKPOINT_SECONDS") == "10"
    assert server.client.admin.command("ping")["ok"] == 1
    # A value the user set wins over labkit's.
    monkeypatch.setenv("SECANTUS_CHECKPOINT_SECONDS", "33")
    record = deploy.start_embedded("temp", tmp_path / "data", tmp_path / "server.log")
    try:
        assert psutil.Process(record["pid"]).environ().get("SECANTUS_CHECKPOINT_SECONDS") == "33"
    finally:
        deploy.stop_embedded(record)


def test_redact_hides_a_password_also_percent_encoded():
    password = "p@ss:w/o?r#d[1]%2 x"
    text = ("auth failed for mongodb://odd:p%40ss%3Aw%2Fo%3Fr%23d%5B1%5D%252%20x@h/ "
            "(tried p%40ss%3Aw/o%3Fr%23d%5B1%5D%252%20x, then p%40ss%3Aw%2Fo%3Fr%23d%5B1%5D%252+x, then p@ss:w/o?r#d[1]%2 x)")
    shown = redact(text, password)
    assert "p@ss" not in shown and "p%40ss" not in shown and shown.count("****") == 4
    assert mask_uri(f"mongodb://odd:{'p%40ss%3Aw'}@h/") == "mongodb://odd:****@h/"
