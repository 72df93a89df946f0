"""The detection sinks: JSON Lines and COCO results content, atomic replacement, streaming,
and a round trip through pycocotools' evaluation."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from vidpipe.detectors.names import COCO_CATEGORY_IDS, COCO_NAMES
from vidpipe.errors import VidpipeError
from vidpipe.evaluate.coco import evaluate
from vidpipe.pipeline import results
from vidpipe.pipeline.results import CocoResults, DetectionsJsonl
from vidpipe.types import Detections


def dets(xyxy: list[list[float]], scores: list[float], class_ids: list[int]) -> Detections:
    return Detections(
        np.asarray(xyxy, np.float32).reshape(-1, 4),
        np.asarray(scores, np.float32),
        np.asarray(class_ids, np.int64),
    )


FRAMES = [  # (index, pts, time, detections)
    (0, 0, 0.0, dets([[10.123, 20.456, 30.789, 40.001], [0, 0, 5, 5]], [0.98768, 0.5], [16, 0])),
    (1, 512, 0.04, Detections.empty()),
    (2, None, None, dets([[1.5, 2.25, 3.125, 4.0625]], [0.123456], [95])),
]


def sinks(tmp_path: Path) -> list:
    return [
        DetectionsJsonl(tmp_path / "out.jsonl", COCO_NAMES),
        CocoResults(tmp_path / "out.json", 100),
    ]


def fill(sink, frames=FRAMES) -> None:
    for index, pts, time, d in frames:
        if isinstance(sink, DetectionsJsonl):
            sink.write(index, pts, time, d)
        else:
            sink.write(index, d)


def expected_jsonl(index, pts, time, d: Detections) -> dict:
    """Built straight from the arrays (float32 values as Python floats), rounded as documented."""
    rows = []
    for i in range(len(d)):
        cid = int(d.class_ids[i])
        rows.append(
            {
                "label": COCO_NAMES[cid] if cid < 80 else str(cid),
                "class_id": cid,
                "score": round(float(d.scores[i]), 4),
                "box": [round(float(v), 2) for v in d.xyxy[i]],
            }
        )
    return {"index": index, "pts": pts, "time": time, "detections": rows}


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# --- content -------------------------------------------------------------------------------


def test_jsonl_line_by_line(tmp_path):
    path = tmp_path / "out.jsonl"
    with DetectionsJsonl(path, COCO_NAMES) as sink:
        fill(sink)
    lines = path.read_text().splitlines()
    assert len(lines) == 3
    for line, frame in zip(lines, FRAMES, strict=True):
        record = json.loads(line)
        assert list(record) == ["index", "pts", "time", "detections"]
        assert record == expected_jsonl(*frame)
    first = json.loads(lines[0])["detections"]
    assert first[0] == {"label": "dog", "class_id": 16, "score": 0.9877,
                        "box": [10.12, 20.46, 30.79, 40.0]}  # fmt: skip
    assert first[1]["label"] == "person"
    assert json.loads(lines[1])["detections"] == []
    assert json.loads(lines[2])["detections"][0]["label"] == "95"  # beyond the names
    assert leftovers(tmp_path) == ["out.jsonl"]


def test_jsonl_tracked_rows_carry_track_id(tmp_path):
    """A tracked frame adds an integer "track_id" after "box" to each row; untracked
    frames keep the rows as before."""
    d = FRAMES[0][3]
    track = Detections(d.xyxy, d.scores, d.class_ids, np.array([7, 123], np.int32))
    e = Detections.empty()
    empty_track = Detections(e.xyxy, e.scores, e.class_ids, np.zeros(0, np.int64))
    path = tmp_path / "out.jsonl"
    with DetectionsJsonl(path, COCO_NAMES) as sink:
        sink.write(0, 0, 0.0, track)
        sink.write(1, 512, 0.04, d)
        sink.write(2, 1024, 0.08, empty_track)
    tracked, plain, empty = (json.loads(line) for line in path.read_text().splitlines())
    want = expected_jsonl(0, 0, 0.0, d)
    for row, tracker_id in zip(want["detections"], [7, 123], strict=True):
        row["track_id"] = tracker_id
    assert tracked == want
    assert [list(row) for row in tracked["detections"]] == [
        ["label", "class_id", "score", "box", "track_id"]
    ] * 2
    assert all(type(row["track_id"]) is int for row in tracked["detections"])
    assert plain == expected_jsonl(1, 512, 0.04, d)
    assert all("track_id" not in row for row in plain["detections"])
    assert empty == expected_jsonl(2, 1024, 0.08, e)


def test_coco_results_ignore_tracker_id(tmp_path):
    d = FRAMES[0][3]
    track = Detections(d.xyxy, d.scores, d.class_ids, np.array([7, 123], np.int64))
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    for path, x in ((a, d), (b, track)):
        with CocoResults(path, 80) as sink:
            sink.write(0, x)
    assert a.read_text() == b.read_text()


def test_jsonl_to_stdout(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    with DetectionsJsonl("-", COCO_NAMES) as sink:
        fill(sink)
    out = capsys.readouterr().out
    assert [json.loads(line) for line in out.splitlines()] == [expected_jsonl(*f) for f in FRAMES]
    assert leftovers(tmp_path) == []
    print("stdout still open")  # the sink must not close it
    assert capsys.readouterr().out == "stdout still open\n"


def test_coco_results_rows(tmp_path):
    path = tmp_path / "out.json"
    with CocoResults(path, 80) as sink:
        fill(sink, FRAMES[:2])
    rows = json.loads(path.read_text())
    expected = []
    for index, _, _, d in FRAMES[:2]:
        for (x1, y1, x2, y2), score, cid in zip(
            d.xyxy.tolist(), d.scores, d.class_ids, strict=True
        ):
            expected.append(
                {
                    "image_id": index,
                    "category_id": COCO_CATEGORY_IDS[cid],
                    "bbox": [x1, y1, x2 - x1, y2 - y1],
                    "score": float(score),
                }
            )
    assert len(rows) == 2
    for row, want in zip(rows, expected, strict=True):
        assert list(row) == ["image_id", "category_id", "bbox", "score"]
        assert row["image_id"] == want["image_id"] and row["category_id"] == want["category_id"]
        assert row["bbox"] == pytest.approx(want["bbox"], abs=0.01)
        assert row["score"] == pytest.approx(want["score"], abs=1e-5)
    assert rows[0]["category_id"] == 18  # dog


def test_coco_results_for_80_classes_refuses_an_unknown_class(tmp_path):
    with pytest.raises(ValueError), CocoResults(tmp_path / "out.json", 80) as sink:
        fill(sink)
    assert leftovers(tmp_path) == []


def test_coco_results_other_model_keeps_class_ids(tmp_path):
    path = tmp_path / "out.json"
    with CocoResults(path, 100) as sink:
        fill(sink)
    rows = json.loads(path.read_text())
    assert [r["category_id"] for r in rows] == [16, 0, 95]
    assert [r["image_id"] for r in rows] == [0, 0, 2]


def test_coco_results_empty_is_an_empty_array(tmp_path):
    path = tmp_path / "out.json"
    with CocoResults(path, 80) as sink:
        sink.write(0, Detections.empty())
    assert json.loads(path.read_text()) == []


# --- atomic output -------------------------------------------------------------------------


@pytest.mark.parametrize("kind", [0, 1], ids=["jsonl", "coco"])
def test_exception_leaves_nothing(tmp_path, kind):
    sink = sinks(tmp_path)[kind]
    with pytest.raises(KeyError), sink:
        fill(sink)
        sink.flush()
        assert len(leftovers(tmp_path)) == 1  # the hidden temporary file
        raise KeyError("boom")
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("kind", [0, 1], ids=["jsonl", "coco"])
def test_existing_target_replaced_only_on_success(tmp_path, kind):
    target = Path(sinks(tmp_path)[kind].path)
    target.write_text("old\n")
    sink = sinks(tmp_path)[kind]
    with pytest.raises(KeyboardInterrupt), sink:
        fill(sink)
        raise KeyboardInterrupt
    assert target.read_text() == "old\n" and leftovers(tmp_path) == [target.name]
    sink = sinks(tmp_path)[kind]
    with sink:
        fill(sink)
    assert target.read_text() != "old\n" and leftovers(tmp_path) == [target.name]
    json.loads(target.read_text().splitlines()[0] if kind == 0 else target.read_text())


def test_rows_stream_to_the_temporary_file(tmp_path, monkeypatch):
    """Rows reach the disk while the sink is open (no list held until the end): the first
    at once (a reader sees the run start), then not one flush per line: with a long interval
    a small row stays in the buffer."""
    target = tmp_path / "out.json"
    monkeypatch.setattr(results, "FLUSH_INTERVAL_S", 3600.0)
    with CocoResults(target, 80) as sink:
        sink.write(0, FRAMES[0][3])
        (tmp,) = tmp_path.iterdir()
        assert tmp.name.startswith(".out.json.part-")
        assert tmp.read_text().count('"image_id"') == 2
        sink.write(1, FRAMES[0][3])
        assert tmp.read_text().count('"image_id"') == 2
        assert not target.exists()
        monkeypatch.setattr(results, "FLUSH_INTERVAL_S", 0.0)
        sink.write(2, FRAMES[0][3])
        assert tmp.read_text().count('"image_id"') == 6
    assert len(json.loads(target.read_text())) == 6


def test_bad_targets(tmp_path):
    with pytest.raises(VidpipeError, match="does not exist"):
        DetectionsJsonl(tmp_path / "no" / "out.jsonl", COCO_NAMES).__enter__()
    with pytest.raises(VidpipeError, match="is a directory"):
        CocoResults(tmp_path, 80).__enter__()
    with pytest.raises(RuntimeError, match="with"):
        CocoResults(tmp_path / "x.json", 80).write(0, Detections.empty())
    assert leftovers(tmp_path) == []


# --- round trip through the evaluation -----------------------------------------------------


def test_round_trip_through_evaluate_scores_one(tmp_path):
    """Boxes written by CocoResults, scored against a ground truth made from the same boxes."""
    rng = np.random.default_rng(0)
    images, annotations = [], []
    pred = tmp_path / "pred.json"
    with CocoResults(pred, 80) as sink:
        for image_id in range(1, 6):
            n = int(rng.integers(0, 6))
            x1y1 = rng.uniform(0, 500, (n, 2))
            wh = rng.uniform(8, 200, (n, 2))
            xyxy = np.concatenate([x1y1, x1y1 + wh], 1).astype(np.float32)
            classes = rng.choice([0, 2, 16, 79], n)
            sink.write(image_id, dets(xyxy.tolist(), rng.uniform(0.3, 1, n).tolist(), classes))
            images.append({"id": image_id, "width": 800, "height": 800})
            for (x1, y1, x2, y2), c in zip(xyxy.tolist(), classes.tolist(), strict=True):
                annotations.append({"id": len(annotations) + 1, "image_id": image_id,
                                    "category_id": COCO_CATEGORY_IDS[c],
                                    "bbox": [x1, y1, x2 - x1, y2 - y1],
                                    "area": (x2 - x1) * (y2 - y1), "iscrowd": 0})  # fmt: skip
    categories = [{"id": COCO_CATEGORY_IDS[c], "name": COCO_NAMES[c]} for c in (0, 2, 16, 79)]
    gt = tmp_path / "gt.json"
    gt.write_text(json.dumps({"images": images, "annotations": annotations,
                              "categories": categories}))  # fmt: skip
    assert len(annotations) >= 8
    report = evaluate(pred, gt)
    assert report.map_50_95 == pytest.approx(1.0) and report.map_50 == pytest.approx(1.0)
    assert report.n_predictions == len(annotations) and report.n_images == 5
    present = {COCO_NAMES[c] for c in (0, 2, 16, 79)} & {
        COCO_NAMES[COCO_CATEGORY_IDS.index(a["category_id"])] for a in annotations
    }
    assert {k for k, v in report.per_class.items() if v is not None} == present
    assert all(report.per_class[k] == pytest.approx(1.0) for k in present)


def test_mot_results_rows_and_atomicity(tmp_path: Path) -> None:
    from vidpipe.pipeline.results import EventsJsonl, MotResults

    dets = Detections(
        np.array([[10, 20, 40, 80], [0.5, 1.25, 2.5, 3.0]], np.float32),
        np.array([0.9, 0.12345], np.float32),
        np.array([0, 2]),
        np.array([7, 3]),
    )
    target = tmp_path / "res.txt"
    with MotResults(target) as mot:
        mot.write(4, dets)
        mot.write(5, dets[:0])
        assert not target.exists()  # appears only when the run succeeded
    assert target.read_text().splitlines() == [
        "5,7,10.00,20.00,30.00,60.00,0.9000,-1,-1,-1",
        "5,3,0.50,1.25,2.00,1.75,0.1235,-1,-1,-1",
    ]
    with pytest.raises(ValueError, match="tracked"), MotResults(tmp_path / "x.txt") as mot:
        mot.write(0, Detections.empty())
    assert not (tmp_path / "x.txt").exists()
    with EventsJsonl(tmp_path / "e.jsonl", ["person"]) as events:
        events.write([{"event": "cross", "class_id": 0}, {"event": "totals"}])
    rows = [json.loads(line) for line in (tmp_path / "e.jsonl").open()]
    assert rows == [{"event": "cross", "class_id": 0, "label": "person"}, {"event": "totals"}]
