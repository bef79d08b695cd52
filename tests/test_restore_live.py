"""Restores under the conditions of the lab: Main being written, a second restore, DDL in the history.

One workspace for the module (Main + Temp, backup enabled by a snapshot). The
ground truth is read from Main itself at each mark (documents, indexes,
options, views) or from Main's oplog, and the restore on Temp must equal it.
"""
from __future__ import annotations

import threading

import pytest
from bson.codec_options import CodecOptions
from bson.raw_bson import RawBSONDocument

from labkit.backup import Backup
from labkit.backup.timespec import ts_key, ts_parse
from labkit.errors import BackupError
from labkit.workload import Workload

RAW = CodecOptions(document_class=RawBSONDocument)


def db_state(client, db_name: str) -> dict:
    """Every collection and view of one database: type, options, index specs, raw documents by _id."""
    db = client[db_name]
    out = {}
    for info in db.list_collections():
        name = info["name"]
        if name.startswith("system."):
            continue
        kind = info.get("type", "collection")
        entry = {"type": kind, "options": dict(info.get("options", {}))}
        if kind != "view":
            coll = db.get_collection(name, codec_options=RAW)
            entry["docs"] = {repr(RawBSONDocument(d.raw)["_id"]): d.raw for d in coll.find()}
            entry["indexes"] = sorted((dict(ix) for ix in db[name].list_indexes()), key=lambda ix: ix["name"])
        out[name] = entry
    return out


@pytest.fixture(scope="module")
def ws(lab):
    lab.main.client.seed.c.insert_one({"_id": "seed"})
    Backup(lab).snapshot(progress=False)
    return lab


def test_rename_drop_drop_database_views_and_capped_through_restore(ws):
    main, backup = ws.main.client, Backup(ws)
    db = main.ddl
    db.create_collection("orders")
    db.orders.insert_many([{"_id": n, "qty": n} for n in range(10)])
    db.orders.create_index("qty", name="by_qty")
    db.create_collection("log", capped=True, size=64 * 1024, max=5)
    db.log.insert_many([{"_id": n} for n in range(8)])  # the cap keeps the last 5
    db.create_collection("big_orders", viewOn="orders", pipeline=[{"$match": {"qty": {"$gte": 5}}}])
    db.create_collection("scratch")
    db.scratch.insert_one({"_id": 1})
    main.doomed.c.insert_one({"_id": "x"})
    truths = {"created": (backup.mark("ddl-created"), db_state(main, "ddl"))}

    db.orders.rename("orders_v2")  # the view now points at a missing collection, as on Main
    db.orders_v2.update_one({"_id": 1}, {"$set": {"qty": 100}})
    db.scratch.drop()
    db.log.insert_one({"_id": "late"})
    main.drop_database("doomed")
    truths["changed"] = (backup.mark("ddl-changed"), db_state(main, "ddl"))

    for label, (mark, truth) in truths.items():
        report = backup.restore(mark, progress=False)  # whole-cluster restore
        assert report.ok, label
        assert db_state(ws.temp.client, "ddl") == truth, label
        assert ("doomed" in ws.temp.client.list_database_names()) == (label == "created"), label
    capped = ws.temp.client.ddl.command("listCollections", filter={"name": "log"})["cursor"]["firstBatch"][0]
    assert capped["options"]["capped"] is True and ws.temp.client.ddl.log.count_documents({}) == 5

    # Selective: the renamed collection needs its source named too, and says so.
    with pytest.raises(BackupError, match="renamed from ddl.orders.*restore ddl.orders together with ddl.orders_v2"):
        backup.restore(truths["changed"][0], namespaces=["ddl.orders_v2"], progress=False)
    report = backup.restore(truths["changed"][0], namespaces=["ddl.orders", "ddl.orders_v2"], progress=False)
    restored = db_state(ws.temp.client, "ddl")
    assert report.ok and restored["orders_v2"] == truths["changed"][1]["orders_v2"] and "orders" not in restored


