"""chance.js operators: every listed one produces values of chance.js's shape; options work."""
import hashlib
import re
from datetime import datetime, timezone

import pytest

from labkit.errors import TemplateError
from labkit.generate import wordlists

UTC = timezone.utc
NOW = datetime(2025, 1, 1, tzinfo=UTC)  # the frozen clock of seeded runs


def matches(pattern):
    return lambda v: isinstance(v, str) and re.fullmatch(pattern, v) is not None


def among(items):
    items = set(items)
    return lambda v: v in items


def within(low, high, kind=int):
    return lambda v: type(v) is kind and low <= v <= high


WORD = r"[a-z]{2,9}"
FIRST_EN = set(wordlists.CHANCE["first_names"]["male"]["en"]) | set(wordlists.CHANCE["first_names"]["female"]["en"])
ALL_LAST = {n for names in wordlists.CHANCE["last_names"].values() for n in names}
US_STATES = {abbr for _, abbr in wordlists.CHANCE["us_states_and_dc"]}
COUNTRIES = {abbr for _, abbr in wordlists.CHANCE["countries"]}

CHECKS = {
    "first": among(FIRST_EN),
    "last": among(ALL_LAST),
    "name": lambda v: v.split(" ")[0] in FIRST_EN and v.split(" ")[1] in wordlists.CHANCE["last_names"]["en"],
    "prefix": among({"Dr.", "Mr.", "Miss", "Mrs."}),
    "suffix": among({short for _, short in __import__("labkit.generate.chance", fromlist=["x"]).SUFFIXES}),
    "gender": among({"Male", "Female"}),
    "age": within(18, 65),
    "birthday": lambda v: isinstance(v, datetime) and datetime(1958, 1, 1, tzinfo=UTC) <= v < datetime(2008, 1, 1, tzinfo=UTC),
    "email": matches(rf"{WORD}@{WORD}\.[a-z.]+"),
    "domain": matches(rf"{WORD}\.[a-z.]+"),
    "url": matches(rf"http://{WORD}\.[a-z.]+/{WORD}"),
    "ip": matches(r"(\d{1,3}\.){3}\d{1,3}"),
    "ipv6": matches(r"([0-9a-f]{4}:){7}[0-9a-f]{4}"),
    "phone": matches(r"\([2-9][0-8]\d\) [2-9]\d\d-\d{4}"),
    "address": matches(r"\d{1,4} [A-Z][a-z]+ [A-Z][a-z]+"),
    "street": matches(r"[A-Z][a-z]+ [A-Z][a-z]+"),
    "city": matches(r"[A-Z][a-z]{5,8}"),
    "state": among(US_STATES),
    "zip": matches(r"\d{5}"),
    "postal": matches(r"[XVTSRPNKLMHJGECBA]\d[A-Z] \d[A-Z]\d"),
    "country": among(COUNTRIES),
    "latitude": within(-90, 90, float),
    "longitude": within(-180, 180, float),
    "guid": matches(r"[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[ab89][0-9a-f]{3}-[0-9a-f]{12}"),
    "hash": matches(r"[0-9a-f]{40}"),
    "ssn": matches(r"\d{3}-\d{2}-\d{4}"),
    "word": matches(WORD),
    "sentence": matches(r"[A-Z][a-z]*( [a-z]+){11,17}\."),
    "paragraph": matches(r"([A-Z][a-z ]+\. ?){3,7}"),
    "string": matches(r"[a-zA-Z0-9!@#$%^&*()\[\]]{5,20}"),
    "character": matches(r"[a-zA-Z0-9!@#$%^&*()\[\]]"),
    "bool": lambda v: isinstance(v, bool),
    "integer": within(-(2**31), 2**31),  # the $integer built-in
    "natural": within(0, 2**53),
    "floating": lambda v: type(v) in (float, int),  # a whole value is an int, as JavaScript prints it
    "year": lambda v: isinstance(v, str) and 2025 <= int(v) <= 2125,
    "month": among({m[0] for m in wordlists.CHANCE["months"]}),
    "weekday": among({"Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"}),
    "hour": within(1, 12),
    "minute": within(0, 59),
    "second": within(0, 59),
    "millisecond": within(0, 999),
    "company": among(wordlists.CHANCE["companies"]),
    "profession": among(wordlists.CHANCE["professions"]),
    "cc": matches(r"\d{12,19}"),
    "cc_type": among({t[0] for t in wordlists.CHANCE["cc_types"]}),
    "currency": lambda v: list(v) == ["code", "name"] and (v["code"], v["name"]) in set(wordlists.CHANCE["currency_types"]),
    "dollar": matches(r"\$\d{1,5}\.\d\d"),
    "euro": matches(r"\d{1,3}(,\d{3})?(\.\d{1,2})?€"),
    "color": matches(r"#[0-9a-f]{6}|#[0-9a-f]{3}|rgb\(\d+,\d+,\d+\)|rgba\(\d+,\d+,\d+,[\d.]+\)|0x[0-9a-f]{6}|[A-Za-z]+"),
    "avatar": matches(r"//www\.gravatar\.com/avatar/[0-9a-f]{32}"),
    "twitter": matches(rf"@{WORD}"),
}


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_chance_operator_shapes(name, values):
    produced = values("$" + name)
    bad = [v for v in produced if not CHECKS[name](v)]
    assert not bad, bad[:3]
    if name not in ("bool", "gender", "prefix", "suffix", "hour", "minute", "second", "weekday", "month", "cc_type"):
        assert len({repr(v) for v in produced}) > 20, "values should vary"


