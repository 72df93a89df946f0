"""All of vidpipe's threads and queues live here (and in `runtime.watchdog`); no other
module creates either.

Helpers:

* `LineDrain` - reads a subprocess pipe (e.g. ffmpeg's stderr) line by line on a daemon
  thread, turns lines into items with a parse callback and hands them to the consumer
  through a queue; keeps a bounded tail of the raw lines for error messages. The thread
  always ends with a sentinel (at EOF, or carrying its exception), so a consumer never
  deadlocks waiting for it.

* `Feed` - the mirror of `prefetch`: a consumer (the encoder) runs on a thread behind the
  caller, who puts items into a bounded queue; finish / abort, errors carried back.

* `thread_map` - calls a function on several items at once on a few threads (for calls that
  release the GIL, such as an onnxruntime session running one frame per core), results in
  order, the first exception re-raised; every thread is joined before it returns.

* `prefetch` - runs an upstream stage on a thread ahead of its consumer through a bounded
  queue (decode ahead of processing, processing ahead of encoding). A stop event, put/get
  with timeouts, the producer's exception carried to the consumer and re-raised there, and
  the producer (and the upstream generator it drives) closed and joined in `finally`.

* `interrupt` / `interrupts_held` / `cancel` - how SIGINT and SIGTERM stop a run: the
  handler's KeyboardInterrupt, held off while a child process is being taken charge of or
  PyAV is inside a Python I/O callback, and a flag every `prefetch` consumer checks
  (`uncancel` clears it for the next run in the same process).

* `start_process` / `ignore_sigint` - worker processes (multiprocessing, spawn) that leave
  Ctrl-C to their parent, from the first instruction of their interpreter on.

* `reap` / `reaped_children` - every child process waited for before its parent goes on:
  a bounded grace, then SIGKILL; multiprocessing's resource tracker (which the first spawn
  starts, and which nothing else waits for) included.
"""

from __future__ import annotations

import collections
import concurrent.futures
import contextlib
import logging
import multiprocessing.process
import multiprocessing.resource_tracker
import os
import queue
import select
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import IO, Any, Generic, TypeVar

from vidpipe.runtime.closing import close_if_closable

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")

_PUT_POLL_S = 0.1  # how often a producer blocked on a full queue checks its stop event
_GET_POLL_S = 0.1  # how often a waiting consumer wakes (so Ctrl-C is seen promptly)
_JOIN_S = 30.0  # longest wait for a producer stuck inside its upstream stage
_REAP_POLL_S = 0.01  # how often `_wait_pid` checks a child, where there is no pidfd


class _End:
    """Sentinel that ends a LineDrain's queue; carries the thread's exception, if any."""

    __slots__ = ("error",)

    def __init__(self, error: BaseException | None) -> None:
        self.error = error


