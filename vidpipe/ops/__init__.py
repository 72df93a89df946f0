"""Pure, device-agnostic per-frame ops on numpy arrays or torch tensors (same results on both).

gamma: LUT gamma correction (8..16-bit, luma or RGB); color: Y'CbCr <-> R'G'B' with explicit
matrix and range; chroma: 4:2:0 <-> 4:2:2 <-> 4:4:4 with explicit filter and siting.
No I/O and no host synchronisation in here.
"""

from __future__ import annotations

from vidpipe.ops.chroma import (
    chroma_of,
    chroma_shape,
    pix_fmt_for,
    resample_chroma,
    resolve_siting,
)
from vidpipe.ops.color import MATRICES, resolve_matrix, resolve_range, rgb_to_yuv, yuv_to_rgb
from vidpipe.ops.gamma import apply_lut, check_gamma, gamma_lut, gamma_rgb

__all__ = [
    "MATRICES",
    "apply_lut",
    "check_gamma",
    "chroma_of",
    "chroma_shape",
    "gamma_lut",
    "gamma_rgb",
    "pix_fmt_for",
    "resample_chroma",
    "resolve_matrix",
    "resolve_range",
    "resolve_siting",
    "rgb_to_yuv",
    "yuv_to_rgb",
]
