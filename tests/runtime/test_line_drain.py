"""Tests of vidpipe.runtime.threads.LineDrain: a subprocess pipe read line by line on a thread
(ffmpeg's stderr side channel), its items queued, its end and errors carried to the consumer."""

from __future__ import annotations

import io
import os

import pytest

from vidpipe.runtime.threads import LineDrain


def test_line_drain_ends_with_sentinel_and_keeps_a_bounded_tail() -> None:
    data = b"".join(b"line %d\n" % i for i in range(100)) + b"last \xff no newline"
    drain: LineDrain[str] = LineDrain(io.BytesIO(data), lambda s: [s] if "7" in s else [])
    items = []
    with pytest.raises(EOFError):
        while True:
            items.append(drain.get(timeout=5))
    assert items[0] == "line 7" and len(items) == 19
    with pytest.raises(EOFError):  # the end is sticky
        drain.get(timeout=0.1)
    assert drain.join(timeout=5)
    tail = drain.tail().splitlines()
    assert len(tail) == 50 and tail[-1] == "last \ufffd no newline"


def test_line_drain_carries_parse_errors_to_the_consumer() -> None:
    def parse(line: str) -> list[int]:
        return [int(line)]

    drain: LineDrain[int] = LineDrain(io.BytesIO(b"1\n2\nthree\n4\n"), parse)
    assert [drain.get(timeout=5), drain.get(timeout=5)] == [1, 2]
    with pytest.raises(ValueError, match="three"):
        drain.get(timeout=5)
    assert drain.join(timeout=5)


def test_line_drain_times_out_and_stops_when_full() -> None:
    read_end, write_end = os.pipe()
    with open(read_end, "rb") as reader, open(write_end, "wb", buffering=0) as writer:
        drain: LineDrain[str] = LineDrain(reader, lambda s: [s], maxsize=1)
        with pytest.raises(TimeoutError):
            drain.get(timeout=0.05)
        writer.write(b"a\nb\nc\n")
        assert drain.get(timeout=5) == "a"
        writer.close()  # EOF; the thread may be blocked on the full queue: stop() frees it
        assert drain.join(timeout=5)
