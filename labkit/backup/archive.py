"""The backup archive on disk: snapshots, captured oplog segments, capture state.

Layout under ``<workspace>/backup``::

    snapshots/<id>/meta.json                 times (before / after), namespaces, checksums
    snapshots/<id>/dump/<db>/<coll>.bson     documents, concatenated BSON (as mongodump writes them)
    snapshots/<id>/dump/<db>/<coll>.metadata.json   options and indexes (canonical Extended JSON)
    oplog/oplog-<seconds>-<inc>.seg          captured oplog, named after its first entry
    capture.json                             capture progress: start, gaps, last op, heartbeat

An oplog segment is a magic line followed by *blocks*, each one batch of raw
oplog entries as the server sent them, behind a fixed header with the entry
count, byte length, first and last timestamps and a CRC-32 of header and
payload. The capture process appends a block and fsyncs before it reports
progress, so a block either is whole and checksummed or is a torn tail of
the newest segment (a crash mid-write), which the next capture run cuts off.
Everything else that fails its checksum is damage, reported with the file name.
"""
from __future__ import annotations

import json
import os
import re
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import bson
from bson import json_util
from bson.codec_options import CodecOptions, DatetimeConversion
from bson.raw_bson import RawBSONDocument

from labkit.errors import BackupError
from labkit.files import fsync_dir, mkdir_private, now_iso, open_private, write_json
from labkit.backup.timespec import ts_from_key, ts_key, ts_parse, ts_str

SEGMENT_MAGIC = b"LABKIT-OPLOG-1\n"
BLOCK_MAGIC = b"BLK1"
BLOCK_HEADER = struct.Struct("<4sIIQQI")  # magic, entries, payload bytes, first ts, last ts, crc32
SEGMENT_MAX_BYTES = 64 * 1024 * 1024
_SEGMENT_RE = re.compile(r"^oplog-(\d+)-(\d+)\.seg$")
# DATETIME_AUTO: a date outside Python's datetime range (year 0, 10000) still decodes and replays.
ENTRY_OPTIONS = CodecOptions(tz_aware=True, datetime_conversion=DatetimeConversion.DATETIME_AUTO)


# --- oplog segments ---------------------------------------------------------------------------


def segment_name(first_key: int) -> str:
    ts = ts_from_key(first_key)
    return f"oplog-{ts.time:010d}-{ts.inc:010d}.seg"


def entry_keys(payload: bytes) -> tuple[int, int, int]:
    """(count, first ts key, last ts key) of a raw batch of oplog entries; decodes only two of them."""
    count = position = last_start = 0
    while position < len(payload):
        last_start = position
        position += int.from_bytes(payload[position:position + 4], "little")
        count += 1
    first = RawBSONDocument(payload[:int.from_bytes(payload[:4], "little")])
    last = RawBSONDocument(payload[last_start:position])
    return count, ts_key(first["ts"]), ts_key(last["ts"])


@dataclass
class Block:
    path: Path
    offset: int  # of the header
    count: int
    first: int
    last: int
    payload: bytes | None  # None when the caller asked to skip it


class SegmentDamaged(BackupError):
    pass


