"""Y'CbCr <-> R'G'B' conversion (BT.601 / BT.709 / BT.2020 NCL / SMPTE 240M / FCC), limited or
full range, 8..16-bit codes, on numpy arrays or torch tensors (any device, same results).

Owns the matrix table (`MATRICES`), name resolution with FFmpeg's names and defaults
(`resolve_matrix`, `resolve_range`) and the two conversions. Planes here are all the same size
(4:4:4): upsample chroma first with `vidpipe.ops.chroma.resample_chroma`.

Code levels (ITU-R BT.601/709/2020, H.273), s = 2**(bits-8), max = 2**bits-1:
limited ("tv"): Y' = 16s + 219s * E'Y, C = 128s + 224s * E'C;
full ("pc"):    Y' = max * E'Y,        C = 2**(bits-1) + max * E'C.
This is the convention of swscale (`sws_setColorspaceDetails`), and it matches
`ffmpeg -vf scale=in_color_matrix=...:in_range=...:flags=accurate_rnd+full_chroma_int,format=rgb24`
to >= 50 dB PSNR (see tests/ops/test_color.py). Pure: no I/O, no host sync.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from vidpipe.ops._backend import is_tensor

__all__ = [
    "MATRICES",
    "MATRIX_ALIASES",
    "code_levels",
    "resolve_matrix",
    "resolve_range",
    "rgb_to_yuv",
    "yuv_to_rgb",
]

#: (Kr, Kb) luma coefficients per canonical matrix name; Kg = 1 - Kr - Kb.
MATRICES: dict[str, tuple[float, float]] = {
    "bt601": (0.299, 0.114),
    "bt709": (0.2126, 0.0722),
    "bt2020nc": (0.2627, 0.0593),
    "smpte240m": (0.212, 0.087),
    "fcc": (0.30, 0.11),
}

#: FFmpeg `colorspace` names -> canonical key of MATRICES. "bt2020c" (constant luminance) is
#: converted with the non-constant-luminance matrix, as swscale does.
MATRIX_ALIASES: dict[str, str] = {
    "bt470bg": "bt601",
    "smpte170m": "bt601",
    "bt2020c": "bt2020nc",
    "bt2020_ncl": "bt2020nc",
    "bt2020_cl": "bt2020nc",
    "bt2020": "bt2020nc",
    **{name: name for name in MATRICES},
}

_UNKNOWN = frozenset({"unknown", "unspecified", "reserved", ""})


def resolve_matrix(name: str, *, height: int | None = None) -> str:
    """Canonical MATRICES key for an FFmpeg `colorspace` name.

    "unknown" / "unspecified" (and "" / "reserved") resolve to "bt601", FFmpeg/swscale's
    default (SWS_CS_DEFAULT == SWS_CS_ITU601), whatever the frame size: `height` is accepted so a
    call site can pass it, but is deliberately ignored (players such as mpv guess BT.709 for HD;
    we follow the FFmpeg oracle). Raises ValueError for non-Y'CbCr or unsupported matrices
    ("gbr", "ycgco", "chroma-derived-*", "ictcp", ...).
    """
    del height  # documented: swscale's default does not depend on the frame size
    key = name.strip().lower()
    if key in _UNKNOWN:
        return "bt601"
    if key not in MATRIX_ALIASES:
        raise ValueError(f"unsupported colour matrix {name!r}; known: {sorted(MATRIX_ALIASES)}")
    return MATRIX_ALIASES[key]


def resolve_range(name: str, *, pix_fmt: str | None = None) -> bool:
    """True for full range. "pc"/"jpeg"/"full" -> True, "tv"/"mpeg"/"limited" -> False;
    "unknown"/"unspecified" -> True only for the full-range yuvj* pix_fmts, else False
    (limited, swscale's default for Y'CbCr)."""
    key = name.strip().lower()
    if key in {"pc", "jpeg", "full"}:
        return True
    if key in {"tv", "mpeg", "limited"}:
        return False
    if key in _UNKNOWN:
        return pix_fmt is not None and pix_fmt.startswith("yuvj")
    raise ValueError(f"unknown colour range {name!r}; expected 'tv', 'pc' or 'unknown'")


def code_levels(*, bits: int, full_range: bool) -> tuple[float, float, float, float]:
    """(y_offset, y_scale, c_offset, c_scale) in codes: code = offset + scale * E'."""
    if isinstance(bits, bool) or not isinstance(bits, int) or not 8 <= bits <= 16:
        raise ValueError(f"bits must be an integer in 8..16, got {bits!r}")
    mid = float(1 << (bits - 1))
    if full_range:
        peak = float((1 << bits) - 1)
        return 0.0, peak, mid, peak
    s = float(1 << (bits - 8))
    return 16.0 * s, 219.0 * s, mid, 224.0 * s


def _coefficients(matrix: str) -> tuple[float, float, float, float, float, float, float]:
    """(kr, kg, kb, r_cr, g_cb, g_cr, b_cb) for R = Y + r_cr Cr, G = Y - g_cb Cb - g_cr Cr,
    B = Y + b_cb Cb."""
    if matrix not in MATRIX_ALIASES:
        raise ValueError(
            f"unsupported colour matrix {matrix!r}; known: {sorted(MATRIX_ALIASES)} "
            "(resolve 'unknown' explicitly with resolve_matrix)"
        )
    kr, kb = MATRICES[MATRIX_ALIASES[matrix]]
    kg = 1.0 - kr - kb
    r_cr = 2.0 * (1.0 - kr)
    b_cb = 2.0 * (1.0 - kb)
    return kr, kg, kb, r_cr, kb * b_cb / kg, kr * r_cr / kg, b_cb


