"""Post-processing: decoded predictions -> class-aware (batched) NMS -> `Detections`.

`postprocess` takes the decoded output of a letterboxed batch, `[B, N, 5 + C]` (cx, cy, w, h in
input pixels, objectness, class probabilities), as a numpy array or a torch tensor. On the
host the candidates and NMS are numpy; a tensor on a GPU has its candidates picked and NMS'd
there (`nms_torch`), and only the kept boxes come back. The mapping back to frame pixels and
the split per image run in numpy. No torch import: a torch tensor brings its own module.

NMS itself is `vidpipe.detectors.nms` (numpy) and `nms_torch` (on a device).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from vidpipe.detectors.nms import batched_nms
from vidpipe.types import Detections

__all__ = ["batched_nms", "postprocess"]


def _check_post_args(
    pred: Any,
    scales: Sequence[float],
    sizes_wh: Sequence[tuple[int, int]],
    conf: float,
    iou: float,
    max_det: int,
) -> None:
    if getattr(pred, "ndim", None) != 3 or pred.shape[2] < 6:
        raise ValueError(f"pred must be an array [B, N, 5 + C] with C >= 1, got {_shape(pred)}")
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
    if not all(math.isfinite(s) and s > 0 for s in scales):
        raise ValueError(f"scales must be finite and > 0, got {list(scales)}")
    if not all(len(wh) == 2 and wh[0] > 0 and wh[1] > 0 for wh in sizes_wh):
        raise ValueError(f"sizes_wh must be (W, H) pairs > 0, got {list(sizes_wh)}")


def _shape(x: Any) -> Any:
    return tuple(x.shape) if hasattr(x, "shape") else type(x).__name__


def postprocess(
    pred: Any,
    *,
    scales: Sequence[float],
    sizes_wh: Sequence[tuple[int, int]],
    conf: float = 0.25,
    iou: float = 0.45,
    max_det: int = 300,
    classes: Sequence[int] | None = None,
) -> list[Detections]:
    """Decoded YOLOX predictions of a letterboxed batch -> one Detections per image.

    Args:
        pred: `[B, N, 5 + C]` float16/float32 on any device; per anchor cx, cy, w, h in
            letterboxed-input pixels, objectness (a probability 0..1), then C class
            probabilities 0..1. Not modified.
        scales: per image, the letterbox scale (input pixels per source pixel); the source image
            sits at the top-left of the letterboxed input.
        sizes_wh: per image, the source size (W, H) in pixels; boxes are clipped to 0..W, 0..H.
        conf: keep candidates whose score = objectness * best class probability is >= conf.
        iou: class-aware NMS drops a box whose IoU with a better box is > iou.
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
    _check_post_args(pred, scales, sizes_wh, conf, iou, max_det)
    batch = int(pred.shape[0])
    if _is_torch(pred) and pred.device.type != "cpu":
        image, xyxy, score, cls = _kept_on_device(pred, conf, iou, classes)
    else:
        host = pred.detach().numpy() if _is_torch(pred) else pred
        image, cand, score, cls = _candidates(host, conf, classes)
        xyxy = _xyxy(cand)
        keep = batched_nms(xyxy, score, image * (host.shape[2] - 5) + cls, iou)
        keep = keep[np.argsort(image[keep], kind="stable")]  # by image, by score within
        image, xyxy, score, cls = image[keep], xyxy[keep], score[keep], cls[keep]
    top = _rank_in_image(image, batch) < max_det
    image, xyxy, score, cls = image[top], xyxy[top], score[top], cls[top]
    scale = np.asarray(scales, dtype=np.float32)[image]
    limits = np.asarray([list(s) * 2 for s in sizes_wh], dtype=np.float32).reshape(-1, 4)[image]
    boxes = np.minimum(np.maximum(xyxy / scale[:, None], 0), limits)
    table = np.concatenate(
        [boxes, score[:, None], cls[:, None], image[:, None]], axis=1, dtype=np.float32
    )  # ids are exact in float32 (< 2**24)
    return _split_by_image(table, batch)


def _is_torch(array: Any) -> bool:
    return type(array).__module__.startswith("torch")


def _xyxy(cxcywh: np.ndarray) -> np.ndarray:
    half = cxcywh[:, 2:] / 2
    return np.concatenate([cxcywh[:, :2] - half, cxcywh[:, :2] + half], axis=1)


def _candidates(
    pred: np.ndarray, conf: float, classes: Sequence[int] | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(image index, cx cy w h float32, score, class id) of the anchors scoring >= conf. The
    score is objectness x best class probability <= objectness, so only anchors with
    objectness >= conf are looked at (a few of thousands)."""
    image, anchor = np.nonzero(pred[..., 4] >= conf)
    rows = pred[image, anchor]  # [M, 5 + C]
    class_id = rows[:, 5:].argmax(axis=1)
    score = rows[:, 4].astype(np.float32) * rows[np.arange(len(rows)), 5 + class_id].astype(
        np.float32
    )
    mask = score >= conf
    if classes is not None:
        mask &= np.isin(class_id, np.asarray(list(classes), dtype=np.int64))
    return (image[mask].astype(np.int64), rows[mask, :4].astype(np.float32), score[mask],
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
