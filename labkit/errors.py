"""Errors a learner can cause.

Every failure a learner can cause raises a ``LabkitError`` subclass whose
message says what is wrong and what to do. Notebooks and the CLI show the
message only, never a traceback.
"""


class LabkitError(Exception):
    """Base class: a problem the user can fix; the message says how."""

    def _render_traceback_(self):
        """IPython/Jupyter show this instead of a traceback: the learner sees the message only."""
        return [f"{type(self).__name__}: {self}"]


class ConfigError(LabkitError):
    """Bad parameters, flags or settings."""


class DeploymentError(LabkitError):
    """A deployment could not be started, reached or used."""


class WorkspaceError(LabkitError):
    """The workspace is missing, locked, not writable or not in the needed state."""


class TemplateError(LabkitError):
    """An mgeneratejs template is malformed or uses something unknown."""


class TransferError(LabkitError):
    """An export or import failed (bad file, bad query, server refused)."""


class BackupError(LabkitError):
    """A snapshot, oplog capture or restore failed or was asked for the impossible."""


class WorkloadError(LabkitError):
    """The continuous-insert application could not start, stop or report."""


class LabError(LabkitError):
    """Unknown lab or step, bad lab parameters, or a failed notebook run."""
