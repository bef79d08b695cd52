"""`labkit export --out`: devices, pipes and descriptors written directly, regular files atomically
(issue 23, points 5 and 7), against a real embedded server.

mongoexport users write `--out /dev/null` (a dry run), `--out /dev/stdout` and named pipes; labkit must
never replace such a file (as root, replacing /dev/null would break the machine), must write a
regular file atomically with a temporary name that fits beside any legal name, and must say so in one
line when the disk is full.
"""
from __future__ import annotations

import json
import os
import stat
import sys
import subprocess
import threading
import uuid
from pathlib import Path

import pytest

from tests.conftest import run_labkit

DOCS = 2000


@pytest.fixture(scope="module")
def source(server):
    """A collection of about 250 KB on the session's server: (uri, db, collection)."""
    name = server.new_db_name()
    server.client[name].people.insert_many([{"_id": i, "firstname": f"n{i}", "pad": "x" * 100}
                                            for i in range(DOCS)])
    yield server.uri, name, "people"
    server.client.drop_database(name)


def _export(source, out, *extra):
    uri, db, collection = source
    return run_labkit("export", "--uri", uri, "-d", db, "-c", collection, "--out", str(out), *extra)


def _lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_dev_null_stays_a_device_even_for_root(source):
    before = os.stat("/dev/null")
    try:
        result = _export(source, "/dev/null")
        assert result.returncode == 0, result.stderr
        assert f"exported {DOCS} records" in result.stderr
        after = os.stat("/dev/null")
        assert stat.S_ISCHR(after.st_mode) and after.st_rdev == before.st_rdev and after.st_ino == before.st_ino
        assert stat.S_IMODE(after.st_mode) == stat.S_IMODE(before.st_mode)
    finally:
        if not stat.S_ISCHR(os.stat("/dev/null").st_mode):  # never leave the machine without /dev/null
            os.unlink("/dev/null")
            os.mknod("/dev/null", 0o666 | stat.S_IFCHR, os.makedev(1, 3))
            os.chmod("/dev/null", 0o666)


def test_a_character_device_is_written_not_replaced(source, tmp_path):
    if os.geteuid() != 0:
        pytest.skip("needs root to make a character device (mknod)")
    device = tmp_path / "null-device"
    os.mknod(device, 0o600 | stat.S_IFCHR, os.makedev(1, 3))  # a second /dev/null of our own
    result = _export(source, device)
    assert result.returncode == 0, result.stderr
    assert stat.S_ISCHR(device.stat().st_mode) and device.stat().st_rdev == os.makedev(1, 3)
    assert sorted(os.listdir(tmp_path)) == ["null-device"]  # no temporary file left beside it


def test_dev_stdout_and_dev_stderr(source):
    result = _export(source, "/dev/stdout", "--quiet")
    assert result.returncode == 0, result.stderr
    assert [doc["_id"] for doc in _lines(result.stdout)] == list(range(DOCS))
    result = _export(source, "/dev/stderr", "--quiet", "--limit", "3")
    assert result.returncode == 0 and result.stdout == ""
    assert [doc["_id"] for doc in _lines(result.stderr)] == [0, 1, 2]


def test_dev_stdout_redirected_to_a_file_appends_where_the_shell_says(source, tmp_path):
    target = tmp_path / "appended.json"
    target.write_text('{"_id": "first"}\n')
    uri, db, collection = source
    with open(target, "a") as out:  # `labkit export -o /dev/stdout >> appended.json`
        subprocess.run([str(Path(sys.executable).parent / "labkit"), "export", "--uri", uri, "-d", db, "-c",
                        collection, "--out", "/dev/stdout", "--limit", "2", "--quiet"], stdout=out, check=True,
                       timeout=120)
    assert [doc["_id"] for doc in _lines(target.read_text())] == ["first", 0, 1]


def test_a_named_pipe_is_written_not_replaced(source, tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo, 0o600)
    received = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_text()), daemon=True)
    reader.start()
    try:
        result = _export(source, fifo)
    finally:
        if reader.is_alive():  # the export failed before opening the pipe: release the reader
            with open(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK), "w"):
                pass
        reader.join(timeout=60)
    assert result.returncode == 0, result.stderr
    assert stat.S_ISFIFO(fifo.lstat().st_mode)
    assert len(_lines(received[0])) == DOCS


@pytest.mark.parametrize("length", [240, 255])
def test_a_long_legal_file_name(source, tmp_path, length):
    target = tmp_path / ("é" * ((length - 5) // 2) + "x" * ((length - 5) % 2) + ".json")
    assert len(os.fsencode(target.name)) == length
    result = _export(source, target, "--limit", "5")
    assert result.returncode == 0, result.stderr
    assert len(_lines(target.read_text())) == 5
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert os.listdir(tmp_path) == [target.name]


def test_a_regular_file_is_replaced_atomically_and_a_link_is_followed(source, tmp_path):
    target = tmp_path / "lost.json"
    target.write_text("old\n")
    old_inode = target.stat().st_ino
    link = tmp_path / "link.json"
    link.symlink_to(target.name)
    result = _export(source, link, "--limit", "4")
    assert result.returncode == 0, result.stderr
    assert link.is_symlink() and os.readlink(link) == target.name
    assert len(_lines(target.read_text())) == 4 and target.stat().st_ino != old_inode
    # A failed export leaves the file as it was, with no temporary file beside it.
    result = _export(source, target, "-q", "{not json")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert len(_lines(target.read_text())) == 4
    assert sorted(os.listdir(tmp_path)) == ["link.json", "lost.json"]


def test_a_folder_others_could_change_is_refused(source, tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    result = _export(source, shared / "lost.json")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"Failed: error opening output stream: {shared} is writable by others (mode 0777), so another user " \
           "of this machine could replace" in result.stderr
    assert list(shared.iterdir()) == []
    for where, what in ((tmp_path, "is a directory"), (tmp_path / "none" / "x.json", "does not exist")):
        result = _export(source, where)
        assert result.returncode == 1 and what in result.stderr and "Traceback" not in result.stderr


@pytest.fixture
def full_disk(tmp_path):
    """A 64 KiB tmpfs mounted for the test (unmounted and removed afterwards), holding an older export."""
    if os.geteuid() != 0:
        pytest.skip("needs root to mount a small tmpfs")
    mount = tmp_path / f"small-{uuid.uuid4().hex[:6]}"
    mount.mkdir(mode=0o700)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k,mode=0700", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=True)
        mount.rmdir()


def test_export_to_a_full_disk(source, full_disk):
    kept = full_disk / "lost.json"
    kept.write_text('{"_id": "older export"}\n')
    result = _export(source, kept)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert f"Failed: error writing to {kept}: No space left on device (nothing was written: {kept} is as it was)." \
           in result.stderr
    assert kept.read_text() == '{"_id": "older export"}\n'
    assert os.listdir(full_disk) == ["lost.json"]  # the temporary file is gone


def test_export_to_dev_full(source):
    result = _export(source, "/dev/full")
    assert result.returncode == 1, result.stderr
    assert "Failed: error writing to /dev/full: No space left on device." in result.stderr
    assert "Traceback" not in result.stderr and stat.S_ISCHR(os.stat("/dev/full").st_mode)
