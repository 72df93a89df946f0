"""Drawing detections onto video frames in their native pixel format.

Owns the class palette, the box/label annotator `annotate` and the geometry that maps
display-space boxes (the picture as played, after `Frame.rotation`) onto the planes as stored.
Boxes and labels are written straight into the Y, U, V planes as Y'CbCr codes (or into gray /
packed RGB planes), so the cost grows with the number and size of the boxes, never with the
frame area beyond one copy of the planes: no full-frame RGB round trip.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import math
from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from vidpipe.ops.color import resolve_matrix, resolve_range, rgb_to_yuv
from vidpipe.pixfmt import LAYOUTS, PixFmtLayout
from vidpipe.types import Detections, Frame, class_label

__all__ = ["PALETTE_RGB", "annotate", "class_color", "default_thickness", "label_font_px"]

logger = logging.getLogger(__name__)

RGB = tuple[int, int, int]
Rect = tuple[int, int, int, int]  # x0, y0, x1, y1 in whole pixels, half-open

#: 20 distinct R'G'B' colours (0..255), indexed by class_id modulo 20.
PALETTE_RGB: tuple[RGB, ...] = (
    (163, 81, 251),
    (255, 64, 64),
    (255, 161, 160),
    (255, 118, 51),
    (255, 182, 51),
    (209, 212, 53),
    (76, 251, 18),
    (148, 207, 26),
    (64, 222, 138),
    (27, 231, 255),
    (0, 214, 255),
    (51, 153, 255),
    (0, 85, 255),
    (76, 64, 255),
    (138, 54, 255),
    (214, 0, 255),
    (255, 0, 184),
    (255, 0, 102),
    (128, 128, 0),
    (0, 128, 128),
)


def class_color(class_id: int) -> RGB:
    """R'G'B' (0..255) of a class: PALETTE_RGB[class_id % len(PALETTE_RGB)]."""
    return PALETTE_RGB[int(class_id) % len(PALETTE_RGB)]


def default_thickness(width: int, height: int) -> int:
    """Outline thickness in pixels for a frame of this size: max(2, round(min(W, H) / 300))."""
    return max(2, round(min(width, height) / 300))


def label_font_px(width: int, height: int) -> int:
    """Label font size in pixels: ~2.2% of the short side, at least 10 (24 px at 1080p)."""
    return max(10, round(min(width, height) * 0.022))


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
    k = round(frame.rotation / 90) % 4
    storage_wh = (frame.width, frame.height)
    disp_wh = storage_wh[::-1] if k % 2 else storage_wh
    if thickness is None:
        thickness = default_thickness(*disp_wh)
    if isinstance(thickness, bool) or not isinstance(thickness, int) or thickness < 1:
        raise ValueError(f"thickness must be an integer >= 1, got {thickness!r}")
    painter = _Painter.of(frame)
    order = np.argsort(dets.scores, kind="stable")
    boxes = [_whole_pixels(dets.xyxy[i], *disp_wh, thickness) for i in order]
    for i, box in zip(order, boxes, strict=True):
        if box is not None:
            for band in _outline(box, thickness, *disp_wh):
                painter.fill(_to_storage(band, k, storage_wh), class_color(dets.class_ids[i]))
    font_px = label_font_px(*disp_wh)
    for i, box in zip(order, boxes, strict=True):
        if box is not None and _visible(box, *disp_wh):
            cid = int(dets.class_ids[i])
            mask = _text_mask(_label_text(dets, int(i), names), font_px)
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
    painter: _Painter, box: Rect, mask: np.ndarray, color: RGB, k: int, storage_wh: tuple[int, int]
) -> None:
    """Place a label (`[h, w]` uint8 text coverage, display orientation) for a display-space box,
    crop it to the frame and paste it, rotated into storage orientation."""
    disp_w, disp_h = storage_wh[::-1] if k % 2 else storage_wh
    x, y = _label_origin(box, mask.shape[1], mask.shape[0], disp_w, disp_h)
    mask = mask[: disp_h - y, : disp_w - x]
    rect = _to_storage((x, y, x + mask.shape[1], y + mask.shape[0]), k, storage_wh)
    painter.paste_text(rect, np.rot90(mask, -k), color, _ink(color))


