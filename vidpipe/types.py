"""Core value types shared by every stage: Frame, PictureType, ColorInfo, VideoInfo, Detections.

Nothing here imports PyAV: conversions from `av` objects live in `vidpipe.io`, so both
decoding backends emit the same `Frame`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np


class PictureType(enum.IntEnum):
    """Picture type as FFmpeg's `AVPictureType` (same values), plus NONE for unknown."""

    NONE = 0
    I = 1  # noqa: E741 - FFmpeg's name
    P = 2
    B = 3
    S = 4
    SI = 5
    SP = 6
    BI = 7

    @classmethod
    def from_letter(cls, letter: str) -> PictureType:
        """Parse FFmpeg's one-letter form ("I", "P", "B", "S", "i", "p", "b", "?")."""
        table = {
            "I": cls.I,
            "P": cls.P,
            "B": cls.B,
            "S": cls.S,
            "i": cls.SI,
            "p": cls.SP,
            "b": cls.BI,
        }
        return table.get(letter, cls.NONE)

    @property
    def letter(self) -> str:
        """The label vidpipe prints: "I", "P", "B", "S", "SI", "SP", "BI" or "?"."""
        return "?" if self is PictureType.NONE else self.name


@dataclass(frozen=True, slots=True)
class ColorInfo:
    """Colour description with FFmpeg's names (as ffprobe prints them).

    matrix: `colorspace` ("bt709", "bt470bg", "smpte170m", "bt2020nc", "gbr", "unknown", ...);
    range: "tv" (limited), "pc" (full) or "unknown"; primaries / transfer: FFmpeg names;
    chroma_location: "left", "center", "topleft", "top", "bottomleft", "bottom" or "unspecified".
    """

    matrix: str = "unknown"
    range: str = "unknown"
    primaries: str = "unknown"
    transfer: str = "unknown"
    chroma_location: str = "unspecified"


@dataclass(frozen=True, slots=True)
class Frame:
    """One decoded video frame.

    planes: contiguous arrays without line padding. For planar Y'CbCr, (Y, U, V) each
        `[H, W]` (chroma planes subsampled as `pix_fmt` says), uint8 for 8-bit formats and
        uint16 (values 0..2**bits-1, native endian) for 10/12/16-bit; for packed RGB/BGR,
        a single `[H, W, 3]` uint8 array. numpy on the host or torch on a device.
    pix_fmt: FFmpeg pixel format name of `planes` ("yuv420p", "yuv420p10le", "rgb24", ...).
    index: 0-based position in display order among all frames of the stream.
    pts: presentation timestamp in `time_base` units, None when the stream has none.
    time_base: seconds per pts unit.
    pkt_size: bytes of the packet this frame was decoded from, None when unknown.
    rotation: display rotation in degrees counter-clockwise, as FFmpeg's display matrix.
    """

    planes: tuple[Any, ...]
    pix_fmt: str
    index: int
    pts: int | None
    time_base: Fraction
    pict_type: PictureType = PictureType.NONE
    key_frame: bool = False
    color: ColorInfo = field(default_factory=ColorInfo)
    pkt_size: int | None = None
    rotation: int = 0

    @property
    def time(self) -> float | None:
        """Presentation time in seconds (pts * time_base), None when pts is None."""
        return None if self.pts is None else float(self.pts * self.time_base)

    @property
    def width(self) -> int:
        return int(self.planes[0].shape[1])

    @property
    def height(self) -> int:
        return int(self.planes[0].shape[0])


@dataclass(frozen=True, slots=True)
class AudioInfo:
    """One audio stream of a container."""

    index: int
    codec: str
    sample_rate: int
    channels: int
    layout: str
    duration: float | None
    bit_rate: int | None


@dataclass(frozen=True, slots=True)
class GopSummary:
    """Picture-type statistics of a whole video stream (`vidpipe probe --gop`)."""

    frames: int
    i_frames: int
    p_frames: int
    b_frames: int
    other_frames: int
    key_frames: int
    keyframe_interval_mean: float | None
    keyframe_interval_max: int | None
    longest_b_run: int
    open_gops: int
    closed_gops: int


@dataclass(frozen=True, slots=True)
class VideoInfo:
    """Probe result of a file's first video stream plus its container and audio streams.

    codec is FFmpeg's name of the codec (as ffprobe's codec_name: "av1", "msmpeg4v3"),
    decoder the FFmpeg decoder that reads it ("libdav1d", "msmpeg4"). Frame rates are
    Fractions (never an integer fps); durations in seconds; frame_count is the number of
    frames the container holds: its own count when it records one (AVI: less its empty index
    entries), else counted from packets.
    """

    path: str
    container: str
    stream_index: int
    codec: str
    profile: str | None
    width: int
    height: int
    sar: Fraction | None
    dar: Fraction | None
    pix_fmt: str
    bit_depth: int
    chroma_subsampling: str
    color: ColorInfo
    field_order: str
    rotation: int
    frame_rate: Fraction | None
    avg_frame_rate: Fraction | None
    time_base: Fraction
    duration: float | None
    frame_count: int
    bit_rate: int | None
    audio: tuple[AudioInfo, ...] = ()
    gop: GopSummary | None = None
    decoder: str = ""


@dataclass(frozen=True, slots=True)
class Detections:
    """Detections of one frame, one array per field.

    xyxy: `[N, 4]` float32, x1 y1 x2 y2 in source pixels; scores: `[N]` float32 0..1;
    class_ids: `[N]` int64.
    """

    xyxy: np.ndarray
    scores: np.ndarray
    class_ids: np.ndarray

    def __post_init__(self) -> None:
        n = len(self.scores)
        if self.xyxy.shape != (n, 4):
            raise ValueError(f"xyxy must have shape ({n}, 4), got {self.xyxy.shape}")
        if self.scores.shape != (n,) or self.class_ids.shape != (n,):
            raise ValueError("scores and class_ids must have shape (N,) matching xyxy")

    @classmethod
    def empty(cls) -> Detections:
        return cls(
            np.zeros((0, 4), np.float32), np.zeros((0,), np.float32), np.zeros((0,), np.int64)
        )

    def __len__(self) -> int:
        return len(self.scores)


def frame_record(frame: Frame) -> dict[str, object]:
    """The listing of one frame (`vidpipe frames --json`): index, pts, time, type, key, size."""
    return {
        "index": frame.index,
        "pts": frame.pts,
        "time": frame.time,
        "type": frame.pict_type.letter,
        "key": frame.key_frame,
        "size": frame.pkt_size,
    }
