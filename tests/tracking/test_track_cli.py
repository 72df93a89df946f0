"""`vidpipe detect --track`, `vidpipe batch --track` and `vidpipe eval --mot` end to end, with
the real YOLOX-Nano on a generated clip of real picture content: the dog and the truck cut
from ../shared/media/dog.jpg moving on known straight paths across a textured background,
the truck passing in front of the dog. The generator writes the ground truth."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
from conftest import (
    DOG_JPG,
    FFMPEG,
    NANO_ONNX,
    cached_media,
    needs_ffmpeg_cli,
    needs_nano,
    run_cli,
)

import vidpipe as vp

pytestmark = [needs_nano, needs_ffmpeg_cli]
pytest.importorskip("trackers")

W, H, FRAMES, FPS = 960, 540, 60, 25
DOG_X, TRUCK_X = (40, 300), (860, -330)  # start x, speed (px/s)
GATE = "gate=480,0,480,540"  # looking down the picture its right ("in") side is x < 480


@pytest.fixture(scope="module")
def sprites(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(clip.mp4, gt.txt): 60 frames, 25 fps, 960x540 H.264."""
    folder = cached_media(tmp_path_factory.mktemp("sprites"), _draw_sprites, DOG_JPG)
    return folder / "clip.mp4", folder / "gt.txt"


def _draw_sprites(folder: Path, image_path: Path) -> None:
    """Write clip.mp4 and its ground truth gt.txt into `folder`."""
    from PIL import Image

    image = np.asarray(Image.open(image_path).convert("RGB"))
    dog, truck = image[210:545, 120:320], image[70:175, 460:700]
    rng = np.random.default_rng(0)
    background = (
        (rng.normal(0, 6, (H, W, 3)) + np.array([120, 125, 118])).clip(0, 255).astype(np.uint8)
    )
    clip, gt = folder / "clip.mp4", folder / "gt.txt"
    argv = [FFMPEG, "-v", "error", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{W}x{H}",
            "-r", str(FPS), "-i", "-", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-g", "12",
            str(clip)]  # fmt: skip
    rows = []
    with subprocess.Popen(argv, stdin=subprocess.PIPE) as ffmpeg:
        assert ffmpeg.stdin is not None
        for i in range(FRAMES):
            t, frame = i / FPS, background.copy()
            for oid, sprite, (x0, speed), y in ((1, dog, DOG_X, 180), (2, truck, TRUCK_X, 260)):
                x, (h, w) = round(x0 + speed * t), sprite.shape[:2]
                left, right = max(x, 0), min(x + w, W)
                if right > left:
                    frame[y : y + h, left:right] = sprite[:, left - x : right - x]
                    rows.append(f"{i + 1},{oid},{left},{y},{right - left},{h},1,1,1\n")
            ffmpeg.stdin.write(frame.tobytes())
        ffmpeg.stdin.close()
    assert ffmpeg.returncode == 0
    gt.write_text("".join(rows))


