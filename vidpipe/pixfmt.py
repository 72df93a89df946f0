"""Pixel-format layouts for `Frame.planes`: which formats pass through, and their plane shapes.

Both decoding backends deliver frames in `canonical_pix_fmt(source)`: planar Y'CbCr and gray
formats pass through unchanged (8..16 bit), semi-planar and alpha variants map to their planar
Y'CbCr equivalent, and anything else becomes packed `rgb24`. `plane_shapes` tells how a raw
buffer of that format splits into planes, so the FFmpeg-subprocess backend can cut its pipe.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True)
class PixFmtLayout:
    """Layout of a supported pix_fmt: planes, chroma shift, sample type, bit depth."""

    planes: int  # 1 (gray / packed rgb) or 3 (Y, U, V)
    log2_chroma_w: int
    log2_chroma_h: int
    dtype: np.dtype
    bits: int
    channels: int = 1  # 3 for packed rgb24 / bgr24

    @property
    def subsampling(self) -> str:
        """ "4:2:0", "4:2:2", "4:4:4", "4:4:0", "4:1:1" or "" (gray / rgb)."""
        if self.planes == 1:
            return ""
        return {
            (1, 1): "4:2:0",
            (1, 0): "4:2:2",
            (0, 0): "4:4:4",
            (0, 1): "4:4:0",
            (2, 0): "4:1:1",
        }[(self.log2_chroma_w, self.log2_chroma_h)]


_U8 = np.dtype(np.uint8)
_U16 = np.dtype("<u2")


def _yuv(cw: int, ch: int, bits: int) -> PixFmtLayout:
    return PixFmtLayout(3, cw, ch, _U8 if bits == 8 else _U16, bits)


LAYOUTS: dict[str, PixFmtLayout] = {
    "gray": PixFmtLayout(1, 0, 0, _U8, 8),
    "gray10le": PixFmtLayout(1, 0, 0, _U16, 10),
    "gray12le": PixFmtLayout(1, 0, 0, _U16, 12),
    "gray16le": PixFmtLayout(1, 0, 0, _U16, 16),
    "rgb24": PixFmtLayout(1, 0, 0, _U8, 8, channels=3),
    "bgr24": PixFmtLayout(1, 0, 0, _U8, 8, channels=3),
}
for _name, (_cw, _ch) in {"420": (1, 1), "422": (1, 0), "444": (0, 0), "440": (0, 1)}.items():
    LAYOUTS[f"yuv{_name}p"] = _yuv(_cw, _ch, 8)
    LAYOUTS[f"yuvj{_name}p"] = _yuv(_cw, _ch, 8)
    for _bits in (10, 12, 16):
        LAYOUTS[f"yuv{_name}p{_bits}le"] = _yuv(_cw, _ch, _bits)
LAYOUTS["yuv411p"] = _yuv(2, 0, 8)
LAYOUTS["yuvj411p"] = _yuv(2, 0, 8)

# Formats with the same samples in another arrangement: decoded frames are converted to these.
_EQUIVALENT = {
    "nv12": "yuv420p",
    "nv21": "yuv420p",
    "nv16": "yuv422p",
    "nv24": "yuv444p",
    "p010le": "yuv420p10le",
    "p016le": "yuv420p16le",
    "yuyv422": "yuv422p",
    "uyvy422": "yuv422p",
    "gray9le": "gray10le",
    "ya8": "gray",
}


def canonical_pix_fmt(pix_fmt: str) -> str:
    """The pix_fmt a frame decoded as `pix_fmt` is delivered in (see module docstring)."""
    if pix_fmt in LAYOUTS:
        return pix_fmt
    if pix_fmt in _EQUIVALENT:
        return _EQUIVALENT[pix_fmt]
    if pix_fmt.startswith("yuva"):  # drop alpha: yuva420p -> yuv420p, yuva444p10le -> ...
        candidate = "yuv" + pix_fmt[4:]
        if candidate in LAYOUTS:
            return candidate
    return "rgb24"


def plane_shapes(pix_fmt: str, width: int, height: int) -> list[tuple[int, ...]]:
    """Array shapes of each plane of a `width` x `height` frame; chroma = ceil(size / 2**shift)."""
    lay = LAYOUTS[pix_fmt]
    if lay.planes == 1:
        return [(height, width, 3)] if lay.channels == 3 else [(height, width)]
    cw = -(-width >> lay.log2_chroma_w)
    ch = -(-height >> lay.log2_chroma_h)
    return [(height, width), (ch, cw), (ch, cw)]


def frame_nbytes(pix_fmt: str, width: int, height: int) -> int:
    """Bytes of one tightly packed raw frame (FFmpeg's rawvideo layout, no padding)."""
    itemsize = LAYOUTS[pix_fmt].dtype.itemsize
    return sum(int(np.prod(s)) * itemsize for s in plane_shapes(pix_fmt, width, height))


def split_planes(buf: bytes | bytearray | memoryview, pix_fmt: str, width: int, height: int):
    """Cut one raw frame into plane arrays (views on `buf`, no copy).

    Returns a tuple of numpy arrays shaped as `plane_shapes`, dtype of the format
    (uint8, or little-endian uint16 for >8-bit).
    """
    lay = LAYOUTS[pix_fmt]
    out = []
    offset = 0
    for shape in plane_shapes(pix_fmt, width, height):
        count = int(np.prod(shape))
        out.append(np.frombuffer(buf, lay.dtype, count, offset).reshape(shape))
        offset += count * lay.dtype.itemsize
    return tuple(out)
