"""What the boxes of one frame say about each other, for the tracker: boxes of several classes
on one object (`one_per_object`), a box nested in another (`nested`), the share of a box
inside another (`covered`). Boxes are x1 y1 x2 y2 in pixels.
"""

from __future__ import annotations

import numpy as np

from vidpipe.types import Detections, iou_matrix

NESTED = 0.9  # this much of the smaller of two boxes inside the other: one object's part, or
# the object with its neighbour


def one_per_object(dets: Detections, least_iou: float) -> tuple[np.ndarray, list]:
    """The detections that lead their object, and what the others on it say.

    A detector with per-class NMS often keeps two boxes on one object ("dog 0.50" and "cat
    0.47" on the same pixels). Boxes of different classes that overlap by at least
    `least_iou` are one object: the best score leads (ties: the earlier box), and each box of
    another class overlapping it that much joins it. Returns (`[L]` int64 indices of the
    leaders in input order, for each leader the (class id, score) of the boxes that joined
    it). Boxes of one class are never joined: that is NMS's business.

    >>> boxes = np.array([[0, 0, 10, 10], [0, 0, 10, 9], [20, 0, 30, 10]], np.float32)
    >>> dets = Detections(boxes, np.array([0.47, 0.5, 0.9], np.float32), np.array([15, 16, 16]))
    >>> lead, joined = one_per_object(dets, 0.7)
    >>> lead.tolist(), [[(c, round(s, 2)) for c, s in j] for j in joined]
    ([1, 2], [[(15, 0.47)], []])
    """
    n = len(dets)
    if n < 2:
        return np.arange(n, dtype=np.int64), [[] for _ in range(n)]
    iou = iou_matrix(dets.xyxy.astype(np.float64), dets.xyxy.astype(np.float64))
    classes = dets.class_ids
    joins = (iou >= least_iou) & (classes[:, None] != classes[None, :])
    if not joins.any():
        return np.arange(n, dtype=np.int64), [[] for _ in range(n)]
    order = np.argsort(-dets.scores, kind="stable")
    owner = np.full(n, -1)
    for d in order:
        if owner[d] < 0:
            owner[d] = d
            owner[joins[d] & (owner < 0)] = d
    lead = np.flatnonzero(owner == np.arange(n))
    joined = [
        [(int(classes[o]), float(dets.scores[o])) for o in np.flatnonzero(owner == d) if o != d]
        for d in lead
    ]
    return lead.astype(np.int64), joined


def covered(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """`[A, B]`: the share of each box a[i]'s area inside box b[j] (x1 y1 x2 y2)."""
    top_left = np.maximum(a[:, None, :2], b[None, :, :2])
    bottom_right = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(bottom_right - top_left, 0.0, None), axis=2)
    return inter / np.maximum(np.prod(a[:, 2:] - a[:, :2], axis=1), 1e-9)[:, None]


def nested(a: np.ndarray, b: np.ndarray, share: float = NESTED) -> np.ndarray:
    """`[A, B]` bool: whether boxes a[i] and b[j] (x1 y1 x2 y2) are nested, `share` or more of
    the smaller one's area inside the other.

    >>> nested(np.array([[10.0, 10, 50, 90]]), np.array([[0.0, 0, 100, 100], [40, 0, 140, 100]]))
    array([[ True, False]])
    """
    top_left = np.maximum(a[:, None, :2], b[None, :, :2])
    bottom_right = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(bottom_right - top_left, 0.0, None), axis=2)
    area_a = np.prod(a[:, 2:] - a[:, :2], axis=1)
    area_b = np.prod(b[:, 2:] - b[:, :2], axis=1)
    return inter >= share * np.minimum(area_a[:, None], area_b[None, :])
