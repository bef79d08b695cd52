"""mgeneratejs-compatible data generation: fast, reproducible with a seed.

    >>> from labkit.generate import generate
    >>> docs = list(generate('{name: "$name", age: {"$integer": {"min": 18, "max": 99}}}', 3, seed=1))

- ``compile_template(t)``: a checked Template from JSON text (strict or with
  unquoted keys), a dict, a file path or a bundled template name ("customer360").
- ``generate(t, n, seed=None)``: an iterator of n documents (dicts of real BSON
  types: datetime, Decimal128, Int64, ObjectId, ...).
- ``write_documents(t, n, out, ...)``: Extended JSON lines to a stream or file.

Modules: syntax (parser), engine (compiler), operators (the index of every
operator name and alias), builtins / geo / chance / fakerjs (the functions it
names), wordlists (their word lists, package data made by
scripts/make_wordlists.py), mustache ({{ }} strings), sampling (fast
samplers), context (seeded random source and clock), output (writer, through
labkit.ejson), sources (finding templates).

Deliberate differences from mgeneratejs 0.6 (each one an mgeneratejs quirk):

- Mustache strings only call chance.js functions and the faker.js methods of
  operators.FAKER, with literal arguments; mgeneratejs runs any JavaScript
  between {{ }}.
- Unknown options, wrong option types and out-of-range values are errors
  (mgeneratejs ignores or half-applies them, e.g. $pick, $pickset and $join
  with a non-array "array" give $missing); so are $regex flags BSON lacks
  (g, y), a $linestring under 2 locations, a $polygon under 3 corners and an
  $array with "number" but no "of" (mgeneratejs fills it with undefined, a
  deprecated BSON type).
- Each $inc counts on its own (mgeneratejs shares one counter between all
  $inc in a template); {"$timestamp": {}} is random in every document (in
  mgeneratejs only the first); $join and $pick results are not re-read as
  operators; date-times without an offset are UTC (JavaScript: local time).
- mgeneratejs 0.6 prints every $timestamp as {"$timestamp": {}} (its Extended
  JSON writer predates bson 4's Timestamp), losing the value; labkit writes it.
- Output is Extended JSON v2 as bson.json_util writes it: dates before 1970 as
  {"$date": {"$numberLong": ..}}, binaries as {"$binary": {"base64", "subType"}}
  and regular expressions as {"$regularExpression": ...}; mgeneratejs prints
  legacy shapes ({"$binary": .., "$type": ..}, {"$regex": ..}). Both import
  alike. Int64 values are written {"$numberLong": ".."} as mgeneratejs writes
  them, so an import stores them as int64 even when they fit in 32 bits.
- Random values come from Python's Mersenne Twister, not chance.js's, so
  values differ; with a seed they are reproducible (the clock is frozen at
  2025-01-01T00:00:00Z so that $now and ObjectIds repeat too).

As in mgeneratejs, numbers follow JavaScript's: a whole number (5.0 in the
template, a $floating or $inc value) is an integer, so it is stored as int32
(int64 beyond 32 bits), and "$array" alone is [].
"""
from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Iterator, TextIO

from labkit import ejson
from labkit.generate import engine, output
from labkit.generate.engine import MISSING, Template
from labkit.generate.sources import TEMPLATES_DIR, bundled_templates, read_template

# One document as Extended JSON text, as `labkit generate` writes it.
relaxed, canonical = ejson.writer("relaxed", "generate"), ejson.writer("canonical", "generate")

__all__ = [
    "MISSING",
    "TEMPLATES_DIR",
    "Template",
    "bundled_templates",
    "canonical",
    "compile_template",
    "generate",
    "relaxed",
    "write_documents",
]


def compile_template(template, source: str | None = None) -> Template:
    """A checked Template from JSON text, a dict, a Template, a file path or a bundled template name.

    Raises TemplateError (with line, column and a hint) for invalid templates.
    """
    if isinstance(template, Path) or (isinstance(template, str) and _looks_like_a_name(template)):
        text, name = read_template(str(template))
        return engine.compile_template(text, source or name)
    return engine.compile_template(template, source or "template")


def _looks_like_a_name(text: str) -> bool:
    """A file path or bundled template name, rather than template text."""
    stripped = text.strip()
    return bool(stripped) and "\n" not in stripped and not stripped.startswith(("{", "[", '"', "'"))


def generate(template, n: int, seed: int | None = None, now: datetime | None = None) -> Iterator[dict]:
    """Yield ``n`` documents from ``template``; the same seed gives the same documents.

    ``now`` fixes the clock ($now, ObjectId times, "current year" defaults);
    with a seed and no ``now`` the clock is frozen at 2025-01-01T00:00:00Z.
    """
    return compile_template(template).documents(n, seed=seed, now=now)


def write_documents(
    template,
    n: int,
    out: TextIO | str | Path,
    *,
    seed: int | None = None,
    now: datetime | None = None,
    json_array: bool = False,
    json_format: str = "relaxed",
    progress: bool = False,
) -> int:
    """Write ``n`` documents as Extended JSON lines (or a JSON array) to a stream or file path."""
    return output.write_documents(
        compile_template(template), n, out, seed=seed, now=now,
        json_array=json_array, json_format=json_format, progress=progress,
    )
