"""`Watchdog`: fires once after `timeout_s` without a feed, never while fed or paused, and
its thread is gone when the `with` block ends."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import pytest

from vidpipe.runtime.watchdog import Watchdog


def _wait_for(condition, limit_s: float = 10.0) -> bool:
    deadline = time.monotonic() + limit_s
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.02)  # bounded polling
    return condition()


def test_it_kills_a_stalled_reader() -> None:
    """A child that never writes: the blocked read returns (EOF) once the dog kills it."""
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"],
                             stdout=subprocess.PIPE)  # fmt: skip
    start = time.monotonic()
    with Watchdog(0.5, child.kill, name="test-dog") as dog:
        assert child.stdout.read() == b""
    assert dog.expired and child.wait(5) != 0
    assert 0.4 < time.monotonic() - start < 10
    child.stdout.close()


def test_feeding_and_pausing_hold_it_off() -> None:
    fired = threading.Event()
    with Watchdog(0.3, fired.set, name="test-dog") as dog:
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:  # fed well within its timeout
            dog.feed()
            time.sleep(0.02)
        dog.pause()
        assert not _wait_for(fired.is_set, 0.8)  # paused: not counting
        dog.feed()
        assert _wait_for(fired.is_set)
    assert dog.expired and fired.is_set()


def test_its_thread_ends_with_the_block() -> None:
    before = threading.active_count()
    with Watchdog(60, lambda: None, name="test-dog"):
        assert threading.active_count() == before + 1
    assert threading.active_count() == before
    with pytest.raises(ValueError, match="timeout_s"):
        Watchdog(0, lambda: None, name="x")
