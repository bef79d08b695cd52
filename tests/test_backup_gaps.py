"""A gap in the captured oplog: capture down while Main's oplog rolled over.

labkit's own servers keep 2,000,000 oplog entries, so this module starts two
servers with a tiny oplog and uses them as the workspace's Main and Temp by
connection string, as a learner's own replica sets would be.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from labkit import deploy, procs
from labkit.errors import BackupError
from labkit.backup.timespec import ts_key, ts_parse
from labkit.workspace import Workspace
from labkit.backup import Backup

OPLOG_ENTRIES = 40


def start_small_server(root: Path) -> tuple[str, int]:
    port = deploy.free_port()
    proc = procs.spawn([deploy.server_binary(), "--host", "127.0.0.1", "--port", str(port),
                        "--storage-path", str(root), "--log-level", "WARNING",
                        "--oplog-max-entries", str(OPLOG_ENTRIES)], root.with_suffix(".log"))
    deploy._wait_until_serving(proc, port, root.name)
    return deploy.embedded_uri(port), proc.pid


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    root = tmp_path_factory.mktemp("gaps")
    (main_uri, main_pid), (temp_uri, temp_pid) = start_small_server(root / "main"), start_small_server(root / "temp")
    workspace = Workspace(root / "ws")
    workspace.up(main_uri, temp_uri)
    yield workspace
    try:
        workspace.down()
    finally:
        procs.terminate(main_pid)
        procs.terminate(temp_pid)


def test_gap_is_recorded_and_restores_route_around_it(ws, wait_for):
    main, backup = ws.main.client, Backup(ws)
    main.g.c.insert_many([{"_id": n} for n in range(5)])
    backup.snapshot(progress=False)
    main.g.c.insert_many([{"_id": n} for n in range(5, 8)])
    before_gap = Backup(ws).mark("before-gap")
    wait_for(lambda: ts_key(ts_parse(backup.archive.capture_state().get("synced_to", "0:0")))
             >= ts_key(ts_parse(before_gap["ts"])), what="the capture to reach the mark before the gap")

    assert ws.stop_process("capture")
    for n in range(100, 200):
        main.g.c.insert_one({"_id": n})
        if n == 120:
            Backup(ws).mark("lost")
    main.admin.command("secantusAdmin.pruneOplog")
    oldest = main.local["oplog.rs"].find_one(sort=[("$natural", 1)])["ts"]
    assert oldest > ts_parse(ws.read()["marks"]["lost"]["ts"])  # the premise: the oplog rolled over

    backup.enable()
    wait_for(lambda: backup.archive.capture_state().get("gaps"), what="the capture to record the gap")
    assert backup.summary()["gaps"] == 1
    assert len(backup.gaps()) == 1 and "UTC" in backup.gaps()[0]["shown"]

    report = backup.restore("mark:before-gap", progress=False)
    assert sorted(d["_id"] for d in ws.temp.client.g.c.find()) == list(range(8)) and report.ok
    with pytest.raises(BackupError, match="falls in a gap"):
        backup.restore("mark:lost", progress=False)
    main.g.c.insert_one({"_id": "after"})
    Backup(ws).mark("after-gap")
    with pytest.raises(BackupError, match="No snapshot can reach.*labkit snapshot"):
        backup.restore("mark:after-gap", progress=False)
    spans = backup.window()
    assert len(spans) == 1 and ts_key(ts_parse(spans[0]["to"])) < ts_key(oldest)

    backup.snapshot(progress=False)
    main.g.c.insert_one({"_id": "later"})
    Backup(ws).mark("later")
    report = backup.restore("mark:later", progress=False)
    assert report.ok
    expected = sorted(map(str, [*range(8), *range(100, 200), "after", "later"]))
    assert sorted(str(d["_id"]) for d in ws.temp.client.g.c.find()) == expected
    assert len(backup.window()) == 2
