"""The flat public API, `import vidpipe as vp` (the package forwards these names on first
use, so `import vidpipe` stays cheap):

    with vp.open("in.mp4") as src, vp.open("out.mp4", "w", like=src) as dst:
        detector = vp.load_detector("yolox-nano")
        for frame, dets in vp.detect(vp.gamma(src.frames(), 2.2), detector):
            dst.write(vp.annotate(frame, dets))

`open` makes a `Source` (read) or a `Sink` (write); `gamma`, `chroma` and `detect` are
generator stages; `annotate` draws one frame's detections; the recipes `process_file` and
`detect_file` are what the CLI and `vidpipe batch` run, driven by the options dataclasses.
"""

from __future__ import annotations

import os
from typing import Any, Literal, overload

from vidpipe.detectors.detector import Detector, load_detector
from vidpipe.detectors.draw import annotate
from vidpipe.detectors.options import DetectOptions
from vidpipe.errors import VidpipeError
from vidpipe.io.encode import EncodeOptions, EncodeResult
from vidpipe.io.probe import probe
from vidpipe.io.sink import Sink, encode
from vidpipe.io.source import Source
from vidpipe.pipeline.detect import detect
from vidpipe.pipeline.options import OpOptions
from vidpipe.pipeline.recipes import DetectResult, detect_file, process_file
from vidpipe.pipeline.stages import chroma_stage as chroma
from vidpipe.pipeline.stages import gamma_stage as gamma

__all__ = [
    "DetectOptions",
    "DetectResult",
    "Detector",
    "EncodeOptions",
    "EncodeResult",
    "OpOptions",
    "Sink",
    "Source",
    "annotate",
    "chroma",
    "detect",
    "detect_file",
    "encode",
    "gamma",
    "load_detector",
    "open",
    "probe",
    "process_file",
]


@overload
def open(path: str | os.PathLike[str], mode: Literal["r"] = "r", **options: Any) -> Source: ...
@overload
def open(path: str | os.PathLike[str], mode: Literal["w"], **options: Any) -> Sink: ...
def open(path: str | os.PathLike[str], mode: str = "r", **options: Any) -> Source | Sink:
    """A video to read (`mode="r"`: a `Source`; option `backend="av"|"ffmpeg"`) or to write
    (`mode="w"`: a `Sink`; options `like=source`, `width=`, `height=`, `rate=`, and the
    `EncodeOptions` fields such as `codec=`, `crf=`, `overwrite=`). Both are context managers.
    """
    if mode == "r":
        return Source(path, **options)
    if mode == "w":
        return Sink(path, **options)
    raise VidpipeError(f"mode must be 'r' or 'w', not {mode!r}")
