"""The one progress bar: tqdm on stderr, where a person can see it.

In a notebook it is tqdm's widget, in a terminal a text bar; nothing when
stderr is a pipe or a file (so test output and logs stay clean) or when the
caller turns it off (``--quiet``, small jobs).
"""
from __future__ import annotations

import sys


def progress_bar(desc: str, total: int | None = None, unit: str = "doc", *, enabled: bool = True,
                 terminal_only: bool = True, **options):
    """A tqdm bar (or a disabled one) with ``update``, ``close`` and context-manager use.

    ``terminal_only=False`` keeps the bar when stderr is a pipe or a file (``labkit generate``
    writes its documents to stdout, so a pipeline's stderr still shows how far it got). tqdm's
    options pass through, e.g. ``delay=1.0``: work that ends within a second shows no bar at all."""
    from tqdm import tqdm as text_tqdm

    in_notebook = "ipykernel" in sys.modules and "IPython" in sys.modules
    interactive = in_notebook or (hasattr(sys.stderr, "isatty") and sys.stderr.isatty())
    if not enabled or (terminal_only and not interactive):
        return text_tqdm(total=total, disable=True)
    if in_notebook:
        from tqdm.auto import tqdm as auto_tqdm

        return auto_tqdm(total=total, desc=desc, unit=unit, file=sys.stderr, **options)
    return text_tqdm(total=total, desc=desc, unit=unit, file=sys.stderr, **{"leave": False, **options})
