"""The tracker's association rules on hand-made boxes, one rule a test: what happens while two
objects merge into one box."""

from __future__ import annotations

import numpy as np
import pytest

from vidpipe.tracking.options import TRACKERS, TrackOptions
from vidpipe.tracking.tracker import Tracker
from vidpipe.types import Detections

FPS = 30
W, H = 80, 160  # each object's box


def _boxes(*xyxy: tuple[float, float, float, float], score: float = 0.8) -> Detections:
    return Detections(
        np.array(xyxy, np.float32).reshape(-1, 4),
        np.full(len(xyxy), score, np.float32),
        np.zeros(len(xyxy), np.int64),
    )


def _crossing(i: int) -> Detections:
    """Frame i of two objects head-on (A from the left at 300 px/s, B from the right): while
    their centres are less than 40 px apart the detector gives one box around both."""
    xa, xb = 100 + 10 * i, 700 - 10 * i
    a, b = (xa, 100, xa + W, 100 + H), (xb, 100, xb + W, 100 + H)
    if abs(xa - xb) < 40:
        return _boxes((min(xa, xb), 100, max(xa, xb) + W, 100 + H))
    return _boxes(a, b)


@pytest.mark.parametrize("tracker", TRACKERS)
def test_a_merged_box_stands_for_both_objects(tracker: str) -> None:
    """While the two are one box, both tracks are reported (each keeps its id through the
    merge instead of the box passing from one track to the other): one on the box, the
    other where it predicts its object, within a few pixels of it; and each leaves with its
    own object."""
    track = Tracker(TrackOptions(tracker=tracker))
    before = after = None
    for i in range(60):
        dets = _crossing(i)
        out = track.update(dets, i / FPS)
        ids = {int(t): float(x1) for (x1, *_), t in zip(out.xyxy, out.tracker_id, strict=True)}
        if i == 25:  # both apart: A on the left
            before = min(ids, key=ids.get), max(ids, key=ids.get)
        if len(dets) == 1 and i > 27:  # merged (frames 27..32): both ids, one on the box
            assert sorted(ids) == [1, 2], (i, ids)
            on_box = np.all(out.xyxy == dets.xyxy[0], axis=1)
            assert on_box.sum() == 1, (i, out.xyxy)
            (own,) = out.xyxy[~on_box]
            centre = (own[0] + own[2]) / 2 - W / 2
            assert min(abs(centre - x) for x in (100 + 10 * i, 700 - 10 * i)) < 10, (i, own)
        if i == 45:  # apart again: A on the right
            after = max(ids, key=ids.get), min(ids, key=ids.get)
    assert before == after == (1, 2) or before == after == (2, 1), (before, after)


@pytest.mark.parametrize("tracker", TRACKERS)
def test_an_object_going_behind_another_is_reported_there(tracker: str, monkeypatch) -> None:
    """An object walking behind a parked one, not seen from when a third of it is hidden:
    its track is reported behind the parked one's box from when half of its predicted box
    is inside it, though it was not seen in the frame before (SHARE_GAP_S), and its box
    walks on (it is not the parked one's box)."""
    import vidpipe.tracking.tracker as tracker_module

    parked = (395, 100, 395 + W, 100 + H)

    def reported() -> dict[int, list[float]]:
        track, out = Tracker(TrackOptions(tracker=tracker)), {}
        for i in range(36):
            x = 100 + 10 * i  # the walker's x1: 31% hidden at i = 24, 44% at 25, 56% at 26
            dets = _boxes(parked, (x, 110, x + W, 110 + H)) if x < 345 else _boxes(parked)
            got = track.update(dets, i / FPS)
            out[i] = [float(b[0]) for b, t in zip(got.xyxy, got.tracker_id, strict=True) if t == 2]
        return out

    walker = reported()
    assert walker[24] == [340.0]  # its last box
    assert walker[25] == []  # not seen, and not half behind the parked one yet
    for i in range(26, 34):  # half hidden or more: behind the parked one, walking on
        assert walker[i] == [pytest.approx(100 + 10 * i, abs=3)], (i, walker[i])
    monkeypatch.setattr(tracker_module, "SHARE_GAP_S", 0.0)
    assert reported()[30] == []


