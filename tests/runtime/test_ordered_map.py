"""ordered_map(): results in input order from several workers, no batch barrier, bounded
look-ahead, errors in their place, early close joins the workers and closes the source."""

from __future__ import annotations

import threading
import time

import pytest

from vidpipe.runtime.threads import ordered_map


def _threads() -> set[str]:
    return {t.name for t in threading.enumerate() if t.name.startswith("vidpipe")}


def _wait_for(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.005)


def test_order_whatever_the_finishing_order():
    def slow_evens(x: int) -> int:
        if x % 2 == 0:
            time.sleep(0.002)
        return x * x

    assert list(ordered_map(slow_evens, range(200), 3)) == [x * x for x in range(200)]
    assert list(ordered_map(slow_evens, [], 2)) == []
    _wait_for(lambda: not _threads())


def test_workers_run_at_once_and_a_free_worker_does_not_wait_for_a_slow_one():
    """Item 0 blocks until item 2 has been computed: with a batch barrier (2 workers taking
    items two by two) that would never happen."""
    done = {2: threading.Event()}

    def fn(x: int) -> int:
        if x == 0:
            assert done[2].wait(10), "worker 2 never ran item 2 while item 0 was running"
        if x == 2:
            done[2].set()
        return x

    assert list(ordered_map(fn, range(6), 2, ahead=2)) == list(range(6))


def test_look_ahead_is_bounded():
    taken = []

    def source():
        for i in range(100):
            taken.append(i)
            yield i

    it = ordered_map(lambda x: x, source(), 2, ahead=1)
    assert next(it) == 0
    _wait_for(lambda: len(taken) >= 3)
    assert len(taken) <= 1 + 2 + 1  # consumed + workers + ahead
    it.close()
    _wait_for(lambda: not _threads())


def test_errors_arrive_in_their_place():
    def fn(x: int) -> int:
        if x == 5:
            raise KeyError(x)
        return x

    got = []
    with pytest.raises(KeyError):
        for value in ordered_map(fn, range(10), 3):
            got.append(value)
    assert got == [0, 1, 2, 3, 4]

    def source():
        yield 1
        yield 2
        raise ValueError("source broke")

    got = []
    with pytest.raises(ValueError, match="source broke"):
        for value in ordered_map(lambda x: x, source(), 2):
            got.append(value)
    assert got == [1, 2]
    _wait_for(lambda: not _threads())


def test_early_close_joins_the_workers_and_closes_the_source():
    closed = threading.Event()

    def source():
        try:
            yield from range(10_000)
        finally:
            closed.set()

    it = ordered_map(lambda x: x + 1, source(), 2)
    assert [next(it), next(it)] == [1, 2]
    it.close()
    assert closed.is_set() and not _threads()


def test_bad_arguments():
    with pytest.raises(ValueError):
        next(ordered_map(lambda x: x, [1], 0))
