"""scripts/gpu_check.sh --dry-run: the GPU check's every step on this CPU with a tiny clip, so
that the script a GPU machine runs (for minutes it cannot spare to debug) is known to work.
The figures are not judged here (bench.py's business); that every step ran and every row
that needs a GPU says so, is."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import NANO_ONNX, ROOT

SCRIPT = ROOT / "scripts" / "gpu_check.sh"
needs_nano = pytest.mark.skipif(not NANO_ONNX.is_file(), reason=f"{NANO_ONNX} not found")


def _run(*args: str, out: Path, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHON": sys.executable, "OUT": str(out)}
    env.pop("PYTHONPATH", None)
    return subprocess.run(["bash", str(SCRIPT), *args], capture_output=True, text=True,
                          env=env, timeout=timeout, stdin=subprocess.DEVNULL)  # fmt: skip


@needs_nano
def test_the_dry_run_runs_every_step_and_skips_only_what_needs_a_gpu(tmp_path: Path) -> None:
    out = tmp_path / "out"
    done = _run("--dry-run", "--model-dir", str(NANO_ONNX.parent), "--media",
                str(tmp_path / "media"), "--wheels", str(tmp_path / "none"), out=out)  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    log = (out / "gpu_check.log").read_text()
    assert log == done.stdout  # everything printed is kept
    table = log[log.rindex("step                             result") :].splitlines()
    assert [line.split()[0] for line in table[1:4]] == ["1", "2", "3-5"]
    assert all(" ok " in line for line in table[1:4]), table
    rows = json.loads((out / "gpu_check.json").read_text())["rows"]
    figures = {r["what"]: r["value"] for r in rows if r["status"] == "ok" and r["value"]}
    skipped = {r["what"]: r["status"] for r in rows if r["status"].startswith("skipped")}
    assert not [r for r in rows if r["status"].startswith("FAILED")]
    # every measured path gave a figure on the CPU...
    for what in ("decode only, CPU (hwaccel=none)", "encode only, libx264 preset ultrafast",
                 "vidpipe detect -o out.mp4 (cpu, codec auto)", "vidpipe detect --json (cpu)",
                 "peer: OpenCV + onnxruntime loop, CPU, no writing",
                 "ratio: vidpipe detect --json / peer",
                 "batch 2 clips --jobs 2 --device cpu: aggregate"):  # fmt: skip
        assert figures.get(what, 0) > 0, (what, sorted(figures))
    for runtime in ("torch", "onnxruntime"):
        for batch in (1, 2):
            assert any(w.startswith(f"inference only, {runtime}, batch {batch} (cpu), fp32")
                       for w in figures), (runtime, batch, sorted(figures))  # fmt: skip
    # ...and each GPU-only one says why it did not run
    for what in ("decode only, NVDEC (hwaccel=cuda)", "encode only, h264_nvenc",
                 "inference only, tensorrt, batch 1 (cpu)",
                 "batch 2 clips --jobs 2 --gpus 0"):  # fmt: skip
        assert skipped.get(what) == "skipped: no GPU", (what, skipped)
    assert list((tmp_path / "media").glob("*.part*")) == []


def test_without_a_gpu_the_real_run_says_so(tmp_path: Path) -> None:
    """bench.py gpu (what the script's GPU run measures with) refuses to pass a CPU off as
    the GPU: one error line, exit 1."""
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "bench.py"), "gpu",
                           "--model-dir", str(NANO_ONNX.parent)],
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "bench.py: error: no CUDA device (torch.cuda.is_available() is False): "
        "use --dry-run to check the script on a CPU"
    ]


def test_an_unknown_option_is_one_error_line(tmp_path: Path) -> None:
    done = _run("--dryrun", out=tmp_path / "out")
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == "gpu_check.sh: error: unknown option --dryrun (see --help)\n"
    assert not (tmp_path / "out").exists()
