"""`vidpipe.evaluate.agreement`: two runs of a detector compared box by box, on boxes made
by hand where every count is known."""

from __future__ import annotations

import numpy as np
import pytest

from vidpipe.evaluate.agreement import Counts, agreement
from vidpipe.types import Detections

DOG, CAT, PERSON = 16, 15, 0


def dets(*boxes: tuple[float, float, float, float, float, int]) -> Detections:
    """Detections from (x1, y1, x2, y2, score, class) tuples."""
    rows = np.array(boxes, np.float64).reshape(-1, 6)
    return Detections(rows[:, :4].astype(np.float32), rows[:, 4].astype(np.float32),
                      rows[:, 5].astype(np.int64))  # fmt: skip


def test_the_same_boxes_agree_wholly() -> None:
    frame = dets((0, 0, 10, 10, 0.9, DOG), (20, 0, 30, 10, 0.3, CAT))
    result = agreement([frame, frame], [frame, frame])
    assert (result.total.matched, result.total.missed, result.total.extra) == (4, 0, 0)
    assert result.total.f1 == 1.0 and result.frames == 2


def test_a_box_near_the_threshold_on_one_side_only_is_no_difference() -> None:
    """0.3 in one run, absent from the other: under SURE (0.4), it does not count; at 0.45
    it does, as a miss (reference) or an extra (the other run)."""
    ref = dets((0, 0, 10, 10, 0.9, DOG), (20, 0, 30, 10, 0.3, PERSON))
    other = dets((0, 0, 10, 10, 0.8, DOG))
    assert agreement([ref], [other]).total.f1 == 1.0
    sure = dets((0, 0, 10, 10, 0.9, DOG), (20, 0, 30, 10, 0.45, PERSON))
    missed = agreement([sure], [other]).total
    assert (missed.matched, missed.missed, missed.extra) == (1, 1, 0)
    assert missed.f1 == pytest.approx(2 / 3)
    extra = agreement([other], [sure]).total
    assert (extra.matched, extra.missed, extra.extra) == (1, 0, 1)


def test_class_and_overlap_must_both_agree() -> None:
    """Another class on the same pixels is a miss and an extra; IoU 0.45 (< 0.5) too; IoU
    exactly 0.5 matches."""
    ref = dets((0, 0, 10, 10, 0.9, DOG))
    result = agreement([ref], [dets((0, 0, 10, 10, 0.9, CAT))])
    assert result.classes[DOG] == Counts(0, 1, 0) and result.classes[CAT] == Counts(0, 0, 1)
    shifted = agreement([ref], [dets((0, 0, 10, 4.5, 0.9, DOG))]).total  # IoU 0.45
    assert (shifted.matched, shifted.missed, shifted.extra) == (0, 1, 1)
    assert agreement([ref], [dets((0, 0, 10, 5, 0.9, DOG))]).total.matched == 1  # IoU 0.5
    assert agreement([ref], [dets((0, 0, 10, 10, 0.9, DOG))], iou=0.7).total.matched == 1


def test_matching_is_one_to_one_surest_first() -> None:
    """Two reference boxes over one box of the other run: the surer takes it, the other is
    missed; per class the counts add up to the total."""
    ref = dets((0, 0, 10, 10, 0.5, DOG), (0, 0, 10, 9, 0.9, DOG), (50, 50, 60, 60, 0.9, PERSON))
    other = dets((0, 0, 10, 9, 0.8, DOG), (50, 50, 60, 60, 0.7, PERSON))
    result = agreement([ref], [other])
    assert result.classes[DOG] == Counts(1, 1, 0) and result.classes[PERSON] == Counts(1, 0, 0)
    assert result.total == Counts(2, 1, 0)


def test_nothing_found_by_either_run_agrees_and_frames_must_pair() -> None:
    empty = dets()
    assert agreement([empty], [empty]).total.f1 == 1.0
    assert agreement([], []).frames == 0
    with pytest.raises(ValueError):
        agreement([empty, empty], [empty])
