"""`labkit up`, `labkit status`, `labkit down`: the lab's deployments and processes."""
from __future__ import annotations

import click

from labkit.cli.common import echo_json, open_workspace, say, workspace_option
from labkit.lab import idle
from labkit.lab.status import lab_status


@click.command()
@workspace_option
@click.option("--main-uri", envvar="LABKIT_MAIN_URI", metavar="URI",
              help="Use this replica set as Main instead of an embedded server (env LABKIT_MAIN_URI).")
@click.option("--temp-uri", envvar="LABKIT_TEMP_URI", metavar="URI",
              help="Use this replica set as Temp instead of an embedded server (env LABKIT_TEMP_URI).")
def up(workspace, main_uri, temp_uri):
    """Start the lab's Main and Temp deployments (or reconnect to them).

    By default each is an embedded MongoDB-compatible server started as its own
    process on 127.0.0.1. Give --main-uri and --temp-uri (both replica sets) to
    use deployments you already have, such as two Atlas clusters. Running it
    again restarts anything found dead, with its data intact.

    Prefer the LABKIT_MAIN_URI / LABKIT_TEMP_URI environment variables for
    URIs with passwords: labkit never stores a password, so other processes
    find it there.

    A lab nobody used for LABKIT_IDLE_MINUTES (default 480, a class day; 0:
    never) stops by itself, never during a restore or an import; labkit up
    brings it back with its data, and the application with its last settings.
    """
    idle.idle_minutes()  # a bad LABKIT_IDLE_MINUTES is refused before anything starts
    ws = open_workspace(workspace)
    ws.up(main_uri, temp_uri, progress=say)
    idle.resume(ws, say)
    _print_status(lab_status(ws))


@click.command()
@workspace_option
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
def status(workspace, as_json):
    """Show the lab's deployments, processes, workload and backup state."""
    ws = open_workspace(workspace)
    info = lab_status(ws)
    if as_json:
        echo_json(info)
    else:
        _print_status(info)


@click.command()
@workspace_option
@click.option("--purge", is_flag=True, help="Also delete the workspace's data (databases, backups, logs).")
def down(workspace, purge):
    """Stop every process the lab started: workload, backup capture, servers."""
    ws = open_workspace(workspace)
    done = ws.down(purge=purge, progress=say)
    click.echo(f"Workspace {ws.path} is down" + (" and purged." if purge else "."))
    if not done:
        click.echo("(Nothing was running.)")


def _print_status(info: dict) -> None:
    click.echo(f"Workspace: {info['workspace']}")
    if not info.get("exists"):
        click.echo("  not created yet: run labkit up")
        return
    click.echo(f"  state: {'up' if info['up'] else 'down'}")
    for name, dep in info["deployments"].items():
        running = "running" if dep.get("running") else "NOT RUNNING (run labkit up to restart it)"
        click.echo(f"{name.capitalize()}: {dep['kind']} {dep.get('uri', '')} - {running}")
        if dep.get("version"):
            click.echo(f"  server {dep['version']}, {dep['topology']}")
            click.echo(f"  oplog: {dep['oplog_first']} .. {dep['oplog_last']}")
            for ns, count in dep.get("counts", {}).items():
                click.echo(f"  {ns}: {count} document(s)")
        if dep.get("error"):
            click.echo(f"  problem: {dep['error']}")
    for name, proc in info.get("processes", {}).items():
        state = "running" if proc["running"] else "not running"
        click.echo(f"Process {name}: {state}" + (f" (pid {proc['pid']})" if proc["running"] else ""))
    for section in ("workload", "backup"):
        if isinstance(info.get(section), dict):
            click.echo(f"{section.capitalize()}:")
            for key, value in info[section].items():
                click.echo(f"  {key}: {value}")


COMMANDS = [up, status, down]
