"""faker.js methods for mustache strings: "{{faker.name.firstName()}}".

mgeneratejs 0.6 exposes faker@3.1.0 inside {{ }}. labkit implements the
commonly used methods with faker's English word lists and argument order.
Each entry takes (ctx, positional literal arguments, fail) and returns a
sampler; arguments are checked when the template is compiled.
"""
from __future__ import annotations

import math

from labkit.generate import sampling, wordlists as w
from labkit.generate.options import parse_date, show

FUNCTIONS: dict[tuple[str, str], object] = {}


def faker(namespace: str, name: str, arity: int = 0):
    """Register faker.namespace.name, accepting at most ``arity`` arguments."""

    def register(build):
        def checked(ctx, args, fail):
            if len(args) > arity:
                raise fail(f"faker.{namespace}.{name} takes at most {arity} argument(s), got {len(args)}")
            return build(ctx, list(args) + [None] * (arity - len(args)), fail)

        FUNCTIONS[(namespace, name)] = checked
        return build

    return register


def simple(namespace: str, name: str, items) -> None:
    """faker.namespace.name() picks one of ``items``."""
    faker(namespace, name)(lambda ctx, args, fail: sampling.pick(ctx, items))


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

for _name, _items in {
    "firstName": w.FAKER_FIRST_NAMES, "lastName": w.FAKER_LAST_NAMES, "prefix": w.FAKER_NAME_PREFIXES,
    "suffix": w.FAKER_NAME_SUFFIXES, "jobDescriptor": w.FAKER_TITLE_DESCRIPTORS, "jobArea": w.FAKER_TITLE_LEVELS,
    "jobType": w.FAKER_TITLE_JOBS,
}.items():
    simple("name", _name, _items)


@faker("name", "findName", 3)
def find_name(ctx, args, fail):
    first = sampling.pick(ctx, w.FAKER_FIRST_NAMES) if args[0] is None else sampling.pick(ctx, [_text(args[0], fail, "firstName")])
    last = sampling.pick(ctx, w.FAKER_LAST_NAMES) if args[1] is None else sampling.pick(ctx, [_text(args[1], fail, "lastName")])
    prefix, suffix = sampling.pick(ctx, w.FAKER_NAME_PREFIXES), sampling.pick(ctx, w.FAKER_NAME_SUFFIXES)
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


faker("name", "title")(lambda ctx, a, f: _three(ctx, w.FAKER_TITLE_DESCRIPTORS, w.FAKER_TITLE_LEVELS, w.FAKER_TITLE_JOBS))
faker("name", "jobTitle")(lambda ctx, a, f: _three(ctx, w.FAKER_TITLE_DESCRIPTORS, w.FAKER_TITLE_LEVELS, w.FAKER_TITLE_JOBS))

# -- address ---------------------------------------------------------------------

for _name, _items in {
    "cityPrefix": w.FAKER_CITY_PREFIXES, "citySuffix": w.FAKER_CITY_SUFFIXES, "streetSuffix": w.FAKER_STREET_SUFFIXES,
    "county": w.FAKER_COUNTIES, "country": w.FAKER_COUNTRIES, "countryCode": w.FAKER_COUNTRY_CODES,
    "state": w.FAKER_STATES, "stateAbbr": w.FAKER_STATE_ABBRS,
}.items():
    simple("address", _name, _items)


@faker("address", "zipCode", 1)
def zip_code(ctx, args, fail):
    if args[0] is not None:
        return digits(ctx, _text(args[0], fail, "format"))
    return _call_picked(sampling.pick(ctx, [digits(ctx, f) for f in w.FAKER_POSTCODES]))


@faker("address", "city", 1)
def city(ctx, args, fail):
    prefix, suffix = sampling.pick(ctx, w.FAKER_CITY_PREFIXES), sampling.pick(ctx, w.FAKER_CITY_SUFFIXES)
    first, last = sampling.pick(ctx, w.FAKER_FIRST_NAMES), sampling.pick(ctx, w.FAKER_LAST_NAMES)
    forms = (
        lambda: f"{prefix()} {first()}{suffix()}",
        lambda: f"{prefix()} {first()}",
        lambda: f"{first()}{suffix()}",
        lambda: f"{last()}{suffix()}",
    )
    return _one_of_forms(ctx, forms, args[0], fail)


