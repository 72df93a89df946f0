"""All of vidpipe's threads and queues live here (and in `runtime.watchdog`); no other
module creates either.

Helpers:

* `LineDrain` - reads a subprocess pipe (e.g. ffmpeg's stderr) line by line on a daemon
  thread, turns lines into items with a parse callback and hands them to the consumer
  through a queue; keeps a bounded tail of the raw lines for error messages. The thread
  always ends with a sentinel (at EOF, or carrying its exception), so a consumer never
  deadlocks waiting for it.

* `prefetch` - runs an upstream stage on a thread ahead of its consumer through a bounded
  queue (decode ahead of processing, processing ahead of encoding). A stop event, put/get
  with timeouts, the producer's exception carried to the consumer and re-raised there, and
  the producer (and the upstream generator it drives) closed and joined in `finally`.

* `ordered_map` - `prefetch` with several workers calling a function, results in order.

* `Feed` - the mirror of `prefetch`: a consumer (the encoder) runs on a thread behind the
  caller, who puts items into a bounded queue; finish / abort, errors carried back.

* `thread_map` - calls a function on several items at once on a few threads (for calls that
  release the GIL, such as an onnxruntime session running one frame per core), results in
  order, the first exception re-raised; every thread is joined before it returns.

Every consumer that waits checks `vidpipe.runtime.signals.cancelled()` at least every
`_GET_POLL_S` and raises KeyboardInterrupt once a signal handler has called `cancel()`.
"""

from __future__ import annotations

import collections
import concurrent.futures
import logging
import queue
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import IO, Any, Generic, TypeVar

from vidpipe.runtime.closing import close_if_closable
from vidpipe.runtime.signals import cancelled

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")

_PUT_POLL_S = 0.1  # how often a producer blocked on a full queue checks its stop event
_GET_POLL_S = 0.1  # how often a waiting consumer wakes (so Ctrl-C is seen promptly)
_JOIN_S = 30.0  # longest wait for a producer stuck inside its upstream stage


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
            if cancelled():
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
                    if cancelled():
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
            if cancelled():
                raise KeyboardInterrupt("cancelled")
            self._raise_if_ended()
            try:
                self._items.put(item, timeout=_PUT_POLL_S)
                return
            except queue.Full:
                continue

    def _join(self) -> None:
        while not self._done.wait(_GET_POLL_S):  # wakes so a signal's handler runs promptly
            if cancelled():
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
                    if cancelled():
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