def read_blocks(path: Path, *, skip_through: int | None = None, upto: int | None = None,
                tolerate_torn_tail: bool = True) -> Iterator[Block]:
    """Blocks of one segment, checksums verified. Blocks whose last entry is <= ``skip_through``
    are yielded without payload (and without reading it); the first block starting after ``upto``
    ends the iteration unread. A torn tail ends the iteration when
    ``tolerate_torn_tail`` (the newest segment, possibly being written right now)."""
    try:
        f = open(path, "rb")
    except OSError as exc:
        raise BackupError(f"Cannot read the oplog segment {path}: {exc.strerror or exc}.") from None
    with f:
        if f.read(len(SEGMENT_MAGIC)) != SEGMENT_MAGIC:
            raise SegmentDamaged(f"The oplog segment {path} is damaged: it does not start like a labkit segment.")
        offset = len(SEGMENT_MAGIC)
        while True:
            header = f.read(BLOCK_HEADER.size)
            if not header:
                return
            if len(header) < BLOCK_HEADER.size:
                if tolerate_torn_tail:
                    return
                raise SegmentDamaged(f"The oplog segment {path} is damaged: it ends inside a block at byte {offset}.")
            magic, count, length, first, last, crc = BLOCK_HEADER.unpack(header)
            if magic != BLOCK_MAGIC:
                raise SegmentDamaged(f"The oplog segment {path} is damaged: no block starts at byte {offset} "
                                     "(checksum/format check failed).")
            if upto is not None and first > upto:
                return
            if skip_through is not None and last <= skip_through:
                f.seek(length, os.SEEK_CUR)
                end = f.tell()
                if end > os.fstat(f.fileno()).st_size:
                    if tolerate_torn_tail:
                        return
                    raise SegmentDamaged(f"The oplog segment {path} is damaged: it ends inside a block at byte {offset}.")
                yield Block(path, offset, count, first, last, None)
                offset = end
                continue
            payload = f.read(length)
            if len(payload) < length:
                if tolerate_torn_tail:
                    return
                raise SegmentDamaged(f"The oplog segment {path} is damaged: it ends inside a block at byte {offset}.")
            if zlib.crc32(payload, zlib.crc32(header[:-4])) != crc:
                raise SegmentDamaged(f"The oplog segment {path} is damaged: the checksum of the block at byte "
                                     f"{offset} does not match. Its operations cannot be trusted; restore to a time "
                                     "before it, or after a snapshot taken later.")
            yield Block(path, offset, count, first, last, payload)
            offset += BLOCK_HEADER.size + length


class OplogWriter:
    """Appends captured batches to the newest segment, one fsynced block per batch."""

    def __init__(self, directory: Path):
        self.directory = directory
        mkdir_private(directory)
        self.last_key: int | None = None
        self.entries = 0
        self._file = None
        self._path: Path | None = None
        self._recover()

    def _recover(self) -> None:
        """Find the last captured entry; cut off a torn tail a crash left in the newest segment."""
        segments = list_segments(self.directory)
        if not segments:
            return
        path = segments[-1][1]
        good_end = len(SEGMENT_MAGIC)
        try:
            for block in read_blocks(path, tolerate_torn_tail=True):
                self.last_key = block.last
                good_end = block.offset + BLOCK_HEADER.size + len(block.payload)
        except SegmentDamaged:
            pass  # a block half-written when the machine stopped; everything before it is intact
        if self.last_key is None and len(segments) > 1:
            for block in read_blocks(segments[-2][1], tolerate_torn_tail=False):
                self.last_key = block.last
        if os.path.getsize(path) > good_end:
            with open(path, "r+b") as f:
                f.truncate(good_end)
                os.fsync(f.fileno())
        self._path = path

    def append(self, payload: bytes) -> tuple[int, int, int]:
        count, first, last = entry_keys(payload)
        if self._path is None or self._path.stat().st_size + len(payload) > SEGMENT_MAX_BYTES:
            self._open_new(first)
        elif self._file is None:
            self._file = open_private(self._path, "ab")
        header = BLOCK_HEADER.pack(BLOCK_MAGIC, count, len(payload), first, last, 0)
        crc = zlib.crc32(payload, zlib.crc32(header[:-4]))
        self._file.write(header[:-4] + struct.pack("<I", crc) + payload)
        self._file.flush()
        os.fsync(self._file.fileno())
        self.last_key = last
        self.entries += count
        return count, first, last

    def _open_new(self, first_key: int) -> None:
        self.close()
        self._path = self.directory / segment_name(first_key)
        self._file = open_private(self._path, "wb")
        self._file.write(SEGMENT_MAGIC)
        self._file.flush()
        os.fsync(self._file.fileno())
        fsync_dir(self.directory)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def list_segments(directory: Path) -> list[tuple[int, Path]]:
    found = []
    if directory.is_dir():
        for path in directory.iterdir():
            match = _SEGMENT_RE.match(path.name)
            if match:
                found.append(((int(match.group(1)) << 32) | int(match.group(2)), path))
    return sorted(found)