def _street_name(ctx):
    suffix = sampling.pick(ctx, w.FAKER_STREET_SUFFIXES)
    name = sampling.pick(ctx, [sampling.pick(ctx, w.FAKER_LAST_NAMES), sampling.pick(ctx, w.FAKER_FIRST_NAMES)])
    return lambda: f"{name()()} {suffix()}"


faker("address", "streetName")(lambda ctx, a, f: _street_name(ctx))


def _secondary(ctx):
    return _call_picked(sampling.pick(ctx, [digits(ctx, "Apt. ###"), digits(ctx, "Suite ###")]))


faker("address", "secondaryAddress")(lambda ctx, a, f: _secondary(ctx))


@faker("address", "streetAddress", 1)
def street_address(ctx, args, fail):
    number = _call_picked(sampling.pick(ctx, [digits(ctx, "#####"), digits(ctx, "####"), digits(ctx, "###")]))
    street, secondary = _street_name(ctx), _secondary(ctx)
    if args[0]:
        return lambda: f"{number()} {street()} {secondary()}"
    return lambda: f"{number()} {street()}"


def _degrees(ctx, span: int):
    units = sampling.integers(ctx, 0, span * 10000)
    return lambda: f"{units() / 10000.0 - span / 2:.4f}"


faker("address", "latitude")(lambda ctx, a, f: _degrees(ctx, 180))
faker("address", "longitude")(lambda ctx, a, f: _degrees(ctx, 360))

# -- company ---------------------------------------------------------------------

for _name, _items in {
    "companySuffix": w.FAKER_COMPANY_SUFFIXES, "catchPhraseAdjective": w.FAKER_COMPANY_ADJECTIVES,
    "catchPhraseDescriptor": w.FAKER_COMPANY_DESCRIPTORS, "catchPhraseNoun": w.FAKER_COMPANY_NOUNS,
    "bsAdjective": w.FAKER_BS_ADJECTIVES, "bsBuzz": w.FAKER_BS_VERBS, "bsNoun": w.FAKER_BS_NOUNS,
}.items():
    simple("company", _name, _items)

faker("company", "catchPhrase")(lambda ctx, a, f: _three(ctx, w.FAKER_COMPANY_ADJECTIVES, w.FAKER_COMPANY_DESCRIPTORS, w.FAKER_COMPANY_NOUNS))
faker("company", "bs")(lambda ctx, a, f: _three(ctx, w.FAKER_BS_ADJECTIVES, w.FAKER_BS_VERBS, w.FAKER_BS_NOUNS))


@faker("company", "companyName", 1)
def company_name(ctx, args, fail):
    last, suffix = sampling.pick(ctx, w.FAKER_LAST_NAMES), sampling.pick(ctx, w.FAKER_COMPANY_SUFFIXES)
    forms = (
        lambda: f"{last()} {suffix()}",
        lambda: f"{last()} - {last()}",
        lambda: f"{last()}, {last()} and {last()}",
    )
    return _one_of_forms(ctx, forms, args[0], fail)


# -- internet --------------------------------------------------------------------

simple("internet", "domainSuffix", w.FAKER_DOMAIN_SUFFIXES)
simple("internet", "protocol", ("http", "https"))


def _user_name(ctx, first_name=None, last_name=None):
    first = sampling.pick(ctx, w.FAKER_FIRST_NAMES if first_name is None else [first_name])
    last = sampling.pick(ctx, w.FAKER_LAST_NAMES if last_name is None else [last_name])
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


@faker("internet", "userName", 2)
def user_name(ctx, args, fail):
    return _user_name(ctx, _text(args[0], fail, "firstName"), _text(args[1], fail, "lastName"))