def test_restore_while_main_is_being_written(ws, monkeypatch, wait_for):
    main, backup = ws.main.client, Backup(ws)
    workload = Workload(ws)
    original_replay = Backup._replay
    during = {}

    def replay_while_written(self, *args, **kwargs):
        # Certain overlap, whatever the machine's speed: the application writes between the snapshot
        # load and the replay, and again while the replay runs (checked after it).
        during["before"] = workload.stats()["acknowledged"]
        wait_for(lambda: workload.stats()["acknowledged"] >= during["before"] + 20, what="inserts during the restore")
        return original_replay(self, *args, **kwargs)

    workload.start(rate=100, db="live", collection="app")
    try:
        wait_for(lambda: (workload.stats() or {}).get("acknowledged", 0) >= 50, what="50 acknowledged inserts")
        main.live.customers.insert_many([{"_id": n, "firstname": f"f{n}"} for n in range(100)])
        mark = backup.mark("live")
        main.live.customers.delete_many({"firstname": {"$exists": True}})
        with monkeypatch.context() as patch:
            patch.setattr(Backup, "_replay", replay_while_written)
            selective = backup.restore(mark, namespaces=["live.app", "live.customers"], progress=False)
            restored = db_state(ws.temp.client, "live")
            full = backup.restore(mark, progress=False)
        assert workload.running()
    finally:
        report = workload.stop()
    assert report.ok, str(report)
    assert selective.ok and full.ok
    mark_ts = ts_parse(mark["ts"])
    in_oplog = {e["o"]["_id"] for e in main.local["oplog.rs"].find({"ns": "live.app", "op": "i", "ts": {"$lte": mark_ts}})}
    assert in_oplog and set(restored["app"]["docs"]) == {repr(i) for i in in_oplog}
    assert len(restored["customers"]["docs"]) == 100
    assert db_state(ws.temp.client, "live") == restored  # the whole-cluster restore agrees
    assert main.live.app.count_documents({}) >= len(in_oplog) + 40  # Main went on past the mark, during both


def test_two_restores_at_once_the_second_is_refused(ws, labkit_cli, monkeypatch):
    backup = Backup(ws)
    ws.main.client.pair.c.insert_one({"_id": 1})
    mark = backup.mark("pair")
    inside, release = threading.Event(), threading.Event()
    original_replay = Backup._replay

    def held_replay(self, *args, **kwargs):  # the first restore pauses in its replay until released
        inside.set()
        assert release.wait(120), "never released"
        return original_replay(self, *args, **kwargs)

    outcome = {}

    def first():
        try:
            outcome["report"] = Backup(ws).restore(mark, namespaces=["pair.c"], progress=False)
        except BaseException as exc:
            outcome["error"] = exc

    monkeypatch.setattr(Backup, "_replay", held_replay)
    thread = threading.Thread(target=first)
    thread.start()
    try:
        assert inside.wait(120), outcome
        with pytest.raises(BackupError, match="(?i)a restore is already running.*pid"):
            Backup(ws).restore(mark, namespaces=["pair.c"], progress=False)
        other = labkit_cli("restore", "--to", "mark:pair", "--ns", "pair.c", "-w", str(ws.path))  # another process
        assert other.returncode == 1 and "already running" in other.stderr.lower(), other.stderr
        assert "Traceback" not in other.stderr
    finally:
        release.set()
        thread.join(180)
    assert "error" not in outcome, outcome.get("error")
    assert outcome["report"].ok
    monkeypatch.undo()
    assert Backup(ws).restore(mark, namespaces=["pair.c"], progress=False).ok  # the lock is free again
    assert list(ws.temp.client.pair.c.find()) == [{"_id": 1}]


def test_an_interrupted_restore_is_recorded_as_failed_and_frees_the_lock(ws, monkeypatch):
    backup = Backup(ws)
    ws.main.client.intr.c.insert_many([{"_id": n} for n in range(5)])
    mark = backup.mark("intr")

    def interrupted(self, *args, **kwargs):  # what Ctrl-C in the kernel does mid-replay
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(Backup, "_replay", interrupted)
        with pytest.raises(KeyboardInterrupt):
            backup.restore(mark, namespaces=["intr.c"], progress=False)
    last = ws.read()["backup"]["last_restore"]
    assert last["status"] == "failed" and "interrupted" in last["error"]
    assert "failed" in backup.summary()["last_restore"]
    report = backup.restore(mark, namespaces=["intr.c"], progress=False)
    assert report.ok and ws.temp.client.intr.c.count_documents({}) == 5
    assert ts_key(ts_parse(report.point["bound"])) == ts_key(ts_parse(mark["ts"]))
