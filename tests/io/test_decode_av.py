"""PyAV backend: types, key flags, pts, packet sizes and pixels against ffprobe / ffmpeg."""

from __future__ import annotations

import random
import subprocess
from itertools import pairwise

import numpy as np
import pytest
from conftest import (
    FFMPEG,
    SAMPLE_CLIPS,
    ffprobe_frames,
    make_clip,
    needs_ffmpeg_cli,
    needs_ffprobe,
)

from vidpipe.io.decode import decode
from vidpipe.io.packets import BestEffort, _DisplayOrder
from vidpipe.pixfmt import split_planes
from vidpipe.types import PictureType


@needs_ffprobe
@pytest.mark.parametrize("clip", SAMPLE_CLIPS, ids=lambda p: p.name)
def test_frames_match_ffprobe(clip):
    ref = ffprobe_frames(clip)
    ours = list(decode(str(clip)))
    assert len(ours) == len(ref)
    for i, (r, f) in enumerate(zip(ref, ours, strict=True)):
        assert f.index == i
        assert f.pict_type.letter == r["pict_type"], i
        assert f.key_frame == bool(r["key_frame"]), i
        assert f.pts == r.get("pts"), i
        assert f.pkt_size == int(r["pkt_size"]), i


OPEN_GOP = ["-c:v", "libx264", "-bf", "3", "-pix_fmt", "yuv420p",
            "-x264-params", "open-gop=1:keyint=30:min-keyint=30:scenecut=0"]  # fmt: skip


@needs_ffprobe
@needs_ffmpeg_cli
@pytest.mark.parametrize(
    ("name", "extra"),
    [
        ("open_gop.mp4", []),  # avcC: length-prefixed NAL units
        ("open_gop.ts", []),  # Annex B: start codes
        # 40 IDR frames first: the skipping decode has given frames when the first open-GOP
        # key frame (69) comes, and the rest is decoded from the last one given
        ("idr_then_open.mp4", ["-forced-idr", "1", "-force_key_frames", "expr:lt(n,40)"]),
    ],
)
def test_skipping_an_open_gop_loses_no_i_frame(tmp_path, name, extra):
    """FFmpeg's H.264 decoder skipping frames drops most I frames of an open GOP (key
    frames that are not IDR); the skip paths still give ffprobe's I / key frames, with the
    pixels of a full decode."""
    clip = tmp_path / name
    subprocess.run([FFMPEG, "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=96x64:rate=25",
                    "-t", "5", *OPEN_GOP, *extra, str(clip)], check=True)  # fmt: skip
    ref = ffprobe_frames(clip)
    want_i = [i for i, r in enumerate(ref) if r["pict_type"] == "I"]
    assert len(want_i) >= 4 and want_i[-1] > 90
    full = list(decode(str(clip)))
    intra = list(decode(str(clip), skip="nonintra"))
    keys = list(decode(str(clip), skip="nonkey"))
    assert [f.index for f in intra] == want_i
    assert [f.index for f in keys] == [i for i, r in enumerate(ref) if r["key_frame"]]
    for got in (intra, keys):
        for frame in got:
            assert frame.pts == full[frame.index].pts
            for pa, pb in zip(frame.planes, full[frame.index].planes, strict=True):
                np.testing.assert_array_equal(pa, pb)


@pytest.mark.parametrize("clip", SAMPLE_CLIPS, ids=lambda p: p.name)
def test_skip_paths_give_the_same_frames(clip):
    full = list(decode(str(clip)))
    intra = list(decode(str(clip), skip="nonintra"))
    keys = list(decode(str(clip), skip="nonkey"))
    want_i = [f for f in full if f.pict_type is PictureType.I]
    want_k = [f for f in full if f.key_frame]
    for got, want in ((intra, want_i), (keys, want_k)):
        assert [(f.index, f.pts, f.pict_type) for f in got] == [
            (f.index, f.pts, f.pict_type) for f in want
        ]
        for a, b in zip(got, want, strict=True):
            for pa, pb in zip(a.planes, b.planes, strict=True):
                np.testing.assert_array_equal(pa, pb)


def test_known_gop_pattern(bframe_clip):
    letters = "".join(f.pict_type.letter for f in decode(str(bframe_clip)))
    assert letters == "IBBPBBPBBP" * 4
    keys = [f.index for f in decode(str(bframe_clip)) if f.key_frame]
    assert keys == [0, 10, 20, 30]


