"""The YOLOX model family in torch: parameter counts against the official README, output
shapes, the grid decode against a plain-loop reference, batch-norm folding, inference
preparation (channels_last, fp16, no state kept between calls) and the official state-dict
names (checked against the names in the official ONNX export where it keeps them)."""

from __future__ import annotations

import copy
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import random_images, randomize_bn
from torch import nn

from vidpipe.detectors.yolox.model import VARIANTS, build_yolox, prepare_for_inference

_REPO = Path(__file__).resolve().parents[2]
MODEL_DIR = Path(os.environ.get("VIDPIPE_MODEL_DIR") or _REPO / ".." / "shared" / "models")
NANO_ONNX = MODEL_DIR / "yolox_nano.onnx"

# Params (M) column of the official YOLOX README, with the digits it prints.
OFFICIAL_PARAMS_M = {
    "nano": ("0.91", 2),
    "tiny": ("5.06", 2),
    "s": ("9.0", 1),
    "m": ("25.3", 1),
    "l": ("54.2", 1),
    "x": ("99.1", 1),
}
STRIDES = (8, 16, 32)


def assert_close_rel(got: torch.Tensor, want: torch.Tensor, rel: float) -> None:
    """Element-wise within `rel` of the element or of the largest magnitude of `want`."""
    got, want = got.float(), want.float()
    assert got.shape == want.shape
    torch.testing.assert_close(got, want, rtol=rel, atol=rel * float(want.abs().max()))


