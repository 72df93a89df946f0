"""Chroma resampling between 4:2:0, 4:2:2 and 4:4:4, with the filter and the siting explicit.

Owns `resample_chroma` (one chroma plane at a time), the subsampling helpers `chroma_of`,
`pix_fmt_for`, `chroma_shape` and `resolve_siting`. Numpy arrays or torch tensors (any device):
all arithmetic is exact integer sums with small integer weights and one final rounding (half
up), so both give bit-identical results. Torch (and non-integer numpy) planes gather with
index/weight taps in int32; integer numpy planes take a fast path of strided slices that is
bit-identical to it (tested for every filter, siting and size). Pure: no I/O, no host sync.

Geometry: a subsampled chroma plane has ceil(n / 2) samples for n luma samples (odd sizes
keep their last column / row). Chroma sample k sits at luma position 2k + p, with p per axis
given by the siting (FFmpeg's `chroma_location` names):

    siting       horizontal p   vertical p   used by
    left         0              0.5          MPEG-2, H.264/HEVC 4:2:0 default
    center       0.5            0.5          JPEG/JFIF, MPEG-1 (swscale's default)
    topleft      0              0            BT.2020/2100 4:2:0
    top          0.5            0
    bottomleft   0              1
    bottom       0.5            1

In swscale's terms p * 256 is `in_h_chr_pos` / `in_v_chr_pos` (and `out_*_chr_pos`): left is
h 0 / v 128, center 128 / 128, topleft 0 / 0 (0 on an axis that is not subsampled).

Filters (edges replicate the border sample, as swscale's filter clamping does). Measured against
ffmpeg 5.1 `scale` on testsrc2 / mandelbrot at 320x240, U and V:
* up "nearest": each chroma sample fills the 2x2 (4:2:0) or 2x1 (4:2:2) block it covers
  (ignores the siting), so nearest-up followed by box-down is the identity.
* up "bilinear": linear interpolation at the luma positions, honouring the siting; swscale
  `flags=bilinear` with the same chr_pos: identical, except centred 4:2:0 (max 1 code, >= 61 dB).
* down "box": mean of each 2x2 / 2x1 block, rounded half up (blocks cut by an odd border
  average the samples that exist); ignores `siting` (a box is centred by definition). Identical
  to swscale `flags=area` at its default (centred) output siting.
* down "bilinear": triangle (tent) filter two luma samples wide each side, centred on the
  output chroma position: [1 2 1]/4 for co-sited, [1 3 3 1]/8 for centred positions, which is
  what swscale `flags=bilinear` does downscaling 2:1 with `out_*_chr_pos` (max 1 code, >= 60 dB).
Odd sizes: swscale stretches the ceil(n/2) chroma samples over n luma samples (step 161/321
instead of 1/2), drifting up to half a chroma sample at the far edge (33..44 dB against us at
321x241); we keep the exact 2:1 grid, which equals swscale on the frame edge-padded to even size.
"""

from __future__ import annotations

import functools
import math
from typing import TYPE_CHECKING, Any

import numpy as np

from vidpipe.ops._backend import is_tensor
from vidpipe.ops.params import CHROMAS, DOWN_FILTERS, UP_FILTERS
from vidpipe.pixfmt import LAYOUTS, canonical_pix_fmt

if TYPE_CHECKING:
    import torch

__all__ = [
    "CHROMAS",
    "DOWN_FILTERS",
    "SITINGS",
    "UP_FILTERS",
    "chroma_of",
    "chroma_shape",
    "pix_fmt_for",
    "resample_chroma",
    "resolve_siting",
]

#: chroma_location -> (horizontal, vertical) chroma position in half luma samples (2 * p).
SITINGS: dict[str, tuple[int, int]] = {
    "left": (0, 1),
    "center": (1, 1),
    "topleft": (0, 0),
    "top": (1, 0),
    "bottomleft": (0, 2),
    "bottom": (1, 2),
}
_H_SUB = {"420": True, "422": True, "444": False}
_V_SUB = {"420": True, "422": False, "444": False}
_SUBSAMPLING = {"4:2:0": "420", "4:2:2": "422", "4:4:4": "444"}
_PIX_FMT_BITS = (8, 10, 12, 16)

Taps = tuple[tuple[np.ndarray, np.ndarray], ...]


