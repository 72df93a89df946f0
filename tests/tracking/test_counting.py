"""Line crossings and zone visits (vidpipe.tracking.counting) against the generated scene's
true crossings (computed from its trajectory formulas), and hand-made tracks."""

from __future__ import annotations

import numpy as np
import pytest
from scenes import scene

from vidpipe.tracking.counting import Counter, Trails
from vidpipe.tracking.options import TrackOptions
from vidpipe.tracking.tracker import Tracker
from vidpipe.types import Detections

# Persons 1 (x = 100 + 110 t, y 380) and 2 (x = 1180 - 110 t, y 400) are the only objects
# whose centres pass x = 640 between y 300 and 500, and enter x 500..800, y 300..500:
# 1 enters at t = 400/110, leaves at 700/110; 2 enters at 380/110, leaves at 680/110.
GATE = "gate=640,300,640,500"  # looking down the picture: its right ("in") is x < 640
DOCK = "dock=500,300,800,300,800,500,500,500"


def _track(box_x: list[float], times: list[float], tid: int = 1) -> list[Detections]:
    return [
        Detections(np.array([[x - 5, 95, x + 5, 105]], np.float32), np.array([0.9], np.float32),
                   np.array([0]), np.array([tid]))
        for x in box_x
    ]  # fmt: skip


@pytest.mark.parametrize("kind", ["crossing", "vfr", "skip"])
def test_counts_match_the_true_crossings(kind: str) -> None:
    options = TrackOptions(lines=(GATE,), zones=(DOCK,))
    sc = scene(kind)
    tracker = Tracker(options)
    counter = Counter(options.line_geometry(), options.zone_geometry(), options.lost_s)
    events = []
    for i, (t, dets) in enumerate(zip(sc.times, sc.detections, strict=True)):
        events += counter.update(tracker.update(dets, t), i, None, t)
    events += counter.finish()
    assert counter.totals["lines"]["gate"] == {"in": 1, "out": 1}
    zone = counter.totals["zones"]["dock"]
    assert (zone["entries"], zone["exits"]) == (2, 2)
    step = max(np.diff(sc.times))
    dwells = [e["dwell"] for e in events if e["event"] == "exit"]
    assert len(dwells) == 2 and zone["dwell_s"] == pytest.approx(sum(dwells), abs=1e-5)
    for dwell in dwells:
        assert abs(dwell - 300 / 110) <= 2 * step + 0.05
    assert zone["dwell_max_s"] == max(dwells)
    crossings = [e for e in events if e["event"] == "cross"]
    assert [e["direction"] for e in crossings] in (["in", "out"], ["out", "in"])
    assert all(abs(e["time"] - 1080 / 220) <= 2 * step + 0.2 for e in crossings)


def _events(counter: Counter, xs: list[float], step: float = 0.1) -> list[dict]:
    times = [i * step for i in range(len(xs))]
    dets = _track(xs, times)
    found = [e for t, d in zip(times, dets, strict=True) for e in counter.update(d, 0, None, t)]
    return found + counter.finish()


def test_line_sides_jitter_and_ends() -> None:
    line = TrackOptions(lines=("v=50,0,50,200",)).line_geometry()
    # From the line's right (x < 50, looking down it) to its left: "out". Jitter across it
    # and a stop on it count once, when the track has stayed across for SETTLE_S, dated by
    # its first frame there.
    events = _events(Counter(line, (), 1.0), [40, 45, 55, 50, 45, 55, 60, 65, 70])
    assert [(e["direction"], round(e["time"], 2)) for e in events] == [("out", 0.5)]
    # Back again at the end of the video: counted when the track ends there.
    events = _events(Counter(line, (), 1.0), [40, 45, 55, 60, 65, 45])
    assert [e["direction"] for e in events] == ["out", "in"]
    # Passing beyond the segment's end does not count.
    short = TrackOptions(lines=("50,0,50,50",)).line_geometry()
    assert _events(Counter(short, (), 1.0), [40, 45, 55, 60, 65, 70]) == []


def test_a_lost_track_leaves_its_zone_at_its_last_sighting() -> None:
    options = TrackOptions(zones=("z=0,0,100,0,100,200,0,200",))
    counter = Counter((), options.zone_geometry(), lost_s=0.5)
    events = []
    for t, d in zip([0.0, 0.1, 0.2], _track([20, 30, 40], [0.0, 0.1, 0.2]), strict=True):
        events += counter.update(d, int(t * 10), None, t)
    events += counter.update(Detections.empty().__class__(
        np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int64),
        np.zeros(0, np.int64)), 9, None, 0.9)  # fmt: skip
    assert [e["event"] for e in events] == ["enter", "exit"]
    assert events[1]["time"] == 0.2 and events[1]["dwell"] == pytest.approx(0.2)
    assert counter.finish() == []


def test_trails_are_bounded() -> None:
    trails = Trails(length=3, lost_s=0.5)
    for i, d in enumerate(_track([10, 20, 30, 40, 50], [0] * 5)):
        out = trails.update(d, i / 10)
    assert out[0][2][:, 0].tolist() == [30.0, 40.0, 50.0]
    other = _track([0], [0], tid=2)[0]
    trails.update(other, 2.0)  # track 1 not seen for 1.6 s: forgotten
    assert list(trails._paths) == [2]


@pytest.mark.parametrize(("anchor", "crossing_s"), [("center", 0.6), ("bottom", 0.4)])
def test_anchor_decides_which_point_crosses(anchor: str, crossing_s: float) -> None:
    """A 40 px tall box moving down 100 px/s across y = 100 (into the line's right side, as
    seen looking along it: "in"): its bottom edge crosses 0.2 s before its centre."""
    line = TrackOptions(lines=("floor=0,100,200,100",)).line_geometry()
    counter = Counter(line, (), lost_s=1.0, anchor=anchor)
    events = []
    for i in range(20):
        t, top = i / 10, 20 + 100 * i / 10 + 0.5
        box = Detections(np.array([[50, top, 60, top + 40]], np.float32),
                         np.array([0.9], np.float32), np.array([0]), np.array([1]))  # fmt: skip
        events += counter.update(box, i, None, t)
    assert [(e["direction"], e["time"]) for e in events] == [("in", pytest.approx(crossing_s))]
