"""Restore times and the archive's segment format, without servers."""
from __future__ import annotations

import datetime as dt
import os
import time

import bson
import pytest
from bson import Timestamp

from labkit.backup.archive import Archive, OplogWriter, list_segments, read_entries
from labkit.backup import Backup
from labkit.backup.core import _parse_renames
from labkit.errors import BackupError
from labkit.backup.timespec import MAX_INC, parse_time, show_time, ts_key
from labkit.workspace import Workspace


@pytest.fixture
def zone(monkeypatch):
    """Run with a fixed local zone (UTC+1 in winter, +2 in summer)."""
    def use(name: str):
        monkeypatch.setenv("TZ", name)
        time.tzset()
    yield use
    monkeypatch.undo()
    time.tzset()


# --- times ------------------------------------------------------------------------------------


def test_iso_with_offset_or_z_is_that_instant_to_the_second(zone):
    zone("Europe/Paris")
    point = parse_time("2026-03-01T14:05:30Z")
    assert point.kind == "time" and not point.exact
    assert point.bound == Timestamp(int(dt.datetime(2026, 3, 1, 14, 5, 30, tzinfo=dt.timezone.utc).timestamp()), MAX_INC)
    assert parse_time("2026-03-01T15:05:30+01:00").bound == point.bound
    assert parse_time("2026-03-01T14:05:30.900Z").bound == point.bound  # same second: every op in it


def test_local_times_use_the_machines_zone_including_summer_time(zone):
    zone("Europe/Paris")
    winter = parse_time("2026-03-01 15:05:30")
    assert winter.moment == dt.datetime(2026, 3, 1, 14, 5, 30, tzinfo=dt.timezone.utc)
    summer = parse_time("2026-07-01 15:05")
    assert summer.moment == dt.datetime(2026, 7, 1, 13, 5, tzinfo=dt.timezone.utc)
    assert "13:05:00 UTC" in show_time(summer.moment) and "15:05:00 local" in show_time(summer.moment)


def test_time_of_day_alone_means_today_local(zone):
    zone("America/New_York")
    now = dt.datetime(2026, 1, 10, 12, 0, tzinfo=dt.timezone.utc)
    point = parse_time("09:15:01", now=now)
    assert point.moment == dt.datetime(2026, 1, 10, 14, 15, 1, tzinfo=dt.timezone.utc)


def test_oplog_timestamp_and_mark_are_exact():
    point = parse_time("1767225600:7")
    assert point.exact and point.bound == Timestamp(1767225600, 7)
    marks = {"before-delete": {"name": "before-delete", "ts": "1767225601:3", "wall": "2026-01-01T00:00:01.250Z"}}
    mark = parse_time("mark:before-delete", marks)
    assert mark.kind == "mark" and mark.bound == Timestamp(1767225601, 3)
    assert mark.as_dict()["utc"].startswith("2026-01-01T00:00:01.25")


@pytest.mark.parametrize("text", ["", "yesterday", "25:00", "2026-02-30 10:00", "12:61", "1767225600:99999999999",
                                  "2026-03-01T14:05:30+25:00"])
def test_unreadable_times_say_which_formats_work(text):
    with pytest.raises(BackupError, match="mark:NAME|SECONDS:INC|valid time|Give the time"):
        parse_time(text)


def test_unknown_mark_lists_the_known_ones():
    with pytest.raises(BackupError, match="no mark named 'nope'.*alpha"):
        parse_time("mark:nope", {"alpha": {"ts": "1:1", "wall": "2026-01-01T00:00:00Z"}})


def test_rename_pairs_are_validated():
    assert _parse_renames(["test.a:test.b"]) == {"test.a": "test.b"}
    assert _parse_renames({"test.a": "x.y"}) == {"test.a": "x.y"}
    for bad in (["test.a"], ["test.a:admin.b"], ["a:b"], ["test.a:test.b:c"]):
        with pytest.raises(BackupError, match="rename"):
            _parse_renames(bad)


def test_backup_never_enabled_is_a_clear_error(tmp_path):
    backup = Backup(Workspace(tmp_path / "ws"))
    assert backup.summary() is None
    assert backup.snapshots() == []
    for call in (lambda: backup.restore("mark:x"), backup.window):
        with pytest.raises(BackupError, match="Backup is not enabled"):
            call()


# --- oplog segments ----------------------------------------------------------------------------


def batch(start: int, count: int, second: int = 1767225600) -> bytes:
    return b"".join(bson.encode({"op": "i", "ns": "t.c", "o": {"_id": n}, "ts": Timestamp(second, n)})
                    for n in range(start, start + count))


def keys(entries) -> list[int]:
    return [e["o"]["_id"] for e in entries]


def test_segments_return_exactly_the_entries_in_range(tmp_path):
    writer = OplogWriter(tmp_path)
    for start in range(1, 100, 10):
        writer.append(batch(start, 10))
    writer.close()
    lo, hi = ts_key(Timestamp(1767225600, 15)), ts_key(Timestamp(1767225600, 42))
    assert keys(read_entries(tmp_path, lo, hi)) == list(range(16, 43))
    assert keys(read_entries(tmp_path, 0, 1 << 64)) == list(range(1, 101))


def test_dates_outside_pythons_range_still_read_back(tmp_path):
    from bson.datetime_ms import DatetimeMS

    far = DatetimeMS(253402300800000 + 86400000)  # 10000-01-02: beyond datetime.max
    writer = OplogWriter(tmp_path)
    writer.append(bson.encode({"op": "i", "ns": "t.c", "o": {"_id": 1, "d": far}, "ts": Timestamp(1767225600, 1)}))
    writer.close()
    [entry] = read_entries(tmp_path, 0, 1 << 64)
    assert entry["o"]["d"] == far


