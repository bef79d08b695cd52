"""`labkit snapshot`, `snapshots`, `backup enable`, `mark`, `marks`, `window`, `restore`.

The local counterpart of Atlas Cloud Backup with continuous backup and "Point
in Time Restore" (or Percona Backup for MongoDB's `pbm backup`, `pbm list`,
`pbm restore --time`). Times are printed in UTC and local time.
"""
from __future__ import annotations

import click

from labkit.backup import Backup
from labkit.cli.common import echo_json, open_workspace, workspace_option
from labkit.backup.timespec import FORMATS_HELP

json_option = click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")


def _backup(workspace) -> Backup:
    return Backup(open_workspace(workspace))


@click.command()
@workspace_option
@json_option
def snapshot(workspace, as_json):
    """Take a snapshot of every user namespace on Main.

    Like `mongodump --oplog`: Main keeps serving writes; the copy is made
    consistent by the oplog captured while it ran. The first snapshot also
    enables continuous backup (the oplog capture process).
    Atlas: Backup > Take Snapshot Now.
    """
    info = _backup(workspace).snapshot()
    if as_json:
        echo_json(info)
        return
    click.echo(f"Snapshot {info['id']}: {info['namespaces']} namespace(s), {info['documents']} document(s)")
    click.echo(f"  consistent at {info['consistent']} (oplog {info['after']})")


@click.command()
@workspace_option
@json_option
def snapshots(workspace, as_json):
    """List the snapshots in the backup archive with their times (UTC and local)."""
    found = _backup(workspace).snapshots()
    if as_json:
        echo_json(found)
        return
    if not found:
        click.echo("No snapshots yet: take one with labkit snapshot.")
    for snap in found:
        click.echo(f"{snap['id']}  consistent at {snap['consistent']}  "
                   f"{snap['namespaces']} namespace(s), {snap['documents']} document(s)")


@click.group("backup")
def backup_group():
    """Continuous backup of Main (oplog capture)."""


@backup_group.command("enable")
@workspace_option
def backup_enable(workspace):
    """Start continuous backup: a process that copies Main's oplog into the archive.

    It runs until labkit down and restarts with labkit up. Restores also need
    a snapshot (labkit snapshot). Atlas: Backup > Continuous Cloud Backup: On.
    """
    state = _backup(workspace).enable()
    click.echo(f"Continuous backup is on: capturing Main's oplog after {state['last']}.")


@click.command()
@workspace_option
@click.argument("name")
@json_option
def mark(workspace, name, as_json):
    """Write down the time under NAME (wall clock and Main's exact cluster time).

    Restore to it later with: labkit restore --to mark:NAME
    """
    info = _backup(workspace).mark(name)
    if as_json:
        echo_json(info)
        return
    click.echo(f"Mark {info['name']}: {info['shown']}, cluster time {info['ts']}")
    click.echo(f"  restore to it with: labkit restore --to mark:{info['name']}")


@click.command()
@workspace_option
@json_option
def marks(workspace, as_json):
    """List the marks (noted times) of this workspace."""
    found = _backup(workspace).marks()
    if as_json:
        echo_json(found)
        return
    if not found:
        click.echo("No marks yet: record one with labkit mark NAME.")
    for item in found:
        click.echo(f"{item['name']}: {item['shown']}, cluster time {item['ts']}")


@click.command()
@workspace_option
@json_option
def window(workspace, as_json):
    """Show the restorable time ranges (earliest snapshot to last captured operation, minus gaps).

    Like `pbm list` under "PITR <on>": any time inside a range can be restored.
    """
    backup = _backup(workspace)
    spans = backup.window()
    gaps = backup.gaps()
    if as_json:
        echo_json({"ranges": spans, "gaps": gaps})
        return
    if not spans:
        click.echo("Nothing is restorable yet: take a snapshot (labkit snapshot) and let the capture catch up.")
    for span in spans:
        click.echo(f"restorable: {span['shown']}  (oplog {span['from']} .. {span['to']})")
    for gap in gaps:
        click.echo(f"GAP (lost operations): {gap['shown']}")


@click.command()
@workspace_option
@click.option("--to", "to", required=True, metavar="TIME",
              help=f"The point in time: {FORMATS_HELP}.")
@click.option("--ns", "namespaces", multiple=True, metavar="DB.COLL",
              help="Restore only this namespace (repeatable). Default: every user namespace.")
@click.option("--target", type=click.Choice(["temp", "main"]), default="temp", show_default=True,
              help="Where to restore. Main needs --rename for every namespace so live data stays untouched.")
@click.option("--rename", "renames", multiple=True, metavar="DB.COLL:DB.NEWCOLL",
              help="Restore DB.COLL as DB.NEWCOLL (repeatable), e.g. beside the live data on Main.")
@click.option("--wait", type=float, default=10.0, show_default=True, metavar="SECONDS",
              help="How long to wait for the oplog capture to catch up with TIME.")
@json_option
def restore(workspace, to, namespaces, target, renames, wait, as_json):
    """Rebuild the data as it was at TIME on Temp (or, renamed, on Main).

    Loads the newest snapshot consistent at or before TIME and replays every
    captured operation up to TIME: exact to the operation for a mark or an
    oplog timestamp, to the second for a wall-clock time. Target namespaces
    are replaced; restoring everything (no --ns) replaces all of Temp's data,
    as an Atlas restore replaces the target cluster's. Atlas: Backup > Point
    in Time Restore > choose Temp.
    Local times are converted to UTC; the report shows both.
    """
    backup = _backup(workspace)
    report = backup.restore(to, namespaces=list(namespaces) or None, target=target,
                            rename=list(renames) or None, wait=wait, progress=not as_json)
    if as_json:
        echo_json(report.as_dict())
    else:
        click.echo(str(report))


COMMANDS = [snapshot, snapshots, backup_group, mark, marks, window, restore]
