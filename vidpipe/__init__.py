"""vidpipe: streaming video decoding, inspection, per-frame ops, detection and re-encoding.

    import vidpipe as vp

    with vp.open("in.mp4") as src, vp.open("out.mp4", "w", like=src) as dst:
        detector = vp.load_detector("yolox-nano")
        for frame, dets in vp.detect(vp.gamma(src.frames(), 2.2), detector):
            dst.write(vp.annotate(frame, dets))

Names load on first use (`vidpipe.api` for the functions, `vidpipe.types` for the core
types), so `import vidpipe.anything` loads neither numpy nor PyAV by itself.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from vidpipe.errors import FFmpegError, InputError, VidpipeError

if TYPE_CHECKING:
    from vidpipe.api import (
        DetectOptions,
        Detector,
        DetectResult,
        EncodeOptions,
        EncodeResult,
        OpOptions,
        Sink,
        Source,
        annotate,
        chroma,
        detect,
        detect_file,
        encode,
        gamma,
        load_detector,
        open,
        probe,
        process_file,
    )
    from vidpipe.types import ColorInfo, Detections, Frame, GopSummary, PictureType, VideoInfo

__version__ = "0.1.0"

_TYPES = ("ColorInfo", "Detections", "Frame", "GopSummary", "PictureType", "VideoInfo")
_API = (
    "DetectOptions", "DetectResult", "Detector", "EncodeOptions", "EncodeResult", "OpOptions",
    "Sink", "Source", "annotate", "chroma", "detect", "detect_file", "encode", "gamma",
    "load_detector", "open", "probe", "process_file",
)  # fmt: skip

__all__ = [
    "ColorInfo",
    "DetectOptions",
    "DetectResult",
    "Detections",
    "Detector",
    "EncodeOptions",
    "EncodeResult",
    "FFmpegError",
    "Frame",
    "GopSummary",
    "InputError",
    "OpOptions",
    "PictureType",
    "Sink",
    "Source",
    "VideoInfo",
    "VidpipeError",
    "__version__",
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


def __getattr__(name: str) -> Any:
    """The public names on first use."""
    if name in _TYPES:
        return getattr(importlib.import_module("vidpipe.types"), name)
    if name in _API:
        return getattr(importlib.import_module("vidpipe.api"), name)
    raise AttributeError(f"module 'vidpipe' has no attribute {name!r}")