def anchor_count(height: int, width: int) -> int:
    return sum((height // s) * (width // s) for s in STRIDES)


# --- parameter counts and shapes -----------------------------------------------------------


@pytest.mark.parametrize("variant", list(OFFICIAL_PARAMS_M))
def test_parameter_count_matches_the_official_readme(variant: str) -> None:
    model = build_yolox(variant)
    count = sum(p.numel() for p in model.parameters())
    text, digits = OFFICIAL_PARAMS_M[variant]
    assert f"{count / 1e6:.{digits}f}" == text, f"{variant}: {count} parameters"


def test_variants_are_the_official_six() -> None:
    assert set(VARIANTS) == set(OFFICIAL_PARAMS_M)
    assert {v.name: v.input_size for v in VARIANTS.values()} == {
        "nano": 416,
        "tiny": 416,
        "s": 640,
        "m": 640,
        "l": 640,
        "x": 640,
    }


@pytest.fixture(scope="module")
def nano() -> nn.Module:
    """A nano model with random batch-norm statistics, eval mode, not folded."""
    torch.manual_seed(0)
    return randomize_bn(build_yolox("nano"), seed=1)


@pytest.mark.parametrize(("batch", "size"), [(2, 416), (1, 640)])
def test_output_shape(nano: nn.Module, batch: int, size: int) -> None:
    with torch.inference_mode():
        out = nano(random_images(batch, size, size))
    n = anchor_count(size, size)
    assert n == {416: 3549, 640: 8400}[size]
    assert out.shape == (batch, n, 85)
    assert out.dtype == torch.float32


def reference_decode(raw: np.ndarray, height: int, width: int) -> np.ndarray:
    """The grid decode with plain loops: anchors level by level (strides 8, 16, 32), row-major
    within a level; cx = (dx + x) * stride, w = exp(log w) * stride; scores unchanged."""
    out = raw.astype(np.float64)
    i = 0
    for stride in STRIDES:
        for gy in range(height // stride):
            for gx in range(width // stride):
                out[:, i, 0] = (raw[:, i, 0] + gx) * stride
                out[:, i, 1] = (raw[:, i, 1] + gy) * stride
                out[:, i, 2] = np.exp(raw[:, i, 2].astype(np.float64)) * stride
                out[:, i, 3] = np.exp(raw[:, i, 3].astype(np.float64)) * stride
                i += 1
    assert i == raw.shape[1]
    return out


@pytest.mark.parametrize(("height", "width"), [(128, 224), (160, 96)])
def test_decode_equals_a_plain_grid_decode(nano: nn.Module, height: int, width: int) -> None:
    images = random_images(2, height, width, seed=3)
    with torch.inference_mode():
        raw = nano(images, decode=False)
        decoded = nano(images, decode=True)
    assert raw.shape == decoded.shape == (2, anchor_count(height, width), 85)
    want = reference_decode(raw.numpy(), height, width)
    np.testing.assert_allclose(decoded.numpy(), want, rtol=1e-5, atol=1e-3)
    scores = raw[..., 4:]
    assert float(scores.min()) >= 0.0 and float(scores.max()) <= 1.0
    # raw boxes are grid offsets, not pixels: the decode must have changed them
    assert not torch.allclose(raw[..., :4], decoded[..., :4])


def test_model_does_not_modify_its_input(nano: nn.Module) -> None:
    images = random_images(1, 64, 96, seed=4)
    before = images.clone()
    with torch.inference_mode():
        nano(images)
    assert torch.equal(images, before)


# --- batch-norm folding and inference preparation ------------------------------------------


@pytest.mark.parametrize("variant", ["nano", "tiny"])
def test_fuse_conv_bn_keeps_the_output(variant: str) -> None:
    from vidpipe.detectors.yolox.blocks import fuse_conv_bn

    torch.manual_seed(5)
    model = randomize_bn(build_yolox(variant), seed=6)
    images = random_images(2, 128, 96, seed=7)
    with torch.inference_mode():
        want = model(images, decode=False)
        fused = fuse_conv_bn(copy.deepcopy(model))
        got = fused(images, decode=False)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in fused.modules())
    assert any(isinstance(m, nn.BatchNorm2d) for m in model.modules()), "copy was modified"
    assert not fused.training
    assert_close_rel(got, want, 1e-4)
    with torch.inference_mode():  # folding twice is a no-op
        assert_close_rel(fuse_conv_bn(fused)(images, decode=False), want, 1e-4)


def test_channels_last_equals_contiguous(nano: nn.Module) -> None:
    cpu = torch.device("cpu")
    plain = prepare_for_inference(copy.deepcopy(nano), cpu, channels_last=False)
    fast = prepare_for_inference(copy.deepcopy(nano), cpu, channels_last=True)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in fast.modules())
    assert all(not p.requires_grad for p in fast.parameters())
    conv = next(m for m in fast.modules() if isinstance(m, nn.Conv2d) and m.kernel_size == (3, 3))
    assert conv.weight.is_contiguous(memory_format=torch.channels_last)
    images = random_images(1, 96, 128, seed=8)
    with torch.inference_mode():
        want = nano(images, decode=False)
        got_plain = plain(images, decode=False)
        got_fast = fast(images.contiguous(memory_format=torch.channels_last), decode=False)
    assert_close_rel(got_plain, want, 1e-4)
    assert_close_rel(got_fast, got_plain, 1e-4)


def _cpu_half_supported() -> bool:
    try:
        conv = nn.Conv2d(3, 4, 3, padding=1).half()
        with torch.inference_mode():
            conv(torch.ones(1, 3, 8, 8, dtype=torch.float16))
    except (RuntimeError, NotImplementedError):
        return False
    return True


def test_half_on_cpu(nano: nn.Module) -> None:
    if not _cpu_half_supported():
        pytest.skip("this torch build has no fp16 convolution on the CPU")
    model = prepare_for_inference(copy.deepcopy(nano), torch.device("cpu"), half=True)
    assert all(p.dtype == torch.float16 for p in model.parameters())
    images = random_images(1, 64, 64, seed=9)
    with torch.inference_mode():
        want = nano(images, decode=False)
        got = model(images.half().contiguous(memory_format=torch.channels_last), decode=False)
    assert got.dtype == torch.float16
    got = got.float()
    assert torch.isfinite(got).all()
    np.testing.assert_allclose(got[..., 4:].numpy(), want[..., 4:].numpy(), atol=0.02)
    scale = float(want[..., :4].abs().max())
    np.testing.assert_allclose(got[..., :4].numpy(), want[..., :4].numpy(), atol=0.03 * scale)


def test_forward_keeps_no_state_between_sizes(nano: nn.Module) -> None:
    """Calls on different input sizes in a row give what fresh models give (no grid cache)."""
    cpu = torch.device("cpu")
    model = prepare_for_inference(copy.deepcopy(nano), cpu)
    big, small = random_images(1, 128, 128, seed=10), random_images(2, 96, 160, seed=11)
    with torch.inference_mode():
        first_big = model(big)
        then_small = model(small)
        again_big = model(big)
        fresh_small = prepare_for_inference(copy.deepcopy(nano), cpu)(small)
        fresh_big = prepare_for_inference(copy.deepcopy(nano), cpu)(big)
    assert then_small.shape == (2, anchor_count(96, 160), 85)
    assert_close_rel(then_small, fresh_small, 1e-5)
    assert_close_rel(first_big, fresh_big, 1e-5)
    assert_close_rel(again_big, first_big, 1e-5)
    assert sorted(model.state_dict()) == sorted(
        prepare_for_inference(copy.deepcopy(nano), cpu).state_dict()
    ), "forward registered new buffers or parameters"


# --- official state-dict names -------------------------------------------------------------

OFFICIAL_KEYS = (
    "backbone.backbone.stem.conv.conv.weight",
    "backbone.backbone.stem.conv.bn.running_var",
    "backbone.backbone.dark2.0.dconv.bn.running_mean",
    "backbone.backbone.dark2.0.pconv.conv.weight",
    "backbone.backbone.dark2.1.m.0.conv2.dconv.conv.weight",
    "backbone.backbone.dark3.1.m.2.conv1.conv.weight",
    "backbone.backbone.dark5.1.conv1.conv.weight",
    "backbone.backbone.dark5.1.conv2.conv.weight",
    "backbone.backbone.dark5.2.conv3.bn.num_batches_tracked",
    "backbone.lateral_conv0.conv.weight",
    "backbone.C3_p4.m.0.conv2.pconv.conv.weight",
    "backbone.reduce_conv1.bn.weight",
    "backbone.bu_conv2.dconv.conv.weight",
    "backbone.C3_n4.conv3.conv.weight",
    "head.stems.0.conv.weight",
    "head.cls_convs.0.0.dconv.conv.weight",
    "head.reg_convs.2.1.pconv.bn.bias",
    "head.cls_preds.0.weight",
    "head.reg_preds.1.bias",
    "head.obj_preds.2.bias",
)


def test_nano_state_dict_uses_the_official_names() -> None:
    model = build_yolox("nano")
    state = model.state_dict()
    missing = [k for k in OFFICIAL_KEYS if k not in state]
    assert not missing, missing
    # dark5.1 is the SPP bottleneck: its m.0..m.2 are max-pools without parameters
    spp_pool = model.get_submodule("backbone.backbone.dark5.1.m.0")
    assert isinstance(spp_pool, nn.MaxPool2d)
    assert not [k for k in state if k.startswith("backbone.backbone.dark5.1.m.")]
    assert state["backbone.backbone.stem.conv.conv.weight"].shape == (16, 12, 3, 3)
    assert state["head.cls_preds.0.weight"].shape == (80, 64, 1, 1)
    assert state["head.obj_preds.2.bias"].shape == (1,)
    # nothing outside the official top-level modules, and no stray prefixes
    assert {k.split(".")[0] for k in state} == {"backbone", "head"}
    assert not [k for k in state if k.startswith("module.")]


def test_head_names_and_shapes_match_the_official_onnx_export() -> None:
    if not NANO_ONNX.is_file():
        pytest.skip(f"reference model not found: {NANO_ONNX}")
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(str(NANO_ONNX)).graph
    named = {t.name: t for t in graph.initializer if not t.name.startswith("onnx::")}
    assert len(named) == 18  # cls/reg/obj preds weight + bias at 3 levels
    model = build_yolox("nano")
    state = model.state_dict()
    for name, tensor in named.items():
        assert name in state, name
        assert tuple(state[name].shape) == numpy_helper.to_array(tensor).shape, name
    ours = sum(isinstance(m, nn.Conv2d) for m in model.modules())
    assert sum(n.op_type == "Conv" for n in graph.node) == ours