# Sizes of the fixed-width BSON values that can precede "ns" in an oplog entry; other types stop the walk.
_FIXED = {0x01: 8, 0x07: 12, 0x08: 1, 0x09: 8, 0x0A: 0, 0x10: 4, 0x11: 8, 0x12: 8, 0x13: 16, 0x06: 0,
          0x7F: 0, 0xFF: 0}


def entry_namespace(payload: bytes, start: int) -> bytes | None:
    """The top-level ``ns`` of the raw entry at ``start``, found without decoding it; None if unsure."""
    position, end = start + 4, start + int.from_bytes(payload[start:start + 4], "little") - 1
    while position < end:
        kind = payload[position]
        name_end = payload.index(b"\0", position + 1)
        name = payload[position + 1:name_end]
        position = name_end + 1
        if kind == 0x02:  # string
            length = int.from_bytes(payload[position:position + 4], "little")
            if name == b"ns":
                return payload[position + 4:position + 3 + length]
            position += 4 + length
        elif kind in (0x03, 0x04):  # document, array
            position += int.from_bytes(payload[position:position + 4], "little")
        elif kind == 0x05:  # binary
            position += 5 + int.from_bytes(payload[position:position + 4], "little")
        elif kind in _FIXED:
            position += _FIXED[kind]
        else:
            return None
    return None


def read_entries(directory: Path, after: int, upto: int, namespaces: set[str] | None = None) -> Iterator[dict]:
    """Captured oplog entries with ``after < ts <= upto``, in order, checksums verified.

    With ``namespaces``, CRUD entries of other namespaces are skipped before they are decoded
    (commands always come through: they may create, rename or drop a wanted namespace)."""
    wanted = None if namespaces is None else {ns.encode() for ns in namespaces}
    segments = list_segments(directory)
    for index, (first, path) in enumerate(segments):
        if first > upto:
            return
        if index + 1 < len(segments) and segments[index + 1][0] <= after:
            continue  # every entry of this segment is older than the next segment's first
        newest = index + 1 == len(segments)
        for block in read_blocks(path, skip_through=after, upto=upto, tolerate_torn_tail=newest):
            if block.payload is None:
                continue
            for entry in _decode_block(block.payload, wanted):
                key = ts_key(entry["ts"])
                if key > upto:
                    return
                if key > after:
                    yield entry


def _decode_block(payload: bytes, wanted: set[bytes] | None) -> list[dict]:
    if wanted is None:
        return bson.decode_all(payload, ENTRY_OPTIONS)
    out, position = [], 0
    while position < len(payload):
        size = int.from_bytes(payload[position:position + 4], "little")
        ns = entry_namespace(payload, position)
        if ns is None or ns in wanted or ns.endswith(b".$cmd"):
            out.append(bson.decode(payload[position:position + size], ENTRY_OPTIONS))
        position += size
    return out


def verify_range(directory: Path, after: int, upto: int) -> int:
    """Check the checksum of every block ``read_entries(after, upto)`` needs; return its entry count."""
    total = 0
    segments = list_segments(directory)
    for index, (first, path) in enumerate(segments):
        if first > upto:
            break
        if index + 1 < len(segments) and segments[index + 1][0] <= after:
            continue
        newest = index + 1 == len(segments)
        for block in read_blocks(path, skip_through=after, upto=upto, tolerate_torn_tail=newest):
            if block.payload is not None:
                total += block.count
    return total


# --- capture state ----------------------------------------------------------------------------


