"""Output: Extended JSON as bson.json_util writes it (Int64 as {"$numberLong": ...}, as mgeneratejs),
determinism, streaming, customer360, the CLI."""
import io
import json
import random
import re
import subprocess
import sys
from pathlib import Path
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from bson import Decimal128, Int64, json_util
from bson.json_util import CANONICAL_JSON_OPTIONS, RELAXED_JSON_OPTIONS
from click.testing import CliRunner

from labkit.cli import main
from labkit.generate import TEMPLATES_DIR, compile_template, generate, relaxed, write_documents
from labkit.ejson import decimal128_text
from labkit.generate.sampling import datetime_from_ms

UTC = timezone.utc
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
AWARE = RELAXED_JSON_OPTIONS.with_options(tz_aware=True, tzinfo=UTC)

# Most built-ins, some chance.js functions and a mustache string, in one template (also benchmarked).
MIXED = json.loads((TEMPLATES_DIR / "mixed.json").read_text())


def int64_wrapped(value):
    """What json_util writes, with every Int64 as {"$numberLong": "..."} (mgeneratejs's shape)."""
    if isinstance(value, Int64):
        return {"$numberLong": str(int(value))}
    if isinstance(value, dict):
        return {key: int64_wrapped(item) for key, item in value.items()}
    if isinstance(value, list):
        return [int64_wrapped(item) for item in value]
    return value


def expected(doc) -> str:
    return json_util.dumps(int64_wrapped(doc), json_options=RELAXED_JSON_OPTIONS)


def lines_of(template, n, seed):
    return [relaxed(doc) for doc in generate(template, n, seed=seed)]


# -- Extended JSON -------------------------------------------------------------------


def test_relaxed_is_json_util_with_int64_wrapped_on_many_documents():
    for seed in range(5):
        for doc in generate(MIXED, 200, seed=seed):
            assert relaxed(doc) == expected(doc)
    for doc in generate(TEMPLATES_DIR / "customer360.json", 300, seed=9):
        assert relaxed(doc) == expected(doc)


@pytest.mark.parametrize(
    "value",
    [
        datetime(1969, 12, 31, 23, 59, 59, 999000, tzinfo=UTC),
        datetime(1970, 1, 1, tzinfo=UTC),
        datetime(2020, 5, 6, 7, 8, 9, tzinfo=UTC),
        datetime(2020, 5, 6, 7, 8, 9, 500, tzinfo=UTC),
        datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        datetime(1, 1, 1, tzinfo=UTC),
        datetime(2020, 5, 6, 7, 8, 9, 123000),
        datetime(2020, 5, 6, 7, 8, 9, 123000, tzinfo=timezone(timedelta(hours=2))),
        float("nan"),
        float("-inf"),
        Decimal128("NaN"),
        Decimal128("-Infinity"),
        Decimal128("-0.00"),
        Decimal128("1E+5"),
        Decimal128("0.0000001"),
        Int64(2**62),
    ],
)
def test_relaxed_matches_json_util_on_edge_values(value):
    doc = {"v": value, "list": [value]}
    assert relaxed(doc) == expected(doc)


def test_decimal128_text_matches_str_for_random_values():
    rng = random.Random(5)
    for _ in range(5000):
        coefficient = rng.choice([0, rng.randrange(10), rng.randrange(10**6), rng.randrange(10**34)])
        exponent = rng.choice([rng.randrange(-40, 10), rng.randrange(-6176, 6112)])
        text = f"{'-' if rng.random() < 0.3 else ''}{coefficient}E{exponent}"
        value = Decimal128(text)
        assert decimal128_text(value) == str(value), text


def test_datetimes_from_milliseconds_are_exact():
    rng = random.Random(2)
    samples = [0, 1, -1, 999, -999, 2**31 * 1000, (1 << 32) * 1000 - 1, (1 << 32) * 1000, 253402300799999, -62135596800000]
    samples += [rng.randrange(-62135596800000, 253402300799999) for _ in range(20000)]
    samples += [rng.randrange(0, (1 << 32) * 1000) for _ in range(20000)]
    for ms in samples:
        assert datetime_from_ms(ms) == EPOCH + timedelta(milliseconds=ms), ms


def test_relaxed_output_parses_back_to_the_same_values():
    for doc in generate(MIXED, 100, seed=4):
        for line in (relaxed(doc), json_util.dumps(doc, json_options=CANONICAL_JSON_OPTIONS)):
            loaded = json_util.loads(line, json_options=AWARE)
            # json_util (like pymongo) returns binary subtype 0 as plain bytes
            assert loaded.pop("blob") == bytes(doc["blob"])
            assert loaded == {key: value for key, value in doc.items() if key != "blob"}


