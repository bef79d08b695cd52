"""Live widgets: watch the recovery happen, in JupyterLab and in executed notebooks.

``LiveCounts(ws).show()`` is a compact panel with, for Main and Temp, the
documents in the lab collection and the customers (documents matching the
recovery query), the application's state (running, inserts/s, acknowledged,
failures, largest gap) and the time of the last refresh.
``RecoveryTimeline(ws).show()`` charts Main's documents and customers (and
Temp's) over time, with the lab's events (load, snapshot, mark, delete,
restore point, restore finished, export, import) as markers.

How they work:

* A panel refreshes from a daemon thread that never prints and never uses
  ``with output:`` (anything printed from a thread lands in whichever cell is
  running); it only sets widget values. ``stop()`` ends the thread and
  displays a static rendering (text, HTML, a PNG chart) from the cell that
  calls it, so an executed notebook (papermill, nbval, ``labkit run``) keeps
  the final counts and the timeline. Closing the widget also ends the thread.
* Every sample is appended to ``<workspace>/widgets/samples.jsonl``, so the
  timeline has the history of the whole lab across notebooks and kernels
  (setup and execute run in different kernels); events come from
  ``ws.events()``.
* Counting stays cheap on a big collection. Customers are counted through a
  small *partial* index on Main (``labkit_count_firstname``: key
  ``{firstname: 1}``, partialFilterExpression = the recovery query) that holds
  only the customers, so the count reads ~100 index entries however many
  documents the application inserted. LiveCounts creates it on Main when it
  is missing (``create_index=False`` turns that off); it never writes to Temp,
  whose copy comes with the restore. Without such an index a count is a
  collection scan, given at most ``SCAN_BUDGET_MS``. Totals are estimated
  counts (metadata on mongod; SecantusDB walks the ids, so a total that took
  longer than 0.1 s is re-measured only after 10x that time). And the refresh
  thread waits at least 3x as long as a refresh took, so counting never uses
  more than a quarter of the time, whatever the interval asked for.
"""
from __future__ import annotations

import datetime as dt
import html
import io
import json
import threading
import time
from pathlib import Path

from pymongo import MongoClient
from pymongo.errors import ExecutionTimeout, OperationFailure, PyMongoError

from labkit.deploy import LABELS, connect, driver_error
from labkit.errors import ConfigError, DeploymentError
from labkit.files import append_jsonl, now_iso
from labkit.lab.topic import topic
from labkit.workload import Workload
from labkit.workspace import Workspace

DEFAULT_NAMESPACE = f"{topic().database}.{topic().collection}"
DEFAULT_QUERY = topic().recovery_query
SAMPLES_FILE = "widgets/samples.jsonl"
INDEX_PREFIX = "labkit_count_"
SCAN_BUDGET_MS = 1500  # longest an unindexed customer count may take
LOAD_FACTOR = 3.0  # after a refresh that took t s, wait at least 3t: counting <= 25 % of the time
INDEX_RECHECK_S = 10.0
TOTAL_BUDGET_S = 0.1  # an estimated count slower than this is not repeated every refresh ...
TOTAL_SPACING = 10.0  # ... but after 10x the time it took (<= 10 % of the time on totals)
GAP_BREAK_S = 10.0  # samples further apart than this are not joined by a line
DEPLOYMENTS = ("main", "temp")
# What the timeline calls each event kind (others are shown by their kind).
EVENT_LABELS = {"load": "load", "snapshot": "snapshot", "mark": "mark", "delete": "delete",
                "restore": "restore finished", "restore-point": "restore point",
                "export": "export", "import": "import",
                "workload-start": "application started", "workload-stop": "application stopped"}
RESTORE_COLOR = "#8e44ad"
EVENT_COLORS = {"delete": "#c0392b", "restore": RESTORE_COLOR,
                "restore-point": RESTORE_COLOR, "import": "#27ae60", "mark": "#2c3e50", "snapshot": "#7f8c8d",
                "load": "#2980b9", "export": "#d35400"}
