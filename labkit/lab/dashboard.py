"""The instructor's live class dashboard: ``labkit class status`` as a widget that refreshes itself.

``ClassDashboard(folder).show()`` displays a table (one row per learner, one
column per step, who is stuck and on which mistake, whose lab runs), the
mistakes per step as a table, and charts of how many learners passed each step
and made each mistake (whole-number axes), and refreshes them every
``interval`` seconds in a daemon thread, for projecting in the room. ``stop()`` ends the thread and leaves a static
rendering (text, HTML and PNG) in the notebook, as headless runs need.
"""
from __future__ import annotations

import html
import io
import threading

from labkit.errors import ConfigError
from labkit.lab import classroom

CELL_COLORS = {"passed": "#d5f5e3", "-": "#ffffff"}  # failed cells: see _color
TD = "<td style='padding:2px 6px'>"


def status_html(status: dict) -> str:
    """The learners' table (who is stuck, on which mistake, whose lab runs) and the mistakes per step."""
    short = [step.split(".", 1)[-1] for step in status["steps"]]
    head = "".join(f"<th style='padding:2px 6px'>{html.escape(name)}</th>" for name in
                   ["learner", "user", *short, "points", "lab", "state", "failing now"])
    rows = []
    for row in status["rows"]:
        cells = "".join(f"<td style='padding:2px 6px;background:{_color(row['steps'][s])}'>"
                        f"{html.escape(row['steps'][s])}</td>" for s in status["steps"])
        failing = row["failing"] or {}
        mistake = f"<b>{html.escape(failing['mistake'])}</b> " if failing.get("mistake") else ""
        rows.append(f"<tr><th style='text-align:left;padding:2px 6px'>{html.escape(row['learner'])}</th>"
                    f"{TD}{html.escape(row['os_user'])}</td>{cells}{TD}{row['points']}/{row['max_points']}</td>"
                    f"{TD}{html.escape(classroom.lab_cell(row))}</td>{TD}{html.escape(row['stuck'] or 'ok')}</td>"
                    f"{TD}{mistake}{html.escape(failing.get('message', ''))}</td></tr>")
    problems = "".join(f"<div style='color:#c0392b'>problem: {html.escape(p)}</div>" for p in status["problems"])
    return (f"<div><div><i>{html.escape(status['note'])}</i></div>"
            f"<b>{status['learners']} learner(s)</b>, stuck: {html.escape(', '.join(status['stuck']) or 'nobody')}"
            f"<table style='border-collapse:collapse;font-size:90%'><tr>{head}</tr>{''.join(rows)}</table>"
            f"{mistakes_html(status)}<div>Labs: {html.escape(status['liveness'])}.</div>{problems}</div>")


def mistakes_html(status: dict) -> str:
    """The mistake histogram as a table: step, mistake, learners who made it (of the class)."""
    rows = [f"<tr>{TD}{html.escape(step.split('.', 1)[-1])}</td>{TD}{html.escape(key)}</td>"
            f"{TD}{n} of {status['learners']}</td></tr>"
            for step in status["steps"] for key, n in status["mistakes"][step]["learners"].items()]
    if not rows:
        return "<div>No mistakes recorded yet.</div>"
    return ("<div><b>Mistakes per step</b> (learners who made each at least once)</div>"
            "<table style='border-collapse:collapse;font-size:90%'><tr><th>step</th><th>mistake</th>"
            f"<th>learners</th></tr>{''.join(rows)}</table>")


def _color(cell: str) -> str:
    return CELL_COLORS.get(cell, "#fadbd8")


def progress_png(status: dict) -> bytes:
    """``progress_figure`` as PNG bytes."""
    from matplotlib import pyplot as plt

    figure = progress_figure(status)
    try:
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png")
        return buffer.getvalue()
    finally:
        plt.close(figure)


def progress_figure(status: dict):
    """Two charts with whole-number axes: learners who passed each step, and learners per mistake."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt
    from matplotlib.ticker import MaxNLocator

    short = [step.split(".", 1)[-1] for step in status["steps"]]
    counts = [status["passed_per_step"][step] for step in status["steps"]]
    mistakes = [(f"{step.split('.', 1)[-1]}: {key}", n) for step in status["steps"]
                for key, n in status["mistakes"][step]["learners"].items()]
    most = max(status["learners"], 1)
    fig, (passed, made) = plt.subplots(1, 2, figsize=(11, max(2.8, 0.28 * len(mistakes) + 1.2)), dpi=90)
    passed.bar(range(len(short)), counts, color="#27ae60")
    passed.set_xticks(range(len(short)), short, rotation=30, ha="right", fontsize=8)
    passed.set_ylim(0, most)
    passed.yaxis.set_major_locator(MaxNLocator(integer=True))
    passed.set_ylabel("learners passed")
    if mistakes:
        labels, values = zip(*reversed(mistakes))  # the first step's mistakes on top
        made.barh(range(len(labels)), values, color="#c0392b")
        made.set_yticks(range(len(labels)), labels, fontsize=8)
        made.set_xlim(0, most)
        made.xaxis.set_major_locator(MaxNLocator(integer=True))
        made.set_xlabel("learners who made the mistake")
    else:
        made.axis("off")
        made.text(0.5, 0.5, "no mistakes recorded yet", ha="center", va="center")
    fig.tight_layout()
    return fig


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
