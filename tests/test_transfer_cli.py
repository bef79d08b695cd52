"""`labkit export` / `labkit import` as a learner runs them (the real executable)."""
from __future__ import annotations

import json
import os
import signal
import stat
import subprocess

import pytest


@pytest.fixture
def customers(db):
    db.customers.insert_many([{"_id": i, "firstname": f"c{i}"} for i in range(3)] + [{"_id": 9, "lastname": "x"}])
    return db


def test_export_to_stdout_and_import_from_stdin(server, customers, labkit_cli):
    result = labkit_cli("export", "--uri", server.uri, "-d", customers.name, "-c", "customers",
                        "-q", '{"firstname": {"$exists": true}}', "--sort", '{"_id": -1}', "--jsonFormat", "canonical")
    assert result.returncode == 0, result.stderr
    assert [json.loads(line)["_id"] for line in result.stdout.splitlines()] == [{"$numberInt": str(i)} for i in (2, 1, 0)]
    assert result.stderr.splitlines()[-1] == "exported 3 records"
    assert result.stderr.splitlines()[0].startswith("connected to: mongodb://127.0.0.1:")

    imported = labkit_cli("import", "--uri", server.uri, "-d", customers.name, "-c", "copy", input=result.stdout)
    assert imported.returncode == 0, imported.stderr
    assert imported.stderr.splitlines()[-1] == "3 document(s) imported successfully. 0 document(s) failed to import."
    assert customers.copy.count_documents({}) == 3


def test_export_to_file_then_import_it_again_reports_duplicates(server, customers, labkit_cli, tmp_path):
    out = tmp_path / "lost_records.json"
    result = labkit_cli("export", "--uri", server.uri, "--db", customers.name, "--collection", "customers", "--out", str(out))
    assert result.returncode == 0 and result.stdout == ""
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600 and len(out.read_text().splitlines()) == 4
    again = labkit_cli("import", "--uri", server.uri, "-d", customers.name, "-c", "customers", "--file", str(out))
    assert again.returncode == 0
    assert again.stderr.count("continuing through error: E11000 duplicate key") == 4
    assert again.stderr.splitlines()[-1] == "0 document(s) imported successfully. 4 document(s) failed to import."
    # --upsertFields alone implies upsert; the file name gives the collection when -c is missing. That collection
    # holds a stale copy of one exported document (the upsert replaces it whole) and one of its own (left alone).
    customers.lost_records.insert_many([{"_id": 1, "firstname": "stale", "extra": True}, {"_id": 50, "own": "keep"}])
    upsert = labkit_cli("import", "--uri", server.uri, "-d", customers.name, "--upsertFields", "_id", str(out), "--quiet",
                        "--batchSize", "3")
    assert upsert.returncode == 0 and upsert.stderr == ""
    assert list(customers.lost_records.find(sort=[("_id", 1)])) == [
        {"_id": 0, "firstname": "c0"}, {"_id": 1, "firstname": "c1"}, {"_id": 2, "firstname": "c2"},
        {"_id": 9, "lastname": "x"}, {"_id": 50, "own": "keep"}]


def test_malformed_line_fails_like_mongoimport(server, db, labkit_cli):
    result = labkit_cli("import", "--uri", server.uri, "-d", db.name, "-c", "c",
                        input='{"_id": 1}\n{"_id": 2,, }\n{"_id": 3}\n')
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert lines[-2].startswith("Failed: error processing document #2 (line 2, column 11): Expecting property name")
    assert lines[-1] == "1 document(s) imported successfully. 0 document(s) failed to import."
    assert "Traceback" not in result.stderr and db.c.count_documents({}) == 1


@pytest.mark.parametrize("args, message", [
    (["import", "--mode", "replace"], "Failed: invalid --mode argument: replace"),
    (["import", "--mode", "insert", "--upsertFields", "a"], "Failed: cannot use --upsertFields with --mode=insert"),
    (["import", "--type", "csv"], "Failed: must specify --fields, --fieldFile or --headerline"),
    (["import", "--type", "csv", "--fieldFile", "/nonexistent/names.txt"], "Failed: error reading --fieldFile"),
    (["import", "--file", "/nonexistent/x.json"], "Failed: open /nonexistent/x.json: no such file"),
    (["export", "-q", "{oops}"], "Failed: error parsing query as Extended JSON"),
    # mongoexport's words for a bad --sort (mongoexport.go getSortFromArg): "query '...' is not valid JSON"
    (["export", "--sort", "{\"a\":"], "Failed: query '{\"a\":' is not valid JSON: unexpected end of input"),
    (["export", "--type", "csv"], "Failed: CSV mode requires a field list"),
])
def test_bad_input_prints_failed_and_exits_1(server, db, labkit_cli, args, message):
    result = labkit_cli(*args, "--uri", server.uri, "-d", db.name, "-c", "c", input="")
    assert result.returncode == 1 and result.stderr.splitlines()[0].startswith(message), result.stderr
    assert "Traceback" not in result.stderr


