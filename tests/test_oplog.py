"""OplogApplier against the real embedded server, and the update formats it understands.

Round trips: operations run on a source database of the session server, its
``local.oplog.rs`` entries are replayed into an empty target database (through
the rename mapping) and both are compared exactly: raw BSON of every document
in natural order, index specs, collection options. mongod's own entry shapes,
which the embedded server never writes, are written by hand from mongod's
sources (document_diff_applier_test.cpp and the transaction / index build
entry formats).
"""
from __future__ import annotations

import datetime as dt
import random
import uuid

import bson
import pytest
from bson import Binary, Decimal128, Int64, ObjectId, Regex, Timestamp
from bson.codec_options import CodecOptions
from bson.raw_bson import RawBSONDocument
from pymongo import ASCENDING, DESCENDING, IndexModel

from labkit.errors import BackupError
from labkit.backup.oplog import (
    OplogApplier,
    OplogApplyError,
    apply_mongod_diff,
    apply_set_unset,
    apply_update,
    apply_update_description,
)

RAW = CodecOptions(document_class=RawBSONDocument)


# -- helpers -------------------------------------------------------------------


def last_ts(client) -> Timestamp:
    return client.local.oplog.rs.find().sort("$natural", -1).limit(1).next()["ts"]


def oplog_of(client, db_name: str, after: Timestamp) -> list[dict]:
    """Every oplog entry of database ``db_name`` written after ``after``, in oplog order."""
    query = {"ts": {"$gt": after}, "ns": {"$regex": f"^{db_name}\\."}}
    return list(client.local.oplog.rs.find(query).sort("$natural", 1))


def snapshot(db, *, by_id: bool = False) -> dict:
    """Everything a restore must reproduce: raw documents (natural order), indexes, options."""
    out = {}
    for info in db.list_collections():
        coll = db.get_collection(info["name"], codec_options=RAW)
        docs = [d.raw for d in coll.find()]
        if by_id:
            docs.sort(key=lambda raw: bson.encode({"k": bson.decode(raw)["_id"]}))
        indexes = sorted(({k: v for k, v in ix.items() if k != "ns"} for ix in coll.list_indexes()), key=lambda ix: ix["name"])
        out[info["name"]] = {"type": info.get("type"), "options": info.get("options"), "docs": docs, "indexes": indexes}
    return out


def mapping(src, dst, names) -> dict[str, str]:
    return {f"{src.name}.{n}": f"{dst.name}.{n}" for n in names}


def replay(client, entries, src, dst, names, **kwargs) -> OplogApplier:
    rename = mapping(src, dst, names)
    applier = OplogApplier(client, namespaces=set(rename), rename=rename, **kwargs)
    applier.apply(entries)
    applier.flush()
    return applier


@pytest.fixture
def target(server):
    name = server.new_db_name()
    yield server.client[name]
    server.client.drop_database(name)


def secantus_update(ns, _id, updated=None, removed=(), truncated=(), ts=None):
    return {
        "op": "u",
        "ns": ns,
        "o": {"$v": 2, "diff": {"updatedFields": updated or {}, "removedFields": list(removed), "truncatedArrays": list(truncated)}},
        "o2": {"_id": _id},
        "ts": ts or Timestamp(1, 1),
    }


# -- round trips of what the embedded server writes --------------------------------


