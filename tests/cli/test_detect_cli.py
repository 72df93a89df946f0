"""`vidpipe detect` end to end on a clip panning across the reference dog image.

Oracles: ffprobe (frames, timestamps, audio, rotation of the output), pycocotools through
`vidpipe eval` against ground truth the test derives from the image geometry, and the input
video itself (drawn pixels only where boxes are)."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from conftest import (
    DOG_PAN_PX,
    MODEL_DIR,
    NANO_ONNX,
    ffprobe_frames,
    ffprobe_json,
    make_clip,
    make_dog_clip,
    needs_ffprobe,
    needs_nano,
)
from test_bad_input import processes_mentioning, run_cli

from vidpipe.cli.main import main
from vidpipe.detectors.names import COCO_CATEGORY_IDS, COCO_NAMES

pytestmark = needs_nano

# The three objects of dog.jpg in image pixels (x1, y1, x2, y2), as annotated by hand for this
# test from the image itself (generous: COCO matching at IoU 0.5 tolerates some slack).
OBJECTS = {"dog": (130, 210, 320, 545), "bicycle": (60, 130, 570, 425), "car": (465, 75, 695, 172)}


@pytest.fixture(autouse=True)
def _model_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIDPIPE_MODEL_DIR", str(MODEL_DIR))


@pytest.fixture(scope="module")
def detected(dog_clip: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One full run: video, JSON Lines and COCO results together."""
    out = tmp_path_factory.mktemp("detect")
    paths = {"video": out / "boxes.mp4", "json": out / "dets.jsonl", "coco": out / "coco.json"}
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("VIDPIPE_MODEL_DIR", str(MODEL_DIR))
        proc = run_cli(
            "detect", str(dog_clip), "-o", str(paths["video"]), "--json", str(paths["json"]),
            "--coco", str(paths["coco"]), "--batch", "5", timeout=240,
        )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    return paths


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _labels(record: dict, min_score: float = 0.5) -> set[str]:
    return {d["label"] for d in record["detections"] if d["score"] >= min_score}


@needs_ffprobe
def test_json_lines_follow_the_input_frames(detected: dict[str, Path], dog_clip: Path) -> None:
    records = _lines(detected["json"])
    frames = ffprobe_frames(dog_clip)
    assert [r["index"] for r in records] == list(range(len(frames)))
    assert [r["pts"] for r in records] == [int(f["pts"]) for f in frames]
    assert [r["time"] for r in records] == pytest.approx(_frame_times(dog_clip))
    for record in records:
        assert set(record) == {"index", "pts", "time", "detections"}
        labels = _labels(record)
        assert {"dog", "bicycle"} <= labels and labels & {"car", "truck"}, record
        for det in record["detections"]:
            assert set(det) == {"label", "class_id", "score", "box"}
            assert COCO_NAMES[det["class_id"]] == det["label"]
            x1, y1, x2, y2 = det["box"]
            assert 0 <= x1 <= x2 <= 640 and 0 <= y1 <= y2 <= 480


def test_boxes_follow_the_pan(detected: dict[str, Path]) -> None:
    """The dog moves left by DOG_PAN_PX per frame in the crop: so does its box."""
    dogs = [
        max((d for d in r["detections"] if d["label"] == "dog"), key=lambda d: d["score"])["box"]
        for r in _lines(detected["json"])
    ]
    centres = np.array([(b[0] + b[2]) / 2 for b in dogs])
    slope = np.polyfit(np.arange(len(dogs)), centres, 1)[0]
    assert slope == pytest.approx(-DOG_PAN_PX, abs=1.5)


def _frame_times(path: Path) -> list[float]:
    """Display times of the video frames, from ffprobe's pts and stream time base."""
    stream = ffprobe_json(path, "-select_streams", "v:0", "-show_streams")["streams"][0]
    tb = Fraction(stream["time_base"])
    return [float(int(f["pts"]) * tb) for f in ffprobe_frames(path)]


