"""The compiled form of a template node, and the "$missing" marker."""
from __future__ import annotations

from typing import Callable


class _Missing:
    """The value of "$missing": its key (or array element) is left out."""

    def __repr__(self) -> str:
        return "$missing"


MISSING = _Missing()
_SCALARS = (str, int, float, bool, type(None))


class Plan:
    """A compiled template node.

    ``fn()`` returns a fresh value each call. ``const`` means the node is a
    literal without operators (then ``value`` is that literal, not to be
    mutated); ``optional`` means ``fn`` may return MISSING.
    """

    __slots__ = ("fn", "const", "value", "optional")

    def __init__(self, fn: Callable, *, const: bool = False, value=None, optional: bool = False):
        self.fn = fn
        self.const = const
        self.value = value
        self.optional = optional

    @classmethod
    def literal(cls, value) -> "Plan":
        return cls(lambda: value, const=True, value=value, optional=value is MISSING)

    @property
    def scalar(self) -> bool:
        """A constant that can be shared between documents as is."""
        return self.const and (self.value is MISSING or isinstance(self.value, _SCALARS))
