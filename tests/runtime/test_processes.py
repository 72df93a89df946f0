"""Worker processes leave Ctrl-C to their parent from their first instruction on
(`start_process` / `ignore_sigint`), tested on the batch worker itself; and every child is
reaped, SIGKILLed after a grace if need be, the resource tracker included (`reap`,
`reaped_children`)."""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import time
from multiprocessing.connection import Connection
from pathlib import Path

import pytest

from vidpipe.batch.worker import _worker_main
from vidpipe.runtime import children, signals


def _ignores_sigint(pid: int) -> bool:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("SigIgn:"):
            return bool(int(line.split()[1], 16) & (1 << (signal.SIGINT - 1)))
    return False


def _start_worker_under_sigints() -> tuple[multiprocessing.process.BaseProcess, object, int]:
    """Start the real batch worker and send it SIGINT every 5 ms through its start-up, until
    /proc shows it ignores SIGINT. Returns (process, our pipe end, signals sent)."""
    ctx = multiprocessing.get_context("spawn")
    ours, theirs = ctx.Pipe(duplex=True)
    proc = ctx.Process(target=_worker_main, args=(theirs, 1, logging.WARNING, None))
    children.start_process(proc)
    theirs.close()
    sent, deadline = 0, time.monotonic() + 60
    while proc.is_alive() and not _ignores_sigint(proc.pid) and time.monotonic() < deadline:
        os.kill(proc.pid, signal.SIGINT)  # all through its imports, as Ctrl-C would
        sent += 1
        time.sleep(0.005)
    return proc, ours, sent


def test_sigint_during_a_worker_start_up_is_discarded(capfd: pytest.CaptureFixture) -> None:
    # A child is born ignoring SIGINT when this process ignores it at the OS level, which a
    # library loaded by an earlier test may have set (seen only in the whole suite: the worker
    # ignored SIGINT before the first signal, 5 times in 5): Python's handler is put back, so
    # the worker's own start-up is what is tested. On a loaded machine this process may also
    # not run at all while the child starts up: then the attempt is made again (at most 5).
    handler = signal.getsignal(signal.SIGINT)
    inherited = _ignores_sigint(os.getpid())
    signal.signal(signal.SIGINT, handler if callable(handler) else signal.default_int_handler)
    for _attempt in range(5):
        proc, ours, sent = _start_worker_under_sigints()
        try:
            if sent > 10 or not proc.is_alive():
                assert proc.is_alive() and _ignores_sigint(proc.pid), sent
                os.kill(proc.pid, signal.SIGINT)
                ours.send(None)  # the worker is still listening: it ends as asked
                proc.join(30)
                break
            ours.send(None)
            proc.join(30)
        finally:
            if proc.is_alive():
                proc.kill()
                proc.join()
    assert sent > 10, f"no attempt got signals into the worker's start-up ({inherited=})"
    assert proc.exitcode == 0
    assert "Traceback" not in capfd.readouterr().err


class _FakeProcess:
    """A process whose start is hit by Ctrl-C."""

    def __init__(self, seen: list[str]) -> None:
        self.seen = seen

    def start(self) -> None:
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.05)  # another thread may take the signal meanwhile
        self.seen.append("started")


def test_the_parents_own_ctrl_c_is_raised_once_the_child_is_started(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(signals, "_cancelled", threading.Event())  # interrupt() sets it
    seen: list[str] = []
    done = threading.Event()
    other = threading.Thread(target=done.wait, daemon=True)  # the kernel hands it the signal
    other.start()
    old = signal.signal(signal.SIGINT, lambda signum, _: signals.interrupt(signum))
    try:
        with pytest.raises(KeyboardInterrupt):
            children.start_process(_FakeProcess(seen))  # type: ignore[arg-type]
    finally:
        signal.signal(signal.SIGINT, old)
        done.set()
        other.join()
    assert seen == ["started"]
    assert signal.SIGINT not in signal.pthread_sigmask(signal.SIG_BLOCK, set())


def _ignore_sigterm_and_wait(conn: Connection) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    conn.send("ready")
    conn.recv()  # until the parent's end closes (it never sends)


def _start_stubborn() -> tuple[multiprocessing.process.BaseProcess, Connection]:
    """A child that ignores SIGTERM, running once this returns."""
    ctx = multiprocessing.get_context("spawn")
    ours, theirs = ctx.Pipe(duplex=True)
    proc = ctx.Process(target=_ignore_sigterm_and_wait, args=(theirs,))
    proc.start()
    theirs.close()
    assert ours.poll(60) and ours.recv() == "ready"
    return proc, ours


def test_reap_kills_a_child_that_ignores_sigterm_after_the_grace() -> None:
    proc, conn = _start_stubborn()
    try:
        proc.terminate()
        start = time.monotonic()
        children.reap([proc], start + 0.5)
        took = time.monotonic() - start
    finally:
        conn.close()
        if proc.exitcode is None:
            proc.kill()
            proc.join()
    assert proc.exitcode == -signal.SIGKILL  # reaped: exitcode is known
    assert 0.5 <= took < 10


def test_reap_cut_short_by_ctrl_c_still_kills_and_reaps() -> None:
    proc, conn = _start_stubborn()

    def ctrl_c(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    old = signal.signal(signal.SIGALRM, ctrl_c)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.2)
        start = time.monotonic()
        with pytest.raises(KeyboardInterrupt):
            children.reap([proc], start + 60)  # a second Ctrl-C during the grace
        took = time.monotonic() - start
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
        conn.close()
        if proc.exitcode is None:
            proc.kill()
            proc.join()
    assert proc.exitcode == -signal.SIGKILL and took < 30


_SCOPE_SCRIPT = """
import multiprocessing, multiprocessing.resource_tracker, os, sys, time
from vidpipe.runtime import children

def reaped(pid):  # not a child of ours any more: waited for
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return True
    return False

ctx = multiprocessing.get_context("spawn")
if sys.argv[1] == "before":
    multiprocessing.resource_tracker.ensure_running()
with children.reaped_children(5.0):
    stray = ctx.Process(target=time.sleep, args=(60,))  # its owner forgot it
    children.start_process(stray)
    tracker = children._tracker_pid()
print(stray.exitcode, reaped(tracker), children._tracker_pid() is None)
"""


@pytest.mark.parametrize("tracker", ["inside", "before"])
def test_reaped_children_leaves_no_child_and_its_own_tracker_reaped(tracker: str) -> None:
    """A child still running at the end of the block gets SIGTERM and is reaped; the resource
    tracker is reaped when the block started it, left running when it was running before."""
    done = subprocess.run(
        [sys.executable, "-c", _SCOPE_SCRIPT, tracker], capture_output=True, text=True,
        timeout=120, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    stray_code, tracker_reaped, tracker_gone = done.stdout.split()
    assert stray_code == str(-signal.SIGTERM)
    expected = "True" if tracker == "inside" else "False"
    assert (tracker_reaped, tracker_gone) == (expected, expected), done.stderr
