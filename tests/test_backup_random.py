"""Randomized point-in-time restore: random histories on Main, ground truth at random instants.

For each seed: random inserts, updates (nested fields, arrays growing and
shrinking, $unset, $inc, replacements, multi-document updates), deletes,
index builds and drops and small transactions over three collections, while
the ground truth (every document's raw BSON, index specs, collection options)
is recorded at random instants under a mark. Some seeds take a snapshot in the
middle of their history, from another thread (a fuzzy snapshot). Then each
instant is restored on Temp and compared byte for byte.

20 seeds run in the normal suite; more with LABKIT_RESTORE_SEEDS=200.
"""
from __future__ import annotations

import os
import random
import threading

import pytest
from bson.codec_options import CodecOptions
from bson.raw_bson import RawBSONDocument
from labkit.backup import Backup

SEEDS = int(os.environ.get("LABKIT_RESTORE_SEEDS", "20"))
COLLECTIONS = ("a", "b", "c")
RAW = CodecOptions(document_class=RawBSONDocument)


def state_of(client, db_name: str) -> dict:
    """Everything a restore must reproduce for one database: raw documents, index specs, options."""
    db = client[db_name]
    out = {}
    for name in COLLECTIONS:
        coll = db.get_collection(name, codec_options=RAW)
        docs = {bytes(RawBSONDocument(doc.raw)["_id"].__repr__(), "utf8"): doc.raw for doc in coll.find()}
        indexes = sorted((dict(spec) for spec in db[name].list_indexes()), key=lambda s: s["name"])
        info = list(db.list_collections(filter={"name": name}))
        out[name] = {"docs": docs, "indexes": indexes, "options": dict(info[0]["options"]) if info else None}
    return out


