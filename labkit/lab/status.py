"""`labkit status`: the workspace's deployments and processes, with the lab's application and backup."""
from __future__ import annotations

from labkit.backup import Backup
from labkit.deploy import driver_error
from labkit.workload import Workload
from labkit.workspace import Workspace


def lab_status(ws: Workspace, describe: bool = True) -> dict:
    """``ws.status()`` plus a ``workload`` and a ``backup`` section once each was started. Never raises
    for a broken section and never contains a password."""
    result = ws.status(describe=describe)
    if not result.get("exists"):
        return result
    for section, summarize in (("workload", Workload(ws).summary), ("backup", Backup(ws).summary)):
        try:
            summary = summarize()
        except Exception as exc:  # a broken section must not hide the rest of status
            summary = {"error": driver_error(exc)}
        if summary is not None:
            result[section] = summary
    return result