MAIN_COLOR, TEMP_COLOR = "#1f77b4", "#ff7f0e"


def validate_namespace(namespace: str) -> tuple[str, str]:
    db, _, coll = (namespace or "").partition(".")
    if not db or not coll:
        raise ConfigError(f"{namespace!r} is not a namespace: write it as database.collection, such as test.customers.")
    return db, coll


def validate_query(query) -> dict:
    if not isinstance(query, dict):
        raise ConfigError(f"The query must be a dict such as {{'firstname': {{'$exists': True}}}}, not {query!r}.")
    return query


def validate_interval(interval) -> float:
    if isinstance(interval, bool) or not isinstance(interval, (int, float)) or not 0.1 <= interval <= 3600:
        raise ConfigError(f"interval must be a number of seconds between 0.1 and 3600, not {interval!r}.")
    return float(interval)


# --- counting --------------------------------------------------------------------------------


def count_index_name(query: dict) -> str | None:
    """The partial index LiveCounts keeps for ``query``; None if the query is not a single-field filter."""
    if len(query) != 1:
        return None
    field = next(iter(query))
    if field.startswith("$"):
        return None
    return INDEX_PREFIX + field.replace(".", "_")


def find_count_index(collection, query: dict) -> str | None:
    """Name of an index that holds exactly the documents matching ``query`` (a partial index on its field)."""
    if len(query) != 1:
        return None
    field = next(iter(query))
    for name, info in collection.index_information().items():
        keys = info.get("key") or []
        if keys and keys[0][0] == field and info.get("partialFilterExpression") == query:
            return name
    return None


def ensure_count_index(collection, query: dict) -> str | None:
    """Create the partial count index if the collection exists; its name, or None if it cannot be made."""
    name = count_index_name(query)
    if name is None:
        return None
    if collection.name not in collection.database.list_collection_names(filter={"name": collection.name}):
        return None  # never create a collection just to index it
    field = next(iter(query))
    try:
        return collection.create_index([(field, 1)], name=name, partialFilterExpression=query)
    except OperationFailure:
        return None  # not a valid partial filter (or an index of that name with other options): scan instead


