"""Writing generated documents as Extended JSON, one per line, streaming.

Documents are encoded and written in batches, so memory stays constant in n;
a tqdm progress bar on stderr is optional.
"""
from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TextIO

from labkit import ejson
from labkit.errors import ConfigError
from labkit.generate.context import Context
from labkit.generate.engine import Template, check_count, check_seed
from labkit.progress import progress_bar

BATCH = 1000


def write_documents(
    template: Template,
    n,
    out: TextIO | str | Path,
    *,
    seed: int | None = None,
    now: datetime | None = None,
    json_array: bool = False,
    json_format: str = "relaxed",
    progress: bool = False,
) -> int:
    """Write ``n`` documents to ``out`` (a text stream or a path); return how many were written.

    One relaxed (or canonical) Extended JSON document per line, or a JSON array
    with ``json_array``. ``progress`` shows a tqdm bar on stderr.
    """
    n = check_count(n)
    if json_format not in ejson.JSON_FORMATS:
        raise ConfigError(f"--jsonFormat must be relaxed or canonical, got {json_format!r}")
    if isinstance(out, (str, Path)):
        with open(out, "w", encoding="utf-8") as stream:
            return write_documents(
                template, n, stream, seed=seed, now=now, json_array=json_array,
                json_format=json_format, progress=progress,
            )
    encode = ejson.writer(json_format, "generate")
    make = template.plan(Context(seed=check_seed(seed), now=now))
    bar = progress_bar("generating", n, "doc", enabled=progress, terminal_only=False, leave=True,
                       dynamic_ncols=True)
    written = 0
    try:
        if json_array and not n:
            out.write("[]\n")
        while written < n:
            batch = min(BATCH, n - written)
            lines = [encode(make()) for _ in range(batch)]
            if json_array:
                out.write(("[\n" if not written else ",\n") + ",\n".join(lines))
            else:
                out.write("\n".join(lines) + "\n")
            written += batch
            bar.update(batch)
        if json_array and n:
            out.write("\n]\n")
        out.flush()
    finally:
        bar.close()
    return written
