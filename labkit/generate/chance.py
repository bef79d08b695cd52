"""chance.js functions (chance@1.1.13, the version mgeneratejs 0.6 installs).

Each function is an operator "$name" (unless a built-in has the same name) and
a mustache call {{chance.name({...})}}, with chance.js's option names, defaults
and result types (e.g. $year is a string, $currency a {code, name} object);
operators.CHANCE names them and lists their options. The functions at the end
(pickone, pickset, ...) take positional arguments: mustache only
(operators.CHANCE_HELPERS). Dates are UTC. Word lists come from wordlists.py.
"""
from __future__ import annotations

import hashlib
import math
from bisect import bisect_right
from datetime import datetime, timedelta, timezone
from itertools import accumulate

from labkit.generate import sampling
from labkit.generate.jsformat import number_to_string
from labkit.generate.options import Options, show
from labkit.generate.wordlists import CHANCE as WORDS

MAX_INT = 2**53
NUMBERS = "0123456789"
LOWER = "abcdefghijklmnopqrstuvwxyz"
UPPER = LOWER.upper()
SYMBOLS = "!@#$%^&*()[]"
HEX_POOL = NUMBERS + "abcdef"
UTC = timezone.utc


def lowered(o: Options, name: str, default: str, choices) -> str:
    """A case-insensitive choice option (chance.js lower-cases these)."""
    value = o.get(name, default)
    if not isinstance(value, str) or value.lower() not in choices:
        raise o.fail(name, "one of " + ", ".join(f'"{c}"' for c in choices))
    return value.lower()


def now(ctx) -> datetime:
    return sampling.datetime_from_ms(ctx.now_ms())


def constant(value):
    return lambda: value


# -- basics --------------------------------------------------------------------


def bool_(ctx, o: Options):
    return sampling.bools(ctx, o.number("likelihood", 50, low=0, high=100))


def char_pool(o: Options) -> str:
    casing = o.string("casing", None, choices=("lower", "upper"))
    letters = {"lower": LOWER, "upper": UPPER}.get(casing, LOWER + UPPER)
    if "pool" in o:
        pool = o.string("pool", "")
        if not pool:
            raise o.fail("pool", "a non-empty string of characters")
        return pool
    pool = ""
    if o.boolean("alpha", False):
        pool += letters
    if o.boolean("numeric", False):
        pool += NUMBERS
    if o.boolean("symbols", False):
        pool += SYMBOLS
    return pool or letters + NUMBERS + SYMBOLS


CHARACTER_OPTIONS = ("pool", "alpha", "numeric", "symbols", "casing")


def character(ctx, o: Options):
    return sampling.pick(ctx, char_pool(o))


def string(ctx, o: Options):
    pool = char_pool(o)
    if "length" in o:
        return sampling.strings(ctx, pool, o.integer("length", 0, low=0))
    low, high = o.integer("min", 5, low=0), o.integer("max", 20, low=0)
    o.bounds(low, high)
    length, char = sampling.integers(ctx, low, high), sampling.pick(ctx, pool)
    return lambda: "".join([char() for _ in range(length())])


def letter(ctx, o: Options):
    casing = o.string("casing", "lower", choices=("lower", "upper"))
    return sampling.pick(ctx, UPPER if casing == "upper" else LOWER)


def integer(ctx, o: Options):
    low, high = o.integer("min", -MAX_INT), o.integer("max", MAX_INT)
    o.bounds(low, high)
    return sampling.integers(ctx, low, high)


def natural(ctx, o: Options):
    if "numerals" in o:
        numerals = o.integer("numerals", 1, low=1, high=300)
        low, high = 10 ** (numerals - 1), 10**numerals - 1
    else:
        low, high = o.integer("min", 0, low=0), o.integer("max", MAX_INT, low=0)
    o.bounds(low, high)
    exclude = o.array("exclude", [])
    if not all(isinstance(x, int) and not isinstance(x, bool) for x in exclude):
        raise o.fail("exclude", "an array of whole numbers")
    if not exclude:
        return sampling.integers(ctx, low, high)
    skipped = sorted(x for x in set(exclude) if low <= x <= high)
    if len(skipped) > high - low:
        raise o.fail("exclude", f"an array that leaves at least one number between {low} and {high}")
    draw = sampling.integers(ctx, low, high - len(skipped))

    def draw_excluding():
        value = draw()
        for gap in skipped:
            if value < gap:
                break
            value += 1
        return value

    return draw_excluding


def floating(ctx, o: Options):
    fixed = o.integer("fixed", 4, low=0, high=20)
    limit = MAX_INT / 10**fixed
    low, high = o.number("min", -limit), o.number("max", limit)
    o.bounds(low, high)
    return sampling.floats(ctx, low, high, fixed)


def normal(ctx, o: Options):
    """A normally distributed number (Marsaglia polar method, as chance.js)."""
    mean, dev = o.number("mean", 0), o.number("dev", 1)
    pool = o.array("pool", [])
    random, sqrt, log = ctx.random, math.sqrt, math.log

    def draw():
        while True:
            u = random() * 2 - 1
            v = random() * 2 - 1
            s = u * u + v * v
            if 0 < s < 1:
                return dev * (u * sqrt(-2 * log(s) / s)) + mean

    if not pool:
        return draw
    where = o.where

    def draw_from_pool():
        for _ in range(100):
            index = math.floor(draw() + 0.5)
            if 0 <= index < len(pool):
                return pool[index]
        raise where.error("$normal: the pool is too small for the given mean and dev; no element was drawn in 100 tries")

    return draw_from_pool


