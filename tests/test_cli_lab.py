"""The `labkit` command on a real workspace whose Main and Temp are two distinct servers.

Main and Temp hold different data, so a command that swapped them (or used
the same server for both) fails here.
"""
from __future__ import annotations

import json

import pytest

from labkit.backup import Backup


@pytest.fixture(scope="module")
def ws(lab):
    main, temp = lab.main.client, lab.temp.client
    assert lab.read()["deployments"]["main"]["port"] != lab.read()["deployments"]["temp"]["port"]
    main.which.c.insert_many([{"_id": n, "on": "main"} for n in range(3)])
    temp.which.c.insert_many([{"_id": n, "on": "temp"} for n in range(5)])
    return lab


def w(ws) -> list[str]:
    return ["--workspace", str(ws.path)]


def exported(result) -> list[dict]:
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


def test_export_and_import_targets_are_not_swapped(ws, labkit_cli, tmp_path):
    from_main = exported(labkit_cli("export", *w(ws), "--target", "main", "-d", "which", "-c", "c", "--quiet"))
    from_temp = exported(labkit_cli("export", *w(ws), "--target", "temp", "-d", "which", "-c", "c", "--quiet"))
    default = exported(labkit_cli("export", *w(ws), "-d", "which", "-c", "c", "--quiet"))
    assert {d["on"] for d in from_main} == {"main"} and len(from_main) == 3
    assert {d["on"] for d in from_temp} == {"temp"} and len(from_temp) == 5
    assert default == from_main  # Main by default

    file = tmp_path / "in.json"
    file.write_text('{"_id": "new", "on": "imported"}\n')
    for target, client in (("temp", ws.temp.client), ("main", ws.main.client)):
        result = labkit_cli("import", *w(ws), "--target", target, "-d", "which", "-c", "imp_" + target, "--file", str(file))
        assert result.returncode == 0, result.stderr
        assert client.which[f"imp_{target}"].find_one() == {"_id": "new", "on": "imported"}
    assert "imp_temp" not in ws.main.client.which.list_collection_names()
    assert "imp_main" not in ws.temp.client.which.list_collection_names()


def test_backup_enable_snapshot_restore_with_rename_and_target_main(ws, labkit_cli):
    result = labkit_cli("backup", "enable", *w(ws))
    assert result.returncode == 0, result.stderr
    assert Backup(ws).capture_running()
    again = labkit_cli("backup", "enable", *w(ws))  # once is enough; a second time is harmless
    assert again.returncode == 0, again.stderr
    assert len([p for p in ws.read()["processes"] if p == "capture"]) == 1

    before = len(Backup(ws).snapshots())
    result = labkit_cli("snapshot", *w(ws))
    assert result.returncode == 0, result.stderr
    snaps = Backup(ws).snapshots()
    assert len(snaps) == before + 1 and snaps[-1]["id"] in result.stdout + result.stderr

    ws.main.client.which.r.insert_many([{"_id": n, "on": "main"} for n in range(3)] + [{"_id": "marked", "on": "main"}])
    assert labkit_cli("mark", "cli-restore", *w(ws)).returncode == 0
    ws.main.client.which.r.delete_many({})  # the incident

    # --target temp with --rename: the restored copy under the new name on Temp, Main untouched.
    result = labkit_cli("restore", *w(ws), "--to", "mark:cli-restore", "--ns", "which.r",
                        "--rename", "which.r:which.r_back", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["target"] == "Temp" and list(report["namespaces"]) == ["which.r_back"]
    assert sorted(str(d["_id"]) for d in ws.temp.client.which.r_back.find()) == ["0", "1", "2", "marked"]
    assert ws.temp.client.which.c.count_documents({"on": "temp"}) == 5  # the rest of Temp kept
    assert "r_back" not in ws.main.client.which.list_collection_names()

    # --target main needs --rename (live data), then restores beside it on Main.
    refused = labkit_cli("restore", *w(ws), "--to", "mark:cli-restore", "--ns", "which.r", "--target", "main")
    assert refused.returncode == 1 and "overwrite the live data" in refused.stderr
    assert "Traceback" not in refused.stderr
    result = labkit_cli("restore", *w(ws), "--to", "mark:cli-restore", "--ns", "which.r", "--target", "main",
                        "--rename", "which.r:which.r_restored")
    assert result.returncode == 0, result.stderr
    assert "Restore to Main: COMPLETE" in result.stdout
    assert sorted(str(d["_id"]) for d in ws.main.client.which.r_restored.find()) == ["0", "1", "2", "marked"]
    assert ws.main.client.which.r.count_documents({}) == 0  # the live collection itself untouched
    assert "r_restored" not in ws.temp.client.which.list_collection_names()


def test_restore_usage_errors(ws, labkit_cli):
    Backup(ws).snapshot(progress=False)
    Backup(ws).mark("x")
    missing = labkit_cli("restore", *w(ws))
    assert missing.returncode == 2 and "--to" in missing.stderr and "Traceback" not in missing.stderr
    for args, words in [
        (["--to", "mark:never-made"], "no mark named"),
        (["--to", "mark:x", "--rename", "no-colon"], "SOURCE:TARGET"),
        (["--to", "mark:x", "--target", "elsewhere"], "elsewhere"),
    ]:
        result = labkit_cli("restore", *w(ws), *args)
        assert result.returncode in (1, 2) and words in result.stderr, (args, result.stderr)
        assert "Traceback" not in result.stderr
