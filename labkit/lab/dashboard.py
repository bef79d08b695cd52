"""The instructor's live class dashboard: ``labkit class status`` as a widget that refreshes itself.

``ClassDashboard(folder).show()`` displays a table (one row per learner, one
column per step, who is stuck) and a chart of how many learners passed each
step, and refreshes both every ``interval`` seconds in a daemon thread, for
projecting in the room. ``stop()`` ends the thread and leaves a static
rendering (text, HTML and PNG) in the notebook, as headless runs need.
"""
from __future__ import annotations

import html
import io
import threading

from labkit.errors import ConfigError
from labkit.lab import classroom

CELL_COLORS = {"passed": "#d5f5e3", "-": "#ffffff"}  # failed cells: see _color


def status_html(status: dict) -> str:
    short = [step.split(".", 1)[-1] for step in status["steps"]]
    head = "".join(f"<th style='padding:2px 6px'>{html.escape(name)}</th>" for name in
                   ["learner", *short, "points", "state"])
    rows = []
    for row in status["rows"]:
        cells = "".join(f"<td style='padding:2px 6px;background:{_color(row['steps'][s])}'>"
                        f"{html.escape(row['steps'][s])}</td>" for s in status["steps"])
        state = row["stuck"] or ("deployments down" if not row["deployments_alive"] else "ok")
        rows.append(f"<tr><th style='text-align:left;padding:2px 6px'>{html.escape(row['learner'])}</th>{cells}"
                    f"<td style='padding:2px 6px'>{row['points']}/{row['max_points']}</td>"
                    f"<td style='padding:2px 6px'>{html.escape(state)}</td></tr>")
    problems = "".join(f"<div style='color:#c0392b'>{html.escape(p)}</div>" for p in status["problems"])
    return (f"<div><b>{status['learners']} learner(s)</b>, stuck: {html.escape(', '.join(status['stuck']) or 'nobody')}"
            f"<table style='border-collapse:collapse;font-size:90%'><tr>{head}</tr>{''.join(rows)}</table>{problems}</div>")


def _color(cell: str) -> str:
    return CELL_COLORS.get(cell, "#fadbd8")


def progress_png(status: dict) -> bytes:
    """A bar per step: how many learners passed it."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    short = [step.split(".", 1)[-1] for step in status["steps"]]
    counts = [status["passed_per_step"][step] for step in status["steps"]]
    fig, ax = plt.subplots(figsize=(8, 2.6), dpi=90)
    try:
        ax.bar(range(len(short)), counts, color="#27ae60")
        ax.set_xticks(range(len(short)), short, rotation=30, ha="right", fontsize=8)
        ax.set_ylim(0, max(status["learners"], 1))
        ax.set_ylabel("learners passed")
        fig.tight_layout()
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png")
        return buffer.getvalue()
    finally:
        plt.close(fig)


class ClassDashboard:
    """The class folder's status as a live widget (see the module's docstring)."""

    def __init__(self, folder, interval: float = 10.0, **status_options):
        if not isinstance(interval, (int, float)) or isinstance(interval, bool) or interval < 1:
            raise ConfigError(f"interval must be a number of seconds of at least 1, not {interval!r}.")
        self.folder = folder
        self.interval = float(interval)
        self.options = status_options
        self.status = classroom.class_status(folder, **status_options)  # a bad folder fails here, at once
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.refreshes = 0
        import ipywidgets

        self.table = ipywidgets.HTML()
        self.chart = ipywidgets.Image(format="png")
        self.widget = ipywidgets.VBox([self.table, self.chart])
        self._update()

    def refresh(self) -> None:
        """Read the records again; a folder that became unreadable is shown, never raised."""
        try:
            self.status = classroom.class_status(self.folder, **self.options)
            self._update()
        except Exception as exc:  # a refresh thread must not die
            self.table.value = f"<div style='color:#c0392b'>{html.escape(str(exc))}</div>"
        self.refreshes += 1

    def _update(self) -> None:
        self.table.value = status_html(self.status)
        self.chart.value = progress_png(self.status)

    def show(self) -> None:
        from IPython.display import display

        display(self.widget)
        self._thread = threading.Thread(target=self._run, name="labkit-class-dashboard", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.refresh()

    def stop(self) -> None:
        """End the refreshing and leave the last state as text, HTML and PNG."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        self.refresh()
        from IPython.display import display

        display({"text/plain": classroom.status_text(self.status), "text/html": status_html(self.status),
                 "image/png": progress_png(self.status)}, raw=True)
