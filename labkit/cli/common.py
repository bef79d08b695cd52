"""Options and output helpers shared by the command families."""
from __future__ import annotations

import json

import click

from labkit.uris import password_of
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


def warn_password_in_argv(option: str, uri: str | None, env_hint: str = "NAME") -> None:
    """A password typed as an argument is visible to every user of the machine (ps) while the command runs.

    Nothing is said when click took the value from an environment variable (``envvar=``): ps does not show it.
    """
    ctx = click.get_current_context(silent=True)
    param = option.lstrip("-").replace("-", "_")
    if ctx is not None and ctx.get_parameter_source(param) == click.core.ParameterSource.ENVIRONMENT:
        return
    if uri and password_of(uri) is not None:
        say(f"Warning: the connection string given to {option} carries a password, which every user of this "
            f"machine can read in the process list while labkit runs. Put it in an environment variable "
            f"instead: export {env_hint}=... and use {option}-env {env_hint}.")