# --- geometry (display space -> storage space) ----------------------------------------------


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


def _to_storage(rect: Rect, k: int, storage_wh: tuple[int, int]) -> Rect:
    """A display-space rect -> the same pixels in storage space, for a display rotation of k
    quarter turns counter-clockwise (display = np.rot90(storage, k))."""
    x0, y0, x1, y1 = rect
    w, h = storage_wh
    if k == 1:
        return w - y1, x0, w - y0, x1
    if k == 2:
        return w - x1, h - y1, w - x0, h - y0
    if k == 3:
        return y0, h - x1, y1, h - x0
    return rect


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


# --- label rendering ------------------------------------------------------------------------


@functools.lru_cache(maxsize=8)
def _font(size_px: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=size_px)


@functools.lru_cache(maxsize=512)
def _text_mask(text: str, size_px: int) -> np.ndarray:
    """`[h, w]` uint8 coverage (0 background .. 255 ink) of a padded label, read-only; one
    height for every label of a size."""
    font = _font(size_px)
    left, _, right, _ = font.getbbox(text)
    _, top, _, bottom = font.getbbox("Ag|")
    pad = max(1, round((bottom - top) / 5))
    image = Image.new("L", (int(right - left) + 2 * pad, int(bottom - top) + 2 * pad), 0)
    ImageDraw.Draw(image).text((pad - left, pad - top), text, fill=255, font=font)
    mask = np.asarray(image)
    mask.flags.writeable = False
    return mask


def _ink(color: RGB) -> RGB:
    """Text colour on a patch of `color`: black on light colours, else white."""
    luma = 0.2126 * color[0] + 0.7152 * color[1] + 0.0722 * color[2]
    return (0, 0, 0) if luma > 150 else (255, 255, 255)


@functools.lru_cache(maxsize=256)
def _yuv_codes(color: RGB, matrix: str, full_range: bool, bits: int) -> np.ndarray:
    """`[3]` Y', Cb, Cr codes of an R'G'B' colour (uint8 for 8 bits, else uint16), read-only."""
    rgb = np.array([[color]], np.float32) / 255.0
    yuv = rgb_to_yuv(rgb, matrix=matrix, full_range=full_range, bits=bits)
    codes = np.array([c[0, 0] for c in yuv], np.uint8 if bits == 8 else np.uint16)
    codes.flags.writeable = False
    return codes


# --- writing into the planes ------------------------------------------------------------------


