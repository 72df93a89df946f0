"""Cross-stream batching (`vidpipe batch --gpus`): one model server shared by the workers.

The oracle is the in-process Detector on the same frames: a pass that mixes the frames of two
videos must give each video what it gets alone (up to the uint8 letterbox on the wire)."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import socket
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import NANO_ONNX, make_dog_clip, needs_nano

from vidpipe.batch import model_client, model_server
from vidpipe.batch.jobs import discover
from vidpipe.batch.runner import Settings, run_batch
from vidpipe.batch.tasks import check_options
from vidpipe.errors import VidpipeError
from vidpipe.io.decode import decode

pytestmark = needs_nano


def _options(**extra) -> dict:
    return check_options("detect", {"model": str(NANO_ONNX), **extra})


def _frames(path: Path, n: int) -> list:
    return [frame for _, frame in zip(range(n), decode(str(path)), strict=False)]


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union


def assert_same_detections(got, want, *, margin: float = 0.05) -> None:
    """Every confident detection of `want` is in `got` (same class, IoU >= 0.97, score
    within 0.03) and the other way round; `margin` above conf leaves out the borderline
    ones that the uint8 rounding of the letterbox may move across the threshold."""
    for one, other in ((got, want), (want, got)):
        for box, score, cls in zip(one.xyxy, one.scores, one.class_ids, strict=True):
            if score < 0.25 + margin:
                continue
            match = [
                j
                for j in range(len(other))
                if other.class_ids[j] == cls and _iou(box, other.xyxy[j]) >= 0.97
            ]
            assert match, (box, score, cls)
            assert min(abs(other.scores[j] - score) for j in match) < 0.03


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("xs")
    make_dog_clip(folder / "a.mp4", frames=12)
    make_dog_clip(folder / "b.mp4", frames=9, rotation=90)
    make_dog_clip(folder / "c.mp4", frames=7)
    return folder


class _InProcessServer:
    """A ModelServer driven step by step by the test (its clients on threads)."""

    def __init__(self, tmp_path: Path) -> None:
        self.path = str(tmp_path / "s.sock")
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(self.path)
        listener.listen(8)
        self.control, theirs = multiprocessing.Pipe()
        self.server = model_server.ModelServer(listener, "cpu", theirs)
        self.threads: list[threading.Thread] = []

    def background(self, fn, *args) -> threading.Thread:
        """`fn(*args)` on a daemon thread (a client's blocking call), joined by close()."""
        thread = threading.Thread(target=fn, args=args, daemon=True)
        thread.start()
        self.threads.append(thread)
        return thread

    def close(self) -> None:
        """Drop every client (a blocked client call then fails) and join the threads."""
        for client in list(self.server.clients):
            self.server._drop(client)
        self.server.listener.close()
        for thread in self.threads:
            thread.join(30)

    def until(self, condition, what: str) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if condition():
                return
            self.server.poll(0.05)
            time.sleep(0.005)  # a client with a request read but not yet taken stays ready
        server = self.server
        raise AssertionError(f"timed out waiting for {what}: {len(server.clients)} clients, "
                             f"{len(server.waiting)} requests waiting")  # fmt: skip

    def connect(self, n: int, options: dict) -> list:
        made: list = []
        for _ in range(n):
            self.background(lambda: made.append(model_client.RemoteDetector(self.path, options)))
        self.until(lambda: len(made) == n, "the clients to open")
        return made


@pytest.fixture
def harness(tmp_path: Path):
    server = _InProcessServer(tmp_path)
    yield server
    server.close()


def test_one_pass_mixes_two_videos_and_matches_the_local_detector(
    clips: Path, harness: _InProcessServer
) -> None:
    from vidpipe.batch.tasks import load_task_detector

    options = _options()
    local = load_task_detector(options)
    a, b = _frames(clips / "a.mp4", 5), _frames(clips / "b.mp4", 3)
    one, two = harness.connect(2, options)
    assert one.names == local.names and one.input_spec.size_wh == local.input_spec.size_wh
    tickets: dict = {}
    senders = [
        harness.background(lambda d, f: tickets.__setitem__(id(d), d.prepare(f)), d, f)
        for d, f in ((one, a), (two, b))
    ]
    harness.until(lambda: len(harness.server.waiting) == 2, "both requests")
    harness.server.forward(harness.server.take())
    for thread in senders:
        thread.join()
    got_a, got_b = one.infer(tickets[id(one)]), two.infer(tickets[id(two)])
    stats = harness.server.stats
    assert (stats.passes, stats.frames, stats.max_streams) == (1, 8, 2)
    assert len(got_a) == 5 and len(got_b) == 3
    want = local(a) + local(b)
    assert sum(len(d) for d in want) > 8  # the dog, the bicycle, the car: a real check
    for got, expected in zip(got_a + got_b, want, strict=True):
        assert_same_detections(got, expected)
    one.close()
    two.close()


def test_requests_of_other_detectors_wait_for_their_own_pass(
    clips: Path, harness: _InProcessServer
) -> None:
    (plain,) = harness.connect(1, _options())
    (dogs,) = harness.connect(1, _options(classes=["dog"]))
    frames = _frames(clips / "a.mp4", 2)
    senders = [harness.background(d.prepare, frames) for d in (plain, dogs)]
    harness.until(lambda: len(harness.server.waiting) == 2, "both requests")
    first = harness.server.take()
    assert len(first) == 1 and len(harness.server.waiting) == 1
    harness.server.forward(first)
    harness.server.forward(harness.server.take())
    for thread in senders:
        thread.join()
    all_classes, only_dogs = plain.infer(2), dogs.infer(2)
    assert {int(c) for d in only_dogs for c in d.class_ids} == {16}  # COCO "dog"
    assert len({int(c) for d in all_classes for c in d.class_ids}) > 1
    assert harness.server.stats.max_streams == 1 and harness.server.stats.passes == 2


def test_a_bad_model_fails_its_client_only(
    clips: Path, tmp_path: Path, harness: _InProcessServer
) -> None:
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model" * 10)
    errors: list[str] = []

    def open_bad() -> None:
        try:
            model_client.RemoteDetector(harness.path, _options(model=str(bad)))
        except VidpipeError as exc:
            errors.append(str(exc))

    harness.background(open_bad)
    harness.until(lambda: errors, "the refusal")
    assert errors[0].startswith("model server: ") and "bad.onnx" in errors[0]
    (good,) = harness.connect(1, _options())
    harness.background(good.prepare, _frames(clips / "a.mp4", 1))
    harness.until(lambda: harness.server.waiting, "the request")
    harness.server.forward(harness.server.take())
    assert len(good.infer(1)) == 1


@pytest.mark.parametrize("layout", ["yolov8", "e2e"])
def test_a_foreign_export_through_the_server_matches_the_local_detector(
    clips: Path, tmp_path: Path, harness: _InProcessServer, layout: str
) -> None:
    """The wire carries the family's input (R'G'B', centred on 114) and each frame's offset:
    YOLOX-Nano wrapped as a YOLOv8 / end-to-end export gives what it gives in-process."""
    from foreign_models import COCO80, ultralytics_metadata, wrap_nano

    from vidpipe.batch.tasks import load_task_detector

    model = wrap_nano(NANO_ONNX, tmp_path / "m.onnx", layout,
                      metadata=ultralytics_metadata(COCO80, end2end=layout == "e2e"))  # fmt: skip
    options = _options(model=str(model))
    local = load_task_detector(options)
    (remote,) = harness.connect(1, options)
    assert remote.input_spec.placement == "center" and remote.input_spec.channels == "rgb"
    frames = _frames(clips / "b.mp4", 3)  # rotated: a tall picture, padded left and right
    harness.background(remote.prepare, frames)
    harness.until(lambda: harness.server.waiting, "the request")
    harness.server.forward(harness.server.take())
    want = local(frames)
    assert sum(len(d) for d in want) >= 3
    for got, expected in zip(remote.infer(3), want, strict=True):
        assert_same_detections(got, expected)


def test_a_dead_server_is_one_clear_error(clips: Path) -> None:
    with model_server.ModelServers(["cpu"], threads=1) as servers:
        (address,) = servers.addresses
        detector = model_client.RemoteDetector(address, _options())
        for proc, _ in servers._procs:
            os.kill(proc.pid, signal.SIGKILL)
            proc.join()
        with pytest.raises(VidpipeError, match="the model server stopped"):
            detector.infer(detector.prepare(_frames(clips / "a.mp4", 1)))
        with pytest.raises(VidpipeError, match="the model server is not running"):
            model_client.RemoteDetector(address, _options())
    assert not os.path.exists(os.path.dirname(address))  # the socket folder is removed


def _run(clips: Path, out: Path, servers: tuple[str, ...], jobs: int):
    specs = discover([str(clips)], out)
    options = {"model": str(NANO_ONNX), "batch": 4}
    return run_batch(specs, out, "detect", options, Settings(jobs, progress=True, servers=servers))


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _as_detections(record: dict):
    from vidpipe.types import Detections

    dets = record["detections"]
    xyxy = np.array([d["box"] for d in dets], np.float32).reshape(-1, 4)
    scores = np.array([d["score"] for d in dets], np.float32)
    return Detections(xyxy, scores, np.array([d["class_id"] for d in dets], np.int64))


def test_batch_with_a_shared_model_equals_per_worker_models(clips: Path, tmp_path: Path) -> None:
    alone = _run(clips, tmp_path / "alone", (), jobs=1)
    shared = _run(clips, tmp_path / "shared", ("cpu",), jobs=2)
    assert alone.count("done") == shared.count("done") == 3
    (stats,) = shared.servers
    assert stats.frames == 12 + 9 + 7 and stats.passes == sum(stats.streams_per_pass.values())
    # requests of at most 4 frames: 3 + 3 + 2, however the passes grouped them
    assert sum(k * n for k, n in stats.streams_per_pass.items()) == 8
    report = shared.as_dict()
    assert report["model_servers"][0]["frames"] == 28
    for stem in ("a", "b", "c"):
        want, got = (
            _jsonl(tmp_path / "alone" / f"{stem}.jsonl"),
            _jsonl(tmp_path / "shared" / f"{stem}.jsonl"),
        )
        assert [r["index"] for r in got] == [r["index"] for r in want]
        for g, w in zip(got, want, strict=True):
            assert (g["pts"], g["time"]) == (w["pts"], w["time"])
            assert_same_detections(_as_detections(g), _as_detections(w))
    assert not [p for p in (tmp_path / "shared").rglob("*") if ".part-" in p.name]


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs an NVIDIA GPU")
def test_gpu_server_matches_cpu(clips: Path, tmp_path: Path) -> None:
    cpu = _run(clips, tmp_path / "cpu", (), jobs=1)
    gpu = _run(clips, tmp_path / "gpu", ("cuda:0",), jobs=3)
    assert cpu.count("done") == gpu.count("done") == 3
    assert gpu.servers[0].frames == 28
    for stem in ("a", "b", "c"):
        for g, w in zip(
            _jsonl(tmp_path / "gpu" / f"{stem}.jsonl"),
            _jsonl(tmp_path / "cpu" / f"{stem}.jsonl"),
            strict=True,
        ):
            assert_same_detections(_as_detections(g), _as_detections(w), margin=0.1)
