"""files.unsafe_folder: a folder another user could swap or change is named, with why (issue 23)."""
from __future__ import annotations

import os

from labkit.files import unsafe_folder


def test_own_private_folders_are_safe(tmp_path):
    folder = tmp_path / "home" / "course"
    folder.mkdir(parents=True, mode=0o700)
    assert unsafe_folder(folder) is None
    assert unsafe_folder(folder / "not" / "made" / "yet") is None  # only what exists is judged


def test_a_world_writable_folder_on_the_way_is_named(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    reason = unsafe_folder(shared / "partial-recovery")
    assert reason == f"{shared} is writable by others (mode 0777)"
    shared.chmod(0o775)
    assert unsafe_folder(shared / "partial-recovery") == f"{shared} is writable by its group (mode 0775)"


def test_a_sticky_folder_like_tmp_is_fine(tmp_path):
    shared = tmp_path / "tmp-like"
    shared.mkdir()
    shared.chmod(0o1777)
    (shared / "mine").mkdir(mode=0o700)
    assert unsafe_folder(shared / "mine" / ".labkit") is None


def test_folders_of_another_user_are_named(tmp_path, make_os_user):
    other = make_os_user()
    theirs = tmp_path / "theirs"
    theirs.mkdir(mode=0o755)
    os.chown(theirs, other.uid, other.gid)
    assert unsafe_folder(theirs / "ws") == f"{theirs} belongs to another user (uid {other.uid})"
    assert unsafe_folder(theirs) == f"{theirs} belongs to another user (uid {other.uid})"
    # In a sticky shared folder, a folder someone else made first under the name we want is theirs.
    sticky = tmp_path / "sticky"
    sticky.mkdir()
    sticky.chmod(0o1777)
    squatted = sticky / "course"
    squatted.mkdir(mode=0o755)
    os.chown(squatted, other.uid, other.gid)
    assert "belongs to another user" in unsafe_folder(squatted / ".labkit" / "partial-recovery")


def test_a_link_of_another_user_is_named(tmp_path, make_os_user):
    other = make_os_user()
    target = tmp_path / "real"
    target.mkdir(mode=0o700)
    link = tmp_path / "link"
    link.symlink_to(target)
    assert unsafe_folder(link / "ws") is None  # our own link to our own folder
    os.lchown(link, other.uid, other.gid)
    assert unsafe_folder(link / "ws") == f"{link} is a symbolic link that belongs to another user (uid {other.uid})"