def hex_(ctx, o: Options):
    low, high = o.integer("min", 0, low=0), o.integer("max", MAX_INT, low=0)
    o.bounds(low, high)
    upper = o.string("casing", "lower", choices=("lower", "upper")) == "upper"
    draw = sampling.integers(ctx, low, high)
    return (lambda: format(draw(), "X")) if upper else (lambda: format(draw(), "x"))


# -- text ------------------------------------------------------------------------


def syllable(ctx, o: Options):
    capitalize = o.boolean("capitalize", False)
    if "length" in o:
        length = o.integer("length", 2, low=1)
        first = sampling.pick(ctx, sampling.CONSONANTS + sampling.VOWELS)
        consonant, vowel = sampling.pick(ctx, sampling.CONSONANTS), sampling.pick(ctx, sampling.VOWELS)

        def draw():
            text = first()
            for _ in range(length - 1):
                text += vowel() if text[-1] in sampling.CONSONANTS else consonant()
            return text

    else:
        draw = sampling.syllables(ctx)
    return (lambda: draw().capitalize()) if capitalize else draw


def word(ctx, o: Options):
    if "syllables" in o and "length" in o:
        raise o.fail("length", "left out when 'syllables' is given (chance.js: cannot specify both)")
    return sampling.words(
        ctx,
        syllable_count=o.integer("syllables", None, low=1),
        length=o.integer("length", None, low=1),
        capitalize=o.boolean("capitalize", False),
    )


def sentence_sampler(ctx, count=None, punctuation="."):
    word = sampling.words(ctx)
    counts = sampling.integers(ctx, 12, 18) if count is None else constant(count)

    def draw():
        text = " ".join([word() for _ in range(counts())])
        return text[:1].upper() + text[1:] + punctuation

    return draw


def sentence(ctx, o: Options):
    count = o.integer("words", None, low=1)
    punctuation = o.get("punctuation", ".")
    if punctuation is False:
        punctuation = ""
    elif punctuation not in (".", "?", ";", "!", ":"):
        punctuation = "."
    return sentence_sampler(ctx, count, punctuation)


def paragraph(ctx, o: Options):
    count = o.integer("sentences", None, low=1)
    separator = "\n" if o.boolean("linebreak", False) else " "
    counts = sampling.integers(ctx, 3, 7) if count is None else constant(count)
    sentence = sentence_sampler(ctx)
    return lambda: separator.join([sentence() for _ in range(counts())])


# -- person ----------------------------------------------------------------------

AGE_RANGES = {"child": (0, 12), "teen": (13, 19), "adult": (18, 65), "senior": (65, 100), "all": (0, 100)}


def age_range(o: Options) -> tuple[int, int]:
    kind = o.string("type", "adult", choices=tuple(AGE_RANGES))
    return AGE_RANGES[kind]


def age(ctx, o: Options):
    return sampling.integers(ctx, *age_range(o))


def date_string(moment: datetime, american: bool) -> str:
    if american:
        return f"{moment.month}/{moment.day}/{moment.year}"
    return f"{moment.day}/{moment.month}/{moment.year}"


def shift_years(moment: datetime, years: int) -> datetime:
    try:
        return moment.replace(year=moment.year + years)
    except ValueError:  # 29 February
        return moment.replace(year=moment.year + years, day=28)


def birthday(ctx, o: Options):
    today = now(ctx)
    as_string, american = o.boolean("string", False), o.boolean("american", True)
    if "type" in o:
        age_draw, below = sampling.integers(ctx, *age_range(o)), ctx.below

        def draw():  # a moment in the year before the birthday that makes this age
            years = age_draw()
            low, high = _ms(shift_years(today, -years - 1)), _ms(shift_years(today, -years))
            return sampling.datetime_from_ms(low + below(high - low + 1))

    elif "minAge" in o or "maxAge" in o:
        min_age, max_age = o.integer("minAge", 0, low=0), o.integer("maxAge", 100, low=0)
        if min_age > max_age:
            raise o.fail("minAge", f"not greater than maxAge ({max_age})")
        midnight = today.replace(hour=0, minute=0, second=0, microsecond=0)
        low = shift_years(midnight, -max_age - 1) + timedelta(days=1)
        high = shift_years(midnight, -min_age) + timedelta(days=1, milliseconds=-1)
        draw = sampling.dates(ctx, _ms(low), _ms(high))
    else:
        low_age, high_age = age_range(o)
        years = sampling.integers(ctx, today.year - high_age, today.year - low_age)
        draw = calendar_dates(ctx, years=years)
    if as_string:
        return lambda: date_string(draw(), american)
    return draw


def _ms(moment: datetime) -> int:
    return (moment - sampling.EPOCH) // timedelta(milliseconds=1)


def calendar_dates(ctx, years, months=None, days=None, hours=None, minutes=None, seconds=None, milliseconds=None):
    """chance.date without min/max: each part drawn separately (days from chance's month table)."""
    month_draw = months or sampling.integers(ctx, 0, 11)
    day_in = [sampling.integers(ctx, 1, m[3]) for m in WORDS["months"]]
    hours = hours or sampling.integers(ctx, 0, 23)
    minutes = minutes or sampling.integers(ctx, 0, 59)
    seconds = seconds or sampling.integers(ctx, 0, 59)
    milliseconds = milliseconds or sampling.integers(ctx, 0, 999)

    def draw():
        year, month = years(), month_draw()
        day = days() if days else day_in[month % 12]()
        year, month = year + month // 12, month % 12  # JavaScript's Date rolls months over
        return datetime(year, month + 1, 1, tzinfo=UTC) + timedelta(
            days=day - 1, hours=hours(), minutes=minutes(), seconds=seconds(), milliseconds=milliseconds()
        )

    return draw


