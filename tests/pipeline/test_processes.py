"""Worker processes leave Ctrl-C to their parent from their first instruction on
(`start_process` / `ignore_sigint`), tested on the batch worker itself."""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import threading
import time
from pathlib import Path

import pytest

from vidpipe.batch.runner import _worker_main
from vidpipe.pipeline import concurrency


def _ignores_sigint(pid: int) -> bool:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("SigIgn:"):
            return bool(int(line.split()[1], 16) & (1 << (signal.SIGINT - 1)))
    return False


def test_sigint_during_a_worker_start_up_is_discarded(capfd: pytest.CaptureFixture) -> None:
    ctx = multiprocessing.get_context("spawn")
    ours, theirs = ctx.Pipe(duplex=True)
    proc = ctx.Process(target=_worker_main, args=(theirs, 1, logging.WARNING, None))
    concurrency.start_process(proc)
    theirs.close()
    try:
        sent, deadline = 0, time.monotonic() + 60
        while proc.is_alive() and not _ignores_sigint(proc.pid) and time.monotonic() < deadline:
            os.kill(proc.pid, signal.SIGINT)  # all through its imports, as Ctrl-C would
            sent += 1
            time.sleep(0.005)
        assert sent > 10 and proc.is_alive() and _ignores_sigint(proc.pid)
        os.kill(proc.pid, signal.SIGINT)
        ours.send(None)  # the worker is still listening: it ends as asked
        proc.join(30)
    finally:
        if proc.is_alive():
            proc.kill()
            proc.join()
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
    monkeypatch.setattr(concurrency, "_cancelled", threading.Event())  # interrupt() sets it
    seen: list[str] = []
    done = threading.Event()
    other = threading.Thread(target=done.wait, daemon=True)  # the kernel hands it the signal
    other.start()
    old = signal.signal(signal.SIGINT, lambda signum, _: concurrency.interrupt(signum))
    try:
        with pytest.raises(KeyboardInterrupt):
            concurrency.start_process(_FakeProcess(seen))  # type: ignore[arg-type]
    finally:
        signal.signal(signal.SIGINT, old)
        done.set()
        other.join()
    assert seen == ["started"]
    assert signal.SIGINT not in signal.pthread_sigmask(signal.SIG_BLOCK, set())