def _ground_truth(path: Path, frames: int) -> Path:
    """COCO ground truth for the clip: OBJECTS shifted by each frame's crop offset."""
    images, annotations = [], []
    for i in range(frames):
        images.append({"id": i, "width": 640, "height": 480, "file_name": f"{i}.png"})
        x0, y0 = DOG_PAN_PX * i, 48
        for name, (x1, y1, x2, y2) in OBJECTS.items():
            bx1, by1 = max(x1 - x0, 0), max(y1 - y0, 0)
            bx2, by2 = min(x2 - x0, 640), min(y2 - y0, 480)
            cat = COCO_CATEGORY_IDS[COCO_NAMES.index(name)]
            annotations.append(
                {"id": len(annotations) + 1, "image_id": i, "category_id": cat,
                 "bbox": [bx1, by1, bx2 - bx1, by2 - by1], "area": (bx2 - bx1) * (by2 - by1),
                 "iscrowd": 0}
            )  # fmt: skip
    categories = [{"id": c, "name": n} for c, n in zip(COCO_CATEGORY_IDS, COCO_NAMES, strict=True)]
    data = {"images": images, "annotations": annotations, "categories": categories}
    path.write_text(json.dumps(data))
    return path


def test_coco_results_score_well_in_vidpipe_eval(detected: dict[str, Path], tmp_path: Path) -> None:
    rows = json.loads(detected["coco"].read_text())
    assert rows and set(rows[0]) == {"image_id", "category_id", "bbox", "score"}
    gt = _ground_truth(tmp_path / "gt.json", len(_lines(detected["json"])))
    proc = run_cli("eval", "--pred", str(detected["coco"]), "--gt", str(gt), "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["map_50"] > 0.9
    assert report["per_class"]["dog"] > 0.5


@needs_ffprobe
def test_video_keeps_timestamps_audio_and_draws_only_boxes(
    detected: dict[str, Path], dog_clip: Path
) -> None:
    assert _frame_times(detected["video"]) == pytest.approx(_frame_times(dog_clip))
    streams = {
        s["codec_type"]: s for s in ffprobe_json(detected["video"], "-show_streams")["streams"]
    }
    assert streams["audio"]["codec_name"] == "aac" and streams["video"]["codec_name"] == "h264"
    with av.open(str(dog_clip)) as a, av.open(str(detected["video"])) as b:
        before = next(a.decode(video=0)).to_ndarray(format="gray").astype(int)
        after = next(b.decode(video=0)).to_ndarray(format="gray").astype(int)
    changed = np.abs(after - before) > 40
    record = _lines(detected["json"])[0]
    near_box = np.zeros_like(changed)
    for det in record["detections"]:
        x1, y1, x2, y2 = (round(v) for v in det["box"])
        ring = np.zeros_like(changed)
        ring[max(y1 - 8, 0) : y2 + 8, max(x1 - 8, 0) : x2 + 8] = True  # the outline
        ring[max(y1 + 8, 0) : y2 - 8, x1 + 8 : x2 - 8] = False  # not the inside
        ring[max(y1 - 30, 0) : y1 + 30, max(x1 - 8, 0) : x1 + 160] = True  # the label
        near_box |= ring
    assert changed.sum() > 500  # boxes were drawn
    assert changed[~near_box].mean() < 0.002  # ... and nothing else changed


def test_without_outputs_prints_json_lines(dog_clip: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["-q", "detect", str(dog_clip), "--classes", "dog", "--batch", "16"]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(records) == 16
    assert all({d["label"] for d in r["detections"]} == {"dog"} for r in records)


@needs_ffprobe
def test_rotated_clip_gives_display_boxes_and_keeps_rotation(
    dog_clip: Path, tmp_path: Path
) -> None:
    rotated = make_dog_clip(tmp_path / "dog90.mp4", rotation=90)
    upright_json, rotated_json = tmp_path / "up.jsonl", tmp_path / "rot.jsonl"
    video = tmp_path / "rot_boxes.mp4"
    assert (
        main(["-q", "detect", str(dog_clip), "--json", str(upright_json), "--classes", "dog"]) == 0
    )
    args = [
        "-q",
        "detect",
        str(rotated),
        "--json",
        str(rotated_json),
        "-o",
        str(video),
        "--classes",
        "dog",
    ]
    assert main(args) == 0
    for up, rot in zip(_lines(upright_json), _lines(rotated_json), strict=True):
        assert len(up["detections"]) == len(rot["detections"]) == 1
        assert _iou(up["detections"][0]["box"], rot["detections"][0]["box"]) > 0.85
    side = ffprobe_json(video, "-show_streams")["streams"][0].get("side_data_list", [])
    assert [d.get("rotation") for d in side if "rotation" in d] == [90]


def _iou(a: list[float], b: list[float]) -> float:
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    inter = max(w, 0) * max(h, 0)
    area = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1])
    return inter / (area - inter)