def detect(clip: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli("detect", str(clip), "--model", str(NANO_ONNX), *args, timeout=120)


def test_tracks_match_the_truth_whatever_the_batch(sprites, tmp_path: Path) -> None:
    clip, gt = sprites
    runs = {}
    for batch in ("1", "16"):
        mot, lines = tmp_path / f"b{batch}.txt", tmp_path / f"b{batch}.jsonl"
        done = detect(clip, "--track", "bytetrack", "--batch", batch, "--mot", str(mot),
                      "--json", str(lines), "-q")  # fmt: skip
        assert done.returncode == 0, done.stderr
        runs[batch] = (mot.read_text(), [json.loads(line) for line in lines.open()])
    assert runs["1"] == runs["16"]
    records = runs["1"][1]
    assert all("track_id" in d for r in records for d in r["detections"])
    done = run_cli("eval", "--mot", "--gt", str(gt), "--pred", str(tmp_path / "b1.txt"), "--json")
    report = json.loads(done.stdout)
    assert report["idf1"] >= 0.88 and report["id_switches"] == 0, report
    assert report["mostly_tracked"] == 2


@pytest.mark.parametrize("tracker", ["bytetrack", "botsort"])
def test_python_stage_tracks_both_objects(sprites, tracker: str) -> None:
    """`vp.track` over `vp.detect`; botsort also reads each frame's luma (a still camera)."""
    clip, _ = sprites
    detector = vp.load_detector(vp.DetectOptions(model=str(NANO_ONNX), conf=0.1))
    with vp.open(clip) as src:
        pairs = list(vp.track(vp.detect(src.frames(), detector), tracker))
    ids = {int(i) for _, d in pairs for i in d.tracker_id}
    assert ids == {1, 2} and len(pairs) == FRAMES


def test_video_trails_counts_and_events(sprites, tmp_path: Path) -> None:
    clip, _ = sprites
    out, events = tmp_path / "out.mp4", tmp_path / "events.jsonl"
    done = detect(clip, "--track", "ocsort", "-o", str(out), "--trails", "10",
                  "--count-line", GATE, "--zone", "mid=300,0,660,0,660,540,300,540",
                  "--events", str(events))  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "line gate: in 1, out 1" in done.stderr
    rows = [json.loads(line) for line in events.open()]
    assert rows[-1]["event"] == "totals"
    assert rows[-1]["lines"]["gate"] == {"in": 1, "out": 1}
    zone = rows[-1]["zones"]["mid"]
    assert (zone["entries"], zone["exits"]) == (2, 2)
    crossings = {r["direction"]: r for r in rows if r["event"] == "cross"}
    assert crossings["out"]["label"] == "dog" and crossings["in"]["label"] != "dog"
    # the dog's centre (its box is 200 px wide) reaches x 480 at (480 - 100 - 40) / 300 s
    assert abs(crossings["out"]["time"] - 340 / 300) <= 3 / FPS
    times = [r["time"] for r in rows[:-1]]
    assert times == sorted(times)  # time order, not the order events settle in
    with vp.open(out) as src:
        assert src.info.frame_count == FRAMES
    # -o draws the gate and the zone: against the same run without them, the pixels along
    # the gate (x 480) and the zone's right edge (x 660) turn amber / cyan; elsewhere (away
    # from the captions) the pictures agree.
    plain = tmp_path / "plain.mp4"
    done = detect(clip, "--track", "ocsort", "-o", str(plain), "--trails", "10")
    assert done.returncode == 0, done.stderr
    drawn, bare = _frame(out, 5), _frame(plain, 5)
    assert _near(drawn[:, 479:481], (255, 214, 0)).mean() > 0.8
    assert _near(drawn[40:, 659:661], (0, 230, 255)).mean() > 0.8
    assert not _near(bare[:, 479:481], (255, 214, 0)).any()
    assert np.abs(drawn[:, 700:].astype(int) - bare[:, 700:]).max() < 24


def _frame(video: Path, index: int) -> np.ndarray:
    """`[H, W, 3]` uint8 RGB of a frame of a video, decoded with PyAV."""
    import av

    with av.open(str(video)) as container:
        for i, frame in enumerate(container.decode(video=0)):
            if i == index:
                return frame.to_ndarray(format="rgb24")
    raise AssertionError(f"{video} has no frame {index}")


def _near(rgb: np.ndarray, color: tuple[int, int, int], tol: int = 40) -> np.ndarray:
    return np.abs(rgb.astype(int) - np.array(color)).max(axis=-1) <= tol


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--mot", "x.txt"], "--mot needs --track"),
        (["--track", "deepsort"], "--track must be one of"),
        (["--track", "sort", "--count-line", "1,2"], "expected x1,y1,x2,y2"),
        (["--track", "sort", "--events", "e.jsonl"], "--events needs a --count-line or a --zone"),
        (["--trails", "5", "-o", "o.mp4"], "--trails needs --track"),
        (["--track", "sort", "--track-buffer", "-1"], "--track-buffer"),
    ],
)
def test_bad_tracking_options(sprites, tmp_path: Path, args: list[str], message: str) -> None:
    clip, _ = sprites
    done = subprocess.run(
        ["python", "-m", "vidpipe", "detect", str(clip), "--model", str(NANO_ONNX), *args],
        capture_output=True, text=True, cwd=tmp_path, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2
    assert message in done.stderr and "Traceback" not in done.stderr
    assert list(tmp_path.iterdir()) == []


def test_batch_tracks_each_file(sprites, tmp_path: Path) -> None:
    clip, gt = sprites
    done = run_cli("batch", str(clip), "-o", str(tmp_path / "out"), "--task", "detect",
                   "--model", str(NANO_ONNX), "--track", "bytetrack", "--mot",
                   "--count-line", GATE, "-q", timeout=180)  # fmt: skip
    assert done.returncode == 0, done.stderr
    mot = tmp_path / "out" / "clip.mot.txt"
    report = json.loads(
        run_cli("eval", "--mot", "--gt", str(gt), "--pred", str(mot), "--json").stdout
    )
    assert report["id_switches"] == 0 and report["idf1"] >= 0.88
    rows = [json.loads(line) for line in (tmp_path / "out" / "clip.events.jsonl").open()]
    assert rows[-1]["lines"]["gate"] == {"in": 1, "out": 1}


# --- eval --mot on hand-built cases with known metrics ------------------------------------


def _mot(path: Path, rows: list[tuple[int, int, float]]) -> Path:
    """(frame, id, x) rows of 10x10 boxes at y 0."""
    path.write_text("".join(f"{f},{i},{x},0,10,10,1,1,1\n" for f, i, x in rows))
    return path


def _eval(tmp_path: Path, gt_rows: list, pred_rows: list) -> dict:
    gt, pred = _mot(tmp_path / "gt.txt", gt_rows), _mot(tmp_path / "pred.txt", pred_rows)
    done = run_cli("eval", "--mot", "--gt", str(gt), "--pred", str(pred), "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_eval_perfect(tmp_path: Path) -> None:
    rows = [(f, i, 20.0 * i) for f in range(1, 6) for i in (1, 2)]
    r = _eval(tmp_path, rows, [(f, i + 7, x) for f, i, x in rows])  # other ids, same tracks
    assert (r["hota"], r["idf1"], r["mota"], r["id_switches"]) == (1.0, 1.0, 1.0, 0)


def test_eval_one_switch(tmp_path: Path) -> None:
    """One object over 4 frames, predicted as id 1 then id 2: MOTA = 1 - 1/4; IDF1 = 2/4
    (the best one-to-one mapping keeps 2 frames); HOTA = sqrt(DetA 1 x AssA 1/2)."""
    r = _eval(
        tmp_path, [(f, 1, 0.0) for f in range(1, 5)], [(1, 1, 0), (2, 1, 0), (3, 2, 0), (4, 2, 0)]
    )
    assert r["mota"] == pytest.approx(0.75) and r["id_switches"] == 1
    assert r["idf1"] == pytest.approx(0.5)
    assert r["hota"] == pytest.approx(np.sqrt(0.5), abs=1e-6)


def test_eval_misses_and_false_boxes(tmp_path: Path) -> None:
    """Two objects over 5 frames (10 boxes); one miss and two false boxes far away:
    MOTA = 1 - 3/10; IDF1 = 2 IDTP / (2 IDTP + IDFP + IDFN) = 18 / 21."""
    gt = [(f, i, 20.0 * i) for f in range(1, 6) for i in (1, 2)]
    pred = [row for row in gt if row != (3, 2, 40.0)] + [(2, 9, 500.0), (4, 9, 500.0)]
    r = _eval(tmp_path, gt, pred)
    assert (r["false_negatives"], r["false_positives"], r["id_switches"]) == (1, 2, 0)
    assert r["mota"] == pytest.approx(0.7)
    assert r["idf1"] == pytest.approx(18 / 21)


def test_eval_bad_files(tmp_path: Path) -> None:
    (tmp_path / "bad.txt").write_text("not,a,mot\n")
    gt = _mot(tmp_path / "gt.txt", [(1, 1, 0.0)])
    for pred in ("missing.txt", "bad.txt"):
        done = run_cli("eval", "--mot", "--gt", str(gt), "--pred", str(tmp_path / pred))
        assert done.returncode == 2 and done.stderr.startswith("error:")
        assert len(done.stderr.strip().splitlines()) == 1


def test_eval_warns_when_no_ground_truth_box_is_evaluated(tmp_path: Path) -> None:
    """A result file given as ground truth: its 7th column holds scores (0.87), not the flag
    1, so TrackEval evaluates none of its boxes. The scores are still printed (0 boxes), with
    one warning line saying what column 7 means."""
    rows = [(f, 1, 0.0) for f in range(1, 4)]
    gt = tmp_path / "gt.txt"
    gt.write_text("".join(f"{f},{i},{x},0,10,10,0.87,-1,-1,-1\n" for f, i, x in rows))
    pred = _mot(tmp_path / "pred.txt", rows)
    done = run_cli("eval", "--mot", "--gt", str(gt), "--pred", str(pred), "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["gt_boxes"] == 0
    warning = done.stderr.strip().splitlines()
    assert len(warning) == 1 and warning[0].startswith("warning:"), done.stderr
    assert "none of its 3 boxes is evaluated" in warning[0] and "column 7" in warning[0]
    good = run_cli("eval", "--mot", "--gt", str(pred), "--pred", str(pred), "--json")
    assert good.returncode == 0 and good.stderr == ""
