"""What tracks do over time: crossings of counting lines, entries, exits and dwell time in
zones (`Counter`), and the recent path of each track (`Trails`), from tracked `Detections`.

A track is where its box's anchor is: its centre, or the middle of its bottom edge (`Trails`:
its centre). Both keep a little state per live track and forget a track `lost_s` seconds after
its last detection (the tracker's buffer), so memory stays flat however long the video.
Events are plain dicts, ready for JSON Lines:

    {"event": "cross", "line": "gate", "direction": "in", "track_id": 3, "class_id": 2,
     "index": 120, "pts": 61440, "time": 4.0}
    {"event": "enter" | "exit", "zone": "dock", "track_id": 3, "class_id": 2, "index", "pts",
     "time", "dwell": 2.5 (exit only, seconds inside)}

A change counts once it has held SETTLE_S (a box jittering on an edge is one event, not
many), dated by the frame where it began; a track that disappears counts its exits only when it
is forgotten. So events are known out of time order, and `Counter` holds each until no earlier
one can still come (`Counter.horizon`), then hands them out in time order.
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from vidpipe.tracking.options import Line, Zone
from vidpipe.types import Detections


def anchors(dets: Detections, anchor: str = "center") -> np.ndarray:
    """`[N, 2]` float64 points (x, y) in displayed pixels that stand for the boxes: their
    centres, or with anchor "bottom" the middle of their bottom edges (where a person or a
    car meets the ground)."""
    xyxy = dets.xyxy.astype(np.float64)
    points = (xyxy[:, :2] + xyxy[:, 2:]) / 2
    if anchor == "bottom":
        points[:, 1] = xyxy[:, 3]
    return points


def side(line: Line, point: tuple[float, float]) -> float:
    """> 0 right of the line (its "in" side), < 0 left, 0 on it (image coordinates)."""
    x1, y1, x2, y2 = line.xyxy
    return (x2 - x1) * (point[1] - y1) - (y2 - y1) * (point[0] - x1)


def _within(line: Line, a: tuple[float, float], b: tuple[float, float]) -> bool:
    """Whether the path a -> b (ends on either side of the line) passes between its ends."""
    x1, y1, x2, y2 = line.xyxy
    d = (x2 - x1, y2 - y1)
    # The path's sides of the line's two ends must differ (or one end lies on the path).
    s1 = (b[0] - a[0]) * (y1 - a[1]) - (b[1] - a[1]) * (x1 - a[0])
    s2 = (b[0] - a[0]) * (y2 - a[1]) - (b[1] - a[1]) * (x2 - a[0])
    return d != (0, 0) and s1 * s2 <= 0


def inside(zone: Zone, point: tuple[float, float]) -> bool:
    """Whether a point lies inside the polygon (even-odd rule)."""
    x, y = point
    result = False
    pts = zone.points
    for (x0, y0), (x1, y1) in zip(pts, pts[1:] + pts[:1], strict=True):
        if (y0 > y) != (y1 > y) and x < x0 + (y - y0) * (x1 - x0) / (y1 - y0):
            result = not result
    return result


SETTLE_S = 0.2  # a track must stay on a line's other side or in/out of a zone this long


@dataclass
class _Flip:
    """A track's debounced state on one line or zone: `value` is the side (+1 / -1) or
    inside (1) / outside (0) it settled on; a different observation starts `pending`, which
    becomes the value once it has held SETTLE_S (events are dated by its first sighting)."""

    value: int
    point: tuple[float, float]  # last centre seen with `value`
    pending: int | None = None
    since: dict[str, Any] = field(default_factory=dict)  # index, pts, time of its start
    since_point: tuple[float, float] = (0.0, 0.0)


@dataclass
class _Seen:
    """One live track: when it was last seen, its lines' and zones' states."""

    where: dict[str, Any]  # track_id, class_id, index, pts, time of its last sighting
    flips: dict[str, _Flip] = field(default_factory=dict)  # by line or zone name
    entered: dict[str, float] = field(default_factory=dict)  # zone -> time entered


class Counter:
    """Line crossings and zone visits of tracked detections, frame after frame.

    lines, zones: the geometry (`TrackOptions.line_geometry()` / `zone_geometry()`).
    lost_s: seconds after its last detection when a track is gone (leaving its zones).
    anchor: the point of a box that crosses and enters: "center" or "bottom" (`anchors`).
    A crossing, entry or exit counts once the track has stayed on the new side for SETTLE_S
    (a box jittering on a zone's edge is not a stream of visits), dated by the frame where it
    first was there; a track that ends there first counts too. Events come out in time order
    (then by track id, line / zone order, settling order): each is held until no earlier one
    can still come (`horizon`), usually from the frame where it settles, at most SETTLE_S +
    lost_s after its time (behind a lost track's exit) and a frame, so only the events of that
    last stretch of time are held. `totals` holds the counts so far, each counted on the frame
    where it settles: {"lines": {name: {"in": n, "out": n}}, "zones": {name: {"entries": n,
    "exits": n, "dwell_s": total seconds inside, "dwell_max_s": the longest visit}}}
    (per-track dwell is in the exit events: the totals do not grow with the number of tracks).
    """

    def __init__(
        self, lines: Sequence[Line], zones: Sequence[Zone], lost_s: float, anchor: str = "center"
    ) -> None:
        self.lines, self.zones = tuple(lines), tuple(zones)
        self.lost_s, self.anchor = lost_s, anchor
        self._tracks: dict[int, _Seen] = {}
        self._rank = {g.name: i for i, g in enumerate((*self.lines, *self.zones))}
        self._held: list[tuple[float, int, int, int, dict[str, Any]]] = []  # a heap
        self._seq = itertools.count()
        self._now: float | None = None
        self.totals: dict[str, dict[str, Any]] = {
            "lines": {line.name: {"in": 0, "out": 0} for line in self.lines},
            "zones": {
                z.name: {"entries": 0, "exits": 0, "dwell_s": 0.0, "dwell_max_s": 0.0}
                for z in self.zones
            },
        }

    def update(
        self, dets: Detections, index: int, pts: int | None, time: float
    ) -> list[dict[str, Any]]:
        """The events, in time order, that no event of this or a later frame can precede,
        after counting one frame of tracked detections (`dets.tracker_id` set)."""
        if dets.tracker_id is None:
            raise ValueError("Counter needs tracked detections (tracker_id set)")
        self._now = time
        self._hold(self._settle(dets, index, pts, time))
        return self._release(self.horizon())

    def finish(self) -> list[dict[str, Any]]:
        """The events still held and what the tracks still alive did last (exits at their
        last sighting), in time order."""
        self._hold(self._expire(None))
        return self._release(None)

    def horizon(self) -> float:
        """The earliest time an event not yet settled can carry: the start of a change still
        settling, the last sighting of a track inside a zone (its exit should it be lost), or
        the last frame's time (a change beginning at a later frame); inf before the first."""
        times = [math.inf if self._now is None else self._now]
        for seen in self._tracks.values():
            times += [f.since["time"] for f in seen.flips.values() if f.pending is not None]
            if seen.entered:
                times.append(seen.where["time"])
        return min(times)

    def occupancy(self) -> dict[str, int]:
        """Zone name -> the tracks inside it now (entered, not yet exited or forgotten)."""
        inside = {z.name: 0 for z in self.zones}
        for seen in self._tracks.values():
            for zone in seen.entered:
                inside[zone] += 1
        return inside

    def captions(self) -> dict[str, str]:
        """Line or zone name -> its name and running totals as text, for drawing:
        "gate: in 3, out 1", "dock: entries 2, exits 1, inside 1" (inside: `occupancy`)."""
        out = {
            name: f"{name}: in {c['in']}, out {c['out']}"
            for name, c in self.totals["lines"].items()
        }
        inside = self.occupancy()
        for name, z in self.totals["zones"].items():
            out[name] = f"{name}: entries {z['entries']}, exits {z['exits']}, inside {inside[name]}"
        return out

    def _hold(self, events: list[dict[str, Any]]) -> None:
        for event in events:
            geo = event["line"] if "line" in event else event["zone"]
            key = (event["time"], event["track_id"], self._rank[geo], next(self._seq))
            heapq.heappush(self._held, (*key, event))

    def _release(self, before: float | None) -> list[dict[str, Any]]:
        """The held events dated before `before` (all: None), oldest first."""
        out = []
        while self._held and (before is None or self._held[0][0] < before):
            out.append(heapq.heappop(self._held)[-1])
        return out

    def _settle(
        self, dets: Detections, index: int, pts: int | None, time: float
    ) -> list[dict[str, Any]]:
        """The events that settle with this frame, in the order they settle."""
        assert dets.tracker_id is not None
        events = self._expire(time)
        for tid, cid, centre in zip(
            dets.tracker_id.tolist(),
            dets.class_ids.tolist(),
            anchors(dets, self.anchor).tolist(),
            strict=True,
        ):
            where = {"track_id": tid, "class_id": cid, "index": index, "pts": pts, "time": time}
            seen = self._tracks.setdefault(tid, _Seen(where))
            seen.where = where
            point = (centre[0], centre[1])
            for line in self.lines:
                s = side(line, point)
                if s != 0:
                    events += self._observe(seen, line, 1 if s > 0 else -1, point, final=False)
            for zone in self.zones:
                events += self._observe(seen, zone, int(inside(zone, point)), point, final=False)
        return events

    def _observe(
        self, seen: _Seen, geo: Line | Zone, value: int, point: tuple[float, float], final: bool
    ) -> list[dict[str, Any]]:
        flip = seen.flips.get(geo.name)
        if flip is None:  # first sighting: a side of a line, or outside a zone to start from
            start = value if isinstance(geo, Line) else 0
            flip = seen.flips[geo.name] = _Flip(start, point)
        if value == flip.value:
            flip.point, flip.pending = point, None
            return []
        if flip.pending != value:
            flip.pending, flip.since, flip.since_point = value, dict(seen.where), point
        if not final and seen.where["time"] - flip.since["time"] < SETTLE_S:
            return []
        before, flip.value, flip.point, flip.pending = flip.point, value, point, None
        if isinstance(geo, Line):
            return self._crossed(geo, value, before, flip)
        return self._visited(geo.name, value, seen, flip.since)

    def _crossed(
        self, line: Line, value: int, before: tuple[float, float], flip: _Flip
    ) -> list[dict[str, Any]]:
        if not _within(line, before, flip.since_point):
            return []  # went round the line's end
        direction = "in" if value > 0 else "out"
        self.totals["lines"][line.name][direction] += 1
        return [{"event": "cross", "line": line.name, "direction": direction, **flip.since}]

    def _visited(
        self, zone: str, value: int, seen: _Seen, since: dict[str, Any]
    ) -> list[dict[str, Any]]:
        totals = self.totals["zones"][zone]
        if value:
            seen.entered[zone] = since["time"]
            totals["entries"] += 1
            return [{"event": "enter", "zone": zone, **since}]
        dwell = round(since["time"] - seen.entered.pop(zone), 6)
        totals["exits"] += 1
        totals["dwell_s"] = round(totals["dwell_s"] + dwell, 6)
        totals["dwell_max_s"] = max(totals["dwell_max_s"], dwell)
        return [{"event": "exit", "zone": zone, **since, "dwell": dwell}]

    def _expire(self, now: float | None) -> list[dict[str, Any]]:
        """Forget the tracks not seen for lost_s (all of them when now is None): a change
        they were settling into counts, and a forgotten track leaves its zones at its last
        sighting."""
        events = []
        for tid in sorted(self._tracks):
            seen = self._tracks[tid]
            if now is not None and now - seen.where["time"] <= self.lost_s:
                continue
            for geo in (*self.lines, *self.zones):
                flip = seen.flips.get(geo.name)
                if flip is not None and flip.pending is not None:
                    events += self._observe(seen, geo, flip.pending, flip.since_point, final=True)
            for zone in list(seen.entered):
                events += self._visited(zone, 0, seen, seen.where)
            del self._tracks[tid]
        return events


class Trails:
    """The last `length` box centres of each live track, for drawing.

    >>> trails = Trails(length=3, lost_s=1.0)
    >>> box = Detections(np.array([[0, 0, 10, 10]], np.float32), np.ones(1, np.float32),
    ...                  np.zeros(1, np.int64), np.array([7]))
    >>> [(tid, cid, pts.tolist()) for tid, cid, pts in trails.update(box, 0.0)]
    [(7, 0, [[5.0, 5.0]])]
    """

    def __init__(self, length: int, lost_s: float) -> None:
        self.length, self.lost_s = length, lost_s
        self._paths: dict[int, tuple[float, int, deque[tuple[float, float]]]] = {}

    def update(self, dets: Detections, time: float) -> list[tuple[int, int, np.ndarray]]:
        """(track id, class id, `[K, 2]` float64 centres oldest first) of the tracks in
        `dets`, after adding this frame's centres."""
        if dets.tracker_id is None:
            raise ValueError("Trails needs tracked detections (tracker_id set)")
        for tid in [t for t, (seen, _, _) in self._paths.items() if time - seen > self.lost_s]:
            del self._paths[tid]
        out = []
        for tid, cid, centre in zip(
            dets.tracker_id.tolist(), dets.class_ids.tolist(), anchors(dets).tolist(), strict=True
        ):
            path = self._paths.get(tid, (time, cid, deque(maxlen=self.length)))[2]
            path.append((centre[0], centre[1]))
            self._paths[tid] = (time, cid, path)
            out.append((tid, cid, np.array(path, np.float64)))
        return out
