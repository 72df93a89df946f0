"""Class-aware greedy NMS in numpy (torchvision's contract): `batched_nms`, by blocks of
candidates so that its IoU matrices stay small, exact greedy order within each block. The
post-processing of host predictions uses it; `nms_torch` is the same on a torch device.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from vidpipe.types import iou_matrix

__all__ = ["batched_nms"]

#: Candidates of several classes are packed into NMS blocks of at most this many boxes (a single
#: class with more candidates gets a block of its own). The IoU matrix of a block also spans
#: pairs of different classes (wasted work), so blocks are small.
_BLOCK = 256


def batched_nms(
    boxes: np.ndarray, scores: np.ndarray, idxs: np.ndarray, iou_threshold: float
) -> np.ndarray:
    """Class-aware greedy non-maximum suppression (same contract as torchvision's).

    Args:
        boxes: `[N, 4]` float, x1 y1 x2 y2 (any pixel unit, x1 <= x2, y1 <= y2).
        scores: `[N]` float, higher is better.
        idxs: `[N]` integer class (or group) ids; boxes of different ids never suppress each
            other.
        iou_threshold: a box is dropped when its IoU with a kept, higher-scoring box of the same
            id is > iou_threshold.

    Returns:
        `[K]` int64 indices into boxes of the kept boxes, by decreasing score (equal scores:
        index order). Scores are ranked and IoU computed in float32 (scores equal in float32
        are ties); zero-area boxes suppress nothing.
    """
    boxes, scores, idxs = np.asarray(boxes), np.asarray(scores), np.asarray(idxs)
    n = scores.shape[0] if scores.ndim == 1 else -1
    if boxes.ndim != 2 or boxes.shape[1] != 4 or n != boxes.shape[0] or idxs.shape != (n,):
        raise ValueError(
            "batched_nms needs boxes [N, 4], scores [N] and idxs [N], got "
            f"{boxes.shape}, {scores.shape}, {idxs.shape}"
        )
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    by_score = np.argsort(-scores.astype(np.float32), kind="stable")
    order = by_score[np.argsort(idxs[by_score], kind="stable")]
    counts = np.unique_counts(idxs[order]).counts if hasattr(np, "unique_counts") else (
        np.unique(idxs[order], return_counts=True)[1])  # fmt: skip
    boxes32 = boxes.astype(np.float32)
    kept = []
    for start, stop in _pack_blocks(counts.tolist(), _BLOCK):
        sel = order[start:stop]
        kept.append(sel[_greedy_keep(_overlap_matrix(boxes32[sel], idxs[sel], iou_threshold))])
    keep = np.concatenate(kept)
    rank = np.empty(n, dtype=np.int64)
    rank[by_score] = np.arange(n)
    return keep[np.argsort(rank[keep], kind="stable")].astype(np.int64)


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


def _overlap_matrix(boxes: np.ndarray, ids: np.ndarray, iou_threshold: float) -> np.ndarray:
    """`[M, M]` bool: IoU(i, j) > iou_threshold and ids[i] == ids[j] (float32 boxes `[M, 4]`;
    IoU as `vidpipe.types.iou_matrix`, 0 for an empty box)."""
    return (iou_matrix(boxes, boxes) > np.float32(iou_threshold)) & (ids[:, None] == ids)


def _greedy_keep(overlap: np.ndarray) -> np.ndarray:
    """Indices (ascending) that greedy NMS keeps, rows of `overlap` in priority order."""
    removed = np.zeros(overlap.shape[0], dtype=bool)
    keep: list[int] = []
    for i in range(overlap.shape[0]):
        if not removed[i]:
            keep.append(i)
            removed |= overlap[i]
    return np.asarray(keep, dtype=np.int64)
