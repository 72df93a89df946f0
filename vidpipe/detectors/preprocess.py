"""Detector input from decoded frames: `InputSpec` (what a network takes) and the letterbox on
the host, in one pass of FFmpeg's swscale per frame.

Each plane is resized straight to the letterbox size as OpenCV's INTER_LINEAR does (what YOLOX
trains with: two rows, then two columns per output sample, no antialiasing; numpy gathers of
only the rows needed), then swscale converts the small Y'CbCr 4:4:4 picture to R'G'B' (or
B'G'R') with the stream's own matrix and range, one thread. Resizing before the colour
conversion is exact up to clipping and rounding: both are linear. The result is turned upright
by the display rotation and placed on the input canvas filled with the pad value (YOLOX: the
picture at the top-left of 416 x 416 BGR 0..255 on 114).

Measured on a 720p H.264 frame (2 cores, one thread): about 2 ms, against 5.7 ms for the
letterbox in torch. swscale's own scaler was dropped: its bilinear filter widens with the
downscale (it averages, antialiased), which is 2.3-2.8 codes off OpenCV on average (60+ at
edges) and changed 6% of YOLOX-Nano's detections on real footage; its other filters too.

Pure numpy and PyAV: no torch. On a CUDA device `vidpipe.detectors.device_letterbox` does the
same on the GPU from the uploaded planes.
"""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from av.video.reformatter import VideoReformatter

from vidpipe.io.image import rotate_for_display, to_av_frame
from vidpipe.ops.color import resolve_matrix, resolve_range
from vidpipe.pixfmt import LAYOUTS
from vidpipe.types import Frame

PAD_VALUE = 114.0
PLACEMENTS = ("top-left", "center", "stretch")  # InputSpec.placement
MARGIN = 32  # padding kept below / right of the picture on a cut-down canvas (InputSpec)

# vidpipe.ops.color's matrix names -> swscale's
_SWS_MATRIX = {"bt601": "ITU601", "bt709": "ITU709", "bt2020": "BT2020", "smpte240m": "SMPTE240M",
               "fcc": "FCC"}  # fmt: skip


@dataclass(frozen=True, slots=True)
class InputSpec:
    """What a detector's network takes: `[B, 3, H, W]`, the picture scaled to fit (aspect
    kept) on the canvas as `placement` says, the rest `pad_value`.

    size_wh: (W, H) of the input in pixels: the picture is scaled to fit it. channels: "bgr"
    (YOLOX) or "rgb" order of the 3 planes. scale: the 0..255 values are multiplied by it
    (1.0: 0..255 as YOLOX; 1/255: 0..1). pad_value: the canvas fill, in 0..255 units before
    `scale`. stride: 0, the canvas is `size_wh`; else (a network that takes any multiple of
    it) the canvas is cut down to the picture plus `margin` pixels of padding, rounded up to a
    multiple of `stride`: the same picture at the same scale with less padding to compute.
    The margin keeps the canvas edge away from the picture: a convolutional network's border
    (zero padding) changes what it sees near it. At MARGIN (32) YOLOX-Nano's boxes on real
    footage agree with the square input's (`vidpipe.evaluate.agreement`) at F1 0.99 or more
    (tests/detectors/test_runtimes.py; `scripts/bench.py detect` prints it for its sample):
    a 416 x 288 canvas for 16:9 video (30% less to compute than 416 x 416), 416 x 224 for
    2.35:1.
    placement: "top-left" (YOLOX: the picture's size truncated, at the canvas' top-left
    corner), "center" (Ultralytics' letterbox: the size rounded, the padding split evenly,
    the odd pixel below / right) or "stretch" (resized to the whole canvas, the aspect not
    kept: RT-DETR; no stride cut-down).
    """

    size_wh: tuple[int, int]
    channels: Literal["bgr", "rgb"] = "bgr"
    scale: float = 1.0
    pad_value: float = PAD_VALUE
    stride: int = 0
    margin: int = 0
    placement: Literal["top-left", "center", "stretch"] = "top-left"

    def __post_init__(self) -> None:
        w, h = self.size_wh
        if w < 1 or h < 1:
            raise ValueError(f"input size must be positive, got {w}x{h}")
        if self.channels not in ("bgr", "rgb"):
            raise ValueError(f"channels must be 'bgr' or 'rgb', not {self.channels!r}")
        if not self.scale > 0:
            raise ValueError(f"scale must be positive, got {self.scale}")
        if self.stride < 0 or self.margin < 0:
            raise ValueError(f"stride and margin must be >= 0, got {self.stride}, {self.margin}")
        if self.placement not in PLACEMENTS:
            raise ValueError(f"placement must be one of {PLACEMENTS}, not {self.placement!r}")

    @classmethod
    def square(cls, size: int) -> InputSpec:
        """YOLOX's input: size x size, BGR, 0..255, padded with 114."""
        return cls((size, size))


