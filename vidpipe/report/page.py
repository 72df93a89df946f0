"""`write_report`: one self-contained HTML page of a run: the video's facts, a timeline of
its classes, objects (and tracks) per frame over time, counts per line and zone, the best
frame of each interval, and the video played with the boxes drawn over it.

The page needs no network: Plotly's bundle (from the `plotly` package), the page's script
and style, the thumbnails (JPEG data URIs) and the run's data are inside it; only the video
itself is referenced, by its path relative to the page, so the page plays it where it lies.
The data is JSON in a `<script type="application/json">` element: the boxes column by column
(`Boxes`), series decimated to `POINTS` points. The template (Jinja2) and script live in
`vidpipe/report/assets`.
"""

from __future__ import annotations

import datetime
import json
import logging
import math
import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from vidpipe.draw.paint import PALETTE_RGB
from vidpipe.errors import InputError, VidpipeError
from vidpipe.formats.run import Boxes, read_detections
from vidpipe.report.runs import Counts, decimate, intervals, per_frame, read_events, tracks_alive
from vidpipe.runtime.files import atomic_path
from vidpipe.types import VideoInfo

log = logging.getLogger(__name__)

POINTS = 2000  # most points of a plotted series
THUMBS = 48  # most thumbnails of a video (its best intervals)
# What a browser's <video> plays: containers and codecs (FFmpeg's names).
PLAYABLE = {
    "mp4": {"h264", "vp9", "av1"}, "mov": {"h264"}, "webm": {"vp8", "vp9", "av1"},
    "matroska": {"vp8", "vp9", "av1"}, "ogg": {"theora", "vp8"},
}  # fmt: skip


@dataclass(frozen=True)
class Run:
    """What one run wrote: the video it read (or its `-o` output), its detections JSON Lines
    and, for a counted run, its events; for one `--segment` file of a run, the lines of its
    stretch (`segment_runs`)."""

    video: str
    detections: str
    events: str | None = None
    span: tuple[str, float, float] | None = None  # a segment's lines: (clock, start, until)


def write_report(runs: list[Run], out: str | os.PathLike[str], *, title: str | None = None,
                 gop: bool = False, jobs: list[dict[str, Any]] | None = None,
                 thumbs: int = THUMBS) -> None:  # fmt: skip
    """Write the page of `runs` to `out` (atomically: a failed run leaves nothing). A video
    that cannot be read is said so on the page (its section shows what its files hold);
    a detections or events file that cannot be read raises InputError. gop: decode each
    video for its picture types (I/P/B counts; slow on long videos). jobs: a batch's jobs
    table (`vidpipe.report.batch`), whose rows link to the runs' sections by "section";
    the sections are then closed until opened, their data read only then. thumbs: the
    most thumbnails a section has."""
    page_dir = Path(os.path.abspath(out)).parent
    sections = [_section(run, page_dir, gop, thumbs) for run in runs]
    data = {
        "title": title or ", ".join(Path(run.video).name for run in runs),
        "generated": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "palette": [list(c) for c in PALETTE_RGB],
        "jobs": jobs,
        "totals": _totals(sections) if jobs is not None else None,
    }
    html = _render(data, sections)
    with atomic_path(out) as tmp:
        tmp.write_text(html, encoding="utf-8")


def _json(value: Any) -> str:
    """JSON for a <script> element: "</" never closes it ("<\\/" is the same string)."""
    return json.dumps(value, separators=(",", ":"), allow_nan=False).replace("</", "<\\/")


def _render(data: dict[str, Any], sections: list[dict[str, Any]]) -> str:
    import jinja2
    from plotly.offline import get_plotlyjs

    assets = resources.files("vidpipe.report") / "assets"
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    template = env.from_string((assets / "report.html.j2").read_text(encoding="utf-8"))
    return template.render(
        title=data["title"], videos=sections, batch=data["jobs"] is not None,
        payloads=[_json(s) for s in sections],
        style=(assets / "report.css").read_text(encoding="utf-8"),
        script=(assets / "report.js").read_text(encoding="utf-8"),
        plotly=get_plotlyjs(), payload=_json(data),
    )  # fmt: skip