GENDERS = ("male", "female")
FIRST_NATIONALITIES = ("en", "it", "nl", "fr")
LAST_NATIONALITIES = ("en", "it", "nl", "uk", "de", "jp", "es", "fr")


def first_sampler(ctx, gender: str | None, nationality: str):
    names = {g: sampling.pick(ctx, WORDS["first_names"][g][nationality]) for g in GENDERS}
    if gender is not None:
        return names[gender]
    male, female, random = names["male"], names["female"], ctx.random
    return lambda: male() if random() < 0.5 else female()


def last_sampler(ctx, nationality: str):
    if nationality == "*":
        return sampling.pick(ctx, [name for names in WORDS["last_names"].values() for name in names])
    return sampling.pick(ctx, WORDS["last_names"][nationality])


def first(ctx, o: Options):
    gender = lowered(o, "gender", None, GENDERS) if "gender" in o else None
    return first_sampler(ctx, gender, lowered(o, "nationality", "en", FIRST_NATIONALITIES))


def last(ctx, o: Options):
    return last_sampler(ctx, lowered(o, "nationality", "*", LAST_NATIONALITIES + ("*",)))


PREFIXES = {"all": (("Doctor", "Dr."), ("Mister", "Mr."), ("Miss", "Miss"), ("Misses", "Mrs.")),
            "male": (("Doctor", "Dr."), ("Mister", "Mr.")),
            "female": (("Doctor", "Dr."), ("Miss", "Miss"), ("Misses", "Mrs."))}
SUFFIXES = (
    ("Doctor of Osteopathic Medicine", "D.O."), ("Doctor of Philosophy", "Ph.D."), ("Esquire", "Esq."),
    ("Junior", "Jr."), ("Juris Doctor", "J.D."), ("Master of Arts", "M.A."),
    ("Master of Business Administration", "M.B.A."), ("Master of Science", "M.S."), ("Medical Doctor", "M.D."),
    ("Senior", "Sr."), ("The Third", "III"), ("The Fourth", "IV"), ("Bachelor of Engineering", "B.E"),
    ("Bachelor of Technology", "B.TECH"),
)


def prefix_sampler(ctx, gender: str, full: bool):
    return sampling.pick(ctx, [name if full else short for name, short in PREFIXES[gender]])


def prefix(ctx, o: Options):
    return prefix_sampler(ctx, lowered(o, "gender", "all", ("all",) + GENDERS), o.boolean("full", False))


def suffix(ctx, o: Options):
    full = o.boolean("full", False)
    return sampling.pick(ctx, [name if full else short for name, short in SUFFIXES])


def name(ctx, o: Options):
    """First and last name of one gender and nationality, as chance.name (last names: nationality 'en')."""
    nationality = lowered(o, "nationality", "en", FIRST_NATIONALITIES)
    fixed_gender = lowered(o, "gender", None, GENDERS) if "gender" in o else None
    middle, initial = o.boolean("middle", False), o.boolean("middle_initial", False)
    with_prefix, with_suffix, full = o.boolean("prefix", False), o.boolean("suffix", False), o.boolean("full", False)
    firsts = {g: first_sampler(ctx, g, nationality) for g in GENDERS}
    last_name = last_sampler(ctx, nationality)
    prefixes = {g: prefix_sampler(ctx, g, full) for g in GENDERS}
    suffix_of = sampling.pick(ctx, [n if full else s for n, s in SUFFIXES])
    capital = sampling.pick(ctx, UPPER)
    gender_of = constant(fixed_gender) if fixed_gender else sampling.pick(ctx, GENDERS)
    if not (middle or initial or with_prefix or with_suffix):
        male, female, random, last_of = firsts["male"], firsts["female"], ctx.random, last_name
        if fixed_gender:
            only = firsts[fixed_gender]
            return lambda: only() + " " + last_of()
        return lambda: (male() if random() < 0.5 else female()) + " " + last_of()

    def draw():
        gender = gender_of()
        text = firsts[gender]()
        if middle:
            text += " " + firsts[gender]()
        elif initial:
            text += " " + capital() + "."
        text += " " + last_name()
        if with_prefix:
            text = prefixes[gender]() + " " + text
        if with_suffix:
            text += " " + suffix_of()
        return text

    return draw


def gender(ctx, o: Options):
    extra = o.array("extraGenders", [])
    return sampling.pick(ctx, ["Male", "Female"] + extra)


def ssn(ctx, o: Options):
    if o.boolean("ssnFour", False):
        return sampling.strings(ctx, "1234567890", 4)
    dash = "-" if o.boolean("dashes", True) else ""
    three, two, four = (sampling.strings(ctx, "1234567890", n) for n in (3, 2, 4))
    return lambda: three() + dash + two() + dash + four()


def profession(ctx, o: Options):
    job = sampling.pick(ctx, WORDS["professions"])
    if not o.boolean("rank", False):
        return job
    rank = sampling.pick(ctx, ("Apprentice ", "Junior ", "Senior ", "Lead "))
    return lambda: rank() + job()


def company(ctx, o: Options):
    return sampling.pick(ctx, WORDS["companies"])


# -- web -------------------------------------------------------------------------


def domain_sampler(ctx, tld: str | None = None):
    word = sampling.words(ctx)
    if tld is not None:
        return lambda: word() + "." + tld
    tlds = sampling.pick(ctx, WORDS["tlds"])
    return lambda: word() + "." + tlds()


def tld(ctx, o: Options):
    return sampling.pick(ctx, WORDS["tlds"])


def domain(ctx, o: Options):
    return domain_sampler(ctx, o.string("tld", None))


