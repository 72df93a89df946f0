"""What one run wrote, as a report shows it: from its boxes (`vidpipe.formats.run.Boxes`)
and, for a counted run, its `--events` file (`read_events`). What the page shows is derived
from them: the intervals per class (`vidpipe.pipeline.scan.Intervals`,
the same builder `--scan --intervals` uses, fed each line as a sample), the objects per frame
per class and the tracks alive per frame, decimated to at most `points` points a series
(`decimate`: each bucket's maximum, so a one-frame peak is never lost).
"""

from __future__ import annotations

import itertools
import math
import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from vidpipe.errors import InputError
from vidpipe.formats.run import Boxes, lines_of
from vidpipe.pipeline.scan import Interval, Intervals


@dataclass(frozen=True)
class _Sample:
    """What `Intervals.update` reads of a frame."""

    index: int
    pts: int | None
    time: float | None


def intervals(boxes: Boxes) -> list[Interval]:
    """The intervals per class of the run's frames, each line a sample, in time order."""
    names = [boxes.names.get(c, str(c)) for c in range(max(boxes.names, default=-1) + 1)]
    builder, found = Intervals(names), []
    for row in range(len(boxes.times)):
        time = None if math.isnan(boxes.times[row]) else float(boxes.times[row])
        pts = None if boxes.pts[row] < 0 else int(boxes.pts[row])
        sample = _Sample(int(boxes.indexes[row]), pts, time)
        found += builder.update(sample, boxes.of_frame(row))  # type: ignore[arg-type]
    found += builder.finish()
    return sorted(found, key=lambda i: (i.start_index, i.class_id))


def per_frame(boxes: Boxes) -> dict[int, np.ndarray]:
    """class id -> `[F]` int64 boxes of that class in each frame."""
    return {
        int(c): np.bincount(boxes.frame[boxes.class_ids == c], minlength=len(boxes.times))
        for c in np.unique(boxes.class_ids)
    }


def tracks_alive(boxes: Boxes) -> np.ndarray:
    """`[F]` int64: the tracks alive in each frame (seen at or before it and at or after it)."""
    alive = np.zeros(len(boxes.times) + 1, np.int64)
    tracked = boxes.track_ids >= 0
    for track in np.unique(boxes.track_ids[tracked]):
        rows = boxes.frame[boxes.track_ids == track]
        alive[rows.min()] += 1
        alive[rows.max() + 1] -= 1
    return np.cumsum(alive)[:-1]


def decimate(x: np.ndarray, y: np.ndarray, points: int) -> tuple[np.ndarray, np.ndarray]:
    """At most `points` (x, y) pairs: y's maximum over equal runs of samples, at the x of
    that maximum (x `[N]` in order, y `[N]`)."""
    if len(x) <= points:
        return x, y
    edges = np.linspace(0, len(x), points + 1).astype(np.int64)
    at = np.array([lo + int(np.argmax(y[lo:hi])) for lo, hi in itertools.pairwise(edges)])
    return x[at], y[at]


@dataclass(frozen=True)
class Counts:
    """A counted run's events: per line and direction, per zone entries and exits, each a
    list of event times in seconds (in order), the totals line's figures, and per zone the
    time each exit had spent inside."""

    lines: dict[str, dict[str, list[float]]]
    zones: dict[str, dict[str, list[float]]]
    totals: dict[str, Any]
    dwell: dict[str, list[float]] = field(default_factory=dict)  # zone -> seconds, per exit

    def between(self, start: float, end: float) -> Counts:
        """The events dated from `start` to `end` seconds, both included (a segment's)."""

        def keep(times: list[float]) -> list[float]:
            return [t for t in times if start <= t <= end]

        dwell = {}
        for zone, ways in self.zones.items():
            kept = [d for t, d in zip(ways["exit"], self.dwell.get(zone, []), strict=False)
                    if start <= t <= end]  # fmt: skip
            dwell[zone] = kept
        return Counts(
            {n: {d: keep(t) for d, t in ds.items()} for n, ds in self.lines.items()},
            {n: {d: keep(t) for d, t in ds.items()} for n, ds in self.zones.items()},
            self.totals, dwell,
        )  # fmt: skip


def read_events(path: str | os.PathLike[str]) -> Counts:
    """The events file of `vidpipe detect --events` (`EventsJsonl`): crossings, entries and
    exits, then the totals. Raises InputError for a file that is not one."""
    path = os.fspath(path)
    lines: dict[str, dict[str, list[float]]] = {}
    zones: dict[str, dict[str, list[float]]] = {}
    dwell: dict[str, list[float]] = {}
    totals: dict[str, Any] | None = None
    for number, record in lines_of(path):
        kind = record.get("event")
        try:
            if kind == "totals":
                totals = {"lines": dict(record["lines"]), "zones": dict(record["zones"])}
            elif kind == "cross":
                times = lines.setdefault(str(record["line"]), {"in": [], "out": []})
                times[str(record["direction"])].append(float(record["time"]))
            elif kind in ("enter", "exit"):
                times = zones.setdefault(str(record["zone"]), {"enter": [], "exit": []})
                times[kind].append(float(record["time"]))
                if kind == "exit":
                    dwell.setdefault(str(record["zone"]), []).append(float(record["dwell"]))
            else:
                raise ValueError(kind)
        except (KeyError, TypeError, ValueError):
            message = f"{path}:{number}: not an event of `vidpipe detect --events`"
            raise InputError(message) from None
    if totals is None:
        raise InputError(f"{path}: no totals line (not a finished `vidpipe detect --events`)")
    return Counts(lines, zones, totals, dwell)
