"""Weight loading: the official ONNX export against onnxruntime (the parity test), official-style
`.pth` checkpoints (whole training state, bare, DataParallel), variant and class-count inference,
our `.safetensors` round trip, and the refusals (pickled code, broken or foreign files), each one
`InputError` line naming the cause."""

from __future__ import annotations

import copy
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import random_images, randomize_bn
from torch import nn

from vidpipe.detectors.yolox.blocks import fuse_conv_bn
from vidpipe.detectors.yolox.model import YOLOX, build_yolox
from vidpipe.detectors.yolox.weights import load_weights, save_safetensors
from vidpipe.errors import InputError

_REPO = Path(__file__).resolve().parents[2]
MODEL_DIR = Path(os.environ.get("VIDPIPE_MODEL_DIR") or _REPO / ".." / "shared" / "models")
NANO_ONNX = MODEL_DIR / "yolox_nano.onnx"
_MEDIA = [MODEL_DIR.parent / "media", _REPO / ".." / "shared" / "media"]
DOG_JPG = next((d / "dog.jpg" for d in _MEDIA if (d / "dog.jpg").is_file()), _MEDIA[-1] / "dog.jpg")

TEST_HW = (96, 128)  # small input for the checkpoint tests: any multiple of 32 works


def raw_output(model: nn.Module, images: torch.Tensor) -> torch.Tensor:
    with torch.inference_mode():
        return model(images, decode=False)


def assert_close_rel(got: torch.Tensor, want: torch.Tensor, rel: float) -> None:
    assert got.shape == want.shape
    torch.testing.assert_close(got, want, rtol=rel, atol=rel * float(want.abs().max()))


def load_error(path: Path) -> str:
    """The InputError message of load_weights(path), checked to be one line naming the file."""
    with pytest.raises(InputError) as info:
        load_weights(path)
    message = str(info.value)
    assert "\n" not in message and str(path) in message, message
    return message


# --- the parity test: official ONNX export vs onnxruntime ----------------------------------


@pytest.fixture(scope="module")
def onnx_model() -> YOLOX:
    if not NANO_ONNX.is_file():
        pytest.skip(f"reference model not found: {NANO_ONNX}")
    return load_weights(NANO_ONNX)


@pytest.fixture(scope="module")
def ort_session():  # -> onnxruntime.InferenceSession
    ort = pytest.importorskip("onnxruntime")
    if not NANO_ONNX.is_file():
        pytest.skip(f"reference model not found: {NANO_ONNX}")
    return ort.InferenceSession(str(NANO_ONNX), providers=["CPUExecutionProvider"])


def letterbox_bgr(image_rgb: np.ndarray, size: int) -> np.ndarray:
    """YOLOX's preproc with OpenCV: `[1, 3, S, S]` float32 0..255 BGR, top-left, pad 114."""
    cv2 = pytest.importorskip("cv2")
    h, w = image_rgb.shape[:2]
    r = min(size / h, size / w)
    resized = cv2.resize(image_rgb, (int(w * r), int(h * r)), interpolation=cv2.INTER_LINEAR)
    canvas = np.full((size, size, 3), 114, np.uint8)
    canvas[: resized.shape[0], : resized.shape[1]] = resized[..., ::-1]
    return np.ascontiguousarray(canvas.transpose(2, 0, 1)[None], dtype=np.float32)


def test_onnx_loads_as_folded_nano(onnx_model: YOLOX) -> None:
    assert onnx_model.variant.name == "nano"
    assert onnx_model.num_classes == 80
    assert not onnx_model.training
    assert not any(isinstance(m, nn.BatchNorm2d) for m in onnx_model.modules())
    assert all(p.dtype == torch.float32 and p.device.type == "cpu" for p in onnx_model.parameters())


def test_onnx_parity_with_onnxruntime_on_random_input(onnx_model: YOLOX, ort_session) -> None:
    images = random_images(1, 416, 416, seed=1)
    want = ort_session.run(None, {"images": images.numpy()})[0]
    got = raw_output(onnx_model, images).numpy()
    assert got.shape == want.shape == (1, 3549, 85)
    assert float(np.abs(got - want).max()) <= 1e-3