class Sampler:
    """Takes samples of the lab: counts on Main and Temp plus the application's statistics.

    Owns its clients (short timeouts) and its own ``Workspace`` object, so it can
    run in a thread beside the notebook's. Never raises for a stopped server or
    lab: the sample says what is wrong instead.
    """

    def __init__(self, workspace, namespace: str = DEFAULT_NAMESPACE, query: dict | None = None,
                 create_index: bool = True):
        self.path = workspace.path if isinstance(workspace, Workspace) else Path(workspace)
        # A URI given to this kernel's ws.up() (with its password) lives only in that object.
        self._origin = workspace if isinstance(workspace, Workspace) else None
        self.namespace = namespace
        self.db, self.coll = validate_namespace(namespace)
        self.query = validate_query(DEFAULT_QUERY if query is None else query)
        self.create_index = create_index
        self._clients: dict[str, tuple[str, MongoClient]] = {}
        self._index: dict[str, tuple[float, str | None]] = {}  # deployment -> (checked at, index name)
        self._totals: dict[str, tuple[int, float, float]] = {}

    def close(self) -> None:
        for _, client in self._clients.values():
            client.close()
        self._clients.clear()

    def _client(self, name: str) -> MongoClient:
        try:
            uri = Workspace(self.path).deployment(name).uri  # read afresh: `labkit up` may have moved a server
        except DeploymentError:
            if self._origin is None:
                raise
            uri = self._origin.deployment(name).uri
        known = self._clients.get(name)
        if known and known[0] == uri:
            return known[1]
        if known:
            known[1].close()
        client = connect(uri, "widgets")
        self._clients[name] = (uri, client)
        self._index.pop(name, None)
        self._totals.pop(name, None)
        return client

    def sample(self) -> dict:
        """One sample: ``{"time", "t", "namespace", "query", "main": {...}, "temp": {...}, "workload": {...}}``."""
        result = {"time": now_iso(), "t": round(time.time(), 3), "namespace": self.namespace,
                  "query": json.dumps(self.query, sort_keys=True, default=str)}
        for name in DEPLOYMENTS:
            result[name] = self.count(name)
        result["workload"] = self.workload()
        return result

    def count(self, name: str) -> dict:
        """``{"total": n, "customers": n}`` for one deployment (``customers`` None if too costly), or ``{"error"}``."""
        uri = None
        try:
            client = self._client(name)
            uri = self._clients[name][0]
            collection = client[self.db][self.coll]
            return {"total": self._total(name, collection), "customers": self._count_customers(name, collection)}
        except PyMongoError as exc:
            return {"error": driver_error(exc, uri)[:200]}
        except Exception as exc:  # lab not up, state unreadable, ...: the panel shows it
            return {"error": str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__}

    def _total(self, name: str, collection) -> int:
        """Estimated count; when that is slow (SecantusDB walks the ids), re-measured only now and then."""
        known = self._totals.get(name)  # (value, seconds it took, when measured)
        if known and known[1] > TOTAL_BUDGET_S and time.monotonic() - known[2] < TOTAL_SPACING * known[1]:
            return known[0]
        started = time.monotonic()
        value = collection.estimated_document_count()
        self._totals[name] = (value, time.monotonic() - started, time.monotonic())
        return value

    def _count_customers(self, name: str, collection) -> int | None:
        checked, index = self._index.get(name, (0.0, None))
        if index is None and time.monotonic() - checked > INDEX_RECHECK_S:
            index = find_count_index(collection, self.query)
            if index is None and name == "main" and self.create_index:
                index = ensure_count_index(collection, self.query)
            self._index[name] = (time.monotonic(), index)
        if index is not None:
            try:
                return collection.count_documents(self.query, hint=index)
            except OperationFailure:
                self._index.pop(name, None)  # dropped meanwhile: look again next time
        try:
            return collection.count_documents(self.query, maxTimeMS=SCAN_BUDGET_MS)
        except ExecutionTimeout:
            return None

    def workload(self) -> dict | None:
        """The application's figures from its stats file (None if it never ran here)."""
        try:
            stats = Workload(Workspace(self.path)).stats()
        except Exception as exc:
            return {"error": str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__}
        if not stats:
            return None
        keys = ("running", "state", "rate", "acknowledged", "failures", "retries", "max_gap_ms")
        return {key: stats.get(key) for key in keys}


# --- the samples file ---------------------------------------------------------------------------


class SampleLog:
    """``<workspace>/widgets/samples.jsonl``: appended by every refresh, read incrementally."""

    def __init__(self, workspace):
        path = workspace.path if isinstance(workspace, Workspace) else Path(workspace)
        self.path = Path(path) / SAMPLES_FILE
        self._offset = 0
        self._samples: list[dict] = []

    def append(self, sample: dict) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        append_jsonl(self.path, sample)  # panels in other kernels never interleave

    def read(self) -> list[dict]:
        """All samples so far, in time order; reads only what was appended since the last call."""
        try:
            with open(self.path, "rb") as f:
                f.seek(self._offset)
                chunk = f.read()
        except FileNotFoundError:
            return list(self._samples)
        end = chunk.rfind(b"\n") + 1  # a line still being written is read next time
        added = []
        for line in chunk[:end].splitlines():
            try:
                added.append(json.loads(line))
            except ValueError:
                continue  # a damaged line must not hide the rest
        self._offset += end
        if added:
            self._samples.extend(added)
            if any(a.get("t", 0) < b.get("t", 0) for a, b in zip(self._samples[1:], self._samples)):
                self._samples.sort(key=lambda s: s.get("t", 0))
        return list(self._samples)

    def latest_time(self) -> float | None:
        samples = self.read()
        return samples[-1].get("t") if samples else None


