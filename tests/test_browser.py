"""THE real browser test: the execute lab in JupyterLab, driven by headless Chromium.

papermill runs 01-overview.ipynb and 02-setup.ipynb into a fresh workspace (Main + Temp up, 100
customers, the application writing, a snapshot); JupyterLab then serves a
copy of the notebooks with LABKIT_WORKSPACE pointing at that workspace, and
Playwright opens 03-execute.ipynb, runs all cells and waits until the live
counts panel shows the 100 customers back on Main (and on Temp, from the
restore) and the recovery timeline has been drawn. A screenshot and the
executed page's text are saved in tests/output/browser/ (or
$LABKIT_TEST_OUTPUT/browser/), printed at the start.

Needs Debian's Chromium (/usr/bin/chromium, `apt-get install chromium`) and
the Playwright Python package (`pip install playwright`; its own browser
download is never used). Without either the test is skipped, with the reason.
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from labkit.lab import widgets
from labkit.workspace import Workspace

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = REPO / "notebooks" / "partial-recovery"
CHROMIUM = os.environ.get("LABKIT_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
TOKEN = "labkit-browser-test"
SETUP_NOTEBOOKS = ("01-overview.ipynb", "02-setup.ipynb")  # the overview brings Main and Temp up
RUN_TIMEOUT_S = 150
LIVE_INTERVAL_S = 1.0
# Kept after the run (pytest's tmp folders are recycled): the screenshot and the page's text.
OUTPUT = Path(os.environ.get("LABKIT_TEST_OUTPUT") or REPO / "tests" / "output")  # LiveCounts' default refresh  # generous: the machine is shared; a normal run takes well under a minute

pytestmark = pytest.mark.timeout(300)


def _missing() -> str | None:
    if not (Path(CHROMIUM).exists() and os.access(CHROMIUM, os.X_OK)):
        return (f"Chromium not found at {CHROMIUM}: install Debian's package (apt-get install -y chromium) "
                "or set LABKIT_CHROMIUM to its path")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the Playwright Python package is not installed (pip install playwright; no browser download needed)"
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _say(message: str) -> None:
    print(f"[browser test] {message}", file=sys.stderr, flush=True)


@pytest.fixture(scope="module")
def browser_ready():
    """Skip (saying why, also on stderr) before anything is started when Chromium or Playwright is missing."""
    reason = _missing()
    if reason:
        _say(f"SKIPPED: {reason}")
        pytest.skip(reason)


@pytest.fixture(scope="module")
def prepared(browser_ready, tmp_path_factory, down_workspace):
    """A workspace set up by 02-setup.ipynb (papermill) and a copy of the notebooks to serve."""
    import papermill

    root = tmp_path_factory.mktemp("browser")
    notebooks = root / "notebooks"
    shutil.copytree(NOTEBOOKS, notebooks, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    ws = Workspace(root / "workspace")
    started = time.monotonic()
    try:
        for name in SETUP_NOTEBOOKS:  # as `labkit run` does: the same workspace for all
            papermill.execute_notebook(str(notebooks / name), str(root / name.replace(".ipynb", ".out.ipynb")),
                                       parameters={"workspace": str(ws.path)}, kernel_name="python3",
                                       cwd=str(notebooks), progress_bar=False)
        _say(f"{', '.join(SETUP_NOTEBOOKS)} ran in {time.monotonic() - started:.1f} s")
        yield root, notebooks, ws
    finally:
        down_workspace(ws)


@pytest.fixture(scope="module")
def jupyterlab(prepared):
    """JupyterLab on a free port serving the notebook copy; kernels see LABKIT_WORKSPACE."""
    root, notebooks, ws = prepared
    port = _free_port()
    home = root / "jupyter"
    settings = home / "settings"
    for plugin, values in {
        # Every cell stays in the DOM (no virtual scrolling), no news or update pop-ups.
        "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},
        "@jupyterlab/apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False},
    }.items():
        folder, name = plugin.rsplit("/", 1)
        (settings / folder).mkdir(parents=True, exist_ok=True)
        (settings / folder / f"{name}.jupyterlab-settings").write_text(json.dumps(values))
    env = dict(os.environ, LABKIT_WORKSPACE=str(ws.path), JUPYTERLAB_SETTINGS_DIR=str(settings),
               JUPYTERLAB_WORKSPACES_DIR=str(home / "workspaces"), JUPYTER_RUNTIME_DIR=str(home / "runtime"),
               JUPYTER_CONFIG_DIR=str(home / "config"))
    log = open(root / "jupyterlab.log", "w")
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root", f"--port={port}", "--ip=127.0.0.1",
         f"--IdentityProvider.token={TOKEN}", "--LabApp.expose_app_in_browser=True",
         f"--ServerApp.root_dir={notebooks}", "--ServerApp.port_retries=0"],
        stdout=log, stderr=subprocess.STDOUT, env=env, cwd=notebooks)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if server.poll() is not None:
                pytest.fail(f"JupyterLab exited with code {server.returncode}: see {root / 'jupyterlab.log'}")
            try:
                urllib.request.urlopen(f"{url}/api/status?token={TOKEN}", timeout=2)
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"JupyterLab did not answer within 60 s: see {root / 'jupyterlab.log'}")
                time.sleep(0.3)
        yield url
    finally:
        server.terminate()  # shuts its kernels down
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


# What "all cells ran" and "the widgets show the recovery" mean in the page.
LAB_STATE_JS = """() => {
  const panel = window.jupyterapp.shell.currentWidget;
  const cells = panel.content.widgets.filter(c => c.model.type === 'code');
  const cell = (key) => {
    const el = document.querySelector('.labkit-live-counts [data-labkit="' + key + '"]');
    return el ? el.textContent.trim() : null;
  };
  const images = [...document.querySelectorAll('.jp-OutputArea-output img')];
  return {
    kernel: panel.sessionContext.session && panel.sessionContext.session.kernel
            ? panel.sessionContext.session.kernel.status : null,
    code_cells: cells.length,
    executed: cells.filter(c => c.model.executionCount !== null).length,
    errors: [...document.querySelectorAll('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]')]
            .map(e => e.textContent).filter(t => /Error|Traceback/.test(t)),
    main_total: cell('main-total'), main_customers: cell('main-customers'),
    temp_total: cell('temp-total'), temp_customers: cell('temp-customers'),
    refreshed: cell('refreshed'),
    workload: (document.querySelector('.labkit-live-counts [data-labkit="workload"]') || {}).textContent || null,
    timeline_drawn: images.some(img => img.complete && img.naturalWidth >= 400 && img.naturalHeight >= 200),
  };
}"""


def _event_time(events: list[dict], kind: str) -> float | None:
    """Epoch seconds of the first event of ``kind``."""
    import datetime as dt

    for event in events:
        if event["kind"] == kind:
            return dt.datetime.fromisoformat(event["time"].replace("Z", "+00:00")).timestamp()
    return None


def _number(text: str | None) -> int | None:
    try:
        return int(text.replace(",", ""))
    except (AttributeError, ValueError):
        return None


def test_execute_lab_in_jupyterlab_shows_live_counts_and_timeline(prepared, jupyterlab):
    from playwright.sync_api import sync_playwright

    root, notebooks, ws = prepared
    out = OUTPUT / "browser"
    out.mkdir(parents=True, exist_ok=True)
    _say(f"output folder: {out}")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"{jupyterlab}/lab/tree/03-execute.ipynb?token={TOKEN}", timeout=60_000)
            # The notebook names its kernel (python3), so no kernel dialog: wait until it is idle.
            page.wait_for_function(
                """() => { const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
                           const k = w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;
                           return k && k.status === 'idle'; }""", timeout=90_000)
            started = time.monotonic()
            # Not awaited (a returned promise would make evaluate wait for the whole run).
            page.evaluate("() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }")
            seen = []  # (seconds, Main's customers as shown) each time it changed, while the cells ran
            deadline = started + RUN_TIMEOUT_S
            while True:
                state = page.evaluate(LAB_STATE_JS)
                shown = state["main_customers"]
                if shown is not None and (not seen or seen[-1][1] != shown):
                    seen.append((round(time.monotonic() - started, 1), shown))
                done = (state["executed"] == state["code_cells"] and state["kernel"] == "idle"
                        and state["timeline_drawn"])
                if done or state["errors"] or time.monotonic() > deadline:
                    break
                time.sleep(0.25)
            _say(f"all cells ran in {time.monotonic() - started:.1f} s; Main's customers as shown: {seen}; "
                 f"final page state: {state}")
            page.screenshot(path=str(out / "03-execute.png"), full_page=True)
            panel = page.locator(".labkit-live-counts")
            if panel.count():
                panel.first.screenshot(path=str(out / "live-counts.png"))
            (out / "03-execute.txt").write_text(page.inner_text("body"))
            page.evaluate("() => window.jupyterapp.commands.execute('docmanager:save')")
            shutil.copy(notebooks / "03-execute.ipynb", out / "03-execute.ipynb")  # as executed in the browser
        finally:
            browser.close()

    assert not state["errors"], f"a cell failed in the browser: {state['errors']}"
    assert state["executed"] == state["code_cells"] > 0, f"not every cell ran: {state}"
    assert state["timeline_drawn"], "the recovery timeline was not drawn"
    # The panel's final refresh: the 100 customers are back on Main, and Temp holds the restored copy.
    assert state["main_customers"] == "100", state
    assert state["temp_customers"] == "100", state
    assert _number(state["main_total"]) > 100, state  # the application's documents as well
    assert _number(state["temp_total"]) >= 100, state
    assert state["refreshed"] and state["refreshed"].count(":") == 2
    assert state["workload"] and state["workload"].startswith("Application:")
    # Live: every refresh between the deletion and the restore's end (nothing puts customers back on Main
    # before the import that follows it) counted none; however fast the machine ran the cells.
    events = ws.events()
    kinds = [event["kind"] for event in events]
    deleted_at, restored_at = _event_time(events, "delete"), _event_time(events, "restore")
    assert deleted_at is not None and restored_at is not None and deleted_at < restored_at, kinds
    samples = widgets.SampleLog(ws).read()
    assert samples, "the live panel recorded no sample"
    during = [s for s in samples if deleted_at < s["t"] - 0.001 and s["t"] < restored_at]  # t: taken before counting
    assert all(s["main"].get("customers") == 0 for s in during), [s["main"] for s in during]
    # The events the timeline draws, in the order the lab made them.
    for earlier, later in [("load", "snapshot"), ("snapshot", "delete"), ("delete", "restore"), ("restore", "import")]:
        assert kinds.index(earlier) < kinds.index(later), kinds
    assert "mark" not in kinds, kinds  # nobody noted the time: the learner found the moment in the oplog
    assert (out / "03-execute.png").stat().st_size > 10_000