def test_batch_size_does_not_change_results(dog_clip: Path, tmp_path: Path) -> None:
    one, seven = tmp_path / "b1.jsonl", tmp_path / "b7.jsonl"
    torch_engine = ["-q", "detect", str(dog_clip), "--engine", "torch", "--json"]
    assert main([*torch_engine, str(one), "--batch", "1"]) == 0
    assert main([*torch_engine, str(seven), "--batch", "7"]) == 0
    for a, b in zip(_lines(one), _lines(seven), strict=True):
        assert [d["label"] for d in a["detections"]] == [d["label"] for d in b["detections"]]
        for da, db in zip(a["detections"], b["detections"], strict=True):
            assert np.allclose(da["box"], db["box"], atol=0.05)
            assert da["score"] == pytest.approx(db["score"], abs=2e-4)


def test_backends_and_engines_agree(dog_clip: Path, tmp_path: Path) -> None:
    av_json, ff_json = tmp_path / "av.jsonl", tmp_path / "ff.jsonl"
    torch_json = tmp_path / "torch.jsonl"
    assert main(["-q", "detect", str(dog_clip), "--json", str(av_json)]) == 0
    assert main(["-q", "detect", str(dog_clip), "--json", str(ff_json), "--backend", "ffmpeg"]) == 0
    assert _lines(av_json) == _lines(ff_json)
    args = ["-q", "detect", str(dog_clip), "--json", str(torch_json), "--engine", "torch"]
    assert main(args) == 0
    for a, b in zip(_lines(av_json), _lines(torch_json), strict=True):  # onnxruntime vs torch
        assert [d["label"] for d in a["detections"]] == [d["label"] for d in b["detections"]]
        for da, db in zip(a["detections"], b["detections"], strict=True):
            assert np.allclose(da["box"], db["box"], atol=0.1)


def test_gamma_and_chroma_stages_apply_before_detection(dog_clip: Path, tmp_path: Path) -> None:
    plain, bright = tmp_path / "plain.mp4", tmp_path / "bright.mp4"
    assert main(["-q", "detect", str(dog_clip), "-o", str(plain), "--conf", "1"]) == 0
    args = ["-q", "detect", str(dog_clip), "-o", str(bright), "--gamma", "2.0",
            "--chroma", "444", "--json", str(tmp_path / "d.jsonl")]  # fmt: skip
    assert main(args) == 0
    with av.open(str(plain)) as a, av.open(str(bright)) as b:
        fa, fb = next(a.decode(video=0)), next(b.decode(video=0))
        assert fb.format.name == "yuv444p" and fa.format.name == "yuv420p"
        assert fb.to_ndarray(format="gray").mean() > fa.to_ndarray(format="gray").mean() + 20
    assert any(r["detections"] for r in _lines(tmp_path / "d.jsonl"))


# --- bad input: one line, exit 2, nothing left behind -----------------------------------------


