"""Finding template text: a file, inline JSON, standard input, or a bundled template.

Bundled templates are package data, ``labkit/data/templates/`` (in the repository a
link to data/templates/): ``labkit generate customer360`` finds customer360.json there.
"""
from __future__ import annotations

import sys
from importlib.resources import files
from pathlib import Path

from labkit.errors import ConfigError

TEMPLATES_DIR = Path(str(files("labkit") / "data" / "templates"))


def bundled_templates() -> list[str]:
    """Names of the templates shipped with labkit, e.g. ["customer360"]."""
    if not TEMPLATES_DIR.is_dir():
        return []
    return sorted(path.stem for path in TEMPLATES_DIR.glob("*.json"))


def bundled_path(name: str) -> Path | None:
    path = TEMPLATES_DIR / (name if name.endswith(".json") else name + ".json")
    return path if path.is_file() and "/" not in name and "\\" not in name else None


def read_template(spec: str, stdin=None) -> tuple[str, str]:
    """(text, source name) for a TEMPLATE argument: '-', inline JSON, a path or a bundled name."""
    if spec == "-":
        stream = stdin if stdin is not None else sys.stdin
        return stream.read(), "<stdin>"
    stripped = spec.lstrip()
    if stripped.startswith("{") or stripped.startswith("["):
        return spec, "<inline template>"
    path, source = Path(spec).expanduser(), spec
    if not path.is_file():
        path = bundled_path(spec)
        if path is None:
            names = ", ".join(bundled_templates()) or "none"
            raise ConfigError(
                f"template {spec!r} is not a file, not inline JSON (starting with '{{') and not a bundled "
                f"template (bundled: {names}); pass a path, a JSON string, or '-' to read standard input"
            )
        source = path.name
    try:
        return path.read_text(encoding="utf-8"), source
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read template file {spec}: {exc}") from None
