"""`vidpipe.open`: a video to read (a `Source`) or to write (a `Sink`). The rest of the flat
API (`import vidpipe as vp`) is forwarded by the package from the modules that define it:

    with vp.open("in.mp4") as src, vp.open("out.mp4", "w", like=src) as dst:
        detector = vp.load_detector("yolox-nano")
        for frame, dets in vp.detect(vp.gamma(src.frames(), 2.2), detector):
            dst.write(vp.annotate(frame, dets))
"""

from __future__ import annotations

import os
from typing import Any, Literal, overload

from vidpipe.errors import VidpipeError
from vidpipe.io.segments import Segments, open_sink
from vidpipe.io.sink import Sink
from vidpipe.io.source import Source

__all__ = ["open"]


@overload
def open(path: str | os.PathLike[str], mode: Literal["r"] = "r", **options: Any) -> Source: ...
@overload
def open(path: str | os.PathLike[str], mode: Literal["w"], **options: Any) -> Sink | Segments: ...
def open(path: str | os.PathLike[str], mode: str = "r", **options: Any) -> Source | Sink | Segments:
    """A video to read (`mode="r"`: a `Source`; options `backend="av"|"ffmpeg"`,
    `hwaccel="auto"|"none"|"cuda"`, and for a network URL `allow_url=True`, `timeout=`
    seconds, `reconnect=` times) or to write
    (`mode="w"`: a `Sink`; options `like=source`, `width=`, `height=`, `rate=`, and the
    `EncodeOptions` fields such as `codec=`, `crf=`, `overwrite=`; with `segment_s=` a
    `Segments`, files of that many seconds). All are context managers.
    """
    if mode == "r":
        return Source(path, **options)
    if mode == "w":
        return open_sink(path, **options)
    raise VidpipeError(f"mode must be 'r' or 'w', not {mode!r}")
