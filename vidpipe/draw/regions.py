"""Drawing counting lines and zones, with their captions (name and running totals), onto frames
in their native pixel format, with `vidpipe.draw.paint`'s painter, label font and brush
rasteriser.

The geometry is plain numbers in DISPLAY pixels (the picture as played, after
`Frame.rotation`): the detect recipe turns `vidpipe.tracking`'s lines, zones and totals into
`Region`s, so this module knows nothing of tracking. A line is drawn from its first end to its
second with an arrow at its middle pointing to its "in" side (its right, looking from the first
end to the second, y pointing down); a zone is its closed outline. Captions are label patches
in the region's colour, drawn apart (`draw_captions`) so that they can go on top of the boxes.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Sequence

import numpy as np

from vidpipe.draw.paint import (
    Painter,
    default_thickness,
    ink,
    label_font_px,
    orientation,
    rasterise,
    storage_points,
    text_mask,
    to_storage,
)
from vidpipe.types import Frame

__all__ = ["LINE_RGB", "ZONE_RGB", "Region", "draw_captions", "draw_regions", "in_normal"]

LINE_RGB = (255, 214, 0)  # counting lines: amber
ZONE_RGB = (0, 230, 255)  # zones: cyan


@dataclasses.dataclass(frozen=True)
class Region:
    """A counting line (two points: its first end, then its second) or a zone (three or more:
    a polygon, closed), points (x, y) in display pixels, and the caption drawn beside it."""

    points: tuple[tuple[float, float], ...]
    caption: str = ""

    @property
    def is_line(self) -> bool:
        return len(self.points) == 2


def draw_regions(frame: Frame, regions: Sequence[Region], *, thickness: int | None = None) -> Frame:
    """Draw each line (with its "in" arrow) and each zone outline, in LINE_RGB / ZONE_RGB.

    frame: host frame (numpy planes) of a pix_fmt `vidpipe.draw.boxes.annotate` draws on.
    regions: the lines and zones, display pixels (parts outside the picture are clipped).
    thickness: stroke width in pixels (default: the box outline's). Returns a new Frame with
    drawn copies of the planes (`frame` itself when there is nothing to draw).

    >>> from fractions import Fraction
    >>> frame = Frame((np.zeros((48, 64, 3), np.uint8),), "rgb24", 0, 0, Fraction(1, 25))
    >>> drawn = draw_regions(frame, [Region(((0, 24), (63, 24)), "gate: in 0, out 0")])
    >>> drawn.planes[0][24, 5].tolist()  # LINE_RGB
    [255, 214, 0]
    """
    if not regions:
        return frame
    k, storage_wh, (disp_w, disp_h) = orientation(frame)
    t = thickness or default_thickness(disp_w, disp_h)
    painter = Painter.of(frame)
    shapes = tuple(r.points for r in regions)
    for color, (xs, ys) in zip(
        (ZONE_RGB, LINE_RGB), _pixels(shapes, k, storage_wh, t), strict=True
    ):
        if len(xs):
            painter.stamp(xs, ys, color)
    return dataclasses.replace(frame, planes=painter.planes)


@functools.lru_cache(maxsize=16)
def _pixels(
    shapes: tuple[tuple[tuple[float, float], ...], ...],
    k: int,
    storage_wh: tuple[int, int],
    thickness: int,
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """The storage pixels (xs, ys: `[P]` int64, each once) of the zones' outlines, then of the
    lines and their arrows: the same every frame of a run, so worked out once."""
    disp_w, disp_h = storage_wh[::-1] if k % 2 else storage_wh
    arrow = max(3 * thickness, 2 * label_font_px(disp_w, disp_h))
    out = []
    for lines in (False, True):
        strokes = []
        for shape in shapes:
            points = np.array(shape, np.float64)
            if lines and len(points) == 2:
                strokes += [points, *_arrow(points, arrow)]
            elif not lines and len(points) > 2:
                strokes.append(np.concatenate([points, points[:1]]))  # closed
        pixels = [rasterise(s, thickness) for s in strokes]
        xs = np.concatenate([np.zeros(0, np.int64), *(p[0] for p in pixels)])
        ys = np.concatenate([np.zeros(0, np.int64), *(p[1] for p in pixels)])
        keep = (xs >= 0) & (xs < disp_w) & (ys >= 0) & (ys < disp_h)
        flat = np.unique(ys[keep] * disp_w + xs[keep])
        sx, sy = storage_points(flat % disp_w, flat // disp_w, k, storage_wh)
        sx.flags.writeable = sy.flags.writeable = False
        out.append((sx, sy))
    return out[0], out[1]


def draw_captions(frame: Frame, regions: Sequence[Region]) -> Frame:
    """Draw each region's caption on a patch of its colour, text upright as displayed: a line's
    beside its middle on its "out" side (the arrow points the other way), a zone's above its
    topmost corner; kept inside the picture. Returns a new Frame (`frame` itself when no region
    has a caption)."""
    regions = [r for r in regions if r.caption]
    if not regions:
        return frame
    k, storage_wh, (disp_w, disp_h) = orientation(frame)
    font_px = label_font_px(disp_w, disp_h)
    gap = default_thickness(disp_w, disp_h) + 2
    painter = Painter.of(frame)
    for region in regions:
        mask = text_mask(region.caption, font_px)
        h, w = mask.shape
        x, y = _caption_origin(region, w, h, gap)
        x, y = max(0, min(x, disp_w - w)), max(0, min(y, disp_h - h))
        mask = mask[: disp_h - y, : disp_w - x]
        rect = to_storage((x, y, x + mask.shape[1], y + mask.shape[0]), k, storage_wh)
        color = LINE_RGB if region.is_line else ZONE_RGB
        painter.paste_text(rect, np.rot90(mask, -k), color, ink(color))
    return dataclasses.replace(frame, planes=painter.planes)


def in_normal(points: np.ndarray) -> np.ndarray:
    """`[2]` unit vector across a line (`[2, 2]` its ends) towards its "in" side: its right,
    looking from the first end to the second in image coordinates (y down)."""
    (x1, y1), (x2, y2) = points
    length = math.hypot(x2 - x1, y2 - y1) or 1.0
    return np.array([-(y2 - y1), x2 - x1]) / length


def _arrow(points: np.ndarray, length: float) -> list[np.ndarray]:
    """Three strokes: from the line's middle `length` pixels towards its "in" side, and the
    two barbs of the head."""
    mid, normal = points.mean(axis=0), in_normal(points)
    tip = mid + length * normal
    barbs = []
    for turn in (math.radians(150), math.radians(-150)):
        c, s = math.cos(turn), math.sin(turn)
        back = np.array([c * normal[0] - s * normal[1], s * normal[0] + c * normal[1]])
        barbs.append(np.stack([tip, tip + 0.4 * length * back]))
    return [np.stack([mid, tip]), *barbs]


def _caption_origin(region: Region, w: int, h: int, gap: int) -> tuple[int, int]:
    """Top-left (display pixels, not yet kept in the picture) of a w x h caption."""
    points = np.array(region.points, np.float64)
    if region.is_line:  # centred beside the middle, on the side the arrow does not take
        normal = in_normal(points)
        reach = 0.5 * (abs(normal[0]) * w + abs(normal[1]) * h) + gap
        cx, cy = points.mean(axis=0) - reach * normal
        return math.floor(cx - w / 2 + 0.5), math.floor(cy - h / 2 + 0.5)
    top = min(range(len(points)), key=lambda i: (points[i][1], points[i][0]))
    tx, ty = points[top]
    return math.floor(tx - w / 2 + 0.5), math.floor(ty + 0.5) - h - gap
