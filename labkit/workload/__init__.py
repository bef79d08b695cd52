"""The lab's simulated application: it keeps inserting, and proves it never stopped.

``run_foreground`` (``labkit insert``) runs it in this process; ``Workload(ws)``
(``labkit workload start|status|stop``) runs it as the workspace's background
process. Inside: ``loop`` (the insert loop and the process's entry point),
``background`` (the process the workspace owns) and ``stats`` (live figures
and the verified final report).
"""
from labkit.workload.background import PROCESS_NAME, Workload
from labkit.workload.loop import DEFAULT_RATE, run_foreground
from labkit.workload.stats import WorkloadReport, format_status

__all__ = ["DEFAULT_RATE", "PROCESS_NAME", "Workload", "WorkloadReport", "format_status", "run_foreground"]