def crud_history(db):
    """Inserts and every kind of update the embedded server logs, on two collections."""
    people = db.people
    people.insert_many(
        [
            {
                "_id": i,
                "name": f"p{i}",
                "n": {"d": i, "e": [1, 2, {"x": 1}]},
                "arr": list(range(i % 5 + 2)),
                "tags": ["a", "b"],
                "when": dt.datetime(2024, 1, 1, 12, 0, i),
                "big": Int64(i),
                "dec": Decimal128("1.10"),
                "bin": Binary(b"\x00\x01", 4 if i % 2 else 0),
                "re": Regex("^a", "i"),
                "none": None,
                "flag": i % 2 == 0,
                "f": -0.0,
            }
            for i in range(30)
        ]
    )
    people.update_one({"_id": 0}, {"$set": {"n.d": 5, "z": 1, "b": 2}, "$inc": {"big": 1}})
    people.update_one({"_id": 0}, {"$set": {"n.q": 1, "n.c": 2}})
    people.update_one({"_id": 1}, {"$unset": {"n.d": 1, "none": ""}})
    people.update_one({"_id": 2}, {"$push": {"arr": 99}})
    people.update_one({"_id": 2}, {"$push": {"arr": {"$each": [7, 8, 9], "$slice": -3}}})
    people.update_one({"_id": 3}, {"$pull": {"arr": 1}})
    people.update_one({"_id": 3}, {"$pop": {"tags": 1}})
    people.update_one({"_id": 4}, {"$set": {"arr.1": "one", "arr.8": "eight"}})
    people.update_one({"_id": 4}, [{"$set": {"arr": {"$slice": ["$arr", 2]}}}])
    people.update_one({"_id": 5}, {"$addToSet": {"tags": "c"}, "$mul": {"big": 3}})
    people.update_one({"_id": 5}, {"$set": {"n.e.2.x": 2, "n.e.0": {"deep": [1]}}})
    people.update_one({"_id": 6}, {"$rename": {"name": "fullname"}})
    people.update_one({"_id": 6}, {"$min": {"big": Int64(-4)}, "$max": {"f": 3.5}})
    people.update_one({"_id": 7}, {"$unset": {"arr.0": 1}})
    people.update_one({"_id": 7}, {"$set": {"flag": 1, "when": dt.datetime(2030, 5, 5)}})
    people.update_one({"_id": 8}, {"$set": {"tags": []}})
    people.update_one({"_id": 8}, {"$push": {"tags": "first"}})
    people.update_one({"_id": 9}, [{"$set": {"n": {"$mergeObjects": ["$n", {"added": True}]}}}])
    people.replace_one({"_id": 10}, {"replaced": True, "arr": [3, 2, 1]})
    people.update_many({"_id": {"$gte": 20}}, {"$inc": {"n.d": 100}})
    people.update_one({"_id": 100}, {"$set": {"upserted": 1}}, upsert=True)
    people.delete_one({"_id": 11})
    people.delete_many({"_id": {"$gte": 25}})
    people.insert_one({"_id": 11, "again": True})
    people.find_one_and_update({"_id": 12}, {"$set": {"fa": 1}})
    # Several operations on one document in a row: collapsed into one write.
    for k in range(5):
        people.update_one({"_id": 13}, {"$inc": {"big": 1}, "$push": {"arr": k}})
    people.update_one({"_id": 13}, [{"$set": {"arr": {"$slice": ["$arr", 1, 3]}}}])
    # Other _id types.
    others = db.others
    others.insert_many([{"_id": "s1", "v": 1}, {"_id": {"k": 1, "j": [1]}, "v": 2}, {"_id": ObjectId(), "v": 3}, {"_id": 2.5, "v": 4}])
    others.update_one({"_id": {"k": 1, "j": [1]}}, {"$set": {"v": 22}})
    others.update_one({"_id": "s1"}, {"$set": {"w": {"x": 1}}})
    others.delete_one({"_id": 2.5})


@pytest.mark.parametrize("batch_size", [1000, 1, 7])
def test_crud_round_trip_is_exact(server, db, target, batch_size):
    start = last_ts(server.client)
    crud_history(db)
    entries = oplog_of(server.client, db.name, start)
    applier = replay(server.client, entries, db, target, ["people", "others"], batch_size=batch_size)
    assert snapshot(target) == snapshot(db)
    counts = {}
    for e in entries:
        counts[f"{target.name}.{e['ns'].partition('.')[2]}"] = counts.get(f"{target.name}.{e['ns'].partition('.')[2]}", 0) + 1
    assert applier.applied == counts


def ddl_history(client, db):
    db.create_collection("valid", validator={"$jsonSchema": {"bsonType": "object", "required": ["a"]}}, validationLevel="moderate")
    db.create_collection("capped", capped=True, size=100_000, max=50)
    db.valid.insert_many([{"_id": i, "a": i, "email": f"u{i}@x", "ttl": dt.datetime(2024, 1, 1)} for i in range(10)])
    db.capped.insert_many([{"_id": i} for i in range(5)])
    db.valid.create_indexes(
        [
            IndexModel([("email", ASCENDING)], unique=True),
            IndexModel([("a", DESCENDING), ("email", ASCENDING)], name="compound"),
            IndexModel([("s", ASCENDING)], sparse=True),
            IndexModel([("p", ASCENDING)], partialFilterExpression={"a": {"$gt": 5}}),
            IndexModel([("ttl", ASCENDING)], expireAfterSeconds=10**9),
        ]
    )
    db.valid.drop_index("s_1")
    db.command("collMod", "valid", validator={"$jsonSchema": {"bsonType": "object"}})
    db.command("collMod", "valid", index={"name": "ttl_1", "expireAfterSeconds": 10**8})
    db.valid.update_one({"_id": 1}, {"$set": {"email": "changed@x"}})
    # Rename, then a new collection under the old name.
    db.valid.rename("renamed")
    db.create_collection("valid")
    db.valid.insert_one({"_id": "new", "a": 0})
    # Rename over an existing collection.
    db.scratch.insert_one({"_id": "gone"})
    db.capped.rename("scratch", dropTarget=True)
    db.create_collection("view", viewOn="renamed", pipeline=[{"$match": {"a": {"$gt": 2}}}])
    # Create, fill, drop, re-create.
    db.temp.insert_one({"_id": 1})
    db.temp.create_index("x")
    db.temp.drop()
    db.temp.insert_one({"_id": 2, "after": "drop"})
    # A transaction over two collections (one entry per operation, one ts).
    with client.start_session() as session, session.start_transaction():
        db.renamed.insert_one({"_id": "tx", "a": 1}, session=session)
        db.renamed.update_one({"_id": 2}, {"$set": {"tx": True}}, session=session)
        db.valid.delete_one({"_id": "new"}, session=session)
        db.txonly.insert_one({"_id": 1}, session=session)


