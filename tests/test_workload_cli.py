"""`labkit insert` and `labkit workload start|status|stop`, run as the real command."""
from __future__ import annotations

import json
import signal
import subprocess

from labkit import deploy
from labkit.cli.workload import STATUS_EVERY
from labkit.workload import PROCESS_NAME
from labkit.workload import Workload


def _stats(path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def test_insert_stops_on_sigterm_with_a_verified_report(server, tmp_path, clean_env, labkit_exe, wait_for):
    db = server.new_db_name()
    stats_file = tmp_path / "stats.json"
    proc = subprocess.Popen([labkit_exe, "insert", "--uri", server.uri, "-d", db, "-c", "app", "--rate", "25",
                             "--stats", str(stats_file), "--json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: _stats(stats_file).get("acknowledged", 0) >= 25, 120, "25 acknowledged inserts")
        # long enough for the first status line
        wait_for(lambda: _stats(stats_file).get("elapsed_s", 0) >= STATUS_EVERY + 0.5, 120, "the first status line")
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    report = json.loads(out)
    assert report["ok"] and report["verified"] and report["missing"] == 0
    assert report["acknowledged"] == server.client[db].app.count_documents({}) >= 25
    assert "acknowledged" in err and "/s" in err  # the status line on stderr
    server.client.drop_database(db)


def test_insert_unreachable_uri_fails_clearly_without_the_password(labkit_cli, clean_env):
    # It ends by itself after its connection check (labkit_cli's timeout fails the test otherwise).
    result = labkit_cli("insert", "--uri", f"mongodb://alice:s3cr3tpw@127.0.0.1:{deploy.free_port()}/",
                        "--duration", "1")
    assert result.returncode == 1
    assert "Cannot reach" in result.stderr and "Traceback" not in result.stderr
    assert "s3cr3tpw" not in result.stderr + result.stdout and "alice:****@" in result.stderr


def test_insert_bad_inputs(labkit_cli, server, clean_env):
    for args, code, words in [
        (["--rate", "0"], 1, "rate must be more than 0"),
        (["--rate", "fast"], 2, "fast"),
        (["--duration", "0"], 1, "duration must be a positive"),
    ]:
        result = labkit_cli("insert", "--uri", server.uri, *args)
        assert result.returncode == code, (args, result.stderr)
        assert words in result.stderr, (args, result.stderr)
        assert "Traceback" not in result.stderr
    missing = labkit_cli("insert")
    assert missing.returncode == 2 and "--uri" in missing.stderr


def test_workload_start_on_a_workspace_that_is_not_up(labkit_cli, tmp_path, clean_env):
    result = labkit_cli("workload", "start", "--workspace", str(tmp_path / "nothing"))
    assert result.returncode == 1 and "is not up" in result.stderr and "labkit up" in result.stderr


def test_workload_start_status_stop_on_a_lab(lab, labkit_cli, clean_env, wait_for):
    w = ["--workspace", str(lab.path)]
    nothing = labkit_cli("workload", "stop", *w)
    assert nothing.returncode == 1 and "No workload is running" in nothing.stderr
    assert Workload(lab).stats() is None and Workload(lab).summary() is None
    bad_rate = labkit_cli("workload", "start", *w, "--rate", "-2")
    assert bad_rate.returncode == 1 and "rate" in bad_rate.stderr and not Workload(lab).running()

    started = labkit_cli("workload", "start", *w, "--rate", "20", "-c", "orders")
    assert started.returncode == 0, started.stderr
    assert "Workload started" in started.stdout
    pid = lab.process_record(PROCESS_NAME)["pid"]

    second = labkit_cli("workload", "start", *w)
    assert second.returncode == 1 and "already running" in second.stderr
    assert lab.process_record(PROCESS_NAME)["pid"] == pid and Workload(lab).running()  # still one

    wait_for(lambda: (Workload(lab).stats() or {}).get("acknowledged", 0) >= 20, 120, "20 acknowledged inserts")
    status = labkit_cli("workload", "status", *w, "--json")
    stats = json.loads(status.stdout)
    assert stats["running"] and stats["collection"] == "orders" and stats["acknowledged"] >= 20
    assert "Workload:" in labkit_cli("status", *w).stdout  # `labkit status` shows its summary

    stopped = labkit_cli("workload", "stop", *w)
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    assert "verdict: OK" in stopped.stdout
    count = lab.main.client.test.orders.count_documents({"run": stats["run_id"]})
    assert f"in the database: {count} document(s) of this run, 0 missing" in stopped.stdout

    again = labkit_cli("workload", "stop", *w)
    assert again.returncode == 1 and "already stopped" in again.stderr
    last = labkit_cli("workload", "status", *w)
    assert "not running" in last.stdout