def test_onnx_parity_with_onnxruntime_on_the_dog(onnx_model: YOLOX, ort_session) -> None:
    if not DOG_JPG.is_file():
        pytest.skip(f"reference image not found: {DOG_JPG}")
    from PIL import Image

    images = letterbox_bgr(np.asarray(Image.open(DOG_JPG).convert("RGB")), 416)
    want = ort_session.run(None, {"images": images})[0]
    got = raw_output(onnx_model, torch.from_numpy(images)).numpy()
    assert float(np.abs(got - want).max()) <= 1e-3
    # a real picture: the dog is found with a high score by both
    scores = want[0, :, 4] * want[0, :, 5:].max(axis=1)
    best = int(scores.argmax())
    assert scores[best] > 0.7 and int(got[0, best, 5:].argmax()) == int(want[0, best, 5:].argmax())


def test_batch_of_four_equals_four_single_images(onnx_model: YOLOX) -> None:
    images = random_images(4, 128, 160, seed=2)
    batched = raw_output(onnx_model, images)
    singles = torch.cat([raw_output(onnx_model, images[i : i + 1]) for i in range(4)])
    assert_close_rel(batched, singles, 1e-4)


# --- .pth checkpoints ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def trained_nano() -> tuple[YOLOX, torch.Tensor, torch.Tensor]:
    """(unfused nano with random BN statistics, test images, its raw output on them)."""
    torch.manual_seed(11)
    model = randomize_bn(build_yolox("nano"), seed=12)
    images = random_images(2, *TEST_HW, seed=13)
    return model, images, raw_output(model, images)


def _optimizer_state() -> dict:
    """A real SGD state dict (plain tensors, numbers, lists and dicts), as in YOLOX's ckpts."""
    layer = nn.Linear(3, 2)
    opt = torch.optim.SGD(layer.parameters(), lr=0.01, momentum=0.9, nesterov=True)
    layer(torch.ones(1, 3)).sum().backward()
    opt.step()
    return opt.state_dict()


def test_official_training_checkpoint(trained_nano, tmp_path: Path) -> None:
    model, images, want = trained_nano
    path = tmp_path / "yolox_nano.pth"
    ckpt = {
        "start_epoch": 3,
        "model": model.state_dict(),
        "optimizer": _optimizer_state(),
        "best_ap": 25.8,
        "curr_ap": 25.1,
    }
    torch.save(ckpt, path)
    loaded = load_weights(path)
    assert loaded.variant.name == "nano" and loaded.num_classes == 80
    assert not any(isinstance(m, nn.BatchNorm2d) for m in loaded.modules())
    assert_close_rel(raw_output(loaded, images), want, 1e-4)
    assert any(isinstance(m, nn.BatchNorm2d) for m in model.modules()), "source model changed"


@pytest.mark.parametrize("prefix", ["", "module."])
def test_bare_and_data_parallel_state_dicts(trained_nano, tmp_path: Path, prefix: str) -> None:
    model, images, want = trained_nano
    path = tmp_path / "bare.pth"
    torch.save({prefix + k: v for k, v in model.state_dict().items()}, path)
    assert_close_rel(raw_output(load_weights(path), images), want, 1e-4)


@pytest.mark.parametrize("variant", ["tiny", "s"])
def test_variant_is_inferred_from_the_tensors(tmp_path: Path, variant: str) -> None:
    torch.manual_seed(14)
    model = randomize_bn(build_yolox(variant), seed=15)
    path = tmp_path / "ckpt.pth"
    torch.save({"model": model.state_dict(), "start_epoch": 300}, path)
    loaded = load_weights(path)
    assert loaded.variant.name == variant
    if variant == "tiny":  # (s is slower; its names and shapes are checked by the strict load)
        images = random_images(1, 64, 64, seed=16)
        assert_close_rel(raw_output(loaded, images), raw_output(model, images), 1e-4)


