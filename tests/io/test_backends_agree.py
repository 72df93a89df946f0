"""The PyAV and FFmpeg-subprocess backends emit the same frames on every sample clip."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import SAMPLE_CLIPS

from vidpipe.io.decode import decode


@pytest.mark.parametrize("clip", SAMPLE_CLIPS, ids=lambda p: p.name)
def test_backends_agree(clip):
    ours = list(decode(str(clip), backend="av"))
    theirs = list(decode(str(clip), backend="ffmpeg"))
    assert len(ours) == len(theirs) > 0
    for a, b in zip(ours, theirs, strict=True):
        fields = ("index", "pts", "time_base", "pict_type", "key_frame", "pix_fmt", "rotation")
        # Packet sizes come from the container for both, except on AVI with ffmpeg (no pts
        # there to find a frame's packet by).
        assert a.pkt_size == b.pkt_size or (b.pkt_size is None and clip.suffix == ".avi")
        assert [getattr(a, f) for f in fields] == [getattr(b, f) for f in fields], a.index
        assert (a.color.matrix, a.color.range) == (b.color.matrix, b.color.range)
        for pa, pb in zip(a.planes, b.planes, strict=True):
            np.testing.assert_array_equal(pa, pb)


@pytest.mark.parametrize("skip", ["nonintra", "nonkey"])
def test_backends_agree_when_skipping(skip):
    clip = next(p for p in SAMPLE_CLIPS if "scenecut" in p.name)
    ours = [(f.index, f.pts, f.pict_type) for f in decode(str(clip), skip=skip)]
    theirs = [(f.index, f.pts, f.pict_type) for f in decode(str(clip), backend="ffmpeg", skip=skip)]
    assert ours == theirs and len(ours) >= 1


@pytest.mark.parametrize("backend", ["av", "ffmpeg"])
def test_closing_early_releases_everything(backend):
    clip = next(p for p in SAMPLE_CLIPS if "hevc" in p.name)  # frame-threaded decoder
    frames = decode(str(clip), backend=backend)
    first = [next(frames) for _ in range(3)]
    frames.close()
    assert [f.index for f in first] == [0, 1, 2]
