"""Drawing track trails (the recent path of each track's box centre) onto frames in their
native pixel format, with `vidpipe.draw.boxes`'s painter, palette and geometry.

The polylines are rasterised in numpy: points every half brush width along each segment, a
square brush stamped at each, all written with one fancy-indexed store per plane, so the cost
grows with the trails' length, not with the frame.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Sequence

import numpy as np

from vidpipe.draw.boxes import _Painter, class_color, default_thickness
from vidpipe.types import Frame

Trail = tuple[int, int, np.ndarray]  # track id, class id, `[K, 2]` display-pixel centres


def draw_trails(frame: Frame, trails: Sequence[Trail], *, thickness: int | None = None) -> Frame:
    """Draw each trail as a polyline in its class colour.

    frame: host frame (numpy planes) of a pix_fmt `annotate` draws on. trails: (track id,
    class id, `[K, 2]` float x, y centres in DISPLAY pixels, oldest first); a trail of one
    point draws nothing. thickness: line width in pixels (default: the box outline's).
    Returns a new Frame with drawn copies of the planes (`frame` itself when nothing is drawn).
    """
    trails = [t for t in trails if len(t[2]) >= 2]
    if not trails:
        return frame
    k = round(frame.rotation / 90) % 4
    storage_wh = (frame.width, frame.height)
    disp_w, disp_h = storage_wh[::-1] if k % 2 else storage_wh
    t = thickness or default_thickness(disp_w, disp_h)
    painter = _Painter.of(frame)
    for class_id in sorted({cid for _, cid, _ in trails}):
        points = [_rasterise(p, t) for _, cid, p in trails if cid == class_id]
        xs, ys = np.concatenate([p[0] for p in points]), np.concatenate([p[1] for p in points])
        keep = (xs >= 0) & (xs < disp_w) & (ys >= 0) & (ys < disp_h)
        sx, sy = _storage_points(xs[keep], ys[keep], k, storage_wh)
        _stamp(painter, sx, sy, painter.codes(class_color(class_id)))
    return dataclasses.replace(frame, planes=painter.planes)


def _rasterise(points: np.ndarray, thickness: int) -> tuple[np.ndarray, np.ndarray]:
    """Integer display pixels `([P], [P])` covered by a polyline drawn with a square brush."""
    step = max(thickness / 2, 0.5)
    samples = []
    for a, b in itertools.pairwise(points):
        if not np.all(np.isfinite([a, b])):
            continue
        n = max(2, math.ceil(float(np.hypot(*(b - a))) / step) + 1)
        samples.append(a + np.linspace(0.0, 1.0, n)[:, None] * (b - a))
    if not samples:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    centre = np.floor(np.concatenate(samples)).astype(np.int64)
    offsets = np.arange(thickness) - thickness // 2
    dx, dy = np.meshgrid(offsets, offsets)
    xs = (centre[:, 0:1] + dx.reshape(1, -1)).ravel()
    ys = (centre[:, 1:2] + dy.reshape(1, -1)).ravel()
    return xs, ys


def _storage_points(
    xs: np.ndarray, ys: np.ndarray, k: int, storage_wh: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """Display pixels -> the same pixels in storage (display = np.rot90(storage, k))."""
    w, h = storage_wh
    if k == 1:
        return w - 1 - ys, xs
    if k == 2:
        return w - 1 - xs, h - 1 - ys
    if k == 3:
        return ys, h - 1 - xs
    return xs, ys


def _stamp(painter: _Painter, xs: np.ndarray, ys: np.ndarray, codes: np.ndarray) -> None:
    """Write one colour's codes at storage pixels (and the chroma samples they touch)."""
    if painter.kind in ("rgb", "bgr"):
        painter.planes[0][ys, xs] = codes
        return
    painter.planes[0][ys, xs] = codes[0]
    if painter.kind == "yuv":
        cx, cy = xs >> painter.layout.log2_chroma_w, ys >> painter.layout.log2_chroma_h
        painter.planes[1][cy, cx] = codes[1]
        painter.planes[2][cy, cx] = codes[2]
