"""faker.js methods for mustache strings: "{{faker.name.firstName()}}".

mgeneratejs 0.6 exposes faker@3.1.0 inside {{ }}. labkit implements the
commonly used methods with faker's English word lists and argument order;
operators.FAKER names them ("name.firstName" -> first_name). Each method takes
(ctx, its positional literal arguments padded with None to its arity, fail)
and returns a sampler; arguments are checked when the template is compiled.
"""
from __future__ import annotations

import math

from labkit.generate import sampling
from labkit.generate.options import parse_date, show
from labkit.generate.wordlists import FAKER as WORDS


def one_of(items):
    """A method that picks one of ``items`` (the word-list methods, like faker.name.firstName)."""
    return lambda ctx, args, fail: sampling.pick(ctx, items)


def digits(ctx, pattern: str):
    """faker.helpers.replaceSymbolWithNumber: '#' -> 0-9, '!' -> 2-9."""
    digit, high = sampling.pick(ctx, "0123456789"), sampling.pick(ctx, "23456789")
    parts = tuple(pattern)
    return lambda: "".join([digit() if c == "#" else high() if c == "!" else c for c in parts])


def _call_picked(picker):
    """Call the sampler that ``picker`` picks (for methods that choose among formats)."""
    return lambda: picker()()


def _text(value, fail, what: str) -> str | None:
    if value is not None and not isinstance(value, str):
        raise fail(f"{what} must be a string, got {show(value)}")
    return value


def _one_of_forms(ctx, forms, format_arg, fail):
    """faker.js's numbered formats: the one ``format`` names, else a random one per document."""
    if format_arg is None:
        return _call_picked(sampling.pick(ctx, forms))
    index = _count(format_arg, 0, fail, "format")
    if index >= len(forms):
        raise fail(f"format must be 0 to {len(forms) - 1}, got {index}")
    return forms[index]


def _count(value, default, fail, what: str) -> int | None:
    if value is None:
        return default
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise fail(f"{what} must be a whole number >= 0, got {show(value)}")
    return value


# -- name ------------------------------------------------------------------------

first_name = one_of(WORDS["first_names"])
last_name = one_of(WORDS["last_names"])
prefix = one_of(WORDS["name_prefixes"])
suffix = one_of(WORDS["name_suffixes"])
job_descriptor = one_of(WORDS["title_descriptors"])
job_area = one_of(WORDS["title_levels"])
job_type = one_of(WORDS["title_jobs"])


def find_name(ctx, args, fail):
    first = sampling.pick(ctx, WORDS["first_names"]) if args[0] is None else sampling.pick(ctx, [_text(args[0], fail, "firstName")])
    last = sampling.pick(ctx, WORDS["last_names"]) if args[1] is None else sampling.pick(ctx, [_text(args[1], fail, "lastName")])
    prefix, suffix = sampling.pick(ctx, WORDS["name_prefixes"]), sampling.pick(ctx, WORDS["name_suffixes"])
    form = sampling.integers(ctx, 0, 8)

    def draw():
        kind = form()
        if kind == 0:
            return f"{prefix()} {first()} {last()}"
        if kind == 1:
            return f"{first()} {last()} {suffix()}"
        return f"{first()} {last()}"

    return draw


def _three(ctx, *lists):
    picks = [sampling.pick(ctx, items) for items in lists]
    return lambda: " ".join([p() for p in picks])


def title(ctx, args, fail):
    return _three(ctx, WORDS["title_descriptors"], WORDS["title_levels"], WORDS["title_jobs"])


def job_title(ctx, args, fail):
    return _three(ctx, WORDS["title_descriptors"], WORDS["title_levels"], WORDS["title_jobs"])


# -- address ---------------------------------------------------------------------

city_prefix = one_of(WORDS["city_prefixes"])
city_suffix = one_of(WORDS["city_suffixes"])
street_suffix = one_of(WORDS["street_suffixes"])
county = one_of(WORDS["counties"])
country = one_of(WORDS["countries"])
country_code = one_of(WORDS["country_codes"])
state = one_of(WORDS["states"])
state_abbr = one_of(WORDS["state_abbrs"])


def zip_code(ctx, args, fail):
    if args[0] is not None:
        return digits(ctx, _text(args[0], fail, "format"))
    return _call_picked(sampling.pick(ctx, [digits(ctx, f) for f in WORDS["postcodes"]]))


def city(ctx, args, fail):
    prefix, suffix = sampling.pick(ctx, WORDS["city_prefixes"]), sampling.pick(ctx, WORDS["city_suffixes"])
    first, last = sampling.pick(ctx, WORDS["first_names"]), sampling.pick(ctx, WORDS["last_names"])
    forms = (
        lambda: f"{prefix()} {first()}{suffix()}",
        lambda: f"{prefix()} {first()}",
        lambda: f"{first()}{suffix()}",
        lambda: f"{last()}{suffix()}",
    )
    return _one_of_forms(ctx, forms, args[0], fail)