@faker("internet", "email", 3)
def email(ctx, args, fail):
    user = _user_name(ctx, _text(args[0], fail, "firstName"), _text(args[1], fail, "lastName"))
    provider = sampling.pick(ctx, w.FAKER_FREE_EMAILS if args[2] is None else [_text(args[2], fail, "provider")])
    return lambda: "".join(c for c in user().replace(" ", "-") if c.isalnum() or c in "_.-") + "@" + provider()


def _domain_word(ctx):
    first = sampling.pick(ctx, w.FAKER_FIRST_NAMES)
    return lambda: "".join(c for c in first() if c not in "\\~#&*{}/:<>?|\"'").lower()


faker("internet", "domainWord")(lambda ctx, a, f: _domain_word(ctx))


def _domain_name(ctx):
    word, suffix = _domain_word(ctx), sampling.pick(ctx, w.FAKER_DOMAIN_SUFFIXES)
    return lambda: f"{word()}.{suffix()}"


faker("internet", "domainName")(lambda ctx, a, f: _domain_name(ctx))


@faker("internet", "url")
def url(ctx, args, fail):
    protocol, domain = sampling.pick(ctx, ("http", "https")), _domain_name(ctx)
    return lambda: f"{protocol()}://{domain()}"


@faker("internet", "ip")
def ip(ctx, args, fail):
    part = sampling.integers(ctx, 0, 255)
    return lambda: f"{part()}.{part()}.{part()}.{part()}"


@faker("internet", "mac")
def mac(ctx, args, fail):
    pair = sampling.strings(ctx, "0123456789abcdef", 2)
    return lambda: ":".join([pair() for _ in range(6)])


@faker("internet", "color", 3)
def color(ctx, args, fail):
    bases = [0 if a is None else a for a in args]
    if not all(isinstance(b, (int, float)) and not isinstance(b, bool) for b in bases):
        raise fail(f"color(baseRed255, baseGreen255, baseBlue255) needs numbers, got {show(args)}")
    level = sampling.integers(ctx, 0, 256)
    return lambda: "#" + "".join(f"{math.floor((level() + base) / 2):02x}" for base in bases)


# -- lorem -----------------------------------------------------------------------

simple("lorem", "word", w.FAKER_LOREM_WORDS)


def _words(ctx, count):
    word = sampling.pick(ctx, w.FAKER_LOREM_WORDS)
    return lambda: " ".join([word() for _ in range(count())])


def _sentence(ctx, count=None):
    text = _words(ctx, sampling.integers(ctx, 3, 10) if count is None else (lambda: count))
    return lambda: (lambda s: s[:1].upper() + s[1:] + ".")(text())


def _sentences(ctx, count=None, separator=" "):
    sentence = _sentence(ctx)
    counts = sampling.integers(ctx, 2, 6) if count is None else (lambda: count)
    return lambda: separator.join([sentence() for _ in range(counts())])


@faker("lorem", "words", 1)
def lorem_words(ctx, args, fail):
    count = _count(args[0], 3, fail, "num")
    return _words(ctx, lambda: count)


faker("lorem", "sentence", 2)(lambda ctx, a, f: _sentence(ctx, _count(a[0], None, f, "wordCount")))
faker("lorem", "sentences", 2)(
    lambda ctx, a, f: _sentences(ctx, _count(a[0], None, f, "sentenceCount"), _text(a[1], f, "separator") or " ")
)
faker("lorem", "lines", 1)(lambda ctx, a, f: _sentences(ctx, _count(a[0], None, f, "lineCount"), "\n"))


def _paragraph(ctx, count):
    extra, sentence = sampling.integers(ctx, 0, 3), _sentence(ctx)
    return lambda: " ".join([sentence() for _ in range(count + extra())])


faker("lorem", "paragraph", 1)(lambda ctx, a, f: _paragraph(ctx, _count(a[0], 3, f, "sentenceCount")))


@faker("lorem", "paragraphs", 2)
def paragraphs(ctx, args, fail):
    count = _count(args[0], 3, fail, "paragraphCount")
    separator = _text(args[1], fail, "separator")
    separator = "\n \r" if separator is None else separator
    paragraph = _paragraph(ctx, 3)
    return lambda: separator.join([paragraph() for _ in range(count)])


# -- phone -----------------------------------------------------------------------