def test_chance_timestamp_is_reachable_in_mustache(values):
    stamps = values("{{chance.timestamp()}}")
    assert all(1 <= int(s) <= NOW.timestamp() for s in stamps)


def test_luhn_valid_card_numbers(values):
    for number in values({"$cc": {"type": "Visa"}}):
        digits = [int(d) for d in number]
        checksum = sum(digits[-1::-2]) + sum(sum(divmod(2 * d, 10)) for d in digits[-2::-2])
        assert checksum % 10 == 0 and number.startswith("4") and len(number) == 16


def test_name_options(values):
    full = values({"$name": {"middle": True, "prefix": True, "suffix": True, "gender": "female"}}, n=50)
    for text in full:
        parts = text.split(" ")
        assert parts[0] in {"Dr.", "Miss", "Mrs."} and parts[1] in wordlists.CHANCE["first_names"]["female"]["en"]
        assert len(parts) >= 5
    assert all(re.fullmatch(r"\S+ [A-Z]\. \S+", t) for t in values({"$name": {"middle_initial": True}}, n=30))
    italians = values({"$first": {"nationality": "it", "gender": "male"}})
    assert set(italians) <= set(wordlists.CHANCE["first_names"]["male"]["it"])
    assert set(values({"$last": {"nationality": "jp"}})) <= set(wordlists.CHANCE["last_names"]["jp"])


def test_text_options(values):
    assert all(len(w) == 7 for w in values({"$word": {"length": 7}}))
    assert all(w[0].isupper() for w in values({"$word": {"capitalize": True}}))
    assert all(len(s.split(" ")) == 4 and s.endswith("?") for s in values({"$sentence": {"words": 4, "punctuation": "?"}}))
    assert all(p.count("\n") == 1 for p in values({"$paragraph": {"sentences": 2, "linebreak": True}}))
    assert all(re.fullmatch(r"[ab]{8}", s) for s in values({"$string": {"pool": "ab", "length": 8}}))
    assert all(re.fullmatch(r"[A-Z]", c) for c in values({"$character": {"alpha": True, "casing": "upper"}}))
    with pytest.raises(TemplateError, match="cannot specify both"):
        values({"$word": {"syllables": 2, "length": 3}})


def test_number_options(values):
    assert all(100 <= v <= 999 for v in values({"$natural": {"numerals": 3}}))
    assert set(values({"$natural": {"min": 1, "max": 4, "exclude": [2, 3]}})) == {1, 4}
    assert all(1 <= v <= 2 and len(repr(v).split(".")[-1]) <= 2 for v in values({"$floating": {"min": 1, "max": 2, "fixed": 2}}))
    assert set(values({"$bool": {"likelihood": 0}})) == {False}
    assert set(values({"$bool": {"likelihood": 100}})) == {True}
    assert all(1990 <= int(y) <= 1995 for y in values({"$year": {"min": 1990, "max": 1995}}))
    assert all(0 <= h <= 23 for h in values({"$hour": {"twentyfour": True}}))
    assert set(values({"$weekday": {"weekday_only": True}})) <= {"Monday", "Tuesday", "Wednesday", "Thursday", "Friday"}
    raw = values({"$month": {"raw": True, "min": 2, "max": 2}}, n=2)
    assert raw[0] == {"name": "February", "short_name": "Feb", "numeric": "02", "days": 28}


