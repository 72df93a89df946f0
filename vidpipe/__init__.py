"""vidpipe: streaming video decoding, inspection, per-frame ops, detection and re-encoding."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from vidpipe.errors import FFmpegError, InputError, VidpipeError

if TYPE_CHECKING:
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

_TYPES = {"ColorInfo", "Detections", "Frame", "GopSummary", "PictureType", "VideoInfo"}


def __getattr__(name: str) -> Any:
    """The core types on first use: `import vidpipe.anything` does not load numpy."""
    if name in _TYPES:
        return getattr(importlib.import_module("vidpipe.types"), name)
    raise AttributeError(f"module 'vidpipe' has no attribute {name!r}")