def chroma_of(pix_fmt: str) -> str | None:
    """Chroma subsampling of a Y'CbCr pix_fmt: "420", "422" or "444".

    Planar, semi-planar, packed and alpha variants count (nv12 -> "420", yuyv422 -> "422");
    None for anything else (gray, RGB, 4:4:0, 4:1:1, unknown names).
    """
    return _SUBSAMPLING.get(LAYOUTS[canonical_pix_fmt(pix_fmt)].subsampling)


def pix_fmt_for(chroma: str, bits: int) -> str:
    """Planar Y'CbCr pix_fmt name: ("420", 8) -> "yuv420p", ("422", 10) -> "yuv422p10le".
    bits in (8, 10, 12, 16)."""
    _check_choice("chroma", chroma, CHROMAS)
    if bits not in _PIX_FMT_BITS:
        raise ValueError(f"bits must be one of {_PIX_FMT_BITS}, got {bits!r}")
    return f"yuv{chroma}p" if bits == 8 else f"yuv{chroma}p{bits}le"


def chroma_shape(chroma: str, luma_size_wh: tuple[int, int]) -> tuple[int, int]:
    """(height, width) of one chroma plane: ceil(n / 2) along each subsampled axis."""
    _check_choice("chroma", chroma, CHROMAS)
    width, height = luma_size_wh
    if width < 1 or height < 1:
        raise ValueError(f"luma_size_wh must be positive, got {luma_size_wh}")
    rows = -(-height // 2) if _V_SUB[chroma] else height
    cols = -(-width // 2) if _H_SUB[chroma] else width
    return rows, cols


def resolve_siting(chroma_location: str) -> str:
    """A SITINGS key for an FFmpeg `chroma_location`; "unspecified"/"unknown" -> "left", the
    H.264/HEVC/MPEG-2 default for 4:2:0 (note: swscale's own default is "center", and FFmpeg
    5.1's scale filter ignores the frame's chroma_location)."""
    key = chroma_location.strip().lower()
    if key in {"unspecified", "unknown", ""}:
        return "left"
    _check_choice("chroma_location", key, tuple(SITINGS))
    return key


def _check_choice(what: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"{what} must be one of {choices}, got {value!r}")


@functools.lru_cache(maxsize=256)
def _axis_taps(kind: str, *, up: bool, luma_n: int, pos2: int) -> tuple[Taps, int]:
    """Integer taps along one axis: ((indices, weights), ...) and their common denominator.

    Upsampling maps ceil(luma_n / 2) chroma samples to luma_n; downsampling the reverse.
    pos2 is twice the chroma position in luma samples (0, 1 or 2). Indices are clamped to the
    source (edge replication).
    """
    chroma_n = -(-luma_n // 2)
    if kind == "nearest":
        return ((np.arange(luma_n) // 2, np.ones(luma_n, np.int32)),), 1
    if kind == "box":
        base = 2 * np.arange(chroma_n)
        ones = np.ones(chroma_n, np.int32)
        return ((base, ones), (np.minimum(base + 1, luma_n - 1), ones)), 2
    if up:  # bilinear: tent of one chroma sample radius, in half luma samples: 4 - |d|
        q = 2 * np.arange(luma_n) - pos2  # 4 * chroma coordinate
        k0 = np.floor_divide(q, 4)
        taps = []
        for k in (k0, k0 + 1):
            weight = np.maximum(0, 4 - np.abs(q - 4 * k)).astype(np.int32)
            taps.append((np.clip(k, 0, chroma_n - 1), weight))
        return tuple(taps), 4
    # bilinear down: tent of two luma samples radius around 2k + pos2 / 2
    base = 2 * np.arange(chroma_n)
    taps = []
    for offset in (-1, 0, 1, 2):
        weight = max(0, 4 - abs(2 * offset - pos2))
        if weight:
            full = np.full(chroma_n, weight, np.int32)
            taps.append((np.clip(base + offset, 0, luma_n - 1), full))
    return tuple(taps), sum(int(w[0]) for _, w in taps)


@functools.lru_cache(maxsize=256)
def _axis_taps_torch(key: tuple[str, bool, int, int], device: torch.device) -> Taps:
    import torch

    kind, up, luma_n, pos2 = key
    taps, _ = _axis_taps(kind, up=up, luma_n=luma_n, pos2=pos2)
    return tuple(
        (torch.as_tensor(i, dtype=torch.long, device=device), torch.as_tensor(w, device=device))
        for i, w in taps
    )


def _filter_axis(acc: Any, axis: int, key: tuple[str, bool, int, int]) -> tuple[Any, int]:
    """Apply one axis' taps to an int32 `[h, w]` accumulator; returns (acc, denominator)."""
    kind, up, luma_n, pos2 = key
    taps, den = _axis_taps(kind, up=up, luma_n=luma_n, pos2=pos2)
    shape = (-1, 1) if axis == 0 else (1, -1)
    out = None
    if isinstance(acc, np.ndarray):
        for idx, weight in taps:
            term = np.take(acc, idx, axis=axis) * weight.reshape(shape)
            out = term if out is None else out + term
    else:
        for idx, weight in _axis_taps_torch(key, acc.device):
            term = acc.index_select(axis, idx) * weight.reshape(shape)
            out = term if out is None else out + term
    return out, den


def resample_chroma(
    plane: Any,
    *,
    src: str,
    dst: str,
    luma_size_wh: tuple[int, int],
    up: str = "bilinear",
    down: str = "box",
    siting: str = "left",
) -> Any:
    """Resample one chroma plane (U or V) from `src` to `dst` subsampling.

    Args:
        plane: `[h, w]` integer chroma codes (numpy uint8/uint16/..., or torch uint8, int16,
            uint16, int32 on any device), h, w = `chroma_shape(src, luma_size_wh)`.
        src, dst: "420", "422" or "444"; 420 <-> 422 resamples vertically only.
        luma_size_wh: (width, height) of the luma plane (odd sizes allowed).
        up: "nearest" (block replication) or "bilinear" (siting-aware), when an axis grows.
        down: "box" (block mean) or "bilinear" (siting-aware tent), when an axis shrinks.
        siting: a SITINGS key (FFmpeg chroma_location name) of the subsampled plane(s);
            resolve "unspecified" explicitly with `resolve_siting`.

    Returns:
        `[h', w']` = `chroma_shape(dst, luma_size_wh)`, same dtype, type and device as `plane`,
        codes rounded half up (within the input's min..max, so no clipping is needed). When
        src == dst the input itself is returned.
    """
    _check_choice("src", src, CHROMAS)
    _check_choice("dst", dst, CHROMAS)
    _check_choice("up", up, UP_FILTERS)
    _check_choice("down", down, DOWN_FILTERS)
    _check_choice("siting", siting, tuple(SITINGS))
    expected = chroma_shape(src, luma_size_wh)
    if tuple(plane.shape) != expected:
        raise ValueError(
            f"{src} chroma plane for luma {luma_size_wh} must be {expected}, got "
            f"{tuple(plane.shape)}"
        )
    if src == dst:
        return plane
    steps = _plan(src, dst, luma_size_wh, up, down, siting)
    if isinstance(plane, np.ndarray) and plane.dtype.kind in "ui":
        return _resample_sliced(plane, steps)
    if not (isinstance(plane, np.ndarray) or is_tensor(plane)):
        raise TypeError(f"plane must be a numpy array or torch tensor, got {type(plane).__name__}")
    return _resample_gather(plane, steps)


Steps = list[tuple[int, tuple[str, bool, int, int]]]


def _plan(
    src: str, dst: str, luma_size_wh: tuple[int, int], up: str, down: str, siting: str
) -> Steps:
    """The per-axis filter steps, horizontal first: [(axis, (kind, up, luma_n, pos2)), ...]."""
    width, height = luma_size_wh
    h_pos2, v_pos2 = SITINGS[siting]
    steps: Steps = []
    if _H_SUB[src] != _H_SUB[dst]:
        steps.append((1, (up if _H_SUB[src] else down, _H_SUB[src], width, h_pos2)))
    if _V_SUB[src] != _V_SUB[dst]:
        steps.append((0, (up if _V_SUB[src] else down, _V_SUB[src], height, v_pos2)))
    return steps


def _resample_gather(plane: Any, steps: Steps) -> Any:
    """Reference path (numpy or torch): gather with index/weight taps in int32, one rounding."""
    is_np = isinstance(plane, np.ndarray)
    if is_np:
        acc = plane.astype(np.int32)
    else:
        import torch

        acc = plane.to(torch.int32)
    den = 1
    for axis, key in steps:
        acc, step_den = _filter_axis(acc, axis, key)
        den *= step_den
    if den > 1:
        acc = (acc + den // 2) // den
    return acc.astype(plane.dtype) if is_np else acc.to(plane.dtype)


# --- numpy fast path: the same taps as strided slices of an edge-padded copy -----------------
# Along a factor-2 axis the taps are periodic: upsampling has two output phases (even / odd luma
# samples), each a fixed small-weight sum of neighbouring chroma samples; downsampling has one,
# a sum of every-other-sample slices. `_phases` reads them off `_axis_taps` at an interior
# position, so both paths use the same weights by construction; clamping the indices at the
# borders equals slicing a copy padded by edge replication. Integer sums are exact, and every
# denominator is a power of two, so (acc + den // 2) >> log2(den) equals the floor division.
# uint8 planes work in uint16 (255 * 64 + 32 fits: the largest denominator is 8 * 8).

#: (output offset, common factor, ((weight / factor, tap offset), ...) largest weight first)
Phase = tuple[int, int, tuple[tuple[int, int], ...]]


@functools.lru_cache(maxsize=64)
def _phases(kind: str, up: bool, pos2: int) -> tuple[tuple[Phase, ...], int]:
    """Output phases of one axis step and the step's denominator.

    Up: output j = 2i + r is sum(w * x[clip(i + s)]); down: output k is sum(w * x[clip(2k + s)]).
    """
    taps, den = _axis_taps(kind, up=up, luma_n=16, pos2=pos2)
    outs = [(r, 8 + r, (8 + r) // 2) for r in (0, 1)] if up else [(0, 4, 8)]
    phases = []
    for r, j, base in outs:
        pairs = sorted(((int(w[j]), int(i[j]) - base) for i, w in taps if w[j] > 0), reverse=True)
        factor = math.gcd(*(w for w, _ in pairs))
        phases.append((r, factor, tuple((w // factor, s) for w, s in pairs)))
    return tuple(phases), den


def _along(axis: int, index: slice) -> tuple[slice, ...]:
    return (index,) if axis == 0 else (slice(None), index)


def _sliced_axis(src: np.ndarray, axis: int, key: tuple[str, bool, int, int], work: Any) -> Any:
    """One axis step of the fast path: `src` [h, w] any int dtype -> `work` dtype sums."""
    kind, up, luma_n, pos2 = key
    phases, _ = _phases(kind, up, pos2)
    n_in = src.shape[axis]
    n_out, stride = (luma_n, 1) if up else (-(-luma_n // 2), 2)
    counts = [len(range(r, n_out, 2 if up else 1)) for r, _, _ in phases]
    pairs = list(zip(phases, counts, strict=True))
    spans = [(s, (c - 1) * stride + s) for (_, _, ts), c in pairs if c for _, s in ts]
    lo = max(0, -min(first for first, _ in spans))
    hi = max(0, max(last for _, last in spans) - (n_in - 1))
    if lo or hi:
        edges = [src[_along(axis, slice(0, 1))]] * lo, [src[_along(axis, slice(-1, None))]] * hi
        src = np.concatenate([*edges[0], src, *edges[1]], axis=axis, dtype=work, casting="unsafe")
    shape = list(src.shape)
    shape[axis] = n_out
    out = np.empty(shape, work)
    kw = {"dtype": work, "casting": "unsafe"}
    for (r, factor, taps), count in pairs:
        view = out[_along(axis, slice(r, None, 2 if up else 1))]
        for t, (weight, s) in enumerate(taps):
            term = src[_along(axis, slice(lo + s, lo + s + (count - 1) * stride + 1, stride))]
            if t == 0:
                np.multiply(term, weight, out=view, **kw)
            elif weight == 1:
                np.add(view, term, out=view, **kw)
            else:
                np.add(view, np.multiply(term, weight, **kw), out=view, **kw)
        if factor > 1:
            np.multiply(view, factor, out=view, **kw)
    return out


def _resample_sliced(plane: np.ndarray, steps: Steps) -> np.ndarray:
    """Fast numpy path, bit-identical to `_resample_gather` for integer planes."""
    den = 1
    for _, (kind, up, _, pos2) in steps:
        den *= _phases(kind, up, pos2)[1]
    if den == 1 and plane.dtype.itemsize <= 4:
        work: Any = plane.dtype  # replication only: int32 round trip is the identity here
    else:
        work = np.uint16 if plane.dtype == np.uint8 else np.int32
    acc = plane
    for axis, key in steps:
        acc = _sliced_axis(acc, axis, key, work)
    if den == 1:
        return acc.astype(plane.dtype, copy=False)
    acc += den // 2
    out = np.empty(acc.shape, plane.dtype)
    if den & (den - 1) == 0:
        np.right_shift(acc, den.bit_length() - 1, out=out, casting="unsafe")
    else:
        np.floor_divide(acc, den, out=out, casting="unsafe")
    return out
