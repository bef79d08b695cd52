"""Shared fixtures: real embedded servers, started as their own processes.

``lab`` is one workspace (Main + Temp up) per test module, torn down after it;
``fresh_lab`` is a workspace per test, for tests that kill or break things.
``server`` is a single embedded server for the whole session, for tests that
only need somewhere to read and write (give each test its own database name).
"""
from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from pymongo import MongoClient

from labkit import deploy
from labkit.workspace import Workspace

REPO = Path(__file__).resolve().parents[1]
LABKIT = str(Path(sys.executable).parent / "labkit")


def run_labkit(*args: str, env: dict | None = None, input: str | None = None, timeout: float = 120):
    """Run the real `labkit` command; returns CompletedProcess with text stdout/stderr."""
    return subprocess.run([LABKIT, *args], capture_output=True, text=True, env=env, input=input, timeout=timeout)


@pytest.fixture
def labkit_cli():
    return run_labkit


def _up(path: Path) -> Workspace:
    ws = Workspace(path)
    ws.up()
    return ws


def _down(ws: Workspace) -> None:
    try:
        ws.down(purge=False)
    except Exception:
        pass


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
    srv = Server(deploy.embedded_uri(record["port"]), record)
    yield srv
    srv.client.close()
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


@pytest.fixture(scope="session")
def auth_servers(tmp_path_factory):
    """Two embedded servers that require a password: (main_uri, temp_uri), both carrying it."""
    records, uris = [], []
    for name in ("main", "temp"):
        root = tmp_path_factory.mktemp(f"auth-{name}")
        record = deploy.start_embedded(name, root / "data", root / "server.log")
        client = MongoClient(deploy.embedded_uri(record["port"]))
        client.admin.command("createUser", AUTH_USER, pwd=AUTH_PASSWORD, roles=["root"])
        client.close()
        deploy.stop_embedded(record)
        record = deploy.start_embedded(name, root / "data", root / "server.log", port=record["port"], auth=True)
        records.append(record)
        uris.append(deploy.embedded_uri(record["port"], AUTH_USER, AUTH_PASSWORD) + "&authSource=admin")
    yield tuple(uris)
    for record in records:
        deploy.stop_embedded(record)
