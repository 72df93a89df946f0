"""Counting lines, zones and their captions drawn in the frame's own pixel format, in display
space, checked through swscale (`vidpipe.io.image.to_rgb`, display RGB with the rotation
applied) and against plain geometry: the pixels along a line and a zone's edges change, the
interior and the far side stay as they were, the caption patch holds text, a rotated frame
shows the same picture as an upright one."""

from __future__ import annotations

import numpy as np
import pytest
from test_boxes import grey_frame

from vidpipe.draw.regions import (
    LINE_RGB,
    ZONE_RGB,
    Region,
    draw_captions,
    draw_regions,
    in_normal,
)
from vidpipe.io.image import to_rgb

W, H = 160, 120
GATE = Region(((20.0, 70.0), (140.0, 70.0)), "gate: in 3, out 1")  # "in" side: below (y > 70)
DOCK = Region(((40.0, 20.0), (120.0, 30.0), (100.0, 60.0), (30.0, 50.0)), "dock: entries 2")


def _near(rgb: np.ndarray, color: tuple[int, int, int], tol: int = 12) -> np.ndarray:
    """`[H, W]` bool: display pixels within `tol` of `color` on every channel."""
    return np.abs(rgb.astype(int) - np.array(color)).max(axis=-1) <= tol


def test_normal_points_to_the_in_side() -> None:
    """Right of the walker from the first end to the second, y down: below for a line drawn
    left to right, left for one drawn top to bottom."""
    assert in_normal(np.array([[0, 0], [10, 0]])).tolist() == [0.0, 1.0]
    assert in_normal(np.array([[0, 0], [0, 10]])).tolist() == [-1.0, 0.0]


@pytest.mark.parametrize("pix_fmt", ["yuv420p", "rgb24"])
def test_line_arrow_and_caption(pix_fmt: str) -> None:
    frame = grey_frame(pix_fmt, (W, H), range_="pc" if pix_fmt == "rgb24" else "tv")
    base = to_rgb(frame)
    lined = to_rgb(draw_regions(frame, [GATE], thickness=2))
    on = _near(lined, LINE_RGB)
    assert on[69:71, 22:59].all() and on[69:71, 101:139].all()  # along the segment
    assert not on[:, :17].any() and not on[:, 144:].any()  # not beyond its ends
    changed = np.abs(lined.astype(int) - base).max(axis=-1) > 12
    assert changed[71:78, 80].any()  # the arrow, from the middle, on the "in" side
    assert not changed[:66].any()  # nothing on the "out" side before the caption
    captioned = to_rgb(draw_captions(draw_regions(frame, [GATE], thickness=2), [GATE]))
    above = captioned[:66, 20:140]  # the caption is centred above the middle: the "out" side
    assert _near(above, LINE_RGB).sum() > 200  # the patch
    assert (above.max(axis=-1) < 60).sum() > 40  # dark text on amber
    np.testing.assert_array_equal(captioned[72:], lined[72:])  # no caption on the "in" side


def test_zone_outline_and_caption() -> None:
    frame = grey_frame("rgb24", (W, H), range_="pc")
    base = to_rgb(frame)
    drawn = to_rgb(draw_regions(frame, [DOCK], thickness=2))
    on = _near(drawn, ZONE_RGB)
    for (x0, y0), (x1, y1) in zip(DOCK.points, DOCK.points[1:] + DOCK.points[:1], strict=True):
        for f in np.linspace(0.1, 0.9, 9):  # points along each edge
            x, y = round(x0 + f * (x1 - x0)), round(y0 + f * (y1 - y0))
            assert on[y - 1 : y + 2, x - 1 : x + 2].any(), (x, y)
    np.testing.assert_array_equal(drawn[30:45, 50:90], base[30:45, 50:90])  # the interior
    captioned = to_rgb(draw_captions(frame, [DOCK]))
    patch = _near(captioned, ZONE_RGB)
    ys, xs = np.nonzero(patch)
    assert ys.max() < 20 and abs(xs.mean() - 40) < 8  # above the topmost corner (40, 20)
    assert (captioned[: ys.max() + 1].max(axis=-1) < 60).sum() > 30  # dark text on cyan


def test_captions_stay_in_the_picture() -> None:
    """A line along the top edge: its caption would lie above the picture; it is kept in."""
    frame = grey_frame("rgb24", (W, H), range_="pc")
    top = Region(((0.0, 2.0), (W - 1.0, 2.0)), "top: in 0, out 0")
    rgb = to_rgb(draw_captions(frame, [top]))
    assert _near(rgb, LINE_RGB)[0].any()


@pytest.mark.parametrize("rotation", [90, 180, 270])
def test_rotated_equals_drawing_the_displayed_picture(rotation: int) -> None:
    storage = grey_frame("yuv444p", (W, H) if rotation == 180 else (H, W), rotation=rotation)
    upright = grey_frame("yuv444p", (W, H))

    def drawn(frame):
        return to_rgb(draw_captions(draw_regions(frame, [GATE, DOCK]), [GATE, DOCK]))

    want = drawn(upright)
    np.testing.assert_array_equal(drawn(storage), want)
    assert not np.array_equal(want, to_rgb(upright))


def test_nothing_to_draw_returns_the_frame() -> None:
    frame = grey_frame("yuv420p", (W, H))
    assert draw_regions(frame, []) is frame
    assert draw_captions(frame, [Region(((0.0, 0.0), (9.0, 9.0)))]) is frame
