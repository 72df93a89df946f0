"""COCO bbox evaluation of a results file against a COCO ground truth.

Owns bbox mAP of a COCO results file against a COCO ground truth (`evaluate`, `EvalReport`).
The evaluation itself is pycocotools' `COCOeval` (an optional dependency:
`pip install 'vidpipe[eval]'`); this module checks the two files first so that a wrong file is
one clear `InputError` instead of an assertion deep inside pycocotools. The class names and
category ids a detector's results use are `vidpipe.detectors.names`'; evaluation reads them
from the ground truth's "categories".
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from vidpipe.errors import InputError, VidpipeError

log = logging.getLogger(__name__)

_PRED_KEYS = ("image_id", "category_id", "bbox", "score")
_SHOW = 5  # offending ids named in an error message


# --- evaluation --------------------------------------------------------------------------


@dataclass(frozen=True)
class EvalReport:
    """bbox mAP of a results file, as pycocotools' COCOeval computes it (maxDets 100).

    map_50_95: AP averaged over IoU 0.50:0.05:0.95, all areas, in 0..1.
    map_50: AP at IoU 0.50. per_class: category name -> AP@[.5:.95] in 0..1, None for a
    category without ground-truth objects (AP undefined); a category with objects but no
    predictions has 0.0. n_images: images in the ground truth (all are evaluated; one
    without predictions counts its objects as missed). n_predictions: rows of the results.
    """

    map_50_95: float
    map_50: float
    per_class: dict[str, float | None]
    n_images: int
    n_predictions: int


def evaluate(pred_path: str | os.PathLike[str], gt_path: str | os.PathLike[str]) -> EvalReport:
    """COCO bbox evaluation of the results file `pred_path` against `gt_path`.

    pred_path: JSON array of {"image_id", "category_id", "bbox": [x, y, w, h] in pixels,
        "score"} (COCO results format, as `vidpipe.pipeline.results.CocoResults` writes).
        An empty array is valid: every object counts as missed (mAP 0.0).
    gt_path: COCO instances JSON with "images" (each with "id"), "annotations" (each with
        "image_id", "category_id", "bbox"; "area" defaults to w*h, "iscrowd" to 0, "id" to
        a fresh one) and "categories" (each with "id" and "name").
    Raises InputError (one line) for a missing or non-JSON file, a wrong structure, a ground
    truth without annotations, or predictions naming images or categories the ground truth
    lacks; VidpipeError when pycocotools is not installed.
    """
    try:
        from pycocotools.coco import COCO
        from pycocotools.cocoeval import COCOeval
    except ImportError:
        raise VidpipeError("evaluation needs pycocotools: pip install 'vidpipe[eval]'") from None
    gt = _check_gt(_load_json(gt_path, "ground truth"), gt_path)
    preds = _check_predictions(_load_json(pred_path, "predictions"), pred_path, gt)
    with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints its progress
        coco_gt = COCO()
        coco_gt.dataset = gt
        coco_gt.createIndex()
        coco_dt = coco_gt.loadRes(preds) if preds else _empty_results(COCO, gt)
        evaluator = COCOeval(coco_gt, coco_dt, "bbox")
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    log.debug("evaluated %d predictions on %d images", len(preds), len(gt["images"]))
    return EvalReport(
        map_50_95=float(evaluator.stats[0]),
        map_50=float(evaluator.stats[1]),
        per_class=_per_class(evaluator, gt["categories"]),
        n_images=len(gt["images"]),
        n_predictions=len(preds),
    )


def _empty_results(coco_cls: Any, gt: dict[str, Any]) -> Any:
    """A results object without detections (pycocotools' loadRes refuses an empty list)."""
    res = coco_cls()
    res.dataset = {"images": gt["images"], "categories": gt["categories"], "annotations": []}
    res.createIndex()
    return res


def _per_class(evaluator: Any, categories: list[dict[str, Any]]) -> dict[str, float | None]:
    """AP@[.5:.95] per category from COCOeval's accumulated precision.

    precision is `[T IoU thresholds, R recall points, K categories, A areas, M maxDets]`,
    -1 where undefined; area "all" is index 0, maxDets 100 the last index (as stats[0])."""
    precision = evaluator.eval["precision"]
    names = {c["id"]: str(c["name"]) for c in categories}
    out: dict[str, float | None] = {}
    for k, cat_id in enumerate(evaluator.params.catIds):
        values = precision[:, :, k, 0, -1]
        values = values[values > -1]
        name = names[cat_id]
        if name in out:  # two categories with one name: tell them apart
            name = f"{name} ({cat_id})"
        out[name] = float(values.mean()) if values.size else None
    return out


# --- checking the files ------------------------------------------------------------------


def _load_json(path: str | os.PathLike[str], what: str) -> Any:
    """The parsed JSON of `path`; InputError for a missing, unreadable or non-JSON file."""
    text = os.fspath(path)
    if not os.path.exists(text):
        raise InputError(f"{text}: no such {what} file")
    if os.path.isdir(text):
        raise InputError(f"{text}: is a directory, not a {what} JSON file")
    try:
        with open(text, encoding="utf-8") as f:
            return json.load(f)
    except UnicodeDecodeError:
        raise InputError(f"{text}: not a JSON file (not UTF-8 text)") from None
    except json.JSONDecodeError as exc:
        hint = ""
        if exc.msg == "Extra data" and exc.lineno > 1:
            hint = "; it looks like JSON Lines, but a JSON array is needed"
        raise InputError(
            f"{text}: not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno}){hint}"
        ) from None
    except OSError as exc:
        raise InputError(f"{text}: cannot read {what} file: {exc.strerror}") from None


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    """A finite int or float (JSON number), not a bool."""
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    return ok and math.isfinite(value)


def _is_xywh(value: Any) -> bool:
    """A list of 4 finite numbers with non-negative width and height."""
    if not isinstance(value, list) or len(value) != 4:
        return False
    return all(_is_number(v) for v in value) and value[2] >= 0 and value[3] >= 0


def _ids(values: Sequence[Any]) -> str:
    shown = ", ".join(str(v) for v in sorted(values)[:_SHOW])
    return shown + (f" (+{len(values) - _SHOW} more)" if len(values) > _SHOW else "")


def _check_gt(data: Any, path: str | os.PathLike[str]) -> dict[str, Any]:
    """The ground truth as pycocotools needs it (defaults filled in), or InputError."""
    where = os.fspath(path)
    if not isinstance(data, dict):
        raise InputError(f"{where}: ground truth must be a JSON object with images, "
                         f"annotations and categories, got a {type(data).__name__}")  # fmt: skip
    missing = [k for k in ("images", "annotations", "categories") if k not in data]
    if missing:
        raise InputError(f"{where}: not a COCO ground truth: no {', '.join(missing)}")
    for key in ("images", "annotations", "categories"):
        if not isinstance(data[key], list) or not all(isinstance(x, dict) for x in data[key]):
            raise InputError(f"{where}: {key} must be a list of objects")
    if not all(_is_int(im.get("id")) for im in data["images"]):
        raise InputError(f"{where}: every image needs an integer id")
    if not all(_is_int(c.get("id")) and "name" in c for c in data["categories"]):
        raise InputError(f"{where}: every category needs an integer id and a name")
    _check_gt_annotations(data, where)
    if not data["annotations"]:
        raise InputError(f"{where}: the ground truth has no annotations; nothing to evaluate")
    return data


def _check_gt_annotations(data: dict[str, Any], where: str) -> None:
    """Check each annotation; fill in "area" (w*h), "iscrowd" (0) and a missing "id"."""
    image_ids = {im["id"] for im in data["images"]}
    cat_ids = {c["id"] for c in data["categories"]}
    anns = data["annotations"]
    seen: set[int] = set()
    for i, ann in enumerate(anns):
        if not (_is_int(ann.get("image_id")) and _is_int(ann.get("category_id"))):
            raise InputError(f"{where}: annotation {i} needs integer image_id and category_id")
        if not _is_xywh(ann.get("bbox")):
            raise InputError(f"{where}: annotation {i}: bbox must be [x, y, w, h], w, h >= 0")
        if ann["image_id"] not in image_ids:
            raise InputError(f"{where}: annotation {i}: image_id {ann['image_id']} not in images")
        if ann["category_id"] not in cat_ids:
            raise InputError(f"{where}: annotation {i}: category_id {ann['category_id']} "
                             "not in categories")  # fmt: skip
        if "id" in ann and (not _is_int(ann["id"]) or ann["id"] in seen):
            raise InputError(f"{where}: annotation {i}: id {ann['id']!r} is not a unique integer")
        if "id" in ann:
            seen.add(ann["id"])
        ann.setdefault("area", ann["bbox"][2] * ann["bbox"][3])
        ann.setdefault("iscrowd", 0)
    next_id = max((a["id"] for a in anns if "id" in a), default=0) + 1
    for ann in anns:
        if "id" not in ann:
            ann["id"], next_id = next_id, next_id + 1


def _check_predictions(
    data: Any, path: str | os.PathLike[str], gt: dict[str, Any]
) -> list[dict[str, Any]]:
    """The results rows, or InputError naming the first bad row or the unknown ids."""
    where = os.fspath(path)
    if isinstance(data, dict):
        kind = " (this looks like a ground-truth file)" if "annotations" in data else ""
        raise InputError(
            f"{where}: predictions must be a JSON array of {{image_id, category_id, bbox, "
            f"score}}, got an object{kind}"
        )
    if not isinstance(data, list):
        raise InputError(f"{where}: predictions must be a JSON array, got {type(data).__name__}")
    for i, row in enumerate(data):
        _check_row(row, i, where)
    unknown_images = {r["image_id"] for r in data} - {im["id"] for im in gt["images"]}
    if unknown_images:
        raise InputError(f"{where}: predictions for images not in the ground truth: "
                         f"image_id {_ids(list(unknown_images))}")  # fmt: skip
    gt_cats = {c["id"] for c in gt["categories"]}
    unknown_cats = {r["category_id"] for r in data} - gt_cats
    if unknown_cats:
        hint = ""
        if 0 in unknown_cats and 0 not in gt_cats:
            hint = " (class indexes written instead of category ids?)"
        raise InputError(f"{where}: category_id {_ids(list(unknown_cats))} not in the "
                         f"ground truth's categories{hint}")  # fmt: skip
    return data


def _check_row(row: Any, i: int, where: str) -> None:
    if not isinstance(row, dict):
        raise InputError(f"{where}: prediction {i} is not an object "
                         "{image_id, category_id, bbox, score}")  # fmt: skip
    missing = [k for k in _PRED_KEYS if k not in row]
    if missing:
        raise InputError(f"{where}: prediction {i} has no {', '.join(missing)}")
    if not (_is_int(row["image_id"]) and _is_int(row["category_id"])):
        raise InputError(f"{where}: prediction {i}: image_id and category_id must be integers")
    if not _is_xywh(row["bbox"]):
        raise InputError(f"{where}: prediction {i}: bbox must be [x, y, w, h] with w, h >= 0")
    if not _is_number(row["score"]):
        raise InputError(f"{where}: prediction {i}: score must be a finite number")