@dataclass(frozen=True, slots=True)
class Letterbox:
    """A batch ready for the model and what maps its boxes back.

    images: `[B, 3, H, W]` as the `InputSpec` says: a numpy array on the host (float32, or
        uint8 0..255 before the scale), a torch tensor on a device.
    scales: per image, letterbox pixels per display pixel (a float; an (x, y) pair where the
        placement stretches).
    sizes_wh: per image, (width, height) of the displayed frame (rotation applied).
    offsets: per image, (x, y) of the picture's top-left corner on the canvas in letterbox
        pixels; empty: all at (0, 0).
    """

    images: Any
    scales: tuple[float | tuple[float, float], ...]
    sizes_wh: tuple[tuple[int, int], ...]
    offsets: tuple[tuple[int, int], ...] = ()


def display_size(frame: Frame) -> tuple[int, int]:
    """(width, height) of the frame as shown, after its display rotation."""
    turns = round(frame.rotation / 90) % 4
    return (frame.height, frame.width) if turns % 2 else (frame.width, frame.height)


def fit(
    frame: Frame, spec: InputSpec
) -> tuple[float | tuple[float, float], tuple[int, int], tuple[int, int]]:
    """(scale, (w', h') of the picture on the canvas, (w, h) displayed) for `frame`: the
    aspect kept, sizes truncated as YOLOX does or rounded as Ultralytics does (centred; at
    least 1 pixel); stretched: the (x, y) scales to the whole canvas."""
    width, height = spec.size_wh
    w, h = display_size(frame)
    if spec.placement == "stretch":
        return (width / w, height / h), (width, height), (w, h)
    scale = min(width / w, height / h)
    size = round if spec.placement == "center" else int
    return scale, (max(1, size(w * scale)), max(1, size(h * scale))), (w, h)


def offset(spec: InputSpec, canvas: tuple[int, int], picture: tuple[int, int]) -> tuple[int, int]:
    """(x, y) of the picture's top-left corner on a `canvas` (W, H): centred as Ultralytics'
    letterbox rounds it (`round(pad / 2 - 0.1)`), else (0, 0)."""
    if spec.placement != "center":
        return 0, 0
    return (round((canvas[0] - picture[0]) / 2 - 0.1), round((canvas[1] - picture[1]) / 2 - 0.1))