def test_twenty_class_head(tmp_path: Path) -> None:
    torch.manual_seed(17)
    model = randomize_bn(build_yolox("nano", num_classes=20), seed=18)
    path = tmp_path / "voc.pth"
    torch.save({"model": model.state_dict()}, path)
    loaded = load_weights(path)
    assert loaded.num_classes == 20
    images = random_images(1, 64, 96, seed=19)
    got = raw_output(loaded, images)
    assert got.shape[-1] == 25
    assert_close_rel(got, raw_output(model, images), 1e-4)


# --- refusals ------------------------------------------------------------------------------


class _RunsAShellCommand:
    """Pickles as a call to os.system: what a malicious checkpoint carries."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch '{self.marker}'",))


def test_pickled_code_is_refused_and_never_run(trained_nano, tmp_path: Path) -> None:
    model, _, _ = trained_nano
    marker = tmp_path / "PWNED"
    path = tmp_path / "evil.pth"
    torch.save({"model": model.state_dict(), "extra": _RunsAShellCommand(marker)}, path)
    assert not marker.exists()
    message = load_error(path)
    assert not marker.exists(), "the checkpoint's pickled code ran"
    assert "refused" in message and "Python objects" in message


def test_truncated_checkpoint(trained_nano, tmp_path: Path) -> None:
    model, _, _ = trained_nano
    whole = tmp_path / "whole.pth"
    torch.save({"model": model.state_dict()}, whole)
    data = whole.read_bytes()
    path = tmp_path / "truncated.pth"
    path.write_bytes(data[: len(data) // 2])
    assert "not a readable PyTorch checkpoint" in load_error(path)


RANDOM_BYTES = np.random.default_rng(0).bytes(4096)


@pytest.mark.parametrize(
    ("suffix", "cause"),
    [
        (".pth", ""),
        (".onnx", "not a readable ONNX model"),
        (".safetensors", "not a readable safetensors file"),
    ],
)
def test_random_bytes_are_refused(tmp_path: Path, suffix: str, cause: str) -> None:
    path = tmp_path / f"noise{suffix}"
    path.write_bytes(RANDOM_BYTES)
    assert cause in load_error(path)


def test_random_bytes_pth_is_not_called_a_code_carrying_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "noise.pth"
    path.write_bytes(RANDOM_BYTES)
    message = load_error(path)
    assert "Python objects" not in message and "not a readable PyTorch checkpoint" in message


def test_foreign_architecture_checkpoint(tmp_path: Path) -> None:
    """A torchvision-like ResNet state dict: tensors, but not YOLOX."""
    gen = torch.Generator().manual_seed(20)
    shapes = {
        "conv1.weight": (64, 3, 7, 7),
        "bn1.weight": (64,),
        "bn1.running_mean": (64,),
        "layer1.0.conv1.weight": (64, 64, 3, 3),
        "fc.weight": (1000, 512),
        "fc.bias": (1000,),
    }
    state = {k: torch.randn(s, generator=gen) for k, s in shapes.items()}
    path = tmp_path / "resnet.pth"
    torch.save(state, path)
    assert "not a YOLOX checkpoint" in load_error(path)
    from safetensors.torch import save_file

    st_path = tmp_path / "resnet.safetensors"
    save_file(state, str(st_path))
    assert "not a vidpipe YOLOX safetensors file" in load_error(st_path)


MISSING_KEY = "backbone.C3_p4.m.0.conv2.pconv.conv.weight"
RESHAPED_KEY = "head.obj_preds.2.weight"


def test_state_dict_with_a_missing_tensor_names_it(trained_nano, tmp_path: Path) -> None:
    model, _, _ = trained_nano
    state = dict(model.state_dict())
    del state[MISSING_KEY]
    path = tmp_path / "missing.pth"
    torch.save({"model": state}, path)
    message = load_error(path)
    assert MISSING_KEY in message and "missing" in message


def test_state_dict_with_a_wrong_shape_names_it(trained_nano, tmp_path: Path) -> None:
    model, _, _ = trained_nano
    state = dict(model.state_dict())
    state[RESHAPED_KEY] = torch.zeros(2, *state[RESHAPED_KEY].shape[1:])
    path = tmp_path / "reshaped.pth"
    torch.save({"model": state}, path)
    message = load_error(path)
    assert RESHAPED_KEY in message


def test_state_dict_with_an_extra_tensor_names_it(trained_nano, tmp_path: Path) -> None:
    model, _, _ = trained_nano
    state = {**model.state_dict(), "head.aux_preds.0.weight": torch.zeros(3)}
    path = tmp_path / "extra.pth"
    torch.save(state, path)
    assert "head.aux_preds.0.weight" in load_error(path)


def test_onnx_model_that_is_not_yolox(tmp_path: Path) -> None:
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    weight = numpy_helper.from_array(np.ones((4, 3, 3, 3), np.float32), name="W")
    graph = helper.make_graph(
        [helper.make_node("Conv", ["x", "W"], ["y"], pads=[1, 1, 1, 1])],
        "one_conv",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 8, 8])],
        initializer=[weight],
    )
    path = tmp_path / "one_conv.onnx"
    onnx.save(helper.make_model(graph), str(path))
    assert "not a YOLOX export" in load_error(path)


def test_unknown_suffix_and_missing_file(tmp_path: Path) -> None:
    odd = tmp_path / "weights.bin"
    odd.write_bytes(b"\0" * 16)
    assert "unknown model format" in load_error(odd)
    for name in ("absent.pth", "absent.onnx", "absent.safetensors"):
        assert "not found" in load_error(tmp_path / name)


# --- .safetensors round trip ---------------------------------------------------------------


def test_safetensors_round_trip(trained_nano, tmp_path: Path) -> None:
    model, images, want = trained_nano
    path = tmp_path / "nano.safetensors"
    saved = copy.deepcopy(model)
    save_safetensors(saved, path)
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in saved.modules())  # left as it was
    loaded = load_weights(path)
    assert loaded.variant.name == "nano" and loaded.num_classes == 80
    got = raw_output(loaded, images)
    assert torch.equal(got, raw_output(fuse_conv_bn(saved), images))
    assert_close_rel(got, want, 1e-4)


def test_safetensors_round_trip_keeps_the_class_count(tmp_path: Path) -> None:
    path = tmp_path / "voc.safetensors"
    save_safetensors(build_yolox("nano", num_classes=20), path)
    assert load_weights(path).num_classes == 20


@pytest.mark.parametrize(
    ("metadata", "cause"),
    [
        (None, "not a vidpipe YOLOX safetensors file"),
        ({"format": "other", "variant": "nano", "num_classes": "80"}, "not a vidpipe YOLOX"),
        ({"format": "vidpipe-yolox", "variant": "huge", "num_classes": "80"}, "not a vidpipe"),
        ({"format": "vidpipe-yolox", "variant": "nano"}, "num_classes"),
        ({"format": "vidpipe-yolox", "variant": "nano", "num_classes": "eighty"}, "num_classes"),
        ({"format": "vidpipe-yolox", "variant": "tiny", "num_classes": "80"}, "do not fit"),
        ({"format": "vidpipe-yolox", "variant": "nano", "num_classes": "20"}, "cls_preds.0"),
    ],
)
def test_safetensors_metadata_missing_or_wrong(
    trained_nano, tmp_path: Path, metadata: dict | None, cause: str
) -> None:
    from safetensors.torch import save_file

    from vidpipe.detectors.yolox.blocks import fuse_conv_bn

    model, _, _ = trained_nano
    folded = fuse_conv_bn(copy.deepcopy(model)).state_dict()
    path = tmp_path / "nano.safetensors"
    save_file({k: v.contiguous() for k, v in folded.items()}, str(path), metadata=metadata)
    assert cause in load_error(path)