def email_sampler(ctx, length=None, domain=None):
    local = sampling.words(ctx, length=length)
    if domain is not None:
        suffix = "@" + domain
        return lambda: local() + suffix
    domains = domain_sampler(ctx)
    return lambda: local() + "@" + domains()


def email(ctx, o: Options):
    return email_sampler(ctx, o.integer("length", None, low=1), o.string("domain", None))


def url(ctx, o: Options):
    protocol = o.string("protocol", "http")
    domain_of = constant(o.string("domain", "")) if "domain" in o else domain_sampler(ctx, o.string("tld", None))
    domain_prefix = o.string("domain_prefix", "")
    path_of = constant(o.string("path", "")) if "path" in o else sampling.words(ctx)
    extensions = o.array("extensions", [])
    extension_of = (lambda pick=sampling.pick(ctx, extensions): "." + str(pick())) if extensions else constant("")

    def draw():
        host = domain_of()
        if domain_prefix:
            host = domain_prefix + "." + host
        return protocol + "://" + host + "/" + path_of() + extension_of()

    return draw


def ip(ctx, o: Options):
    outer, inner = sampling.integers(ctx, 1, 254), sampling.integers(ctx, 0, 255)
    return lambda: f"{outer()}.{inner()}.{inner()}.{outer()}"


def ipv6(ctx, o: Options):
    group = sampling.strings(ctx, HEX_POOL, 4)
    return lambda: ":".join([group() for _ in range(8)])


def twitter(ctx, o: Options):
    word = sampling.words(ctx)
    return lambda: "@" + word()


def hashtag(ctx, o: Options):
    word = sampling.words(ctx)
    return lambda: "#" + word()


def mac(ctx, o: Options):
    delimiter = o.string("delimiter", ":")
    byte = sampling.strings(ctx, HEX_POOL, 2)
    return lambda: delimiter.join([byte() for _ in range(6)])


def port(ctx, o: Options):
    return sampling.integers(ctx, 0, 65535)


def guid(ctx, o: Options):
    version = o.get("version", 5)
    version = number_to_string(version) if isinstance(version, (int, float)) else str(version)
    hex8, hex4, hex3, hex12 = (sampling.strings(ctx, "abcdef1234567890", n) for n in (8, 4, 3, 12))
    variant = sampling.pick(ctx, "ab89")
    return lambda: f"{hex8()}-{hex4()}-{version}{hex3()}-{variant()}{hex3()}-{hex12()}"


def hash_(ctx, o: Options):
    pool = HEX_POOL.upper() if o.string("casing", "lower", choices=("lower", "upper")) == "upper" else HEX_POOL
    return sampling.strings(ctx, pool, o.integer("length", 40, low=0))


AVATAR_OPTIONS = {
    "protocol": ("http", "https"),
    "fileExtension": ("bmp", "gif", "jpg", "png"),
    "rating": ("g", "pg", "r", "x"),
    "fallback": ("404", "mm", "identicon", "monsterid", "wavatar", "retro", "blank"),
}


def avatar(ctx, o: Options):
    """A Gravatar URL for an email address (random by default), as chance.avatar."""
    chosen = {key: o.string(key, "", choices=("",) + allowed) for key, allowed in AVATAR_OPTIONS.items()}
    size = o.integer("size", 0, low=0)
    email_of = constant(o.string("email", "")) if "email" in o else email_sampler(ctx)
    protocol = chosen["protocol"] + ":" if chosen["protocol"] else ""
    extension = "." + chosen["fileExtension"] if chosen["fileExtension"] else ""
    query = "?" if size or chosen["rating"] or chosen["fallback"] else ""
    query += f"&s={size}" if size else ""
    query += f"&r={chosen['rating']}" if chosen["rating"] else ""
    query += f"&d={chosen['fallback']}" if chosen["fallback"] else ""
    base = protocol + "//www.gravatar.com/avatar/"
    return lambda: base + hashlib.md5(email_of().encode("utf-8")).hexdigest() + extension + query


COLOR_FORMATS = ("hex", "shorthex", "rgb", "rgba", "0x", "name")


