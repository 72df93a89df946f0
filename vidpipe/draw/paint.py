"""What the annotators of `vidpipe.draw` share: the class palette and default sizes, label text,
the geometry from display space (the picture as played, after `Frame.rotation`) to the planes as
stored, a brush rasteriser for polylines, and the `Painter` that writes R'G'B' colours straight
into a frame's own planes (Y'CbCr codes, gray, or packed RGB bytes).

The names without a leading underscore are this package's internal API (`boxes.py`,
`trails.py`, `regions.py` draw with them); `PALETTE_RGB` and `class_color` also tell a user
which colour a class is drawn in.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import logging
import math

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from vidpipe.ops.color import resolve_matrix, resolve_range, rgb_to_yuv
from vidpipe.pixfmt import LAYOUTS, PixFmtLayout
from vidpipe.types import Frame

__all__ = [
    "PALETTE_RGB",
    "RGB",
    "Painter",
    "Rect",
    "class_color",
    "default_thickness",
    "ink",
    "label_font_px",
    "orientation",
    "rasterise",
    "storage_points",
    "text_mask",
    "to_storage",
]

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


# --- geometry (display space -> storage space) --------------------------------------------


def orientation(frame: Frame) -> tuple[int, tuple[int, int], tuple[int, int]]:
    """(quarter turns k of the display rotation, storage (w, h), display (w, h))."""
    k = round(frame.rotation / 90) % 4
    storage_wh = (frame.width, frame.height)
    return k, storage_wh, (storage_wh[::-1] if k % 2 else storage_wh)


def to_storage(rect: Rect, k: int, storage_wh: tuple[int, int]) -> Rect:
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


def storage_points(
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


def rasterise(points: np.ndarray, thickness: int) -> tuple[np.ndarray, np.ndarray]:
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


# --- label rendering ----------------------------------------------------------------------


@functools.lru_cache(maxsize=8)
def _font(size_px: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=size_px)


@functools.lru_cache(maxsize=512)
def text_mask(text: str, size_px: int) -> np.ndarray:
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


def ink(color: RGB) -> RGB:
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


# --- writing into the planes --------------------------------------------------------------


@dataclasses.dataclass
class Painter:
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
    def of(cls, frame: Frame) -> Painter:
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

    def stamp(self, xs: np.ndarray, ys: np.ndarray, color: RGB) -> None:
        """Paint storage pixels (`[P]` int64 xs, ys, inside the frame) and every chroma
        sample they touch in one colour."""
        codes = self.codes(color)
        if self.kind in ("rgb", "bgr"):
            self.planes[0][ys, xs] = codes
            return
        self.planes[0][ys, xs] = codes[0]
        if self.kind == "yuv":
            cx, cy = xs >> self.layout.log2_chroma_w, ys >> self.layout.log2_chroma_h
            self.planes[1][cy, cx] = codes[1]
            self.planes[2][cy, cx] = codes[2]
