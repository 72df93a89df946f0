"""`Watchdog`: ends a stalled reader. A thread of its own calls `on_expire` once when the
reader has not called `feed()` for `timeout_s` seconds (a network input that accepts and
never sends, a live stream that stops mid-frame), whatever the blocked call is waiting on.

    with Watchdog(5.0, proc.kill, name="ffmpeg-watchdog") as dog:
        for chunk in read(proc.stdout):   # a kill ends the blocked read (EOF)
            dog.feed()
    if dog.expired: raise InputError("timed out")

Its thread ends with the `with` block (joined, never left behind).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from types import TracebackType

log = logging.getLogger(__name__)

_CHECK_S = 0.1  # the longest a stall goes unseen past its timeout


class Watchdog:
    """Calls `on_expire()` once, on its own thread, when `feed()` has not been called for
    `timeout_s` seconds (counted from `__enter__`, then from each feed). `expired` says it
    did; `pause()` / `feed()` stop and restart the count (a consumer busy downstream is not
    a stalled input). `on_expire` may be set after it is made (once what it stops exists)."""

    def __init__(self, timeout_s: float, on_expire: Callable[[], object], *, name: str) -> None:
        if not timeout_s > 0:
            raise ValueError(f"timeout_s must be > 0, got {timeout_s}")
        self.timeout_s = timeout_s
        self.expired = False
        self.on_expire = on_expire
        self._fed = time.monotonic()
        self._paused = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def feed(self) -> None:
        """Progress: the count starts again (and runs, if paused)."""
        self._fed = time.monotonic()
        self._paused = False

    def pause(self) -> None:
        """Stop counting until the next `feed()` (the reader is waiting on its consumer)."""
        self._paused = True

    def _run(self) -> None:
        while not self._stop.wait(_CHECK_S):
            if self._paused or time.monotonic() - self._fed < self.timeout_s:
                continue
            self.expired = True
            log.debug("%s: no progress for %g s", self._thread.name, self.timeout_s)
            try:
                self.on_expire()
            except Exception:  # reported; the reader sees `expired`
                log.exception("%s: on_expire failed", self._thread.name)
            return

    def __enter__(self) -> Watchdog:
        self._fed = time.monotonic()
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join()
