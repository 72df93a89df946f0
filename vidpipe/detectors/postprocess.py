"""Post-processing: decoded predictions -> class-aware (batched) NMS -> `Detections`.

`postprocess` takes the decoded output of a letterboxed batch in one of `OUTPUTS` (boxes in
input pixels):

    objectness  [B, N, 5 + C]  cx, cy, w, h, objectness, class probabilities (YOLOX, YOLOv5)
    scores      [B, N, 4 + C]  cx, cy, w, h, class scores (YOLOv8 transposed, RT-DETR)
    boxes       [B, N, 6]      x1, y1, x2, y2, score, class id (end-to-end exports)

as a numpy array or a torch tensor, and runs NMS unless the model did (`nms=False`: an
end-to-end export, a DETR's set of queries). On the host the candidates and NMS are numpy; an
objectness tensor on a GPU has its candidates picked and NMS'd there (`nms_torch`), and only
the kept boxes come back. The mapping back to frame pixels and the split per image run in
numpy. No torch import: a torch tensor brings its own module.

NMS itself is `vidpipe.detectors.nms` (numpy) and `nms_torch` (on a device).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from vidpipe.detectors.nms import batched_nms
from vidpipe.types import Detections

__all__ = ["OUTPUTS", "batched_nms", "postprocess"]

OUTPUTS = ("objectness", "scores", "boxes")
_MIN_COLUMNS = {"objectness": 6, "scores": 5, "boxes": 6}


def _check_post_args(
    pred: Any,
    output: str,
    scales: Sequence[Any],
    sizes_wh: Sequence[tuple[int, int]],
    conf: float,
    iou: float,
    max_det: int,
) -> None:
    if output not in OUTPUTS:
        raise ValueError(f"output must be one of {OUTPUTS}, not {output!r}")
    columns = _MIN_COLUMNS[output]
    if getattr(pred, "ndim", None) != 3 or pred.shape[2] < columns:
        raise ValueError(
            f"pred must be an array [B, N, >= {columns}] ({output}), got {_shape(pred)}"
        )
    if output == "boxes" and pred.shape[2] != 6:
        raise ValueError(f"boxes pred must be [B, N, 6], got {_shape(pred)}")
    floating = pred.is_floating_point() if _is_torch(pred) else pred.dtype.kind == "f"
    if not floating:
        raise ValueError(f"pred must be floating point, got {pred.dtype}")
    if not 0.0 <= conf <= 1.0:
        raise ValueError(f"conf must be in [0, 1], got {conf}")
    if not 0.0 < iou <= 1.0:
        raise ValueError(f"iou must be in (0, 1], got {iou}")
    if isinstance(max_det, bool) or not isinstance(max_det, int) or max_det < 1:
        raise ValueError(f"max_det must be an integer >= 1, got {max_det!r}")
    batch = int(pred.shape[0])
    if len(scales) != batch or len(sizes_wh) != batch:
        raise ValueError(
            f"need one scale and one size per image: B={batch}, "
            f"len(scales)={len(scales)}, len(sizes_wh)={len(sizes_wh)}"
        )
    if not all(math.isfinite(s) and s > 0 for s in np.ravel(_scale_xy(scales))):
        raise ValueError(f"scales must be finite and > 0, got {list(scales)}")
    if not all(len(wh) == 2 and wh[0] > 0 and wh[1] > 0 for wh in sizes_wh):
        raise ValueError(f"sizes_wh must be (W, H) pairs > 0, got {list(sizes_wh)}")


def _shape(x: Any) -> Any:
    return tuple(x.shape) if hasattr(x, "shape") else type(x).__name__


def postprocess(
    pred: Any,
    *,
    scales: Sequence[float | tuple[float, float]],
    sizes_wh: Sequence[tuple[int, int]],
    offsets: Sequence[tuple[float, float]] = (),
    conf: float = 0.25,
    iou: float = 0.45,
    max_det: int = 300,
    classes: Sequence[int] | None = None,
    output: str = "objectness",
    nms: bool = True,
) -> list[Detections]:
    """Decoded predictions of a letterboxed batch -> one Detections per image.

    Args:
        pred: float16/float32 on any device, boxes in letterboxed-input pixels, as `output`
            says: "objectness" `[B, N, 5 + C]` per anchor cx, cy, w, h, objectness (a
            probability 0..1), then C class probabilities 0..1; "scores" `[B, N, 4 + C]` cx,
            cy, w, h, then C class scores 0..1; "boxes" `[B, N, 6]` x1, y1, x2, y2, score
            0..1, class id. Not modified.
        scales: per image, the letterbox scale (input pixels per source pixel), or an (x, y)
            pair for a stretched input.
        sizes_wh: per image, the source size (W, H) in pixels; boxes are clipped to 0..W, 0..H.
        offsets: per image, (x, y) of the source image's top-left corner on the input; empty:
            the top-left of the input.
        conf: keep candidates whose score (objectness * best class probability; the best
            class score) is >= conf.
        iou: class-aware NMS drops a box whose IoU with a better box is > iou.
        nms: False where the model has already picked its boxes (end-to-end exports, DETRs):
            the candidates are kept as they are.
        max_det: at most this many detections per image (the highest scores).
        classes: keep only these class ids (None: all).

    Returns:
        B Detections: xyxy `[K, 4]` float32 x1 y1 x2 y2 in source pixels, scores `[K]` float32
        0..1, class_ids `[K]` int64, sorted by decreasing score; Detections.empty() for an image
        without detections.

    Raises:
        ValueError: malformed pred, conf outside [0, 1], iou outside (0, 1], max_det < 1, or
            scales / sizes_wh not one (valid) entry per image.
    """
    _check_post_args(pred, output, scales, sizes_wh, conf, iou, max_det)
    batch = int(pred.shape[0])
    if _is_torch(pred) and pred.device.type != "cpu" and output == "objectness" and nms:
        image, xyxy, score, cls = _kept_on_device(pred, conf, iou, classes)
    else:
        host = pred.detach().cpu().numpy() if _is_torch(pred) else pred
        image, xyxy, score, cls = _candidates(host, output, conf, classes)
        if nms:
            keep = batched_nms(xyxy, score, image * (int(cls.max(initial=0)) + 1) + cls, iou)
            keep = keep[np.argsort(image[keep], kind="stable")]  # by image, by score within
        else:
            keep = np.lexsort((-score, image))  # by image, by score within
        image, xyxy, score, cls = image[keep], xyxy[keep], score[keep], cls[keep]
    top = _rank_in_image(image, batch) < max_det
    image, xyxy, score, cls = image[top], xyxy[top], score[top], cls[top]
    boxes = _to_frame(xyxy, image, scales, offsets, sizes_wh)
    table = np.concatenate(
        [boxes, score[:, None], cls[:, None], image[:, None]], axis=1, dtype=np.float32
    )  # ids are exact in float32 (< 2**24)
    return _split_by_image(table, batch)


def _to_frame(
    xyxy: np.ndarray,
    image: np.ndarray,
    scales: Sequence[Any],
    offsets: Sequence[tuple[float, float]],
    sizes_wh: Sequence[tuple[int, int]],
) -> np.ndarray:
    """Boxes `[K, 4]` in input pixels of images `image` -> source pixels, clipped."""
    scale = np.tile(_scale_xy(scales), 2)[image]  # [K, 4]: x y x y
    shift = np.zeros((len(sizes_wh), 2), np.float32) if not offsets else np.asarray(offsets)
    shift = np.tile(shift.astype(np.float32), 2)[image]
    limits = np.asarray([list(s) * 2 for s in sizes_wh], dtype=np.float32).reshape(-1, 4)[image]
    return np.minimum(np.maximum((xyxy - shift) / scale, 0), limits)


def _scale_xy(scales: Sequence[Any]) -> np.ndarray:
    """Per image (x, y) scales `[B, 2]` float32 from floats or (x, y) pairs."""
    pairs = [(s, s) if np.ndim(s) == 0 else tuple(s) for s in scales]
    return np.asarray(pairs, dtype=np.float32).reshape(-1, 2)


def _is_torch(array: Any) -> bool:
    return type(array).__module__.startswith("torch")


def _xyxy(cxcywh: np.ndarray) -> np.ndarray:
    half = cxcywh[:, 2:] / 2
    return np.concatenate([cxcywh[:, :2] - half, cxcywh[:, :2] + half], axis=1)


def _candidates(
    pred: np.ndarray, output: str, conf: float, classes: Sequence[int] | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(image index, xyxy float32, score, class id) of the predictions scoring >= conf. With
    objectness the score is objectness x best class probability <= objectness, so only
    anchors with objectness >= conf are looked at (a few of thousands)."""
    if output == "boxes":
        image, row = np.nonzero(pred[..., 4] >= conf)
        rows = pred[image, row].astype(np.float32)
        xyxy, score, class_id = rows[:, :4], rows[:, 4], np.rint(rows[:, 5]).astype(np.int64)
    elif output == "scores":
        best = pred[..., 4:].max(axis=-1)
        image, row = np.nonzero(best >= conf)
        rows = pred[image, row]
        class_id = rows[:, 4:].argmax(axis=1)
        score, xyxy = best[image, row].astype(np.float32), _xyxy(rows[:, :4].astype(np.float32))
    else:
        image, row = np.nonzero(pred[..., 4] >= conf)
        rows = pred[image, row]  # [M, 5 + C]
        class_id = rows[:, 5:].argmax(axis=1)
        score = rows[:, 4].astype(np.float32) * rows[np.arange(len(rows)), 5 + class_id].astype(
            np.float32
        )
        xyxy = _xyxy(rows[:, :4].astype(np.float32))
    mask = score >= conf
    if classes is not None:
        mask &= np.isin(class_id, np.asarray(list(classes), dtype=np.int64))
    return (image[mask].astype(np.int64), xyxy[mask], score[mask],
            class_id[mask].astype(np.int64))  # fmt: skip