def test_person_and_place_options(values):
    assert all(0 <= a <= 12 for a in values({"$age": {"type": "child"}}))
    assert all(isinstance(b, str) and re.fullmatch(r"\d{1,2}/\d{1,2}/\d{4}", b) for b in values({"$birthday": {"string": True}}))
    kids = values({"$birthday": {"type": "child"}})
    assert all(datetime(2011, 12, 31, tzinfo=UTC) <= b <= NOW for b in kids)
    aged = values({"$birthday": {"minAge": 30, "maxAge": 31}})
    assert all(datetime(1992, 12, 31, tzinfo=UTC) < b < datetime(1995, 1, 3, tzinfo=UTC) for b in aged)
    assert set(values({"$state": {"full": True}})) <= {name for name, _ in wordlists.CHANCE["us_states_and_dc"]}
    assert set(values({"$country": {"full": True}})) <= {name for name, _ in wordlists.CHANCE["countries"]}
    assert all(re.fullmatch(r"\d{5}-\d{4}", z) for z in values({"$zip": {"plusfour": True}}))
    assert all(re.fullmatch(r"\d+ [A-Z][a-z]+ [A-Z][a-z]+", a) for a in values({"$address": {"short_suffix": True}}))
    assert all(10 <= v <= 11 for v in values({"$latitude": {"min": 10, "max": 11}}))
    assert all(re.fullmatch(r"\d+°\d+’[\d.]+”", v) for v in values({"$longitude": {"format": "dms"}}))
    assert all(re.fullmatch(r"\d{10}", p) for p in values({"$phone": {"formatted": False}}))
    assert all(re.fullmatch(r"0[1-59]( \d\d){4}", p) for p in values({"$phone": {"country": "fr"}}))
    assert all(re.fullmatch(r"0[1-9][\d ]+", p) for p in values({"$phone": {"country": "uk", "mobile": True}}))


def test_web_and_finance_options(values):
    assert all(e.endswith("@example.com") for e in values({"$email": {"domain": "example.com"}}))
    assert all(re.fullmatch(r"[a-z]{5}@.+", e) for e in values({"$email": {"length": 5}}))
    assert all(u.startswith("https://www.") and u.endswith(".png") for u in
               values({"$url": {"protocol": "https", "domain_prefix": "www", "extensions": ["png"]}}))
    assert all(re.fullmatch(r"[0-9A-F]{8}", h) for h in values({"$hash": {"length": 8, "casing": "upper"}}))
    assert all(re.fullmatch(r"\d{4}", s) for s in values({"$ssn": {"ssnFour": True}}))
    assert all(re.fullmatch(r"#[0-9a-f]{6}", c) for c in values({"$color": {"format": "hex"}}))
    assert all(re.fullmatch(r"RGB\(\d+,\d+,\d+\)", c) for c in values({"$color": {"format": "rgb", "casing": "upper"}}))
    gray = values({"$color": {"format": "hex", "grayscale": True}})
    assert all(c[1:3] == c[3:5] == c[5:7] for c in gray)
    avatar = values({"$avatar": {"email": "a@b.c", "protocol": "https", "fileExtension": "png", "size": 80}}, n=1)[0]
    assert avatar == "https://www.gravatar.com/avatar/" + hashlib.md5(b"a@b.c").hexdigest() + ".png?&s=80"
    assert all(-5 <= float(d.replace("$", "")) <= 5 for d in values({"$dollar": {"min": -5, "max": 5}}))
    assert values({"$cc_type": {"name": "amex", "raw": True}}, n=1)[0] == {
        "name": "American Express", "short_name": "amex", "prefix": "34", "length": 15}
    assert all(p.startswith("Junior ") or p.startswith("Senior ") or p.startswith("Lead ") or p.startswith("Apprentice ")
               for p in values({"$profession": {"rank": True}}))


def test_euro_uses_thousands_separators(values):
    assert all(re.fullmatch(r"\d{1,3}(,\d{3})*(\.\d{1,2})?€", e) for e in values({"$euro": {"min": 1000, "max": 1000000}}))


def test_unknown_chance_option_is_an_error(values):
    with pytest.raises(TemplateError, match=r"\$first has no option 'gnder' \(did you mean gender\?\)"):
        values({"$first": {"gnder": "male"}})
