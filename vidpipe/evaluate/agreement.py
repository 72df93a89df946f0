"""`agreement`: how well two runs of a detector over the same frames agree (a precision, a
runtime or a canvas against the reference), per class, without ground truth.

A box one run is sure of must be among the other run's boxes: boxes are matched one to one,
same class and IoU >= `iou` (0.5), the surer pairs first (COCO's greedy matching); a box
left unmatched counts against the agreement only where its run gave it `sure` (0.4) or more.
Boxes near the detection threshold (a person at 0.26 in one run and 0.24 in the other)
flicker across it between any two runs and are not a difference a user would see; with one
hard threshold they would dominate the count. F1 = 2 matched / (2 matched + missed + extra).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from vidpipe.types import Detections, iou_matrix

IOU = 0.5  # least IoU of two boxes taken for one
SURE = 0.4  # least score of a box whose absence from the other run counts


@dataclass
class Counts:
    """Boxes found by both runs, only by the reference (`missed`), only by the other (`extra`)."""

    matched: int = 0
    missed: int = 0
    extra: int = 0

    @property
    def f1(self) -> float:
        """2 matched / (2 matched + missed + extra); 1.0 when neither run found anything."""
        errors = self.missed + self.extra
        return 2 * self.matched / (2 * self.matched + errors) if self.matched + errors else 1.0


@dataclass
class Agreement:
    """The counts over all frames (`total`) and per class id (`classes`), and the frames."""

    total: Counts = field(default_factory=Counts)
    classes: dict[int, Counts] = field(default_factory=dict)
    frames: int = 0

    def add(self, reference: Detections, other: Detections, iou: float = IOU,
            sure: float = SURE) -> None:  # fmt: skip
        """Count one frame's boxes: `reference`'s against `other`'s."""
        self.frames += 1
        taken = _match(reference, other, iou)
        found = {r for r, _ in taken}
        used = {o for _, o in taken}
        for r, _ in taken:
            self._count(int(reference.class_ids[r]), "matched")
        for r in range(len(reference)):
            if r not in found and reference.scores[r] >= sure:
                self._count(int(reference.class_ids[r]), "missed")
        for o in range(len(other)):
            if o not in used and other.scores[o] >= sure:
                self._count(int(other.class_ids[o]), "extra")

    def _count(self, class_id: int, kind: str) -> None:
        for counts in (self.total, self.classes.setdefault(class_id, Counts())):
            setattr(counts, kind, getattr(counts, kind) + 1)


def agreement(reference: Iterable[Detections], other: Iterable[Detections], iou: float = IOU,
              sure: float = SURE) -> Agreement:  # fmt: skip
    """The agreement of `other` with `reference`, frame by frame (both in the same order)."""
    result = Agreement()
    for ref, oth in zip(reference, other, strict=True):
        result.add(ref, oth, iou, sure)
    return result


def _match(a: Detections, b: Detections, least_iou: float) -> Sequence[tuple[int, int]]:
    """(a index, b index) pairs: greedy, same class, IoU >= least_iou, a's surest box first,
    each taking the free box of b it overlaps most."""
    if not len(a) or not len(b):
        return []
    iou = iou_matrix(a.xyxy.astype(np.float64), b.xyxy.astype(np.float64))
    iou[a.class_ids[:, None] != b.class_ids[None, :]] = 0.0
    free = np.ones(len(b), bool)
    pairs = []
    for r in np.argsort(-a.scores, kind="stable"):
        row = np.where(free, iou[r], 0.0)
        o = int(np.argmax(row))
        if row[o] >= least_iou:
            free[o] = False
            pairs.append((int(r), o))
    return pairs
