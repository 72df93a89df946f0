"""vidpipe: streaming video decoding, inspection, per-frame ops, detection and re-encoding."""

from __future__ import annotations

from vidpipe.errors import FFmpegError, InputError, VidpipeError
from vidpipe.types import ColorInfo, Detections, Frame, GopSummary, PictureType, VideoInfo

__version__ = "0.1.0"

__all__ = [
    "ColorInfo",
    "Detections",
    "FFmpegError",
    "Frame",
    "GopSummary",
    "InputError",
    "PictureType",
    "VideoInfo",
    "VidpipeError",
    "__version__",
]
