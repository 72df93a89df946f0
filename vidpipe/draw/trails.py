"""Drawing track trails (the recent path of each track's box centre) onto frames in their
native pixel format, with `vidpipe.draw.paint`'s painter, palette, geometry and brush.

The polylines are rasterised in numpy (`rasterise`: points every half brush width along each
segment, a square brush stamped at each), all written with one fancy-indexed store per plane,
so the cost grows with the trails' length, not with the frame.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from vidpipe.draw.paint import (
    Painter,
    class_color,
    default_thickness,
    orientation,
    rasterise,
    storage_points,
)
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
    k, storage_wh, (disp_w, disp_h) = orientation(frame)
    t = thickness or default_thickness(disp_w, disp_h)
    painter = Painter.of(frame)
    for class_id in sorted({cid for _, cid, _ in trails}):
        points = [rasterise(p, t) for _, cid, p in trails if cid == class_id]
        xs, ys = np.concatenate([p[0] for p in points]), np.concatenate([p[1] for p in points])
        keep = (xs >= 0) & (xs < disp_w) & (ys >= 0) & (ys < disp_h)
        sx, sy = storage_points(xs[keep], ys[keep], k, storage_wh)
        painter.stamp(sx, sy, class_color(class_id))
    return dataclasses.replace(frame, planes=painter.planes)