def test_ddl_and_transaction_round_trip_is_exact(server, db, target):
    start = last_ts(server.client)
    ddl_history(server.client, db)
    entries = oplog_of(server.client, db.name, start)
    assert any(e["op"] == "c" and "renameCollection" in e["o"] for e in entries)
    tx = [e for e in entries if "txnNumber" in e]
    assert len(tx) == 4 and len({e["ts"] for e in tx}) == 1
    replay(server.client, entries, db, target, ["valid", "capped", "renamed", "scratch", "temp", "txonly", "view"])
    expected = snapshot(db)
    assert set(expected) == {"valid", "renamed", "scratch", "temp", "txonly", "view"}
    assert expected["view"]["type"] == "view"
    assert snapshot(target) == expected


def test_replaying_twice_changes_nothing(server, db, target):
    start = last_ts(server.client)
    crud_history(db)
    ddl_history(server.client, db)
    entries = oplog_of(server.client, db.name, start)
    names = ["people", "others", "valid", "capped", "renamed", "scratch", "temp", "txonly", "view"]
    replay(server.client, entries, db, target, names)
    replay(server.client, entries, db, target, names)
    assert snapshot(target) == snapshot(db)
    # The same applier fed the same entries again (a capture re-sending a segment).
    rename = mapping(db, target, names)
    applier = OplogApplier(server.client, namespaces=set(rename), rename=rename)
    applier.apply(entries)
    applier.apply(entries)
    applier.flush()
    assert snapshot(target) == snapshot(db)


def random_update(rnd: random.Random) -> dict | list:
    choice = rnd.randrange(9)
    if choice == 0:
        return {"$inc": {"n": rnd.randint(1, 3)}}
    if choice == 1:
        return {"$set": {"addr.zip": str(rnd.randint(0, 99)), "extra": rnd.random()}}
    if choice == 2:
        return {"$push": {"tags": rnd.choice("xyz")}}
    if choice == 3:
        return {"$pull": {"tags": rnd.choice("abxyz")}}
    if choice == 4:
        return {"$unset": {"extra": "", "addr.zip": ""}}
    if choice == 5:
        return [{"$set": {"tags": {"$slice": ["$tags", 1]}}}]
    if choice == 6:
        return {"$set": {"addr": {"city": rnd.choice("ab"), "geo": [rnd.random(), rnd.random()]}}}
    if choice == 7:
        return {"$set": {f"tags.{rnd.randint(0, 4)}": "idx"}}
    return {"$rename": {"extra": "other"}} if rnd.random() < 0.5 else {"$set": {"n": Int64(rnd.randint(0, 9))}}


def test_replay_over_a_fuzzy_copy_converges(server, db, target):
    """mongodump --oplog semantics: the copy holds each document as of some moment between
    the start position and the end; replaying from the start gives the end state exactly."""
    rnd = random.Random(5)
    coll = db.fuzzy
    coll.insert_many([{"_id": i, "n": i, "addr": {"zip": "0"}, "tags": ["a", "b"]} for i in range(40)])
    coll.create_index("n")
    start = last_ts(server.client)
    moments = [{d["_id"]: d for d in coll.find()}]
    next_id = 40
    for step in range(240):
        r = rnd.random()
        ids = [d["_id"] for d in coll.find({}, {"_id": 1})]
        if r < 0.2 or not ids:
            coll.insert_one({"_id": next_id, "n": next_id, "addr": {"zip": "1"}, "tags": ["a"]})
            next_id += 1
        elif r < 0.3:
            coll.delete_one({"_id": rnd.choice(ids)})
        elif r < 0.35:
            coll.replace_one({"_id": rnd.choice(ids)}, {"n": -1, "replaced": True, "tags": []})
        elif r < 0.4:
            gone = rnd.randrange(next_id)
            coll.delete_one({"_id": gone})
            coll.insert_one({"_id": gone, "n": gone, "reborn": step, "tags": ["r"]})
        else:
            coll.update_one({"_id": rnd.choice(ids)}, random_update(rnd))
        if step % 20 == 0:
            moments.append({d["_id"]: d for d in coll.find()})
    moments.append({d["_id"]: d for d in coll.find()})
    entries = oplog_of(server.client, db.name, start)
    # The fuzzy copy: every document as of a random moment (present then or not).
    copy = target.fuzzy
    copy.create_index("n")
    all_ids = set().union(*moments)
    for _id in sorted(all_ids):
        moment = rnd.choice(moments)
        if _id in moment:
            copy.insert_one(moment[_id])
    assert snapshot(target, by_id=True) != snapshot(db, by_id=True)
    replay(server.client, entries, db, target, ["fuzzy"])
    assert snapshot(target, by_id=True) == snapshot(db, by_id=True)
    replay(server.client, entries, db, target, ["fuzzy"], batch_size=3)
    assert snapshot(target, by_id=True) == snapshot(db, by_id=True)


# -- selection and renaming ------------------------------------------------------------


