"""Continuous backup and point-in-time restore of the lab's Main.

The face is ``Backup(ws)``: ``enable`` (the oplog capture process),
``snapshot``, ``mark``, ``window`` and ``restore``. Inside: ``core`` (that
class), ``archive`` (the on-disk oplog segments and snapshots), ``capture``
(the capture process), ``oplog`` (replaying entries onto a target) and
``timespec`` (reading the times a learner types).
"""
from labkit.backup.core import Backup, RestoreFailed, RestoreReport

__all__ = ["Backup", "RestoreFailed", "RestoreReport"]
