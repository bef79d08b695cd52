"""The `labkit` command.

Each command family lives in its own module under ``labkit.cli`` and lists its
click commands in ``COMMANDS``; this module gathers them into one group and
turns learner-caused errors (``LabkitError``) into a message and exit code 1,
without a traceback. Usage errors exit with 2 (click's convention).
"""
from __future__ import annotations

import importlib
import os
import sys

import click

from pymongo.errors import PyMongoError

from labkit import __version__
from labkit.deploy import auth_failed, driver_error
from labkit.errors import LabkitError

FAMILIES = ("workspace", "generate", "workload", "backup", "transfer", "labs", "classroom")


class LabkitGroup(click.Group):
    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except LabkitError as exc:
            raise click.ClickException(str(exc)) from None
        except Exception as exc:
            if isinstance(exc, PyMongoError) or not auth_failed(exc):
                raise
            # The driver's own error on a malformed login reply (a server that is not MongoDB): one line.
            raise click.ClickException(f"Cannot log in: {driver_error(exc)}. Is the connection string the "
                                       "server you mean?") from None


@click.group(cls=LabkitGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="labkit")
def main() -> None:
    """Courseware tools for MongoDB partial recovery.

    \b
    Run the whole lab:   labkit run partial-recovery
    By hand:             labkit up; labkit generate customer360 -n 100 | labkit import --target main -d test -c customers
                         labkit workload start; labkit snapshot; (the incident: the customers are deleted)
                         find the first delete in Main's oplog; labkit window
                         labkit restore --to SECONDS:INC (just before it)
                         labkit export --target temp -q '{"firstname": {"$exists": true}}' -o lost.json ...
                         labkit import --target main --file lost.json ...; labkit workload stop; labkit down
    Teach a class:       labkit class status; labkit nbgrader --out COURSE (see docs/instructor.md)

    Every command takes --help. Exit codes: 0 ok, 1 an error you can fix (the
    message says how), 2 a usage error.
    """
    os.umask(0o077)  # whatever labkit writes (workspace, dumps, exports, labkit-runs/) is its owner's only


for _family in FAMILIES:
    for _command in importlib.import_module(f"labkit.cli.{_family}").COMMANDS:
        main.add_command(_command)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
