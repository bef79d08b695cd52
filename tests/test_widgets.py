"""The live widgets' data and refresh loop, against real embedded servers.

The browser shows them in tests/test_browser.py; here: the counts are right,
cheap (the partial index), the samples and events come back in order across
"kernels", the refresh thread stops (stop(), close()), and nothing is printed
from a thread or raised for a stopped lab.
"""
from __future__ import annotations

import json
import time

import pytest

from labkit.lab import widgets
from labkit.errors import ConfigError
from labkit.workspace import Workspace
from labkit.workload import Workload

NS = "test.customers"
QUERY = {"firstname": {"$exists": True}}
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def customers(lab):
    """Main's test.customers with 300 application documents and 100 customers; Temp empty."""
    for name in ("main", "temp"):
        lab.deployment(name).client.drop_database("test")
    coll = lab.main.client.test.customers
    coll.insert_many([{"seq": i, "run": "r1"} for i in range(300)])
    coll.insert_many([{"firstname": f"first{i}", "lastname": "x"} for i in range(100)])
    (lab.path / widgets.SAMPLES_FILE).unlink(missing_ok=True)
    lab.events_file.unlink(missing_ok=True)
    return coll


def test_sample_counts_main_and_temp_and_indexes_main_only(lab, customers):
    sampler = widgets.Sampler(lab, NS, QUERY)
    try:
        sample = sampler.sample()
        assert sample["main"] == {"total": 400, "customers": 100}
        assert sample["temp"] == {"total": 0, "customers": 0}
        assert sample["namespace"] == NS and json.loads(sample["query"]) == QUERY
        # The customers are counted through a partial index holding only them; Temp is never written to.
        assert widgets.find_count_index(customers, QUERY) == "labkit_count_firstname"
        assert customers.index_information()["labkit_count_firstname"]["partialFilterExpression"] == QUERY
        assert "test" not in lab.temp.client.list_database_names()

        customers.delete_many({"firstname": {"$exists": True, "$in": [f"first{i}" for i in range(40)]}})
        temp = lab.temp.client.test.customers
        temp.insert_many([{"firstname": "t1"}, {"firstname": "t2"}, {"other": 1}])  # unindexed on Temp: scanned
        sample = sampler.sample()
        assert sample["main"] == {"total": 360, "customers": 60}
        assert sample["temp"] == {"total": 3, "customers": 2}
        assert widgets.find_count_index(temp, QUERY) is None
    finally:
        sampler.close()


def test_no_index_is_created_when_asked_not_to_or_collection_missing(lab, customers):
    customers.drop_indexes()
    sampler = widgets.Sampler(lab, NS, QUERY, create_index=False)
    assert sampler.sample()["main"]["customers"] == 100
    assert widgets.find_count_index(customers, QUERY) is None
    sampler.close()
    missing = widgets.Sampler(lab, "test.nothing_here", QUERY)
    assert missing.sample()["main"] == {"total": 0, "customers": 0}
    assert "nothing_here" not in lab.main.client.test.list_collection_names()
    missing.close()


@pytest.fixture
def panels():
    """Panels a test opens; closed at teardown (their refresh threads end) even when the test fails."""
    opened = []
    yield opened
    for panel in opened:
        panel.close()
    assert not [p for p in opened if p._thread is not None and p._thread.is_alive()], "a refresh thread outlived close()"


def test_live_counts_refreshes_until_stopped_and_records_samples(lab, customers, capsys, panels, wait_for):
    panel = widgets.LiveCounts(lab, interval=0.2)
    panels.append(panel)
    panel.show()  # outside IPython: prints the text rendering from this (main) thread
    shown = capsys.readouterr().out
    assert "Main" in shown and "400" in shown and "100" in shown
    assert panel.running
    wait_for(lambda: panel.refreshes >= 3, what="3 refreshes")
    customers.delete_many(QUERY)
    wait_for(lambda: panel.sample["main"].get("customers") == 0, what="a sample with no customers left on Main")
    assert 'data-labkit="main-customers">0<' in panel.widget.value
    assert capsys.readouterr().out == ""  # the thread never prints
    panel.stop()
    assert not panel.running and panel._thread is not None and not panel._thread.is_alive()
    final = capsys.readouterr().out
    assert "customers" in final and "300" in final  # the static rendering
    count = panel.refreshes
    time.sleep(0.5)
    assert panel.refreshes == count  # nothing refreshes after stop()
    bundle = panel.static_bundle()
    assert bundle["text/plain"] == panel.text() and 'data-labkit="main-total">300<' in bundle["text/html"]

    samples = widgets.SampleLog(lab).read()
    assert len(samples) >= 4
    times = [s["t"] for s in samples]
    assert times == sorted(times)
    assert samples[0]["main"]["customers"] == 100 and samples[-1]["main"]["customers"] == 0