def _street_name(ctx):
    suffix = sampling.pick(ctx, WORDS["street_suffixes"])
    name = sampling.pick(ctx, [sampling.pick(ctx, WORDS["last_names"]), sampling.pick(ctx, WORDS["first_names"])])
    return lambda: f"{name()()} {suffix()}"


def street_name(ctx, args, fail):
    return _street_name(ctx)


def _secondary(ctx):
    return _call_picked(sampling.pick(ctx, [digits(ctx, "Apt. ###"), digits(ctx, "Suite ###")]))


def secondary_address(ctx, args, fail):
    return _secondary(ctx)


def street_address(ctx, args, fail):
    number = _call_picked(sampling.pick(ctx, [digits(ctx, "#####"), digits(ctx, "####"), digits(ctx, "###")]))
    street, secondary = _street_name(ctx), _secondary(ctx)
    if args[0]:
        return lambda: f"{number()} {street()} {secondary()}"
    return lambda: f"{number()} {street()}"


def _degrees(ctx, span: int):
    units = sampling.integers(ctx, 0, span * 10000)
    return lambda: f"{units() / 10000.0 - span / 2:.4f}"


def latitude(ctx, args, fail):
    return _degrees(ctx, 180)


def longitude(ctx, args, fail):
    return _degrees(ctx, 360)


# -- company ---------------------------------------------------------------------

company_suffix = one_of(WORDS["company_suffixes"])
catch_phrase_adjective = one_of(WORDS["company_adjectives"])
catch_phrase_descriptor = one_of(WORDS["company_descriptors"])
catch_phrase_noun = one_of(WORDS["company_nouns"])
bs_adjective = one_of(WORDS["bs_adjectives"])
bs_buzz = one_of(WORDS["bs_verbs"])
bs_noun = one_of(WORDS["bs_nouns"])


def catch_phrase(ctx, args, fail):
    return _three(ctx, WORDS["company_adjectives"], WORDS["company_descriptors"], WORDS["company_nouns"])


def bs(ctx, args, fail):
    return _three(ctx, WORDS["bs_adjectives"], WORDS["bs_verbs"], WORDS["bs_nouns"])


def company_name(ctx, args, fail):
    last, suffix = sampling.pick(ctx, WORDS["last_names"]), sampling.pick(ctx, WORDS["company_suffixes"])
    forms = (
        lambda: f"{last()} {suffix()}",
        lambda: f"{last()} - {last()}",
        lambda: f"{last()}, {last()} and {last()}",
    )
    return _one_of_forms(ctx, forms, args[0], fail)


# -- internet --------------------------------------------------------------------

domain_suffix = one_of(WORDS["domain_suffixes"])
protocol = one_of(("http", "https"))


def _user_name(ctx, first_name=None, last_name=None):
    first = sampling.pick(ctx, WORDS["first_names"] if first_name is None else [first_name])
    last = sampling.pick(ctx, WORDS["last_names"] if last_name is None else [last_name])
    number, separator, form = sampling.integers(ctx, 0, 99), sampling.pick(ctx, "._"), sampling.integers(ctx, 0, 2)

    def draw():
        kind = form()
        if kind == 0:
            text = f"{first()}{number()}"
        elif kind == 1:
            text = f"{first()}{separator()}{last()}"
        else:
            text = f"{first()}{separator()}{last()}{number()}"
        return text.replace("'", "").replace(" ", "")

    return draw


def user_name(ctx, args, fail):
    return _user_name(ctx, _text(args[0], fail, "firstName"), _text(args[1], fail, "lastName"))


def email(ctx, args, fail):
    user = _user_name(ctx, _text(args[0], fail, "firstName"), _text(args[1], fail, "lastName"))
    provider = sampling.pick(ctx, WORDS["free_emails"] if args[2] is None else [_text(args[2], fail, "provider")])
    return lambda: "".join(c for c in user().replace(" ", "-") if c.isalnum() or c in "_.-") + "@" + provider()


def _domain_word(ctx):
    first = sampling.pick(ctx, WORDS["first_names"])
    return lambda: "".join(c for c in first() if c not in "\\~#&*{}/:<>?|\"'").lower()


def domain_word(ctx, args, fail):
    return _domain_word(ctx)


def _domain_name(ctx):
    word, suffix = _domain_word(ctx), sampling.pick(ctx, WORDS["domain_suffixes"])
    return lambda: f"{word()}.{suffix()}"