def test_only_selected_namespaces_are_applied_under_their_new_names(server, db, target):
    start = last_ts(server.client)
    db.create_collection("a", validator={"$jsonSchema": {"bsonType": "object"}})
    db.a.create_index("x", unique=True)
    db.a.insert_many([{"_id": i, "x": i} for i in range(5)])
    db.b.insert_many([{"_id": i} for i in range(5)])
    db.b.create_index("y")
    db.a.update_one({"_id": 1}, {"$set": {"x": 10}})
    entries = oplog_of(server.client, db.name, start)
    applier = OplogApplier(server.client, namespaces={f"{db.name}.a"}, rename={f"{db.name}.a": f"{target.name}.a_restored"})
    applier.apply(entries)
    applier.flush()
    assert target.list_collection_names() == ["a_restored"]
    got = snapshot(target)["a_restored"]
    want = snapshot(db)["a"]
    assert got == want
    assert applier.applied == {f"{target.name}.a_restored": 8}
    assert "b" in db.list_collection_names() and db.b.count_documents({}) == 5  # source untouched


def history_with_a_renamed(server, db, target, renamed_to: str, selected: str):
    """The oplog of inserting into ``a`` then renaming it, and an applier restoring only ``selected``."""
    start = last_ts(server.client)
    db.a.insert_one({"_id": 1})
    db.a.rename(renamed_to)
    ns = f"{db.name}.{selected}"
    applier = OplogApplier(server.client, namespaces={ns}, rename={ns: f"{target.name}.{selected}"})
    return oplog_of(server.client, db.name, start), applier


def test_a_collection_renamed_out_of_the_selection_is_gone(server, db, target):
    entries, applier = history_with_a_renamed(server, db, target, renamed_to="elsewhere", selected="a")
    applier.apply(entries)
    applier.flush()
    assert target.list_collection_names() == []


def test_a_collection_renamed_into_the_selection_needs_its_source(server, db, target):
    entries, applier = history_with_a_renamed(server, db, target, renamed_to="b", selected="b")
    with pytest.raises(OplogApplyError, match=rf"restore {db.name}\.a together with {db.name}\.b"):
        applier.apply(entries)
    assert isinstance(OplogApplyError("x"), BackupError)


def test_drop_database_drops_only_the_restored_collections(server, db, target):
    target.live.insert_one({"_id": "keep me"})
    start = last_ts(server.client)
    db.a.insert_one({"_id": 1})
    db.b.insert_one({"_id": 1})
    server.client.drop_database(db.name)
    db.a.insert_one({"_id": 2, "after": True})
    entries = oplog_of(server.client, db.name, start)
    assert any("dropDatabase" in e["o"] for e in entries if e["op"] == "c")
    replay(server.client, entries, db, target, ["a", "b"])
    assert sorted(target.list_collection_names()) == ["a", "live"]
    assert list(target.a.find()) == [{"_id": 2, "after": True}]
    assert list(target.live.find()) == [{"_id": "keep me"}]


def test_system_databases_noops_and_unselected_commands_are_ignored(server, target):
    ns = f"{target.name}.c"
    entries = [
        {"op": "n", "ns": "", "o": {"msg": "periodic noop"}, "ts": Timestamp(1, 1)},
        {"op": "i", "ns": "admin.users", "o": {"_id": 1}, "ts": Timestamp(1, 2)},
        {"op": "i", "ns": "config.transactions", "o": {"_id": 1}, "ts": Timestamp(1, 3)},
        {"op": "i", "ns": f"{target.name}.system.views", "o": {"_id": 1}, "ts": Timestamp(1, 4)},
        {"op": "c", "ns": "other.$cmd", "o": {"someFutureCommand": "x"}, "ts": Timestamp(1, 5)},
        {"op": "c", "ns": f"{target.name}.$cmd", "o": {"startIndexBuild": "c", "indexes": []}, "ts": Timestamp(1, 6)},
        {"op": "i", "ns": ns, "o": {"_id": 1}, "ts": Timestamp(1, 7)},
    ]
    applier = OplogApplier(server.client, namespaces={ns, "admin.users", "config.transactions", f"{target.name}.system.views"})
    applier.apply(entries)
    applier.flush()
    assert list(target.c.find()) == [{"_id": 1}]
    assert applier.applied == {ns: 1}
    assert "users" not in server.client.admin.list_collection_names()


def test_unknown_entries_are_refused_with_a_clear_message(server, target):
    applier = OplogApplier(server.client)
    with pytest.raises(OplogApplyError, match="unknown oplog entry type op='x'"):
        applier.apply([{"op": "x", "ns": f"{target.name}.c", "o": {}, "ts": Timestamp(1, 1)}])
    with pytest.raises(OplogApplyError, match="names no document _id"):
        applier.apply([{"op": "u", "ns": f"{target.name}.c", "o": {"$set": {"a": 1}}, "ts": Timestamp(1, 1)}])
    with pytest.raises(OplogApplyError, match="cannot replay the oplog command 'convertToCapped'"):
        applier.apply([{"op": "c", "ns": f"{target.name}.$cmd", "o": {"convertToCapped": "c", "size": 1}, "ts": Timestamp(1, 2)}])


# -- unique indexes ------------------------------------------------------------------------