def test_import_csv_with_field_file_and_ignore_blanks(server, db, labkit_cli, tmp_path):
    names = tmp_path / "names.txt"
    names.write_text("name\nemail\n")
    result = labkit_cli("import", "--uri", server.uri, "-d", db.name, "-c", "people", "--type", "csv",
                        "--fieldFile", str(names), "--ignoreBlanks", input="Ann,ann@example.com\nBob,\n")
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines()[-1] == "2 document(s) imported successfully. 0 document(s) failed to import."
    assert [d for d in db.people.find({}, {"_id": 0}).sort("name")] == [
        {"name": "Ann", "email": "ann@example.com"}, {"name": "Bob"}]
    assert "--fieldFile" in labkit_cli("import", "--help").stdout


def test_unreachable_uri_never_shows_the_password(labkit_cli):
    uri = "mongodb://ann:hunter2@127.0.0.1:9/?serverSelectionTimeoutMS=300"
    result = labkit_cli("export", "--uri-env", "BAD_URI", "-d", "d", "-c", "c", env=dict(os.environ, BAD_URI=uri))
    assert result.returncode == 1 and result.stderr.startswith("Failed: error connecting to host")
    assert "hunter2" not in result.stderr + result.stdout
    typed = labkit_cli("export", "--uri", uri, "-d", "d", "-c", "c")  # works, with a warning about ps
    assert typed.returncode == 1 and typed.stderr.startswith("Warning: the connection string given to --uri")
    assert "Failed: error connecting to host" in typed.stderr and "hunter2" not in typed.stderr + typed.stdout


def test_workspace_target_instead_of_uri(server, labkit_cli, tmp_path, clean_env):
    """--workspace/--target resolve the real URI from the lab; here a workspace over the session
    server given by URI (Main and Temp are then the same server: the databases tell them apart)."""
    from labkit.workspace import Workspace

    ws = Workspace(tmp_path / "ws")
    ws.up(main_uri=server.uri, temp_uri=server.uri)
    env = {**os.environ, **ws.child_env()}
    main_db, temp_db = server.new_db_name(), server.new_db_name()
    try:
        server.client[temp_db].customers.insert_many([{"_id": 1, "firstname": "a"}, {"_id": 2, "lastname": "b"}])
        server.client[main_db].customers.insert_one({"_id": 2, "lastname": "b"})
        out = tmp_path / "lost.json"
        exported = labkit_cli("export", "--workspace", str(ws.path), "--target", "temp", "-d", temp_db, "-c", "customers",
                              "-q", '{"firstname": {"$exists": true}}', "-o", str(out), env=env)
        assert exported.returncode == 0, exported.stderr
        imported = labkit_cli("import", "-w", str(ws.path), "--target", "main", "-d", main_db, "-c", "customers",
                              "--file", str(out), env=env)
        assert imported.returncode == 0, imported.stderr
        assert sorted(d["_id"] for d in server.client[main_db].customers.find()) == [1, 2]
    finally:
        ws.down()
        server.client.drop_database(main_db)
        server.client.drop_database(temp_db)


