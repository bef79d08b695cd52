"""A server that answers the login with a malformed SCRAM reply on a dead Main's port (issue 23, point 2).

The application and the oplog capture must treat it as any server that refuses the workspace's
login: write and copy nothing, say so, keep running, and follow the real Main once `labkit up`
restarts it. The malformed server is a small real TCP server speaking the MongoDB wire protocol
(OP_QUERY / OP_MSG) in this test process; everything else is a real embedded server.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import struct
import threading

import bson
import pytest
from pymongo import MongoClient

from labkit import deploy, procs
from labkit.backup import Backup
from labkit.errors import DeploymentError
from labkit.workload import Workload
from labkit.workload.loop import check_reachable

OP_REPLY, OP_QUERY, OP_MSG = 1, 2004, 2013


class MalformedLoginServer:
    """Answers ``hello`` like a server that takes SCRAM-SHA-256, then ``saslStart`` with ``{ok: 1, done: true}``
    and no ``payload`` (which pymongo reads as ``res["payload"]``); any other command is refused. Every
    command it receives is recorded in ``commands``."""

    def __init__(self, port: int = 0):
        self.commands: list[str] = []
        self._sock = socket.socket()
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", port))
        self._sock.listen()
        self._sock.settimeout(0.2)
        self.port = self._sock.getsockname()[1]
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._accept, daemon=True)]
        self._threads[0].start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                continue
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, conn: socket.socket) -> None:
        conn.settimeout(0.5)
        with conn:
            while not self._stop.is_set():
                try:
                    head = conn.recv(16, socket.MSG_WAITALL)
                except socket.timeout:
                    continue
                except OSError:
                    return
                if len(head) < 16:
                    return
                length, request_id, _, opcode = struct.unpack("<iiii", head)
                conn.settimeout(None)
                body = conn.recv(length - 16, socket.MSG_WAITALL)
                conn.settimeout(0.5)
                if opcode == OP_QUERY:  # flags, "admin.$cmd\0", skip, limit, then the command
                    rest = body[4:]
                    rest = rest[rest.index(b"\0") + 1 + 8:]
                    command = bson.decode(rest[:struct.unpack("<i", rest[:4])[0]])
                elif opcode == OP_MSG:  # flags, section kind 0, then the command
                    command = bson.decode(body[5:5 + struct.unpack("<i", body[5:9])[0]])
                else:
                    return
                name = next(iter(command))
                self.commands.append(name)
                reply = bson.encode(self._answer(name))
                if opcode == OP_QUERY:
                    out = struct.pack("<iqii", 0, 0, 0, 1) + reply
                    conn.sendall(struct.pack("<iiii", 16 + len(out), 1, request_id, OP_REPLY) + out)
                else:
                    out = struct.pack("<I", 0) + b"\0" + reply
                    conn.sendall(struct.pack("<iiii", 16 + len(out), 1, request_id, OP_MSG) + out)

    @staticmethod
    def _answer(name: str) -> dict:
        if name.lower() in ("ismaster", "hello"):
            return {"ismaster": True, "isWritablePrimary": True, "helloOk": True, "minWireVersion": 0,
                    "maxWireVersion": 21, "maxBsonObjectSize": 16 * 1024 * 1024, "maxMessageSizeBytes": 48_000_000,
                    "maxWriteBatchSize": 100_000, "saslSupportedMechs": ["SCRAM-SHA-256"], "ok": 1.0}
        if name == "saslStart":
            return {"ok": 1.0, "done": True, "conversationId": 1}  # no payload: malformed
        return {"ok": 0.0, "errmsg": "command refused", "code": 13, "codeName": "Unauthorized"}

    def close(self) -> None:
        self._stop.set()
        self._sock.close()
        for thread in self._threads:
            thread.join(timeout=5)


def _bind_when_free(port: int, wait_for) -> MalformedLoginServer:
    """The killed server's socket may linger a moment on a busy machine: wait until the port can be taken."""
    def attempt():
        try:
            return MalformedLoginServer(port)
        except OSError:
            return None
    return wait_for(attempt, 60, f"port {port} to be free for the malformed server")