def _totals(sections: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per class across the runs: videos it is in, frames it is in, boxes; most boxes first."""
    rows: dict[str, list[int]] = {}
    for section in sections:
        for label, (frames, boxes) in section["classes"].items():
            row = rows.setdefault(label, [0, 0, 0])
            row[0], row[1], row[2] = row[0] + 1, row[1] + frames, row[2] + boxes
    return [{"label": label, "videos": v, "frames": f, "boxes": b}
            for label, (v, f, b) in sorted(rows.items(), key=lambda kv: -kv[1][2])]  # fmt: skip


def _section(run: Run, page_dir: Path, gop: bool, most_thumbs: int) -> dict[str, Any]:
    """The data of one video's section."""
    boxes = read_detections(run.detections, run.span)
    counts = read_events(run.events) if run.events else None
    if counts is not None and run.span is not None:
        counts = counts.between(float(np.nanmin(boxes.times)), float(np.nanmax(boxes.times)))
    section: dict[str, Any] = {"name": Path(run.video).name, "error": None}
    info = None
    try:
        from vidpipe.io.probe import probe

        info = probe(run.video, gop=gop)
    except VidpipeError as err:
        section["error"] = str(err)
        log.warning("%s", err)
    found = intervals(boxes)
    best = sorted(found, key=lambda i: -i.best_score)[:most_thumbs]
    # A segment's file counts its frames from its own first one, the run's first line there.
    first = int(boxes.indexes[0]) if run.span is not None else 0
    thumbs = _thumbs(run.video, boxes, {i.best_frame for i in best}, first) if info else {}
    section.update(
        facts=_facts(info, boxes, run),
        width=info.width if info else None, height=info.height if info else None,
        rotation=info.rotation if info else 0,
        src=_playable_src(info, run.video, page_dir),
        why_not=_why_not_playable(info),
        names={str(c): n for c, n in sorted(boxes.names.items())},
        frames=_times(boxes), frame_index=boxes.indexes.tolist(),
        boxes=_columns(boxes),
        timeline=_timeline(found, _span(boxes)),
        thumbs=[_interval(i, thumbs) for i in sorted(best, key=lambda i: i.start_index)
                if i.best_frame in thumbs],
        counts=_series_per_class(boxes),
        tracks=_tracks_series(boxes) if boxes.tracked else None,
        events=_events(counts) if counts else None,
        classes={boxes.names.get(c, str(c)): [int((n > 0).sum()), int(n.sum())]
                 for c, n in per_frame(boxes).items()},
    )  # fmt: skip
    return section


def _times(boxes: Boxes) -> list[float | None]:
    """Each frame's presentation time (pts x time_base), which is also the clock of a
    browser's <video> (MP4 and WebM: a file starting late keeps its start)."""
    return [None if math.isnan(t) else round(t, 6) for t in boxes.times.tolist()]


def _columns(boxes: Boxes) -> dict[str, list]:
    """The boxes column by column: frame row, class, score, x1, y1, x2, y2, track (-1)."""
    xyxy = np.round(boxes.xyxy.astype(np.float64), 1)
    return {
        "f": boxes.frame.tolist(), "c": boxes.class_ids.tolist(),
        "s": np.round(boxes.scores.astype(np.float64), 3).tolist(),
        "x1": xyxy[:, 0].tolist(), "y1": xyxy[:, 1].tolist(),
        "x2": xyxy[:, 2].tolist(), "y2": xyxy[:, 3].tolist(),
        "k": boxes.track_ids.tolist(),
    }  # fmt: skip


def _span(boxes: Boxes) -> float:
    known = boxes.times[~np.isnan(boxes.times)]
    return float(known.max() - known.min()) if len(known) else 0.0


def _timeline(found: list, span: float) -> list[dict[str, Any]]:
    """The timeline's bars: the intervals of each class, those less than span / POINTS
    apart drawn as one bar (a bar says how many it stands for, their best score and frame),
    so that a long run's flicker does not make tens of thousands of bars."""
    gap = span / POINTS
    bars: list[dict[str, Any]] = []
    last: dict[int, dict[str, Any]] = {}
    for interval in sorted(found, key=lambda i: (i.class_id, i.start_index)):
        if interval.start is None or interval.until is None:
            continue
        start, until = round(interval.start, 6), round(interval.until, 6)
        bar = last.get(interval.class_id)
        if bar is not None and start - bar["until"] <= gap:
            bar["until"], bar["n"] = max(bar["until"], until), bar["n"] + 1
            bar["max_count"] = max(bar["max_count"], interval.max_count)
            if interval.best_score > bar["best_score"]:
                bar["best_score"] = round(interval.best_score, 4)
                bar["best_frame"] = interval.best_frame
            continue
        bar = {"c": interval.class_id, "start": start, "until": until, "n": 1,
               "best_score": round(interval.best_score, 4), "best_frame": interval.best_frame,
               "max_count": interval.max_count}  # fmt: skip
        last[interval.class_id] = bar
        bars.append(bar)
    return bars


def _interval(interval, thumbs: dict[int, str]) -> dict[str, Any]:
    def at(t: float | None) -> float | None:
        return None if t is None else round(t, 6)

    return {
        "c": interval.class_id, "label": interval.label,
        "start": at(interval.start), "end": at(interval.end), "until": at(interval.until),
        "start_index": interval.start_index, "end_index": interval.end_index,
        "best_score": round(interval.best_score, 4), "best_frame": interval.best_frame,
        "max_count": interval.max_count, "thumb": thumbs.get(interval.best_frame),
    }  # fmt: skip


def _series_per_class(boxes: Boxes) -> dict[str, dict[str, list]]:
    """class id -> objects in each frame over time, decimated (frames without a time are
    left out)."""
    known = ~np.isnan(boxes.times)
    x = boxes.times[known]
    series = {}
    for class_id, count in per_frame(boxes).items():
        xs, ys = decimate(x, count[known], POINTS)
        series[str(class_id)] = {"x": np.round(xs, 3).tolist(), "y": ys.tolist()}
    return series


def _tracks_series(boxes: Boxes) -> dict[str, list]:
    known = ~np.isnan(boxes.times)
    xs, ys = decimate(boxes.times[known], tracks_alive(boxes)[known], POINTS)
    return {"x": np.round(xs, 3).tolist(), "y": ys.tolist()}


def _events(counts: Counts) -> dict[str, Any]:
    """Per line and direction, per zone entries and exits: the running total over time."""

    def steps(times: list[float]) -> dict[str, list]:
        return {"x": [round(t, 3) for t in times], "y": list(range(1, len(times) + 1))}

    def inside(ways: dict[str, list[float]]) -> dict[str, list]:
        moves = sorted([(t, 1) for t in ways["enter"]] + [(t, -1) for t in ways["exit"]])
        count, x, y = 0, [], []
        for t, step in moves:
            count += step
            x.append(round(t, 3))
            y.append(count)
        return {"x": x, "y": y}

    return {
        "lines": {n: {d: steps(t) for d, t in ds.items()} for n, ds in counts.lines.items()},
        "zones": {n: {d: steps(t) for d, t in ds.items()} for n, ds in counts.zones.items()},
        "inside": {n: inside(ways) for n, ways in counts.zones.items()},
        "dwell": {n: [round(s, 3) for s in d] for n, d in counts.dwell.items()},
        "totals": counts.totals,
    }


def _thumbs(video: str, boxes: Boxes, frames: set[int], first: int) -> dict[int, str]:
    """display index -> data URI of each wanted frame with its boxes drawn; `first`: the
    run's display index of the video's frame 0."""
    from vidpipe.io.source import Source
    from vidpipe.report.thumbs import thumbnails

    rows = {int(index): row for row, index in enumerate(boxes.indexes.tolist())}
    wanted = {i - first: boxes.of_frame(rows[i]) for i in frames if i in rows}
    names = [boxes.names.get(c, str(c)) for c in range(max(boxes.names, default=-1) + 1)]
    try:
        with Source(video) as source:
            return {i + first: uri for i, uri in thumbnails(source, wanted, names).items()}
    except VidpipeError as err:
        log.warning("%s: no thumbnails: %s", video, err)
        return {}


def _facts(info: VideoInfo | None, boxes: Boxes, run: Run) -> list[list[str]]:
    """(name, value) rows of the facts table."""
    rows = [["video", run.video], ["detections", run.detections]]
    if run.events:
        rows.append(["events", run.events])
    if info is not None:
        rate = info.avg_frame_rate or info.frame_rate
        rows += [
            ["container", info.container],
            ["codec", f"{info.codec} ({info.profile})" if info.profile else info.codec],
            ["size", f"{info.width}x{info.height}" + (f", rotated {info.rotation}°"
                                                      if info.rotation else "")],
            ["frame rate", f"{float(rate):.3f} fps" if rate else "-"],
            ["duration", f"{info.duration:.3f} s" if info.duration else "-"],
            ["frames", str(info.frame_count)],
        ]  # fmt: skip
        if info.gop is not None:
            g = info.gop
            rows += [
                ["frame types", f"I {g.i_frames}, P {g.p_frames}, B {g.b_frames}"
                                + (f", other {g.other_frames}" if g.other_frames else "")],
                ["GOP", f"key frame every {g.keyframe_interval_mean:.1f} frames (longest "
                        f"{g.keyframe_interval_max}), B-runs up to {g.longest_b_run}, "
                        f"{g.closed_gops} closed / {g.open_gops} open"
                 if g.keyframe_interval_mean else "one key frame"],
            ]  # fmt: skip
    tracks = len(np.unique(boxes.track_ids[boxes.track_ids >= 0]))
    rows += [
        ["frames with results", str(len(boxes.times))],
        ["boxes", str(len(boxes.scores))],
    ]
    if boxes.tracked:
        rows.append(["tracks", str(tracks)])
    return rows


def _playable_src(info: VideoInfo | None, video: str, page_dir: Path) -> str | None:
    """The video's path relative to the page, as a URL path, where a browser plays it."""
    if _why_not_playable(info) is not None:
        return None
    relative = os.path.relpath(os.path.abspath(video), page_dir)
    from urllib.parse import quote

    return quote(Path(relative).as_posix())


def _why_not_playable(info: VideoInfo | None) -> str | None:
    if info is None:
        return "the video could not be read"
    containers = [c for c in info.container.split(",") if c in PLAYABLE]
    if not containers:
        return f"a browser does not play {info.container} files"
    if info.codec not in PLAYABLE[containers[0]]:
        return f"a browser does not play {info.codec} video in {containers[0]}"
    return None


def segment_runs(videos: list[str], detections: str, events: str | None) -> list[Run] | None:
    """The runs of a run's `--segment` files (named by `segment_name`: all by stream time, or
    all by wall clock) and its one JSON Lines file: each file with the lines from its start to
    the next one's, in order of their starts. None where a file's name is not a segment's."""
    from vidpipe.io.segments import segment_start

    starts = [segment_start(v) for v in videos]
    if any(s is None for s in starts) or len({s[0] for s in starts}) != 1:  # type: ignore[index]
        return None
    order = sorted(zip(starts, videos, strict=True))
    bounds = [s[1] for s, _ in order[1:]] + [math.inf]  # type: ignore[index]
    return [Run(video, detections, events, (start[0], start[1], until))  # type: ignore[index]
            for (start, video), until in zip(order, bounds, strict=True)]  # fmt: skip


def check_page(out: str, sources: list[str | None], overwrite: bool) -> Path:
    """The page's absolute path; InputError unless it is an .html file that may be written
    (`check_output`: its folder exists, it is none of `sources`, `overwrite` or new)."""
    from vidpipe.io.output import check_output

    if not out.lower().endswith((".html", ".htm")):
        raise InputError(f"{out}: a report is an .html file")
    target = Path(os.path.abspath(out))
    for source in sources or [None]:
        target = check_output(out, source, overwrite)
    return target


def check_runs(runs: list[Run]) -> None:
    """Refuse at once what no report can be made of: a missing results file."""
    for run in runs:
        for path in filter(None, (run.detections, run.events)):
            if os.path.isdir(path):
                raise InputError(f"{path}: is a directory")
            if not os.path.isfile(path):
                raise InputError(f"{path}: no such file")