def test_a_swap_under_a_unique_index_is_replayed_in_order(server, target):
    ns = f"{target.name}.u"
    target.u.create_index("x", unique=True)
    applier = OplogApplier(server.client)
    applier.apply(
        [
            {"op": "i", "ns": ns, "o": {"_id": "A", "x": 1}, "ts": Timestamp(1, 1)},
            {"op": "i", "ns": ns, "o": {"_id": "B", "x": 2}, "ts": Timestamp(1, 2)},
        ]
    )
    applier.flush()
    # A: 1 -> 3, B: 2 -> 1, A: 3 -> 2. Final states written at once clash with the
    # current ones whatever their order, so the batch is replayed step by step.
    applier.apply(
        [
            secantus_update(ns, "A", {"x": 3}, ts=Timestamp(2, 1)),
            secantus_update(ns, "B", {"x": 1}, ts=Timestamp(2, 2)),
            secantus_update(ns, "A", {"x": 2}, ts=Timestamp(2, 3)),
        ]
    )
    applier.flush()
    assert sorted(target.u.find(), key=lambda d: d["_id"]) == [{"_id": "A", "x": 2}, {"_id": "B", "x": 1}]


def test_an_unresolvable_unique_clash_names_the_index(server, target):
    ns = f"{target.name}.u"
    target.u.create_index("x", unique=True)
    target.u.insert_one({"_id": "other", "x": 1})
    applier = OplogApplier(server.client)
    applier.apply([{"op": "i", "ns": ns, "o": {"_id": "A", "x": 1}, "ts": Timestamp(1, 1)}])
    with pytest.raises(OplogApplyError, match="violates a unique index.*x_1") as info:
        applier.flush()
    assert info.value.namespace == ns


# -- mongod's entry shapes (written by hand) -------------------------------------------------


def mongod_entries(db_name: str) -> list[dict]:
    """What mongod 5.0+ logs for a short history, transactions and index builds included."""
    ns, cmd = f"{db_name}.m", f"{db_name}.$cmd"
    lsid = {"id": Binary(uuid.uuid4().bytes, 4), "uid": b"\x00" * 32}

    def ts(i):
        return Timestamp(1_700_000_000, i)

    def op_time(i):
        return {"ts": ts(i), "t": Int64(1)}

    return [
        {"op": "c", "ns": cmd, "o": {"create": "m", "idIndex": {"v": 2, "key": {"_id": 1}, "name": "_id_"}}, "ts": ts(1)},
        # mongod: one createIndexes entry per index (empty collection), spec inline.
        {"op": "c", "ns": cmd, "o": {"createIndexes": "m", "v": 2, "key": {"x": 1}, "name": "x_1", "unique": True}, "ts": ts(2)},
        {"op": "i", "ns": ns, "o": {"_id": 1, "x": 1, "a": {"b": 1, "c": [1, 2, 3]}, "arr": [{"k": 1}, {"k": 2}]}, "o2": {"_id": 1}, "ts": ts(3)},
        {"op": "i", "ns": ns, "o": {"_id": 2, "x": 2, "s": "two"}, "ts": ts(4)},
        # Two-phase index build on a non-empty collection.
        {"op": "c", "ns": cmd, "o": {"startIndexBuild": "m", "indexBuildUUID": Binary(uuid.uuid4().bytes, 4), "indexes": [{"v": 2, "key": {"y": -1}, "name": "y_-1"}]}, "ts": ts(5)},
        {"op": "c", "ns": cmd, "o": {"commitIndexBuild": "m", "indexBuildUUID": Binary(uuid.uuid4().bytes, 4), "indexes": [{"v": 2, "key": {"y": -1}, "name": "y_-1"}]}, "ts": ts(6)},
        # $v: 2 delta: update x, insert new field, delete s? (not on doc 1), sub-diffs on a document and an array.
        {"op": "u", "ns": ns, "o": {"$v": 2, "diff": {"u": {"x": 10}, "i": {"new": True}, "sa": {"u": {"b": 2}, "sc": {"a": True, "l": 2, "u1": 20}}, "sarr": {"a": True, "s1": {"i": {"j": 1}}, "u2": {"k": 3}}}}, "o2": {"_id": 1}, "ts": ts(7)},
        # Legacy $v: 1 update.
        {"op": "u", "ns": ns, "o": {"$v": 1, "$set": {"z": 1, "m.n": 2}, "$unset": {"s": True}}, "o2": {"_id": 2}, "ts": ts(8)},
        # A small transaction: one applyOps entry.
        {"op": "c", "ns": "admin.$cmd", "o": {"applyOps": [
            {"op": "i", "ns": ns, "ui": Binary(uuid.uuid4().bytes, 4), "o": {"_id": 3, "x": 3}, "o2": {"_id": 3}},
            {"op": "u", "ns": ns, "o": {"$v": 2, "diff": {"d": {"z": False}}}, "o2": {"_id": 2}},
        ]}, "lsid": lsid, "txnNumber": Int64(1), "prevOpTime": {"ts": Timestamp(0, 0), "t": Int64(-1)}, "ts": ts(9)},
        # A large transaction over three entries chained by prevOpTime.
        {"op": "c", "ns": "admin.$cmd", "o": {"applyOps": [{"op": "i", "ns": ns, "o": {"_id": 4, "x": 4}}], "partialTxn": True}, "lsid": lsid, "txnNumber": Int64(2), "prevOpTime": {"ts": Timestamp(0, 0), "t": Int64(-1)}, "ts": ts(10)},
        {"op": "c", "ns": "admin.$cmd", "o": {"applyOps": [{"op": "u", "ns": ns, "o": {"$v": 2, "diff": {"u": {"x": 40}}}, "o2": {"_id": 4}}], "partialTxn": True}, "lsid": lsid, "txnNumber": Int64(2), "prevOpTime": op_time(10), "ts": ts(11)},
        {"op": "c", "ns": "admin.$cmd", "o": {"applyOps": [{"op": "d", "ns": ns, "o": {"_id": 3}}], "count": 3}, "lsid": lsid, "txnNumber": Int64(2), "prevOpTime": op_time(11), "ts": ts(12)},
        # A prepared transaction that commits, and one that aborts.
        {"op": "c", "ns": "admin.$cmd", "o": {"applyOps": [{"op": "i", "ns": ns, "o": {"_id": 5, "x": 5}}], "prepare": True}, "lsid": lsid, "txnNumber": Int64(3), "prevOpTime": {"ts": Timestamp(0, 0), "t": Int64(-1)}, "ts": ts(13)},
        {"op": "c", "ns": "admin.$cmd", "o": {"commitTransaction": 1, "commitTimestamp": ts(14)}, "lsid": lsid, "txnNumber": Int64(3), "prevOpTime": op_time(13), "ts": ts(15)},
        {"op": "c", "ns": "admin.$cmd", "o": {"applyOps": [{"op": "i", "ns": ns, "o": {"_id": 6, "x": 6}}], "prepare": True}, "lsid": lsid, "txnNumber": Int64(4), "prevOpTime": {"ts": Timestamp(0, 0), "t": Int64(-1)}, "ts": ts(16)},
        {"op": "c", "ns": "admin.$cmd", "o": {"abortTransaction": 1}, "lsid": lsid, "txnNumber": Int64(4), "prevOpTime": op_time(16), "ts": ts(17)},
        # Full-document replacement: o without operators, o2 holds _id.
        {"op": "u", "ns": ns, "o": {"_id": 5, "replaced": 1}, "o2": {"_id": 5}, "ts": ts(18)},
        {"op": "c", "ns": cmd, "o": {"dropIndexes": "m", "index": "y_-1"}, "o2": {"v": 2, "key": {"y": -1}, "name": "y_-1"}, "ts": ts(19)},
        {"op": "c", "ns": cmd, "o": {"collMod": "m", "validator": {"x": {"$exists": True}}}, "ts": ts(20)},
        {"op": "n", "ns": "", "o": {"msg": "new primary"}, "ts": ts(21)},
    ]


