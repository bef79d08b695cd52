"""`labkit up`, `labkit status`, `labkit down`: the lab's deployments and processes."""
from __future__ import annotations

import os
import shutil
import sys

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
    """Print MAIN's or TEMP's full connection string, password included (for Compass).

    The only labkit command that ever prints a password; `labkit status` and
    everything else mask it. Paste it into Compass's connection dialog; do not
    save it in files or notebooks, and never pass it to a program as an
    argument: every user of the machine can read a command line (ps). For
    mongosh use `labkit shell main`, which keeps it off the command line.
    """
    ws = open_workspace(workspace)
    uri = ws.deployment(deployment).uri
    say(f"Warning: this connection string contains {deployment.capitalize()}'s password. Do not share it, "
        "save it in a file, paste it into a notebook or put it on a command line (for mongosh: labkit shell "
        f"{deployment}).")
    click.echo(uri)


# mongosh reads the connection string from this inherited descriptor (a pipe) in its first --eval, which
# runs before the user's --eval and files: the password is on no command line and in no file.
SHELL_URI_FD = 3
SHELL_CONNECT = f"db = connect(require('fs').readFileSync({SHELL_URI_FD}, 'utf8')); void 0"
MONGOSH_INSTALL = ("npm install -g mongosh, or the package for your system from "
                   "https://www.mongodb.com/try/download/shell")


@click.command(name="shell", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("deployment", type=click.Choice(["main", "temp"]), default="main")
@workspace_option
@click.option("--mongosh", "mongosh", metavar="PATH", envvar="LABKIT_MONGOSH",
              help="The mongosh to run (default: mongosh on PATH; env LABKIT_MONGOSH).")
@click.argument("mongosh_args", nargs=-1, type=click.UNPROCESSED, metavar="[-- MONGOSH-ARGS...]")
def shell_command(deployment, workspace, mongosh, mongosh_args):
    """Open mongosh on MAIN (default) or TEMP, logged in, without the password on any command line.

    mongosh gets the connection string through an inherited pipe, never as an
    argument (every user of the machine can read a command line with ps) and
    never in a file. Arguments after -- go to mongosh; with --eval or script
    files it runs them and exits, as mongosh does:

    \b
    labkit shell main
    labkit shell temp -- --quiet --eval 'db.customers.countDocuments()'

    On Atlas the same is: mongosh "mongodb+srv://main.example.mongodb.net/"
    --username lab (mongosh asks for the password).
    """
    uri = open_workspace(workspace).deployment(deployment).uri
    program = mongosh or shutil.which("mongosh")
    if not program or not shutil.which(program):
        where = f"{program} is not an executable" if program else "mongosh is not installed (not found on PATH)"
        raise ConfigError(f"{where}. Install it with {MONGOSH_INSTALL}; or give its path with --mongosh PATH.")
    runs_scripts = any(arg in ("--eval", "-f", "--file") or arg.startswith("--eval=") or arg.startswith("--file=")
                       or arg.endswith((".js", ".mongodb")) for arg in mongosh_args)
    args = [program, "--nodb", "--eval", SHELL_CONNECT, *mongosh_args, *([] if runs_scripts else ["--shell"])]
    read_end, write_end = os.pipe()
    os.write(write_end, uri.encode())  # a few hundred bytes: the pipe holds them until mongosh reads
    os.close(write_end)
    if read_end != SHELL_URI_FD:
        os.dup2(read_end, SHELL_URI_FD)
        os.close(read_end)
    os.set_inheritable(SHELL_URI_FD, True)
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execv(shutil.which(program), args)  # mongosh takes over the terminal, Ctrl-C and the exit code
    except OSError as exc:
        raise ConfigError(f"Cannot run {program}: {exc.strerror or exc}. Install mongosh with {MONGOSH_INSTALL}.") \
            from None


COMMANDS = [up, status, down, uri_command, shell_command]