def test_sharing_ends_with_the_lost_buffer() -> None:
    """An object standing half in front of a parked one, then hidden behind it for good: its
    track reports the parked one's box, but only until `lost_s` after its own last box."""
    track = Tracker(TrackOptions(tracker="bytetrack", lost_s=1.0))
    parked, standing = (400, 100, 400 + W, 100 + H), (420, 100, 420 + W, 100 + H)
    reported = []
    for i in range(90):
        dets = _boxes(parked, standing) if i < 30 else _boxes(parked)
        reported.append(sorted(track.update(dets, i / FPS).tracker_id.tolist()))
    assert reported[29] == [1, 2]  # its own box
    assert reported[30] == reported[55] == [1, 2]  # both on the parked one's box
    assert reported[65] == [1]  # over 1 s after its own last box: ended


@pytest.mark.parametrize("tracker", TRACKERS)
def test_a_new_track_is_confirmed_by_a_low_score_box(tracker: str) -> None:
    """A first box at 0.7, then 0.3 frame after frame (a real detector's score often drops
    like this): the object is tracked from its second frame, in every recipe. A box below
    `new_track` alone still starts nothing."""
    track = Tracker(TrackOptions(tracker=tracker))
    track.update(Detections.empty(), 0.0)
    ids = []
    for i in range(1, 10):
        x = 100 + 5 * i
        dets = _boxes((x, 100, x + W, 100 + H), score=0.7 if i == 1 else 0.3)
        ids.append(track.update(dets, i / FPS).tracker_id.tolist())
    assert ids[0] == [] and ids[1:] == [[1]] * 8
    faint = Tracker(TrackOptions(tracker=tracker))
    faint.update(Detections.empty(), 0.0)
    assert all(len(faint.update(_boxes((100, 100, 180, 260), score=0.3), i / FPS)) == 0
               for i in range(1, 10))  # fmt: skip


@pytest.mark.parametrize("tracker", TRACKERS)
def test_an_object_scored_about_half_is_tracked(tracker: str) -> None:
    """A parked car the detector scores 0.5-0.55 in every frame is tracked (`new_track` 0.5,
    the `high` score from which a box leads the association)."""
    track = Tracker(TrackOptions(tracker=tracker))
    track.update(Detections.empty(), 0.0)
    ids = [track.update(_boxes((300, 200, 600, 340), score=0.5 + 0.05 * (i % 2)), i / FPS)
           for i in range(1, 10)]  # fmt: skip
    assert [d.tracker_id.tolist() for d in ids[1:]] == [[1]] * 8


@pytest.mark.parametrize("tracker", TRACKERS)
def test_a_box_nested_in_a_tracked_object_starts_no_track(tracker: str) -> None:
    """A person walking, tracked; the detector also gives, now and then, a confident box on
    half of them and one around them and the parked car beside them. Neither starts a track;
    a dog of the same score apart from both does."""
    track = Tracker(TrackOptions(tracker=tracker))
    seen: set[int] = set()
    for i in range(40):
        x = 100 + 4 * i
        person, half = (x, 100, x + W, 100 + H), (x + W / 2, 100, x + W, 100 + H)
        around = (x - 10, 90, x + W + 120, 100 + H)  # the person and the car next to them
        boxes = [(person, 0.9, 0)]
        if i % 3:
            boxes += [(half, 0.7, 0), (around, 0.7, 2)]
        if i >= 20:
            boxes.append(((900, 400, 980, 460), 0.7, 16))  # the dog
        dets = Detections(
            np.array([b for b, _, _ in boxes], np.float32),
            np.array([s for _, s, _ in boxes], np.float32),
            np.array([c for _, _, c in boxes], np.int64),
        )
        seen |= set(track.update(dets, i / FPS).tracker_id.tolist())
    assert seen == {1, 2}