# -- determinism ---------------------------------------------------------------------


def test_same_seed_same_bytes_and_different_seeds_differ():
    assert lines_of(MIXED, 50, 123) == lines_of(MIXED, 50, 123)
    assert lines_of(MIXED, 50, 123) != lines_of(MIXED, 50, 124)
    # Unseeded runs differ in their random values (no $oid or dates here: those would differ anyway).
    random_only = {"a": "$name", "n": {"$integer": {"min": 0, "max": 1_000_000_000}}}
    assert lines_of(random_only, 20, None) != lines_of(random_only, 20, None)


def test_seeded_output_is_identical_in_a_fresh_interpreter():
    """Same bytes in another process (no dependence on hash seeds, clocks or process ids)."""
    code = (
        "import json, sys; from labkit.generate import generate, relaxed; "
        "sys.stdout.write('\\n'.join(relaxed(d) for d in generate(json.loads(sys.argv[1]), 30, seed=77)))"
    )
    result = subprocess.run([sys.executable, "-c", code, json.dumps(MIXED)], capture_output=True, text=True, check=True,
                            env={"PYTHONHASHSEED": "123", "PATH": ""}, cwd=str(Path(__file__).resolve().parents[1]))
    assert result.stdout == "\n".join(lines_of(MIXED, 30, 77))


# -- writing -------------------------------------------------------------------------


class Recorder(io.StringIO):
    def __init__(self):
        super().__init__()
        self.largest = 0

    def write(self, text):
        self.largest = max(self.largest, len(text))
        return super().write(text)


def test_write_documents_streams_in_bounded_chunks():
    out = Recorder()
    assert write_documents({"a": "$sentence"}, 5000, out, seed=1) == 5000
    lines = out.getvalue().splitlines()
    assert len(lines) == 5000 and json.loads(lines[-1])["a"]
    assert out.largest < out.tell() / 3  # several writes, none holding everything


def test_json_array_and_canonical_formats():
    out = io.StringIO()
    write_documents({"a": "$integer", "d": "$date"}, 3, out, seed=1, json_array=True)
    parsed = json_util.loads(out.getvalue(), json_options=AWARE)
    assert parsed == list(generate({"a": "$integer", "d": "$date"}, 3, seed=1))
    empty = io.StringIO()
    write_documents({"a": 1}, 0, empty, json_array=True)
    assert json.loads(empty.getvalue()) == []
    canonical = io.StringIO()
    write_documents({"a": {"$integer": {"min": 5, "max": 5}}}, 1, canonical, json_format="canonical")
    assert canonical.getvalue() == '{"a": {"$numberInt": "5"}}\n'


def test_write_documents_to_a_path(tmp_path):
    target = tmp_path / "out.json"
    write_documents("customer360", 3, target, seed=5)
    assert len(target.read_text().splitlines()) == 3


# -- customer360 ---------------------------------------------------------------------


def test_customer360_shape_and_types():
    docs = list(generate("customer360", 300, seed=42))
    channels = {"email", "sms", "phone", "mobile_app", "web", "branch"}
    for doc in docs:
        assert isinstance(doc["firstname"], str) and doc["firstname"] and isinstance(doc["lastname"], str)
        assert re.fullmatch(r"[a-z]+@[a-z]+\.[a-z.]+", doc["email"])
        assert re.fullmatch(r"\(\d{3}\) \d{3}-\d{4}", doc["phone"])
        assert datetime(1940, 1, 1, tzinfo=UTC) <= doc["date_of_birth"] < datetime(2007, 1, 1, tzinfo=UTC)
        address = doc["address"]
        assert set(address) == {"street", "city", "state", "zip", "country", "location"}
        assert address["location"]["type"] == "Point" and -125 < address["location"]["coordinates"][0] < -66
        assert isinstance(doc["customer_since"], datetime)
        assert doc["segment"] in {"retail", "premier", "private", "small_business"}
        assert doc["preferred_channel"] in channels
        assert 1 <= len(doc["accounts"]) <= 4
        for account in doc["accounts"]:
            assert isinstance(account["balance"], Decimal128) and 0 <= account["balance"].to_decimal() <= 250000
            assert re.fullmatch(r"\d{12}", account["account_number"]) and isinstance(account["opened"], datetime)
        assert 0 <= len(doc["recent_interactions"]) <= 5
        for interaction in doc["recent_interactions"]:
            assert interaction["channel"] in channels and interaction["date"].year == 2024
        assert all(isinstance(v, bool) for v in doc["marketing_consents"].values())
        assert isinstance(doc["lifetime_value"], Decimal128) and Decimal(0) <= doc["lifetime_value"].to_decimal()
    assert {len(d["recent_interactions"]) for d in docs} == {0, 1, 2, 3, 4, 5}


