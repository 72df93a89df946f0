"""Child processes: started so that Ctrl-C stays their parent's, and never left behind.

* `start_process` / `ignore_sigint` - worker processes (multiprocessing, spawn) that leave
  Ctrl-C to their parent, from the first instruction of their interpreter on.
* `reap` / `reaped_children` - every child process waited for before its parent goes on:
  a bounded grace, then SIGKILL; multiprocessing's resource tracker (which the first spawn
  starts, and which nothing else waits for) included.

A Ctrl-C while a child is being started or killed is held off (`interrupts_held`, in
`vidpipe.runtime.signals`) until the child is owned or reaped. (ffmpeg children, plain
`subprocess.Popen`s, are killed and reaped by the io modules that start them.)
"""

from __future__ import annotations

import contextlib
import multiprocessing.process
import multiprocessing.resource_tracker
import os
import select
import signal
import time
from collections.abc import Iterable, Iterator

from vidpipe.runtime.signals import interrupts_held

_REAP_POLL_S = 0.01  # how often `_wait_pid` checks a child, where there is no pidfd


def start_process(process: multiprocessing.process.BaseProcess) -> None:
    """`process.start()` for a child whose target calls `ignore_sigint()` first.

    Ctrl-C goes to the whole foreground process group. A spawned child spends its first half
    second importing before its target can ignore SIGINT, and a KeyboardInterrupt there
    prints a traceback; so SIGINT is blocked across the start. The blocked mask is inherited,
    and the signal waits in the child until `ignore_sigint()` discards it. In this process
    the start is an `interrupts_held()` section: a Ctrl-C (which another thread may take
    while this one blocks it) is raised once the child is started and owned.
    """
    # Starting multiprocessing's resource tracker (the first start does) unblocks SIGINT.
    multiprocessing.resource_tracker.ensure_running()
    with interrupts_held():
        old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        try:
            process.start()
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, old)


def reap(processes: Iterable[multiprocessing.process.BaseProcess], deadline: float) -> None:
    """Wait for `processes` (already asked to end) until `deadline` (a `time.monotonic()`
    value), SIGKILL those still running then, and reap (join) every one.

    However the wait ends (a second Ctrl-C cuts it short), the kill and the joins happen, and
    a Ctrl-C meanwhile (through `interrupt`) is raised once every started process is reaped.
    The join after SIGKILL has no time limit: nothing would end the process sooner, and it
    cannot ignore that signal. Processes never started are skipped.
    """
    started = [p for p in processes if p.pid is not None]
    try:
        for process in started:
            process.join(max(0.0, deadline - time.monotonic()))
    finally:
        with interrupts_held():
            for process in started:
                if process.exitcode is None:
                    process.kill()
                process.join()


@contextlib.contextmanager
def reaped_children(grace_s: float) -> Iterator[None]:
    """Around a command that starts multiprocessing children: when the block ends, however
    it ends, none of them is left, and neither is multiprocessing's resource tracker if the
    block started it.

    Their owners (a worker pool, the model servers) stop and reap their own processes; this
    is the net under them: a child still alive here (its owner never held it) gets SIGTERM,
    `grace_s` seconds, then SIGKILL. The resource tracker, started by the first spawn and
    never waited for by multiprocessing, ends when every copy of its pipe is closed: this
    process closes its own after the children (holders of the other copies) are reaped, and
    waits `grace_s` for it (it removes anything still registered), then kills it. Left
    running otherwise, it ends only after this process has exited, an orphan.

    A tracker already running when the block starts is left alone: resources registered
    with it by others would be removed if it ended.
    """
    before = {p.pid for p in multiprocessing.active_children()}
    tracker_before = _tracker_pid()
    try:
        yield
    finally:
        try:
            left = [p for p in multiprocessing.active_children() if p.pid not in before]
            for process in left:
                with contextlib.suppress(OSError):
                    process.terminate()
            reap(left, time.monotonic() + grace_s)
        finally:
            if tracker_before is None:
                _stop_resource_tracker(time.monotonic() + grace_s)


def _tracker_pid() -> int | None:
    """The pid of multiprocessing's resource tracker if this process started it, else None."""
    tracker = getattr(multiprocessing.resource_tracker, "_resource_tracker", None)
    return getattr(tracker, "_pid", None)


def _stop_resource_tracker(deadline: float) -> None:
    """Close this process's end of the resource tracker's pipe (it then cleans up and exits)
    and reap it, SIGKILLed if it has not ended by `deadline`.

    multiprocessing has no public way to stop it: `ResourceTracker._stop()` waits without a
    limit. This uses the same private fields (`_lock`, `_fd`, `_pid`: the same in 3.10 to
    3.13), and does nothing if they are not there. A later spawn starts a new tracker.
    """
    tracker = getattr(multiprocessing.resource_tracker, "_resource_tracker", None)
    lock = getattr(tracker, "_lock", None)
    if lock is None or getattr(tracker, "_pid", None) is None:
        return
    with interrupts_held():  # a Ctrl-C now is raised once it is reaped; a second one, at once
        with lock:
            fd, pid = tracker._fd, tracker._pid
            tracker._fd = tracker._pid = None
            if fd is not None:
                os.close(fd)
        if pid is not None:
            _reap_pid(pid, deadline)


def _reap_pid(pid: int, deadline: float) -> None:
    """Reap child `pid`: wait until `deadline`, then SIGKILL it (also when the wait is cut
    short by a KeyboardInterrupt)."""
    ended = False
    try:
        ended = _wait_pid(pid, deadline)
    finally:
        if not ended:
            with interrupts_held():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(pid, 0)


def _wait_pid(pid: int, deadline: float) -> bool:
    """Reap child `pid` if it ends before `deadline`; True when it is reaped (or was already).
    Sleeps on a pidfd (Linux 5.3+), else checks every `_REAP_POLL_S`."""
    try:
        pidfd: int | None = os.pidfd_open(pid)
    except (AttributeError, OSError):  # no pidfd here, or the pid is already reaped
        pidfd = None
    try:
        while True:
            try:
                if os.waitpid(pid, os.WNOHANG)[0]:
                    return True
            except ChildProcessError:
                return True
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            if pidfd is not None:
                select.select([pidfd], [], [], left)
            else:
                time.sleep(min(left, _REAP_POLL_S))
    finally:
        if pidfd is not None:
            os.close(pidfd)


def ignore_sigint() -> None:
    """First thing in a child started by `start_process`: SIGINT is its parent's to handle.
    Ignoring it discards one that arrived during start-up; then it is unblocked again."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