def domain_name(ctx, args, fail):
    return _domain_name(ctx)


def url(ctx, args, fail):
    protocol, domain = sampling.pick(ctx, ("http", "https")), _domain_name(ctx)
    return lambda: f"{protocol()}://{domain()}"


def ip(ctx, args, fail):
    part = sampling.integers(ctx, 0, 255)
    return lambda: f"{part()}.{part()}.{part()}.{part()}"


def mac(ctx, args, fail):
    pair = sampling.strings(ctx, "0123456789abcdef", 2)
    return lambda: ":".join([pair() for _ in range(6)])


def color(ctx, args, fail):
    bases = [0 if a is None else a for a in args]
    if not all(isinstance(b, (int, float)) and not isinstance(b, bool) for b in bases):
        raise fail(f"color(baseRed255, baseGreen255, baseBlue255) needs numbers, got {show(args)}")
    level = sampling.integers(ctx, 0, 256)
    return lambda: "#" + "".join(f"{math.floor((level() + base) / 2):02x}" for base in bases)


# -- lorem -----------------------------------------------------------------------

word = one_of(WORDS["lorem_words"])


def _words(ctx, count):
    word = sampling.pick(ctx, WORDS["lorem_words"])
    return lambda: " ".join([word() for _ in range(count())])


def _sentence(ctx, count=None):
    text = _words(ctx, sampling.integers(ctx, 3, 10) if count is None else (lambda: count))
    return lambda: (lambda s: s[:1].upper() + s[1:] + ".")(text())


def _sentences(ctx, count=None, separator=" "):
    sentence = _sentence(ctx)
    counts = sampling.integers(ctx, 2, 6) if count is None else (lambda: count)
    return lambda: separator.join([sentence() for _ in range(counts())])


def lorem_words(ctx, args, fail):
    count = _count(args[0], 3, fail, "num")
    return _words(ctx, lambda: count)


def sentence(ctx, args, fail):
    return _sentence(ctx, _count(args[0], None, fail, "wordCount"))


def sentences(ctx, args, fail):
    return _sentences(ctx, _count(args[0], None, fail, "sentenceCount"), _text(args[1], fail, "separator") or " ")


def lines(ctx, args, fail):
    return _sentences(ctx, _count(args[0], None, fail, "lineCount"), "\n")


def _paragraph(ctx, count):
    extra, sentence = sampling.integers(ctx, 0, 3), _sentence(ctx)
    return lambda: " ".join([sentence() for _ in range(count + extra())])


def paragraph(ctx, args, fail):
    return _paragraph(ctx, _count(args[0], 3, fail, "sentenceCount"))


def paragraphs(ctx, args, fail):
    count = _count(args[0], 3, fail, "paragraphCount")
    separator = _text(args[1], fail, "separator")
    separator = "\n \r" if separator is None else separator
    paragraph = _paragraph(ctx, 3)
    return lambda: separator.join([paragraph() for _ in range(count)])


# -- phone -----------------------------------------------------------------------


def phone_number(ctx, args, fail):
    if args[0] is not None:
        return digits(ctx, _text(args[0], fail, "format"))
    return _call_picked(sampling.pick(ctx, [digits(ctx, f) for f in WORDS["phone_formats"]]))


def phone_number_format(ctx, args, fail):
    index = _count(args[0], 0, fail, "phoneFormatsArrayIndex")
    if index >= len(WORDS["phone_formats"]):
        raise fail(f"phoneFormatsArrayIndex must be below {len(WORDS['phone_formats'])}, got {index}")
    return digits(ctx, WORDS["phone_formats"][index])


phone_formats = one_of(WORDS["phone_formats"])

# -- random ----------------------------------------------------------------------


def random_number(ctx, args, fail):
    """faker.random.number(max) or ({min, max, precision}); defaults 0, 99999, 1."""
    options = args[0]
    if options is None:
        options = {}
    elif isinstance(options, (int, float)) and not isinstance(options, bool):
        options = {"max": options}
    elif not isinstance(options, dict):
        raise fail(f"random.number takes a number or an options object, got {show(options)}")
    values = [options.get(k, d) for k, d in (("min", 0), ("max", 99999), ("precision", 1))]
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values) or values[2] <= 0:
        raise fail(f"random.number options min, max and precision (> 0) must be numbers, got {show(options)}")
    low, high, precision = values
    top = high + precision if high >= 0 else high
    random, integral = ctx.random, precision == 1 and isinstance(low, int) and isinstance(high, int)
    span, start = top / precision - low / precision, low / precision

    def draw():
        value = precision * math.floor(random() * span + start)
        return int(value) if integral else value

    return draw