class History:
    """One seed's random operations on Main."""

    def __init__(self, ws, seed: int):
        self.ws, self.rng = ws, random.Random(seed)
        self.db_name = f"rnd{seed}"
        self.client = ws.main.client
        self.db = self.client[self.db_name]
        self.next_id = 0
        self.truths: dict[str, dict] = {}
        self.snapshot: dict | None = None  # the snapshot taken in the middle of the history, if any

    def setup(self) -> None:
        self.db.create_collection("a")
        self.db.create_collection("b", validator={"$jsonSchema": {"bsonType": "object"}})
        self.db.create_collection("c")
        self.db.c.create_index([("n", 1), ("s", -1)], name="n_s")
        for name in COLLECTIONS:
            for _ in range(self.rng.randint(3, 8)):
                self.insert(name)

    def new_doc(self) -> dict:
        rng = self.rng
        self.next_id += 1
        doc = {"_id": self.next_id, "n": rng.randint(0, 50), "s": rng.choice(["x", "yy", "zzz"]),
               "tags": [rng.randint(0, 9) for _ in range(rng.randint(0, 4))],
               "nested": {"x": rng.random(), "y": {"z": rng.randint(0, 5), "w": [1, {"q": 2}]}}}
        if rng.random() < 0.3:
            doc["extra"] = {"deep": {"deeper": list(range(rng.randint(0, 3)))}}
        return doc

    def insert(self, name: str, session=None) -> None:
        self.db[name].insert_one(self.new_doc(), session=session)

    def some_id(self) -> int:
        return self.rng.randint(1, max(self.next_id, 1))

    def update(self, name: str, session=None) -> None:
        rng, coll, _id = self.rng, self.db[name], self.some_id()
        choice = rng.randrange(12)
        if choice == 0:
            coll.update_one({"_id": _id}, {"$set": {"nested.y.z": rng.randint(0, 99)}}, session=session)
        elif choice == 1:
            coll.update_one({"_id": _id}, {"$set": {f"nested.k{rng.randint(0, 3)}": {"v": rng.random()}}},
                            session=session)
        elif choice == 2:
            coll.update_one({"_id": _id}, {"$inc": {"n": rng.randint(-3, 3), "counter": 1}}, session=session)
        elif choice == 3:
            coll.update_one({"_id": _id}, {"$unset": {rng.choice(["s", "nested.x", "extra", "tags"]): ""}},
                            session=session)
        elif choice == 4:
            coll.update_one({"_id": _id}, {"$push": {"tags": {"$each": [rng.randint(0, 9)] * rng.randint(1, 3)}}},
                            session=session)
        elif choice == 5:
            coll.update_one({"_id": _id}, {"$pop": {"tags": rng.choice([1, -1])}}, session=session)
        elif choice == 6:
            coll.update_one({"_id": _id}, {"$pull": {"tags": {"$lt": 5}}}, session=session)
        elif choice == 7:
            # Paths in sorted order: when such a $set creates both parents, SecantusDB adds them in the
            # order given but logs them sorted, so another order could not be replayed byte for byte.
            coll.update_one({"_id": _id}, {"$set": {"nested.y.w.1.q": rng.randint(0, 9), "tags.0": "first"}},
                            session=session)
        elif choice == 8:
            coll.replace_one({"_id": _id}, {"replaced": True, "n": rng.randint(0, 50), "arr": [[1], [2, 3]]},
                             session=session)
        elif choice == 9:
            coll.update_many({"n": {"$gt": rng.randint(0, 50)}}, {"$inc": {"bumped": 1}}, session=session)
        elif choice == 10:
            coll.update_one({"_id": _id}, {"$set": {"tags": [], "nested": {"fresh": 1}}, "$rename": {"s": "s2"}},
                            session=session)
        else:
            coll.update_one({"_id": _id}, {"$set": {"n": rng.randint(0, 50)}}, upsert=True, session=session)

    def delete(self, name: str, session=None) -> None:
        if self.rng.random() < 0.8:
            self.db[name].delete_one({"_id": self.some_id()}, session=session)
        else:
            self.db[name].delete_many({"n": {"$lt": self.rng.randint(0, 10)}}, session=session)

    def transaction(self) -> None:
        with self.client.start_session() as session:
            with session.start_transaction():
                for _ in range(self.rng.randint(2, 4)):
                    name = self.rng.choice(COLLECTIONS)
                    self.rng.choice([self.insert, self.update, self.delete])(name, session=session)

    def ddl(self) -> None:
        name = self.rng.choice(COLLECTIONS)
        if self.rng.random() < 0.6:
            self.db[name].create_index([(self.rng.choice(["n", "s", "nested.y.z", "tags"]), 1)])
        else:
            droppable = [i for i in self.db[name].index_information() if i not in ("_id_",)]
            if droppable:
                self.db[name].drop_index(self.rng.choice(droppable))

    def step(self) -> None:
        roll = self.rng.random()
        name = self.rng.choice(COLLECTIONS)
        if roll < 0.3:
            self.insert(name)
        elif roll < 0.7:
            self.update(name)
        elif roll < 0.82:
            self.delete(name)
        elif roll < 0.95:
            self.transaction()
        else:
            self.ddl()

    def record_truth(self, label: str) -> None:
        Backup(self.ws).mark(label)
        self.truths[label] = state_of(self.client, self.db_name)

    def run(self, steps: int, instants: int, snapshot_at: int | None) -> None:
        chosen = sorted(self.rng.sample(range(steps), instants))
        snapshotter, outcome = None, {}

        def snapshot():
            try:
                outcome["snapshot"] = Backup(self.ws).snapshot(progress=False)
            except BaseException as exc:  # handed to the test below, not left as a thread warning
                outcome["error"] = exc

        try:
            for number in range(steps):
                if number == snapshot_at:  # a snapshot racing the writes
                    snapshotter = threading.Thread(target=snapshot)
                    snapshotter.start()
                self.step()
                if number in chosen:
                    self.record_truth(f"{self.db_name}-{number}")
        finally:
            if snapshotter:
                snapshotter.join()
        if snapshotter:
            if "error" in outcome:
                raise outcome["error"]
            self.snapshot = outcome["snapshot"]
            # One more instant after the racing snapshot finished: its restore must start from it.
            self.step()
            self.record_truth(f"{self.db_name}-after-snapshot")


@pytest.fixture(scope="module")
def ws(lab):
    Backup(lab).snapshot(progress=False)
    return lab


@pytest.mark.parametrize("seed", range(SEEDS))
def test_restore_reproduces_every_recorded_instant(ws, seed):
    history = History(ws, seed)
    history.setup()
    history.run(steps=history.rng.randint(30, 60), instants=3,
                snapshot_at=history.rng.randrange(10, 25) if seed % 3 == 0 else None)
    namespaces = [f"{history.db_name}.{name}" for name in COLLECTIONS]
    for label, truth in history.truths.items():
        full = seed % 7 == 1 and label == next(iter(history.truths))  # now and then a whole-cluster restore
        report = Backup(ws).restore(f"mark:{label}", namespaces=None if full else namespaces, progress=False)
        assert report.ok
        if history.snapshot and label.endswith("-after-snapshot"):
            assert report.snapshot["id"] == history.snapshot["id"], "the restore did not use the racing snapshot"
        restored = state_of(ws.temp.client, history.db_name)
        for name in COLLECTIONS:
            assert restored[name]["options"] == truth[name]["options"], (label, name)
            assert restored[name]["indexes"] == truth[name]["indexes"], (label, name)
            assert restored[name]["docs"] == truth[name]["docs"], (label, name)
