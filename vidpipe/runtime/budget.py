"""The CPU thread budget: how many threads CPU inference may use in this process.

`cpu_cores` counts the cores this process may run on (its affinity); a `vidpipe batch`
worker sets its share with `set_thread_budget`; `thread_budget` is what a detector sizes its
runtime and its parallel calls by.
"""

from __future__ import annotations

import os


def cpu_cores() -> int:
    """Cores this process may run on (its CPU affinity), the count threads are sized by."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


_budget: list[int] = []


def set_thread_budget(threads: int) -> None:
    """Cap the threads CPU inference may use in this process (a `vidpipe batch` worker's share
    of the cores), before its first detector is made."""
    _budget[:] = [max(1, int(threads))]


def thread_budget() -> int:
    """Threads (parallel inference calls) CPU inference may use: the share set by
    `set_thread_budget`, else the cores this process may run on."""
    return min(_budget[0], cpu_cores()) if _budget else cpu_cores()