def test_segments_roll_over_and_reading_spans_them(tmp_path, monkeypatch):
    monkeypatch.setattr("labkit.backup.archive.SEGMENT_MAX_BYTES", 2000)
    writer = OplogWriter(tmp_path)
    for start in range(1, 200, 20):
        writer.append(batch(start, 20))
    writer.close()
    assert len(list_segments(tmp_path)) > 3
    lo = ts_key(Timestamp(1767225600, 55))
    assert keys(read_entries(tmp_path, lo, 1 << 64)) == list(range(56, 201))


def test_torn_tail_is_cut_off_on_recovery(tmp_path):
    writer = OplogWriter(tmp_path)
    writer.append(batch(1, 10))
    writer.append(batch(11, 10))
    writer.close()
    path = list_segments(tmp_path)[-1][1]
    with open(path, "ab") as f:  # a crash in the middle of the next block
        f.write(b"BLK1\x05\x00")
    assert keys(read_entries(tmp_path, 0, 1 << 64)) == list(range(1, 21))  # readers stop at the torn tail
    again = OplogWriter(tmp_path)
    assert again.last_key == ts_key(Timestamp(1767225600, 20))
    again.append(batch(21, 5))
    again.close()
    assert keys(read_entries(tmp_path, 0, 1 << 64)) == list(range(1, 26))


def test_a_damaged_block_names_the_file(tmp_path):
    writer = OplogWriter(tmp_path)
    writer.append(batch(1, 10))
    writer.append(batch(11, 10))
    writer.close()
    path = list_segments(tmp_path)[-1][1]
    data = bytearray(path.read_bytes())
    data[-30] ^= 0xFF  # flip a byte inside the last block's payload
    path.write_bytes(bytes(data))
    with pytest.raises(BackupError, match=f"{path}.*checksum"):
        list(read_entries(tmp_path, 0, 1 << 64))
    # Entries before the damaged block are still readable on their own.
    assert keys(read_entries(tmp_path, 0, ts_key(Timestamp(1767225600, 10)))) == list(range(1, 11))


def test_archive_reports_gaps_and_snapshots_in_order(tmp_path):
    archive = Archive(tmp_path)
    archive.create(ts_key(Timestamp(100, 1)))
    state = archive.capture_state()
    state["gaps"] = [{"from": "200:1", "to": "300:5"}]
    archive.save_capture_state(state)
    assert archive.gaps() == [(ts_key(Timestamp(200, 1)), ts_key(Timestamp(300, 5)))]
    assert archive.snapshots() == []
    for name, after in (("b", "150:1"), ("a", "120:1")):
        folder = archive.snapshots_dir / name
        folder.mkdir()
        (folder / "meta.json").write_text(f'{{"id": "{name}", "before": "110:1", "after": "{after}", "namespaces": {{}}}}')
    os.makedirs(archive.snapshots_dir / ".c.partial")
    assert [s["id"] for s in archive.snapshots()] == ["a", "b"]


def test_dump_files_stream_in_chunks_and_check_their_checksum(tmp_path):
    import zlib

    from labkit.backup.archive import iter_dump

    docs = [bson.encode({"_id": n, "pad": "x" * (n % 50)}) for n in range(500)]
    path = tmp_path / "c.bson"
    path.write_bytes(b"".join(docs))
    crc = zlib.crc32(path.read_bytes())
    assert list(iter_dump(path, crc, chunk_size=97)) == docs
    with pytest.raises(BackupError, match=f"{path}.*checksum"):
        next(iter_dump(path, crc ^ 1))
    path.write_bytes(b"".join(docs)[:-3])
    with pytest.raises(BackupError, match="ends inside a document"):
        list(iter_dump(path, chunk_size=64))


def test_selective_reading_finds_the_top_level_namespace_without_decoding(tmp_path):
    import uuid

    from labkit.backup.archive import entry_namespace

    entries = [
        {"lsid": {"id": bson.Binary(uuid.uuid4().bytes, 4)}, "txnNumber": bson.Int64(3), "stmtId": 0,
         "prevOpTime": {"ts": Timestamp(1, 1), "t": bson.Int64(1)}, "op": "i", "ns": "t.keep",
         "o": {"_id": 1, "ns": "t.other"}, "ts": Timestamp(1767225600, 1)},
        {"op": "i", "ns": "t.other", "o": {"_id": 2, "ns": "t.keep"}, "ts": Timestamp(1767225600, 2)},
        {"op": "c", "ns": "t.$cmd", "o": {"create": "keep"}, "ts": Timestamp(1767225600, 3)},
        {"op": "n", "ns": "", "o": {"msg": "noop"}, "ts": Timestamp(1767225600, 4)},
        {"fromMigrate": True, "ui": bson.Binary(uuid.uuid4().bytes, 4), "ns": "t.keep", "op": "d", "o": {"_id": 1},
         "ts": Timestamp(1767225600, 5)},
    ]
    payload = b"".join(bson.encode(e) for e in entries)
    assert entry_namespace(bson.encode(entries[0]), 0) == b"t.keep"
    writer = OplogWriter(tmp_path)
    writer.append(payload)
    writer.close()
    got = list(read_entries(tmp_path, 0, 1 << 64, {"t.keep"}))
    assert [e["ts"].inc for e in got] == [1, 3, 5]
    assert got[0] == entries[0] | {"ts": Timestamp(1767225600, 1)}


@pytest.mark.parametrize("name", ["", "two words", "-dash-first", "x" * 65, "a/b"])
def test_mark_names_are_checked_before_anything_happens(tmp_path, name):
    with pytest.raises(BackupError, match="not a usable mark name"):
        Backup(Workspace(tmp_path / "ws")).mark(name)
