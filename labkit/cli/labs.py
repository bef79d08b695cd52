"""`labkit labs`, `labkit progress`, `labkit notebooks`, `labkit run`, `labkit batch`."""
from __future__ import annotations

import signal
import sys

import click

from labkit.cli.common import echo_json, open_workspace, say, workspace_option
from labkit.lab import checks, topic as topics
from labkit.workspace import DEFAULT_TOPIC

TOPIC_HELP = "The lab topic (only partial-recovery exists)."


@click.command(name="labs")
@click.argument("topic", default=DEFAULT_TOPIC, metavar="[TOPIC]")
@click.option("--json", "as_json", is_flag=True, help="Print the registry as JSON.")
def labs_command(topic, as_json):
    """List the labs and their steps: ids, titles, minutes and points."""
    t = topics.topic(topic)
    if as_json:
        echo_json([{"id": lab.id, "title": lab.title, "notebook": lab.notebook,
                    "steps": [{"id": s.id, "title": s.title, "minutes": s.minutes, "points": s.points}
                              for s in lab.steps]} for lab in t.labs])
        return
    click.echo(f"{t.title} ({t.id}): {len(t.labs)} labs, {len(t.steps)} steps, {t.points} points")
    for lab in t.labs:
        click.echo(f"\n{lab.id}  {lab.title}  [{lab.notebook}, about {lab.minutes} min, {lab.points} points]")
        for s in lab.steps:
            click.echo(f"  {s.id:<36} {s.points:>3} pts {s.minutes:>3} min  {s.title}")


@click.command()
@workspace_option
@click.option("--json", "as_json", is_flag=True, help="Print the rows as JSON.")
def progress(workspace, as_json):
    """Show your progress: every step, its status (passed, failed, not checked) and points."""
    ws = open_workspace(workspace)
    if as_json:
        echo_json(checks.progress_rows(ws))
    else:
        click.echo(checks.progress_table(ws))


@click.command(name="reset")
@workspace_option
@click.option("--step", "step_id", required=True, metavar="ID", help="The step to redo, e.g. partial-recovery.pitr-export-import.")
def reset_command(workspace, step_id):
    """Return the lab workspace to the state before a step, to do it again.

    Before the recovery step: Temp's customers are dropped, what was imported into Main since the
    incident is removed and earlier restores, exports and imports no longer count. Before the incident:
    also every customer is back on Main. Same as lab.reset(ws, ID) in a notebook.
    """
    from labkit.lab.actions import reset

    reset(open_workspace(workspace), step_id)


@click.command(name="notebooks")
@click.option("--mode", type=click.Choice(["lab", "demo", "challenge"]), default="challenge", show_default=True,
              help="lab: with solutions; demo: with solutions, mode=demo; challenge: solutions replaced by "
                   "'# YOUR CODE HERE' stubs.")
@click.option("--out", "-o", "out", required=True, metavar="DIR", help="Folder to write the notebooks into.")
@click.option("--source", metavar="DIR", help="The lab notebooks to convert (default: the ones installed with labkit).")
@click.option("--topic", default=DEFAULT_TOPIC, show_default=True, help=TOPIC_HELP)
def notebooks_command(mode, out, source, topic):
    """Write the lab notebooks in a mode, without outputs.

    The challenge version is the learner's: each region between nbgrader's
    '### BEGIN SOLUTION' and '### END SOLUTION' markers becomes a
    '# YOUR CODE HERE' stub at the same indent; the check cells then say what
    is missing.
    """
    from labkit.lab.notebooks import write_notebooks

    for path in write_notebooks(mode, out, topic, source):
        click.echo(str(path))


def _interrupt_on_sigterm() -> None:
    """SIGTERM (a batch stopping a run, a CI timeout) stops a run as cleanly as Ctrl-C does."""
    def handler(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, handler)


PARAM_OPTION = click.option("-p", "--parameter", "parameters", nargs=2, multiple=True, metavar="NAME VALUE",
                            help="Set a notebook parameter (customers, insert_rate, seed, template, target, "
                                 "main_uri_env, temp_uri_env, recovery_query, mode, concepts_answer, flow_answer). "
                                 "Repeatable.")


@click.command(name="run")
@click.argument("topic", metavar="TOPIC")
@PARAM_OPTION
@click.option("--output-dir", "-o", metavar="DIR", help="Where the executed notebooks, run.log and result.json go "
                                                        "(default ./labkit-runs/TOPIC-TIME).")
@click.option("--workspace", "-w", metavar="DIR", help="A fresh workspace folder (default OUTPUT_DIR/workspace).")
@click.option("--quiet", "-q", is_flag=True, help="No progress lines on stderr.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON instead of the table.")
def run_command(topic, parameters, output_dir, workspace, quiet, as_json):
    """Run the topic's three notebooks in order with papermill, unattended.

    Each run uses a fresh workspace, saves the executed notebooks, and stops
    every process it started (also on failure or Ctrl-C). Prints the steps,
    their status and points, `points: E/75` and the key figures; exits with 1
    when a check fails or a notebook stops with an error.

    Connection strings never go in parameters: with -p target uri, put them in
    environment variables and give their names with -p main_uri_env NAME and
    -p temp_uri_env NAME.
    """
    from labkit.lab.runner import coerce_params, run_lab

    params = coerce_params(dict(parameters), topic)
    _interrupt_on_sigterm()
    try:
        result = run_lab(topic, params, output_dir, workspace, progress=None if quiet else say)
    except KeyboardInterrupt:
        say("Interrupted: every process the run started was stopped.")
        sys.exit(130)
    if as_json:
        echo_json(result.to_dict())
    else:
        click.echo(result.report())
    if not result.ok:
        sys.exit(1)


@click.command(name="batch")
@click.argument("topic", metavar="TOPIC")
@click.option("--grid", "grids", multiple=True, metavar="NAME=V1,V2",
              help="A parameter and its values; every combination of all --grid options is run. Repeatable.")
@PARAM_OPTION
@click.option("--parallel", "-j", type=click.IntRange(min=1), default=1, show_default=True,
              help="Runs at a time (each has its own servers: mind the machine's cores).")
@click.option("--output-dir", "-o", metavar="DIR", help="Where the runs and summary.csv / summary.md go.")
def batch_command(topic, grids, parameters, parallel, output_dir):
    """Run the labs for every combination of parameter values.

    Example: labkit batch partial-recovery --grid customers=100,1000
    --grid insert_rate=10,100 --parallel 2. Each run has its own workspace and
    output folder; summary.csv and summary.md hold one row per run
    (parameters, checks passed, points, key figures, duration, executed
    notebooks). A failing run is a failed row; the others go on. Exits with 1
    when any run did not pass.
    """
    from labkit.lab.runner import parse_grid, run_batch

    grid = parse_grid(list(grids))
    _interrupt_on_sigterm()
    try:
        frame = run_batch(topic, grid, dict(parameters), output_dir, parallel, progress=say)
    except KeyboardInterrupt:
        say("Interrupted: every run was stopped.")
        sys.exit(130)
    shown = [c for c in ("run", *grid, "status", "checks_passed", "points", "restored", "identical", "max_gap_ms",
                         "duration_s") if c in frame.columns]
    click.echo(frame[shown].to_string(index=False))
    out = frame["output_dir"].iloc[0].rsplit("/", 1)[0] if len(frame) else output_dir
    click.echo(f"summary: {out}/summary.csv, {out}/summary.md")
    if not (frame["status"] == "passed").all():
        sys.exit(1)


COMMANDS = [labs_command, progress, reset_command, notebooks_command, run_command, batch_command]
