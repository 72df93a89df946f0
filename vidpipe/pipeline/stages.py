"""Frame-stream adapters around the pure ops: `gamma_stage`, `chroma_stage`.

Each stage is a generator `Iterator[Frame] -> Iterator[Frame]` that reads the frame's own
pix_fmt, bit depth, range, matrix and chroma siting and hands the planes to `vidpipe.ops`.
Which of them a run applies is `vidpipe.pipeline.options.OpOptions` (the stage registry).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import numpy as np

from vidpipe.ops.chroma import (
    CHROMAS,
    chroma_of,
    pix_fmt_for,
    resample_chroma,
    resolve_siting,
)
from vidpipe.ops.color import resolve_matrix, resolve_range, rgb_to_yuv, yuv_to_rgb
from vidpipe.ops.gamma import apply_lut, check_gamma, gamma_lut, gamma_rgb
from vidpipe.ops.params import GammaOn
from vidpipe.pixfmt import LAYOUTS
from vidpipe.types import Frame


def _full_range(frame: Frame) -> bool:
    return resolve_range(frame.color.range, pix_fmt=frame.pix_fmt)


def gamma_stage(frames: Iterator[Frame], gamma: float, on: GammaOn = "luma") -> Iterator[Frame]:
    """Gamma-correct every frame: out = max * (in / max) ** (1 / gamma).

    on="luma": the Y plane only, through one LUT per (gamma, bit depth, range) built once;
    on="rgb": to R'G'B' with the stream's matrix and range, per channel, and back.
    gamma == 1 passes frames through untouched.
    """
    gamma = check_gamma(gamma)
    if on not in ("luma", "rgb"):
        raise ValueError(f"gamma applies to 'luma' or 'rgb', not {on!r}")
    for frame in frames:
        if gamma == 1.0:
            yield frame
        elif frame.pix_fmt in ("rgb24", "bgr24"):
            rgb = gamma_rgb(frame.planes[0], gamma, bits=8)
            yield dataclasses.replace(frame, planes=(rgb,))
        elif on == "luma" or LAYOUTS[frame.pix_fmt].planes == 1:
            bits = LAYOUTS[frame.pix_fmt].bits
            lut = gamma_lut(gamma, bits=bits, full_range=_full_range(frame), luma=True)
            planes = (apply_lut(frame.planes[0], lut), *frame.planes[1:])
            yield dataclasses.replace(frame, planes=planes)
        else:
            yield _gamma_through_rgb(frame, gamma)


def _gamma_through_rgb(frame: Frame, gamma: float) -> Frame:
    layout = LAYOUTS[frame.pix_fmt]
    bits, full = layout.bits, _full_range(frame)
    site = resolve_siting(frame.color.chroma_location)
    src = chroma_of(frame.pix_fmt)
    y, u, v = frame.planes
    size_wh = (frame.width, frame.height)
    u444, v444 = (
        resample_chroma(c, src=src, dst="444", luma_size_wh=size_wh, siting=site) for c in (u, v)
    )
    matrix = resolve_matrix(frame.color.matrix)
    rgb = yuv_to_rgb(y, u444, v444, matrix=matrix, full_range=full, bits=bits)
    top = (1 << bits) - 1
    codes = np.clip(np.rint(rgb * top), 0, top).astype(layout.dtype)
    rgb = gamma_rgb(codes, gamma, bits=bits).astype(np.float32) / top
    y2, u2, v2 = rgb_to_yuv(rgb, matrix=matrix, full_range=full, bits=bits)
    u2, v2 = (
        resample_chroma(c, src="444", dst=src, luma_size_wh=size_wh, siting=site) for c in (u2, v2)
    )
    planes = tuple(np.ascontiguousarray(p, dtype=layout.dtype) for p in (y2, u2, v2))
    return dataclasses.replace(frame, planes=planes)


def chroma_stage(
    frames: Iterator[Frame],
    to: str,
    *,
    up: str = "bilinear",
    down: str = "box",
) -> Iterator[Frame]:
    """Resample chroma to 4:2:0, 4:2:2 or 4:4:4 ("420", "422", "444"), honouring each
    frame's chroma siting; frames already there pass through. Gray/RGB frames are refused."""
    if to not in CHROMAS:
        raise ValueError(f"chroma must be {', '.join(CHROMAS)}, not {to!r}")
    for frame in frames:
        src = chroma_of(frame.pix_fmt)
        if src is None:
            raise ValueError(f"cannot resample chroma of {frame.pix_fmt} frames")
        if src == to:
            yield frame
            continue
        y, u, v = frame.planes
        size_wh = (frame.width, frame.height)
        site = resolve_siting(frame.color.chroma_location)
        u2, v2 = (
            resample_chroma(c, src=src, dst=to, luma_size_wh=size_wh, up=up, down=down, siting=site)
            for c in (u, v)
        )
        pix_fmt = pix_fmt_for(to, LAYOUTS[frame.pix_fmt].bits)
        color = frame.color
        if frame.pix_fmt.startswith("yuvj"):  # yuvj* meant full range: say so explicitly
            color = dataclasses.replace(color, range="pc")
        yield dataclasses.replace(frame, planes=(y, u2, v2), pix_fmt=pix_fmt, color=color)
