"""Fast samplers shared by the operator families.

Each function takes the run's Context and fixed parameters and returns a
zero-argument closure. Everything is drawn from ``ctx.random()`` (uniform
[0, 1)) or ``ctx.below(n)``; tables (word syllables, character n-grams, dates)
are precomputed so that a draw is one or two multiplications and an index.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from fractions import Fraction
from functools import lru_cache
from itertools import product
from math import ceil, floor

from labkit.generate.context import Context

UTC = timezone.utc
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_from_timestamp = datetime.fromtimestamp
# Below 2**32 s a float timestamp is within 0.24 us of the exact millisecond,
# so fromtimestamp (which rounds to the microsecond) is exact and fast.
_FAST_MS = (1 << 32) * 1000


def datetime_from_ms(ms: int) -> datetime:
    """The UTC datetime ``ms`` milliseconds after the epoch (exact)."""
    if 0 <= ms < _FAST_MS:
        return _from_timestamp(ms / 1000, UTC)
    return EPOCH + timedelta(0, ms // 1000, (ms % 1000) * 1000)


def integers(ctx: Context, low: int, high: int):
    """Uniform whole numbers in [low, high], like chance.integer (floor(random() * span) + low).

    Up to 2**53 values that is one draw of 53 random bits, as in chance.js; wider
    ranges use exact rejection sampling on getrandbits.
    """
    span = high - low + 1
    if span <= 1 << 53:
        random = ctx.random
        return lambda: low + int(random() * span)
    below = ctx.below
    return lambda: low + below(span)


def pick(ctx: Context, items):
    """A uniformly chosen element of ``items``."""
    items = tuple(items)
    count = len(items)
    if count == 1:
        only = items[0]
        return lambda: only
    random = ctx.random
    return lambda: items[int(random() * count)]


def scaled(value, fixed: int) -> Fraction:
    """``value`` * 10**fixed as an exact fraction (0.1 stays 1/10, not 0.1000000000000000055)."""
    exact = Fraction(repr(value)) if isinstance(value, float) else Fraction(value)
    return exact * 10**fixed


def fixed_units(ctx: Context, low, high, fixed: int):
    """Whole numbers of 10**-fixed units in [low, high]: chance.floating's draw."""
    return integers(ctx, ceil(scaled(low, fixed)), floor(scaled(high, fixed)))


def floats(ctx: Context, low, high, fixed: int):
    """Like chance.floating: a number in [low, high] with at most ``fixed`` decimals.

    A whole number is an int: JavaScript prints it without a decimal point, so
    mongoimport stores mgeneratejs's value as an integer, not a double.
    """
    draw = fixed_units(ctx, low, high, fixed)
    if fixed == 0:
        return draw
    scale = 10**fixed

    def number():
        units = draw()
        # int / int is correctly rounded: the double nearest the decimal, as JS's parseFloat(toFixed()).
        return units / scale if units % scale else units // scale

    return number


def dates(ctx: Context, low_ms: int, high_ms: int):
    """Uniform UTC datetimes with millisecond precision in [low_ms, high_ms]."""
    draw = integers(ctx, low_ms, high_ms)
    return lambda: datetime_from_ms(draw())


def bools(ctx: Context, likelihood=50):
    """True with ``likelihood`` percent, like chance.bool."""
    random = ctx.random
    threshold = likelihood / 100
    return lambda: random() < threshold


@lru_cache(maxsize=64)
def _ngrams(pool: str) -> tuple[int, tuple[str, ...]]:
    """All strings of g characters from ``pool`` (g as large as keeps the table small)."""
    size = 1
    while len(pool) ** (size + 1) <= 20000 and size < 8:
        size += 1
    return size, tuple("".join(chars) for chars in product(pool, repeat=size))


def strings(ctx: Context, pool: str, length: int):
    """Strings of ``length`` characters drawn uniformly from ``pool``."""
    if length == 0:
        return lambda: ""
    size, table = _ngrams(pool)
    whole, rest = divmod(length, size)
    random = ctx.random
    count = len(table)
    if rest:
        tail_pick = pick(ctx, _ngrams_of(pool, rest))
    else:
        tail_pick = None
    if whole == 1 and not rest:
        return lambda: table[int(random() * count)]
    steps = range(whole)

    def draw():
        text = "".join([table[int(random() * count)] for _ in steps])
        return text + tail_pick() if tail_pick else text

    return draw


@lru_cache(maxsize=64)
def _ngrams_of(pool: str, size: int) -> tuple[str, ...]:
    return tuple("".join(chars) for chars in product(pool, repeat=size))


# chance.js syllables: 2 or 3 letters, the first from all letters, then
# alternating consonant / vowel. One table holds every syllable as often as
# its probability requires (a 3-letter syllable once, consonant-vowel 18 times,
# vowel-consonant 5 times), so a syllable is a single uniform draw.
CONSONANTS = "bcdfghjklmnprstvwz"
VOWELS = "aeiou"
_LETTERS = CONSONANTS + VOWELS


def _next_letters(letter: str) -> str:
    return VOWELS if letter in CONSONANTS else CONSONANTS


def _syllable_table() -> tuple[str, ...]:
    table = []
    for first in _LETTERS:
        for second in _next_letters(first):
            table += [first + second] * len(_next_letters(second))  # 2 letters
            table += [first + second + third for third in _next_letters(second)]  # 3 letters
    return tuple(table)


SYLLABLES = _syllable_table()


def syllables(ctx: Context):
    table, size, random = SYLLABLES, len(SYLLABLES), ctx.random
    return lambda: table[int(random() * size)]


def words(ctx: Context, syllable_count: int | None = None, length: int | None = None, capitalize: bool = False):
    """chance.word: 1-3 syllables (or exactly ``syllable_count``), or cut to ``length`` letters."""
    syllable = syllables(ctx)
    random = ctx.random
    if length is not None:

        def word():
            text = syllable()
            while len(text) < length:
                text += syllable()
            return text[:length]

    elif syllable_count is not None:
        steps = range(syllable_count)

        def word():
            return "".join([syllable() for _ in steps])

    else:
        table, size = SYLLABLES, len(SYLLABLES)

        def word():  # 1 to 3 syllables, inlined: this is the hottest text sampler
            count = random()
            if count < 1 / 3:
                return table[int(random() * size)]
            if count < 2 / 3:
                return table[int(random() * size)] + table[int(random() * size)]
            return table[int(random() * size)] + table[int(random() * size)] + table[int(random() * size)]

    if capitalize:
        return lambda: word().capitalize()
    return word