def _one_error_line(proc) -> str:
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert "Traceback" not in proc.stderr
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    return lines[0]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--model", "nope.onnx"], "not found"),
        (["--model", "yolox-huge"], "yolox-nano"),
        (["--conf", "2"], "--conf"),
        (["--iou", "0"], "--iou"),
        (["--batch", "0"], "--batch"),
        (["--size", "100"], "multiple of 32"),
        (["--device", "tpu"], "--device"),
        (["--engine", "tensorrt"], "--engine"),
        (["--engine", "onnxruntime", "--device", "cuda"], "--device"),
        (["--classes", "unicorn"], "unicorn"),
        (["--chroma", "411"], "--chroma"),
        (["--gamma", "-1"], "gamma"),
    ],
)
def test_bad_options(
    dog_clip: Path, tmp_path: Path, args: list[str], message: str, capsys: pytest.CaptureFixture
) -> None:
    out = tmp_path / "out.jsonl"
    code = main(["detect", str(dog_clip), "--json", str(out), *args])
    err = capsys.readouterr().err
    assert code == 2, err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


def test_offline_without_the_model_says_how_to_get_it(
    dog_clip: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VIDPIPE_MODEL_DIR", str(tmp_path / "models"))
    monkeypatch.setenv("VIDPIPE_MODEL_BASE_URL", "http://127.0.0.1:9/")  # discard port: refused
    line = _one_error_line(run_cli("detect", str(dog_clip), "--json", str(tmp_path / "d.jsonl")))
    assert "could not download yolox-nano" in line and "--model" in line
    assert not (tmp_path / "d.jsonl").exists()


def test_model_path_option_takes_a_file(dog_clip: Path, tmp_path: Path) -> None:
    out = tmp_path / "d.jsonl"
    assert main(["-q", "detect", str(dog_clip), "--model", str(NANO_ONNX), "--json", str(out)]) == 0
    assert len(_lines(out)) == 16


def test_refuses_existing_outputs_and_the_input(dog_clip: Path, tmp_path: Path) -> None:
    existing = tmp_path / "d.jsonl"
    existing.write_text("keep me")
    _one_error_line(run_cli("detect", str(dog_clip), "--json", str(existing)))
    assert existing.read_text() == "keep me"
    _one_error_line(run_cli("detect", str(dog_clip), "--coco", str(dog_clip)))
    _one_error_line(run_cli("detect", str(dog_clip), "-o", str(dog_clip), "--overwrite"))
    _one_error_line(run_cli("detect", str(dog_clip), "--json", "a.json", "--coco", "a.json"))
    assert dog_clip.stat().st_size > 10_000


def test_not_a_video_fails_before_loading_the_model(tmp_path: Path) -> None:
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video at all" * 100)
    line = _one_error_line(run_cli("detect", str(bad), "--json", str(tmp_path / "d.jsonl")))
    assert "bad.mp4" in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.mp4"]


def test_truncated_input_leaves_no_outputs(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "clip.mkv", frames=40, size_wh=(160, 120))
    data = clip.read_bytes()
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(data[: len(data) * 2 // 3])
    outs = [tmp_path / "o.mp4", tmp_path / "o.jsonl", tmp_path / "o.json"]
    proc = run_cli(
        "detect", str(cut), "-o", str(outs[0]), "--json", str(outs[1]), "--coco", str(outs[2])
    )
    _one_error_line(proc)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mkv", "cut.mkv"]
    assert processes_mentioning(str(cut)) == []


def test_still_image_in_and_out(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """dog.jpg as a one-frame input: JSON on stdout; `-o x.png` writes the annotated still."""
    from conftest import DOG_JPG

    assert main(["-q", "detect", str(DOG_JPG)]) == 0
    (record,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    labels = _labels(record, min_score=0.7)
    assert {"dog", "bicycle"} <= labels and labels & {"car", "truck"}
    png = tmp_path / "boxes.png"
    assert main(["-q", "detect", str(DOG_JPG), "-o", str(png)]) == 0
    with av.open(str(png)) as container:
        frame = next(container.decode(video=0))
        assert (frame.width, frame.height, container.streams.video[0].codec_context.name) == (
            768,
            576,
            "png",
        )


def test_codec_the_container_cannot_hold_is_one_error_line(dog_clip: Path, tmp_path: Path) -> None:
    line = _one_error_line(
        run_cli("detect", str(dog_clip), "-o", str(tmp_path / "x.webm"), "--codec", "libx264")
    )
    assert "webm" in line and "libx264" in line
    assert list(tmp_path.iterdir()) == []