def _as_float(x: Any) -> Any:
    if isinstance(x, np.ndarray):
        return x.astype(np.float32)
    if is_tensor(x):
        import torch

        return x.to(torch.float32)
    raise TypeError(f"expected a numpy array or torch tensor, got {type(x).__name__}")


def _check_planes(y: Any, u: Any, v: Any) -> None:
    if y.ndim < 2 or tuple(u.shape) != tuple(y.shape) or tuple(v.shape) != tuple(y.shape):
        raise ValueError(
            "y, u, v must be [..., H, W] planes of one size (4:4:4), got "
            f"{tuple(y.shape)}, {tuple(u.shape)}, {tuple(v.shape)}"
        )
    if type(u) is not type(y) or type(v) is not type(y):
        raise TypeError("y, u, v must all be numpy arrays or all torch tensors")


def yuv_to_rgb(y: Any, u: Any, v: Any, *, matrix: str, full_range: bool, bits: int) -> Any:
    """Y'CbCr codes -> R'G'B' in 0..1.

    Args:
        y, u, v: `[..., H, W]` codes 0..2**bits-1 (any integer dtype: uint8, uint16, int16,
            int32, ...; or float codes, e.g. resized planes), all numpy or all torch on one
            device; chroma already at luma size; leading dims (a batch) are kept.
        matrix: an FFmpeg `colorspace` name with known coefficients (see MATRIX_ALIASES);
            "unknown" is refused here, resolve it first with `resolve_matrix`.
        full_range: True for "pc" levels, False for "tv" (see module docstring).
        bits: code depth 8..16.

    Returns:
        `[..., H, W, 3]` float32 R'G'B' (gamma-encoded, not linear light), clipped to 0..1 (out of
        gamut and out of range codes are clipped, as swscale does for 8-bit RGB output); same
        type and device as the input.
    """
    _check_planes(y, u, v)
    _, _, _, r_cr, g_cb, g_cr, b_cb = _coefficients(matrix)
    y_off, y_scale, c_off, c_scale = code_levels(bits=bits, full_range=full_range)
    luma = (_as_float(y) - y_off) * (1.0 / y_scale)
    cb = (_as_float(u) - c_off) * (1.0 / c_scale)
    cr = (_as_float(v) - c_off) * (1.0 / c_scale)
    red = luma + cr * r_cr
    green = luma - cb * g_cb - cr * g_cr
    blue = luma + cb * b_cb
    if isinstance(luma, np.ndarray):
        return np.clip(np.stack([red, green, blue], axis=-1), 0.0, 1.0)
    import torch

    return torch.stack([red, green, blue], dim=-1).clamp_(0.0, 1.0)


def _quantize(x: Any, offset: float, scale: float, bits: int) -> Any:
    peak = (1 << bits) - 1
    if isinstance(x, np.ndarray):
        codes = np.clip(np.rint(x * scale + offset), 0, peak)
        return codes.astype(np.uint8 if bits == 8 else np.uint16)
    import torch

    codes = torch.round(x * scale + offset).clamp_(0, peak)
    return codes.to(torch.uint8 if bits == 8 else torch.int32)


def rgb_to_yuv(rgb: Any, *, matrix: str, full_range: bool, bits: int) -> tuple[Any, Any, Any]:
    """R'G'B' in 0..1 -> Y'CbCr codes (the inverse of `yuv_to_rgb`).

    Args:
        rgb: `[H, W, 3]` floating point (float16/32/64) R'G'B', nominally 0..1; numpy or torch.
        matrix: FFmpeg `colorspace` name with known coefficients (see `yuv_to_rgb`).
        full_range: True for "pc" levels, False for "tv".
        bits: code depth 8..16.

    Returns:
        (y, u, v), each `[H, W]`, rounded to nearest (half to even) and clipped to the code range
        0..2**bits-1 (in-gamut input stays within the legal range anyway). dtype: numpy uint8
        for 8-bit else uint16; torch uint8 for 8-bit else int32 (torch lacks uint16 arithmetic),
        on the input's device. Computed in float32.
    """
    if rgb.ndim != 3 or rgb.shape[-1] != 3:
        raise ValueError(f"rgb must have shape [H, W, 3], got {tuple(rgb.shape)}")
    is_np = isinstance(rgb, np.ndarray)
    if not (np.issubdtype(rgb.dtype, np.floating) if is_np else rgb.is_floating_point()):
        raise TypeError(f"rgb must be floating point 0..1, got dtype {rgb.dtype}")
    kr, kg, kb, r_cr, _, _, b_cb = _coefficients(matrix)
    rgb = _as_float(rgb)
    red, green, blue = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    luma = red * kr + green * kg + blue * kb
    cb = (blue - luma) * (1.0 / b_cb)
    cr = (red - luma) * (1.0 / r_cr)
    y_off, y_scale, c_off, c_scale = code_levels(bits=bits, full_range=full_range)
    return (
        _quantize(luma, y_off, y_scale, bits),
        _quantize(cb, c_off, c_scale, bits),
        _quantize(cr, c_off, c_scale, bits),
    )
