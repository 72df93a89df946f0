"""YOLOX post-processing: class-aware (batched) NMS and raw head output -> `Detections`.

Owns `batched_nms` (torchvision's when importable, else an exact torch implementation) and
`postprocess`, which turns decoded YOLOX predictions of a letterboxed batch into one
`vidpipe.types.Detections` per image, in source pixels. Pure torch on any device: no I/O, inputs
are never modified, and only the final boxes are copied to the host (once per batch); the NMS
itself reads back just the candidates' group sizes and, on an accelerator, one flag per
greedy sweep (never a per-box sync).
"""

from __future__ import annotations

import functools
import logging
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from vidpipe.types import Detections

__all__ = ["batched_nms", "batched_nms_torch", "postprocess"]

logger = logging.getLogger(__name__)

#: Candidates of several classes are packed into NMS blocks of at most this many boxes (a single
#: class with more candidates gets a block of its own). The IoU matrix of a block also spans
#: pairs of different classes (wasted work), so the CPU gets small blocks; an accelerator gets
#: big ones (fewer launches and host syncs).
_BLOCK = {"cpu": 256}
_BLOCK_ACCELERATOR = 4096
#: IoU rows computed at once (bounds the float temporaries of one block).
_IOU_ROWS = 512
#: Parallel greedy sweeps tried on an accelerator before the exact sequential scan on the host.
_MAX_SWEEPS = 64


@functools.lru_cache(maxsize=1)
def _torchvision_batched_nms() -> Callable[..., torch.Tensor] | None:
    """torchvision.ops.batched_nms when torchvision imports (attempted once), else None."""
    try:
        import torchvision.ops  # type: ignore[import-not-found, unused-ignore]
    except Exception:  # ImportError, or a torchvision built for another torch
        logger.debug("torchvision unavailable: using vidpipe's own batched NMS")
        return None
    return torchvision.ops.batched_nms


def batched_nms(
    boxes: torch.Tensor, scores: torch.Tensor, idxs: torch.Tensor, iou_threshold: float
) -> torch.Tensor:
    """Class-aware greedy non-maximum suppression (same contract as torchvision's).

    Args:
        boxes: `[N, 4]` float, x1 y1 x2 y2 (any pixel unit, x1 <= x2, y1 <= y2).
        scores: `[N]` float, higher is better.
        idxs: `[N]` int64 class (or group) ids; boxes of different ids never suppress each other.
        iou_threshold: a box is dropped when its IoU with a kept, higher-scoring box of the same
            id is > iou_threshold.

    Returns:
        `[K]` int64 indices into boxes of the kept boxes, by decreasing score; same device.
    """
    _check_nms_args(boxes, scores, idxs)
    tv_nms = _torchvision_batched_nms()
    if tv_nms is not None:
        return tv_nms(boxes.float(), scores.float(), idxs, float(iou_threshold))
    return batched_nms_torch(boxes, scores, idxs, iou_threshold)


def _check_nms_args(boxes: torch.Tensor, scores: torch.Tensor, idxs: torch.Tensor) -> None:
    n = scores.shape[0] if scores.ndim == 1 else -1
    if boxes.ndim != 2 or boxes.shape[1] != 4 or n != boxes.shape[0] or idxs.shape != (n,):
        raise ValueError(
            "batched_nms needs boxes [N, 4], scores [N] and idxs [N], got "
            f"{tuple(boxes.shape)}, {tuple(scores.shape)}, {tuple(idxs.shape)}"
        )


def batched_nms_torch(
    boxes: torch.Tensor, scores: torch.Tensor, idxs: torch.Tensor, iou_threshold: float
) -> torch.Tensor:
    """`batched_nms` in plain torch (used when torchvision is absent; same arguments/result).

    Candidates are ordered by id, then by decreasing score (stable: equal scores keep index
    order); ids are packed into blocks, each block gets a same-id IoU > threshold matrix and an
    exact greedy pass. IoU is computed on the raw coordinates in float32 (no per-class
    coordinate offset, so large class ids cost no precision); zero-area boxes suppress nothing.
    """
    _check_nms_args(boxes, scores, idxs)
    device = boxes.device
    n = int(boxes.shape[0])
    if n == 0:
        return torch.zeros(0, dtype=torch.int64, device=device)
    by_score = torch.sort(scores.float(), descending=True, stable=True).indices
    order = by_score[torch.sort(idxs[by_score], stable=True).indices]
    counts = torch.unique_consecutive(idxs[order], return_counts=True)[1].tolist()
    boxes32 = boxes.float()
    kept = []
    for start, stop in _pack_blocks(counts, _BLOCK.get(device.type, _BLOCK_ACCELERATOR)):
        sel = order[start:stop]
        overlap = _overlap_matrix(boxes32[sel], idxs[sel], float(iou_threshold))
        kept.append(sel[_greedy_keep(overlap)])
    keep = torch.cat(kept)
    rank = torch.empty_like(by_score)
    rank[by_score] = torch.arange(n, device=device)
    return keep[torch.sort(rank[keep]).indices]


def _pack_blocks(counts: Sequence[int], block: int) -> list[tuple[int, int]]:
    """Consecutive groups (sizes `counts`) packed into [start, stop) spans of <= block rows
    (a group larger than `block` gets a span of its own; groups are never split)."""
    spans: list[tuple[int, int]] = []
    start = stop = 0
    for count in counts:
        if stop > start and stop - start + count > block:
            spans.append((start, stop))
            start = stop
        stop += count
    spans.append((start, stop))
    return spans