class LineDrain(Generic[T]):
    """Drain a binary stream line by line on a background thread.

    Each line is decoded as UTF-8 (errors="replace"), stripped of its line ending, kept in a
    tail of the last `tail_lines` lines, and passed to `parse`, whose items are queued for
    `get`. At EOF, `finish()` may add final items; then a sentinel is queued. An exception
    raised by `parse` / `finish` or the read ends the thread and is re-raised by `get`.

    The queue holds at most `maxsize` items; while it is full the thread stops reading
    (back-pressure on the writer). Use a `maxsize` above the number of items the writer can
    be ahead of the consumer. `stop()` makes a thread blocked on a full queue give up.
    """

    def __init__(
        self,
        stream: IO[bytes],
        parse: Callable[[str], Iterable[T]],
        *,
        finish: Callable[[], Iterable[T]] | None = None,
        maxsize: int = 4096,
        tail_lines: int = 50,
        name: str = "vidpipe-line-drain",
    ) -> None:
        self._stream = stream
        self._parse = parse
        self._finish = finish
        self._queue: queue.Queue[T | _End] = queue.Queue(maxsize=maxsize)
        self._tail: collections.deque[str] = collections.deque(maxlen=tail_lines)
        self._tail_lock = threading.Lock()
        self._stop = threading.Event()
        self._end: _End | None = None  # set once the consumer has taken the sentinel
        self._read_all = threading.Event()  # the stream reached EOF (or failed)
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _put(self, item: T | _End) -> bool:
        """Queue `item`, waiting while the queue is full; False when stopped meanwhile."""
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=_PUT_POLL_S)
                return True
            except queue.Full:
                continue
        return False

    def _run(self) -> None:
        error: BaseException | None = None
        try:
            for raw in iter(self._stream.readline, b""):
                line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
                with self._tail_lock:
                    self._tail.append(line)
                for item in self._parse(line):
                    if not self._put(item):
                        return
            if self._finish is not None:
                for item in self._finish():
                    if not self._put(item):
                        return
        except BaseException as exc:  # carried to the consumer, re-raised by get()
            log.debug("line drain %s failed: %r", self._thread.name, exc)
            error = exc
        finally:
            self._read_all.set()
        self._put(_End(error))

    def get(self, timeout: float | None = None) -> T:
        """Next item. Raises `TimeoutError` when none comes within `timeout` seconds,
        `EOFError` once the stream has ended and every item was taken (again on each later
        call), or the exception that ended the drain thread."""
        if self._end is None:
            try:
                item = self._queue.get(timeout=timeout)
            except queue.Empty:
                raise TimeoutError(f"no line item within {timeout} s") from None
            if not isinstance(item, _End):
                return item
            self._end = item
        if self._end.error is not None:
            raise self._end.error
        raise EOFError("line drain ended")

    def final_tail(self, timeout: float) -> str:
        """`tail()` once the stream has been read to its end (waiting up to `timeout` s): for
        the error message of a writer that has exited, whose last lines may still be in the
        pipe when its exit is seen."""
        self._read_all.wait(timeout)
        return self.tail()

    def tail(self) -> str:
        """The last `tail_lines` lines read, joined with newlines."""
        with self._tail_lock:
            return "\n".join(self._tail)

    def is_alive(self) -> bool:
        """True while the drain thread runs."""
        return self._thread.is_alive()

    def stop(self) -> None:
        """Ask the thread to stop queueing (it still ends only at EOF if blocked reading)."""
        self._stop.set()

    def join(self, timeout: float | None = None) -> bool:
        """Stop queueing and wait for the thread (close the writer first so EOF comes).

        Returns True when the thread has ended.
        """
        self.stop()
        self._thread.join(timeout)
        alive = self._thread.is_alive()
        if alive:
            log.warning("line drain %s still running after join", self._thread.name)
        return not alive


_cancelled = threading.Event()
_held = 0  # depth of `interrupts_held()` sections on the main thread
_pending: int | None = None  # a signal `interrupt` held off, raised when the section ends
_graceful = 0  # depth of `stop_gracefully()` sections (a live run)
_finish = threading.Event()  # a graceful section was asked to finish (the first signal)


def cancel() -> None:
    """Ask every running `prefetch` consumer to raise KeyboardInterrupt at its next item.

    For signal handlers: a KeyboardInterrupt raised inside a C callback (PyAV's I/O) can be
    swallowed there; this flag is seen at the next frame whatever the handler interrupted.
    """
    _cancelled.set()


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
        if _finish.wait(min(left, _GET_POLL_S)) or _cancelled.is_set():
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


