"""vidpipe.ops.color: neutral grey, known levels, round trips, torch parity, swscale oracle."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import needs_ffmpeg_cli
from hypothesis import given, settings
from hypothesis import strategies as st
from ops_oracle import filter_planes, lavfi_frame, max_abs_diff, psnr

from vidpipe.ops.color import (
    MATRICES,
    MATRIX_ALIASES,
    code_levels,
    resolve_matrix,
    resolve_range,
    rgb_to_yuv,
    yuv_to_rgb,
)

ALL_NAMES = sorted(MATRIX_ALIASES)
SETTINGS = settings(max_examples=40, deadline=None)


# --- names -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("unknown", "bt601"),
        ("unspecified", "bt601"),
        ("bt470bg", "bt601"),
        ("smpte170m", "bt601"),
        ("bt709", "bt709"),
        ("BT709", "bt709"),
        ("bt2020nc", "bt2020nc"),
        ("bt2020c", "bt2020nc"),
        ("smpte240m", "smpte240m"),
        ("fcc", "fcc"),
    ],
)
def test_resolve_matrix(name: str, expected: str) -> None:
    assert resolve_matrix(name, height=1080) == expected  # unknown: swscale's BT.601, any size
    assert resolve_matrix(name) == expected


@pytest.mark.parametrize("name", ["gbr", "ycgco", "ictcp", "bt2021"])
def test_resolve_matrix_rejects(name: str) -> None:
    with pytest.raises(ValueError, match="unsupported colour matrix"):
        resolve_matrix(name)


def test_resolve_range() -> None:
    assert resolve_range("pc") and resolve_range("jpeg")
    assert not resolve_range("tv") and not resolve_range("unknown")
    assert resolve_range("unknown", pix_fmt="yuvj420p")
    assert not resolve_range("unknown", pix_fmt="yuv420p")
    with pytest.raises(ValueError):
        resolve_range("wide")


def test_unknown_matrix_is_not_implicit() -> None:
    planes = [np.zeros((2, 2), np.uint8)] * 3
    with pytest.raises(ValueError, match="resolve_matrix"):
        yuv_to_rgb(*planes, matrix="unknown", full_range=False, bits=8)


def test_bad_shapes_and_types() -> None:
    y = np.zeros((2, 3), np.uint8)
    with pytest.raises(ValueError, match="4:4:4"):
        yuv_to_rgb(y, np.zeros((1, 2), np.uint8), y, matrix="bt709", full_range=False, bits=8)
    with pytest.raises(TypeError):
        yuv_to_rgb(y, torch.zeros(2, 3), y, matrix="bt709", full_range=False, bits=8)
    with pytest.raises(TypeError, match="floating"):
        rgb_to_yuv(np.zeros((2, 2, 3), np.uint8), matrix="bt709", full_range=False, bits=8)
    with pytest.raises(ValueError, match="bits"):
        rgb_to_yuv(np.zeros((2, 2, 3)), matrix="bt709", full_range=False, bits=7)


# --- invariants ------------------------------------------------------------------------------


@pytest.mark.parametrize("matrix", ALL_NAMES)
@pytest.mark.parametrize("full_range", [False, True])
@pytest.mark.parametrize("bits", [8, 10, 16])
def test_neutral_grey(matrix: str, full_range: bool, bits: int) -> None:
    """u = v = mid gives R = G = B (exactly) for every luma code; and back: zero chroma."""
    y = np.arange(0, 2**bits, max(1, 2**bits // 512), dtype=np.int32).reshape(1, -1)
    mid = np.full_like(y, 2 ** (bits - 1))
    rgb = yuv_to_rgb(y, mid, mid, matrix=matrix, full_range=full_range, bits=bits)
    assert rgb.shape == (*y.shape, 3) and rgb.dtype == np.float32
    np.testing.assert_array_equal(rgb[..., 0], rgb[..., 1])
    np.testing.assert_array_equal(rgb[..., 1], rgb[..., 2])
    y_off, y_scale, _, _ = code_levels(bits=bits, full_range=full_range)
    np.testing.assert_allclose(rgb[..., 0], np.clip((y - y_off) / y_scale, 0, 1), atol=1e-6)
    _, u, v = rgb_to_yuv(rgb, matrix=matrix, full_range=full_range, bits=bits)
    assert (u == 2 ** (bits - 1)).all() and (v == 2 ** (bits - 1)).all()


@pytest.mark.parametrize("bits", [8, 10, 12, 16])
def test_black_and_white_levels(bits: int) -> None:
    s = 2 ** (bits - 8)
    for full_range, black, white in [(False, 16 * s, 235 * s), (True, 0, 2**bits - 1)]:
        rgb = np.array([[[0.0] * 3, [1.0] * 3]], np.float32)
        y, _, _ = rgb_to_yuv(rgb, matrix="bt709", full_range=full_range, bits=bits)
        assert y.tolist() == [[black, white]] and y.dtype == (np.uint8 if bits == 8 else np.uint16)


def test_primaries_hit_legal_chroma_extremes() -> None:
    """Pure blue has Cb = +0.5 -> 240; pure red has Cr = +0.5 -> 240 (limited, 8-bit)."""
    for matrix in MATRICES:
        rgb = np.array([[[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]]])
        _, u, v = rgb_to_yuv(rgb, matrix=matrix, full_range=False, bits=8)
        assert u[0, 0] == 240 and v[0, 1] == 240


# --- round trips -----------------------------------------------------------------------------


@st.composite
def rgb_images(draw: st.DrawFn) -> np.ndarray:
    seed = draw(st.integers(0, 2**31))
    shape = (draw(st.integers(1, 6)), draw(st.integers(1, 6)), 3)
    return np.random.default_rng(seed).uniform(0.02, 0.98, shape).astype(np.float32)


@SETTINGS
@given(
    rgb=rgb_images(),
    matrix=st.sampled_from(ALL_NAMES),
    full_range=st.booleans(),
    bits=st.sampled_from([8, 10, 12, 16]),
)
def test_round_trips(rgb: np.ndarray, matrix: str, full_range: bool, bits: int) -> None:
    """yuv -> rgb -> yuv within 1 code on in-gamut input; rgb -> yuv -> rgb within ~1 step."""
    yuv = rgb_to_yuv(rgb, matrix=matrix, full_range=full_range, bits=bits)
    back = yuv_to_rgb(*yuv, matrix=matrix, full_range=full_range, bits=bits)
    step = 1.0 / code_levels(bits=bits, full_range=full_range)[1]
    assert float(np.abs(back - rgb).max()) <= 1.5 * step + 1e-6
    again = rgb_to_yuv(back, matrix=matrix, full_range=full_range, bits=bits)
    for a, b in zip(yuv, again, strict=True):
        assert max_abs_diff(a, b) <= 1


# --- torch parity ----------------------------------------------------------------------------


@SETTINGS
@given(
    seed=st.integers(0, 2**31),
    matrix=st.sampled_from(ALL_NAMES),
    full_range=st.booleans(),
    bits=st.sampled_from([8, 10, 16]),
)
def test_torch_matches_numpy(seed: int, matrix: str, full_range: bool, bits: int) -> None:
    planes = np.random.default_rng(seed).integers(0, 2**bits, (3, 4, 7))
    dtype_np = np.uint8 if bits == 8 else np.uint16
    kw = {"matrix": matrix, "full_range": full_range, "bits": bits}
    ours = yuv_to_rgb(*planes.astype(dtype_np), **kw)
    theirs = yuv_to_rgb(*torch.from_numpy(planes).to(torch.int32), **kw)
    assert theirs.dtype == torch.float32
    np.testing.assert_array_equal(theirs.numpy(), ours)
    yuv_np = rgb_to_yuv(ours, **kw)
    yuv_t = rgb_to_yuv(theirs, **kw)
    for a, b in zip(yuv_np, yuv_t, strict=True):
        assert b.dtype == (torch.uint8 if bits == 8 else torch.int32)
        np.testing.assert_array_equal(b.numpy(), a)


# --- swscale oracle --------------------------------------------------------------------------

SWS_NAMES = {"bt601": "bt601", "bt709": "bt709", "bt2020nc": "bt2020", "smpte240m": "smpte240m"}
SWS_NAMES["fcc"] = "fcc"
SIZE_WH = (160, 120)


@pytest.fixture(scope="module")
def yuv444() -> dict[int, tuple[np.ndarray, ...]]:
    return {
        8: lavfi_frame("testsrc2", SIZE_WH, "yuv444p"),
        10: lavfi_frame("testsrc2", SIZE_WH, "yuv444p10le"),
    }


def _swscale_rgb(planes: tuple[np.ndarray, ...], bits: int, matrix: str, rng: str) -> np.ndarray:
    vf = (
        f"scale=in_color_matrix={SWS_NAMES[matrix]}:in_range={rng}"
        ":flags=accurate_rnd+full_chroma_int"
    )
    src, dst = ("yuv444p", "rgb24") if bits == 8 else ("yuv444p10le", "rgb48le")
    return filter_planes(planes, src, SIZE_WH, vf, dst)[0]


@needs_ffmpeg_cli
@pytest.mark.parametrize("matrix", list(SWS_NAMES))
@pytest.mark.parametrize("rng", ["tv", "pc"])
def test_against_swscale_8bit(yuv444: dict, matrix: str, rng: str) -> None:
    """Measured (ffmpeg 5.1): PSNR 72..90 dB, max diff 1 code."""
    ref = _swscale_rgb(yuv444[8], 8, matrix, rng)
    ours = np.rint(yuv_to_rgb(*yuv444[8], matrix=matrix, full_range=rng == "pc", bits=8) * 255)
    assert psnr(ours, ref, 255) >= 40
    assert max_abs_diff(ours, ref) <= 2


@needs_ffmpeg_cli
@pytest.mark.parametrize("matrix", ["bt601", "bt709", "bt2020nc"])
@pytest.mark.parametrize("rng", ["tv", "pc"])
def test_against_swscale_10bit(yuv444: dict, matrix: str, rng: str) -> None:
    """10-bit in, rgb48le out. Measured: PSNR 54..66 dB (swscale's 16-bit RGB path is coarser)."""
    ref = _swscale_rgb(yuv444[10], 10, matrix, rng)
    rgb = yuv_to_rgb(*yuv444[10], matrix=matrix, full_range=rng == "pc", bits=10)
    assert psnr(np.rint(rgb * 65535), ref, 65535) >= 40