def test_closing_the_widget_ends_the_thread(lab, customers, panels, wait_for):
    panels += [widgets.LiveCounts(lab, interval=0.2), widgets.RecoveryTimeline(lab, interval=0.2)]
    for panel in panels:  # several panels at once
        panel.start()
    wait_for(lambda: panels[0].refreshes >= 2 and panels[1].refreshes >= 1, what="both panels to refresh")
    panels[0].widget.close()  # what the front-end's close does
    wait_for(lambda: not panels[0].running, what="the closed panel's thread to end")
    assert panels[1].running
    panels[1].close()
    assert not panels[1].running
    assert panels[1].widget.comm is None and panels[1].image.comm is None


def test_timeline_draws_samples_and_events_in_order(lab, customers, panels):
    lab.log_event("load", count=100)
    lab.log_event("snapshot", id="s1")
    lab.log_event("mark", name="before-delete")
    sampler = widgets.Sampler(lab, NS, QUERY)
    log = widgets.SampleLog(lab)
    earlier = sampler.sample()
    log.append({**earlier, "t": earlier["t"] - 5})  # recorded by "another kernel", 5 s ago
    customers.delete_many(QUERY)
    lab.log_event("delete", count=100)
    point = lab.events()[2]["time"]
    lab.log_event("restore", target="Temp", status="complete", point={"utc": point}, documents=400)
    lab.log_event("import", imported=100, failed=0)
    sampler.close()

    timeline = widgets.RecoveryTimeline(lab, interval=0.5)
    panels.append(timeline)
    timeline.refresh()
    assert timeline.last_error is None
    assert timeline.png.startswith(PNG_SIGNATURE) and timeline.image.value == timeline.png
    assert len(timeline.samples) == 2  # the other kernel's sample, then its own (none was fresh)
    assert timeline.samples[0]["main"]["customers"] == 100 and timeline.samples[1]["main"]["customers"] == 0
    drawn = widgets.timeline_events(timeline.events)
    kinds = [e["kind"] for e in drawn]
    assert kinds.index("load") < kinds.index("snapshot") < kinds.index("mark") < kinds.index("delete")
    assert kinds.index("delete") < kinds.index("restore") < kinds.index("import")
    assert "restore-point" in kinds and kinds.index("restore-point") < kinds.index("delete")
    text = timeline.text()
    lines = text.splitlines()
    assert lines[0].startswith("Recovery timeline of test.customers: 2 sample(s)")
    order = [next(i for i, line in enumerate(lines) if label in line)
             for label in ("load (100)", "mark before-delete", "delete (100)", "restore finished", "import (100)")]
    assert order == sorted(order)
    assert "Main: 300 documents, 0 customers" in text
    assert 'data-labkit="events">7<' in timeline.caption.value
    bundle = timeline.static_bundle()
    assert bundle["image/png"] == timeline.png and bundle["text/plain"] == text

    # A fresh sample from a LiveCounts elsewhere: the timeline does not count again.
    widgets.SampleLog(lab).append({**timeline.samples[-1], "t": time.time()})
    before = timeline.samples[-1]["t"]
    timeline.refresh()
    assert len(timeline.samples) == 3 and timeline.samples[-1]["t"] > before
    timeline.close()


def test_sample_log_reads_incrementally_and_skips_partial_lines(tmp_path):
    ws = Workspace(tmp_path / "ws")
    writer, reader = widgets.SampleLog(ws), widgets.SampleLog(ws)
    assert reader.read() == []
    writer.append({"t": 2.0, "n": 2})
    writer.append({"t": 1.0, "n": 1})  # another kernel's clock was behind: order by time
    assert [s["n"] for s in reader.read()] == [1, 2]
    with open(reader.path, "ab") as f:
        f.write(b'{"t": 3.0, "n"')  # a line still being written
    assert [s["n"] for s in reader.read()] == [1, 2]
    with open(reader.path, "ab") as f:
        f.write(b': 3}\nnot json\n')
    assert [s["n"] for s in reader.read()] == [1, 2, 3]
    assert reader.latest_time() == 3.0


def test_a_lab_that_is_not_up_is_shown_not_raised(tmp_path, capsys, panels, wait_for):
    ws = Workspace(tmp_path / "never-up")
    panel = widgets.LiveCounts(ws, interval=0.2)
    panels.append(panel)
    panel.start()
    wait_for(lambda: panel.refreshes >= 2, what="2 refreshes")
    panel.stop(render=False)
    assert capsys.readouterr().out == ""
    assert "is not up" in panel.sample["main"]["error"]
    assert "labkit up" in panel.widget.value and panel.last_error is None
    assert "Main" in panel.text() and "is not up" in panel.text()
    assert panel.sample["workload"] is None


