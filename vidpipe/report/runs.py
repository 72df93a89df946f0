"""What one run wrote, read back for a report: the detections JSON Lines of `vidpipe detect
--json` (a full pass, or the sampled frames of `--scan`) and, for a counted run, its
`--events` file.

`read_detections` keeps the boxes column by column (`Boxes`), a few numbers each, so that a
two-hour video's file (180k frames) fits in memory as arrays, not as 180k dicts. What the
page shows is derived from them: the intervals per class (`vidpipe.pipeline.scan.Intervals`,
the same builder `--scan --intervals` uses, fed each line as a sample), the objects per frame
per class and the tracks alive per frame, decimated to at most `points` points a series
(`decimate`: each bucket's maximum, so a one-frame peak is never lost).
"""

from __future__ import annotations

import itertools
import json
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from vidpipe.errors import InputError
from vidpipe.pipeline.scan import Interval, Intervals
from vidpipe.types import Detections


@dataclass
class Boxes:
    """Every box of a run, one array per field (row i of each is box i), and its frames.

    frame: `[B]` int64 row of the box's frame in `times` / `indexes`; class_ids `[B]` int64;
    scores `[B]` float32 0..1; xyxy `[B, 4]` float32 in displayed-frame pixels; track_ids
    `[B]` int64, -1 for an untracked box. times: `[F]` float64 seconds of each frame (NaN
    where the line had none); indexes: `[F]` int64 display indexes; pts: `[F]` int64 (-1:
    none). names: class id -> label, as the lines gave them.
    """

    frame: np.ndarray
    class_ids: np.ndarray
    scores: np.ndarray
    xyxy: np.ndarray
    track_ids: np.ndarray
    times: np.ndarray
    indexes: np.ndarray
    pts: np.ndarray
    names: dict[int, str] = field(default_factory=dict)

    @property
    def tracked(self) -> bool:
        return bool((self.track_ids >= 0).any())

    def of_frame(self, row: int) -> Detections:
        """The detections of frame row `row` (xyxy in displayed-frame pixels)."""
        lo, hi = np.searchsorted(self.frame, [row, row + 1])
        ids = self.track_ids[lo:hi]
        return Detections(
            self.xyxy[lo:hi], self.scores[lo:hi], self.class_ids[lo:hi],
            ids if (ids >= 0).all() and len(ids) else None,
        )  # fmt: skip


def _lines(path: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) of each non-empty line of a JSON Lines file."""
    try:
        handle = open(path, encoding="utf-8")  # noqa: SIM115 (closed by the with below)
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a directory") from None
    except OSError as err:
        raise InputError(f"{path}: cannot read: {err.strerror}") from None
    with handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except (json.JSONDecodeError, UnicodeDecodeError):
                raise InputError(f"{path}:{number}: not a JSON line") from None
            if not isinstance(record, dict):
                raise InputError(f"{path}:{number}: not a JSON object")
            yield number, record


HALF_MS = 0.0005  # a segment's name gives its start to the millisecond


def read_detections(path: str | os.PathLike[str],
                    span: tuple[str, float, float] | None = None) -> Boxes:  # fmt: skip
    """The boxes of a detections JSON Lines file (`DetectionsJsonl`'s lines; a live run's
    event lines are skipped). span: (clock, start, until), only the lines whose "time" or
    "wall_time" (the clock) is in [start, until), to the millisecond: a segment's. Raises
    InputError naming the line of a malformed one, and for a file with no frame line (in
    the span)."""
    path = os.fspath(path)
    frame, class_ids, scores, xyxy, track_ids = [], [], [], [], []
    times, indexes, pts_list, names = [], [], [], {}
    for number, record in _lines(path):
        if "event" in record:
            continue
        if span is not None:
            clock = record.get(span[0])
            if not isinstance(clock, int | float) or not (
                span[1] - HALF_MS <= clock < span[2] - HALF_MS
            ):
                continue
        try:
            row = len(times)
            time, pts = record.get("time"), record.get("pts")
            times.append(math.nan if time is None else float(time))
            indexes.append(int(record["index"]))
            pts_list.append(-1 if pts is None else int(pts))
            for det in record["detections"]:
                box = [float(v) for v in det["box"]]
                if len(box) != 4:
                    raise ValueError("a box has four numbers")
                frame.append(row)
                class_ids.append(int(det["class_id"]))
                scores.append(float(det["score"]))
                xyxy.append(box)
                track_ids.append(int(det.get("track_id", -1)))
                names.setdefault(class_ids[-1], str(det.get("label", class_ids[-1])))
        except (KeyError, TypeError, ValueError):
            raise InputError(
                f"{path}:{number}: not a line of `vidpipe detect --json` (index, time, "
                "detections with class_id, score, box)"
            ) from None
    if not times:
        where = "" if span is None else f" from {span[0]} {span[1]:.3f} to {span[2]:.3f}"
        raise InputError(
            f"{path}: no frames{where} (not the JSON Lines of `vidpipe detect --json`?)"
        )
    return Boxes(
        np.array(frame, np.int64), np.array(class_ids, np.int64),
        np.array(scores, np.float32), np.array(xyxy, np.float32).reshape(-1, 4),
        np.array(track_ids, np.int64), np.array(times, np.float64),
        np.array(indexes, np.int64), np.array(pts_list, np.int64), names,
    )  # fmt: skip


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
    for number, record in _lines(path):
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
