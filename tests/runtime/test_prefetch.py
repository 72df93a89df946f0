"""prefetch(): order, bounded look-ahead, errors carried over, early close joins everything."""

from __future__ import annotations

import threading
import time

import pytest

from vidpipe.runtime.threads import prefetch


def _threads() -> set[str]:
    return {t.name for t in threading.enumerate() if t.name.startswith("vidpipe")}


def test_order_and_completion():
    assert list(prefetch(range(1000), 4)) == list(range(1000))
    assert _threads() == set()


def test_look_ahead_is_bounded():
    produced = []

    def source():
        for i in range(100):
            produced.append(i)
            yield i

    it = prefetch(source(), 3)
    assert next(it) == 0
    time.sleep(0.3)
    assert len(produced) <= 1 + 3 + 1  # taken + queued + the one waiting to be put
    it.close()


def test_exception_reaches_consumer_after_the_items_before_it():
    def source():
        yield 1
        yield 2
        raise RuntimeError("decoder broke")

    got = []
    with pytest.raises(RuntimeError, match="decoder broke"):
        for item in prefetch(source(), 2):
            got.append(item)
    assert got == [1, 2]
    assert _threads() == set()


def test_early_close_closes_the_source_on_its_thread():
    closed_on = []

    def source():
        try:
            i = 0
            while True:
                yield i
                i += 1
        finally:
            closed_on.append(threading.current_thread().name)

    it = prefetch(source(), 2, name="vidpipe-test")
    assert [next(it) for _ in range(5)] == [0, 1, 2, 3, 4]
    it.close()
    assert closed_on == ["vidpipe-test"]
    assert _threads() == set()


def test_consumer_error_stops_the_producer():
    with pytest.raises(ValueError):
        for item in prefetch(iter(range(10**9)), 2):
            if item == 10:
                raise ValueError("downstream failed")
    assert _threads() == set()


def test_bad_size():
    with pytest.raises(ValueError):
        list(prefetch([], 0))


def test_thread_map_keeps_order_runs_in_parallel_and_reraises() -> None:
    import threading
    import time

    from vidpipe.runtime.threads import thread_map

    names: set[str] = set()

    def slow_square(x: int) -> int:
        names.add(threading.current_thread().name)
        time.sleep(0.05)
        return x * x

    before = threading.active_count()
    assert thread_map(slow_square, list(range(6)), 3) == [0, 1, 4, 9, 16, 25]
    assert len(names) == 3 and all(n.startswith("vidpipe-map") for n in names)
    assert thread_map(slow_square, [7], 4) == [49]  # one item: the caller's thread

    def boom(x: int) -> int:
        if x == 2:
            raise ValueError("bad item")
        return x

    with pytest.raises(ValueError, match="bad item"):
        thread_map(boom, [1, 2, 3], 2)
    assert threading.active_count() == before  # every thread joined
