"""mgeneratejs's built-in operators (general ones and MongoDB types).

Options and defaults follow mgeneratejs 0.6 (lib/operators/*.js); the
operator index (operators.py) names them and holds the aliases. Geospatial
operators live in geo.py, chance.js functions in chance.py.
"""
from __future__ import annotations

import copy
import itertools
from bisect import bisect_right
from itertools import accumulate

from bson import Binary, Decimal128, Int64, MaxKey, MinKey, Regex, Timestamp

from labkit.generate import sampling
from labkit.generate.jsformat import to_string
from labkit.generate.options import Options, show
from labkit.generate.plan import MISSING, Plan

INT32 = 2**31
JS_MAX_SAFE = 2**53
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
UINT32_MAX = 2**32 - 1
DECIMAL_MAX_COEFFICIENT = 10**34 - 1
_LOW_64 = (1 << 64) - 1
# chance.string's default pool, which mgeneratejs uses for $binary content.
STRING_POOL = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!@#$%^&*()[]"
REGEX_FLAGS = "ilmsux"


def js_number(value):
    """A whole float as an int, as JavaScript prints it (1.0 -> 1), so that it is stored as an integer."""
    if value.__class__ is float and value.is_integer() and INT64_MIN <= value <= INT64_MAX:
        return int(value)
    return value


def fresh(value):
    """A value picked out of the template: containers are copied so documents never share them."""
    return value if isinstance(value, (str, int, float, bool, type(None))) else copy.deepcopy(value)


# -- general -----------------------------------------------------------------


def array(compiler, options: dict, where):
    """{"$array": {"of": <template>, "number": <count, default 0>}}: `of` is evaluated per element.

    Without options ("$array") the array is empty, as in mgeneratejs; `number`
    without `of` is an error (mgeneratejs makes elements of the deprecated
    BSON type undefined).
    """
    number = compiler.option(options, "number", where)
    if "of" not in options:
        if number is None:
            return Plan(list)
        raise where.error('$array needs the option "of" (the element template), like {"$array": {"of": "$name", "number": 3}}')
    of = compiler.value(options["of"], where.path + ("of",))

    def count(value) -> int:
        if value.__class__ is int and value >= 0:
            return value
        return Options("array", {"number": value}, where).integer("number", 0, low=0)

    make = of.fn
    if of.optional:

        def build(n):
            return [v for v in [make() for _ in range(n)] if v is not MISSING]

    elif of.scalar:
        value = of.value

        def build(n):
            return [value] * n

    else:

        def build(n):
            return [make() for _ in range(n)]

    if number is None or number.const:
        n = count(number.value if number else 0)
        return Plan(lambda: build(n))
    number_fn = number.fn
    return Plan(lambda: build(count(number_fn())))


def choose(compiler, options: dict, where):
    """{"$choose": {"from": [...], "weights": [...]}}: only the chosen element is evaluated."""
    choices = options.get("from")
    if not isinstance(choices, list) or not choices:
        raise where.child("from").error(
            f'$choose option "from" must be a non-empty array of choices, got {show(choices)}; '
            'like {"$choose": {"from": ["a", "b"], "weights": [3, 1]}}'
        )
    plans = [compiler.value(choice, where.path + ("from", i)) for i, choice in enumerate(choices)]
    random = compiler.ctx.random
    count = len(plans)
    weights = options.get("weights")
    if weights is not None:
        if (
            not isinstance(weights, list)
            or not all(isinstance(w, (int, float)) and not isinstance(w, bool) and w >= 0 for w in weights)
            or not sum(weights) > 0
        ):
            raise where.child("weights").error(
                f"$choose option \"weights\" must be an array of numbers >= 0 with a positive sum, got {show(weights)}"
            )
        if len(weights) != count:
            raise where.child("weights").error(
                f'$choose has {count} choices in "from" but {len(weights)} weights; give one weight per choice'
            )
        cumulative = list(accumulate(weights))
        total = cumulative[-1]

        def index():
            return bisect_right(cumulative, random() * total)

    else:

        def index():
            return int(random() * count)

    optional = any(plan.optional for plan in plans)
    makers = tuple(plan.fn for plan in plans)
    if not all(plan.scalar for plan in plans):
        return Plan(lambda: makers[index()](), optional=optional)
    # Constant choices: one closure with the draw inlined (the common case).
    values = tuple(plan.value for plan in plans)
    if weights is None:
        return Plan(lambda: values[int(random() * count)], optional=optional)
    return Plan(lambda: values[bisect_right(cumulative, random() * total)], optional=optional)


def inc(compiler, options: dict, where):
    """{"$inc": {"start": 0, "step": 1}}: start, start+step, ... across documents."""
    start = compiler.option(options, "start", where)
    step = compiler.option(options, "step", where)

    def number(name, value):
        return Options("inc", {name: value}, where).number(name, None)

    if (start is None or start.const) and (step is None or step.const):
        first = number("start", start.value) if start else 0
        delta = number("step", step.value) if step else 1
        if first.__class__ is int and delta.__class__ is int:
            return Plan(itertools.count(first, delta).__next__)
        return Plan(map(js_number, itertools.count(first, delta)).__next__)
    counter = []

    def next_value():
        if not counter:
            counter.append(number("start", start.fn()) if start else 0)
        else:
            counter[0] += number("step", step.fn()) if step else 1
        return js_number(counter[0])

    return Plan(next_value)


def join(ctx, o: Options):
    """{"$join": {"array": [...], "sep": "-"}}: the elements, cast to strings, joined."""
    if "array" not in o:
        raise o.fail("array", "an array of values to join")
    items = o.array("array", [])
    text = o.string("sep", "").join(to_string(item) for item in items)
    return lambda: text


