"""Compile a template once into an evaluation plan, then run it per document.

The plan is a tree of zero-argument closures bound to one ``Context``; running
it does no parsing, dispatching or option checking, which is what makes
generation fast. Constant parts of the template are folded at compile time.
Semantics follow mgeneratejs 0.6: "$op" and {"$op": {options}}, options may be
operators, "$missing" removes the key or array element it stands for.
"""
from __future__ import annotations

from datetime import datetime
from typing import Callable, Iterator

from labkit.errors import ConfigError, TemplateError
from labkit.generate import mustache, operators
from labkit.generate.context import Context
from labkit.generate.options import Options, Where, check_names, show, suggest
from labkit.generate.plan import MISSING, Plan
from labkit.generate.syntax import Locator, parse


class Compiler:
    """Turns template nodes into Plans bound to one Context."""

    def __init__(self, ctx: Context, locator: Locator) -> None:
        self.ctx = ctx
        self.locator = locator

    def where(self, path: tuple) -> Where:
        return Where(self.locator, path)

    def value(self, node, path: tuple) -> Plan:
        if isinstance(node, str):
            if node.startswith("$"):
                return self.operator(node[1:], {}, path, string_form=True)
            if "{{" in node:
                return mustache.compile_text(node, self.ctx, self.where(path))
            return Plan.literal(node)
        if isinstance(node, dict):
            operator = next((key for key in node if key.startswith("$")), None)
            if operator is not None:
                if len(node) != 1:
                    others = ", ".join(show(key) for key in node if key != operator)
                    raise self.where(path).error(
                        f"an operator object must have exactly one key, but {show(operator)} is next to {others}; "
                        f"put the options inside it, like {{{show(operator)}: {{...options}}}}"
                    )
                return self.operator(operator[1:], node[operator], path + (operator,))
            return self.object(node, path)
        if isinstance(node, list):
            return self.array(node, path)
        return Plan.literal(node)

    def object(self, node: dict, path: tuple) -> Plan:
        base: dict = {}
        dynamic: list = []
        optional: list = []
        literal = True
        for key, sub in node.items():
            plan = self.value(sub, path + (key,))
            literal = literal and plan.const and plan.value is not MISSING
            if plan.scalar:
                if plan.value is not MISSING:
                    base[key] = plan.value
                continue
            base[key] = None  # keeps the key's place in the output order
            dynamic.append((key, plan.fn))
            if plan.optional:
                optional.append(key)
        copy = base.copy
        if not dynamic:
            fn = copy
        elif not optional:
            items = tuple(dynamic)

            def fn():
                doc = copy()
                for key, make in items:
                    doc[key] = make()
                return doc

        else:
            items, maybe = tuple(dynamic), tuple(optional)

            def fn():
                doc = copy()
                for key, make in items:
                    doc[key] = make()
                for key in maybe:
                    if doc[key] is MISSING:
                        del doc[key]
                return doc

        return Plan(fn, const=literal, value=node if literal else None)

    def array(self, node: list, path: tuple) -> Plan:
        plans = [self.value(item, path + (i,)) for i, item in enumerate(node)]
        plans = [p for p in plans if not (p.const and p.value is MISSING)]
        literal = len(plans) == len(node) and all(p.const for p in plans)
        makers = tuple(p.fn for p in plans)
        if any(p.optional for p in plans):

            def fn():
                return [v for v in [make() for make in makers] if v is not MISSING]

        else:

            def fn():
                return [make() for make in makers]

        return Plan(fn, const=literal, value=node if literal else None)

    def operator(self, name: str, options, path: tuple, string_form: bool = False) -> Plan:
        where = self.where(path)
        if name == "missing":
            return Plan.literal(MISSING)
        op = operators.lookup(name)
        if op is None:
            raise where.error(
                f"unknown operator ${name}" + suggest(name, operators.operator_names(), "$")
                + "; operators are mgeneratejs's built-ins and chance.js functions",
                at_key=not string_form,
            )
        if options is None:
            options = {}
        if not isinstance(options, dict) or any(key.startswith("$") for key in options):
            raise where.error(
                f"the options of ${name} must be an object of option names and values, like "
                f'{{"${name}": {{...}}}}, got {show(options)}'
            )
        check_names(name, op.options, options, where)
        if op.raw:
            return op.fn(self, options, where)
        return self.call(operators.ALIASES.get(name, name), op, options, where)

    def call(self, name: str, op: operators.Operator, options: dict, where: Where) -> Plan:
        """An ordinary operator (``name`` without alias): options are evaluated, then handed to its function."""
        plans = {key: self.value(value, where.path + (key,)) for key, value in options.items()}
        if all(plan.const for plan in plans.values()):
            values = {key: plan.value for key, plan in plans.items() if plan.value is not MISSING}
            return Plan(op.fn(self.ctx, Options(name, values, where)), optional=op.missing)
        # Some option is itself an operator: evaluate the options and build the
        # sampler for every document (slower, but rare).
        ctx, build, items = self.ctx, op.fn, tuple(plans.items())

        def fn():
            values = {}
            for key, plan in items:
                value = plan.fn()
                if value is not MISSING:
                    values[key] = value
            return build(ctx, Options(name, values, where))()

        return Plan(fn, optional=op.missing)

    def option(self, options: dict, name: str, where: Where) -> Plan | None:
        """Compile one raw option, or None if it is absent or "$missing"."""
        if name not in options:
            return None
        plan = self.value(options[name], where.path + (name,))
        if plan.const and plan.value is MISSING:
            return None
        return plan


