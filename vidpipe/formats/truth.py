"""A run measured against ground truth in a tool's format (`vidpipe eval --gt`): both read
as `Boxes` (`export.read_truth`, `run.read_detections`) and written as the files the
evaluators read, COCO instances and results (pycocotools) or MOTChallenge text
(TrackEval's algorithms), frame for frame by display index.

Categories are matched by label; a tracked run's boxes count as their track's class
(`Boxes.by_track_class`), as the exports label them. Tracks are measured whatever their
class (every box of the ground truth is an object to track), where MOT17's own gt.txt
scores its pedestrians only.
"""

from __future__ import annotations

import numpy as np

from vidpipe.formats.run import Boxes


def categories(*runs: Boxes) -> dict[str, int]:
    """label -> category id of every label of the runs (1, 2, ... in order of name)."""
    return {name: k + 1 for k, name in enumerate(sorted({r.label(c) for r in runs
                                                         for c in r.names}))}  # fmt: skip


def _xywh(run: Boxes, b: int) -> list[float]:
    x1, y1, x2, y2 = (round(float(v), 3) for v in run.xyxy[b])
    return [x1, y1, round(x2 - x1, 3), round(y2 - y1, 3)]


def coco_truth(truth: Boxes, category: dict[str, int]) -> dict:
    """COCO instances of the ground truth: an image per annotated frame (id: its index).
    category: label -> category id, every label of `truth` included."""
    annotations = []
    for b in range(len(truth.frame)):
        box = _xywh(truth, b)
        annotations.append({
            "id": b + 1, "image_id": int(truth.indexes[truth.frame[b]]),
            "category_id": category[truth.label(truth.class_ids[b])], "bbox": box,
            "area": box[2] * box[3], "iscrowd": 0,
        })  # fmt: skip
    return {
        "images": [{"id": int(i)} for i in truth.indexes],
        "annotations": annotations,
        "categories": [{"id": k, "name": name} for name, k in category.items()],
    }


def coco_results(run: Boxes, category: dict[str, int], frames: list[int]) -> list[dict]:
    """COCO results of the run's boxes in `frames` (the ground truth's annotated frames:
    a box of a frame nobody annotated is neither right nor wrong) whose label `category`
    has (label -> category id: a class the ground truth does not know is not scored)."""
    known = np.isin(run.class_ids, [c for c in run.names if run.label(c) in category])
    annotated = np.isin(run.indexes[run.frame], frames) & known
    return [
        {"image_id": int(run.indexes[run.frame[b]]),
         "category_id": category[run.label(run.class_ids[b])], "bbox": _xywh(run, b),
         "score": round(float(run.scores[b]), 4)}
        for b in np.flatnonzero(annotated)
    ]  # fmt: skip


def mot_text(run: Boxes, truth: bool) -> str:
    """MOTChallenge rows of the tracked boxes (frame = index + 1): ground truth as
    `frame,id,x,y,w,h,1,1,1` (every box scored, as a pedestrian), a result with its score."""
    rows = []
    for b in np.flatnonzero(run.track_ids >= 0):
        x, y, w, h = _xywh(run, b)
        tail = "1,1,1" if truth else f"{float(run.scores[b]):.4f},-1,-1,-1"
        rows.append(f"{int(run.indexes[run.frame[b]]) + 1},{int(run.track_ids[b])},"
                    f"{x},{y},{w},{h},{tail}\n")  # fmt: skip
    return "".join(rows)