# --- formatting --------------------------------------------------------------------------------


def _number(value) -> str:
    if value is None:
        return "?"
    if isinstance(value, float):
        return f"{value:,.1f}"
    return f"{value:,}"


def _clock(epoch: float | None) -> str:
    if epoch is None:
        return "-"
    return time.strftime("%H:%M:%S", time.localtime(epoch))


def _epoch(iso: str) -> float | None:
    try:
        return dt.datetime.fromisoformat(str(iso).replace("Z", "+00:00")).timestamp()
    except (TypeError, ValueError):
        return None


def workload_line(stats: dict | None) -> str:
    if not stats:
        return "Application: not started"
    if stats.get("error"):
        return f"Application: {stats['error']}"
    state = "running" if stats.get("running") else (stats.get("state") or "stopped")
    if stats.get("running") and stats.get("state") == "retrying":
        state = "running (retrying)"
    gap = stats.get("max_gap_ms")
    return (f"Application: {state}, {_number(stats.get('rate'))} inserts/s, "
            f"{_number(stats.get('acknowledged'))} acknowledged, {_number(stats.get('failures'))} failures, "
            f"max gap {'-' if gap is None else f'{gap:,.0f} ms'}")


def counts_text(sample: dict) -> str:
    """The panel as plain text (stable layout, for executed notebooks and nbval)."""
    lines = [f"Lab counts in {sample['namespace']} at {_clock(sample.get('t'))}",
             f"{'':6}{'documents':>12}{'customers':>12}"]
    for name in DEPLOYMENTS:
        counts = sample.get(name) or {}
        if counts.get("error"):
            lines.append(f"{LABELS[name]:6}  {counts['error']}")
        else:
            lines.append(f"{LABELS[name]:6}{_number(counts.get('total')):>12}{_number(counts.get('customers')):>12}")
    lines.append(workload_line(sample.get("workload")))
    return "\n".join(lines)


_CELL = "padding:1px 10px;text-align:right;font-variant-numeric:tabular-nums"


def counts_html(sample: dict) -> str:
    """The panel as an HTML table (no scripts, no SVG: survives JupyterLab's sanitizer)."""
    esc = html.escape
    rows = []
    for name in DEPLOYMENTS:
        counts = sample.get(name) or {}
        if counts.get("error"):
            cells = f'<td colspan="2" style="padding:1px 10px;color:#c0392b" data-labkit="{name}-error">{esc(counts["error"])}</td>'
        else:
            cells = (f'<td style="{_CELL}" data-labkit="{name}-total">{_number(counts.get("total"))}</td>'
                     f'<td style="{_CELL}" data-labkit="{name}-customers">{_number(counts.get("customers"))}</td>')
        rows.append(f'<tr><th style="text-align:left;padding:1px 10px">{LABELS[name]}</th>{cells}</tr>')
    return (
        '<div class="labkit-counts" style="font-family:var(--jp-ui-font-family,sans-serif);font-size:13px">'
        f'<div><b>Lab counts</b> in <code>{esc(sample["namespace"])}</code> · refreshed '
        f'<span data-labkit="refreshed">{_clock(sample.get("t"))}</span></div>'
        '<table style="border-collapse:collapse;margin:2px 0">'
        f'<tr><th></th><th style="{_CELL}">documents</th><th style="{_CELL}">customers</th></tr>'
        + "".join(rows) + "</table>"
        f'<div data-labkit="workload">{esc(workload_line(sample.get("workload")))}</div></div>'
    )


def event_label(event: dict) -> str:
    kind = event.get("kind", "?")
    label = EVENT_LABELS.get(kind, kind)
    if kind == "restore" and event.get("status") not in (None, "complete"):
        label = f"restore {event['status']}"
    for key in ("name", "mark"):
        if event.get(key):
            return f"{label} {event[key]}"
    for key in ("count", "imported", "documents"):
        if isinstance(event.get(key), int):
            return f"{label} ({event[key]})"
    return label


