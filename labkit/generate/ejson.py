"""Moved to labkit.ejson (style "generate"); this shim stays until labkit/generate/__init__.py imports from there."""
from labkit.ejson import decimal128_text, writer as _writer  # noqa: F401

relaxed, canonical = _writer("relaxed", "generate"), _writer("canonical", "generate")
