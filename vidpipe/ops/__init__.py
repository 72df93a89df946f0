"""Pure, device-agnostic per-frame ops on numpy arrays or torch tensors (same results on both).

gamma: LUT gamma correction (8..16-bit, luma or RGB); color: Y'CbCr <-> R'G'B' with explicit
matrix and range; chroma: 4:2:0 <-> 4:2:2 <-> 4:4:4 with explicit filter and siting.
No I/O and no host synchronisation in here.
"""

from __future__ import annotations

import importlib
from typing import Any

# name -> module, loaded on first use: `vidpipe.ops.params` (option checks) needs no numpy.
_WHERE = {
    "chroma_of": "chroma", "chroma_shape": "chroma", "pix_fmt_for": "chroma",
    "resample_chroma": "chroma", "resolve_siting": "chroma", "MATRICES": "color",
    "resolve_matrix": "color", "resolve_range": "color", "rgb_to_yuv": "color",
    "yuv_to_rgb": "color", "apply_lut": "gamma", "check_gamma": "params", "gamma_lut": "gamma",
    "gamma_rgb": "gamma",
}  # fmt: skip

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


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(f"vidpipe.ops.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'vidpipe.ops' has no attribute {name!r}")
