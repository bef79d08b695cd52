"""The application under faults, against real servers: refused first insert, stop while retrying, kill -9."""
from __future__ import annotations

import json
import os
import signal
import threading

import pytest

from labkit import deploy
from labkit.errors import WorkloadError
from labkit.workload import PROCESS_NAME, Workload
from labkit.workload.loop import run_foreground
from labkit.workload.stats import build_report


def read_stats(path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def test_a_first_insert_refused_for_good_is_an_error_not_a_retry(server, db, labkit_cli, clean_env):
    db.create_collection("strict", validator={"firstname": {"$exists": True}}, validationAction="error")
    with pytest.raises(WorkloadError, match="refused the first insert into .*strict"):
        run_foreground(server.uri, db.name, "strict", rate=20, duration=5, status_every=None)
    result = labkit_cli("insert", "--uri", server.uri, "-d", db.name, "-c", "strict", "--duration", "5")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "refused the first insert" in result.stderr and "Traceback" not in result.stderr
    assert db.strict.count_documents({}) == 0


def test_the_background_workload_refused_at_once_says_why(fresh_lab):
    fresh_lab.main.client.test.create_collection("strict", validator={"firstname": {"$exists": True}})
    with pytest.raises(WorkloadError, match="(?s)ended right after starting.*refused the first insert"):
        Workload(fresh_lab).start(rate=20, collection="strict")
    assert not Workload(fresh_lab).running()


def test_stop_while_retrying_reports_the_insert_in_doubt(tmp_path, wait_for):
    record = deploy.start_embedded("main", tmp_path / "data", tmp_path / "server.log")
    stats_file = tmp_path / "stats.json"
    stop, outcome = threading.Event(), {}

    def run():
        try:
            outcome["report"] = run_foreground(deploy.embedded_uri(record["port"]), "app", "c", rate=50,
                                               stats_path=stats_file, status_every=None, stop=stop, verify_at_end=False)
        except BaseException as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=run)
    frozen = False
    try:
        thread.start()
        wait_for(lambda: read_stats(stats_file).get("acknowledged", 0) >= 20, 60, "20 acknowledged inserts")
        os.kill(record["pid"], signal.SIGSTOP)  # Main stops answering: the insert on the wire is in doubt
        frozen = True
        wait_for(lambda: read_stats(stats_file).get("state") == "retrying", 120, "the workload to retry")
        stop.set()
        thread.join(120)
        assert not thread.is_alive()
    finally:
        stop.set()
        if frozen:
            os.kill(record["pid"], signal.SIGCONT)
        thread.join(120)
        try:
            assert "error" not in outcome, outcome.get("error")
            final = read_stats(stats_file)
            assert final["running"] is False and final["in_doubt_seq"] == final["acknowledged"] + 1
            from labkit.deploy import connect
            client = connect(deploy.embedded_uri(record["port"]), "lab")
            try:
                coll = client.app.c
                # The insert sent to the frozen server sat in its socket: it lands once the server resumes,
                # although its answer never reached the application.
                wait_for(lambda: coll.count_documents({}) == final["acknowledged"] + 1, 60,
                         "the in-doubt insert to land")
                report = build_report(final, coll)
            finally:
                client.close()
        finally:
            deploy.stop_embedded(record)
    assert report.documents_found == final["acknowledged"] + 1
    assert report.unacknowledged_present == 1
    assert "1 present but unacknowledged" in str(report)
    assert report.missing == 0 and report.duplicates == 0
    assert report.ok, str(report)  # one document in doubt is not a failure


def test_the_workload_killed_with_sigkill_then_status_stop_and_start(fresh_lab, labkit_cli, wait_for):
    w = ["--workspace", str(fresh_lab.path)]
    workload = Workload(fresh_lab)
    info = workload.start(rate=50)
    wait_for(lambda: (workload.stats() or {}).get("acknowledged", 0) >= 20, 60, "20 acknowledged inserts")
    pid = fresh_lab.process_record(PROCESS_NAME)["pid"]
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: not workload.running(), 60, "the workload process to be gone")

    status = labkit_cli("workload", "status", *w, "--json")
    assert status.returncode == 0, status.stderr
    stats = json.loads(status.stdout)
    assert stats["running"] is False and stats["state"] == "died" and stats["acknowledged"] >= 20
    text = labkit_cli("workload", "status", *w)
    assert text.returncode == 0 and "not running" in text.stdout, text.stdout
    overall = labkit_cli("status", *w)
    assert overall.returncode == 0 and "Traceback" not in overall.stderr

    stopped = labkit_cli("workload", "stop", *w)
    assert stopped.returncode == 1
    assert "ended without being stopped" in stopped.stderr and "Traceback" not in stopped.stderr

    # What it acknowledged is on Main (w: majority, j: durable), and a new run starts cleanly.
    on_main = fresh_lab.main.client.test.customers.count_documents({"run": info["run_id"]})
    assert on_main >= stats["acknowledged"]
    again = labkit_cli("workload", "start", *w, "--rate", "20")
    assert again.returncode == 0, again.stderr
    assert Workload(fresh_lab).stop().ok
