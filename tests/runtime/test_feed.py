"""Feed: a consumer on a thread behind its producer (the Sink's encoder) — results, bounded
queue, the consumer's error carried back, abort through its iterator, cancel, threads joined."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from vidpipe.runtime import signals
from vidpipe.runtime.threads import Feed


def _threads() -> set[str]:
    return {t.name for t in threading.enumerate() if t.name.startswith("vidpipe")}


def test_finish_returns_what_the_consumer_made_from_every_item() -> None:
    feed: Feed[int, list[int]] = Feed(list, 4)
    for i in range(1000):
        feed.put(i)
    assert feed.finish() == list(range(1000))
    assert feed.finish() == list(range(1000))  # again: the same result
    assert _threads() == set()


def test_the_queue_is_bounded() -> None:
    gate = threading.Event()
    taken: list[int] = []

    def consume(items: Iterator[int]) -> int:
        for item in items:
            taken.append(item)
            gate.wait(10)
        return len(taken)

    feed: Feed[int, int] = Feed(consume, 2)
    feed.put(0)
    for _ in range(1000):  # bounded polling: the consumer takes 0, then waits on the gate
        if taken:
            break
        threading.Event().wait(0.01)
    feed.put(1)
    feed.put(2)
    assert taken == [0] and feed._items.full()  # 2 queued: the next put would wait
    gate.set()
    assert feed.finish() == 3


def test_the_consumers_error_reaches_put_and_finish() -> None:
    def consume(items: Iterator[int]) -> None:
        for item in items:
            if item == 3:
                raise ValueError("bad item 3")

    feed: Feed[int, None] = Feed(consume, 2)
    with pytest.raises(ValueError, match="bad item 3"):
        for i in range(10_000):  # a put after the consumer died re-raises its error
            feed.put(i)
    with pytest.raises(ValueError, match="bad item 3"):
        feed.finish()
    assert _threads() == set()


def test_abort_raises_inside_the_consumer_so_it_cleans_up() -> None:
    cleaned = []

    def consume(items: Iterator[int]) -> int:
        try:
            return sum(items)
        finally:
            cleaned.append(True)

    feed: Feed[int, int] = Feed(consume, 4)
    feed.put(1)
    feed.abort()
    assert cleaned == [True]
    assert _threads() == set()
    feed.abort()  # again: nothing more


def test_cancel_stops_the_producer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(signals, "_cancelled", threading.Event())
    gate = threading.Event()
    feed: Feed[int, None] = Feed(lambda items: [gate.wait(10) for _ in items] and None, 1)
    feed.put(0)
    feed.put(1)
    signals.cancel()
    with pytest.raises(KeyboardInterrupt):
        feed.put(2)
    gate.set()
    feed.abort()
    assert _threads() == set()


def test_a_drains_final_tail_has_every_line_a_process_wrote_before_it_exited() -> None:
    """The error of an exited ffmpeg carries its last stderr lines: `final_tail` waits for
    the drain to read the pipe to its end (`tail()` right after the exit may not have them)."""
    import subprocess
    import sys

    from vidpipe.runtime.threads import LineDrain

    code = "import sys\nfor i in range(2000): sys.stderr.write(f'line {i}\\n')\nsys.exit(3)"
    proc = subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE)
    assert proc.stderr is not None
    drain: LineDrain[str] = LineDrain(proc.stderr, lambda line: (), tail_lines=5)
    assert proc.wait(timeout=60) == 3
    assert drain.final_tail(30).splitlines()[-1] == "line 1999"
    assert drain.join(10)
    proc.stderr.close()
