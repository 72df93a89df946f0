"""Weights on a CPU runtime through an ONNX export with a dynamic input size, made once into
the cache (the weights' sha256 in the name): a checkpoint, and a YOLOX ONNX export with a fixed
416 x 416 input. Later runs find the export without importing torch, changed weights are
exported again, and the export computes what the original computes (onnxruntime on the
original file, and our torch modules, are the oracles)."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from test_preprocess import NANO_ONNX, assert_same_detections, make_frame

from vidpipe.detectors.detector import load_detector
from vidpipe.detectors.yolox.weights import load_weights, save_safetensors

pytest.importorskip("onnxruntime")


@pytest.fixture
def checkpoint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """YOLOX-Nano's weights as our own .safetensors checkpoint; the cache in tmp_path."""
    if not NANO_ONNX.is_file():
        pytest.skip(f"reference model not found: {NANO_ONNX}")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    path = tmp_path / "nano.safetensors"
    save_safetensors(load_weights(NANO_ONNX), path)
    return path


def _exports(tmp_path: Path) -> list[Path]:
    folder = tmp_path / "cache" / "vidpipe" / "exported"
    return sorted(folder.iterdir()) if folder.is_dir() else []


def test_a_checkpoint_is_exported_once_for_the_cpu_runtime(
    checkpoint: Path, tmp_path: Path, dog_rgb: np.ndarray
) -> None:
    runtime = load_detector(str(checkpoint), device="cpu", engine="onnxruntime")
    (exported,) = _exports(tmp_path)
    digest = hashlib.sha256(checkpoint.read_bytes()).hexdigest()[:16]
    assert exported.name == f"nano-{digest}-416.onnx"  # the variant's own input size
    frames = [make_frame(dog_rgb, "yuv420p-bt709-tv"), make_frame(dog_rgb, "rgb24")]
    oracle = load_detector(str(checkpoint), device="cpu", engine="torch")
    for got, want in zip(runtime(frames), oracle(frames), strict=True):
        assert len(want) >= 3
        assert_same_detections(got, (want.xyxy, want.scores, want.class_ids), tol_px=0.5)
    # a later run (a fresh process, engine auto) finds the export and never imports torch
    stamp = exported.stat().st_mtime_ns
    code = (
        "import sys; from vidpipe.detectors.detector import load_detector; "
        "d = load_detector(sys.argv[1], device='cpu'); print(d.engine, 'torch' in sys.modules)"
    )
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    run = subprocess.run([sys.executable, "-c", code, str(checkpoint)], env=env,
                         capture_output=True, text=True, timeout=120, check=True)  # fmt: skip
    assert run.stdout.split() == ["onnxruntime", "False"], run.stderr
    assert _exports(tmp_path) == [exported] and exported.stat().st_mtime_ns == stamp
    assert not [p for p in exported.parent.iterdir() if p.name.startswith(".")]  # no temp


def test_a_changed_checkpoint_is_exported_again(checkpoint: Path, tmp_path: Path) -> None:
    load_detector(str(checkpoint), device="cpu", engine="onnxruntime", size=320)
    (first,) = _exports(tmp_path)
    load_detector(str(checkpoint), device="cpu", engine="onnxruntime", size=640)
    assert _exports(tmp_path) == [first]  # one export serves every input size
    from safetensors import safe_open
    from safetensors.numpy import load_file, save_file

    with safe_open(str(checkpoint), framework="np") as f:
        meta = f.metadata()
    tensors = load_file(str(checkpoint))
    name = next(k for k in tensors if k.endswith("cls_preds.0.bias"))
    tensors[name] = tensors[name] + 1.0
    save_file(tensors, str(checkpoint), metadata=meta)
    load_detector(str(checkpoint), device="cpu", engine="onnxruntime", size=320)
    assert len(_exports(tmp_path)) == 2 and first in _exports(tmp_path)


def test_a_fixed_size_onnx_export_is_exported_with_a_dynamic_size(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """yolox_nano.onnx takes only 416 x 416: its export takes any multiple of 32 and computes
    what the original computes at 416 (onnxruntime on both)."""
    import onnxruntime

    if not NANO_ONNX.is_file():
        pytest.skip(f"reference model not found: {NANO_ONNX}")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    detector = load_detector(str(NANO_ONNX), device="cpu", engine="onnxruntime")
    assert detector.input_spec.stride == 32 and detector.input_spec.size_wh == (416, 416)
    (exported,) = _exports(tmp_path)
    assert exported.name.startswith("yolox_nano-") and exported.name.endswith("-416.onnx")
    images = np.random.default_rng(0).uniform(0, 255, (2, 3, 416, 416)).astype(np.float32)
    original = onnxruntime.InferenceSession(str(NANO_ONNX), providers=["CPUExecutionProvider"])
    ours = onnxruntime.InferenceSession(str(exported), providers=["CPUExecutionProvider"])
    want = np.concatenate([original.run(None, {"images": images[i : i + 1]})[0] for i in (0, 1)])
    got = ours.run(None, {"images": images})[0]
    np.testing.assert_allclose(got, want, rtol=1e-3, atol=2e-3)
    wide = ours.run(None, {"images": images[:, :, :192]})[0]
    assert wide.shape == (2, (24 * 52 + 12 * 26 + 6 * 13), 85)


def test_without_an_export_a_fixed_size_graph_keeps_its_size(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where the export cannot be made (here: it fails), the file runs as it is: square input,
    and --size must be its own."""
    from vidpipe.detectors.yolox import export
    from vidpipe.errors import InputError, VidpipeError

    if not NANO_ONNX.is_file():
        pytest.skip(f"reference model not found: {NANO_ONNX}")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))

    def fail(weights: Path) -> None:
        raise VidpipeError("no exporter here")

    monkeypatch.setattr(export, "exported_onnx", fail)
    detector = load_detector(str(NANO_ONNX), device="cpu", engine="onnxruntime")
    assert detector.input_spec.stride == 0 and _exports(tmp_path) == []
    with pytest.raises(InputError, match="--size 416"):
        load_detector(str(NANO_ONNX), device="cpu", engine="onnxruntime", size=640)
