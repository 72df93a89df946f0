"""Drawing detections onto video frames in their native pixel format.

Owns the box/label annotator `annotate` and the placing of boxes and labels in display space
(the picture as played, after `Frame.rotation`); the palette, the painter and the mapping onto
the planes as stored are `vidpipe.draw.paint`'s. Boxes and labels are written straight into
the Y, U, V planes as Y'CbCr codes (or into gray / packed RGB planes), so the cost grows with
the number and size of the boxes, never with the frame area beyond one copy of the planes: no
full-frame RGB round trip.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Sequence

import numpy as np

from vidpipe.draw.paint import (
    RGB,
    Painter,
    Rect,
    class_color,
    default_thickness,
    ink,
    label_font_px,
    orientation,
    text_mask,
    to_storage,
)
from vidpipe.types import Detections, Frame, class_label

__all__ = ["annotate"]

logger = logging.getLogger(__name__)


def annotate(
    frame: Frame,
    dets: Detections,
    names: Sequence[str] | None = None,
    *,
    thickness: int | None = None,
) -> Frame:
    """Draw boxes and "name 0.87" labels ("#7 name 0.87" for tracked boxes) onto a frame, in
    its own pixel format.

    Args:
        frame: host frame (numpy planes) of any pix_fmt in `vidpipe.pixfmt.LAYOUTS`: planar
            Y'CbCr (4:2:0, 4:2:2, 4:4:4, 4:4:0, 4:1:1; 8..16 bit), gray, rgb24 or bgr24.
        dets: xyxy `[N, 4]` float32 x1 y1 x2 y2 in DISPLAY pixels (the frame as shown after its
            rotation), scores `[N]` 0..1, class_ids `[N]` int64, optional tracker_id `[N]` int64
            (when set, each label starts with "#<tracker_id>").
        names: class names indexed by class id (an id outside it is labelled by its number);
            None takes the detections' own `names` (their detector's), and without those
            labels every box by its class id.
        thickness: outline width in pixels (default `default_thickness` of the frame).

    Returns:
        A new Frame (same metadata, rotation kept) whose planes are drawn copies; `frame` itself
        is untouched. With no detections, `frame` is returned as is.

    Outlines lie inside the box (a box covering the whole frame stays visible), in the class
    colour; a label patch of that colour sits above the box (inside it at the top edge), text
    upright as displayed. Colours are converted with the frame's matrix and range (unknown:
    BT.601, limited; gray frames: full range unless marked "tv"); chroma samples touched by an
    outline take its colour (by class, tracked or not). Higher scores are drawn last (on top).

    >>> from fractions import Fraction
    >>> frame = Frame((np.zeros((48, 64, 3), np.uint8),), "rgb24", 0, 0, Fraction(1, 25))
    >>> xyxy = np.array([[4, 20, 40, 44]], np.float32)
    >>> dets = Detections(xyxy, np.array([0.9], np.float32), np.array([0]), np.array([7]))
    >>> bool(annotate(frame, dets, ["person"]).planes[0].any())  # "#7 person 0.90"
    True

    Raises:
        TypeError: planes are not numpy arrays. ValueError: unsupported pix_fmt, thickness < 1.
    """
    names = dets.names if names is None else names
    if len(dets) == 0:
        return frame
    k, storage_wh, disp_wh = orientation(frame)
    if thickness is None:
        thickness = default_thickness(*disp_wh)
    if isinstance(thickness, bool) or not isinstance(thickness, int) or thickness < 1:
        raise ValueError(f"thickness must be an integer >= 1, got {thickness!r}")
    painter = Painter.of(frame)
    order = np.argsort(dets.scores, kind="stable")
    boxes = [_whole_pixels(dets.xyxy[i], *disp_wh, thickness) for i in order]
    for i, box in zip(order, boxes, strict=True):
        if box is not None:
            for band in _outline(box, thickness, *disp_wh):
                painter.fill(to_storage(band, k, storage_wh), class_color(dets.class_ids[i]))
    font_px = label_font_px(*disp_wh)
    for i, box in zip(order, boxes, strict=True):
        if box is not None and _visible(box, *disp_wh):
            cid = int(dets.class_ids[i])
            mask = text_mask(_label_text(dets, int(i), names), font_px)
            _draw_label(painter, box, mask, class_color(cid), k, storage_wh)
    return dataclasses.replace(frame, planes=painter.planes)


def _label_text(dets: Detections, i: int, names: Sequence[str] | None) -> str:
    """Label of box i: "[#<tracker_id> ]<name> <score:.2f>", the name `names[class_id]` or the
    class id as text (no names, or an id outside them)."""
    text = f"{class_label(int(dets.class_ids[i]), names)} {float(dets.scores[i]):.2f}"
    if dets.tracker_id is not None:
        text = f"#{int(dets.tracker_id[i])} {text}"
    return text


def _draw_label(
    painter: Painter, box: Rect, mask: np.ndarray, color: RGB, k: int, storage_wh: tuple[int, int]
) -> None:
    """Place a label (`[h, w]` uint8 text coverage, display orientation) for a display-space box,
    crop it to the frame and paste it, rotated into storage orientation."""
    disp_w, disp_h = storage_wh[::-1] if k % 2 else storage_wh
    x, y = _label_origin(box, mask.shape[1], mask.shape[0], disp_w, disp_h)
    mask = mask[: disp_h - y, : disp_w - x]
    rect = to_storage((x, y, x + mask.shape[1], y + mask.shape[0]), k, storage_wh)
    painter.paste_text(rect, np.rot90(mask, -k), color, ink(color))


# --- placing boxes and labels (display space) -------------------------------------------------


def _whole_pixels(xyxy: np.ndarray, width: int, height: int, margin: int) -> Rect | None:
    """Box corners rounded to whole pixels (half-open rect), far-off values clamped just past
    the frame (so clipped-away edges draw nothing); None for a non-finite box."""
    if not np.all(np.isfinite(xyxy)):
        logger.debug("skipping a non-finite box %s", xyxy)
        return None
    lo, hi = -margin - 1, max(width, height) + margin + 1
    x0, y0, x1, y1 = (math.floor(min(max(float(v), lo), hi) + 0.5) for v in xyxy)
    return min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)


def _outline(box: Rect, thickness: int, width: int, height: int) -> list[Rect]:
    """The four bands of a box outline (inside the box), clipped to the frame, empty ones
    dropped."""
    x0, y0, x1, y1 = box
    t = thickness
    bands = [(x0, y0, x1, y0 + t), (x0, y1 - t, x1, y1), (x0, y0, x0 + t, y1), (x1 - t, y0, x1, y1)]
    out = []
    for bx0, by0, bx1, by1 in bands:
        rect = (max(bx0, x0, 0), max(by0, y0, 0), min(bx1, x1, width), min(by1, y1, height))
        if rect[0] < rect[2] and rect[1] < rect[3]:
            out.append(rect)
    return out


def _visible(box: Rect, width: int, height: int) -> bool:
    """Whether a box touches the frame (closed test: a zero-area box inside counts)."""
    x0, y0, x1, y1 = box
    return x1 >= 0 and y1 >= 0 and x0 <= width and y0 <= height


def _label_origin(box: Rect, w: int, h: int, width: int, height: int) -> tuple[int, int]:
    """Top-left of a w x h label: on top of the box, inside it when there is no room above;
    kept within the frame (top-left wins when the label is bigger than the frame)."""
    x0, y0 = box[0], box[1]
    y = y0 - h if y0 - h >= 0 else y0
    return max(0, min(x0, width - w)), max(0, min(y, height - h))
