"""`labkit insert` (the continuous-insert application in the foreground) and
`labkit workload start|status|stop` (the same application as the workspace's
background process). See labkit/workload/."""
from __future__ import annotations

import os
import sys

import click

from labkit.cli.common import echo_json, open_workspace, say, warn_password_in_argv, workspace_option
from labkit.errors import ConfigError
from labkit.workload import DEFAULT_RATE, Workload, format_status, run_foreground

db_option = click.option("--db", "-d", default="test", show_default=True, help="Database to insert into.")
collection_option = click.option("--collection", "-c", default="customers", show_default=True,
                                 help="Collection to insert into.")
rate_option = click.option("--rate", "-r", type=float, default=DEFAULT_RATE, show_default=True,
                           help="Inserts per second (steady; no drift over long runs).")
STATUS_EVERY = 3.0  # seconds between status lines of `labkit insert`
json_option = click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")


def _print_report(report, as_json: bool) -> None:
    if as_json:
        echo_json(report.to_dict())
    else:
        click.echo(str(report))
    if not report.ok:
        sys.exit(1)


@click.command()
@click.option("--uri", envvar="LABKIT_MAIN_URI", metavar="URI",
              help="Connection string of the deployment to insert into (env LABKIT_MAIN_URI).")
@click.option("--uri-env", metavar="NAME",
              help="Read the connection string from this environment variable (a password stays out of ps).")
@workspace_option
@db_option
@collection_option
@rate_option
@click.option("--duration", type=float, default=None, metavar="SECONDS",
              help="Stop after this many seconds (default: run until Ctrl-C or SIGTERM).")
@click.option("--stats", "stats_file", type=click.Path(dir_okay=False), metavar="FILE",
              help="Write live statistics (JSON, replaced atomically every half second) to FILE.")
@json_option
def insert(uri, uri_env, workspace, db, collection, rate, duration, stats_file, as_json):
    """Run the continuous-insert application in the foreground.

    Inserts small documents ({_id, seq, run, client_time}; never a firstname)
    at a steady rate, retrying every transient failure (server restart,
    network error, timeout) until it succeeds, and prints a status line every
    few seconds on stderr. Ctrl-C or SIGTERM stops it; it then checks the
    database (every acknowledged insert present, none duplicated, seqs
    contiguous) and prints the report. Exits 1 if the check fails.

    Without --uri or --uri-env it inserts into the lab workspace's Main (and
    follows it when labkit up restarts it).
    """
    workspace_path = None
    if uri_env:
        if not os.environ.get(uri_env):
            raise ConfigError(f"The environment variable {uri_env} (--uri-env) is not set: export it with the "
                              "connection string first.")
        uri = os.environ[uri_env]
    elif uri:
        warn_password_in_argv("--uri", uri, "LABKIT_MAIN_URI")
    else:
        ws = open_workspace(workspace)
        if not (workspace or ws.exists()):
            raise click.UsageError("give --uri-env NAME (or --uri URI), or --workspace DIR to insert into the lab's Main.")
        uri, workspace_path = ws.main.uri, str(ws.path)
    report = run_foreground(uri, db, collection, rate, duration=duration, stats_path=stats_file,
                            status_every=STATUS_EVERY, say=say, workspace_path=workspace_path)
    _print_report(report, as_json)


@click.group()
def workload():
    """The lab's simulated application: a background process inserting into Main.

    It runs until stopped, survives the notebook or terminal that started it,
    and keeps going through a restart of Main. `labkit down` stops it too.
    """


@workload.command()
@workspace_option
@rate_option
@db_option
@collection_option
def start(workspace, rate, db, collection):
    """Start the workload in the background, inserting into Main (test.customers by default)."""
    ws = open_workspace(workspace)
    info = Workload(ws).start(rate=rate, db=db, collection=collection)
    click.echo(f"Workload started: run {info['run_id']}, {info['rate']:g} inserts/s into {db}.{collection} "
               f"(pid {info['pid']}).")
    click.echo(f"Statistics: {info['stats_file']}. Watch it with labkit workload status; stop it with labkit workload stop.")


@workload.command()
@workspace_option
@json_option
def status(workspace, as_json):
    """Show the workload's live statistics (or the last run's, if it has stopped)."""
    ws = open_workspace(workspace)
    stats = Workload(ws).stats()
    if as_json:
        echo_json(stats)
        return
    if stats is None:
        click.echo("No workload has been started in this workspace. Start one with labkit workload start.")
        return
    click.echo(f"Run {stats['run_id']} into {stats['db']}.{stats['collection']}: "
               f"{'running' if stats['running'] else 'not running'} ({stats['state']}), since {stats['started']}")
    click.echo("  " + format_status(stats))


@workload.command()
@workspace_option
@json_option
def stop(workspace, as_json):
    """Stop the workload and print its report, checked against Main. Exits 1 if the check fails."""
    ws = open_workspace(workspace)
    if Workload(ws).running():
        say("Stopping the workload and checking its documents ...")
    _print_report(Workload(ws).stop(), as_json)


COMMANDS = [insert, workload]