def test_workload_figures_are_sampled(lab, customers, wait_for):
    workload = Workload(lab)
    workload.start(rate=50)
    try:
        wait_for(lambda: (workload.stats() or {}).get("acknowledged", 0) >= 5, what="5 acknowledged inserts")
        sampler = widgets.Sampler(lab)
        sample = sampler.sample()
        sampler.close()
    finally:
        workload.stop()
    stats = sample["workload"]
    assert stats["running"] is True and stats["acknowledged"] >= 5 and stats["failures"] == 0
    assert sample["main"]["total"] >= 405 and sample["main"]["customers"] == 100
    assert widgets.workload_line(stats).startswith("Application: running,")
    assert widgets.Sampler(lab).workload()["running"] is False


@pytest.mark.parametrize("kwargs, message", [
    ({"namespace": "customers"}, "database.collection"),
    ({"query": "firstname"}, "must be a dict"),
    ({"interval": 0}, "between 0.1 and 3600"),
    ({"interval": "1"}, "between 0.1 and 3600"),
])
def test_bad_arguments_say_what_to_do(tmp_path, kwargs, message):
    with pytest.raises(ConfigError, match=message):
        widgets.LiveCounts(Workspace(tmp_path / "ws"), **kwargs)


def test_refresh_errors_are_shown_in_the_panel_not_raised(lab, customers, monkeypatch, panels):
    panel = widgets.LiveCounts(lab, interval=0.2)
    panels.append(panel)

    def broken():
        raise RuntimeError("disk on fire")
    monkeypatch.setattr(panel.sampler, "sample", broken)
    panel.refresh()
    assert panel.last_error == "RuntimeError: disk on fire"
    assert "disk on fire" in panel.widget.value
    panel.close()


def test_summary_draws_once_with_a_last_sample(lab, customers, capsys, monkeypatch):
    lab.log_event("load", count=100)
    shown = []
    monkeypatch.setattr(widgets, "_display", shown.append)
    widgets.summary(lab)
    assert capsys.readouterr().out == ""
    (bundle,) = shown
    assert bundle["image/png"].startswith(PNG_SIGNATURE)
    assert "1 sample(s)" in bundle["text/plain"] and "load (100)" in bundle["text/plain"]
    assert "Main: 400 documents, 100 customers" in bundle["text/plain"]
    assert widgets.find_count_index(customers, QUERY) is None  # a summary never writes
    # Outside IPython the text is printed (from the calling thread).
    monkeypatch.undo()
    widgets.summary(lab)
    assert "2 sample(s)" in capsys.readouterr().out


def test_time_axis_squeezes_long_pauses_and_maps_back():
    start = 1_800_000_000.0
    setup = [start + i for i in range(100)]  # 100 s of setup
    execute = [start + 100 + 2400 + i for i in range(200)]  # 40 min later, 200 s of execute
    axis = widgets.TimeAxis(setup + execute)
    (pause_x, band, seconds), = axis.pauses
    assert seconds == pytest.approx(2401) and band == pytest.approx((99 + 199) * widgets.PAUSE_WIDTH)
    assert axis.x(setup[-1]) == pytest.approx(99) and pause_x == pytest.approx(99)
    assert axis.x(execute[0]) - axis.x(setup[-1]) == pytest.approx(band)
    assert axis.x(execute[-1]) - axis.x(execute[0]) == pytest.approx(199)  # active time keeps its scale
    for t in (setup[0], setup[50], execute[0], execute[120], execute[-1] + 30):
        assert float(axis.time(axis.x(t))) == pytest.approx(t)
    assert widgets.TimeAxis(setup).pauses == []  # no pause, nothing squeezed
    samples = [{"t": t, "main": {"total": 1, "customers": 1}} for t in setup + execute]
    png = widgets.timeline_png(samples, [])
    assert png.startswith(PNG_SIGNATURE) and widgets.timeline_png([], []).startswith(PNG_SIGNATURE)


def test_slow_totals_are_remeasured_only_now_and_then(lab, customers, monkeypatch):
    sampler = widgets.Sampler(lab)
    monkeypatch.setattr(widgets, "TOTAL_BUDGET_S", 0.0)  # every estimated count counts as slow
    monkeypatch.setattr(widgets, "TOTAL_SPACING", 1e9)
    assert sampler.sample()["main"] == {"total": 400, "customers": 100}
    customers.insert_many([{"seq": -1}, {"firstname": "late"}])
    assert sampler.sample()["main"] == {"total": 400, "customers": 101}  # customers are always counted afresh
    monkeypatch.setattr(widgets, "TOTAL_SPACING", 0.0)
    assert sampler.sample()["main"] == {"total": 402, "customers": 101}
    sampler.close()