@needs_ffmpeg_cli
@pytest.mark.parametrize("clip", SAMPLE_CLIPS, ids=lambda p: p.name)
def test_pixels_match_ffmpeg_rawvideo(clip):
    """Planes (padding stripped, odd sizes) equal what the ffmpeg CLI decodes."""
    frames = list(decode(str(clip)))
    first = frames[0]
    raw = subprocess.run(
        [FFMPEG, "-v", "error", "-noautorotate", "-i", str(clip), "-map", "0:v:0",
         "-frames:v", "3", "-fps_mode", "passthrough", "-f", "rawvideo",
         "-pix_fmt", first.pix_fmt, "-"],
        check=True,
        capture_output=True,
    ).stdout  # fmt: skip
    nbytes = len(raw) // 3
    for k in range(3):
        ref = split_planes(
            raw[k * nbytes : (k + 1) * nbytes], first.pix_fmt, first.width, first.height
        )
        for ours, theirs in zip(frames[k].planes, ref, strict=True):
            assert ours.flags.c_contiguous
            np.testing.assert_array_equal(ours, theirs)


def test_odd_size_chroma_is_ceil():
    clip = next(p for p in SAMPLE_CLIPS if "641x361" in p.name)
    frame = next(decode(str(clip)))
    assert [p.shape for p in frame.planes] == [(361, 641), (181, 321), (181, 321)]


def test_ten_bit_planes_are_uint16_in_range():
    clip = next(p for p in SAMPLE_CLIPS if "10bit" in p.name)
    frame = next(decode(str(clip)))
    assert frame.pix_fmt == "yuv420p10le"
    assert all(p.dtype == np.uint16 and int(p.max()) < 1024 for p in frame.planes)


def test_vfr_timestamps_are_kept():
    clip = next(p for p in SAMPLE_CLIPS if "vfr" in p.name)
    times = [f.time for f in decode(str(clip))]
    steps = {round(b - a, 3) for a, b in pairwise(times)}
    assert len(steps) > 1, "variable frame rate must survive decoding"
    assert all(b > a for a, b in pairwise(times))


@pytest.mark.parametrize("seed", range(25))
def test_display_order_matches_sorting(seed):
    """Indexes from a bounded-reorder packet stream equal the rank of each pts."""
    rng = random.Random(seed)
    display = sorted(rng.sample(range(10_000), 300))
    decode_order = list(display)
    for start in range(0, len(decode_order), 8):  # reorder within mini-GOPs (like B-pyramids)
        chunk = decode_order[start : start + 8]
        rng.shuffle(chunk)
        decode_order[start : start + 8] = chunk
    order = _DisplayOrder(window=16)
    for pts in decode_order:
        order.add(pts, 1)
    order.finish()
    assert [order.take(p)[0] for p in display] == list(range(len(display)))


def test_best_effort_timestamps_follow_ffmpegs_rule():
    """libavcodec's guess_correct_pts: pts while it is the less faulty clock, else dts; a
    frame with neither follows the previous by its duration (as the ffmpeg CLI times it)."""
    good = BestEffort()
    assert [good.next(p, d) for p, d in [(0, None), (1, 0), (2, 1), (3, 2)]] == [0, 1, 2, 3]
    # pts invented in decode order on a stream with B-frames (AVI in FFmpeg 8): the first
    # pts going backwards hands over to dts for good.
    faulty = BestEffort()
    pairs = [(1, 2), (3, 3), (2, 4), (5, 5), (4, 6), (7, 7)]
    assert [faulty.next(p, d) for p, d in pairs] == [1, 3, 4, 5, 6, 7]
    no_pts = BestEffort()
    assert [no_pts.next(None, d) for d in (1, 2, 3)] == [1, 2, 3]
    assert no_pts.next(None, None) == 4  # the flushed last frame: previous + its step
    assert no_pts.next(None, None, duration=5) == 5  # ... by the previous frame's duration
    assert no_pts.next(None, None) == 10
    assert BestEffort(default_step=40).next(None, None) is None  # nothing to follow yet


def test_frames_are_handed_on_as_decoded_to_the_end(tmp_path, monkeypatch):
    """At most a few decoded frames wait for their turn, at the end of the video too: the
    last LOOKAHEAD packets were decoded all at once before any of their frames went out
    (37 frames held: 100 MB at 1080p, the peak RSS of every detect run)."""
    import vidpipe.io.decode_av as decode_av

    clip = make_clip(tmp_path / "b.mp4", frames=100, options={"bf": "3"})
    decoded = 0
    real = decode_av._decode

    def counted(stream, packet, stats):
        nonlocal decoded
        frames = real(stream, packet, stats)
        decoded += len(frames)
        return frames

    monkeypatch.setattr(decode_av, "_decode", counted)
    held = [decoded - i for i, _ in enumerate(decode(str(clip)))]
    assert len(held) == 100 and max(held) <= 8, held