def timeline_events(events: list[dict]) -> list[dict]:
    """Events as drawn: ``{"t", "kind", "label"}`` in time order; a restore adds its restore point."""
    drawn = []
    for event in events:
        t = _epoch(event.get("time"))
        if t is None:
            continue
        drawn.append({"t": t, "kind": event.get("kind", "?"), "label": event_label(event)})
        if event.get("kind") == "restore":
            point = event.get("point")
            point = _epoch(point.get("utc") if isinstance(point, dict) else point)
            if point is not None:
                drawn.append({"t": point, "kind": "restore-point", "label": "restore point"})
    return sorted(drawn, key=lambda e: e["t"])


def _series(samples: list[dict], deployment: str, key: str) -> tuple[list[float], list[float | None]]:
    """Times and values, with a None (a break in the line) where samples are far apart or missing."""
    times, values, last = [], [], None
    for sample in samples:
        t = sample.get("t")
        if t is None:
            continue
        if last is not None and t - last > GAP_BREAK_S:
            times.append(last + 0.001)  # the line ends at the last sample before the pause
            values.append(None)
        value = (sample.get(deployment) or {}).get(key)
        times.append(t)
        values.append(value if isinstance(value, (int, float)) else None)
        last = t
    return times, values


def timeline_text(samples: list[dict], events: list[dict], namespace: str = DEFAULT_NAMESPACE) -> str:
    """The timeline as plain text: the events in order and the latest counts."""
    drawn = timeline_events(events)
    lines = [f"Recovery timeline of {namespace}: {len(samples)} sample(s)"
             + (f" from {_clock(samples[0]['t'])} to {_clock(samples[-1]['t'])}" if samples else "")]
    lines += [f"  {_clock(e['t'])}  {e['label']}" for e in drawn] or ["  (no events yet)"]
    if samples:
        last = samples[-1]
        for name in DEPLOYMENTS:
            counts = last.get(name) or {}
            if counts.get("error"):
                lines.append(f"{LABELS[name]}: {counts['error']}")
            else:
                lines.append(f"{LABELS[name]}: {_number(counts.get('total'))} documents, "
                             f"{_number(counts.get('customers'))} customers")
    return "\n".join(lines)


class TimeAxis:
    """Maps wall-clock seconds to the chart's x: pauses longer than ``PAUSE_S`` (between the setup and the
    execute notebook, a coffee break) are squeezed to a narrow band, so the lab's activity keeps the width."""

    def __init__(self, times: list[float]):
        import numpy as np

        times = sorted(times)
        self.pauses: list[tuple[float, float, float]] = []  # (x where it starts, band width, real seconds)
        real, shown = [times[0]], [0.0]
        pauses = [(a, b) for a, b in zip(times, times[1:]) if b - a > PAUSE_S]
        active = (times[-1] - times[0]) - sum(b - a for a, b in pauses)
        band = max(active * PAUSE_WIDTH, 1.0)
        for a, b in pauses:
            shown.append(shown[-1] + (a - real[-1]))  # active time: one second is one second
            real.append(a)
            self.pauses.append((shown[-1], band, b - a))
            shown.append(shown[-1] + band)  # the pause: a narrow band whatever its length
            real.append(b)
        shown.append(shown[-1] + (times[-1] - real[-1]))
        real.append(times[-1])
        far = 1e9  # slope 1 beyond the data
        self._real = np.array([real[0] - far, *real, real[-1] + far])
        self._shown = np.array([shown[0] - far, *shown, shown[-1] + far])

    def x(self, times):
        import numpy as np

        return np.interp(times, self._real, self._shown)

    def time(self, xs):
        import numpy as np

        return np.interp(xs, self._shown, self._real)