def test_customer360_uses_only_what_mgeneratejs_understands():
    text = (TEMPLATES_DIR / "customer360.json").read_text()
    template = json.loads(text)  # strict JSON: mgeneratejs reads stdin with JSON.parse
    mgeneratejs_operators = {
        "array", "choose", "inc", "join", "pick", "pickset", "coordinates", "point", "linestring", "polygon",
        "geometries", "binary", "date", "now", "maxkey", "minkey", "numberDecimal", "numberLong", "numberInt",
        "objectid", "regex", "timestamp", "integer", "first", "last", "email", "phone", "address", "city",
        "state", "zip", "string", "bool", "missing",
    }
    used = set(re.findall(r'"\$(\w+)"', text))
    assert used <= mgeneratejs_operators, used - mgeneratejs_operators
    assert "{{" not in text and compile_template(template)


# -- CLI -------------------------------------------------------------------------------


def run(*args, input=None):
    return CliRunner().invoke(main, ["generate", *args], input=input)


def test_cli_inline_file_stdin_and_bundled(tmp_path):
    inline = run('{name: "$name", n: {"$inc": {}}}', "-n", "3", "--seed", "1")
    assert inline.exit_code == 0, inline.output
    assert [json.loads(line)["n"] for line in inline.output.splitlines()] == [0, 1, 2]
    path = tmp_path / "t.json"
    path.write_text('{"a": "$integer"}')
    assert run(str(path), "-n", "2", "--seed", "5").output == run("-", "-n", "2", "--seed", "5", input=path.read_text()).output
    bundled = run("customer360", "-n", "5", "--seed", "42")
    assert bundled.exit_code == 0 and len(bundled.output.splitlines()) == 5
    assert bundled.output.splitlines() == lines_of("customer360", 5, 42)


def test_cli_formats():
    array = run('{"a": 1}', "-n", "2", "--jsonArray")
    assert json.loads(array.output) == [{"a": 1}, {"a": 1}]
    canonical = run('{"a": 1, "b": 1.5}', "--jsonFormat", "canonical")
    assert canonical.output == '{"a": {"$numberInt": "1"}, "b": {"$numberDouble": "1.5"}}\n'
    assert run('{"a": 1}').output == '{"a": 1}\n'  # -n defaults to 1, like mgeneratejs


@pytest.mark.parametrize(
    "args, words",
    [
        (['{"a": "$nmae"}'], ["unknown operator $nmae", "did you mean $name"]),
        (['{"a": 1,, }'], ["<inline template>:1:9: invalid JSON"]),
        (['{"a": {"$integer": {}, "b": 1}}'], ["exactly one key"]),
        (['{"a": {"$integer": {"min": "x"}}}'], ["$integer option 'min' must be a whole number", '"x"']),
        (['{"a": {"$choose": {"from": [1], "weights": [1, 2]}}}'], ["1 choices", "2 weights"]),
        (['{"a": "{{chance.name() + 1}}"}'], ["never run as code"]),
        (['{"a": 1}', "-n", "-1"], ["whole number >= 0", "-1"]),
        (['{"a": 1}', "-n", "many"], ["whole number >= 0", '"many"']),
        (['{"a": 1}', "--seed", "x"], ["seed must be a whole number"]),
        (["no-such-template"], ["not a file", "bundled: customer360"]),
    ],
)
def test_cli_errors_are_one_clear_line_without_traceback(args, words):
    result = run(*args)
    assert result.exit_code == 1, result.output
    assert result.output.startswith("Error: ") and "Traceback" not in result.output
    for word in words:
        assert word in result.output, result.output


def test_cli_error_in_a_file_names_file_line_and_column(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('{\n  "a": "$name",\n  "b": {"$array": {"of": 1 "number": 2}}\n}')
    result = run(str(path))
    assert result.exit_code == 1 and f"{path}:3:28: invalid JSON" in result.output


def test_progress_bar_on_stderr_only_for_large_runs_to_a_pipe(labkit_cli):
    large = labkit_cli("generate", '{"a": 1}', "-n", "20000")
    assert large.returncode == 0 and len(large.stdout.splitlines()) == 20000
    assert "20000/20000" in large.stderr and "doc" in large.stderr
    assert labkit_cli("generate", '{"a": 1}', "-n", "20000", "--quiet").stderr == ""
    assert labkit_cli("generate", '{"a": 1}', "-n", "50").stderr == ""


def test_cli_error_in_a_real_process_has_no_traceback(labkit_cli):
    result = labkit_cli("generate", '{"a": "$nmae"}')
    assert result.returncode == 1 and result.stderr.startswith("Error: ") and "Traceback" not in result.stderr
