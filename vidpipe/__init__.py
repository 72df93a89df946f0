"""vidpipe: streaming video decoding, inspection, per-frame ops, detection and re-encoding.

    import vidpipe as vp

    with vp.open("in.mp4") as src, vp.open("out.mp4", "w", like=src) as dst:
        detector = vp.load_detector("yolox-nano")
        for frame, dets in vp.detect(vp.gamma(src.frames(), 2.2), detector):
            dst.write(vp.annotate(frame, dets))

Names load on first use from the modules that define them, so `import vidpipe.anything`
loads neither numpy nor PyAV by itself, and only `load_detector` loads torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from vidpipe.errors import FFmpegError, InputError, VidpipeError

if TYPE_CHECKING:
    from vidpipe.api import open
    from vidpipe.detectors.detector import Detector, load_detector
    from vidpipe.detectors.options import DetectOptions
    from vidpipe.draw.boxes import annotate
    from vidpipe.io.encode import EncodeResult
    from vidpipe.io.encode_options import EncodeOptions
    from vidpipe.io.probe import probe
    from vidpipe.io.sink import Sink, encode
    from vidpipe.io.source import Source
    from vidpipe.pipeline.detect import detect
    from vidpipe.pipeline.options import OpOptions, ScanOptions
    from vidpipe.pipeline.recipes import DetectResult, detect_file, process_file
    from vidpipe.pipeline.stages import chroma_stage as chroma
    from vidpipe.pipeline.stages import gamma_stage as gamma
    from vidpipe.pipeline.track import track
    from vidpipe.tracking.options import TrackOptions
    from vidpipe.types import ColorInfo, Detections, Frame, GopSummary, PictureType, VideoInfo

__version__ = "0.1.0"

# Each public name and the module that defines it, imported on first use: `vp.open` loads
# PyAV and numpy, not torch (only `load_detector` does).
_WHERE = {
    "open": "vidpipe.api", "Source": "vidpipe.io.source", "Sink": "vidpipe.io.sink",
    "encode": "vidpipe.io.sink", "probe": "vidpipe.io.probe",
    "EncodeOptions": "vidpipe.io.encode_options", "EncodeResult": "vidpipe.io.encode",
    "gamma": "vidpipe.pipeline.stages", "chroma": "vidpipe.pipeline.stages",
    "detect": "vidpipe.pipeline.detect", "OpOptions": "vidpipe.pipeline.options",
    "process_file": "vidpipe.pipeline.recipes", "detect_file": "vidpipe.pipeline.recipes",
    "DetectResult": "vidpipe.pipeline.recipes", "DetectOptions": "vidpipe.detectors.options",
    "load_detector": "vidpipe.detectors.detector", "Detector": "vidpipe.detectors.detector",
    "annotate": "vidpipe.draw.boxes", "ColorInfo": "vidpipe.types",
    "Detections": "vidpipe.types", "Frame": "vidpipe.types", "GopSummary": "vidpipe.types",
    "PictureType": "vidpipe.types", "VideoInfo": "vidpipe.types",
    "track": "vidpipe.pipeline.track", "TrackOptions": "vidpipe.tracking.options",
    "ScanOptions": "vidpipe.pipeline.options",
}  # fmt: skip
_RENAMED = {"gamma": "gamma_stage", "chroma": "chroma_stage"}  # stage functions' own names

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
    "ScanOptions",
    "Sink",
    "Source",
    "TrackOptions",
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
    "track",
]


def __getattr__(name: str) -> Any:
    """The public names on first use."""
    if name in _WHERE:
        module = importlib.import_module(_WHERE[name])
        return getattr(module, _RENAMED.get(name, name))
    raise AttributeError(f"module 'vidpipe' has no attribute {name!r}")
