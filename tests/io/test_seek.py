"""`Source.frames(start=frame)`: decoding from a frame listed before (a seek to the key frame
at or before it) gives exactly the frames a decode from the start gives there: pixels, pts,
indexes; also where the demuxer's seek lands late (MPEG-PS), and with either backend."""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

import pytest
from conftest import SAMPLE_CLIPS

import vidpipe as vp
from vidpipe.errors import VidpipeError


def _rows(frames, n: int | None = None) -> list[tuple]:
    rows = []
    for frame in frames:
        rows.append((frame.index, frame.pts, hashlib.sha1(frame.planes[0].tobytes()).hexdigest()))
        if n is not None and len(rows) == n:
            break
    return rows


def _check(path: Path, backend: str = "av") -> None:
    with vp.open(path, backend=backend) as src:
        full = _rows(src.frames())
        starts = list(src.frames("nonintra"))[1:] or list(src.frames())[5:6]
        for start in starts:
            assert _rows(src.frames(start=start), 30) == full[start.index : start.index + 30]


@pytest.mark.parametrize("path", SAMPLE_CLIPS, ids=lambda p: p.name)
def test_a_seek_gives_the_frames_of_a_full_decode(path: Path) -> None:
    _check(path)


def test_a_late_seek_is_retried_further_back(real_corpus: list[Path]) -> None:
    """MPEG-PS seeks by position and lands a GOP late: the frames are still exact."""
    mpeg_ps = [p for p in real_corpus if p.suffix == ".mpg"]
    assert mpeg_ps
    for path in mpeg_ps:
        _check(path)
    _check(next(p for p in real_corpus if p.name == "bikes.mp4"), backend="ffmpeg")


def test_no_seek_without_pts_or_in_a_live_stream() -> None:
    with vp.open(SAMPLE_CLIPS[0]) as src:
        first = next(iter(src.frames()))
        with pytest.raises(VidpipeError, match="no seeking"):
            src.frames(start=dataclasses.replace(first, pts=None))
