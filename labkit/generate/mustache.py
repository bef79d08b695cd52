"""Mustache strings: "{{chance.name()}} <{{chance.email()}}>".

mgeneratejs evaluates the text between {{ }} as JavaScript. labkit does not run
template text as code: an expression must be one call of a chance.js function
or a faker.js method, with literal arguments (numbers, strings, true, false,
null, arrays, objects). Anything else is a TemplateError.
"""
from __future__ import annotations

import json
import re

from labkit.generate import operators
from labkit.generate.jsformat import to_string
from labkit.generate.options import Options, Where, check_names, show, suggest
from labkit.generate.plan import Plan

_MUSTACHE = re.compile(r"\{\{([\s\S]+?)\}\}")
_CALL = re.compile(r"\s*(chance|faker)((?:\s*\.\s*[A-Za-z_$][\w$]*)+)\s*\(([\s\S]*)\)\s*", re.ASCII)
_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
_IDENTIFIER = re.compile(r"[A-Za-z_$][\w$]*", re.ASCII)
_RULE = (
    "only a call like {{chance.name()}}, {{chance.integer({min: 1, max: 9})}} or "
    "{{faker.name.firstName()}} with literal arguments is allowed (templates are data, never run as code)"
)


def compile_text(text: str, ctx, where: Where) -> Plan:
    """A string with {{ }} expressions, compiled to a sampler of the finished text."""
    parts: list = []
    last = 0
    for match in _MUSTACHE.finditer(text):
        if match.start() > last:
            parts.append(text[last : match.start()])
        parts.append(compile_call(match.group(1), ctx, where))
        last = match.end()
    if not parts:
        return Plan.literal(text)
    if last < len(text):
        parts.append(text[last:])
    pieces = tuple(parts)
    return Plan(lambda: "".join([p if p.__class__ is str else to_string(p()) for p in pieces]))


def compile_call(expression: str, ctx, where: Where):
    def fail(message: str):
        return where.error(f"mustache expression {{{{{expression.strip()}}}}}: {message}")

    call = _CALL.fullmatch(expression)
    if not call:
        raise fail(_RULE)
    library = call.group(1)
    names = [part.strip() for part in call.group(2).split(".")[1:]]
    try:
        args = _Arguments(call.group(3)).parse()
    except ValueError as exc:
        raise fail(f"{exc}; {_RULE}") from None
    if library == "chance":
        if len(names) != 1:
            raise fail(f"chance.{'.'.join(names)} is not a chance.js function; " + _RULE)
        return _chance_call(names[0], args, ctx, where, fail)
    method = operators.FAKER.get(".".join(names)) if len(names) == 2 else None
    if method is None:
        raise fail(
            f"faker.{'.'.join(names)} is not one of the faker.js methods labkit knows"
            + suggest(".".join(names), operators.FAKER, "faker.")
            + " (see labkit.generate.operators.FAKER)"
        )
    if len(args) > method.arity:
        raise fail(f"faker.{'.'.join(names)} takes at most {method.arity} argument(s), got {len(args)}")
    return method.fn(ctx, list(args) + [None] * (method.arity - len(args)), fail)


def _chance_call(name: str, args: list, ctx, where: Where, fail):
    if name in operators.CHANCE_HELPERS:
        return operators.CHANCE_HELPERS[name](ctx, args, fail)
    op = operators.CHANCE.get(name)
    if op is None:
        known = list(operators.CHANCE) + list(operators.CHANCE_HELPERS)
        raise fail(f"chance.{name} is not a chance.js function labkit knows" + suggest(name, known, "chance."))
    args = [arg for arg in args if arg is not None]
    if len(args) > 1 or (args and not isinstance(args[0], dict)):
        raise fail(f"chance.{name} takes one options object, like chance.{name}({{...}}), got {show(args)}")
    options = args[0] if args else {}
    check_names(name, op.options, options, where)
    return op.fn(ctx, Options(name, options, where))


class _Arguments:
    """A JavaScript argument list made of literals only."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def parse(self) -> list:
        args = []
        self.skip()
        if self.pos == len(self.text):
            return args
        while True:
            args.append(self.value())
            self.skip()
            if self.pos == len(self.text):
                return args
            self.expect(",")

    def skip(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def expect(self, char: str) -> None:
        self.skip()
        if not self.text.startswith(char, self.pos):
            raise ValueError(f"expected '{char}' at {self.rest()}")
        self.pos += 1

    def rest(self) -> str:
        rest = self.text[self.pos :].strip()
        return show(rest[:20]) if rest else "the end"

    def value(self):
        self.skip()
        text, pos = self.text, self.pos
        char = text[pos : pos + 1]
        if char in ("'", '"'):
            return self.string(char)
        if char == "[":
            self.pos += 1
            items = []
            self.skip()
            if self.text.startswith("]", self.pos):
                self.pos += 1
                return items
            while True:
                items.append(self.value())
                self.skip()
                if self.text.startswith("]", self.pos):
                    self.pos += 1
                    return items
                self.expect(",")
        if char == "{":
            self.pos += 1
            result = {}
            self.skip()
            if self.text.startswith("}", self.pos):
                self.pos += 1
                return result
            while True:
                self.skip()
                key = self.key()
                self.expect(":")
                result[key] = self.value()
                self.skip()
                if self.text.startswith("}", self.pos):
                    self.pos += 1
                    return result
                self.expect(",")
        number = _NUMBER.match(text, pos)
        if number:
            self.pos = number.end()
            literal = number.group()
            return float(literal) if re.search(r"[.eE]", literal) else int(literal)
        word = _IDENTIFIER.match(text, pos)
        if word and word.group() in ("true", "false", "null", "undefined"):
            self.pos = word.end()
            return {"true": True, "false": False}.get(word.group())
        raise ValueError(f"{self.rest()} is not a literal value")

    def key(self) -> str:
        char = self.text[self.pos : self.pos + 1]
        if char in ("'", '"'):
            return self.string(char)
        word = _IDENTIFIER.match(self.text, self.pos)
        if not word:
            raise ValueError(f"expected a key at {self.rest()}")
        self.pos = word.end()
        return word.group()

    def string(self, quote: str) -> str:
        end = self.pos + 1
        while end < len(self.text) and self.text[end] != quote:
            end += 2 if self.text[end] == "\\" else 1
        if end >= len(self.text):
            raise ValueError("unterminated string")
        body = self.text[self.pos + 1 : end]
        self.pos = end + 1
        if quote == "'":
            body = body.replace("\\'", "'").replace('"', '\\"')
        try:
            return json.loads('"' + body + '"')
        except json.JSONDecodeError:
            raise ValueError(f"bad escape in the string {show(body)}") from None