MONGOD_EXPECTED = [
    {"_id": 1, "x": 10, "a": {"b": 2, "c": [1, 20]}, "arr": [{"k": 1}, {"k": 2, "j": 1}, {"k": 3}], "new": True},
    {"_id": 2, "x": 2, "m": {"n": 2}},
    {"_id": 4, "x": 40},
    {"_id": 5, "replaced": 1},
]


def test_mongod_entries_are_applied(server, db, target):
    entries = mongod_entries(db.name)
    applier = replay(server.client, entries, db, target, ["m"])
    assert [bson.encode(d) for d in target.m.find()] == [bson.encode(d) for d in MONGOD_EXPECTED]
    assert [(ix["name"], dict(ix["key"]), ix.get("unique")) for ix in target.m.list_indexes()] == [
        ("_id_", {"_id": 1}, None),
        ("x_1", {"x": 1}, True),
    ]
    options = target.command("listCollections", filter={"name": "m"})["cursor"]["firstBatch"][0]["options"]
    assert options == {"validator": {"x": {"$exists": True}}}
    assert applier.open_transactions == 0
    # Idempotent: again over the result.
    replay(server.client, entries, db, target, ["m"])
    assert [bson.encode(d) for d in target.m.find()] == [bson.encode(d) for d in MONGOD_EXPECTED]


def test_an_unfinished_large_transaction_waits_for_its_commit(server, db, target):
    entries = mongod_entries(db.name)
    first_partial = next(i for i, e in enumerate(entries) if e["o"].get("partialTxn"))
    rename = mapping(db, target, ["m"])
    applier = OplogApplier(server.client, namespaces=set(rename), rename=rename)
    applier.apply(entries[: first_partial + 2])  # both partial entries, not the commit
    applier.flush()
    assert target.m.find_one({"_id": 4}) is None
    assert applier.open_transactions == 1
    applier.apply(entries[first_partial + 2 :])  # streaming: the commit arrives later
    applier.flush()
    assert target.m.find_one({"_id": 4}) == {"_id": 4, "x": 40}
    assert applier.open_transactions == 0


