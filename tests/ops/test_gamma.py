"""vidpipe.ops.gamma: identity, invariants, round trip, torch parity, lutyuv/lutrgb oracle."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from conftest import needs_ffmpeg_cli
from hypothesis import given, settings
from hypothesis import strategies as st
from ops_oracle import decode_frames, filter_planes, make_ffv1_clip, max_abs_diff

from vidpipe.ops import gamma as gamma_module
from vidpipe.ops.gamma import apply_lut, check_gamma, gamma_lut, gamma_rgb, legal_range

GAMMAS = st.floats(min_value=0.1, max_value=10.0, allow_nan=False)
BITS = st.sampled_from([8, 9, 10, 12, 16])
SETTINGS = settings(max_examples=30, deadline=None)


# --- validation ------------------------------------------------------------------------------


@pytest.mark.parametrize("good", [1e-6, 0.5, 1, 2.2, 10])
def test_check_gamma_accepts(good: float) -> None:
    assert check_gamma(good) == float(good)


@pytest.mark.parametrize("bad", [0, -1.0, 10.0001, math.nan, math.inf, -math.inf, "x", None])
def test_check_gamma_rejects(bad: object) -> None:
    with pytest.raises(ValueError, match=r"gamma must be in \(0, 10\], got"):
        check_gamma(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("bits", [7, 17, 8.0, True])
def test_gamma_lut_rejects_bits(bits: object) -> None:
    with pytest.raises(ValueError, match="bits"):
        gamma_lut(2.0, bits=bits, full_range=True)  # type: ignore[arg-type]


def test_apply_lut_rejects_float_and_other_types() -> None:
    lut = gamma_lut(2.0, bits=8, full_range=True)
    with pytest.raises(TypeError):
        apply_lut(np.zeros((2, 2), np.float32), lut)
    with pytest.raises(TypeError):
        apply_lut(torch.zeros((2, 2), dtype=torch.float32), lut)
    with pytest.raises(TypeError):
        apply_lut([[1, 2]], lut)
    with pytest.raises(ValueError, match="shape"):
        gamma_rgb(np.zeros((2, 2), np.uint8), 2.0, bits=8)


# --- identity and invariants -----------------------------------------------------------------


@pytest.mark.parametrize("bits", [8, 10, 12, 16])
@pytest.mark.parametrize("full_range", [True, False])
@pytest.mark.parametrize("luma", [True, False])
def test_gamma_one_is_identity(bits: int, full_range: bool, luma: bool) -> None:
    lut = gamma_lut(1.0, bits=bits, full_range=full_range, luma=luma)
    np.testing.assert_array_equal(lut, np.arange(2**bits))  # out-of-range codes included
    assert lut.dtype == (np.uint8 if bits == 8 else np.uint16)
    plane = np.random.default_rng(bits).integers(0, 2**bits, (7, 9)).astype(lut.dtype)
    np.testing.assert_array_equal(apply_lut(plane, lut), plane)


@SETTINGS
@given(gamma=GAMMAS, bits=BITS, full_range=st.booleans(), luma=st.booleans())
def test_table_invariants(gamma: float, bits: int, full_range: bool, luma: bool) -> None:
    lut = gamma_lut(gamma, bits=bits, full_range=full_range, luma=luma)
    assert lut.shape == (2**bits,)
    assert lut.dtype == (np.uint8 if bits == 8 else np.uint16)
    assert not lut.flags.writeable
    assert np.all(np.diff(lut.astype(np.int64)) >= 0), "monotonic non-decreasing"
    lo, hi = legal_range(bits=bits, full_range=full_range, luma=luma)
    if gamma != 1.0:
        assert lut.min() >= lo and lut.max() <= hi
        assert lut[: lo + 1].tolist() == [lo] * (lo + 1)  # at and below black: black
        assert lut[hi:].tolist() == [hi] * (2**bits - hi)  # at and above white: white
    assert gamma_lut(gamma, bits=bits, full_range=full_range, luma=luma) is lut  # cached


def test_limited_range_bounds_scale_with_depth() -> None:
    assert legal_range(bits=8, full_range=False) == (16, 235)
    assert legal_range(bits=10, full_range=False) == (64, 940)
    assert legal_range(bits=10, full_range=False, luma=False) == (64, 960)
    assert legal_range(bits=16, full_range=True) == (0, 65535)


def test_gamma_above_one_brightens_mid_grey() -> None:
    lut = gamma_lut(2.2, bits=8, full_range=True)
    assert lut[128] == round(255 * (128 / 255) ** (1 / 2.2))
    assert lut[128] > 128 > gamma_lut(0.5, bits=8, full_range=True)[128]


@SETTINGS
@given(gamma=st.floats(min_value=0.5, max_value=2.0), full_range=st.booleans())
def test_round_trip_gamma_then_inverse(gamma: float, full_range: bool) -> None:
    """G then 1/G is the identity up to rounding (upper 3/4 of the 16-bit range: slope <= 2)."""
    fwd = gamma_lut(gamma, bits=16, full_range=full_range)
    inv = gamma_lut(1.0 / gamma, bits=16, full_range=full_range)
    lo, hi = legal_range(bits=16, full_range=full_range)
    codes = np.arange(lo + (hi - lo) // 4, hi + 1)
    assert max_abs_diff(inv[fwd[codes]], codes) <= 2


# --- paired uint8 lookup (two codes per lookup) ----------------------------------------------


def _plane_views(rng: np.random.Generator) -> list[np.ndarray]:
    """uint8 planes the paired path takes (C-contiguous, even size) and the ones it must leave
    to the plain lookup (odd sizes, strided slices), plus odd offsets into a buffer."""
    big = rng.integers(0, 256, (37, 52, 3), dtype=np.uint8)
    flat = rng.integers(0, 256, 1001, dtype=np.uint8)
    return [
        big[..., 0].copy(),  # even size
        big[:, :51, 0].copy(),  # 37 x 51: odd size
        big[:, :, 0],  # strided: not contiguous
        big[::2, ::3, 1],  # strided both axes
        big[:, ::-1, 2],  # negative stride
        big,  # [H, W, 3] RGB, even size
        flat[1:],  # contiguous, even size, odd byte offset (unaligned as uint16)
        flat[1:].reshape(40, 25),  # contiguous 2-D, odd width, even size, unaligned
        flat[:999],  # odd size 1-D
        np.asfortranarray(big[..., 1]),  # F-contiguous
        np.zeros((0, 4), np.uint8),  # empty
        np.zeros((1, 1), np.uint8),  # single code
    ]


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("gamma", [0.45, 1.0, 2.2])
@pytest.mark.parametrize("full_range", [True, False])
def test_paired_lookup_equals_plain(seed: int, gamma: float, full_range: bool) -> None:
    rng = np.random.default_rng(seed)
    lut = gamma_lut(gamma, bits=8, full_range=full_range)
    for plane in _plane_views(rng):
        before = plane.copy()
        got = apply_lut(plane, lut)
        assert got.dtype == np.uint8 and got.shape == plane.shape
        np.testing.assert_array_equal(got, lut[plane])
        np.testing.assert_array_equal(plane, before)  # input untouched
        assert not np.shares_memory(got, plane)


def test_paired_lookup_random_table_and_cache() -> None:
    """A read-only arbitrary (non-monotonic) table, applied twice (cached pair table)."""
    rng = np.random.default_rng(11)
    lut = rng.integers(0, 256, 256, dtype=np.uint8)
    plane = rng.integers(0, 256, (1080, 1920), dtype=np.uint8)
    expected = lut[plane]  # while writeable: the plain lookup
    np.testing.assert_array_equal(apply_lut(plane, lut), expected)
    lut.flags.writeable = False  # now eligible for the paired table
    np.testing.assert_array_equal(apply_lut(plane, lut), expected)
    assert any(held is lut for held, _ in gamma_module._PAIR_LUT_CACHE.values())
    np.testing.assert_array_equal(apply_lut(plane, lut), expected)


# --- torch parity ----------------------------------------------------------------------------

TORCH_DTYPES = {8: [torch.uint8, torch.int16, torch.int32], 10: [torch.int16, torch.uint16]}
TORCH_DTYPES[16] = [torch.uint16, torch.int32]


@SETTINGS
@given(gamma=GAMMAS, bits=st.sampled_from([8, 10, 16]), data=st.data())
def test_torch_matches_numpy(gamma: float, bits: int, data: st.DataObject) -> None:
    dtype = data.draw(st.sampled_from(TORCH_DTYPES[bits]))
    full_range = data.draw(st.booleans())
    seed = data.draw(st.integers(0, 2**31))
    plane = np.random.default_rng(seed).integers(0, 2**bits, (5, 11))
    lut = gamma_lut(gamma, bits=bits, full_range=full_range)
    expected = apply_lut(plane.astype(lut.dtype), lut)
    got = apply_lut(torch.from_numpy(plane).to(dtype), lut)
    assert got.dtype == dtype and got.shape == (5, 11)
    np.testing.assert_array_equal(got.to(torch.int64).numpy(), expected)


def test_torch_rgb_and_mutable_table() -> None:
    rgb = np.random.default_rng(3).integers(0, 256, (4, 6, 3)).astype(np.uint8)
    got = gamma_rgb(torch.from_numpy(rgb), 1.8, bits=8)
    np.testing.assert_array_equal(got.numpy(), gamma_rgb(rgb, 1.8, bits=8))
    table = np.arange(256, dtype=np.uint8)[::-1].copy()  # writeable: used uncached
    assert apply_lut(torch.from_numpy(rgb), table).equal(torch.from_numpy(255 - rgb))
    table[:] = 7
    assert apply_lut(torch.from_numpy(rgb), table).eq(7).all()


# --- FFmpeg oracle: lutyuv=y=gammaval(1/G) / lutrgb ------------------------------------------

ORACLE_GAMMAS = (0.5, 1.8, 2.2)


def _lutyuv(gamma: float) -> str:
    """lutyuv gamma on Y only. u=val:v=val, because lutyuv's default for an unset component is
    "clipval", which clips chroma to 16..240 (scaled); we leave U and V untouched."""
    return f"lutyuv=y=gammaval({1 / gamma}):u=val:v=val"


def _ramp(bits: int) -> np.ndarray:
    """Every code 0..2**bits-1 once, as a `[2**bits / 64, 64]` plane."""
    return np.arange(2**bits, dtype=np.uint8 if bits == 8 else np.uint16).reshape(-1, 64)


@needs_ffmpeg_cli
@pytest.mark.parametrize(
    ("pix_fmt", "bits", "full_range"),
    [("yuv444p", 8, False), ("yuv444p10le", 10, False), ("yuvj444p", 8, True)],
)
@pytest.mark.parametrize("gamma", ORACLE_GAMMAS)
def test_lutyuv_every_code(pix_fmt: str, bits: int, full_range: bool, gamma: float) -> None:
    """All codes through lutyuv: within 1 code (FFmpeg truncates, we round); U/V untouched.

    lutyuv picks the range from the pix_fmt: limited for yuv4xxp*, full for yuvj*."""
    y = _ramp(bits)
    u = np.full_like(y, 2 ** (bits - 1) + 3)
    v = np.full_like(y, 2 ** (bits - 1) - 5)
    size_wh = (y.shape[1], y.shape[0])
    ref = filter_planes((y, u, v), pix_fmt, size_wh, _lutyuv(gamma), pix_fmt)
    ours = apply_lut(y, gamma_lut(gamma, bits=bits, full_range=full_range))
    assert max_abs_diff(ours, ref[0]) <= 1
    np.testing.assert_array_equal(ref[1], u)
    np.testing.assert_array_equal(ref[2], v)


@needs_ffmpeg_cli
@pytest.mark.parametrize("gamma", ORACLE_GAMMAS)
def test_lutrgb_every_code(gamma: float) -> None:
    ramp = _ramp(8)
    rgb = np.stack([ramp, ramp[::-1], ramp[:, ::-1]], axis=-1)
    expr = f"gammaval({1 / gamma})"
    vf = f"lutrgb=r={expr}:g={expr}:b={expr}"
    (ref,) = filter_planes((rgb,), "rgb24", (64, 4), vf, "rgb24")
    assert max_abs_diff(gamma_rgb(rgb, gamma, bits=8), ref) <= 1


@pytest.fixture(scope="module")
def ffv1_clips(tmp_path_factory: pytest.TempPathFactory) -> dict[int, str]:
    folder = tmp_path_factory.mktemp("gamma")
    return {
        8: make_ffv1_clip(str(folder / "c8.mkv"), (160, 120), "yuv420p", 0.2),
        10: make_ffv1_clip(str(folder / "c10.mkv"), (160, 120), "yuv420p10le", 0.2),
    }


@needs_ffmpeg_cli
@pytest.mark.parametrize("bits", [8, 10])
@pytest.mark.parametrize("gamma", ORACLE_GAMMAS)
def test_lutyuv_on_clip(ffv1_clips: dict[int, str], bits: int, gamma: float) -> None:
    pix_fmt = "yuv420p" if bits == 8 else "yuv420p10le"
    path = ffv1_clips[bits]
    source = decode_frames(path, pix_fmt, (160, 120))
    ref = decode_frames(path, pix_fmt, (160, 120), vf=_lutyuv(gamma))
    lut = gamma_lut(gamma, bits=bits, full_range=False)
    assert len(source) == len(ref) == 5
    for (y, u, v), (ry, ru, rv) in zip(source, ref, strict=True):
        assert max_abs_diff(apply_lut(y, lut), ry) <= 1
        np.testing.assert_array_equal(ru, u)
        np.testing.assert_array_equal(rv, v)