def prefetch(
    source: Iterable[T], maxsize: int = 8, *, name: str = "vidpipe-prefetch"
) -> Iterator[T]:
    """Iterate `source` on a background thread, at most `maxsize` items ahead.

    A generator stage: `for frame in prefetch(decode(path), 8): ...`. Items arrive in order;
    an exception raised by `source` is re-raised in the consumer after the items before it.
    Closing this generator early (break, an error downstream, Ctrl-C) stops the producer,
    closes `source` on the producer's own thread and joins it. Memory: `maxsize` items.
    """
    if maxsize < 1:
        raise ValueError(f"maxsize must be >= 1, got {maxsize}")
    items: queue.Queue[T | _End] = queue.Queue(maxsize=maxsize)
    stop = threading.Event()

    def put(item: T | _End) -> bool:
        while not stop.is_set():
            try:
                items.put(item, timeout=_PUT_POLL_S)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        iterator = iter(source)
        error: BaseException | None = None
        try:
            for item in iterator:
                if not put(item):
                    break
        except BaseException as exc:  # carried to the consumer
            error = exc
        finally:
            try:
                close_if_closable(iterator)
            except BaseException as exc:
                error = error or exc
        put(_End(error))

    thread = threading.Thread(target=produce, name=name, daemon=True)
    thread.start()
    try:
        while True:
            if _cancelled.is_set():
                raise KeyboardInterrupt("cancelled")
            try:
                item = items.get(timeout=_GET_POLL_S)
            except queue.Empty:
                continue
            if isinstance(item, _End):
                if item.error is not None:
                    raise item.error
                return
            yield item
    finally:
        stop.set()
        thread.join(_JOIN_S)
        if thread.is_alive():
            log.warning("prefetch thread %s did not stop within %.0f s", name, _JOIN_S)


def ordered_map(
    fn: Callable[[T], R],
    source: Iterable[T],
    workers: int,
    *,
    ahead: int = 1,
    name: str = "vidpipe-map",
) -> Iterator[R]:
    """`fn(item)` for each item of `source`, `workers` calls at a time on background threads,
    results in input order: `prefetch` with several workers. A worker takes the next item as
    soon as it is free (no batch barrier), while at most `workers + ahead` items are taken
    before the consumer has theirs. `source` is iterated by one worker at a time (under a
    lock). An exception of `source` or `fn` is re-raised in the consumer in its item's place.
    Closing this generator early stops the workers, joins them and closes `source`."""
    if workers < 1 or ahead < 0:
        raise ValueError(f"workers must be >= 1 and ahead >= 0, got {workers}, {ahead}")
    iterator = iter(source)
    pulling = threading.Lock()  # one worker at a time iterates the source
    ready = threading.Condition()  # guards results and state
    stop = threading.Event()
    results: dict[int, tuple[bool, Any]] = {}  # index -> (ok, result or exception)
    state = {"taken": 0, "consumed": 0, "end": -1}  # end: items in source, once known

    def room() -> bool:
        """Wait (holding `ready`) until an item may be taken; False to stop."""
        while not stop.is_set() and state["end"] < 0:
            if state["taken"] - state["consumed"] < workers + ahead:
                return True
            ready.wait(_PUT_POLL_S)
        return False

    def work() -> None:
        while True:
            with pulling:
                with ready:
                    if not room():
                        return
                    index = state["taken"]
                try:
                    outcome: tuple[bool, Any] = (True, next(iterator))
                except StopIteration:
                    with ready:
                        state["end"] = index
                        ready.notify_all()
                    return
                except BaseException as exc:  # carried to the consumer, then the end
                    with ready:
                        results[index], state["end"] = (False, exc), index + 1
                        ready.notify_all()
                    return
                with ready:
                    state["taken"] = index + 1
            try:
                outcome = (True, fn(outcome[1]))
            except BaseException as exc:
                outcome = (False, exc)
            with ready:
                results[index] = outcome
                ready.notify_all()

    threads = [threading.Thread(target=work, name=f"{name}-{i}", daemon=True)
               for i in range(workers)]  # fmt: skip
    for thread in threads:
        thread.start()
    try:
        index = 0
        while True:
            with ready:
                while index not in results and index != state["end"]:
                    if _cancelled.is_set():
                        raise KeyboardInterrupt("cancelled")
                    ready.wait(_GET_POLL_S)
                if index == state["end"] and index not in results:
                    return
                ok, value = results.pop(index)
                state["consumed"] = index = index + 1
                ready.notify_all()
            if not ok:
                raise value
            yield value
    finally:
        stop.set()
        with ready:
            ready.notify_all()
        for thread in threads:
            thread.join(_JOIN_S)
            if thread.is_alive():
                log.warning("map thread %s did not stop within %.0f s", thread.name, _JOIN_S)
        close_if_closable(iterator)