def _overlap_matrix(boxes: torch.Tensor, ids: torch.Tensor, iou_threshold: float) -> torch.Tensor:
    """`[M, M]` bool: IoU(i, j) > iou_threshold and ids[i] == ids[j] (float32 boxes `[M, 4]`)."""
    m = boxes.shape[0]
    x1, y1, x2, y2 = boxes.t().contiguous()  # [M] each, contiguous
    area = (x2 - x1) * (y2 - y1)
    out = torch.empty((m, m), dtype=torch.bool, device=boxes.device)
    for r0 in range(0, m, _IOU_ROWS):
        r = slice(r0, r0 + _IOU_ROWS)
        inter_w = (torch.minimum(x2[r, None], x2) - torch.maximum(x1[r, None], x1)).clamp_(min=0)
        inter_h = (torch.minimum(y2[r, None], y2) - torch.maximum(y1[r, None], y1)).clamp_(min=0)
        inter = inter_w.mul_(inter_h)
        iou = inter / (area[r, None] + area - inter)
        out[r] = (iou > iou_threshold) & (ids[r, None] == ids)
    return out


def _greedy_keep(overlap: torch.Tensor) -> torch.Tensor:
    """Indices (ascending, int64, same device) that greedy NMS keeps, rows in priority order."""
    if overlap.device.type != "cpu":
        keep = _greedy_keep_sweeps(overlap)
        if keep is not None:
            return keep
        logger.debug("NMS sweeps did not converge: exact scan on the host")
    return _greedy_keep_scan(overlap.cpu()).to(overlap.device)


def _greedy_keep_scan(overlap: torch.Tensor) -> torch.Tensor:
    """Sequential greedy pass over a host `[M, M]` bool overlap matrix (O(M + kept * M))."""
    mat = overlap.numpy()
    removed = np.zeros(mat.shape[0], dtype=bool)
    keep: list[int] = []
    for i in range(mat.shape[0]):
        if not removed[i]:
            keep.append(i)
            removed |= mat[i]
    return torch.tensor(keep, dtype=torch.int64)


def _greedy_keep_sweeps(
    overlap: torch.Tensor, max_sweeps: int = _MAX_SWEEPS
) -> torch.Tensor | None:
    """Greedy NMS as a fixed point, for accelerators (no per-box host sync).

    keep[i] = no kept j < i overlaps i. Starting from all-kept, each sweep recomputes every
    entry from the previous one; the greedy answer is the only fixed point and is reached after
    (longest suppression chain + 1) sweeps. Returns None when `max_sweeps` do not suffice.
    """
    m = overlap.shape[0]
    earlier = torch.triu(overlap, diagonal=1).float()  # [j, i]: j < i and j overlaps i
    keep = torch.ones(m, dtype=torch.bool, device=overlap.device)
    for _ in range(max_sweeps):
        new_keep = (keep.float() @ earlier) == 0
        if torch.equal(new_keep, keep):
            return torch.nonzero(keep).flatten()
        keep = new_keep
    return None


def _check_post_args(
    pred: torch.Tensor,
    scales: Sequence[float],
    sizes_wh: Sequence[tuple[int, int]],
    conf: float,
    iou: float,
    max_det: int,
) -> None:
    if not isinstance(pred, torch.Tensor) or pred.ndim != 3 or pred.shape[2] < 6:
        raise ValueError(f"pred must be a tensor [B, N, 5 + C] with C >= 1, got {_shape(pred)}")
    if not pred.is_floating_point():
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
    pred: torch.Tensor,
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
    batch, _, width = pred.shape
    device = pred.device
    class_prob, class_id = pred[..., 5:].max(dim=-1)  # [B, N]; exact in fp16 too
    score = pred[..., 4].float() * class_prob.float()
    mask = score >= conf
    if classes is not None:
        wanted = torch.as_tensor(list(classes), dtype=torch.int64, device=device)
        mask &= torch.isin(class_id, wanted)
    image, anchor = torch.nonzero(mask, as_tuple=True)
    cand = pred[image, anchor, :4].float()
    xyxy = torch.cat([cand[:, :2] - cand[:, 2:] / 2, cand[:, :2] + cand[:, 2:] / 2], dim=1)
    cand_cls = class_id[image, anchor]
    cand_score = score[image, anchor]
    keep = batched_nms(xyxy, cand_score, image * (width - 5) + cand_cls, iou)
    keep = keep[torch.sort(image[keep], stable=True).indices]  # by image, by score within
    keep = keep[_rank_in_image(image[keep], batch) < max_det]
    img = image[keep]
    scale = torch.as_tensor(list(scales), dtype=torch.float32, device=device)[img]
    limits = torch.as_tensor([list(s) * 2 for s in sizes_wh], dtype=torch.float32, device=device)
    boxes = torch.minimum((xyxy[keep] / scale[:, None]).clamp_(min=0), limits[img])
    table = (
        torch.cat(
            [boxes, cand_score[keep, None], cand_cls[keep, None].float(), img[:, None].float()],
            dim=1,
        )
        .cpu()
        .numpy()
    )  # the only host copy; ids are exact in float32 (< 2**24)
    return _split_by_image(table, batch)


def _rank_in_image(image: torch.Tensor, batch: int) -> torch.Tensor:
    """0-based position of each row within its image, for rows grouped by image (`[K]` int64)."""
    counts = torch.bincount(image, minlength=batch)
    starts = torch.cumsum(counts, 0) - counts
    return torch.arange(image.shape[0], device=image.device) - starts[image]


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