def color(ctx, o: Options):
    formats = (o.string("format", None, choices=COLOR_FORMATS),) if "format" in o else COLOR_FORMATS
    gray = o.boolean("grayscale", False)
    upper = o.string("casing", "lower", choices=("lower", "upper")) == "upper"
    low, high = o.integer("min", 0, low=0, high=255), o.integer("max", 255, low=0, high=255)
    channel = {c: (o.integer(f"min_{c}", low, low=0, high=255), o.integer(f"max_{c}", high, low=0, high=255))
               for c in ("red", "green", "blue")}
    for c, (lo, hi) in channel.items():
        if lo > hi:
            raise o.fail(f"min_{c}", f"not greater than max_{c} ({hi})")
    o.bounds(low, high)
    alpha = floating(ctx, Options("floating", {"min": o.number("min_alpha", 0), "max": o.number("max_alpha", 1)}, o.where))
    gray_level = sampling.integers(ctx, low, high)
    gray_nibble = sampling.integers(ctx, 0, 15)
    levels = {c: sampling.integers(ctx, lo, hi) for c, (lo, hi) in channel.items()}
    nibbles = {c: sampling.integers(ctx, lo // 16, hi // 16) for c, (lo, hi) in channel.items()}
    names = sampling.pick(ctx, WORDS["color_names"])
    red, green, blue = levels["red"], levels["green"], levels["blue"]

    def hexstring(short: bool) -> str:
        if gray:
            return format(gray_nibble(), "x") * 3 if short else format(gray_level(), "02x") * 3
        if short:
            return "".join(format(nibbles[c](), "x") for c in ("red", "green", "blue"))
        return f"{red():02x}{green():02x}{blue():02x}"

    def rgb(with_alpha: bool) -> str:
        value = ",".join([str(gray_level())] * 3) if gray else f"{red()},{green()},{blue()}"
        if with_alpha:
            return f"rgba({value},{number_to_string(alpha())})"
        return f"rgb({value})"

    makers = {
        "hex": lambda: "#" + hexstring(False),
        "shorthex": lambda: "#" + hexstring(True),
        "rgb": lambda: rgb(False),
        "rgba": lambda: rgb(True),
        "0x": lambda: "0x" + hexstring(False),
    }
    format_of = sampling.pick(ctx, formats)

    def draw():
        kind = format_of()
        if kind == "name":
            return names()
        value = makers[kind]()
        return value.upper() if upper else value

    return draw


# -- location --------------------------------------------------------------------

STREET_COUNTRIES = ("us", "it")


def street_sampler(ctx, country="us", syllable_count=2, short_suffix=False):
    word = sampling.words(ctx, syllable_count=syllable_count, capitalize=True)
    suffix = sampling.pick(ctx, [short if short_suffix else full for full, short in WORDS["street_suffixes"][country]])
    if country == "it":
        return lambda: suffix() + " " + word()
    return lambda: word() + " " + suffix()


def street_options(o: Options) -> dict:
    return dict(
        country=lowered(o, "country", "us", STREET_COUNTRIES),
        syllable_count=o.integer("syllables", 2, low=1),
        short_suffix=o.boolean("short_suffix", False),
    )


def street(ctx, o: Options):
    return street_sampler(ctx, **street_options(o))


def address(ctx, o: Options):
    number, street_of = sampling.integers(ctx, 5, 2000), street_sampler(ctx, **street_options(o))
    return lambda: f"{number()} {street_of()}"


def city(ctx, o: Options):
    return sampling.words(ctx, syllable_count=3, capitalize=True)


def state(ctx, o: Options):
    full = o.boolean("full", False)
    country = lowered(o, "country", "us", ("us", "it", "mx", "uk"))
    if country == "uk":
        return sampling.pick(ctx, WORDS["uk_counties"])
    if country in ("it", "mx"):
        states = WORDS["country_regions"][country]
    else:
        states = ()
        if o.boolean("us_states_and_dc", True):
            states += WORDS["us_states_and_dc"]
        if o.boolean("territories", False):
            states += WORDS["territories"]
        if o.boolean("armed_forces", False):
            states += WORDS["armed_forces"]
        if not states:
            raise o.fail("us_states_and_dc", "true unless territories or armed_forces is true (there is nothing to pick from)")
    return sampling.pick(ctx, [name if full else short for name, short in states])


def zip_(ctx, o: Options):
    five = sampling.strings(ctx, NUMBERS, 5)
    if o.get("plusfour") is True:
        four = sampling.strings(ctx, NUMBERS, 4)
        return lambda: five() + "-" + four()
    return five


def postal(ctx, o: Options):
    district, digit, capital = sampling.pick(ctx, "XVTSRPNKLMHJGECBA"), sampling.pick(ctx, NUMBERS), sampling.pick(ctx, UPPER)
    return lambda: f"{district()}{digit()}{capital()} {digit()}{capital()}{digit()}"


def postcode(ctx, o: Options):
    area, digit, capital = sampling.pick(ctx, WORDS["postcode_areas"]), sampling.pick(ctx, NUMBERS), sampling.pick(ctx, UPPER)
    random = ctx.random
    return lambda: f"{area()}{digit()}{capital() if random() < 0.5 else ''} {digit()}{capital()}{capital()}"


def country(ctx, o: Options):
    if o.boolean("raw", False):
        pick = sampling.pick(ctx, WORDS["countries"])
        return lambda: dict(zip(("name", "abbreviation"), pick()))
    full = o.boolean("full", False)
    return sampling.pick(ctx, [name if full else short for name, short in WORDS["countries"]])


def degrees_sampler(ctx, o: Options, limit: int, minutes_max):
    """chance.latitude / chance.longitude: decimal degrees, or ddm / dms strings."""
    kind = lowered(o, "format", "dd", ("dd", "ddm", "dms"))
    if kind == "dd":
        fixed = o.integer("fixed", 5, low=0, high=20)
        low, high = o.number("min", -limit, low=-limit, high=limit), o.number("max", limit, low=-limit, high=limit)
        o.bounds(low, high)
        return sampling.floats(ctx, low, high, fixed)
    fixed = o.integer("fixed", 4, low=0, high=4)
    low, high = o.integer("min", 0, low=0, high=limit - 1), o.integer("max", limit - 1, low=0, high=limit - 1)
    o.bounds(low, high)
    degrees = sampling.integers(ctx, low, high)
    minutes = sampling.floats(ctx, 0, minutes_max, fixed)
    whole_minutes = sampling.integers(ctx, 0, 59)
    if kind == "ddm":
        return lambda: f"{degrees()}°{number_to_string(minutes())}"
    seconds = sampling.floats(ctx, 0, 59, fixed)
    return lambda: f"{degrees()}°{whole_minutes()}’{number_to_string(seconds())}”"


def latitude(ctx, o: Options):
    return degrees_sampler(ctx, o, 90, 59)


def longitude(ctx, o: Options):
    return degrees_sampler(ctx, o, 180, 59.9999)


def coordinates(ctx, o: Options):
    """chance.coordinates: the string "latitude, longitude" (the $coordinates built-in is an array)."""
    lat, lng = latitude(ctx, o), longitude(ctx, o)
    return lambda: f"{number_to_string(lat())}, {number_to_string(lng())}"


def altitude(ctx, o: Options):
    low, high = o.number("min", 0), o.number("max", 8848)
    o.bounds(low, high)
    return sampling.floats(ctx, low, high, o.integer("fixed", 5, low=0, high=20))


def depth(ctx, o: Options):
    low, high = o.number("min", -10994), o.number("max", 0)
    o.bounds(low, high)
    return sampling.floats(ctx, low, high, o.integer("fixed", 5, low=0, high=20))


def geohash(ctx, o: Options):
    return sampling.strings(ctx, "0123456789bcdefghjkmnpqrstuvwxyz", o.integer("length", 7, low=0))


def areacode_sampler(ctx, parens=True, example=False):
    if example:
        code = "(555)" if parens else "555"
        return lambda: code
    codes = [f"{a}{b}{c}" for a in range(2, 10) for b in range(0, 9) for c in range(10)]
    return sampling.pick(ctx, [f"({code})" if parens else code for code in codes])


def areacode(ctx, o: Options):
    return areacode_sampler(ctx, o.boolean("parens", True), o.boolean("exampleNumber", False))


# Area codes as chance.js lists them for each country's phone numbers.
UK_LANDLINE = (
    (("01{}1 ", "234569"), (3, 4)), (("020 {}", "378"), (3, 4)), (("023 {}", "89"), (3, 4)),
    (("024 7", None), (3, 4)), (("028 {}", ("25", "28", "37", "71", "82", "90", "92", "95")), (2, 4)),
    (("012{} ", ("04", "08", "54", "76", "97", "98")), (6,)), (("013{} ", ("63", "64", "84", "86")), (6,)),
    (("014{} ", ("04", "20", "60", "61", "80", "88")), (6,)), (("015{} ", ("24", "27", "62", "66")), (6,)),
    (("016{} ", ("06", "29", "35", "47", "59", "95")), (6,)), (("017{} ", ("26", "44", "50", "68")), (6,)),
    (("018{} ", ("27", "37", "84", "97")), (6,)), (("019{} ", ("00", "05", "35", "46", "49", "63", "95")), (6,)),
)
UK_MOBILE = ((("07{}", ("4", "5", "7", "8", "9")), (2, 6)), (("07624 ", None), (6,)))
FR_LANDLINE = {
    "01": "30 34 39 40 41 42 43 44 45 46 47 48 49 53 55 56 58 60 64 69 70 72 73 74 75 76 77 78 79 80 81 82 83",
    "02": "14 18 22 23 28 29 30 31 32 33 34 35 36 37 38 40 41 43 44 45 46 47 48 49 50 51 52 53 54 56 57 61 62 69 72 76 77 78 85 90 96 97 98 99",
    "03": "10 20 21 22 23 24 25 26 27 28 29 39 44 45 51 52 54 55 57 58 59 60 61 62 63 64 65 66 67 68 69 70 71 72 73 80 81 82 83 84 85 86 87 88 89 90",
    "04": "11 13 15 20 22 26 27 30 32 34 37 42 43 44 50 56 57 63 66 67 68 69 70 71 72 73 74 75 76 77 78 79 80 81 82 83 84 85 86 88 89 90 91 92 93 94 95 97 98",
    "05": "08 16 17 19 24 31 32 33 34 35 40 45 46 47 49 53 55 56 57 58 59 61 62 63 64 65 67 79 81 82 86 87 90 94",
}
ZA_LANDLINE = {"01": "012345678", "02": "123478", "03": "123569", "04": "123456789", "05": "134678"}
ZA_MOBILE = (("060", "3456789", 6), ("061", "0123458", 6), ("06", "", 7), ("071", "0123456789", 6),
             ("07", "2346789", 7), ("08", "012345", 7))
BR_AREAS = ("11 12 13 14 15 16 17 18 19 21 22 24 27 28 31 32 33 34 35 37 38 41 42 43 44 45 46 47 48 49 51 53 54 55 "
            "61 62 63 64 65 66 67 68 69 71 73 74 75 77 79 81 82 83 84 85 86 87 88 89 91 92 93 94 95 96 97 98 99").split()


def _format_part(ctx, pattern: str, choices):
    if choices is None:
        return constant(pattern)
    chosen = sampling.pick(ctx, choices)
    return lambda: pattern.format(chosen())


def phone(ctx, o: Options):
    formatted = o.boolean("formatted", True)
    country_code = lowered(o, "country", "us", ("us", "uk", "fr", "za", "br"))
    mobile = o.boolean("mobile", False)
    digits = {n: sampling.strings(ctx, NUMBERS, n) for n in (2, 4, 6, 7, 8)}
    digits[3] = sampling.strings(ctx, NUMBERS, 3)
    if country_code == "us":
        parens = o.boolean("parens", True) and formatted
        area = areacode_sampler(ctx, parens, o.boolean("exampleNumber", False))
        exchange, subscriber = sampling.integers(ctx, 200, 999), sampling.integers(ctx, 1000, 9999)
        if formatted:
            return lambda: f"{area()} {exchange()}-{subscriber()}"
        return lambda: f"{area()}{exchange()}{subscriber()}"
    if country_code == "uk":
        plans = [(_format_part(ctx, pattern, choices), sections) for (pattern, choices), sections in (UK_MOBILE if mobile else UK_LANDLINE)]
        plan = sampling.pick(ctx, plans)

        def uk():
            area, sections = plan()
            number = area() + " ".join(digits[n]() for n in sections)
            return number if formatted else number.replace(" ", "")

        return uk
    if country_code == "fr":
        if mobile:
            start = sampling.pick(ctx, ("06", "07"))
            number = lambda: start() + digits[8]()  # noqa: E731
        else:
            zones = [(zone, sampling.pick(ctx, codes.split())) for zone, codes in FR_LANDLINE.items()]
            zone = sampling.pick(ctx, zones + [("09", None)])

            def number():
                prefix, code = zone()
                return prefix + (code() + digits[6]() if code else digits[8]())

        if formatted:
            return lambda: " ".join(_pairs(number()))
        return number
    if country_code == "za":
        if mobile:
            plans = [(prefix, sampling.pick(ctx, chars) if chars else constant(""), digits[n]) for prefix, chars, n in ZA_MOBILE]
        else:
            plans = [(prefix, sampling.pick(ctx, chars), digits[7]) for prefix, chars in ZA_LANDLINE.items()]
        plan = sampling.pick(ctx, plans)

        def za():
            prefix, middle, rest = plan()
            return prefix + middle() + rest()

        return za
    area = sampling.pick(ctx, BR_AREAS)
    prefix = (lambda: "9" + digits[4]()) if mobile else (lambda d=sampling.integers(ctx, 2000, 5999): str(d()))
    if formatted:
        return lambda: f"({area()}) {prefix()}-{digits[4]()}"
    return lambda: area() + prefix() + digits[4]()


def _pairs(text: str):
    return [text[i : i + 2] for i in range(0, len(text) - 1, 2)]


# -- time ------------------------------------------------------------------------


def year(ctx, o: Options):
    low = o.integer("min", now(ctx).year, low=0)
    high = o.integer("max", low + 100, low=0)
    o.bounds(low, high)
    draw = sampling.integers(ctx, low, high)
    return lambda: str(draw())


def month_record(index: int) -> dict:
    name, short, numeric, days = WORDS["months"][index]
    return {"name": name, "short_name": short, "numeric": numeric, "days": days}


def month(ctx, o: Options):
    low, high = o.integer("min", 1, low=1, high=12), o.integer("max", 12, low=1, high=12)
    o.bounds(low, high)
    index = sampling.integers(ctx, low - 1, high - 1)
    if o.boolean("raw", False):
        return lambda: month_record(index())
    names = [m[0] for m in WORDS["months"]]
    return lambda: names[index()]


def weekday(ctx, o: Options):
    days = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"]
    if not o.boolean("weekday_only", False):
        days += ["Saturday", "Sunday"]
    return sampling.pick(ctx, days)


def hour(ctx, o: Options):
    twentyfour = o.boolean("twentyfour", False)
    top = 23 if twentyfour else 12
    low = o.integer("min", 0 if twentyfour else 1, low=0, high=top)
    high = o.integer("max", top, low=0, high=top)
    o.bounds(low, high)
    return sampling.integers(ctx, low, high)


def minute_sampler(ctx, o: Options):
    low, high = o.integer("min", 0, low=0, high=59), o.integer("max", 59, low=0, high=59)
    o.bounds(low, high)
    return sampling.integers(ctx, low, high)


def minute(ctx, o: Options):
    return minute_sampler(ctx, o)


def second(ctx, o: Options):
    return minute_sampler(ctx, o)


def millisecond(ctx, o: Options):
    return sampling.integers(ctx, 0, 999)


def ampm(ctx, o: Options):
    return sampling.pick(ctx, ("am", "pm"))


def timestamp(ctx, o: Options):
    """chance.timestamp: seconds since the epoch, up to now (the $timestamp built-in is a BSON Timestamp)."""
    return sampling.integers(ctx, 1, ctx.now_ms() // 1000)


DATE_PARTS = ("year", "month", "day", "hour", "minute", "second", "millisecond")


def date(ctx, o: Options):
    """chance.date: between min and max, else each part random (year: this year to +100). UTC."""
    as_string, american = o.boolean("string", False), o.boolean("american", True)
    if "min" in o or "max" in o:
        low = o.date("min", "1970-01-01T00:00:00.001Z")
        high = o.date("max", "9999-12-31T23:59:59.999Z")
        o.bounds(low, high)
        draw = sampling.dates(ctx, low, high)
    else:
        parts = {part: constant(o.integer(part, 0)) for part in DATE_PARTS if part in o}
        this_year = now(ctx).year
        draw = calendar_dates(
            ctx,
            years=parts.get("year") or sampling.integers(ctx, this_year, this_year + 100),
            months=parts.get("month"),
            days=parts.get("day"),
            hours=parts.get("hour"),
            minutes=parts.get("minute"),
            seconds=parts.get("second"),
            milliseconds=parts.get("millisecond"),
        )
    if as_string:
        return lambda: date_string(draw(), american)
    return draw


def hammertime(ctx, o: Options):
    draw = date(ctx, o)
    return lambda: _ms(draw())


# -- finance ---------------------------------------------------------------------


def luhn_digit(number: str) -> int:
    total = 0
    for i, char in enumerate(reversed(number)):
        digit = int(char)
        if i % 2 == 0:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return (total * 9) % 10


def cc_type_record(entry) -> dict:
    return dict(zip(("name", "short_name", "prefix", "length"), entry))


def find_cc_type(o: Options, option: str):
    wanted = o.get(option)
    for entry in WORDS["cc_types"]:
        if wanted in (entry[0], entry[1]):
            return entry
    raise o.fail(option, "a card type name or short name, one of " + ", ".join(e[1] for e in WORDS["cc_types"]))


def cc_type(ctx, o: Options):
    raw = o.boolean("raw", False)
    if "name" in o:
        entry = find_cc_type(o, "name")
        return (lambda: cc_type_record(entry)) if raw else constant(entry[0])
    pick = sampling.pick(ctx, WORDS["cc_types"])
    if raw:
        return lambda: cc_type_record(pick())
    return sampling.pick(ctx, [e[0] for e in WORDS["cc_types"]])


def cc(ctx, o: Options):
    entries = [find_cc_type(o, "type")] if "type" in o else list(WORDS["cc_types"])
    makers = [(prefix, sampling.strings(ctx, NUMBERS, length - len(prefix) - 1)) for _, _, prefix, length in entries]
    pick = sampling.pick(ctx, makers)

    def draw():
        prefix, body = pick()
        number = prefix + body()
        return number + str(luhn_digit(number))

    return draw


def currency(ctx, o: Options):
    pick = sampling.pick(ctx, WORDS["currency_types"])
    return lambda: dict(zip(("code", "name"), pick()))


def dollar_sampler(ctx, o: Options):
    low, high = o.number("min", 0), o.number("max", 10000)
    o.bounds(low, high)
    cents = sampling.fixed_units(ctx, low, high, 2)

    def draw():
        value = cents()
        sign = "-" if value < 0 else ""
        whole, part = divmod(abs(value), 100)
        return f"{sign}${whole}.{part:02d}"

    return draw


def dollar(ctx, o: Options):
    return dollar_sampler(ctx, o)


def euro(ctx, o: Options):
    """chance.euro: the dollar amount in en-US number format, then "€" ("1,234.5€")."""
    dollars = dollar_sampler(ctx, o)

    def draw():
        text = dollars().replace("$", "")
        sign = "-" if text.startswith("-") else ""
        whole, part = text.lstrip("-").split(".")
        part = part.rstrip("0")
        return f"{sign}{int(whole):,}" + (f".{part}" if part else "") + "€"

    return draw


def exp_parts(ctx):
    today = now(ctx)
    first_year = today.year + 1 if today.month == 12 else today.year
    years = sampling.integers(ctx, first_year, today.year + 10)
    any_month = sampling.integers(ctx, 1, 12)
    later_month = sampling.integers(ctx, today.month + 1, 12) if today.month < 12 else any_month

    def draw():
        year_ = years()
        month_ = later_month() if year_ == today.year else any_month()
        return str(year_), f"{month_:02d}"

    return draw, any_month, later_month, years


def exp(ctx, o: Options):
    draw = exp_parts(ctx)[0]
    if o.boolean("raw", False):
        return lambda: dict(zip(("year", "month"), draw()))
    return lambda: "{1}/{0}".format(*draw())


def exp_month(ctx, o: Options):
    _, any_month, later_month, _ = exp_parts(ctx)
    draw = later_month if o.boolean("future", False) else any_month
    return lambda: f"{draw():02d}"


def exp_year(ctx, o: Options):
    years = exp_parts(ctx)[3]
    return lambda: str(years())


# -- games -----------------------------------------------------------------------


def coin(ctx, o: Options):
    return sampling.pick(ctx, ("heads", "tails"))


def dice(sides: int):
    """chance.d4, d6, ... d100: a roll of a die with ``sides`` sides."""

    def roll(ctx, o: Options):
        return sampling.integers(ctx, 1, sides)

    return roll


# -- helpers with positional arguments (mustache only: {{chance.pickone(["a", "b"])}}) ---


def pickone(ctx, args, fail):
    if len(args) != 1 or not isinstance(args[0], list) or not args[0]:
        raise fail("pickone(array) needs one non-empty array")
    return sampling.pick(ctx, args[0])


def pickset(ctx, args, fail):
    if not 1 <= len(args) <= 2 or not isinstance(args[0], list):
        raise fail("pickset(array, count) needs an array and a count")
    count = args[1] if len(args) == 2 else 1
    if not isinstance(count, int) or isinstance(count, bool) or not 0 <= count:
        raise fail(f"pickset count must be a whole number >= 0, got {show(count)}")
    items, random = list(args[0]), ctx.random
    count = min(count, len(items))

    def draw():
        pool = list(items)
        for i in range(count):
            j = i + int(random() * (len(pool) - i))
            pool[i], pool[j] = pool[j], pool[i]
        return pool[:count]

    return draw


def shuffle(ctx, args, fail):
    if len(args) != 1 or not isinstance(args[0], list):
        raise fail("shuffle(array) needs one array")
    return pickset(ctx, [args[0], len(args[0])], fail)


def weighted(ctx, args, fail):
    if (
        len(args) != 2
        or not isinstance(args[0], list)
        or not isinstance(args[1], list)
        or len(args[0]) != len(args[1])
        or not args[0]
        or not all(isinstance(w, (int, float)) and not isinstance(w, bool) and w >= 0 for w in args[1])
        or not sum(args[1]) > 0
    ):
        raise fail("weighted(array, weights) needs two arrays of the same length, weights >= 0 with a positive sum")
    items, cumulative, random = args[0], list(accumulate(args[1])), ctx.random
    total = cumulative[-1]
    return lambda: items[bisect_right(cumulative, random() * total)]


def capitalize(ctx, args, fail):
    if len(args) != 1 or not isinstance(args[0], str):
        raise fail("capitalize(text) needs one string")
    return constant(args[0][:1].upper() + args[0][1:])


def pad(ctx, args, fail):
    if not 2 <= len(args) <= 3 or not isinstance(args[1], int):
        raise fail("pad(number, width, pad) needs a number, a width and an optional pad string")
    text = args[0] if isinstance(args[0], str) else number_to_string(args[0])
    filler = str(args[2]) if len(args) == 3 and args[2] else "0"
    return constant(text if len(text) >= args[1] else filler * (args[1] - len(text)) + text)

