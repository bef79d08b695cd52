"""`labkit class status|cleanup`: the instructor's view of a class on one server."""
from __future__ import annotations

import os
import sys

import click

from labkit.cli.common import echo_json, say
from labkit.lab import classroom
from labkit.lab import cleanup as class_cleanup
from labkit.workspace import DEFAULT_TOPIC

folder_argument = click.argument("folder", required=False, metavar="[DIR]")


def _folder(folder: str | None) -> str:
    folder = folder or os.environ.get(classroom.CLASS_DIR_ENV)
    if not folder:
        raise click.UsageError(f"Give the class folder, or set {classroom.CLASS_DIR_ENV} as the hub does.")
    return folder


@click.group(name="class")
def class_group():
    """An instructor's view of a class: every learner's progress, and cleaning up after class.

    Learners' checks write their progress records into the class folder named
    by LABKIT_CLASS_DIR (set once in the hub's configuration); these commands
    read that folder.
    """


@class_group.command(name="status")
@folder_argument
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
@click.option("--csv", "as_csv", is_flag=True, help="Print one CSV row per learner (for a spreadsheet).")
@click.option("--mistakes", is_flag=True,
              help="Print only the mistakes per step: how many learners made each (with --csv: step,mistake,"
                   "learners,of,checked).")
@click.option("--idle-minutes", type=click.FloatRange(min=0), default=classroom.IDLE_MINUTES, show_default=True,
              help="A learner with no activity for this long (and steps left) is shown as stuck.")
@click.option("--stuck-failures", type=click.IntRange(min=1), default=classroom.STUCK_FAILURES, show_default=True,
              help="A learner with this many failed checks in a row on one step is shown as stuck.")
def status(folder, as_json, as_csv, mistakes, idle_minutes, stuck_failures):
    """One row per learner, one column per step, who is stuck on what, whose lab runs, and the mistakes per
    step (DIR defaults to $LABKIT_CLASS_DIR).

    This is progress as each learner's own checks report it, not a gradebook (a learner can edit their own
    record): grade with nbgrader. A record another OS user wrote, or one labkit's checks cannot have
    written, is reported under "problem", not shown. Whether labs run is read from the process table now
    (as root, or where /proc shows other users' processes), else as each learner's last check saw it.
    """
    if as_json and as_csv:
        raise click.UsageError("Choose one of --json and --csv.")
    info = classroom.class_status(_folder(folder), idle_minutes=idle_minutes, stuck_failures=stuck_failures)
    if as_json:
        echo_json({"note": info["note"], "learners": info["learners"], "mistakes": info["mistakes"]}
                  if mistakes else info)
    elif as_csv:
        click.echo(classroom.mistakes_csv(info) if mistakes else classroom.status_csv(info), nl=False)
    elif mistakes:
        click.echo("\n".join([info["note"], "Mistakes per step (learners who made each at least once):",
                               *(classroom.mistake_lines(info) or ["  none recorded yet"])]))
    else:
        click.echo(classroom.status_text(info))


@class_group.command(name="cleanup")
@folder_argument
def cleanup(folder):
    """Stop every lab the class's learners left running: all their workspaces, each stopped as its learner.

    Run it as root (the hub's administrator): for each learner labkit drops to that learner's OS user and
    runs the normal labkit down, so it only ever stops that learner's own processes and writes nothing as
    root. Run as an instructor who is not root, it stops your own labs and lists every learner's lab it
    could not reach (exit code 1).
    """
    report = class_cleanup.cleanup(_folder(folder), progress=say)
    for line in report.lines:
        click.echo(line)
    if report.unreached:
        sys.exit(1)


@click.command(name="nbgrader")
@click.option("--out", "-o", "out", required=True, metavar="COURSE_DIR", help="The nbgrader course folder to write.")
@click.option("--topic", default=DEFAULT_TOPIC, show_default=True, help="The lab topic.")
def nbgrader_command(out, topic):
    """Write a ready nbgrader course: the notebooks under source/TOPIC/ and nbgrader_config.py.

    Every solution region becomes an nbgrader solution cell and every check
    cell an autograded test cell worth its step's points. Then, in COURSE_DIR,
    nbgrader's own commands work unchanged:

    \b
      nbgrader generate_assignment partial-recovery   # the learners' version
      nbgrader autograde partial-recovery             # re-runs each submission on its own deployments

    nbgrader comes with labkit's `instructor` extra: pip install 'labkit[instructor]'.
    """
    from labkit.lab.grading import write_course

    for path in write_course(out, topic):
        click.echo(f"wrote {path}")
    click.echo(f"Next: cd {out} && nbgrader generate_assignment {topic}")


COMMANDS = [class_group, nbgrader_command]
