"""Oplog commands the lab's server rarely writes but a learner's mongod does, replayed on the real server.

Entries are written by hand in mongod's shapes (oplog_entry.idl, the command's
own op observer) and applied with OplogApplier onto fresh databases of the
session server; each test checks what the target holds afterwards.
"""
from __future__ import annotations

import uuid

import pytest
from bson import Binary, Int64, Timestamp

from labkit.backup.oplog import OplogApplier


def ts(i: int) -> Timestamp:
    return Timestamp(1_700_000_000, i)


def apply(client, entries, **kwargs) -> OplogApplier:
    applier = OplogApplier(client, **kwargs)
    applier.apply(entries)
    applier.flush()
    return applier


@pytest.fixture
def target(server):
    name = server.new_db_name()
    yield server.client[name]
    server.client.drop_database(name)


@pytest.fixture
def other(server):
    name = server.new_db_name()
    yield server.client[name]
    server.client.drop_database(name)


def index_names(coll) -> list[str]:
    return sorted(ix["name"] for ix in coll.list_indexes())


def options_of(db, name: str) -> dict:
    return dict(db.command("listCollections", filter={"name": name})["cursor"]["firstBatch"][0]["options"])


def test_drop_indexes_star_drops_every_index_but_id(server, target):
    cmd = f"{target.name}.$cmd"
    target.c.insert_one({"_id": 1, "a": 1, "b": 1})
    target.c.create_index("a")
    target.c.create_index("b")
    apply(server.client, [{"op": "c", "ns": cmd, "o": {"dropIndexes": "c", "index": "*"}, "ts": ts(1)}])
    assert index_names(target.c) == ["_id_"]
    assert target.c.count_documents({}) == 1


def test_drop_indexes_by_key_pattern(server, target):
    cmd = f"{target.name}.$cmd"
    target.c.create_index([("a", 1), ("b", -1)], name="custom_name")
    target.c.create_index("z")
    apply(server.client, [{"op": "c", "ns": cmd, "o": {"dropIndexes": "c", "index": {"a": 1, "b": -1}}, "ts": ts(1)}])
    assert index_names(target.c) == ["_id_", "z_1"]


def test_cross_database_rename_under_the_restore_names(server, target, other):
    """source: dbA.x renamed to dbB.y; restored as target.x -> other.y."""
    src_a, src_b = f"srcA_{uuid.uuid4().hex[:6]}", f"srcB_{uuid.uuid4().hex[:6]}"
    entries = [
        {"op": "c", "ns": f"{src_a}.$cmd", "o": {"create": "x"}, "ts": ts(1)},
        {"op": "i", "ns": f"{src_a}.x", "o": {"_id": 1, "v": "moved"}, "ts": ts(2)},
        {"op": "c", "ns": f"{src_a}.$cmd", "o": {"renameCollection": f"{src_a}.x", "to": f"{src_b}.y",
                                                  "stayTemp": False, "dropTarget": False}, "ts": ts(3)},
        {"op": "i", "ns": f"{src_b}.y", "o": {"_id": 2, "v": "after"}, "ts": ts(4)},
    ]
    rename = {f"{src_a}.x": f"{target.name}.x", f"{src_b}.y": f"{other.name}.y"}
    apply(server.client, entries, namespaces=set(rename), rename=rename)
    assert "x" not in target.list_collection_names()
    assert list(other.y.find().sort("_id", 1)) == [{"_id": 1, "v": "moved"}, {"_id": 2, "v": "after"}]


def test_create_keeps_collation(server, target):
    collation = {"locale": "fr", "strength": 2}
    entries = [{"op": "c", "ns": f"{target.name}.$cmd",
                "o": {"create": "names", "collation": collation,
                      "idIndex": {"v": 2, "key": {"_id": 1}, "name": "_id_", "collation": collation}}, "ts": ts(1)},
               {"op": "i", "ns": f"{target.name}.names", "o": {"_id": 1, "n": "Élan"}, "ts": ts(2)}]
    apply(server.client, entries)
    options = options_of(target, "names")
    assert options["collation"]["locale"] == "fr" and options["collation"]["strength"] == 2
    assert target.names.count_documents({}) == 1


def test_create_keeps_the_clustered_index(server, target):
    clustered = {"v": 2, "key": {"_id": 1}, "name": "_id_", "unique": True}
    entries = [{"op": "c", "ns": f"{target.name}.$cmd", "o": {"create": "events", "clusteredIndex": clustered},
                "ts": ts(1)},
               {"op": "i", "ns": f"{target.name}.events", "o": {"_id": 5, "e": 1}, "ts": ts(2)}]
    apply(server.client, entries)
    options = options_of(target, "events")
    assert "clusteredIndex" in options, options
    assert dict(options["clusteredIndex"]["key"]) == {"_id": 1}
    assert list(target.events.find()) == [{"_id": 5, "e": 1}]


def test_apply_ops_holding_commands(server, target):
    ns, cmd = f"{target.name}.t", f"{target.name}.$cmd"
    lsid = {"id": Binary(uuid.uuid4().bytes, 4), "uid": b"\x00" * 32}
    entries = [{"op": "c", "ns": "admin.$cmd", "o": {"applyOps": [
        {"op": "c", "ns": cmd, "o": {"create": "t"}},
        {"op": "c", "ns": cmd, "o": {"createIndexes": "t", "v": 2, "key": {"k": 1}, "name": "k_1", "unique": True}},
        {"op": "i", "ns": ns, "o": {"_id": 1, "k": "a"}},
        {"op": "i", "ns": ns, "o": {"_id": 2, "k": "b"}},
        {"op": "c", "ns": cmd, "o": {"create": "gone"}},
        {"op": "c", "ns": cmd, "o": {"drop": "gone"}},
    ]}, "lsid": lsid, "txnNumber": Int64(1), "prevOpTime": {"ts": Timestamp(0, 0), "t": Int64(-1)}, "ts": ts(1)}]
    apply(server.client, entries)
    assert list(target.t.find().sort("_id", 1)) == [{"_id": 1, "k": "a"}, {"_id": 2, "k": "b"}]
    assert index_names(target.t) == ["_id_", "k_1"]
    assert "gone" not in target.list_collection_names()


def test_emptycapped_deletes_every_document_and_keeps_the_collection(server, target):
    target.create_collection("log", capped=True, size=1 << 20)
    target.log.insert_many([{"_id": n} for n in range(10)])
    target.log.create_index("when")
    applier = apply(server.client, [
        {"op": "c", "ns": f"{target.name}.$cmd", "o": {"emptycapped": "log"}, "ts": ts(1)},
        {"op": "i", "ns": f"{target.name}.log", "o": {"_id": "after"}, "ts": ts(2)},
    ])
    assert list(target.log.find()) == [{"_id": "after"}]
    options = options_of(target, "log")
    assert options.get("capped") is True
    assert index_names(target.log) == ["_id_", "when_1"]
    assert applier.applied[f"{target.name}.log"] == 2


def test_emptycapped_of_a_collection_not_restored_is_skipped(server, target):
    target.create_collection("kept", capped=True, size=1 << 20)
    target.kept.insert_one({"_id": 1})
    apply(server.client, [{"op": "c", "ns": f"{target.name}.$cmd", "o": {"emptycapped": "kept"}, "ts": ts(1)}],
          namespaces={f"{target.name}.other"})
    assert target.kept.count_documents({}) == 1