PAUSE_S = 60.0
PAUSE_WIDTH = 0.06  # a squeezed pause takes 6 % of the active time's width


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def timeline_png(samples: list[dict], events: list[dict], namespace: str = DEFAULT_NAMESPACE,
                 width: float = 9.0, height: float = 5.0) -> bytes:
    """The chart: documents and customers of Main and Temp over time, and a lane per kind of event."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    drawn = timeline_events(events)
    lanes = list(dict.fromkeys(e["kind"] for e in drawn))  # in order of first appearance
    # Off-screen, without pyplot: safe in a thread. Constrained layout: no layout warnings (a thread must not print).
    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    ratios = [3, 3, max(len(lanes), 1) * 0.35]
    docs, customers, lane = fig.subplots(3, 1, sharex=True, gridspec_kw={"height_ratios": ratios})
    docs.set_title(f"Recovery timeline of {namespace}", fontsize=11, loc="left")
    times = [s["t"] for s in samples if s.get("t") is not None] + [e["t"] for e in drawn]
    if not times:
        docs.text(0.5, 0.5, "no samples yet", transform=docs.transAxes, ha="center", va="center", color="#777777")
        times = [time.time()]
    axis = TimeAxis(times)
    for deployment, color in (("main", MAIN_COLOR), ("temp", TEMP_COLOR)):
        style = {"color": color, "label": LABELS[deployment], "linewidth": 1.6,
                 "linestyle": "-" if deployment == "main" else "--"}
        ts, values = _series(samples, deployment, "total")
        docs.plot(axis.x(ts), [float("nan") if v is None else v for v in values], **style)
        ts, values = _series(samples, deployment, "customers")
        customers.step(axis.x(ts), [float("nan") if v is None else v for v in values], where="post", **style)
    for event in drawn:
        x = axis.x(event["t"])
        color = EVENT_COLORS.get(event["kind"], "#555555")
        for axes in (docs, customers):
            axes.axvline(x, color=color, linewidth=1, linestyle=":", alpha=0.9)
        lane.plot([x], [lanes.index(event["kind"])], marker="o", markersize=5, color=color, linestyle="none")
    for start, band, seconds in axis.pauses:
        for axes in (docs, customers, lane):
            axes.axvspan(start, start + band, color="#dddddd", alpha=0.6, linewidth=0)
        docs.text(start + band / 2, 0.5, f"{_duration(seconds)} later", transform=docs.get_xaxis_transform(),
                  rotation=90, ha="center", va="center", fontsize=7, color="#666666")
    lo, hi = axis.x(min(times)), axis.x(max(times))
    pad = max((hi - lo) * 0.03, 1.0)
    lane.set_xlim(lo - pad, hi + pad)
    lane.set_yticks(range(len(lanes)), [EVENT_LABELS.get(k, k) for k in lanes], fontsize=7.5)
    lane.set_ylim(max(len(lanes), 1) - 0.5, -0.5)
    lane.xaxis.set_major_locator(MaxNLocator(nbins=7))
    lane.xaxis.set_major_formatter(FuncFormatter(lambda x, _: _clock(float(axis.time(x)))))
    docs.set_ylabel("documents", fontsize=9)
    customers.set_ylabel("customers", fontsize=9)
    for axes in (docs, customers):
        axes.set_ylim(bottom=0)
        axes.grid(True, alpha=0.25)
    for axes in (docs, customers, lane):
        axes.tick_params(labelsize=8)
    lane.grid(True, axis="x", alpha=0.25)
    if samples:
        docs.legend(loc="upper left", fontsize=8, frameon=False)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


# --- the panels --------------------------------------------------------------------------------


def _display(bundle: dict) -> None:
    """Show ``bundle`` in the running cell; outside IPython print its text."""
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:
        get_ipython = None
    if get_ipython is not None and get_ipython() is not None:
        display(bundle, raw=True)
    else:
        print(bundle["text/plain"])


class _Panel:
    """A widget refreshed by a daemon thread; ``stop()`` or closing the widget ends the thread."""

    default_interval = 1.0
    title = "panel"

    def __init__(self, ws, *, namespace: str = DEFAULT_NAMESPACE, query: dict | None = None,
                 interval: float | None = None, create_index: bool = True):
        self.ws = ws if isinstance(ws, Workspace) else Workspace(ws)
        validate_namespace(namespace)
        self.namespace = namespace
        self.query = validate_query(DEFAULT_QUERY if query is None else query)
        self.interval = validate_interval(self.default_interval if interval is None else interval)
        self.sampler = Sampler(self.ws, namespace, self.query, create_index=create_index)
        self.log = SampleLog(self.ws)
        self.refreshes = 0
        self.last_error: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()  # one refresh at a time (thread, stop(), refresh())
        self.widget = self._build()
        self.widget.observe(self._on_comm_change, names="comm")

    def __repr__(self) -> str:
        state = "refreshing" if self.running else "stopped"
        return f"{type(self).__name__}({self.namespace}, {state}, every {self.interval:g} s)"

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def show(self) -> None:
        """Display the live widget in this cell and start refreshing it."""
        self.refresh()  # the first values are there when the cell's output is recorded
        bundle = self.widget._repr_mimebundle_()
        bundle["text/plain"] = self.text()
        _display(bundle)
        self.start()

    def start(self) -> None:
        if self.running:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=f"labkit-{self.title}", daemon=True)
        self._thread.start()

    def stop(self, render: bool = True) -> None:
        """End the refresh thread, refresh once more and (``render``) display the static rendering."""
        self._halt()
        self.refresh()
        self.sampler.close()  # its clients reopen if the panel is started again
        if render:
            self.render()

    def close(self) -> None:
        """End the thread and remove the widget (no static rendering)."""
        self._halt()
        self.widget.close()
        self.sampler.close()

    def _halt(self, timeout: float = 15.0) -> None:
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def _on_comm_change(self, change) -> None:
        if change["new"] is None:  # widget.close(): nobody can see it any more
            self._stop.set()

    def _run(self) -> None:
        delay = self.interval
        while not self._stop.wait(delay):
            started = time.monotonic()
            self.refresh()
            elapsed = time.monotonic() - started
            delay = max(self.interval - elapsed, LOAD_FACTOR * elapsed, 0.05)

    def refresh(self) -> None:
        """One refresh: sample, record, update the widget. Never raises, never prints."""
        with self._lock:
            try:
                self._refresh()
                self.last_error = None
            except Exception as exc:  # shown in the panel; a thread must not die or print
                self.last_error = f"{type(exc).__name__}: {exc}"[:300]
                self._show_error(self.last_error)
            self.refreshes += 1

    def render(self) -> None:
        """Display the static rendering (text + HTML / PNG) in the running cell."""
        _display(self.static_bundle())

    # subclasses: _build, _refresh, _show_error, text, static_bundle


class LiveCounts(_Panel):
    """Documents and customers on Main and Temp, and the application's state, refreshed every ``interval`` s."""

    title = "live-counts"

    def __init__(self, ws, *, namespace: str = DEFAULT_NAMESPACE, query: dict | None = None,
                 interval: float = 1.0, create_index: bool = True):
        self.sample: dict | None = None
        super().__init__(ws, namespace=namespace, query=query, interval=interval, create_index=create_index)

    def _build(self):
        import ipywidgets

        widget = ipywidgets.HTML(value=f"<i>Counting {html.escape(self.namespace)} …</i>")
        widget.add_class("labkit-live-counts")
        return widget

    def _refresh(self) -> None:
        sample = self.sampler.sample()
        self.log.append(sample)
        self.sample = sample
        self.widget.value = counts_html(sample)

    def _show_error(self, message: str) -> None:
        self.widget.value = f'<div class="labkit-counts" style="color:#c0392b">Cannot refresh the counts: {html.escape(message)}</div>'

    def text(self) -> str:
        return counts_text(self.sample) if self.sample else f"Lab counts in {self.namespace}: no sample yet"

    def static_bundle(self) -> dict:
        if not self.sample:
            return {"text/plain": self.text()}
        return {"text/plain": self.text(), "text/html": counts_html(self.sample)}


