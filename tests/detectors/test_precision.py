"""`--precision auto|f32|bf16`: OpenVINO in bf16 where the CPU has it natively (auto), the
same detections as f32 but for boxes near the threshold, on real footage; refused where it
cannot run."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import NANO_ONNX, ROOT, needs_nano, run_cli

import vidpipe as vp
from vidpipe.detectors import runtimes
from vidpipe.errors import InputError
from vidpipe.types import iou_matrix

STREET = ROOT / "sample_media" / "street_bikes.mp4"
needs_openvino = pytest.mark.skipif(not runtimes.installed("openvino"), reason="no openvino")


def test_a_bad_precision_is_refused() -> None:
    with pytest.raises(InputError, match=r"--precision must be one of auto, f32, bf16, not 'fp8'"):
        vp.DetectOptions(precision="fp8")


@pytest.mark.parametrize("native", [True, False])
def test_auto_is_bf16_only_where_the_cpu_has_it(monkeypatch, native: bool) -> None:
    monkeypatch.setattr(runtimes, "native_bf16", lambda: native)
    assert runtimes.precision_for("auto") == ("bf16" if native else "f32")
    assert runtimes.precision_for("f32") == "f32"
    if native:
        assert runtimes.precision_for("bf16") == "bf16"
    else:
        with pytest.raises(InputError, match="this CPU has no native bf16"):
            runtimes.precision_for("bf16")


@needs_nano
def test_bf16_needs_openvino() -> None:
    with pytest.raises(InputError, match="--precision bf16 runs with --engine openvino"):
        vp.load_detector(str(NANO_ONNX), engine="onnxruntime", device="cpu", precision="bf16")
    done = run_cli("detect", str(STREET), "--model", str(NANO_ONNX), "--engine", "onnxruntime",
                   "--precision", "bf16", "--json", "-")  # fmt: skip
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.startswith("error: --precision bf16 runs with --engine openvino")
    assert len(done.stderr.splitlines()) == 1


def _detections(precision: str) -> list:
    detector = vp.load_detector(str(NANO_ONNX), engine="openvino", device="cpu", conf=0.05,
                                precision=precision)  # fmt: skip
    with vp.open(STREET) as src:
        return [d for _, d in vp.detect(src.frames(), detector)]


def _found(ours: list, theirs: list, high: float = 0.4, low: float = 0.25) -> tuple[int, int]:
    """(found, of): boxes of `ours` scoring `high` or more that `theirs` has among its boxes
    of `low` or more (same class, IoU >= 0.5): a box near the threshold may cross it."""
    found = total = 0
    for a, b in zip(ours, theirs, strict=True):
        for i in np.flatnonzero(a.scores >= high):
            total += 1
            same = (b.class_ids == a.class_ids[i]) & (b.scores >= low)
            boxes = b.xyxy[same].astype(np.float64)
            found += bool(len(boxes)) and bool(
                (iou_matrix(a.xyxy[i : i + 1].astype(np.float64), boxes) >= 0.5).any()
            )
    return found, total


@needs_nano
@needs_openvino
def test_bf16_finds_what_f32_finds_on_real_footage() -> None:
    """sample_media/street_bikes.mp4 (people on bikes, 110 frames) through OpenVINO in f32
    and in bf16: both ways, a confident box (0.4) of one is among the other's boxes of 0.25
    (F1 >= 0.99); and bf16 did run (the scores differ)."""
    if not runtimes.native_bf16():
        pytest.skip("this CPU has no native bf16")
    f32, bf16 = _detections("f32"), _detections("auto")
    recall, precision = (a / b for a, b in (_found(f32, bf16), _found(bf16, f32)))
    assert 2 * recall * precision / (recall + precision) >= 0.99, (recall, precision)
    assert _found(f32, bf16)[1] > 200  # a crowded clip, not an empty one
    differ = [
        len(a) != len(b) or not np.array_equal(a.scores, b.scores)
        for a, b in zip(f32, bf16, strict=True)
    ]
    assert sum(differ) > len(differ) // 2


@needs_openvino
def test_version_says_what_auto_is() -> None:
    done = run_cli("--version")
    assert done.returncode == 0
    expected = "bf16 (this CPU: native bf16)" if runtimes.native_bf16() else "f32 (this CPU"
    assert f"OpenVINO --precision auto: {expected}" in done.stdout


@needs_nano
@needs_openvino
def test_models_check_reports_what_bf16_costs_per_class() -> None:
    """`vidpipe models check` on street_bikes.mp4: f32 against bf16 on OpenVINO, the counts
    as an independent greedy matching of the two runs' boxes (tests/detectors/test_runtimes'
    `f1`, floor 0.4) gives them, per class and in all; bf16 agrees (F1 >= 0.99)."""
    if not runtimes.native_bf16():
        pytest.skip("this CPU has no native bf16")
    import json

    from test_runtimes import f1, score

    done = run_cli("models", "check", str(STREET), "--model", str(NANO_ONNX), "--precision",
                   "bf16", "--frames", "0", "--json", timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["frames"] == 110
    assert (report["reference"]["engine"], report["reference"]["precision"]) == ("openvino", "f32")
    assert (report["checked"]["engine"], report["checked"]["precision"]) == ("openvino", "bf16")
    assert report["reference"]["ms_per_frame"] > 0 and report["checked"]["ms_per_frame"] > 0
    f32, bf16 = (
        [d[d.scores >= 0.25] for d in _detections(p)] for p in ("f32", "bf16")
    )  # the command's default --conf
    counts = [f1(b, (a.xyxy, a.scores, a.class_ids), 0.5, floor=0.4)
              for a, b in zip(f32, bf16, strict=True)]  # fmt: skip
    total = report["total"]
    assert total["f1"] == pytest.approx(score(counts), abs=0.005)
    assert total["matched"] == pytest.approx(sum(c[0] for c in counts), abs=3)
    assert total["f1"] >= 0.99 and total["matched"] > 200
    cars = report["classes"]["car"]  # the commonest class there
    assert cars["matched"] + cars["missed"] > 100 and cars["f1"] >= 0.98


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--precision", "f32"], "--precision must be auto or bf16 (against f32), not 'f32'"),
        (["--frames", "-1"], "--frames must be 0 (all) or more, not -1"),
    ],
)
def test_models_check_refuses_bad_options(args: list[str], message: str) -> None:
    done = run_cli("models", "check", str(STREET), *args)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.splitlines() == [f"error: {message}"]


def test_models_check_refuses_a_missing_clip(tmp_path) -> None:
    done = run_cli("models", "check", str(tmp_path / "none.mp4"), "--model", str(NANO_ONNX))
    assert done.returncode == 2 and done.stdout == ""
    assert len(done.stderr.splitlines()) == 1 and "none.mp4" in done.stderr