def pick(ctx, o: Options):
    """{"$pick": {"array": [...], "element": 0}}: one element; $missing if out of range."""
    if "array" not in o:
        raise o.fail("array", "an array to pick from")
    items = o.array("array", [])
    element = o.integer("element", 0)
    if not 0 <= element < len(items):
        return lambda: MISSING
    value = items[element]
    return lambda: fresh(value)


def pickset(ctx, o: Options):
    """{"$pickset": {"array": [...], "quantity": 1}}: distinct elements in random order."""
    if "array" not in o:
        raise o.fail("array", "an array to pick from")
    items = o.array("array", [])
    quantity = o.integer("quantity", 1)
    if not 0 <= quantity <= len(items):
        return lambda: MISSING
    random = ctx.random
    size = len(items)

    def draw():
        pool = list(items)
        for i in range(quantity):  # partial Fisher-Yates shuffle
            j = i + int(random() * (size - i))
            pool[i], pool[j] = pool[j], pool[i]
        return [fresh(value) for value in pool[:quantity]]

    return draw


def regex(ctx, o: Options):
    """{"$regex": {"string": ".*", "flags": ""}}: a BSON regular expression."""
    pattern = o.string("string", ".*")
    flags = o.string("flags", "")
    bad = sorted(set(flags) - set(REGEX_FLAGS))
    if bad:
        raise o.fail("flags", f"made of the BSON regex options {', '.join(REGEX_FLAGS)} ('{''.join(bad)}' has no BSON equivalent)")
    return lambda: Regex(pattern, flags)


# -- dates -------------------------------------------------------------------


def date(ctx, o: Options):
    """{"$date": {"min": "...", "max": "..."}}: a random date, ISO-8601 bounds."""
    low = o.date("min", "1900-01-01T00:00:00.000Z")
    high = o.date("max", "2099-12-31T23:59:59.999Z")
    if low > high:
        raise o.fail("min", f"a date not after max ({show(o.get('max', '2099-12-31T23:59:59.999Z'))})")
    return sampling.dates(ctx, low, high)


def now(ctx, o: Options):
    """The current date (the frozen clock in seeded runs)."""
    now_ms = ctx.now_ms
    return lambda: sampling.datetime_from_ms(now_ms())


# -- MongoDB types -------------------------------------------------------------


def objectid(ctx, o: Options):
    return ctx.objectid


def binary(ctx, o: Options):
    """{"$binary": {"length": 10, "subtype": 0}}: Binary of printable random bytes."""
    length = o.integer("length", 10, low=0)
    subtype = o.get("subtype", 0)
    if isinstance(subtype, str):
        try:
            subtype = int(subtype, 16)
        except ValueError:
            raise o.fail("subtype", 'a BSON binary subtype from 0 to 255 (or its hex string, like "04")') from None
    subtype = Options("binary", {"subtype": subtype}, o.where).integer("subtype", 0, low=0, high=255)
    draw = sampling.strings(ctx, STRING_POOL, length)
    return lambda: Binary(draw().encode("ascii"), subtype)


def integer(ctx, o: Options):
    """{"$integer": {"min": -2**31, "max": 2**31}}: a whole number (inclusive bounds)."""
    low = o.integer("min", -INT32)
    high = o.integer("max", INT32)
    o.bounds(low, high)
    return sampling.integers(ctx, low, high)


def long(ctx, o: Options):
    """{"$long": {"min": -2**53, "max": 2**53}}: an Int64."""
    low = o.integer("min", -JS_MAX_SAFE, low=INT64_MIN, high=INT64_MAX)
    high = o.integer("max", JS_MAX_SAFE, low=INT64_MIN, high=INT64_MAX)
    o.bounds(low, high)
    draw = sampling.integers(ctx, low, high)
    return lambda: Int64(draw())


def decimal128(units: int, fixed: int) -> Decimal128:
    """The Decimal128 of units * 10**-fixed, written as JavaScript would ("12.5", not "12.50")."""
    while fixed and not units % 10:
        units //= 10
        fixed -= 1
    high = (6176 - fixed) << 49
    if units < 0:
        high |= 1 << 63
        units = -units
    return Decimal128((high | (units >> 64), units & _LOW_64))


def decimal(ctx, o: Options):
    """{"$decimal": {"min": 0, "max": 1000, "fixed": 2}}: a Decimal128 with `fixed` decimals at most."""
    fixed = o.integer("fixed", 2, low=0, high=34)
    low = o.number("min", 0)
    high = o.number("max", 1000)
    o.bounds(low, high)
    if max(abs(sampling.scaled(low, fixed)), abs(sampling.scaled(high, fixed))) > DECIMAL_MAX_COEFFICIENT:
        raise o.fail("fixed", "small enough that max * 10**fixed has at most 34 digits")
    draw = sampling.fixed_units(ctx, low, high, fixed)
    return lambda: decimal128(draw(), fixed)


def minkey(ctx, o: Options):
    return MinKey


def maxkey(ctx, o: Options):
    return MaxKey


def timestamp(ctx, o: Options):
    """{"$timestamp": {"t": ..., "i": ...}}: a BSON Timestamp; random parts by default."""
    t = o.integer("t", None, low=0, high=UINT32_MAX)
    i = o.integer("i", None, low=0, high=UINT32_MAX)
    draw = sampling.integers(ctx, 0, INT32 - 1)
    return lambda: Timestamp(draw() if t is None else t, draw() if i is None else i)