def _kept_on_device(
    pred: Any, conf: float, iou: float, classes: Sequence[int] | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(image index, xyxy, score, class id) of the boxes NMS keeps, by image then score:
    candidates and NMS on the tensor's device (`nms_torch`), only the kept boxes copied."""
    import torch

    from vidpipe.detectors.nms_torch import batched_nms as device_nms

    with torch.inference_mode():
        class_prob, class_id = pred[..., 5:].max(dim=-1)  # [B, N]; exact in fp16 too
        score = pred[..., 4].float() * class_prob.float()
        mask = score >= conf
        if classes is not None:
            wanted = torch.as_tensor(list(classes), dtype=torch.int64, device=pred.device)
            mask &= torch.isin(class_id, wanted)
        image, anchor = torch.nonzero(mask, as_tuple=True)
        cand = pred[image, anchor, :4].float()
        xyxy = torch.cat([cand[:, :2] - cand[:, 2:] / 2, cand[:, :2] + cand[:, 2:] / 2], dim=1)
        cand_cls, cand_score = class_id[image, anchor], score[image, anchor]
        keep = device_nms(xyxy, cand_score, image * (pred.shape[2] - 5) + cand_cls, iou)
        keep = keep[torch.sort(image[keep], stable=True).indices]
        rows = torch.cat([xyxy[keep], cand_score[keep, None], cand_cls[keep, None].float(),
                          image[keep, None].float()], dim=1).cpu().numpy()  # fmt: skip
    return (rows[:, 6].astype(np.int64), rows[:, :4], np.ascontiguousarray(rows[:, 4]),
            rows[:, 5].astype(np.int64))  # fmt: skip


def _rank_in_image(image: np.ndarray, batch: int) -> np.ndarray:
    """0-based position of each row within its image, for rows grouped by image (`[K]` int64)."""
    counts = np.bincount(image, minlength=batch)
    starts = np.cumsum(counts) - counts
    return np.arange(image.shape[0]) - starts[image]


def _split_by_image(table: np.ndarray, batch: int) -> list[Detections]:
    """Rows [x1, y1, x2, y2, score, class, image] (grouped by image) -> Detections per image."""
    bounds = np.searchsorted(table[:, 6], np.arange(batch + 1), side="left")
    out = []
    for b in range(batch):
        rows = table[bounds[b] : bounds[b + 1]]
        if len(rows) == 0:
            out.append(Detections.empty())
            continue
        out.append(
            Detections(
                np.ascontiguousarray(rows[:, :4], dtype=np.float32),
                np.ascontiguousarray(rows[:, 4], dtype=np.float32),
                rows[:, 5].astype(np.int64),
            )
        )
    return out