def random_boolean(ctx, args, fail):
    return sampling.bools(ctx)


def random_uuid(ctx, args, fail):
    hexes = {n: sampling.strings(ctx, "0123456789abcdef", n) for n in (3, 4, 8, 12)}
    variant = sampling.pick(ctx, "89ab")
    return lambda: f"{hexes[8]()}-{hexes[4]()}-4{hexes[3]()}-{variant()}{hexes[3]()}-{hexes[12]()}"


def array_element(ctx, args, fail):
    items = ["a", "b", "c"] if args[0] is None else args[0]
    if not isinstance(items, list) or not items:
        raise fail(f"random.arrayElement needs a non-empty array, got {show(items)}")
    return sampling.pick(ctx, items)


alpha_numeric = one_of("0123456789abcdefghijklmnopqrstuvwxyz")

# -- commerce and finance --------------------------------------------------------

commerce_color = one_of(WORDS["commerce_colors"])
department = one_of(WORDS["departments"])
product_adjective = one_of(WORDS["product_adjectives"])
product_material = one_of(WORDS["product_materials"])
product = one_of(WORDS["products"])


def product_name(ctx, args, fail):
    return _three(ctx, WORDS["product_adjectives"], WORDS["product_materials"], WORDS["products"])


transaction_type = one_of(WORDS["transaction_types"])


def currency_code(ctx, args, fail):
    return sampling.pick(ctx, [code for _, code in WORDS["currencies"]])


def currency_name(ctx, args, fail):
    return sampling.pick(ctx, [name for name, _ in WORDS["currencies"]])


def account_name(ctx, args, fail):
    kind = sampling.pick(ctx, WORDS["account_types"])
    return lambda: kind() + " Account"


def account(ctx, args, fail):
    return sampling.strings(ctx, "0123456789", _count(args[0], 8, fail, "length") or 8)


def _amount(ctx, args, fail, negative_is_zero: bool):
    """faker's amount and price: a whole number between min and max, printed with `dec` decimals."""
    low, high, dec, symbol = (args[i] if args[i] else default for i, default in enumerate((0, 1000, 2, "")))
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (low, high)):
        raise fail(f"min and max must be numbers, got {show(args[:2])}")
    dec = _count(dec, 2, fail, "dec")
    symbol = _text(symbol, fail, "symbol")
    if negative_is_zero and (low < 0 or high < 0):
        return lambda: symbol + "0"
    draw = sampling.integers(ctx, math.ceil(low), math.floor(high))
    return lambda: symbol + f"{draw():.{dec}f}"


def amount(ctx, args, fail):
    return _amount(ctx, args, fail, False)


def price(ctx, args, fail):
    return _amount(ctx, args, fail, True)


# -- date ------------------------------------------------------------------------


def _reference(ctx, value, fail):
    if value is None:
        return ctx.now_ms
    ms = parse_date(value)
    if ms is None:
        raise fail(f"refDate must be an ISO-8601 date, got {show(value)}")
    return lambda: ms


def _offset_dates(ctx, args, fail, unit_ms: int, sign: int):
    amount = args[0] or 1
    if not isinstance(amount, (int, float)) or isinstance(amount, bool) or amount < 0:
        raise fail(f"the first argument must be a number > 0, got {show(args[0])}")
    reference = _reference(ctx, args[1] if len(args) > 1 else None, fail)
    offset = sampling.integers(ctx, 1000, max(1000, int(amount * unit_ms)))
    return lambda: sampling.datetime_from_ms(reference() + sign * offset())


YEAR_MS, DAY_MS = 365 * 24 * 3600 * 1000, 24 * 3600 * 1000


def past(ctx, args, fail):
    return _offset_dates(ctx, args, fail, YEAR_MS, -1)


def future(ctx, args, fail):
    return _offset_dates(ctx, args, fail, YEAR_MS, 1)


def recent(ctx, args, fail):
    return _offset_dates(ctx, args + [None], fail, DAY_MS, -1)


def between(ctx, args, fail):
    low, high = parse_date(args[0]), parse_date(args[1])
    if low is None or high is None or low > high:
        raise fail(f"date.between(from, to) needs two ISO-8601 dates, from <= to, got {show(args)}")
    return sampling.dates(ctx, low, high)


def _calendar_names(wide, abbr):
    def build(ctx, args, fail):
        options = args[0] or {}
        if not isinstance(options, dict):
            raise fail(f"takes an options object like {{abbr: true}}, got {show(options)}")
        return sampling.pick(ctx, abbr if options.get("abbr") else wide)

    return build


month = _calendar_names(WORDS["months"], WORDS["months_abbr"])
weekday = _calendar_names(WORDS["weekdays"], WORDS["weekdays_abbr"])

