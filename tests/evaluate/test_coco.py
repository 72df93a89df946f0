"""`evaluate` (COCO bbox mAP) against values derived by hand from COCO's rules (IoU thresholds
0.50:0.05:0.95, 101 recall points) and against pycocotools run category by category."""

from __future__ import annotations

import builtins
import contextlib
import copy
import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from vidpipe.errors import InputError, VidpipeError
from vidpipe.evaluate.coco import EvalReport, evaluate

IOU_THRESHOLDS = np.linspace(0.5, 0.95, 10)  # COCO's
RECALL_POINTS = np.linspace(0.0, 1.0, 101)  # COCO's interpolation points

# --- evaluation fixtures -------------------------------------------------------------------

PERSON, CAR, DOG = 1, 3, 18


def box(x: float, y: float, size: float = 100.0) -> list[float]:
    return [float(x), float(y), size, size]


def ground_truth() -> dict[str, Any]:
    """3 images; 2 persons, 4 cars, 2 dogs; boxes far apart (no cross matches)."""
    objects = [
        (1, PERSON, box(0, 0)),
        (1, CAR, box(300, 0)),
        (1, DOG, box(600, 0)),
        (2, PERSON, box(0, 300)),
        (2, CAR, box(300, 300)),
        (2, CAR, box(600, 300)),
        (3, CAR, box(0, 600)),
        (3, DOG, box(300, 600)),
    ]
    return {
        "images": [
            {"id": i, "width": 1000, "height": 1000, "file_name": f"{i}.jpg"} for i in (1, 2, 3)
        ],
        "annotations": [
            {
                "id": n + 1,
                "image_id": im,
                "category_id": cat,
                "bbox": bb,
                "area": bb[2] * bb[3],
                "iscrowd": 0,
            }
            for n, (im, cat, bb) in enumerate(objects)
        ],
        "categories": [
            {"id": PERSON, "name": "person"},
            {"id": CAR, "name": "car"},
            {"id": DOG, "name": "dog"},
        ],
    }


def perfect(gt: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {"image_id": a["image_id"], "category_id": a["category_id"], "bbox": list(a["bbox"]),
         "score": 0.9}
        for a in gt["annotations"]
    ]  # fmt: skip


def shifted(bb: list[float], iou: float) -> list[float]:
    """`bb` moved right so that its IoU with `bb` is `iou`: (w - d) / (w + d) = iou."""
    dx = bb[2] * (1 - iou) / (1 + iou)
    return [bb[0] + dx, *bb[1:]]


def write(tmp_path: Path, name: str, data: Any) -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return path


def run(tmp_path: Path, preds: Any, gt: Any | None = None) -> EvalReport:
    gt = ground_truth() if gt is None else gt
    return evaluate(write(tmp_path, "pred.json", preds), write(tmp_path, "gt.json", gt))


def test_perfect_predictions_score_one(tmp_path):
    report = run(tmp_path, perfect(ground_truth()))
    assert report.map_50_95 == pytest.approx(1.0) and report.map_50 == pytest.approx(1.0)
    assert report.per_class == pytest.approx({"person": 1.0, "car": 1.0, "dog": 1.0})
    assert report.n_images == 3 and report.n_predictions == 8


def test_shifted_and_missing_boxes(tmp_path):
    """person perfect; dogs at IoU 0.68 (pass 4 of 10 thresholds); half the cars missed."""
    gt = ground_truth()
    preds = perfect(gt)
    for p in preds:
        if p["category_id"] == DOG:
            p["bbox"] = shifted(p["bbox"], 0.68)
    cars = [p for p in preds if p["category_id"] == CAR]
    preds = [p for p in preds if p not in cars[:2]]
    report = run(tmp_path, preds)

    dog = float(np.mean(IOU_THRESHOLDS <= 0.68))  # AP 1 where the IoU passes, else 0
    car = float(np.mean(RECALL_POINTS <= 0.5))  # precision 1 up to recall 0.5, then none
    assert dog == pytest.approx(0.4) and car == pytest.approx(51 / 101)
    assert report.per_class == pytest.approx({"person": 1.0, "car": car, "dog": dog})
    assert report.map_50_95 == pytest.approx((1.0 + car + dog) / 3)
    assert report.map_50 == pytest.approx((1.0 + car + 1.0) / 3)  # IoU 0.68 counts at .5
    assert report.n_predictions == 6