def test_default_workspace_when_neither_uri_nor_workspace(server, tmp_path, clean_env, labkit_cli):
    """Like the other lab commands, export/import use ./.labkit/partial-recovery when it exists."""
    from labkit.workspace import Workspace

    ws = Workspace(tmp_path / ".labkit" / "partial-recovery")
    ws.up(main_uri=server.uri, temp_uri=server.uri)
    name = server.new_db_name()
    try:
        server.client[name].c.insert_many([{"_id": n} for n in range(3)])
        result = labkit_cli("export", "-d", name, "-c", "c", "--quiet", cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert [line for line in result.stdout.splitlines()] == ['{"_id":0}', '{"_id":1}', '{"_id":2}']
        elsewhere = labkit_cli("export", "-d", name, "-c", "c", cwd=tmp_path / ".labkit")
        assert elsewhere.returncode == 2 and "give --uri URI" in elsewhere.stderr
    finally:
        ws.down()
        server.client.drop_database(name)


# --- what a learner's file or collection can hold: errors counted or reported where they are -----------


def test_malformed_csv_names_the_entry_and_line(server, db, labkit_cli):
    result = labkit_cli("import", "--uri", server.uri, "-d", db.name, "-c", "c", "--type", "csv", "--headerline",
                        input='a,b\n1,2\n3,"x"y,4\n5,6\n')
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.splitlines()[-2:] == ['Failed: read error on entry #2: line 3, column 4: extraneous " in field',
                                               "1 document(s) imported successfully. 0 document(s) failed to import."]
    assert list(db.c.find({}, {"_id": 0})) == [{"a": 1, "b": 2}]


@pytest.mark.parametrize("flags, text, position", [
    ([], '{\n\t"_id": 1\n}\n{\n\t"_id": 2,\n\t"a": [1,\n 2,,]\n}\n{"_id": 3}\n', "document #2 (line 7, column 4)"),
    (["--jsonArray"], '[{"_id": 1},\n {"_id": 2},\n {"_id": 3, "a": tru}, {"_id": 4}]\n', "document #3 (line 3, column 18)"),
])
def test_error_inside_pretty_json_or_a_json_array_names_the_document(server, db, labkit_cli, flags, text, position):
    result = labkit_cli("import", "--uri", server.uri, "-d", db.name, "-c", "c", *flags, input=text)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    before = position.startswith("document #3") + 1  # the documents before the bad one are imported
    assert result.stderr.splitlines()[-2].startswith(f"Failed: error processing {position}: Expecting value")
    assert result.stderr.splitlines()[-1] == f"{before} document(s) imported successfully. 0 document(s) failed to import."
    assert sorted(d["_id"] for d in db.c.find()) == list(range(1, before + 1))


def test_duplicates_within_one_file_keep_the_first(server, db, labkit_cli):
    result = labkit_cli("import", "--uri", server.uri, "-d", db.name, "-c", "c",
                        input='{"_id": 1, "v": "first"}\n{"_id": 2}\n{"_id": 1, "v": "second"}\n{"_id": 3}\n')
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("continuing through error: E11000 duplicate key") == 1
    assert result.stderr.splitlines()[-1] == "3 document(s) imported successfully. 1 document(s) failed to import."
    assert list(db.c.find(sort=[("_id", 1)])) == [{"_id": 1, "v": "first"}, {"_id": 2}, {"_id": 3}]


def test_duplicates_with_several_insertion_workers(server, db, labkit_cli):
    """Four workers, each _id four times: whichever copy lands first stays, every other one is a counted failure."""
    text = "".join(f'{{"_id": {n % 500}, "copy": {n // 500}}}\n' for n in range(2000))
    result = labkit_cli("import", "--uri", server.uri, "-d", db.name, "-c", "c", "--numInsertionWorkers", "4",
                        "--batchSize", "100", input=text)
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines()[-1] == "500 document(s) imported successfully. 1500 document(s) failed to import."
    assert sorted(d["_id"] for d in db.c.find()) == list(range(500))


def test_clash_on_a_secondary_unique_index(server, db, labkit_cli):
    db.c.create_index("email", unique=True)
    db.c.insert_one({"_id": 0, "email": "a@x"})
    result = labkit_cli("import", "--uri", server.uri, "-d", db.name, "-c", "c",
                        input='{"_id": 1, "email": "b@x"}\n{"_id": 2, "email": "a@x"}\n{"_id": 3, "email": "c@x"}\n')
    assert result.returncode == 0, result.stderr
    assert "continuing through error: E11000 duplicate key error" in result.stderr and "email_1" in result.stderr
    assert result.stderr.splitlines()[-1] == "2 document(s) imported successfully. 1 document(s) failed to import."
    assert list(db.c.find(sort=[("_id", 1)])) == [{"_id": 0, "email": "a@x"}, {"_id": 1, "email": "b@x"},
                                                  {"_id": 3, "email": "c@x"}]


def test_validator_rejections_and_bypass_document_validation(server, db, labkit_cli):
    db.create_collection("c", validator={"$jsonSchema": {"required": ["email"]}})
    text = '{"_id": 1, "email": "b@x"}\n{"_id": 2}\n{"_id": 3, "email": "c@x"}\n'
    checked = labkit_cli("import", "--uri", server.uri, "-d", db.name, "-c", "c", input=text)
    assert checked.returncode == 0, checked.stderr
    assert checked.stderr.count("continuing through error: Document failed validation") == 1
    assert checked.stderr.splitlines()[-1] == "2 document(s) imported successfully. 1 document(s) failed to import."
    assert sorted(d["_id"] for d in db.c.find()) == [1, 3]
    bypassed = labkit_cli("import", "--uri", server.uri, "-d", db.name, "-c", "c", "--bypassDocumentValidation",
                          input='{"_id": 2}\n')
    assert bypassed.returncode == 0, bypassed.stderr
    assert bypassed.stderr.splitlines()[-1] == "1 document(s) imported successfully. 0 document(s) failed to import."
    assert db.c.find_one({"_id": 2}) == {"_id": 2}


def test_export_into_a_closed_pipe_ends_quietly_as_mongoexport(server, db, labkit_exe):
    """`labkit export ... | head -1`: the reader goes away; mongoexport (Go) dies of SIGPIPE without a word."""
    db.c.insert_many([{"_id": n, "s": "x" * 100} for n in range(20000)])
    proc = subprocess.Popen([labkit_exe, "export", "--uri", server.uri, "-d", db.name, "-c", "c"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline() == '{"_id":0,"s":"' + "x" * 100 + '"}\n'
        proc.stdout.close()  # as head -1 does after its line
        err = proc.stderr.read()
        assert proc.wait(timeout=120) == -signal.SIGPIPE, err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stderr.close()
    assert len(err.splitlines()) == 1 and err.startswith("connected to: mongodb://127.0.0.1:"), err  # no traceback