def test_mongod_per_index_and_secantus_index_entries_are_idempotent(server, target):
    cmd = f"{target.name}.$cmd"
    entries = [
        {"op": "c", "ns": cmd, "o": {"createIndexes": "c", "v": 2, "key": {"a": 1}, "name": "a_1", "sparse": True}, "ts": Timestamp(1, 1)},
        {"op": "c", "ns": cmd, "o": {"createIndexes": "c", "indexes": [{"v": 2, "key": {"b": 1}, "name": "b_1", "entryFormat": 4}]}, "ts": Timestamp(1, 2)},
        {"op": "c", "ns": cmd, "o": {"deleteIndexes": "c", "index": "a_1"}, "ts": Timestamp(1, 3)},
        # A fuzzy copy may already hold a later index of the same name: the oplog's wins.
        {"op": "c", "ns": cmd, "o": {"createIndexes": "c", "v": 2, "key": {"a": -1}, "name": "a_1"}, "ts": Timestamp(1, 4)},
    ]
    for _ in range(2):
        applier = OplogApplier(server.client)
        applier.apply(entries)
        applier.flush()
    specs = {ix["name"]: (dict(ix["key"]), ix.get("sparse")) for ix in target.c.list_indexes()}
    assert specs == {"_id_": ({"_id": 1}, None), "a_1": ({"a": -1}, None), "b_1": ({"b": 1}, None)}


# -- update formats, pure --------------------------------------------------------------------


def same(a, b) -> bool:
    """Binary equality, field order included (what replica set members must agree on)."""
    return bson.encode(a) == bson.encode(b)


def check_mongod_diff(pre, diff, post):
    once = apply_mongod_diff(pre, diff)
    assert same(once, post), once
    assert same(apply_mongod_diff(once, diff), post)  # re-applying is harmless
    assert same(apply_update(pre, {"$v": 2, "diff": diff}), post)


# The cases of mongod's document_diff_applier_test.cpp.
def test_mongod_diff_delete_insert_update_simple():
    check_mongod_diff({"f1": 1, "foo": 2, "f2": 3}, {"d": {"f1": False, "f2": False, "f3": False}}, {"foo": 2})
    check_mongod_diff({"f1": 1, "foo": 2, "f2": 3}, {"i": {"f1": 1, "newField": 2}}, {"foo": 2, "f2": 3, "f1": 1, "newField": 2})
    check_mongod_diff({"f1": 0, "foo": 2, "f2": 3}, {"u": {"f1": 1, "newField": 2}}, {"f1": 1, "foo": 2, "f2": 3, "newField": 2})


def test_mongod_diff_sub_object_and_arrays():
    check_mongod_diff(
        {"obj": {"dField": 0, "iField": 0, "uField": 0}, "otherField": 0},
        {"sobj": {"d": {"dField": False}, "u": {"uField": 2}, "i": {"iField": 1}}},
        {"obj": {"uField": 2, "iField": 1}, "otherField": 0},
    )
    arr = {"arr": [999, 999, 999, 999]}
    check_mongod_diff(arr, {"sarr": {"a": True, "u1": 1, "u4": 2}}, {"arr": [999, 1, 999, 999, 2]})
    check_mongod_diff(arr, {"sarr": {"a": True, "l": 3, "u1": 1}}, {"arr": [999, 1, 999]})
    check_mongod_diff({"arr": [0]}, {"sarr": {"a": True, "u3": 1}}, {"arr": [0, None, None, 1]})
    check_mongod_diff({"arr": [0]}, {"sarr": {"a": True, "l": 3}}, {"arr": [0, None, None]})


def test_mongod_diff_nested_sub_object_on_mismatched_documents():
    diff = {"ssubObj": {"ssubObj": {"u": {"a": 1}}}}
    check_mongod_diff({"subObj": {"subObj": {"a": 0}}}, diff, {"subObj": {"subObj": {"a": 1}}})
    check_mongod_diff({"someOtherField": 1}, diff, {"someOtherField": 1})
    check_mongod_diff(
        {"dummyA": 1, "dummyB": 2, "subObj": "scalar!", "dummyC": 3, "dummyD": 4},
        diff,
        {"dummyA": 1, "dummyB": 2, "subObj": None, "dummyC": 3, "dummyD": 4},
    )
    check_mongod_diff(
        {"dummyA": 1, "dummyB": 2, "subObj": {"subDummyA": 1, "subObj": "scalar!", "subDummyB": 2}, "dummyC": 3},
        diff,
        {"dummyA": 1, "dummyB": 2, "subObj": {"subDummyA": 1, "subObj": None, "subDummyB": 2}, "dummyC": 3},
    )


