"""Tests of vidpipe.io.showinfo: ffmpeg's showinfo lines (FFmpeg 5.1 and 9.0 forms, captured)
parsed into frames, and their colour names into a ColorInfo."""

from __future__ import annotations

import dataclasses
from fractions import Fraction

import pytest

from vidpipe.io.showinfo import (
    ShowinfoFrame,
    ShowinfoParser,
    frame_color,
    parse_frame_message,
    showinfo_message,
)
from vidpipe.types import ColorInfo, PictureType

# --- captured showinfo lines --------------------------------------------------------------

P51 = "[Parsed_showinfo_0 @ 0x560f2b303140] "
P90 = "[Parsed_showinfo_0 @ 0x7f9584001a40] "
CONFIG_51 = P51 + "config in time_base: 1/12800, frame_rate: 25/1"
FRAME_51 = (
    P51 + "n:   1 pts:    512 pts_time:0.04    pos:     7247 fmt:yuv420p sar:1/1 s:320x240 "
    "i:P iskey:0 type:B checksum:482141B8 plane_checksum:[EBE13498 59ECE473 86BA289E] "
    "mean:[122 129 127] stdev:[56.8 77.8 81.4]"
)
COLOR_51 = P51 + "color_range:unknown color_space:unknown color_primaries:unknown color_trc:unknown"
FRAME_90 = (
    P90 + "n:   1 pts:    512 pts_time:0.04    duration:    512 duration_time:0.04    "
    "fmt:yuv420p cl:left sar:1/1 s:320x240 i:P iskey:0 type:B checksum:482141B8 "
    "plane_checksum:[EBE13498 59ECE473 86BA289E] mean:[122 129 127] stdev:[56.8 77.8 81.4]"
)
COLOR_90 = P90 + "color_range:unknown color_space:unknown color_primaries:unknown color_trc:unknown"
# As vidpipe's own command prints them (checksum=0: the line ends after "type:I ").
FRAME_90_NOCHECK = (
    P90 + "n:   0 pts:      0 pts_time:0       duration:    512 duration_time:0.0333333 "
    "fmt:yuv420p cl:left sar:0/1 s:64x48 i:P iskey:1 type:I "
)
COLOR_90_TAGGED = P90 + "color_range:tv color_space:bt709 color_primaries:bt709 color_trc:bt709"
UNRELATED = [
    "Stream #0:0 -> #0:0 (h264 (native) -> rawvideo (native))",
    P90 + "config out time_base: 0/0, frame_rate: 0/0",
    P90 + "  side data - H.26[45] User Data Unregistered SEI message: UUID=dc45e9bd-e6d9",
    P90 + "User Data=78323634202d20636f7265",
    P90,
    "[h264 @ 0x55d] error while decoding MB 3 2, bytestream -5",
    "Output #0, rawvideo, to 'pipe:1':",
]


def _feed(lines: list[str]) -> list[ShowinfoFrame]:
    parser = ShowinfoParser()
    out = [f for line in lines for f in parser.feed(line)]
    return out + parser.finish()


def test_showinfo_message_strips_prefix_and_ignores_other_lines() -> None:
    assert showinfo_message(CONFIG_51) == "config in time_base: 1/12800, frame_rate: 25/1"
    assert showinfo_message("[h264 @ 0x55d] n:   1 pts:  0") is None
    assert showinfo_message("frame=  30 fps=0.0 q=-0.0") is None


@pytest.mark.parametrize(
    ("frame_line", "color_line", "cl"), [(FRAME_51, COLOR_51, None), (FRAME_90, COLOR_90, "left")]
)
def test_parser_both_ffmpeg_formats(frame_line: str, color_line: str, cl: str | None) -> None:
    (meta,) = _feed([CONFIG_51, frame_line, color_line])
    assert meta.index == 1 and meta.pts == 512
    assert meta.time_base == Fraction(1, 12800)
    assert meta.pict_type is PictureType.B and meta.key_frame is False
    assert meta.size_wh == (320, 240)
    assert meta.chroma_location == cl
    assert (meta.color_range, meta.color_space) == ("unknown", "unknown")
    assert (meta.color_primaries, meta.color_trc) == ("unknown", "unknown")


def test_parser_skips_unrelated_lines_and_keeps_order() -> None:
    config = P90 + "config in time_base: 1/15360, frame_rate: 30/1"
    frame_2 = FRAME_90_NOCHECK.replace("n:   0 pts:      0", "n:   2 pts:   1024")
    frame_2 = frame_2.replace("iskey:1 type:I", "iskey:0 type:P")
    lines = [config, *UNRELATED, FRAME_90_NOCHECK, *UNRELATED, COLOR_90_TAGGED, frame_2, COLOR_90]
    first, second = _feed(lines)
    assert (first.index, first.pts, first.pict_type, first.key_frame) == (0, 0, PictureType.I, True)
    assert first.time_base == Fraction(1, 15360) and first.size_wh == (64, 48)
    assert (first.color_range, first.color_space, first.color_trc) == ("tv", "bt709", "bt709")
    assert (second.index, second.pts, second.pict_type) == (2, 1024, PictureType.P)


def test_parser_frame_without_color_line_is_not_lost() -> None:
    frame_2 = FRAME_51.replace("n:   1", "n:   2")
    first, second = _feed([CONFIG_51, FRAME_51, frame_2])  # second one flushed by finish()
    assert (first.index, second.index) == (1, 2)
    assert first.color_range is None and second.color_range is None


def test_parse_frame_message_nopts_and_unknown_type() -> None:
    msg = "n:   0 pts:  NOPTS pts_time:NOPTS pos:  -1 fmt:gray sar:0/1 s:8x4 i:P iskey:1 type:?"
    meta = parse_frame_message(msg, None)
    assert meta.pts is None and meta.time_base is None
    assert meta.pict_type is PictureType.NONE and meta.key_frame


def test_frame_color_falls_back_per_field() -> None:
    meta = _feed([CONFIG_51, FRAME_51, COLOR_51])[0]
    given = ColorInfo("bt470bg", "pc", "bt709", "smpte170m", "center")
    assert frame_color(meta, given) == given
    assert frame_color(meta, None) == ColorInfo()
    tagged = _feed([CONFIG_51, FRAME_90_NOCHECK, COLOR_90_TAGGED])[0]
    assert frame_color(tagged, given) == ColorInfo("bt709", "tv", "bt709", "bt709", "left")
    # ffmpeg's threads write stderr unlocked: a decoder's message inside showinfo's colour line
    # (seen on a fuzzed file: "color_range:unknownReference") is no colour name.
    garbled = dataclasses.replace(tagged, color_range="unknownReference", color_trc="bt7[h264")
    assert frame_color(garbled, given) == ColorInfo("bt709", "pc", "bt709", "smpte170m", "left")