class Archive:
    """One workspace's backup archive (``<workspace>/backup``)."""

    def __init__(self, root: Path):
        self.root = Path(root)

    @property
    def oplog_dir(self) -> Path:
        return self.root / "oplog"

    @property
    def snapshots_dir(self) -> Path:
        return self.root / "snapshots"

    @property
    def capture_file(self) -> Path:
        return self.root / "capture.json"

    def exists(self) -> bool:
        return self.capture_file.exists()

    def create(self, start_key: int) -> None:
        """Begin an archive whose capture starts just after ``start_key`` (only once)."""
        for folder in (self.root, self.oplog_dir, self.snapshots_dir):
            mkdir_private(folder)
        if not self.exists():
            write_json(self.capture_file, {"start": ts_str(ts_from_key(start_key)), "gaps": [],
                                                  "last": ts_str(ts_from_key(start_key)), "created": now_iso()},
                       indent=1, fsync=True)

    def capture_state(self) -> dict:
        try:
            return json.loads(self.capture_file.read_text())
        except FileNotFoundError:
            raise BackupError("Backup is not enabled for this workspace: there is nothing to restore from. "
                              "Take a snapshot first (labkit snapshot, or Backup(ws).snapshot()), which "
                              "also starts the continuous oplog capture.") from None
        except (OSError, json.JSONDecodeError) as exc:
            raise BackupError(f"The capture state {self.capture_file} is unreadable ({exc}).") from None

    def save_capture_state(self, state: dict, fsync: bool = True) -> None:
        write_json(self.capture_file, state, indent=1, fsync=fsync)

    @staticmethod
    def key(state: dict, field: str) -> int | None:
        value = state.get(field)
        return ts_key(ts_parse(value)) if value else None

    def gaps(self, state: dict | None = None) -> list[tuple[int, int]]:
        """(last captured before the gap, first captured after it): entries strictly between are missing."""
        state = state or self.capture_state()
        return [(ts_key(ts_parse(g["from"])), ts_key(ts_parse(g["to"]))) for g in state.get("gaps", [])]

    # --- snapshots ------------------------------------------------------------------------

    def snapshots(self) -> list[dict]:
        """Complete snapshots (meta.json present), oldest first."""
        found = []
        if self.snapshots_dir.is_dir():
            for folder in self.snapshots_dir.iterdir():
                meta = folder / "meta.json"
                if folder.name.startswith(".") or not meta.exists():
                    continue
                try:
                    data = json.loads(meta.read_text())
                except (OSError, json.JSONDecodeError):
                    continue
                data["path"] = str(folder)
                found.append(data)
        return sorted(found, key=lambda s: ts_key(ts_parse(s["after"])))


def metadata_json(options: dict, indexes: list, ns: str, kind: str) -> str:
    """``<coll>.metadata.json`` as mongodump writes it (canonical Extended JSON)."""
    db, coll = ns.split(".", 1)
    doc = {"options": options, "indexes": indexes, "collectionName": coll, "type": kind}
    return json_util.dumps(doc, json_options=json_util.CANONICAL_JSON_OPTIONS)


def read_metadata(path: Path) -> dict:
    return json_util.loads(path.read_text(), json_options=json_util.CANONICAL_JSON_OPTIONS)


def dump_path(ns: str) -> str:
    """Relative path of a namespace's dump file; mongodump-style, with path separators escaped."""
    db, coll = ns.split(".", 1)
    safe = lambda part: part.replace("%", "%25").replace("/", "%2F")  # noqa: E731
    return f"dump/{safe(db)}/{safe(coll)}"


def iter_dump(path: Path, expected_crc: int | None = None, chunk_size: int = 8 * 1024 * 1024) -> Iterator[bytes]:
    """Raw BSON documents of a dump file. The whole file's checksum is verified before the first
    document is yielded, so a damaged snapshot is found before anything is written from it."""
    if expected_crc is not None:
        crc = 0
        with open(path, "rb") as f:
            while chunk := f.read(chunk_size):
                crc = zlib.crc32(chunk, crc)
        if crc != expected_crc:
            raise BackupError(f"The snapshot file {path} is damaged: its checksum does not match. "
                              "Restore to a time covered by another snapshot.")
    with open(path, "rb") as f:
        buffer = b""
        while True:
            chunk = f.read(chunk_size)
            buffer += chunk
            position = 0
            while len(buffer) - position >= 4:
                size = int.from_bytes(buffer[position:position + 4], "little")
                if len(buffer) - position < size:
                    break
                yield buffer[position:position + size]
                position += size
            buffer = buffer[position:]
            if not chunk:
                if buffer:
                    raise BackupError(f"The snapshot file {path} is damaged: it ends inside a document.")
                return