def test_mongod_diff_array_of_objects_sub_diffs():
    diff = {
        "d": {"dFieldA": False, "dFieldB": False},
        "u": {"uField": 999},
        "sarr": {"a": True, "s1": {"u": {"a": 1}}, "s2": {"u": {"b": 2}}, "s3": {"u": {"c": 3}}, "u4": {"x": 1}},
    }
    check_mongod_diff(
        {"uField": 1, "dFieldA": 1, "arr": [None, {"a": 0}, {"b": 0}, {"c": 0}], "dFieldB": 1},
        diff,
        {"uField": 999, "arr": [None, {"a": 1}, {"b": 2}, {"c": 3}, {"x": 1}]},
    )
    check_mongod_diff(
        {"uField": 1, "dFieldA": 1, "arr": [{"a": 0}, {"b": 0}, {"c": 0}, {}], "dFieldB": 1},
        diff,
        {"uField": 999, "arr": [{"a": 0}, {"b": 0, "a": 1}, {"c": 0, "b": 2}, {"c": 3}, {"x": 1}]},
    )
    noop = {"arr": [None, {"a": 1}, {"b": 2}, {"c": 3}, {"x": 1}], "uField": 999}
    check_mongod_diff(noop, diff, noop)
    check_mongod_diff({"arr": [0, 0, 0, 0, {"x": 2}], "uField": 1}, diff, {"arr": [0, None, None, None, {"x": 1}], "uField": 999})
    check_mongod_diff({"arr": [], "uField": 1}, diff, {"arr": [None, None, None, None, {"x": 1}], "uField": 999})
    check_mongod_diff(
        {"arr": [0, {}, {}, {}, 4, 5, 6], "uField": 1}, diff, {"arr": [0, {"a": 1}, {"b": 2}, {"c": 3}, {"x": 1}, 5, 6], "uField": 999}
    )
    check_mongod_diff({"dummyA": 1, "arr": {"foo": 1}, "dummyB": 1}, diff, {"dummyA": 1, "arr": None, "dummyB": 1, "uField": 999})
    check_mongod_diff({"dummyA": 1, "arr": 1, "dummyB": 1}, diff, {"dummyA": 1, "arr": None, "dummyB": 1, "uField": 999})


def test_mongod_binary_diff_keeps_the_subtype():
    pre = {"b1": Binary(b"abc", 4)}
    check_mongod_diff(pre, {"b": {"b1": {"o": 3, "d": b"def"}}}, {"b1": Binary(b"abcdef", 4)})
    check_mongod_diff({"b1": b"abcdef"}, {"b": {"b1": {"o": 1, "d": b"x"}}}, {"b1": b"ax"})


def test_apply_update_leaves_its_input_alone():
    pre = {"_id": 1, "a": {"b": [1, {"c": 2}]}, "x": 1}
    frozen = bson.encode(pre)
    apply_mongod_diff(pre, {"sa": {"sb": {"a": True, "s1": {"u": {"c": 3}}, "l": 2}}, "d": {"x": False}})
    apply_update_description(pre, {"updatedFields": {"a.b.1.c": 9, "a.b.5": 1}, "removedFields": ["x"], "truncatedArrays": [{"field": "a.b", "newSize": 1}]})
    apply_set_unset(pre, {"$set": {"a.b.0": 5}, "$unset": {"x": 1}})
    assert bson.encode(pre) == frozen


def test_secantus_update_description():
    pre = {"_id": 1, "n": {"d": 1, "e": [1, 2]}, "arr": [1, 2, 3, 4], "x": 1}
    post = apply_update_description(
        pre,
        {
            "updatedFields": {"n.d": 5, "z": 1, "arr.1": 9, "arr.6": 7, "new.sub": {"k": 1}, "n.e.0": "zero"},
            "removedFields": ["x", "arr.0", "missing.path"],
            "truncatedArrays": [],
        },
    )
    assert same(post, {"_id": 1, "n": {"d": 5, "e": ["zero", 2]}, "arr": [None, 9, 3, 4, None, None, 7], "z": 1, "new": {"sub": {"k": 1}}})
    shrunk = apply_update_description(post, {"updatedFields": {}, "removedFields": [], "truncatedArrays": [{"field": "arr", "newSize": 2}, {"field": "n.e", "newSize": 1}]})
    assert same(shrunk, {"_id": 1, "n": {"d": 5, "e": ["zero"]}, "arr": [None, 9], "z": 1, "new": {"sub": {"k": 1}}})
    # Re-applied to a document that moved on (a scalar where a document was): skipped, not an error.
    assert same(apply_update_description({"_id": 1, "n": 3}, {"updatedFields": {"n.d": 1}}), {"_id": 1, "n": 3})


def test_legacy_set_unset_and_replacement():
    pre = {"_id": 1, "z": 0, "arr": [1, 2], "gone": 1}
    post = apply_set_unset(pre, {"$v": 1, "$set": {"b": 1, "a.c": 2, "arr.3": 4}, "$unset": {"gone": True}})
    # mongod adds new fields in field-name order.
    assert same(post, {"_id": 1, "z": 0, "arr": [1, 2, None, 4], "a": {"c": 2}, "b": 1})
    assert same(apply_update(pre, {"$set": {"z": 5}}), {"_id": 1, "z": 5, "arr": [1, 2], "gone": 1})
    assert same(apply_update(pre, {"_id": 1, "only": True}), {"_id": 1, "only": True})
    assert same(apply_update(pre, {"only": True}), {"_id": 1, "only": True})  # _id kept when o lacks it
    with pytest.raises(BackupError, match=r"unsupported update operator '\$inc'"):
        apply_update(pre, {"$inc": {"z": 1}})
