"""Snapshots, capture, marks, window and restore against real embedded servers.

One workspace for the module (Main + Temp up, backup enabled once); tests that
stop or break something put it back before they end.
"""
from __future__ import annotations

import datetime as dt
import json
import threading
import time
from pathlib import Path

import pytest
from bson import Timestamp
from bson.codec_options import CodecOptions
from bson.raw_bson import RawBSONDocument
from pymongo import MongoClient

from labkit import deploy
from labkit.backup.archive import BLOCK_HEADER, list_segments, read_blocks
from labkit.backup import Backup, RestoreFailed
from labkit.errors import BackupError
from labkit.backup.timespec import ts_key, ts_parse
from labkit.lab.status import lab_status

RAW = CodecOptions(document_class=RawBSONDocument)


def raw_docs(client: MongoClient, ns: str) -> dict:
    db, coll = ns.split(".", 1)
    return {doc["_id"]: doc.raw for doc in client[db].get_collection(coll, codec_options=RAW).find()}


def index_specs(client: MongoClient, ns: str) -> list:
    db, coll = ns.split(".", 1)
    return sorted((dict(spec) for spec in client[db][coll].list_indexes()), key=lambda s: s["name"])


def wait_captured(backup: Backup, ts: Timestamp, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = backup.archive.capture_state()
        if max(ts_key(ts_parse(state[k])) for k in ("last", "synced_to") if state.get(k)) >= ts_key(ts):
            return
        time.sleep(0.05)
    raise AssertionError("the capture did not catch up")


@pytest.fixture(scope="module")
def ws(lab):
    main = lab.main.client
    main.shop.orders.insert_many([{"_id": n, "item": f"i{n}", "qty": n} for n in range(20)])
    main.shop.orders.create_index([("item", 1)], unique=True, name="item_unique")
    main.shop.create_collection("notes", validator={"$jsonSchema": {"bsonType": "object"}})
    main.shop.notes.insert_one({"_id": "n1", "text": "hello"})
    Backup(lab).snapshot(progress=False)
    return lab


def test_snapshot_is_kept_as_a_mongodump_style_copy(ws):
    snaps = Backup(ws).snapshots()
    assert snaps and snaps[-1]["namespaces"] >= 2
    folder = Path(snaps[-1]["path"])
    meta = json.loads((folder / "meta.json").read_text())
    assert meta["namespaces"]["shop.orders"]["documents"] == 20
    assert (folder / "dump/shop/orders.bson").stat().st_size == meta["namespaces"]["shop.orders"]["bytes"]
    metadata = (folder / "dump/shop/notes.metadata.json").read_text()
    assert "$jsonSchema" in metadata
    assert ts_key(ts_parse(meta["before"])) < ts_key(ts_parse(meta["after"]))
    assert " UTC (" in snaps[-1]["consistent"] and "local" in snaps[-1]["consistent"]
    assert lab_status(ws)["backup"]["capture_running"] is True


def test_restore_to_a_mark_is_exact_to_the_operation(ws):
    main, backup = ws.main.client, Backup(ws)
    main.shop.orders.update_one({"_id": 1}, {"$set": {"qty": 100, "tags": ["a", "b"]}})
    main.shop.orders.insert_one({"_id": 50, "item": "new"})
    Backup(ws).mark("exact")
    expected = raw_docs(main, "shop.orders")
    main.shop.orders.update_one({"_id": 1}, {"$pop": {"tags": 1}, "$unset": {"qty": ""}})
    main.shop.orders.delete_one({"_id": 50})
    report = backup.restore("mark:exact", namespaces=["shop.orders"], progress=False)
    assert report.ok and report.namespaces["shop.orders"]["documents"] == len(expected)
    temp = ws.temp.client
    assert raw_docs(temp, "shop.orders") == expected
    assert index_specs(temp, "shop.orders") == index_specs(main, "shop.orders")
    assert report.point["bound"] == ws.read()["marks"]["exact"]["ts"]
    # the recovery timeline draws these, however the lab was driven (API, CLI, notebooks)
    kinds = [(e["kind"], e.get("name")) for e in ws.events() if e["kind"] in ("snapshot", "mark", "restore")]
    assert kinds[0][0] == "snapshot" and kinds[-2:] == [("mark", "exact"), ("restore", None)]
    assert ws.events()[-1]["point"] == report.point["utc"]


def test_full_restore_replaces_temp_and_keeps_options(ws):
    temp = ws.temp.client
    temp.leftover.stuff.insert_one({"x": 1})  # Temp is replaced as a whole, as on Atlas
    Backup(ws).mark("full")
    report = Backup(ws).restore("mark:full", progress=False)
    assert "leftover" not in temp.list_database_names()
    assert {"shop.orders", "shop.notes"} <= set(report.namespaces)
    options = temp.shop.command("listCollections", filter={"name": "notes"})["cursor"]["firstBatch"][0]["options"]
    assert options["validator"] == {"$jsonSchema": {"bsonType": "object"}}
    assert raw_docs(temp, "shop.notes") == raw_docs(ws.main.client, "shop.notes")


def test_wall_clock_time_includes_every_operation_of_that_second(ws):
    main = ws.main.client
    for attempt in range(10):  # the premise needs two inserts within one second: a stalled machine retries
        coll = main.shop[f"seconds{attempt}"]
        time.sleep(1.05 - (time.time() % 1))  # start of a fresh second
        coll.insert_one({"_id": "first"})
        coll.insert_one({"_id": "same-second"})
        entries = list(main.local["oplog.rs"].find({"ns": coll.full_name, "op": "i"}))
        if entries[0]["ts"].time == entries[1]["ts"].time:
            break
    else:
        pytest.fail("ten attempts never put two inserts in the same second")
    first_second = entries[0]["ts"].time
    while int(time.time()) <= first_second:
        time.sleep(0.05)
    coll.insert_one({"_id": "next-second"})
    iso = dt.datetime.fromtimestamp(first_second, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    report = Backup(ws).restore(iso, namespaces=[coll.full_name], progress=False)
    assert sorted(raw_docs(ws.temp.client, coll.full_name)) == ["first", "same-second"]
    assert report.point["utc"].startswith(iso[:-1])
    exact = f"{entries[0]['ts'].time}:{entries[0]['ts'].inc}"
    Backup(ws).restore(exact, namespaces=[coll.full_name], progress=False)
    assert sorted(raw_docs(ws.temp.client, coll.full_name)) == ["first"]


def test_lab_scenario_customers_back_plus_exactly_the_acknowledged_inserts(ws):
    main = ws.main.client
    customers = [{"firstname": f"F{n}", "lastname": f"L{n}", "address": {"city": "Lyon", "zip": f"{n:05}"},
                  "orders": [{"n": k, "total": k * 1.5} for k in range(n % 4)], "since": dt.datetime(2020, 1, 1)}
                 for n in range(100)]
    main.test.customers.insert_many(customers)
    originals = raw_docs(main, "test.customers")
    acknowledged: list[str] = []
    stop = threading.Event()

    def workload():
        client = MongoClient(ws.main.uri)
        seq = 0
        while not stop.is_set():
            seq += 1
            client.test.customers.insert_one({"_id": f"w{seq:06}", "seq": seq})
            acknowledged.append(f"w{seq:06}")
            time.sleep(0.002)
        client.close()

    thread = threading.Thread(target=workload)
    thread.start()
    try:
        time.sleep(0.4)
        acked_before = len(acknowledged)
        mark = Backup(ws).mark("before-delete")
        acked_after = len(acknowledged)
        time.sleep(0.2)
        assert main.test.customers.delete_many({"firstname": {"$exists": True}}).deleted_count == 100
        time.sleep(0.2)
    finally:
        stop.set()
        thread.join()
    report = Backup(ws).restore(mark, namespaces=["test.customers"], progress=False)  # the mark as returned
    restored = raw_docs(ws.temp.client, "test.customers")
    assert {k: v for k, v in restored.items() if not str(k).startswith("w")} == originals
    inserted = sorted(k for k in restored if str(k).startswith("w"))
    assert inserted == acknowledged[:len(inserted)]  # a prefix: nothing skipped, nothing invented
    assert acked_before <= len(inserted) <= acked_after + 1
    mark_ts = ts_parse(mark["ts"])
    in_oplog = {e["o"]["_id"] for e in main.local["oplog.rs"].find({"ns": "test.customers", "op": "i"})
                if e["ts"] <= mark_ts and str(e["o"]["_id"]).startswith("w")}
    assert set(inserted) == in_oplog
    assert report.namespaces["test.customers"]["documents"] == 100 + len(inserted)


def test_selective_restore_beside_live_data_on_main(ws):
    main, backup = ws.main.client, Backup(ws)
    Backup(ws).mark("for-main")
    expected = raw_docs(main, "shop.orders")
    main.shop.orders.delete_many({"qty": {"$lt": 5}})
    with pytest.raises(BackupError, match="overwrite the live data"):
        backup.restore("mark:for-main", namespaces=["shop.orders"], target="main", progress=False)
    with pytest.raises(BackupError, match="replace live data"):
        backup.restore("mark:for-main", target="main", rename=["shop.orders:shop.notes"], progress=False)
    report = backup.restore("mark:for-main", target="main", rename=["shop.orders:shop.orders_restored"],
                            progress=False)
    assert report.target == "Main" and list(report.namespaces) == ["shop.orders_restored"]
    assert raw_docs(main, "shop.orders_restored") == expected
    assert {s["name"] for s in index_specs(main, "shop.orders_restored")} == {"_id_", "item_unique"}
    # A rerun replaces its own earlier result, whatever happened to it since.
    main.shop.orders_restored.delete_one({"_id": 7})
    main.shop.orders_restored.insert_one({"_id": "stray", "item": "stray"})
    assert backup.restore("mark:for-main", target="main", rename={"shop.orders": "shop.orders_restored"},
                          progress=False).ok
    assert raw_docs(main, "shop.orders_restored") == expected


def test_restore_errors_name_the_problem(ws):
    backup = Backup(ws)
    backup.mark("errors")
    first = ts_parse(backup.snapshots()[0]["after"])
    with pytest.raises(BackupError, match="earliest restorable time is"):
        backup.restore(f"{first.time - 5}:1", progress=False)
    with pytest.raises(BackupError, match="Unknown namespace shop.nope"):
        backup.restore("mark:errors", namespaces=["shop.nope"], progress=False)
    with pytest.raises(BackupError, match="database.collection"):
        backup.restore("mark:errors", namespaces=["admin.system.users"], progress=False)
    with pytest.raises(BackupError, match="has not happened yet"):
        backup.restore(f"{int(time.time()) + 3600}:1", progress=False)
    with pytest.raises(BackupError, match="no mark named"):
        backup.restore("mark:never", progress=False)


def test_window_runs_from_the_first_snapshot_to_the_last_captured_op(ws):
    ws.main.client.shop.orders.insert_one({"_id": "window", "item": "window"})
    mark = Backup(ws).mark("window")
    wait_captured(Backup(ws), ts_parse(mark["ts"]))
    spans = Backup(ws).window()
    assert len(spans) == 1
    assert spans[0]["from"] == Backup(ws).snapshots()[0]["after"]
    assert ts_key(ts_parse(spans[0]["to"])) >= ts_key(ts_parse(mark["ts"]))
    assert spans[0]["from_utc"].endswith("Z") and "UTC" in spans[0]["shown"]


def test_restore_after_the_last_captured_op_waits_then_fails_clearly(ws):
    backup = Backup(ws)
    assert ws.stop_process("capture")
    try:
        ws.main.client.shop.orders.insert_one({"_id": "uncaptured", "item": "uncaptured"})
        Backup(ws).mark("late")
        with pytest.raises(BackupError, match="after the last captured operation.*waited 1 s.*NOT running"):
            backup.restore("mark:late", namespaces=["shop.orders"], wait=1, progress=False)
    finally:
        backup.enable()
    report = backup.restore("mark:late", namespaces=["shop.orders"], progress=False)
    assert "uncaptured" in raw_docs(ws.temp.client, "shop.orders")
    assert report.ok


def test_a_damaged_segment_is_named_and_temp_is_left_alone(ws):
    backup, temp = Backup(ws), ws.temp.client
    ws.main.client.shop.orders.insert_one({"_id": "damage", "item": "damage"})
    mark = Backup(ws).mark("damage")
    wait_captured(backup, ts_parse(mark["ts"]))
    temp.sentinel.keep.insert_one({"_id": 1})
    before = ts_key(ts_parse(backup.snapshots()[-1]["before"]))
    blocks = [b for _, path in list_segments(backup.archive.oplog_dir)
              for b in read_blocks(path) if b.last > before and b.last <= ts_key(ts_parse(mark["ts"]))]
    victim = blocks[-1]
    spot = victim.offset + BLOCK_HEADER.size + 5
    with open(victim.path, "r+b") as f:
        f.seek(spot)
        original = f.read(1)
        f.seek(spot)
        f.write(bytes([original[0] ^ 0xFF]))
    try:
        with pytest.raises(BackupError, match=f"{victim.path}.*checksum"):
            backup.restore("mark:damage", progress=False)
        assert temp.sentinel.keep.count_documents({}) == 1  # checked before anything was replaced
    finally:
        with open(victim.path, "r+b") as f:
            f.seek(spot)
            f.write(original)
        temp.drop_database("sentinel")


def test_unreachable_temp_changes_nothing_and_dying_temp_is_reported_incomplete(ws, monkeypatch):
    backup = Backup(ws)
    monkeypatch.setitem(deploy.PURPOSES["restore"], "serverSelectionTimeoutMS", 1500)  # fail fast: the server is certainly gone
    Backup(ws).mark("dying")
    expected = raw_docs(ws.main.client, "shop.orders")
    try:
        deploy.stop_embedded(ws.read()["deployments"]["temp"])
        with pytest.raises(BackupError, match="Cannot reach Temp.*labkit up"):
            backup.restore("mark:dying", namespaces=["shop.orders"], progress=False)
    finally:
        ws.up()  # Temp back for the next tests, whatever happened here

    original_replay = Backup._replay

    def dying_replay(self, client, *args, **kwargs):
        deploy.stop_embedded(ws.read()["deployments"]["temp"])
        return original_replay(self, client, *args, **kwargs)

    try:
        with monkeypatch.context() as patch:
            patch.setattr(Backup, "_replay", dying_replay)
            with pytest.raises(RestoreFailed, match="INCOMPLETE: shop.notes, shop.orders") as failure:
                backup.restore("mark:dying", namespaces=["shop.orders", "shop.notes"], progress=False)
        assert failure.value.report.status == "failed"
        assert failure.value.report.incomplete == ["shop.notes", "shop.orders"]
        assert ws.read()["backup"]["last_restore"]["status"] == "failed"
    finally:
        ws.up()
    report = backup.restore("mark:dying", namespaces=["shop.orders"], progress=False)
    assert report.ok and raw_docs(ws.temp.client, "shop.orders") == expected


def test_capture_follows_main_through_a_restart(ws):
    backup = Backup(ws)
    deploy.stop_embedded(ws.read()["deployments"]["main"])
    ws.up()
    ws._deployments.clear()
    ws.main.client.shop.orders.insert_one({"_id": "after-restart", "item": "after-restart"})
    Backup(ws).mark("after-restart")
    report = backup.restore("mark:after-restart", namespaces=["shop.orders"], wait=30, progress=False)
    assert "after-restart" in raw_docs(ws.temp.client, "shop.orders") and report.ok
    assert backup.archive.capture_state().get("gaps") == []


def test_cli_commands(ws, labkit_cli):
    from click.testing import CliRunner

    from labkit.cli import main as cli

    path = str(ws.path)

    def run(*args):  # in-process for speed; the real executable is used below
        result = CliRunner().invoke(cli, [*args, "--workspace", path])
        assert result.exit_code == 0, result.output
        return result.output

    out = run("mark", "cli")
    assert "UTC" in out and "local" in out and "mark:cli" in out
    wait_captured(Backup(ws), ts_parse(ws.read()["marks"]["cli"]["ts"]))  # the window reaches the mark
    assert "cli:" in run("marks")
    assert "restorable:" in run("window")
    assert "consistent at" in run("snapshots")
    status = run("status")
    assert "Backup:" in status and "capture_lag_seconds" in status and "capture_running: True" in status
    out = labkit_cli("restore", "--to", "mark:cli", "--ns", "shop.orders", "-w", path)
    assert out.returncode == 0, out.stderr
    assert "COMPLETE" in out.stdout and "T in UTC" in out.stdout
    bad = labkit_cli("restore", "--to", "next tuesday", "-w", path)
    assert bad.returncode == 1 and bad.stderr.startswith("Error:") and "Traceback" not in bad.stderr