@faker("phone", "phoneNumber", 1)
def phone_number(ctx, args, fail):
    if args[0] is not None:
        return digits(ctx, _text(args[0], fail, "format"))
    return _call_picked(sampling.pick(ctx, [digits(ctx, f) for f in w.FAKER_PHONE_FORMATS]))


@faker("phone", "phoneNumberFormat", 1)
def phone_number_format(ctx, args, fail):
    index = _count(args[0], 0, fail, "phoneFormatsArrayIndex")
    if index >= len(w.FAKER_PHONE_FORMATS):
        raise fail(f"phoneFormatsArrayIndex must be below {len(w.FAKER_PHONE_FORMATS)}, got {index}")
    return digits(ctx, w.FAKER_PHONE_FORMATS[index])


simple("phone", "phoneFormats", w.FAKER_PHONE_FORMATS)

# -- random ----------------------------------------------------------------------


@faker("random", "number", 1)
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


@faker("random", "boolean")
def random_boolean(ctx, args, fail):
    return sampling.bools(ctx)


@faker("random", "uuid")
def random_uuid(ctx, args, fail):
    hexes = {n: sampling.strings(ctx, "0123456789abcdef", n) for n in (3, 4, 8, 12)}
    variant = sampling.pick(ctx, "89ab")
    return lambda: f"{hexes[8]()}-{hexes[4]()}-4{hexes[3]()}-{variant()}{hexes[3]()}-{hexes[12]()}"


@faker("random", "arrayElement", 1)
def array_element(ctx, args, fail):
    items = ["a", "b", "c"] if args[0] is None else args[0]
    if not isinstance(items, list) or not items:
        raise fail(f"random.arrayElement needs a non-empty array, got {show(items)}")
    return sampling.pick(ctx, items)


simple("random", "alphaNumeric", "0123456789abcdefghijklmnopqrstuvwxyz")

# -- commerce and finance --------------------------------------------------------

for _name, _items in {
    "color": w.FAKER_COMMERCE_COLORS, "department": w.FAKER_DEPARTMENTS,
    "productAdjective": w.FAKER_PRODUCT_ADJECTIVES, "productMaterial": w.FAKER_PRODUCT_MATERIALS,
    "product": w.FAKER_PRODUCTS,
}.items():
    simple("commerce", _name, _items)
faker("commerce", "productName")(lambda ctx, a, f: _three(ctx, w.FAKER_PRODUCT_ADJECTIVES, w.FAKER_PRODUCT_MATERIALS, w.FAKER_PRODUCTS))
simple("finance", "transactionType", w.FAKER_TRANSACTION_TYPES)
faker("finance", "currencyCode")(lambda ctx, a, f: sampling.pick(ctx, [code for _, code in w.FAKER_CURRENCIES]))
faker("finance", "currencyName")(lambda ctx, a, f: sampling.pick(ctx, [name for name, _ in w.FAKER_CURRENCIES]))


@faker("finance", "accountName")
def account_name(ctx, args, fail):
    kind = sampling.pick(ctx, w.FAKER_ACCOUNT_TYPES)
    return lambda: kind() + " Account"


@faker("finance", "account", 1)
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


faker("finance", "amount", 4)(lambda ctx, a, f: _amount(ctx, a, f, False))
faker("commerce", "price", 4)(lambda ctx, a, f: _amount(ctx, a, f, True))

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
faker("date", "past", 2)(lambda ctx, a, f: _offset_dates(ctx, a, f, YEAR_MS, -1))
faker("date", "future", 2)(lambda ctx, a, f: _offset_dates(ctx, a, f, YEAR_MS, 1))
faker("date", "recent", 1)(lambda ctx, a, f: _offset_dates(ctx, a + [None], f, DAY_MS, -1))


@faker("date", "between", 2)
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


faker("date", "month", 1)(_calendar_names(w.FAKER_MONTHS, w.FAKER_MONTHS_ABBR))
faker("date", "weekday", 1)(_calendar_names(w.FAKER_WEEKDAYS, w.FAKER_WEEKDAYS_ABBR))

