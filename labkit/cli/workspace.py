"""`labkit up`, `labkit status`, `labkit down`: the lab's deployments and processes."""
from __future__ import annotations

import os

import click

from labkit.cli.common import echo_json, open_workspace, say, warn_password_in_argv, workspace_option
from labkit.errors import ConfigError
from labkit.lab import idle
from labkit.lab.status import lab_status


@click.command()
@workspace_option
@click.option("--main-uri", envvar="LABKIT_MAIN_URI", metavar="URI",
              help="Use this replica set as Main instead of an embedded server (env LABKIT_MAIN_URI).")
@click.option("--temp-uri", envvar="LABKIT_TEMP_URI", metavar="URI",
              help="Use this replica set as Temp instead of an embedded server (env LABKIT_TEMP_URI).")
@click.option("--main-uri-env", metavar="NAME",
              help="Read Main's connection string from this environment variable (keeps a password out of ps).")
@click.option("--temp-uri-env", metavar="NAME",
              help="Read Temp's connection string from this environment variable.")
def up(workspace, main_uri, temp_uri, main_uri_env, temp_uri_env):
    """Start the lab's Main and Temp deployments (or reconnect to them).

    By default each is an embedded MongoDB-compatible server started as its own
    process on 127.0.0.1. Give --main-uri and --temp-uri (both replica sets) to
    use deployments you already have, such as two Atlas clusters. Running it
    again restarts anything found dead, with its data intact.

    Give URIs with passwords through environment variables (LABKIT_MAIN_URI /
    LABKIT_TEMP_URI, or any names with --main-uri-env / --temp-uri-env), never
    as arguments: every user of the machine sees a command line in ps. labkit
    never stores a password; other processes find it there.

    A lab nobody used for LABKIT_IDLE_MINUTES (default 480, a class day; 0:
    never) stops by itself, never during a restore or an import; labkit up
    brings it back with its data, and the application with its last settings.
    """
    idle.idle_minutes()  # a bad LABKIT_IDLE_MINUTES is refused before anything starts
    given = {}
    for name, uri, env in (("main", main_uri, main_uri_env), ("temp", temp_uri, temp_uri_env)):
        if env:
            if not os.environ.get(env):
                raise ConfigError(f"The environment variable {env} (--{name}-uri-env) is not set: export it "
                                  f"with {name.capitalize()}'s connection string first.")
            uri = os.environ[env]
        elif uri:
            warn_password_in_argv(f"--{name}-uri", uri, f"LABKIT_{name.upper()}_URI")
        given[name] = uri
    ws = open_workspace(workspace)
    ws.up(given["main"], given["temp"], main_uri_env=main_uri_env, temp_uri_env=temp_uri_env, progress=say)
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


@click.command(name="uri")
@click.argument("deployment", type=click.Choice(["main", "temp"]))
@workspace_option
def uri_command(deployment, workspace):
    """Print MAIN's or TEMP's full connection string, password included (for mongosh or Compass).

    The only labkit command that ever prints a password; `labkit status` and
    everything else mask it. Paste it, do not save it in files or notebooks:

    \b
    mongosh "$(labkit uri main)"
    """
    ws = open_workspace(workspace)
    uri = ws.deployment(deployment).uri
    say(f"Warning: this connection string contains {deployment.capitalize()}'s password. Do not share it, "
        "save it in a file or paste it into a notebook.")
    click.echo(uri)


COMMANDS = [up, status, down, uri_command]