def canvas_wh(frames: Sequence[Frame], spec: InputSpec) -> tuple[int, int]:
    """(W, H) of the batch's canvas: `spec.size_wh`, or with a stride the smallest multiple
    of it that holds every frame's picture and the margin (at most `size_wh`)."""
    if not spec.stride or not frames or spec.placement == "stretch":
        return spec.size_wh
    pictures = [fit(frame, spec)[1] for frame in frames]
    step = spec.stride
    width = -(-(max(w for w, _ in pictures) + spec.margin) // step) * step
    height = -(-(max(h for _, h in pictures) + spec.margin) // step) * step
    return min(width, spec.size_wh[0]), min(height, spec.size_wh[1])


def letterbox(
    frames: Sequence[Frame],
    spec: InputSpec | int,
    *,
    dtype: Literal["float32", "uint8"] = "float32",
) -> Letterbox:
    """Letterbox `frames` (any supported pix_fmt, sizes may differ) on the host as `spec` says
    (an int: YOLOX's square input of that size): float32 with the spec's scale applied, or
    uint8 0..255 (scale not applied: what goes over a wire)."""
    spec = InputSpec.square(spec) if isinstance(spec, int) else spec
    width, height = canvas_wh(frames, spec)
    wire = dtype == "uint8"
    fill, scale_by = (round(spec.pad_value), 1.0) if wire else (spec.pad_value, spec.scale)
    images = np.full((len(frames), 3, height, width), fill * scale_by, np.dtype(dtype))
    scales, sizes, offsets = [], [], []
    for i, frame in enumerate(frames):
        scale, (out_w, out_h), shown = fit(frame, spec)
        x, y = offset(spec, (width, height), (out_w, out_h))
        picture = _scaled(frame, (out_w, out_h), spec.channels).transpose(2, 0, 1)
        target = images[i, :, y : y + out_h, x : x + out_w]
        if scale_by == 1.0:
            target[...] = picture
        else:
            np.multiply(picture, np.float32(scale_by), out=target)
        scales.append(scale)
        sizes.append(shown)
        offsets.append((x, y))
    return Letterbox(images, tuple(scales), tuple(sizes), tuple(offsets))


_local = threading.local()  # one swscale context cache per thread


def _scaled(frame: Frame, out_wh: tuple[int, int], channels: str) -> np.ndarray:
    """`[h', w', 3]` uint8 of the displayed frame at `out_wh` in `channels` order: each plane
    resized (`_resize`), then converted to R'G'B' by swscale at that size."""
    turns = round(frame.rotation / 90) % 4
    size_hw = (out_wh[0], out_wh[1]) if turns % 2 else (out_wh[1], out_wh[0])  # as stored
    layout = LAYOUTS[frame.pix_fmt]
    if layout.channels == 3:  # packed rgb24 / bgr24: no colour conversion
        packed = _codes(_resize(frame.planes[0], size_hw), layout.dtype)
        if frame.pix_fmt[:3] != channels[:3]:
            packed = packed[..., ::-1]
        return rotate_for_display(packed, frame.rotation)
    planes = tuple(_codes(_resize(p, size_hw), layout.dtype) for p in frame.planes)
    options: dict[str, Any] = {}
    if layout.planes > 1:  # Y'CbCr: its matrix and range, chroma now at full resolution
        pix_fmt = _FULL_CHROMA.sub("444p", frame.pix_fmt, count=1)
        options["src_colorspace"] = _SWS_MATRIX.get(resolve_matrix(frame.color.matrix))
        full = resolve_range(frame.color.range, pix_fmt=frame.pix_fmt)
        options["src_color_range"] = "JPEG" if full else "MPEG"
    else:  # gray: full range unless marked "tv", as swscale shows it
        pix_fmt = frame.pix_fmt
        options["src_color_range"] = "MPEG" if frame.color.range == "tv" else "JPEG"
    small = Frame(planes, pix_fmt, frame.index, frame.pts, frame.time_base)
    reformatter = getattr(_local, "reformatter", None)
    if reformatter is None:
        reformatter = _local.reformatter = VideoReformatter()
    rgb = reformatter.reformat(
        to_av_frame(small), format=f"{channels}24", dst_color_range="JPEG", threads=1, **options
    ).to_ndarray()
    return rotate_for_display(rgb, frame.rotation)


_FULL_CHROMA = re.compile(r"4[0-4][0-4]p|411p")


@functools.lru_cache(maxsize=64)
def _taps(n_in: int, n_out: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Source indices (i0, i1) and weights of i1 for a bilinear resize of n_in samples to
    n_out, pixel centres aligned, no antialiasing: OpenCV's INTER_LINEAR (and torch's
    bilinear, align_corners=False), edges clamped."""
    x = (np.arange(n_out) + 0.5) * (n_in / n_out) - 0.5
    i0 = np.floor(x)
    weight = x - i0
    weight[i0 < 0], i0[i0 < 0] = 0.0, 0.0
    last = i0 >= n_in - 1
    weight[last], i0[last] = 0.0, n_in - 1
    i0 = i0.astype(np.intp)
    return i0, np.minimum(i0 + 1, n_in - 1), weight.astype(np.float32)


def _resize(plane: np.ndarray, size_hw: tuple[int, int]) -> np.ndarray:
    """`[H, W(, C)]` codes -> float32 `[h, w(, C)]`, bilinear as OpenCV's INTER_LINEAR: the
    two source rows of each output row first (a row gather), then the two columns.

    Where the width shrinks by more than half, the two source columns of each output column
    are gathered from those rows first, on the codes: the same sums of the same values (so
    the same floats), on 2w columns instead of W (a 1280-wide luma plane to 416: 3x faster)."""
    rows0, rows1, wy = _taps(plane.shape[0], size_hw[0])
    cols0, cols1, wx = _taps(plane.shape[1], size_hw[1])
    extra = (1,) * (plane.ndim - 2)
    top, bottom = plane.take(rows0, axis=0), plane.take(rows1, axis=0)
    narrow = 2 * size_hw[1] < plane.shape[1]
    if narrow:
        cols = np.concatenate([cols0, cols1])
        top, bottom = top.take(cols, axis=1), bottom.take(cols, axis=1)
    top, bottom = top.astype(np.float32), bottom.astype(np.float32)
    bottom -= top
    bottom *= wy.reshape(-1, 1, *extra)
    top += bottom
    if narrow:
        left, right = top[:, : len(cols0)], top[:, len(cols0) :]
    else:
        left, right = top.take(cols0, axis=1), top.take(cols1, axis=1)
    right -= left
    right *= wx.reshape(-1, *extra)
    left += right
    return left


def _codes(values: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Float codes rounded back to the plane's sample type."""
    peak = np.iinfo(dtype).max
    return np.clip(np.rint(values, out=values), 0, peak, out=values).astype(dtype)
