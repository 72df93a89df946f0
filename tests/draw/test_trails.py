"""Trails drawn in the frame's own pixel format, in display space (rotation honoured)."""

from __future__ import annotations

import dataclasses
from fractions import Fraction

import numpy as np
import pytest

from vidpipe.draw.paint import class_color
from vidpipe.draw.trails import draw_trails
from vidpipe.types import Frame


def _frame(pix_fmt: str, w: int = 64, h: int = 48, rotation: int = 0) -> Frame:
    if pix_fmt == "rgb24":
        planes = (np.zeros((h, w, 3), np.uint8),)
    else:
        planes = (np.full((h, w), 16, np.uint8), np.full((h // 2, w // 2), 128, np.uint8),
                  np.full((h // 2, w // 2), 128, np.uint8))  # fmt: skip
    frame = Frame(planes, pix_fmt, 0, 0, Fraction(1, 25))
    return dataclasses.replace(frame, rotation=rotation) if rotation else frame


def test_rgb_polyline_pixels() -> None:
    frame = _frame("rgb24")
    path = np.array([[5.0, 10.0], [40.0, 10.0], [40.0, 30.0]])
    out = draw_trails(frame, [(1, 3, path)], thickness=1)
    color = np.array(class_color(3), np.uint8)
    drawn = np.all(out.planes[0] == color, axis=2)
    assert drawn[10, 5:41].all() and drawn[10:31, 40].all()
    assert drawn.sum() == 36 + 20  # the two segments, their shared corner once
    assert not frame.planes[0].any()  # the input is untouched


def test_yuv_chroma_and_rotation() -> None:
    """A horizontal trail on a frame displayed rotated by 90 degrees is vertical in storage."""
    frame = _frame("yuv420p", rotation=90)  # storage 64x48, display 48x64
    out = draw_trails(frame, [(1, 0, np.array([[4.0, 20.0], [30.0, 20.0]]))], thickness=2)
    changed = np.argwhere(out.planes[0] != 16)
    assert len(np.unique(changed[:, 1])) == 2  # two storage columns (thickness 2)
    assert np.ptp(changed[:, 0]) >= 25  # spanning the trail's length in storage rows
    assert (out.planes[1] != 128).any() and (out.planes[2] != 128).any()


def test_short_trails_draw_nothing() -> None:
    frame = _frame("rgb24")
    assert draw_trails(frame, [(1, 0, np.array([[3.0, 3.0]]))]) is frame
    far = draw_trails(frame, [(1, 0, np.array([[-50.0, -50.0], [-10.0, -10.0]]))])
    assert not far.planes[0].any()


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_points_are_skipped(bad: float) -> None:
    out = draw_trails(_frame("rgb24"), [(1, 0, np.array([[1.0, 1.0], [bad, 5.0], [9.0, 9.0]]))])
    assert out.planes[0].shape == (48, 64, 3)
