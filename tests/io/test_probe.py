"""probe() against ffprobe -show_streams, and the GOP summary on known structures."""

from __future__ import annotations

from fractions import Fraction

import pytest
from conftest import SAMPLE_CLIPS, ffprobe_json, needs_ffprobe

from vidpipe.io.probe import gop_summary, probe
from vidpipe.types import PictureType


def _stream(clip, kind: str) -> list[dict]:
    data = ffprobe_json(clip, "-show_streams", "-show_format")
    return [s for s in data["streams"] if s["codec_type"] == kind]


@needs_ffprobe
@pytest.mark.parametrize("clip", SAMPLE_CLIPS, ids=lambda p: p.name)
def test_probe_matches_ffprobe(clip):
    ref = _stream(clip, "video")[0]
    info = probe(str(clip))
    assert info.codec == ref["codec_name"]
    assert (info.width, info.height) == (ref["width"], ref["height"])
    assert info.pix_fmt == ref["pix_fmt"]
    assert info.frame_rate == Fraction(ref["r_frame_rate"])
    assert info.color.range == ref.get("color_range", "unknown")
    assert info.color.matrix == ref.get("color_space", "unknown")
    assert info.color.chroma_location == ref.get("chroma_location", "unspecified")
    if "field_order" in ref:
        assert info.field_order == ref["field_order"]
    rotation = next(
        (int(sd["rotation"]) for sd in ref.get("side_data_list", []) if "rotation" in sd), 0
    )
    assert info.rotation == rotation
    if "nb_frames" in ref:
        assert info.frame_count == int(ref["nb_frames"])
    assert len(info.audio) == len(_stream(clip, "audio"))


def test_probe_counts_frames_without_container_count():
    clip = next(p for p in SAMPLE_CLIPS if p.suffix == ".webm")  # Matroska records no count
    assert probe(str(clip)).frame_count == 50


def test_rotation_and_audio():
    rotated = probe(str(next(p for p in SAMPLE_CLIPS if "rotated" in p.name)))
    assert abs(rotated.rotation) == 90
    with_audio = probe(str(next(p for p in SAMPLE_CLIPS if "aac" in p.name)))
    assert with_audio.audio[0].codec == "aac" and with_audio.audio[0].channels == 2


def test_gop_of_known_clip(bframe_clip):
    g = probe(str(bframe_clip), gop=True).gop
    assert (g.frames, g.i_frames, g.p_frames, g.b_frames) == (40, 4, 12, 24)
    assert (g.key_frames, g.keyframe_interval_mean, g.keyframe_interval_max) == (4, 10.0, 10)
    assert g.longest_b_run == 2
    assert (g.open_gops, g.closed_gops) == (0, 4)


def test_scene_cut_i_frames_are_not_key_frames():
    clip = next(p for p in SAMPLE_CLIPS if "scenecut" in p.name)
    g = probe(str(clip), gop=True).gop
    assert g.i_frames > g.key_frames


def test_gop_summary_open_gop_detection():
    # "k" marks a key I frame; an I preceded by B in display order opens a GOP.
    seq = [(PictureType.I, True)] + [(PictureType.B, False), (PictureType.P, False)] * 2
    seq += [(PictureType.B, False), (PictureType.I, True), (PictureType.P, False)]
    g = gop_summary(seq)
    assert (g.open_gops, g.closed_gops) == (1, 1)
    assert g.keyframe_interval_max == 6 and g.longest_b_run == 1
    empty = gop_summary([])
    assert empty.frames == 0 and empty.keyframe_interval_mean is None
