"""Mustache strings: chance.js and faker.js calls with literal arguments only, never code."""
import re

import pytest

from labkit.errors import TemplateError
from labkit.generate import wordlists
from labkit.generate.jsformat import number_to_string, to_string


def test_text_around_calls_is_kept(values):
    for text in values("{{chance.name()}} <{{chance.email()}}>"):
        assert re.fullmatch(r"[A-Z][a-z]+ [A-Z][A-Za-z' ]+ <[a-z]+@[a-z]+\.[a-z.]+>", text), text


def test_results_are_always_text_written_as_javascript_would(values):
    assert set(values("{{chance.integer({min: 1, max: 3})}}")) == {"1", "2", "3"}
    assert set(values("{{ chance.bool( {likelihood: 100} ) }}")) == {"true"}
    assert set(values("n={{chance.floating({min: 0.5, max: 0.5})}}")) == {"n=0.5"}
    assert all(re.fullmatch(r"\d{4}", y) for y in values("{{chance.year({'min': 2000, \"max\": 2010})}}"))


def test_chance_functions_shadowed_by_built_ins_are_reachable(values):
    assert all(re.fullmatch(r"-?\d+(\.\d+)?, -?\d+(\.\d+)?", v) for v in values("{{chance.coordinates()}}"))
    assert all(re.fullmatch(r"\w{3} \w{3} \d\d \d{4} \d\d:\d\d:\d\d GMT\+0000 \(Coordinated Universal Time\)", v)
               for v in values("{{chance.date()}}"))


def test_chance_helpers_with_positional_literals(values):
    assert set(values("{{chance.pickone(['a', 'b'])}}")) == {"a", "b"}
    assert all(re.fullmatch(r"[xyz],[xyz]", v) and v[0] != v[2] for v in values('{{chance.pickset(["x", "y", "z"], 2)}}'))
    assert set(values("{{chance.weighted(['a', 'b'], [0, 1])}}")) == {"b"}
    assert set(values("{{chance.capitalize('hello')}}-{{chance.pad(7, 3)}}")) == {"Hello-007"}


@pytest.mark.parametrize(
    "call, pattern",
    [
        ("faker.name.firstName()", "|".join(map(re.escape, wordlists.FAKER["first_names"]))),
        ("faker.name.findName()", r"[\w.' ]+"),
        ("faker.internet.email()", r"[\w.'-]+@(gmail|yahoo|hotmail)\.com"),
        ("faker.internet.email('Ann', 'Lee', 'x.org')", r"Ann([._]Lee)?\d*@x\.org"),
        ("faker.random.number(10)", r"\d|10"),
        ("faker.random.number({min: 5, max: 6})", r"[56]"),
        ("faker.random.uuid()", r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"),
        ("faker.random.boolean()", r"true|false"),
        ("faker.lorem.words(2)", r"[a-z]+ [a-z]+"),
        ("faker.lorem.sentence()", r"[A-Z][a-z]*( [a-z]+)+\."),
        ("faker.address.zipCode()", r"\d{5}(-\d{4})?"),
        ("faker.address.city()", r"[A-Z][\w' ]+"),
        ("faker.address.streetAddress()", r"\d{3,5} [\w' ]+"),
        ("faker.phone.phoneNumber('###-!##')", r"\d{3}-[2-9]\d\d"),
        ("faker.company.companyName()", r"[\w' ,-]+"),
        ("faker.commerce.price(1, 5)", r"[1-5]\.00"),
        ("faker.finance.account(4)", r"\d{4}"),
        ("faker.date.past()", r"\w{3} \w{3} \d\d 202[45] [\d:]{8} GMT\+0000 \(Coordinated Universal Time\)"),
        ("faker.date.between('2020-01-01', '2020-01-02')", r"\w{3} Jan 0[12] 2020 .*"),
        ("faker.date.month({abbr: true})", "|".join(wordlists.FAKER["months_abbr"])),
    ],
)
def test_faker_methods(call, pattern, values):
    for text in values("{{" + call + "}}"):
        assert re.fullmatch(pattern, text), (call, text)


@pytest.mark.parametrize(
    "text",
    [
        "{{chance.name() + 1}}",
        "{{process.exit(1)}}",
        "{{require('fs').readFileSync('/etc/passwd')}}",
        "{{chance.integer({min: x})}}",
        "{{chance.integer({min: 1 + 1})}}",
        "{{chance.name}}",
        "{{(function(){ return 1 })()}}",
        "{{chance.name(); chance.email()}}",
        "{{chance['name']()}}",
        "{{this.constructor}}",
    ],
)
def test_anything_but_a_literal_call_is_refused(text, values):
    with pytest.raises(TemplateError) as error:
        values(text, n=1)
    message = str(error.value)
    assert "mustache expression" in message and "never run as code" in message, message


def test_unknown_functions_suggest_close_names(values):
    with pytest.raises(TemplateError, match=r"chance\.nmae is not a chance\.js function .*did you mean chance\.name"):
        values("{{chance.nmae()}}", n=1)
    with pytest.raises(TemplateError, match=r"faker\.name\.firstname is not one of .*did you mean faker\.name\.firstName"):
        values("{{faker.name.firstname()}}", n=1)
    with pytest.raises(TemplateError, match=r"\$integer has no option 'mn'"):
        values("{{chance.integer({mn: 1})}}", n=1)
    with pytest.raises(TemplateError, match=r"takes one options object"):
        values("{{chance.name('female')}}", n=1)


def test_text_without_a_complete_expression_is_literal(values):
    assert values("{{ not closed", n=1) == ["{{ not closed"]
    assert values("<%= code %> stays text", n=1) == ["<%= code %> stays text"]


def test_javascript_string_conversion():
    assert [number_to_string(v) for v in (0, -0.0, 1.5, 1e21, 1e-7, 123456789012345680000.0, 0.000001, 2**53, -3.0)] == [
        "0", "0", "1.5", "1e+21", "1e-7", "123456789012345680000", "0.000001", "9007199254740992", "-3"]
    assert to_string([1, None, [2, True], "x"]) == "1,,2,true,x"
    assert to_string({"a": 1}) == "[object Object]" and to_string(None) == ""
