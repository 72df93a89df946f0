"""`TrackOptions`: which tracker a run uses, its thresholds, and the counting lines and zones,
defined and validated once for `vidpipe detect --track`, `vidpipe batch` and Python callers.

Plain values only (strings, numbers, tuples): it imports neither numpy nor scipy and
round-trips through JSON (`to_dict` / `from_dict`, for the batch ledger). Lines and zones are
given as text the way the CLI takes them and parsed here into `Line` / `Zone` geometry.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from vidpipe.errors import InputError

TRACKERS = ("bytetrack", "botsort", "ocsort", "sort")
ANCHORS = ("center", "bottom")  # the point of a box that lines and zones count
# Detector score threshold of a tracked run unless --conf is given: the BYTE association
# (bytetrack, botsort, ocsort) recovers occluded objects from low-score boxes, so a tracked run
# keeps boxes down to this score (as Ultralytics' `track` does); the tracker's own `high`
# threshold decides which of them may start or lead a track.
TRACK_CONF = 0.1


@dataclass(frozen=True)
class Line:
    """A counting line from (x1, y1) to (x2, y2) in displayed-frame pixels. A track's box
    centre moving from the line's left to its right (as seen looking from (x1, y1) towards
    (x2, y2) on the picture, y pointing down) crosses "in"; the other way "out"."""

    name: str
    xyxy: tuple[float, float, float, float]


@dataclass(frozen=True)
class Zone:
    """A polygon zone, vertices (x, y) in displayed-frame pixels, in order."""

    name: str
    points: tuple[tuple[float, float], ...]


@dataclass(frozen=True)
class TrackOptions:
    """A tracked run: the tracker, its thresholds, and what is counted.

    tracker: "bytetrack" (default), "botsort", "ocsort" or "sort" (see `vidpipe.tracking`).
    high: score from which a detection is "high" (leads the first association; below it a
        box only extends an existing track, bytetrack/botsort/ocsort). new_track: score a
        detection needs to start a track (0.5, the `high` boxes: ByteTrack's reference asks
        0.1 more, which leaves objects a real detector scores about 0.5 untracked). lost_s:
        seconds a track is kept without a detection before it ends (its id is never reused).
        min_hits: detections in a row before a new track gets its id (the first frame of a
        run starts tracks at once).
    trails: draw the last N box centres of each track (0: none).
    lines: counting lines, "x1,y1,x2,y2" or "name=x1,y1,x2,y2" (named line1, line2, ... in
        order otherwise). zones: polygons, "x1,y1,x2,y2,x3,y3,..." or "name=...".
    anchor: the point of a box that crosses lines and enters zones: "center", or "bottom"
        (the middle of its bottom edge: where people and vehicles meet the ground).
    merge_iou: boxes of different classes overlapping by at least this IoU are taken as one
        object (one track, one reported box: the best-scoring; the other classes vote for
        its class); above 1, never.
    Raises InputError naming the bad option.
    """

    tracker: str = "bytetrack"
    high: float = 0.5
    new_track: float = 0.5
    lost_s: float = 2.0
    min_hits: int = 2
    trails: int = 0
    lines: tuple[str, ...] = ()
    zones: tuple[str, ...] = ()
    anchor: str = "center"
    merge_iou: float = 0.7

    def __post_init__(self) -> None:
        for name in ("lines", "zones"):
            value = getattr(self, name)
            object.__setattr__(self, name, (value,) if isinstance(value, str) else tuple(value))
        _check(self)

    def line_geometry(self) -> tuple[Line, ...]:
        """The counting lines, parsed."""
        return tuple(_line(spec, i) for i, spec in enumerate(self.lines, 1))

    def zone_geometry(self) -> tuple[Zone, ...]:
        """The zones, parsed."""
        return tuple(_zone(spec, i) for i, spec in enumerate(self.zones, 1))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready values (lines and zones as lists)."""
        values = dataclasses.asdict(self)
        values["lines"], values["zones"] = list(self.lines), list(self.zones)
        return values

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> TrackOptions:
        """Options from `values` (None means the default); InputError names an unknown key."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise InputError(f"unknown track option {', '.join(unknown)}")
        return cls(**{k: v for k, v in values.items() if v is not None})


def tracking_of(
    tracker: str | None,
    *,
    lines: Sequence[str] = (),
    zones: Sequence[str] = (),
    trails: int = 0,
    **fields: Any,
) -> TrackOptions | None:
    """The `TrackOptions` a run's options ask for (`vidpipe detect` and `vidpipe batch` both
    build theirs here): None for an untracked run; counting lines or zones track with the
    default tracker. fields: the other TrackOptions fields, None meaning the default.
    InputError for --trails without tracking, or a bad option."""
    if tracker is None and not lines and not zones:
        if trails:
            raise InputError("--trails needs --track")
        return None
    given = {k: v for k, v in fields.items() if v is not None}
    return TrackOptions(tracker=tracker or TrackOptions().tracker, lines=tuple(lines),
                        zones=tuple(zones), trails=trails, **given)  # fmt: skip


def check_tracked_outputs(track: TrackOptions | None, *, mot: bool, events: bool) -> None:
    """InputError for a tracking output asked for without what it needs: MOT results and
    events need tracking, events a counting line or zone."""
    if track is None and (mot or events):
        raise InputError(f"{'--mot' if mot else '--events'} needs --track")
    if events and not (track is not None and (track.lines or track.zones)):
        raise InputError("--events needs a --count-line or a --zone")


def detect_conf(conf: float | None, track: TrackOptions | None, default: float) -> float:
    """The detector's score threshold: `conf` when given, else TRACK_CONF for a tracked run
    and `default` (DetectOptions') otherwise."""
    if conf is not None:
        return conf
    return TRACK_CONF if track is not None else default


def _check(o: TrackOptions) -> None:
    if o.tracker not in TRACKERS:
        raise InputError(f"--track must be one of {', '.join(TRACKERS)}, not {o.tracker!r}")
    if isinstance(o.merge_iou, bool) or not isinstance(o.merge_iou, (int, float)):
        raise InputError(f"merge_iou must be a number, got {o.merge_iou!r}")
    if not 0 < o.merge_iou < math.inf:
        raise InputError(f"merge_iou must be > 0, got {o.merge_iou!r}")
    for flag, value in (("track-high", o.high), ("track-new", o.new_track)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
            raise InputError(f"--{flag} must be in 0..1, got {value!r}")
    lost = o.lost_s
    if isinstance(lost, bool) or not isinstance(lost, (int, float)) or not 0 <= lost < math.inf:
        raise InputError(f"--track-buffer must be seconds >= 0, got {lost!r}")
    for flag, value, least in (("track-min-hits", o.min_hits, 1), ("trails", o.trails, 0)):
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            raise InputError(f"--{flag} must be an integer >= {least}, got {value!r}")
    if o.anchor not in ANCHORS:
        raise InputError(f"--anchor must be {' or '.join(ANCHORS)}, not {o.anchor!r}")
    names = [line.name for line in o.line_geometry()] + [z.name for z in o.zone_geometry()]
    if len(set(names)) != len(names):
        raise InputError(f"line and zone names must differ: {', '.join(names)}")


def _named(spec: Any, default: str, flag: str) -> tuple[str, list[float]]:
    """(name, numbers) of a "name=1,2,3" or "1,2,3" spec."""
    if not isinstance(spec, str):
        raise InputError(f"{flag} takes comma-separated numbers, not {spec!r}")
    name, sep, numbers = spec.rpartition("=")
    name = name.strip() if sep else default
    if not name:
        raise InputError(f"{flag} {spec!r}: empty name before '='")
    try:
        values = [float(v) for v in numbers.split(",")]
    except ValueError:
        raise InputError(f"{flag} {spec!r}: expected comma-separated numbers") from None
    if not all(math.isfinite(v) for v in values):
        raise InputError(f"{flag} {spec!r}: coordinates must be finite")
    return name, values


def _line(spec: Any, number: int) -> Line:
    name, values = _named(spec, f"line{number}", "--count-line")
    if len(values) != 4:
        raise InputError(f"--count-line {spec!r}: expected x1,y1,x2,y2")
    if values[:2] == values[2:]:
        raise InputError(f"--count-line {spec!r}: the two ends are the same point")
    return Line(name, (values[0], values[1], values[2], values[3]))


def _zone(spec: Any, number: int) -> Zone:
    name, values = _named(spec, f"zone{number}", "--zone")
    if len(values) < 6 or len(values) % 2:
        raise InputError(f"--zone {spec!r}: expected at least 3 points x1,y1,x2,y2,x3,y3,...")
    points = tuple(zip(values[::2], values[1::2], strict=True))
    edges = zip(points, points[1:] + points[:1], strict=True)
    area = sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in edges)
    if area == 0:
        raise InputError(f"--zone {spec!r}: the polygon has no area")
    return Zone(name, points)
