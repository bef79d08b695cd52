"""The word lists of the chance.js and faker.js operators, read from package data.

labkit/data/wordlists/chance.json and faker.json hold the lists of
chance@1.1.13 (MIT License, Copyright (c) Victor Quinn) and faker@3.1.0,
English locale (MIT License, Copyright (c) Marak Squires and contributors),
the versions mgeneratejs 0.6.0 installs, so that generated values look like
mgeneratejs's. scripts/make_wordlists.py makes both files from those packages.

``CHANCE["tlds"]``, ``FAKER["first_names"]``, ...: arrays become tuples (fast
to index, and shared safely by every sampler); records are tuples in a fixed
field order, e.g. ("Alabama", "AL").
"""
from __future__ import annotations

import json
from importlib import resources


def _frozen(value):
    if isinstance(value, list):
        return tuple(_frozen(item) for item in value)
    if isinstance(value, dict):
        return {key: _frozen(item) for key, item in value.items()}
    return value


def load(name: str) -> dict:
    """The lists of one word-list file (``"chance"`` or ``"faker"``)."""
    text = resources.files("labkit").joinpath("data", "wordlists", f"{name}.json").read_text(encoding="utf-8")
    return _frozen(json.loads(text))


CHANCE = load("chance")
FAKER = load("faker")
