"""A checkpoint on a CPU runtime: exported to ONNX once into the cache (its sha256 in the
name), the export found by later runs without importing torch, a changed checkpoint exported
again, and its detections those of the checkpoint run by our torch modules (the oracle)."""

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
    assert exported.name == f"nano-{digest}.onnx"  # the variant's own size
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
    assert first.name.endswith("-320.onnx")
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
