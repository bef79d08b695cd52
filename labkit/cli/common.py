"""Options and output helpers shared by the command families."""
from __future__ import annotations

import json

import click

from labkit.workspace import Workspace

workspace_option = click.option(
    "--workspace", "-w", "workspace", metavar="DIR", envvar="LABKIT_WORKSPACE",
    help="Lab workspace folder (default ./.labkit/partial-recovery; env LABKIT_WORKSPACE).",
)


def open_workspace(path: str | None) -> Workspace:
    return Workspace(path)


def say(message: str) -> None:
    """Progress and log lines go to stderr, as the mongo tools do; data goes to stdout."""
    click.echo(message, err=True)


def echo_json(data) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=True, default=str))