class Template:
    """A parsed and checked template; ``documents()`` runs it."""

    def __init__(self, spec: dict, locator: Locator) -> None:
        self.spec = spec
        self.locator = locator
        # Compile once now so that every static mistake is reported up front.
        self.plan(Context(seed=0))

    def plan(self, ctx: Context) -> Callable[[], dict]:
        return Compiler(ctx, self.locator).object(self.spec, ()).fn

    def documents(self, n: int, seed: int | None = None, now: datetime | None = None) -> Iterator[dict]:
        """Yield ``n`` documents; the same seed gives the same documents."""
        n = check_count(n)
        make = self.plan(Context(seed=check_seed(seed), now=now))
        for _ in range(n):
            yield make()


def compile_template(template, source: str = "template") -> Template:
    """A Template from template text (JSON or relaxed JSON), a dict, or a Template."""
    if isinstance(template, Template):
        return template
    if isinstance(template, (bytes, bytearray)):
        template = template.decode("utf-8")
    if isinstance(template, str):
        spec, locator = parse(template, source)
    else:
        spec, locator = template, Locator(source=source)
    if not isinstance(spec, dict):
        raise TemplateError(
            f"{source}: a template must be a JSON object like {{\"name\": \"$name\"}}, got {show(spec)}"
        )
    if any(key.startswith("$") for key in spec):
        raise Where(locator).error(
            "the top level of a template is the document itself, not an operator; "
            'wrap it in a field, like {"value": ...}'
        )
    return Template(spec, locator)


def check_count(n) -> int:
    """The number of documents: a whole number >= 0 (strings of digits accepted)."""
    value = n
    if isinstance(value, str):
        try:
            value = int(value.strip())
        except ValueError:
            value = None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ConfigError(f"the number of documents must be a whole number >= 0, got {show(n)}; for example -n 100")
    return value


def check_seed(seed) -> int | None:
    if seed is None:
        return None
    value = seed
    if isinstance(value, str):
        try:
            value = int(value.strip())
        except ValueError:
            value = None
    if not isinstance(value, int) or isinstance(value, bool):
        raise ConfigError(f"the seed must be a whole number, got {show(seed)}; for example --seed 42")
    return value
