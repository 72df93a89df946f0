"""How SIGINT and SIGTERM stop a run, and how the code that runs checks for it.

* `interrupt` - what the CLI's signal handler does: `cancel()`, then KeyboardInterrupt, or,
  inside `interrupts_held()` (a child process being taken charge of, PyAV inside a Python
  I/O callback), the KeyboardInterrupt held off until the section ends.
* `cancel` / `cancelled` / `uncancel` - the flag every thread helper's consumer
  (`vidpipe.runtime.threads`) checks at its next item; `uncancel` clears it (and the rest of
  this module's state) for the next run in the same process.
* `stop_gracefully` / `finish` / `finishing` / `wait_finishing` - a live run's first signal
  ends its source as if the stream had ended; the second interrupts.

Process-wide state, set only by a signal handler the caller installed (the CLI's).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator

_WAKE_S = 0.1  # how often `wait_finishing` wakes to check `cancel()`
_cancelled = threading.Event()
_held = 0  # depth of `interrupts_held()` sections on the main thread
_pending: int | None = None  # a signal `interrupt` held off, raised when the section ends
_graceful = 0  # depth of `stop_gracefully()` sections (a live run)
_finish = threading.Event()  # a graceful section was asked to finish (the first signal)


def cancel() -> None:
    """Ask every running consumer of `prefetch`, `ordered_map` and `Feed` (and `Feed.put`) to
    raise KeyboardInterrupt at its next item.

    For signal handlers: a KeyboardInterrupt raised inside a C callback (PyAV's I/O) can be
    swallowed there; this flag is seen at the next frame whatever the handler interrupted.
    """
    _cancelled.set()


def cancelled() -> bool:
    """Whether `cancel()` was called (and not `uncancel()` since)."""
    return _cancelled.is_set()


def uncancel() -> None:
    """Forget an earlier `cancel()`, `finish()` and a held-off signal: a new run in the same
    process (an in-process `main()` after an interrupted one) starts afresh."""
    global _pending
    _cancelled.clear()
    _finish.clear()
    _pending = None


def finish() -> None:
    """Ask a live source to end as if its stream had ended (see `stop_gracefully`)."""
    _finish.set()


def finishing() -> bool:
    """Whether `finish()` was called: a live source's reader checks it at every frame."""
    return _finish.is_set()


def wait_finishing(seconds: float) -> bool:
    """Sleep up to `seconds` (a reconnect's backoff); True when `finish()` or `cancel()`
    cut it short."""
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        if _finish.wait(min(left, _WAKE_S)) or _cancelled.is_set():
            return True
    return _finish.is_set() or _cancelled.is_set()


@contextlib.contextmanager
def stop_gracefully() -> Iterator[None]:
    """Within this block (a run reading a live source, which never ends by itself), the
    first SIGINT / SIGTERM only calls `finish()`: the source ends at its next frame and the
    run closes its outputs as at a normal end (the current segment complete). A second
    signal interrupts as usual."""
    global _graceful
    _graceful += 1
    try:
        yield
    finally:
        _graceful -= 1


def interrupt(signum: int) -> None:
    """What the CLI's SIGINT / SIGTERM handler does: `cancel()`, then raise KeyboardInterrupt,
    or, when the main thread is inside `interrupts_held()`, note the signal for the section to
    raise as it ends (a second signal meanwhile raises at once). Inside `stop_gracefully()`
    the first signal only calls `finish()`."""
    global _pending
    if _graceful and not _finish.is_set():
        finish()  # the reader logs it (no logging inside a signal handler)
        return
    cancel()
    if _held and _pending is None:
        _pending = signum
        return
    raise KeyboardInterrupt(f"signal {signum}")


class _InterruptsHeld:
    """See `interrupts_held`; re-entrant (a depth count), a no-op off the main thread."""

    def __enter__(self) -> None:
        global _held
        if threading.current_thread() is threading.main_thread():
            _held += 1

    def __exit__(self, *exc_info: object) -> None:
        global _held, _pending
        if threading.current_thread() is not threading.main_thread():
            return
        _held -= 1
        if not _held and _pending is not None:
            signum, _pending = _pending, None
            raise KeyboardInterrupt(f"signal {signum}")


_INTERRUPTS_HELD = _InterruptsHeld()


def interrupts_held() -> _InterruptsHeld:
    """A context manager that holds off `interrupt`'s KeyboardInterrupt until its body ends,
    and raises it then (replacing any exception of the body).

    For the few steps a KeyboardInterrupt must not cut in two: starting a child process until
    the variable that owns it is set (else nobody kills and reaps the child), and writing
    through PyAV's Python I/O callbacks (they swallow a KeyboardInterrupt and print its
    traceback). Signal handlers run on the main thread only, so elsewhere it does nothing.
    """
    return _INTERRUPTS_HELD