class RecoveryTimeline(_Panel):
    """Main's (and Temp's) documents and customers over time, with the lab's events as markers.

    Draws from the samples every panel records in the workspace and from
    ``ws.events()``. It takes a sample itself only when no panel (in any
    kernel) has recorded one in the last ``interval`` seconds.
    """

    default_interval = 2.0
    title = "timeline"

    def __init__(self, ws, *, namespace: str = DEFAULT_NAMESPACE, query: dict | None = None,
                 interval: float = 2.0, create_index: bool = True, width: float = 9.0, height: float = 5.0):
        self.size = (width, height)
        self.samples: list[dict] = []
        self.events: list[dict] = []
        self.png: bytes | None = None
        self._drawn_key = None
        super().__init__(ws, namespace=namespace, query=query, interval=interval, create_index=create_index)

    def _build(self):
        import ipywidgets

        self.caption = ipywidgets.HTML(value="<i>Drawing the recovery timeline …</i>")
        self.caption.add_class("labkit-timeline-caption")
        self.image = ipywidgets.Image(format="png", layout=ipywidgets.Layout(max_width="100%"))
        self.image.add_class("labkit-timeline-image")
        box = ipywidgets.VBox([self.caption, self.image])
        box.add_class("labkit-timeline")
        return box

    def _refresh(self) -> None:
        latest = self.log.latest_time()
        if latest is None or time.time() - latest > self.interval:
            self.log.append(self.sampler.sample())
        self.samples = [s for s in self.log.read() if s.get("namespace") == self.namespace]
        self.events = self.ws.events()
        key = (len(self.samples), self.samples[-1]["t"] if self.samples else None, len(self.events))
        if key != self._drawn_key:  # redraw only when something new arrived
            self.png = timeline_png(self.samples, self.events, self.namespace, *self.size)
            self.image.value = self.png
            self._drawn_key = key
        self.caption.value = self._caption_html()

    def _caption_html(self) -> str:
        drawn = timeline_events(self.events)
        items = " · ".join(f"{_clock(e['t'])} {html.escape(e['label'])}" for e in drawn) or "no events yet"
        return (f'<div style="font-size:12px"><b>Recovery timeline</b> of <code>{html.escape(self.namespace)}</code>: '
                f'<span data-labkit="samples">{len(self.samples)}</span> samples, '
                f'<span data-labkit="events">{len(drawn)}</span> events: {items}</div>')

    def _show_error(self, message: str) -> None:
        self.caption.value = f'<div style="color:#c0392b">Cannot refresh the timeline: {html.escape(message)}</div>'

    def text(self) -> str:
        return timeline_text(self.samples, self.events, self.namespace)

    def close(self) -> None:
        super().close()
        self.caption.close()
        self.image.close()

    def static_bundle(self) -> dict:
        return timeline_bundle(self.samples, self.events, self.namespace, self.png)


def timeline_bundle(samples: list[dict], events: list[dict], namespace: str = DEFAULT_NAMESPACE,
                    png: bytes | None = None) -> dict:
    """The static rendering of the timeline: its text and (with samples or events) the PNG chart."""
    bundle = {"text/plain": timeline_text(samples, events, namespace)}
    if png is None and (samples or events):
        png = timeline_png(samples, events, namespace)
    if png:
        bundle["image/png"] = png
    return bundle


def summary(ws, namespace: str = DEFAULT_NAMESPACE, query: dict | None = None) -> None:
    """Draw the recovery timeline once, with a last sample (no widget, no thread): the end of a lab."""
    ws = ws if isinstance(ws, Workspace) else Workspace(ws)
    validate_namespace(namespace)
    log = SampleLog(ws)
    sampler = Sampler(ws, namespace, query, create_index=False)
    try:
        log.append(sampler.sample())
    finally:
        sampler.close()
    samples = [s for s in log.read() if s.get("namespace") == namespace]
    _display(timeline_bundle(samples, ws.events(), namespace))
