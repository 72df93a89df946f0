"""Line crossings and zone visits (vidpipe.tracking.counting) against the generated scene's
true crossings (computed from its trajectory formulas), and hand-made tracks."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from scenes import scene

import vidpipe as vp
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


def _frames(tracks: dict[int, dict[float, float]], until: float) -> list[tuple[float, Detections]]:
    """(time, detections) every 0.1 s up to `until`: track id -> {time: box centre x}."""
    out = []
    for i in range(round(until * 10) + 1):
        t = round(i / 10, 1)
        seen = [(tid, path[t]) for tid, path in sorted(tracks.items()) if t in path]
        xyxy = np.array([[x - 5, 95, x + 5, 105] for _, x in seen], np.float32).reshape(-1, 4)
        out.append((t, Detections(xyxy, np.full(len(seen), 0.9, np.float32),
                                  np.zeros(len(seen), np.int64),
                                  np.array([tid for tid, _ in seen], np.int64))))  # fmt: skip
    return out


def test_events_come_out_in_time_order_not_settling_order() -> None:
    """Track 1 starts across the line at 1.0 s, then is hidden until 1.5 s: its crossing
    settles only then. Track 2 starts across at 1.1 s and settles at 1.3 s, first. Track 3 sits
    in the zone and is lost after 0.3 s: its exit, dated 0.3 s, settles when it is forgotten
    (1.4 s). Each event is held until no earlier one can come, then handed out in time order."""
    before = {round(i / 10, 1): 40.0 for i in range(10)}
    tracks = {
        1: {**before, 1.0: 60.0, 1.5: 65.0, 1.6: 70.0},
        2: {**before, 1.0: 40.0, **{round(1.1 + i / 10, 1): 60.0 for i in range(6)}},
        3: {0.0: 150.0, 0.1: 150.0, 0.2: 150.0, 0.3: 150.0},
    }
    options = TrackOptions(lines=("v=50,0,50,200",), zones=("z=120,0,200,0,200,200,120,200",))
    counter = Counter(options.line_geometry(), options.zone_geometry(), lost_s=1.0)
    out = []
    for t, dets in _frames(tracks, 1.6):
        out += [(t, e) for e in counter.update(dets, round(t * 10), None, t)]
    assert counter.finish() == []
    assert [(e["event"], e["track_id"], e["time"]) for _, e in out] == [
        ("enter", 3, 0.0), ("exit", 3, 0.3), ("cross", 1, 1.0), ("cross", 2, 1.1)
    ]  # fmt: skip
    released = [t for t, _ in out]
    assert released == [0.2, 1.4, 1.5, 1.5]  # as soon as nothing earlier can come
    assert counter.totals["lines"]["v"] == {"in": 0, "out": 2}


def test_random_tracks_come_out_in_time_order() -> None:
    """Twelve tracks wandering across a line and through a zone, hidden now and then for up to
    1 s (lost after 0.3 s): their events settle out of time order (15 times with this seed),
    and `update` and `finish` hand them out in time order all the same, and the totals count
    what was handed out."""
    rng = np.random.default_rng(4)
    options = TrackOptions(lines=("v=50,0,50,200",), zones=("z=30,50,80,50,80,150,30,150",))
    counter = Counter(options.line_geometry(), options.zone_geometry(), lost_s=0.3)
    xs, hidden = rng.uniform(0, 100, 12), np.zeros(12)  # hidden: seconds still to stay hidden
    events = []
    for i in range(300):
        xs += rng.normal(0, 5, 12)
        hide = np.where(rng.random(12) < 0.03, rng.uniform(0.1, 1.0, 12), 0)
        hidden = np.where(hidden > 0, hidden - 1 / 30, hide)
        seen = np.flatnonzero(hidden <= 0)
        box = np.array([[x - 2, 98, x + 2, 102] for x in xs[seen]], np.float32).reshape(-1, 4)
        dets = Detections(box, np.full(len(seen), 0.9, np.float32), np.zeros(len(seen), np.int64),
                          seen + 1)  # fmt: skip
        events += counter.update(dets, i, None, i / 30)
    events += counter.finish()
    times = [e["time"] for e in events]
    assert times == sorted(times) and len(events) > 80
    crossings = [e["direction"] for e in events if e["event"] == "cross"]
    line = counter.totals["lines"]["v"]
    assert (line["in"], line["out"]) == (crossings.count("in"), crossings.count("out"))
    zone = counter.totals["zones"]["z"]
    kinds = [e["event"] for e in events]
    assert zone["entries"] == kinds.count("enter") == zone["exits"] == kinds.count("exit")


# --- end to end: detect_file with a scripted detector ----------------------------------------

FPS, CLIP_WH = 25, (320, 240)
GATE_E2E = "gate=200,80,200,230"  # looking down it, its right ("in") is x < 200
DOCK_E2E = "dock=20,20,120,20,120,100,20,100"


def _centre(index: int) -> dict[str, tuple[float, float]]:
    """Object -> box centre at a frame (25 fps, 40 frames). a: in the dock, frames 0-7, then
    gone (lost at 0.5 s: its exit, dated 0.28 s, settles at 0.8 s). b: leftwards across the
    gate at 0.4 s (settles at 0.6 s, before a's exit). c: into the dock at 1.2 s, still there
    at the end. d: rightwards across the gate at 1.52 s, too late to settle: counted at the end."""
    t = index / FPS
    out = {"b": (280 - 200 * t, 160.0)}
    if index <= 7:
        out["a"] = (70.0, 60.0)
    if index >= 20:
        out["c"] = (70.0, 180 - 200 * (t - 0.8))
    if index >= 30:
        out["d"] = (140 + 200 * (t - 1.2), 200.0)
    return out


class _Scripted:
    """A FrameDetector whose boxes (20 x 20, score 0.9) follow `_centre`."""

    names = ("thing",)
    batch = 4

    def prepare(self, frames: list[vp.Frame]) -> list[int]:
        return [f.index for f in frames]

    def infer(self, indexes: list[int]) -> list[Detections]:
        out = []
        for index in indexes:
            boxes = [(x - 10, y - 10, x + 10, y + 10) for x, y in _centre(index).values()]
            n = len(boxes)
            out.append(Detections(np.array(boxes, np.float32).reshape(n, 4),
                                  np.full(n, 0.9, np.float32), np.zeros(n, np.int64)))  # fmt: skip
        return out


@pytest.fixture(scope="module")
def plain_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """40 frames of flat grey, 25 fps, H.264 (the scripted detector needs no picture)."""
    path = tmp_path_factory.mktemp("count") / "grey.mp4"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = *CLIP_WH, "yuv420p"
        for i in range(40):
            frame = av.VideoFrame.from_ndarray(np.full((*CLIP_WH[::-1], 3), 96, np.uint8), "rgb24")
            frame.pts, frame.time_base = i, Fraction(1, FPS)
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path


def test_events_file_is_in_time_order_and_video_shows_the_counts(
    plain_clip: Path, tmp_path: Path
) -> None:
    """`detect_file`: the events file reads in time order (the lost track's exit comes before
    the crossing that settled first), the events held at the end are written before the
    totals, and those match the events; the video shows the line's running totals."""
    events, video = tmp_path / "events.jsonl", tmp_path / "out.mp4"
    options = TrackOptions(lines=(GATE_E2E,), zones=(DOCK_E2E,), lost_s=0.5)
    result = vp.detect_file(plain_clip, events=events, video=video, track=options,
                            detector=_Scripted())  # fmt: skip
    rows = [json.loads(line) for line in events.open()]
    assert rows[-1]["event"] == "totals" and rows[-1]["lines"] == result.counts["lines"]
    found = rows[:-1]
    times = [r["time"] for r in found]
    assert times == sorted(times)
    assert [(r["event"], r.get("direction")) for r in found] == [
        ("enter", None), ("exit", None), ("cross", "in"), ("enter", None), ("cross", "out"),
        ("exit", None),
    ]  # fmt: skip
    assert times == pytest.approx([0.0, 0.28, 0.4, 1.2, 1.52, 1.56], abs=0.05)
    assert rows[-1]["lines"]["gate"] == {"in": 1, "out": 1}
    dock = rows[-1]["zones"]["dock"]
    assert (dock["entries"], dock["exits"]) == (2, 2)
    # The gate's caption: "in 0" until b's crossing settles (0.6 s), "in 1" after; d's "out"
    # counts only at the end, after the last frame. Its patch lies right of the gate.
    with av.open(str(video)) as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    assert len(frames) == 40
    amber = np.abs(frames[-1].astype(int) - (255, 214, 0)).max(axis=-1) < 40
    assert amber[82:228, 199:201].mean() > 0.9  # the gate itself (2 px wide)
    ys, xs = np.nonzero(amber[:, 204:])
    patch = (slice(ys.min() + 2, ys.max() - 1), slice(204 + xs.min() + 2, 204 + xs.max() - 1))
    diff = np.abs(frames[-1][patch].astype(int) - frames[10][patch]).max(axis=-1)
    assert diff.max() > 100  # "in 0" -> "in 1"
    assert np.abs(frames[20][patch].astype(int) - frames[-1][patch]).max() < 60  # "in 1" both
