"""The batch the report tests read: a tracked, counted detect batch over sample clips."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import NANO_ONNX, SAMPLES, run_cli


@pytest.fixture(scope="module")
def batch_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tracked, counted detect batch over two sample clips and a damaged one."""
    if not NANO_ONNX.is_file():
        pytest.skip(f"no {NANO_ONNX}")
    inputs, out = tmp_path_factory.mktemp("in"), tmp_path_factory.mktemp("out")
    for name in ("street_bikes.mp4", "vfr.mp4"):
        (inputs / name).write_bytes((SAMPLES / name).read_bytes())
    (inputs / "broken.webm").write_bytes((SAMPLES / "vp9.webm").read_bytes()[:3000])
    done = run_cli("batch", str(inputs), "-o", str(out), "--task", "detect", "--model",
                   str(NANO_ONNX), "--track", "bytetrack", "--count-line",
                   "gate=100,0,100,240", "-q", timeout=240)  # fmt: skip
    assert done.returncode == 1, done.stderr  # one job failed
    return out
