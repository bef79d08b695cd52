"""The operator tables: built-in operators, their aliases, and chance.js functions.

An operator is registered with the options it accepts and a ``build`` function:

- ordinary operators get their options already evaluated, as an ``Options``,
  and return a zero-argument sampler: ``build(ctx, options) -> () -> value``;
- ``raw`` operators ($array, $choose, $inc) decide themselves when their
  options are evaluated: ``build(compiler, raw_options, where) -> Plan``.

Built-ins shadow chance.js functions of the same name ($integer, $date,
$coordinates, $timestamp), as in mgeneratejs; mustache expressions
``{{chance.x()}}`` always reach the chance.js function.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class Operator:
    name: str
    build: Callable
    options: tuple[str, ...] | None  # None: accepts any option
    raw: bool = False
    missing: bool = False  # may return $missing


BUILTINS: dict[str, Operator] = {}
CHANCE: dict[str, Operator] = {}
ALIASES: dict[str, str] = {}


def builtin(name: str, *, options=(), aliases=(), raw: bool = False, missing: bool = False):
    """Register a built-in mgeneratejs operator ($name)."""

    def register(build):
        BUILTINS[name] = Operator(name, build, tuple(options) if options is not None else None, raw, missing)
        for alias in aliases:
            ALIASES[alias] = name
        return build

    return register


def chance(name: str, *, options=(), aliases=()):
    """Register a chance.js function (reachable as $name unless a built-in has that name)."""

    def register(build):
        CHANCE[name] = Operator(name, build, tuple(options) if options is not None else None)
        for alias in aliases:
            ALIASES[alias] = name
        return build

    return register


def lookup(name: str) -> Operator | None:
    """The operator that "$name" means, or None."""
    name = ALIASES.get(name, name)
    return BUILTINS.get(name) or CHANCE.get(name)


def operator_names() -> set[str]:
    return set(BUILTINS) | set(CHANCE) | set(ALIASES) | {"missing"}
