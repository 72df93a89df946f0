"""Frame <-> PyAV frame at the I/O edge, and still-image export (PNG/JPEG) with rotation applied."""

from __future__ import annotations

import os
from pathlib import Path

import av
import numpy as np

from vidpipe.pixfmt import LAYOUTS
from vidpipe.runtime.files import atomic_path
from vidpipe.types import Frame

_SWS_MATRIX = {
    "bt709": "ITU709",
    "bt470bg": "ITU601",
    "smpte170m": "ITU601",
    "smpte240m": "SMPTE240M",
    "bt2020nc": "BT2020",
    "bt2020c": "BT2020",
    "fcc": "FCC",
}
_SWS_RANGE = {"tv": "MPEG", "pc": "JPEG"}


def to_av_frame(frame: Frame) -> av.VideoFrame:
    """A PyAV VideoFrame holding a copy of `frame`'s planes (host numpy planes only)."""
    out = av.VideoFrame(frame.width, frame.height, frame.pix_fmt)
    itemsize = LAYOUTS[frame.pix_fmt].dtype.itemsize
    for plane, src in zip(out.planes, frame.planes, strict=False):
        src_bytes = np.ascontiguousarray(src).view(np.uint8).reshape(src.shape[0], -1)
        dst = np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size)
        dst[:, : plane.width * itemsize * (src.shape[2] if src.ndim == 3 else 1)] = src_bytes
    out.pts = frame.pts
    return out


def to_rgb(frame: Frame) -> np.ndarray:
    """Display RGB of a frame: `[H, W, 3]` uint8 0..255, converted with the frame's matrix
    and range by swscale (BT.601 when the stream does not say), rotation applied."""
    if frame.pix_fmt == "rgb24":
        rgb = frame.planes[0]
    else:
        av_frame = to_av_frame(frame)
        rgb = av_frame.reformat(
            format="rgb24",
            src_colorspace=_SWS_MATRIX.get(frame.color.matrix),
            src_color_range=_SWS_RANGE.get(frame.color.range),
            dst_color_range="JPEG",
        ).to_ndarray()
    return rotate_for_display(rgb, frame.rotation)


def rotate_for_display(image: np.ndarray, rotation: int) -> np.ndarray:
    """Apply a display rotation (degrees counter-clockwise, FFmpeg's display matrix sign)."""
    quarter_turns = round(rotation / 90) % 4
    return np.ascontiguousarray(np.rot90(image, quarter_turns)) if quarter_turns else image


def save_image(frame: Frame, path: str | os.PathLike[str], *, quality: int = 95) -> None:
    """Write a frame as PNG or JPEG (by suffix); written to a temporary name, then renamed."""
    fmt = "JPEG" if Path(path).suffix.lower() in (".jpg", ".jpeg") else "PNG"
    with atomic_path(path) as tmp:
        from PIL import Image  # only here: the rest of this module is on the start-up path

        Image.fromarray(to_rgb(frame)).save(tmp, format=fmt, quality=quality)
