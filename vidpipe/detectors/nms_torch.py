"""Class-aware greedy NMS on a torch device (a GPU), so that only the kept boxes come back to
the host: torchvision's `batched_nms` when it imports, else an exact implementation in torch.
`vidpipe.detectors.postprocess` uses it for predictions that live on an accelerator; host
predictions take its numpy NMS.

The torch implementation orders candidates by class, then by decreasing score, packs the
classes into blocks of at most `_BLOCK` boxes (big ones: few launches and host syncs), builds
each block's same-class IoU > threshold matrix and keeps boxes greedily as a fixed point of
parallel sweeps (no per-box host sync), falling back to the exact sequential scan on the host
when the sweeps do not converge.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable

import numpy as np
import torch

from vidpipe.detectors.nms import _pack_blocks

logger = logging.getLogger(__name__)

_BLOCK = 4096  # boxes per NMS block
_IOU_ROWS = 512  # IoU rows computed at once (bounds the float temporaries of one block)
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
    for start, stop in _pack_blocks(counts, _BLOCK):
        sel = order[start:stop]
        overlap = _overlap_matrix(boxes32[sel], idxs[sel], float(iou_threshold))
        kept.append(sel[_greedy_keep(overlap)])
    keep = torch.cat(kept)
    rank = torch.empty_like(by_score)
    rank[by_score] = torch.arange(n, device=device)
    return keep[torch.sort(rank[keep]).indices]


def _overlap_matrix(boxes: torch.Tensor, ids: torch.Tensor, iou_threshold: float) -> torch.Tensor:
    """`[M, M]` bool: IoU(i, j) > iou_threshold and ids[i] == ids[j] (float32 boxes `[M, 4]`).

    IoU follows `vidpipe.types.iou_matrix`'s edge-case rule (an empty or inverted box has area
    0; a zero union gives IoU 0), computed here in torch on the boxes' device, by row blocks.
    """
    m = boxes.shape[0]
    x1, y1, x2, y2 = boxes.t().contiguous()  # [M] each, contiguous
    area = (x2 - x1).clamp(min=0) * (y2 - y1).clamp(min=0)
    out = torch.empty((m, m), dtype=torch.bool, device=boxes.device)
    for r0 in range(0, m, _IOU_ROWS):
        r = slice(r0, r0 + _IOU_ROWS)
        inter_w = (torch.minimum(x2[r, None], x2) - torch.maximum(x1[r, None], x1)).clamp_(min=0)
        inter_h = (torch.minimum(y2[r, None], y2) - torch.maximum(y1[r, None], y1)).clamp_(min=0)
        inter = inter_w.mul_(inter_h)
        union = area[r, None] + area - inter
        iou = torch.where(union > 0, inter / union, 0.0)
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
