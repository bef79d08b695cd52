"""The operator index: every name a template can use, and the function that makes its values.

Shaped like mgeneratejs 0.6 (lib/operators/index.js, lib/aliases.js and
lib/index.js's callOperator): one function per operator, one table of names,
one alias map. "$name" is looked up as mgeneratejs does: "missing" first,
then ALIASES, then BUILTINS, then CHANCE (so the built-ins $integer, $date,
$coordinates and $timestamp shadow the chance.js functions of those names,
which mustache calls like {{chance.integer()}} still reach).

An Operator holds its function and the options it accepts. Ordinary
functions get their options already evaluated, as an ``Options``, and
return a zero-argument sampler: ``fn(ctx, options) -> () -> value``; ``raw``
ones ($array, $choose, $inc) decide themselves when their options are
evaluated: ``fn(compiler, raw_options, where) -> Plan``.

Mustache strings reach CHANCE, CHANCE_HELPERS (chance.js functions with
positional arguments) and FAKER (faker.js methods), whose functions take
``(ctx, args, fail)``: the literal arguments and a function that makes a
TemplateError.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from labkit.generate import builtins, chance, fakerjs, geo


@dataclass(frozen=True)
class Operator:
    fn: Callable
    options: tuple[str, ...] = ()  # the option names it accepts
    raw: bool = False  # fn(compiler, raw_options, where) -> Plan
    missing: bool = False  # may return $missing


@dataclass(frozen=True)
class Method:
    """A faker.js method, called with at most ``arity`` positional arguments."""

    fn: Callable
    arity: int = 0


# mgeneratejs's built-in operators (lib/operators/index.js).
BUILTINS: dict[str, Operator] = {
    # general
    "array": Operator(builtins.array, ("of", "number"), raw=True),
    "choose": Operator(builtins.choose, ("from", "weights"), raw=True),
    "pick": Operator(builtins.pick, ("array", "element"), missing=True),
    "pickset": Operator(builtins.pickset, ("array", "quantity"), missing=True),
    "join": Operator(builtins.join, ("array", "sep")),
    "regex": Operator(builtins.regex, ("string", "flags")),
    "inc": Operator(builtins.inc, ("start", "step"), raw=True),
    "date": Operator(builtins.date, ("min", "max")),
    "now": Operator(builtins.now),
    # geospatial
    "coordinates": Operator(geo.coordinates, geo.LIMIT_OPTIONS),
    "point": Operator(geo.point, geo.LIMIT_OPTIONS),
    "linestring": Operator(geo.linestring, ("locs",) + geo.LIMIT_OPTIONS),
    "polygon": Operator(geo.polygon, ("corners",) + geo.LIMIT_OPTIONS),
    "geometries": Operator(geo.geometries, ("number", "types", "locs", "corners") + geo.LIMIT_OPTIONS),
    # MongoDB types
    "objectid": Operator(builtins.objectid),
    "binary": Operator(builtins.binary, ("length", "subtype")),
    "integer": Operator(builtins.integer, ("min", "max")),
    "long": Operator(builtins.long, ("min", "max")),
    "decimal": Operator(builtins.decimal, ("min", "max", "fixed")),
    "maxkey": Operator(builtins.maxkey),
    "minkey": Operator(builtins.minkey),
    "timestamp": Operator(builtins.timestamp, ("t", "i")),
}

# mgeneratejs's lib/aliases.js.
ALIASES: dict[str, str] = {
    "number": "integer",
    "numberInt": "integer",
    "numberDecimal": "decimal",
    "numberLong": "long",
    "datetime": "date",
    "gauss": "normal",
    "float": "floating",
    "double": "floating",
    "coord": "coordinates",
    "coordinate": "coordinates",
    "oid": "objectid",
}

_COLOR_OPTIONS = ("format", "grayscale", "casing", "min", "max", "min_red", "max_red", "min_green", "max_green",
                  "min_blue", "max_blue", "min_alpha", "max_alpha")

# chance.js functions (chance@1.1.13), with the options labkit implements.
CHANCE: dict[str, Operator] = {
    # basics
    "bool": Operator(chance.bool_, ("likelihood",)),
    "character": Operator(chance.character, chance.CHARACTER_OPTIONS),
    "floating": Operator(chance.floating, ("min", "max", "fixed")),
    "hex": Operator(chance.hex_, ("min", "max", "casing")),
    "integer": Operator(chance.integer, ("min", "max")),
    "letter": Operator(chance.letter, ("casing",)),
    "natural": Operator(chance.natural, ("min", "max", "numerals", "exclude")),
    "normal": Operator(chance.normal, ("mean", "dev", "pool")),
    "string": Operator(chance.string, ("length", "min", "max") + chance.CHARACTER_OPTIONS),
    # text
    "paragraph": Operator(chance.paragraph, ("sentences", "linebreak")),
    "sentence": Operator(chance.sentence, ("words", "punctuation")),
    "syllable": Operator(chance.syllable, ("length", "capitalize")),
    "word": Operator(chance.word, ("syllables", "length", "capitalize")),
    # person
    "age": Operator(chance.age, ("type",)),
    "birthday": Operator(chance.birthday, ("type", "minAge", "maxAge", "string", "american")),
    "first": Operator(chance.first, ("gender", "nationality")),
    "gender": Operator(chance.gender, ("extraGenders",)),
    "last": Operator(chance.last, ("nationality",)),
    "name": Operator(chance.name, ("middle", "middle_initial", "prefix", "suffix", "gender", "nationality", "full")),
    "prefix": Operator(chance.prefix, ("gender", "full")),
    "ssn": Operator(chance.ssn, ("ssnFour", "dashes")),
    "suffix": Operator(chance.suffix, ("full",)),
    "profession": Operator(chance.profession, ("rank",)),
    "company": Operator(chance.company),
    # web
    "avatar": Operator(chance.avatar, ("protocol", "email", "fileExtension", "size", "fallback", "rating")),
    "color": Operator(chance.color, _COLOR_OPTIONS),
    "domain": Operator(chance.domain, ("tld",)),
    "email": Operator(chance.email, ("length", "domain")),
    "guid": Operator(chance.guid, ("version",)),
    "hash": Operator(chance.hash_, ("length", "casing")),
    "hashtag": Operator(chance.hashtag),
    "ip": Operator(chance.ip),
    "ipv6": Operator(chance.ipv6),
    "mac": Operator(chance.mac, ("delimiter",)),
    "port": Operator(chance.port),
    "tld": Operator(chance.tld),
    "twitter": Operator(chance.twitter),
    "url": Operator(chance.url, ("protocol", "domain", "domain_prefix", "path", "extensions", "tld")),
    # location
    "address": Operator(chance.address, ("country", "syllables", "short_suffix")),
    "altitude": Operator(chance.altitude, ("min", "max", "fixed")),
    "areacode": Operator(chance.areacode, ("parens", "exampleNumber")),
    "city": Operator(chance.city),
    "coordinates": Operator(chance.coordinates, ("fixed",)),
    "country": Operator(chance.country, ("full", "raw")),
    "depth": Operator(chance.depth, ("min", "max", "fixed")),
    "geohash": Operator(chance.geohash, ("length",)),
    "latitude": Operator(chance.latitude, ("min", "max", "fixed", "format")),
    "longitude": Operator(chance.longitude, ("min", "max", "fixed", "format")),
    "phone": Operator(chance.phone, ("formatted", "country", "mobile", "exampleNumber", "parens")),
    "postal": Operator(chance.postal),
    "postcode": Operator(chance.postcode),
    "state": Operator(chance.state, ("full", "country", "us_states_and_dc", "territories", "armed_forces")),
    "street": Operator(chance.street, ("country", "syllables", "short_suffix")),
    "zip": Operator(chance.zip_, ("plusfour",)),
    # time
    "ampm": Operator(chance.ampm),
    "date": Operator(chance.date, chance.DATE_PARTS + ("min", "max", "string", "american")),
    "hammertime": Operator(chance.hammertime, chance.DATE_PARTS + ("min", "max")),
    "hour": Operator(chance.hour, ("twentyfour", "min", "max")),
    "millisecond": Operator(chance.millisecond),
    "minute": Operator(chance.minute, ("min", "max")),
    "month": Operator(chance.month, ("min", "max", "raw")),
    "second": Operator(chance.second, ("min", "max")),
    "timestamp": Operator(chance.timestamp),
    "weekday": Operator(chance.weekday, ("weekday_only",)),
    "year": Operator(chance.year, ("min", "max")),
    # finance
    "cc": Operator(chance.cc, ("type",)),
    "cc_type": Operator(chance.cc_type, ("name", "raw")),
    "currency": Operator(chance.currency),
    "dollar": Operator(chance.dollar, ("min", "max")),
    "euro": Operator(chance.euro, ("min", "max")),
    "exp": Operator(chance.exp, ("raw",)),
    "exp_month": Operator(chance.exp_month, ("future",)),
    "exp_year": Operator(chance.exp_year),
    # games
    "coin": Operator(chance.coin),
    **{f"d{sides}": Operator(chance.dice(sides)) for sides in (4, 6, 8, 10, 12, 20, 30, 100)},
}

# chance.js functions with positional arguments: mustache only, {{chance.pickone(["a", "b"])}}.
CHANCE_HELPERS: dict[str, Callable] = {
    "pickone": chance.pickone,
    "pick": chance.pickone,
    "pickset": chance.pickset,
    "shuffle": chance.shuffle,
    "weighted": chance.weighted,
    "capitalize": chance.capitalize,
    "pad": chance.pad,
}

# faker.js methods (faker@3.1.0): mustache only, {{faker.name.firstName()}}.
FAKER: dict[str, Method] = {
    "name.firstName": Method(fakerjs.first_name),
    "name.lastName": Method(fakerjs.last_name),
    "name.prefix": Method(fakerjs.prefix),
    "name.suffix": Method(fakerjs.suffix),
    "name.jobDescriptor": Method(fakerjs.job_descriptor),
    "name.jobArea": Method(fakerjs.job_area),
    "name.jobType": Method(fakerjs.job_type),
    "name.findName": Method(fakerjs.find_name, 3),
    "name.title": Method(fakerjs.title),
    "name.jobTitle": Method(fakerjs.job_title),
    "address.cityPrefix": Method(fakerjs.city_prefix),
    "address.citySuffix": Method(fakerjs.city_suffix),
    "address.streetSuffix": Method(fakerjs.street_suffix),
    "address.county": Method(fakerjs.county),
    "address.country": Method(fakerjs.country),
    "address.countryCode": Method(fakerjs.country_code),
    "address.state": Method(fakerjs.state),
    "address.stateAbbr": Method(fakerjs.state_abbr),
    "address.zipCode": Method(fakerjs.zip_code, 1),
    "address.city": Method(fakerjs.city, 1),
    "address.streetAddress": Method(fakerjs.street_address, 1),
    "address.streetName": Method(fakerjs.street_name),
    "address.secondaryAddress": Method(fakerjs.secondary_address),
    "address.latitude": Method(fakerjs.latitude),
    "address.longitude": Method(fakerjs.longitude),
    "company.companySuffix": Method(fakerjs.company_suffix),
    "company.catchPhraseAdjective": Method(fakerjs.catch_phrase_adjective),
    "company.catchPhraseDescriptor": Method(fakerjs.catch_phrase_descriptor),
    "company.catchPhraseNoun": Method(fakerjs.catch_phrase_noun),
    "company.bsAdjective": Method(fakerjs.bs_adjective),
    "company.bsBuzz": Method(fakerjs.bs_buzz),
    "company.bsNoun": Method(fakerjs.bs_noun),
    "company.companyName": Method(fakerjs.company_name, 1),
    "company.catchPhrase": Method(fakerjs.catch_phrase),
    "company.bs": Method(fakerjs.bs),
    "internet.domainSuffix": Method(fakerjs.domain_suffix),
    "internet.protocol": Method(fakerjs.protocol),
    "internet.userName": Method(fakerjs.user_name, 2),
    "internet.email": Method(fakerjs.email, 3),
    "internet.url": Method(fakerjs.url),
    "internet.ip": Method(fakerjs.ip),
    "internet.mac": Method(fakerjs.mac),
    "internet.color": Method(fakerjs.color, 3),
    "internet.domainWord": Method(fakerjs.domain_word),
    "internet.domainName": Method(fakerjs.domain_name),
    "lorem.word": Method(fakerjs.word),
    "lorem.words": Method(fakerjs.lorem_words, 1),
    "lorem.paragraphs": Method(fakerjs.paragraphs, 2),
    "lorem.sentence": Method(fakerjs.sentence, 2),
    "lorem.sentences": Method(fakerjs.sentences, 2),
    "lorem.lines": Method(fakerjs.lines, 1),
    "lorem.paragraph": Method(fakerjs.paragraph, 1),
    "phone.phoneFormats": Method(fakerjs.phone_formats),
    "phone.phoneNumber": Method(fakerjs.phone_number, 1),
    "phone.phoneNumberFormat": Method(fakerjs.phone_number_format, 1),
    "random.alphaNumeric": Method(fakerjs.alpha_numeric),
    "random.number": Method(fakerjs.random_number, 1),
    "random.boolean": Method(fakerjs.random_boolean),
    "random.uuid": Method(fakerjs.random_uuid),
    "random.arrayElement": Method(fakerjs.array_element, 1),
    "commerce.color": Method(fakerjs.commerce_color),
    "commerce.department": Method(fakerjs.department),
    "commerce.productAdjective": Method(fakerjs.product_adjective),
    "commerce.productMaterial": Method(fakerjs.product_material),
    "commerce.product": Method(fakerjs.product),
    "commerce.productName": Method(fakerjs.product_name),
    "commerce.price": Method(fakerjs.price, 4),
    "finance.transactionType": Method(fakerjs.transaction_type),
    "finance.accountName": Method(fakerjs.account_name),
    "finance.account": Method(fakerjs.account, 1),
    "finance.currencyCode": Method(fakerjs.currency_code),
    "finance.currencyName": Method(fakerjs.currency_name),
    "finance.amount": Method(fakerjs.amount, 4),
    "date.between": Method(fakerjs.between, 2),
    "date.past": Method(fakerjs.past, 2),
    "date.future": Method(fakerjs.future, 2),
    "date.recent": Method(fakerjs.recent, 1),
    "date.month": Method(fakerjs.month, 1),
    "date.weekday": Method(fakerjs.weekday, 1),
}


def lookup(name: str) -> Operator | None:
    """The operator that "$name" means, or None ("$missing" is the compiler's own)."""
    name = ALIASES.get(name, name)
    return BUILTINS.get(name) or CHANCE.get(name)


def operator_names() -> set[str]:
    """Every name that may follow "$" (for suggestions in error messages)."""
    return set(BUILTINS) | set(CHANCE) | set(ALIASES) | {"missing"}