class _Abort(Exception):
    """Raised inside a `Feed` consumer's iterator when its producer gave up."""


_FINISH = object()  # the last item of a Feed: its iterator ends


class Feed(Generic[T, R]):
    """The mirror of `prefetch`: `consume(items)` runs on a background thread while this
    thread `put`s the items, at most `maxsize` ahead of it (the encoder behind the stages).

    `finish()` ends the items, waits for `consume` and returns its result or re-raises its
    exception. `abort()` makes the iterator `consume` reads raise (so its own `finally` /
    `except` cleans up: a temporary file removed, an ffmpeg child killed), waits for it and
    swallows what that raises. `put` re-raises the consumer's exception when it ended early,
    and raises KeyboardInterrupt after `cancel()`. The thread is joined by `finish` /
    `abort`, whichever comes first; both may be called again.
    """

    def __init__(
        self, consume: Callable[[Iterator[T]], R], maxsize: int = 8, *, name: str = "vidpipe-feed"
    ) -> None:
        if maxsize < 1:
            raise ValueError(f"maxsize must be >= 1, got {maxsize}")
        self._items: queue.Queue[object] = queue.Queue(maxsize=maxsize)
        self._consume = consume
        self._aborted = threading.Event()
        self._done = threading.Event()
        self._result: R | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _iterate(self) -> Iterator[T]:
        while True:
            if self._aborted.is_set():
                raise _Abort("the producer gave up")
            try:
                item = self._items.get(timeout=_GET_POLL_S)
            except queue.Empty:
                continue
            if item is _FINISH:
                return
            yield item  # type: ignore[misc]

    def _run(self) -> None:
        try:
            self._result = self._consume(self._iterate())
        except BaseException as exc:  # carried to the producer
            self._error = exc
        finally:
            self._done.set()

    def _raise_if_ended(self) -> None:
        if self._done.is_set():
            if self._error is not None:
                raise self._error
            raise RuntimeError(f"{self._thread.name}: the consumer ended before its input")

    def put(self, item: T) -> None:
        """Hand `item` to the consumer, waiting while it is `maxsize` items behind."""
        while True:
            if _cancelled.is_set():
                raise KeyboardInterrupt("cancelled")
            self._raise_if_ended()
            try:
                self._items.put(item, timeout=_PUT_POLL_S)
                return
            except queue.Full:
                continue

    def _join(self) -> None:
        while not self._done.wait(_GET_POLL_S):  # wakes so a signal's handler runs promptly
            if _cancelled.is_set():
                raise KeyboardInterrupt("cancelled")
        self._thread.join()

    def finish(self) -> R:
        """End the items; the consumer's result (its exception re-raised)."""
        if not self._done.is_set():
            while True:
                self._raise_if_ended()
                try:
                    self._items.put(_FINISH, timeout=_PUT_POLL_S)
                    break
                except queue.Full:
                    if _cancelled.is_set():
                        raise KeyboardInterrupt("cancelled") from None
            self._join()
        if self._error is not None:
            raise self._error
        return self._result  # type: ignore[return-value]

    def abort(self) -> None:
        """Stop the consumer through its iterator and wait for it; its error is dropped.
        A consumer already past its input (flushing) is waited for."""
        self._aborted.set()
        self._done.wait()
        self._thread.join()


def thread_map(fn: Callable[[T], R], items: Sequence[T], workers: int) -> list[R]:
    """`[fn(item) for item in items]`, up to `workers` calls at a time on threads (one call on
    the caller's thread when there is a single item or worker). Results in input order; the
    first exception is re-raised after every call has ended."""
    if workers <= 1 or len(items) <= 1:
        return [fn(item) for item in items]
    with concurrent.futures.ThreadPoolExecutor(
        max_workers=min(workers, len(items)), thread_name_prefix="vidpipe-map"
    ) as pool:
        return list(pool.map(fn, items))


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
