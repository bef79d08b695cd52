"""The workspace's workload process: outlives its starter, rides through a kill -9 of Main."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

from labkit.workload import PROCESS_NAME
from labkit.workload import Workload
from labkit.lab.status import lab_status


def _acknowledged(ws) -> int:
    return (Workload(ws).stats() or {}).get("acknowledged", 0)


def test_workload_survives_its_starter_and_a_kill_of_main(fresh_lab, labkit_cli, wait_for):
    ws = fresh_lab
    # Started from a Python process that then exits, like a notebook kernel that is shut down.
    starter = subprocess.run(
        [sys.executable, "-c", "import sys; from labkit.workspace import Workspace; from labkit.workload import Workload; "
                               "print(Workload(Workspace(sys.argv[1])).start(rate=20)['run_id'])", str(ws.path)],
        capture_output=True, text=True, timeout=60)
    assert starter.returncode == 0, starter.stderr
    run_id = starter.stdout.strip()
    assert Workload(ws).running()
    record = ws.process_record(PROCESS_NAME)
    assert "mongodb://" not in " ".join(record["args"])  # the URI travels in the environment only
    wait_for(lambda: _acknowledged(ws) >= 20, 60, "20 acknowledged inserts")

    main = ws.read()["deployments"]["main"]
    ws.main.close()  # this object's connection would point at the old port (closing it then waits 10 s)
    os.kill(main["pid"], signal.SIGKILL)
    killed = time.monotonic()
    wait_for(lambda: Workload(ws).stats()["state"] == "retrying", 60, "the workload to notice the outage")
    before_restart = _acknowledged(ws)
    time.sleep(max(0.0, 1.5 - (time.monotonic() - killed)))
    outage_at_least = time.monotonic() - killed
    # Another program took Main's port meanwhile (it never answers): labkit up must move Main.
    with socket.socket() as squatter:
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        squatter.bind(("127.0.0.1", main["port"]))
        squatter.listen()
        result = labkit_cli("up", "--workspace", str(ws.path))
        assert result.returncode == 0, result.stderr
        assert ws.read()["deployments"]["main"]["port"] != main["port"]

        # It resumes by itself, following Main to its new port.
        wait_for(lambda: _acknowledged(ws) >= before_restart + 20, 60, "inserts to resume after labkit up")
    assert lab_status(ws, describe=False)["workload"]["running"] is True

    report = Workload(ws).stop()
    assert report.run_id == run_id
    assert report.ok, str(report)
    assert report.missing == 0 and report.duplicates == 0 and report.seq_contiguous
    assert report.retries >= 1
    assert report.max_gap_ms >= outage_at_least * 1000  # the outage is visible
    assert not Workload(ws).running()
    assert ws.read()["workload"]["last_report"]["ok"] is True
