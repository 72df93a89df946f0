"""Device parity: every op on a CUDA tensor equals the numpy result (skipped without a GPU)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vidpipe.ops.chroma import SITINGS, chroma_shape, resample_chroma
from vidpipe.ops.color import rgb_to_yuv, yuv_to_rgb
from vidpipe.ops.gamma import apply_lut, gamma_lut, gamma_rgb

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs an NVIDIA GPU"),
]
RNG = np.random.default_rng(7)


@pytest.mark.parametrize("bits", [8, 10, 16])
def test_gamma_on_cuda(bits: int) -> None:
    plane = RNG.integers(0, 2**bits, (37, 53))
    lut = gamma_lut(2.2, bits=bits, full_range=bits != 10)
    expected = apply_lut(plane.astype(lut.dtype), lut)
    dtype = torch.uint8 if bits == 8 else torch.int32
    got = apply_lut(torch.from_numpy(plane).to(dtype).cuda(), lut)
    assert got.is_cuda and got.dtype == dtype
    np.testing.assert_array_equal(got.cpu().numpy(), expected)
    rgb = RNG.integers(0, 256, (9, 11, 3)).astype(np.uint8)
    got_rgb = gamma_rgb(torch.from_numpy(rgb).cuda(), 0.5, bits=8)
    np.testing.assert_array_equal(got_rgb.cpu().numpy(), gamma_rgb(rgb, 0.5, bits=8))


@pytest.mark.parametrize("matrix", ["bt601", "bt709", "bt2020nc"])
@pytest.mark.parametrize("full_range", [False, True])
def test_color_on_cuda(matrix: str, full_range: bool) -> None:
    planes = RNG.integers(0, 1024, (3, 31, 47))
    kw = {"matrix": matrix, "full_range": full_range, "bits": 10}
    rgb = yuv_to_rgb(*planes.astype(np.uint16), **kw)
    rgb_t = yuv_to_rgb(*torch.from_numpy(planes).to(torch.int32).cuda(), **kw)
    assert rgb_t.is_cuda
    np.testing.assert_allclose(rgb_t.cpu().numpy(), rgb, atol=1e-6)
    for a, b in zip(rgb_to_yuv(rgb, **kw), rgb_to_yuv(rgb_t, **kw), strict=True):
        assert int(np.abs(b.cpu().numpy().astype(np.int64) - a).max()) <= 1  # last-ulp float


@pytest.mark.parametrize("siting", sorted(SITINGS))
@pytest.mark.parametrize(("src", "dst"), [("420", "444"), ("444", "420"), ("420", "422")])
def test_chroma_on_cuda(siting: str, src: str, dst: str) -> None:
    size_wh = (33, 19)
    plane = RNG.integers(0, 1024, chroma_shape(src, size_wh)).astype(np.uint16)
    for up, down in [("bilinear", "bilinear"), ("nearest", "box")]:
        kw = {"src": src, "dst": dst, "luma_size_wh": size_wh, "up": up, "down": down}
        expected = resample_chroma(plane, siting=siting, **kw)
        got = resample_chroma(torch.from_numpy(plane.astype(np.int32)).cuda(), siting=siting, **kw)
        assert got.is_cuda
        np.testing.assert_array_equal(got.cpu().numpy(), expected)