def test_the_driver_error_on_a_malformed_login_reply_counts_as_a_refused_login(labkit_cli):
    server = MalformedLoginServer()
    try:
        client = MongoClient(deploy.embedded_uri(server.port, "labkit", "pw"), serverSelectionTimeoutMS=3000)
        with pytest.raises(Exception) as raised:
            client.test.customers.insert_one({"x": 1})
        client.close()
        assert type(raised.value) is KeyError  # what pymongo raises: not a PyMongoError
        assert deploy.auth_failed(raised.value)
        assert "in a way no MongoDB server does" in deploy.driver_error(raised.value)
        assert not deploy.auth_failed(KeyError("payload"))  # our own KeyErrors are not the server's doing
        with pytest.raises(DeploymentError, match="in a way no MongoDB server does"):
            check_reachable(deploy.embedded_uri(server.port, "labkit", "pw"), "Main")
        env = dict(os.environ, FAKE_URI=deploy.embedded_uri(server.port, "labkit", "pw"))
        for command in (["export", "-d", "test", "-c", "customers"], ["insert", "--duration", "1"]):
            result = labkit_cli(*command, "--uri-env", "FAKE_URI", env=env)
            assert result.returncode == 1, (command, result.stderr)
            assert "in a way no MongoDB server does" in result.stderr and "Traceback" not in result.stderr, command
        assert "insert" not in server.commands and "find" not in server.commands
    finally:
        server.close()


def test_malformed_login_on_mains_port_is_refused_and_main_is_followed(fresh_lab, clean_env, wait_for, labkit_cli):
    ws = fresh_lab
    ws.main.client.test.customers.insert_many([{"firstname": f"n{i}"} for i in range(5)])
    Backup(ws).enable()
    Workload(ws).start(rate=20)
    wait_for(lambda: (Workload(ws).stats() or {}).get("acknowledged", 0) >= 10, 60, "10 inserts")
    workload_pid = ws.process_record("workload")["pid"]
    capture_pid = ws.process_record("capture")["pid"]

    main = ws.read()["deployments"]["main"]
    ws.main.close()
    os.kill(main["pid"], signal.SIGKILL)
    wait_for(lambda: not deploy.embedded_alive(main), 60, "Main to die")
    fake = _bind_when_free(main["port"], wait_for)
    capture_state = ws.path / "backup" / "capture.json"
    try:
        wait_for(lambda: "refused" in str((Workload(ws).stats() or {}).get("last_error", "")), 60,
                 "the workload to report the refusal")
        wait_for(lambda: "refused" in str(json.loads(capture_state.read_text()).get("error")), 60,
                 "the capture to report the refusal")
        wait_for(lambda: fake.commands.count("saslStart") >= 4, 60, "both to try again")
        # Both still run (no traceback ended them), and nothing was sent past the login.
        assert procs.alive(workload_pid) and procs.alive(capture_pid)
        assert set(fake.commands) <= {"isMaster", "ismaster", "hello", "saslStart", "endSessions"}, fake.commands
        acknowledged = Workload(ws).stats()["acknowledged"]
        status = labkit_cli("status", "--workspace", str(ws.path))
        assert status.returncode == 0 and "Traceback" not in status.stderr
        assert "refused" in status.stdout

        up = labkit_cli("up", "--workspace", str(ws.path))
        assert up.returncode == 0, up.stderr
        assert ws.read()["deployments"]["main"]["port"] != main["port"]
        wait_for(lambda: Workload(ws).stats()["acknowledged"] >= acknowledged + 20, 60,
                 "inserts to resume on the real Main")
        wait_for(lambda: json.loads(capture_state.read_text()).get("tailing") is True, 60,
                 "the capture to follow Main")
        # The same processes followed Main: none had died and needed a restart.
        assert ws.process_record("workload")["pid"] == workload_pid and procs.alive(workload_pid)
        assert ws.process_record("capture")["pid"] == capture_pid and procs.alive(capture_pid)
        assert set(fake.commands) <= {"isMaster", "ismaster", "hello", "saslStart", "endSessions"}, fake.commands
    finally:
        fake.close()
    log = (ws.path / "logs" / "workload.log").read_text()
    assert "Traceback" not in log and "Refused:" in log
    assert "Traceback" not in (ws.path / "logs" / "capture.log").read_text()
    report = Workload(ws).stop()
    assert report.ok, str(report)
    assert report.missing == 0 and report.duplicates == 0