def test_box_at_iou_06_counts_at_05_not_at_075(tmp_path):
    gt = ground_truth()
    gt["annotations"] = [a for a in gt["annotations"] if a["category_id"] == PERSON]
    preds = perfect(gt)
    for p in preds:
        p["bbox"] = shifted(p["bbox"], 0.62)
    report = run(tmp_path, preds, gt)
    assert report.map_50 == pytest.approx(1.0)
    assert report.map_50_95 == pytest.approx(0.3)  # passes .50, .55, .60 only
    assert report.per_class == pytest.approx({"person": 0.3, "car": None, "dog": None})


def test_false_positives_ranked_above_match_lower_precision(tmp_path):
    """One person, found, but a higher-scoring false positive first: precision 1/2 at
    recall 1 -> AP 0.5 at every threshold."""
    gt = ground_truth()
    gt["annotations"] = [a for a in gt["annotations"] if a["id"] == 1]
    preds = [*perfect(gt), {"image_id": 3, "category_id": PERSON, "bbox": box(700, 700),
                            "score": 0.99}]  # fmt: skip
    report = run(tmp_path, preds, gt)
    assert report.map_50_95 == pytest.approx(0.5) and report.map_50 == pytest.approx(0.5)


def pycocotools_per_category(gt: dict, preds: list) -> dict[int, float]:
    """The oracle: pycocotools' own stats[0] with the evaluation limited to one category."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    out = {}
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO()
        coco_gt.dataset = copy.deepcopy(gt)
        coco_gt.createIndex()
        coco_dt = coco_gt.loadRes(copy.deepcopy(preds))
        for cat in coco_gt.getCatIds():
            ev = COCOeval(coco_gt, coco_dt, "bbox")
            ev.params.catIds = [cat]
            ev.evaluate()
            ev.accumulate()
            ev.summarize()
            out[cat] = float(ev.stats[0])
    return out


def test_per_class_matches_pycocotools_run_per_category(tmp_path):
    rng = np.random.default_rng(3)
    gt = ground_truth()
    preds = []
    for a in gt["annotations"]:  # jittered boxes, random scores, some false positives
        for _ in range(2):
            jitter = rng.normal(0, 12, 4)
            x, y, w, h = (np.array(a["bbox"]) + jitter).tolist()
            bb = [x, y, max(1.0, w), max(1.0, h)]
            row = {"image_id": a["image_id"], "category_id": a["category_id"], "bbox": bb}
            preds.append({**row, "score": float(rng.uniform())})
    oracle = pycocotools_per_category(gt, preds)
    report = run(tmp_path, preds, gt)
    names = {c["id"]: c["name"] for c in gt["categories"]}
    assert report.per_class == pytest.approx({names[c]: v for c, v in oracle.items()})
    assert 0.05 < report.map_50_95 < 0.95  # a case where the numbers mean something
    assert report.map_50_95 == pytest.approx(np.mean(list(oracle.values())))


def test_defaults_for_area_iscrowd_and_id(tmp_path):
    gt = ground_truth()
    preds = perfect(gt)
    for a in gt["annotations"]:
        del a["area"], a["iscrowd"], a["id"]
    assert run(tmp_path, preds, gt).map_50_95 == pytest.approx(1.0)


def test_images_without_predictions_count_as_missed(tmp_path):
    gt = ground_truth()
    preds = [p for p in perfect(gt) if p["image_id"] != 3]  # one car and one dog missed
    report = run(tmp_path, preds, gt)
    assert report.per_class["person"] == pytest.approx(1.0)
    assert report.per_class["car"] == pytest.approx(np.mean(RECALL_POINTS <= 0.75))
    assert report.per_class["dog"] == pytest.approx(np.mean(RECALL_POINTS <= 0.5))


def test_empty_predictions_score_zero(tmp_path):
    report = run(tmp_path, [])
    assert report.map_50_95 == 0.0 and report.map_50 == 0.0 and report.n_predictions == 0
    assert report.per_class == {"person": 0.0, "car": 0.0, "dog": 0.0}


def test_pycocotools_prints_nothing(tmp_path, capfd):
    run(tmp_path, perfect(ground_truth()))
    assert capfd.readouterr().out == ""


# --- bad input -------------------------------------------------------------------------


def _gt_without(key):
    gt = ground_truth()
    del gt[key]
    return gt


def _gt_with_annotation(**changes):
    gt = ground_truth()
    gt["annotations"][0].update(changes)
    return gt


def _pred_with(**changes):
    preds = perfect(ground_truth())
    preds[3].update(changes)
    return preds


def _pred_without(key):
    preds = perfect(ground_truth())
    del preds[2][key]
    return preds


GOOD_GT, GOOD_PRED = ground_truth(), perfect(ground_truth())
BAD = {  # case: (predictions, ground truth, text the one-line message must hold)
    "gt-list": (GOOD_PRED, [], "ground truth must be a JSON object"),
    "gt-no-images": (GOOD_PRED, _gt_without("images"), "not a COCO ground truth: no images"),
    "gt-no-annotations-key": (GOOD_PRED, _gt_without("annotations"), "no annotations"),
    "gt-no-categories": (GOOD_PRED, _gt_without("categories"), "no categories"),
    "gt-empty": (GOOD_PRED, {**GOOD_GT, "annotations": []}, "no annotations; nothing"),
    "gt-bad-bbox": (GOOD_PRED, _gt_with_annotation(bbox=[1, 2, 3]), "annotation 0: bbox"),
    "gt-dup-id": (GOOD_PRED, _gt_with_annotation(id=2), "not a unique integer"),
    "gt-bad-image": (GOOD_PRED, _gt_with_annotation(image_id=9), "image_id 9 not in images"),
    "gt-bad-category": (GOOD_PRED, _gt_with_annotation(category_id=5), "category_id 5 not in"),
    "pred-object": (GOOD_GT, GOOD_GT, "got an object (this looks like a ground-truth file)"),
    "pred-number": (3, GOOD_GT, "must be a JSON array, got int"),
    "pred-row-list": ([[1, 2, 3, 4]], GOOD_GT, "prediction 0 is not an object"),
    "pred-no-score": (_pred_without("score"), GOOD_GT, "prediction 2 has no score"),
    "pred-no-bbox": (_pred_without("bbox"), GOOD_GT, "prediction 2 has no bbox"),
    "pred-str-image": (_pred_with(image_id="1"), GOOD_GT, "prediction 3: image_id and"),
    "pred-xyxy-neg": (_pred_with(bbox=[50, 50, -10, 5]), GOOD_GT, "prediction 3: bbox"),
    "pred-bbox-str": (_pred_with(bbox="0 0 1 1"), GOOD_GT, "prediction 3: bbox"),
    "pred-score-null": (_pred_with(score=None), GOOD_GT, "score must be a finite number"),
    "pred-image": (_pred_with(image_id=42), GOOD_GT, "images not in the ground truth: image_id 42"),
    "pred-category": (_pred_with(category_id=7), GOOD_GT, "category_id 7 not in the ground"),
    "pred-class-index": (_pred_with(category_id=0), GOOD_GT, "class indexes written instead"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_is_one_line_input_error(tmp_path, case):
    preds, gt, needle = copy.deepcopy(BAD[case])
    with pytest.raises(InputError) as info:
        run(tmp_path, preds, gt)
    message = str(info.value)
    assert needle in message and "\n" not in message, message


def test_bad_files(tmp_path):
    gt = write(tmp_path, "gt.json", ground_truth())
    pred = write(tmp_path, "pred.json", perfect(ground_truth()))
    with pytest.raises(InputError, match=r"nope\.json: no such predictions file"):
        evaluate(tmp_path / "nope.json", gt)
    with pytest.raises(InputError, match="no such ground truth file"):
        evaluate(pred, tmp_path / "nope.json")
    with pytest.raises(InputError, match="is a directory"):
        evaluate(tmp_path, gt)
    (tmp_path / "broken.json").write_text('[{"image_id": 1,')
    with pytest.raises(InputError, match=r"broken\.json: not valid JSON \(.* line 1 column"):
        evaluate(tmp_path / "broken.json", gt)
    (tmp_path / "binary.json").write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(InputError, match="not a JSON file"):
        evaluate(pred, tmp_path / "binary.json")
    rows = "\n".join(json.dumps(r) for r in perfect(ground_truth()))
    (tmp_path / "rows.jsonl").write_text(rows)
    with pytest.raises(InputError, match="looks like JSON Lines"):
        evaluate(tmp_path / "rows.jsonl", gt)


def test_without_pycocotools_says_how_to_install(tmp_path, monkeypatch):
    real_import = builtins.__import__

    def no_pycocotools(name, *args, **kwargs):
        if name.startswith("pycocotools"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pycocotools)
    with pytest.raises(VidpipeError, match=r"pip install 'vidpipe\[eval\]'"):
        run(tmp_path, perfect(ground_truth()))
