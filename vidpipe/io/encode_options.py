"""`EncodeOptions`: how a video is encoded, and the rules its values obey.

Light to import (no PyAV, no numpy): the CLI declares its encoder options from these
defaults and `vidpipe batch` checks a job's encoder options with it before any worker
starts. What needs PyAV (does the codec exist, does it take that pixel format, does the
container hold it) is checked by `vidpipe.io.output` when an output is opened.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from vidpipe.errors import InputError, number_option

RotationMode = Literal["keep", "bake"]
Writer = Literal["av", "ffmpeg"]
WRITERS: tuple[str, ...] = ("av", "ffmpeg")
ROTATIONS: tuple[str, ...] = ("keep", "bake")
# Constant rate factor: x264 / x265 take 0..51, libvpx-vp9, libaom and SVT-AV1 0..63.
CRF_RANGE = (0, 63)
# A preset: a name (veryfast, p4) or a number (SVT-AV1's 0..13), never an option or a space.
_PRESET = re.compile(r"[A-Za-z0-9_]+(?:-[A-Za-z0-9_]+)*")


@dataclass(frozen=True)
class EncodeOptions:
    """How `encode` writes: encoder and its options, rotation handling, writer.

    codec: an FFmpeg video encoder PyAV has (`av.codecs_available`): libx264, libx265,
        libvpx-vp9, libsvtav1, ffv1 (lossless), ...; "auto": H.264 where the container takes
        it, else the container's own encoder (`auto_codec`). crf / preset: encoder options (None:
        the encoder's defaults). pix_fmt: the encoded pixel format; None picks the frames'
        own layout when the codec takes it (4:2:0 8-bit -> yuv420p, 4:4:4 -> yuv444p,
        10-bit 4:2:0 -> yuv420p10le), else the nearest bit depth of that layout, else
        yuv420p, else the codec's first format (see `default_pix_fmt`).
    rotation: "keep" writes the frames' rotation as the output's display matrix; "bake"
        turns the planes (np.rot90 per plane, multiples of 90 degrees) and writes none.
    writer: "av" (PyAV in-process) or "ffmpeg" (subprocess). overwrite: replace an existing
        output. threads: encoder threads, 0 = the encoder's automatic choice. segment_s: cut
        the video into files this many seconds long (`vidpipe.io.segments`).

    Raises InputError naming the bad value (crf outside `CRF_RANGE`, a preset that is no
    name, an unknown writer, ...); whether the codec and pix_fmt exist is checked when the
    output is opened (`vidpipe.io.output.check_codec`, `check_pix_fmt`).
    """

    codec: str = "auto"
    crf: int | None = None
    preset: str | None = None
    pix_fmt: str | None = None
    rotation: RotationMode = "keep"
    writer: Writer = "av"
    overwrite: bool = False
    threads: int = 0
    segment_s: float | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.codec, str) or not self.codec:
            raise InputError("--codec must name an FFmpeg video encoder")
        low, high = CRF_RANGE
        if self.crf is not None and not low <= number_option("crf", self.crf, int) <= high:
            raise InputError(f"--crf must be in {low}..{high}, got {self.crf}")
        if self.preset is not None and not (
            isinstance(self.preset, str) and _PRESET.fullmatch(self.preset)
        ):
            raise InputError(f"--preset must be an encoder preset name, not {self.preset!r}")
        if self.pix_fmt is not None and (not isinstance(self.pix_fmt, str) or not self.pix_fmt):
            raise InputError("--pix-fmt must name a pixel format")
        if self.rotation not in ROTATIONS:
            raise InputError(f"rotation must be {' or '.join(ROTATIONS)}, not {self.rotation!r}")
        if self.writer not in WRITERS:
            raise InputError(f"--writer must be {' or '.join(WRITERS)}, not {self.writer!r}")
        if number_option("threads", self.threads, int) < 0:
            raise InputError(f"threads must be >= 0 (0 = auto), got {self.threads}")
        if self.segment_s is not None and not number_option("segment", self.segment_s, float) > 0:
            raise InputError(f"--segment must be > 0 seconds, got {self.segment_s}")