@dataclasses.dataclass
class _Painter:
    """Writable copies of a frame's planes and how to put R'G'B' colours into them.

    kind: "yuv" (3 planes, chroma subsampled by layout), "gray" (luma only), "rgb" / "bgr"
    (packed `[H, W, 3]` uint8). Rects are storage-space (x0, y0, x1, y1), half-open.
    """

    planes: tuple[np.ndarray, ...]
    kind: str
    layout: PixFmtLayout
    matrix: str
    full_range: bool

    @classmethod
    def of(cls, frame: Frame) -> _Painter:
        if frame.pix_fmt not in LAYOUTS:
            raise ValueError(f"cannot draw on pix_fmt {frame.pix_fmt!r}")
        if not all(isinstance(p, np.ndarray) for p in frame.planes):
            raise TypeError("annotate draws on host frames: planes must be numpy arrays")
        lay = LAYOUTS[frame.pix_fmt]
        kind = "yuv" if lay.planes == 3 else "gray"
        if lay.channels == 3:
            kind = "bgr" if frame.pix_fmt == "bgr24" else "rgb"
        try:
            matrix = resolve_matrix(frame.color.matrix)
        except ValueError:
            logger.debug("drawing with BT.601 on a frame marked %r", frame.color.matrix)
            matrix = "bt601"
        if kind == "gray":  # swscale shows gray as full range; honour an explicit "tv"
            full_range = frame.color.range.strip().lower() not in {"tv", "mpeg", "limited"}
        else:
            try:
                full_range = resolve_range(frame.color.range, pix_fmt=frame.pix_fmt)
            except ValueError:
                full_range = False
        planes = tuple(np.array(p, copy=True) for p in frame.planes)
        return cls(planes, kind, lay, matrix, full_range)

    def codes(self, color: RGB) -> np.ndarray:
        """Sample values of a colour, one per channel: (Y, U, V) codes for Y'CbCr (Y only
        used for gray), the bytes in plane order for rgb24 / bgr24."""
        if self.kind in ("rgb", "bgr"):
            return np.array(color if self.kind == "rgb" else color[::-1], np.uint8)
        return _yuv_codes(color, self.matrix, self.full_range, self.layout.bits)

    def _chroma_rect(self, rect: Rect) -> Rect:
        """Chroma samples touched by a luma rect."""
        sw, sh = self.layout.log2_chroma_w, self.layout.log2_chroma_h
        x0, y0, x1, y1 = rect
        return x0 >> sw, y0 >> sh, -(-x1 >> sw), -(-y1 >> sh)

    def fill(self, rect: Rect, color: RGB) -> None:
        """Paint a storage rect (and every chroma sample it touches) in one colour."""
        x0, y0, x1, y1 = rect
        value = self.codes(color)
        if self.kind in ("rgb", "bgr"):
            self.planes[0][y0:y1, x0:x1] = value
            return
        self.planes[0][y0:y1, x0:x1] = value[0]
        if self.kind == "yuv":
            cx0, cy0, cx1, cy1 = self._chroma_rect(rect)
            self.planes[1][cy0:cy1, cx0:cx1] = value[1]
            self.planes[2][cy0:cy1, cx0:cx1] = value[2]

    def paste_text(self, rect: Rect, mask: np.ndarray, bg: RGB, ink: RGB) -> None:
        """Write a label at a storage rect: `mask` (`[h, w]` uint8 0..255 ink coverage, storage
        orientation, the rect's size) mixes `bg` and `ink`. Every channel is linear in R'G'B',
        so mixing codes equals converting the mixed colour (up to rounding). Subsampled chroma:
        the label is widened to whole chroma samples with background, and each sample takes the
        mean coverage of its footprint."""
        x0, y0, x1, y1 = rect
        if mask.size == 0:
            return
        lo, hi = self.codes(bg).astype(np.float32), self.codes(ink).astype(np.float32)
        if self.kind != "yuv":
            alpha = (mask.astype(np.float32) / 255.0)[..., None]
            mixed = np.rint(lo + alpha * (hi - lo)).astype(self.planes[0].dtype)
            self.planes[0][y0:y1, x0:x1] = mixed if self.kind != "gray" else mixed[..., 0]
            return
        sub_w, sub_h = 1 << self.layout.log2_chroma_w, 1 << self.layout.log2_chroma_h
        cx0, cy0, cx1, cy1 = self._chroma_rect(rect)
        ax0, ay0 = cx0 * sub_w, cy0 * sub_h  # the rect widened to whole chroma samples
        alpha = np.zeros(((cy1 - cy0) * sub_h, (cx1 - cx0) * sub_w), np.float32)
        alpha[y0 - ay0 : y1 - ay0, x0 - ax0 : x1 - ax0] = mask
        alpha *= 1.0 / 255.0
        ay1 = min(cy1 * sub_h, self.planes[0].shape[0])  # clipped to the frame; a chroma
        ax1 = min(cx1 * sub_w, self.planes[0].shape[1])  # sample past it sees its edge copied
        alpha[ay1 - ay0 :] = alpha[ay1 - ay0 - 1]
        alpha[:, ax1 - ax0 :] = alpha[:, ax1 - ax0 - 1 : ax1 - ax0]
        luma = lo[0] + alpha[: ay1 - ay0, : ax1 - ax0] * (hi[0] - lo[0])
        self.planes[0][ay0:ay1, ax0:ax1] = np.rint(luma)
        cover = alpha.reshape(cy1 - cy0, sub_h, cx1 - cx0, sub_w).mean(axis=(1, 3))
        for c in (1, 2):
            self.planes[c][cy0:cy1, cx0:cx1] = np.rint(lo[c] + cover * (hi[c] - lo[c]))
