"""Scanning a long video for what appears in it (`vidpipe detect --scan`): detection on sampled
frames only, decoded through the decoder's skip-frame fast paths, and the samples turned into
intervals per class.

    ScanOptions(sample="I")    the I frames (the decoder skips every other frame: `nonintra`)
    ScanOptions(sample="key")  the key frames (`nonkey`)
    ScanOptions(sample="2s")   a frame every 2 s (also 500ms, 1m), and "every:N" every Nth
                               frame: each by a seek to its key frame, or decoded on from
                               the one before in the same GOP (`Source.frames_at`); I / key
                               sampling adds such frames where key frames lie further
                               than FILL_S apart (and says so); every scan also looks
                               at the last frame
    ScanOptions(refine=True)   and where two consecutive samples differ (`changed`: a class
                               comes or goes, a count changes, a box moves off), the frames
                               between them too (`refine`: a seek to the first, decoded on),
                               probed every 16th, then 4th, then every frame where the
                               detections change, so an interval's bounds are exact there

`Intervals` turns the (frame, detections) pairs of the samples, in display order, into one
`Interval` per class and stretch of consecutive samples that hold it: from the first sample
with the class to the last one (both inclusive; the frames between two samples are not
looked at, so an interval's true start and end lie within one sample step of these), with
the most boxes of the class in one sample, the best score and the frame that had it.
Each sample stands for the time until the next one, so an interval's `until` is the time of
the first sample without the class (its last sample's own time at the end of the video).
`ScanSummary` adds them up per class: intervals, and seconds on screen (`until - start`).
"""

from __future__ import annotations

import itertools
import math
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from vidpipe.errors import InputError
from vidpipe.io.index import FrameIndex
from vidpipe.pipeline.options import ScanOptions
from vidpipe.runtime.closing import close_if_closable
from vidpipe.types import Detections, Frame, class_label, iou_matrix

FILL_S = 4.0  # I / key sampling: at most this many seconds between two samples
RARE_KEYS_S = 10.0  # key frames further apart than this somewhere: the scan says so


def plan(index: FrameIndex, options: ScanOptions) -> tuple[list[int], str | None]:
    """The display indexes a scan decodes by seeks, the last frame always among them, and
    a note for the log (None: nothing to say). Time or every:N sampling: all its samples.
    I / key sampling (the decoder's skip mode gives those frames): where two key frames,
    or the last one and the last frame, lie more than FILL_S apart, as few frames as
    make it at most FILL_S between samples, evenly spaced between them; the note says so
    where key frames lie more than RARE_KEYS_S apart."""
    last = len(index) - 1
    if options.skip is None:
        kind, step = options.step
        if kind == "frames":
            chosen = list(range(0, len(index), int(step)))
        else:
            chosen, t = [], index.time(0)
            while (at := index.at_time(t)) is not None:
                if not chosen or at > chosen[-1]:
                    chosen.append(at)
                t += step
        note = None
    else:
        anchors = [i for i, key in enumerate(index.key) if key] or [0]
        anchors += [last] if anchors[-1] != last else []
        chosen, widest = [], 0.0
        for a, b in itertools.pairwise(anchors):
            gap = index.time(b) - index.time(a)
            widest = max(widest, gap)
            fills = math.ceil(gap / FILL_S) - 1
            for k in range(1, fills + 1):
                at = index.at_time(index.time(a) + gap * k / (fills + 1))
                if at is not None and a < at < b and (not chosen or at > chosen[-1]):
                    chosen.append(at)
        note = None if widest <= RARE_KEYS_S else (
            f"{options.sample} frames up to {widest:.1f} s apart: also {len(chosen)} frames "
            f"between them (by seeks), so that samples lie at most {FILL_S:g} s apart"
        )  # fmt: skip
    if not chosen or chosen[-1] != last:
        chosen.append(last)  # the end of the video is looked at
    return chosen, note


@dataclass
class Interval:
    """One class seen in consecutive samples. pts in the stream's time base; `start`/`end`
    in seconds (None without pts); indexes in display order; `best_frame` the display index
    of the sample with the class's best score; `until` the time of the next sample after
    `end` (`end` itself after the last sample)."""

    label: str
    class_id: int
    start_index: int
    end_index: int
    start_pts: int | None
    end_pts: int | None
    start: float | None
    end: float | None
    max_count: int
    best_score: float
    best_frame: int
    samples: int = 1
    until: float | None = None

    def record(self) -> dict[str, Any]:
        """The JSON object of `--intervals` (scores rounded to 4 decimals, times to 6)."""
        return {
            "label": self.label, "class_id": self.class_id,
            "start_pts": self.start_pts, "end_pts": self.end_pts,
            "start": _round(self.start), "end": _round(self.end), "until": _round(self.until),
            "start_index": self.start_index, "end_index": self.end_index,
            "samples": self.samples, "max_count": self.max_count,
            "best_score": round(self.best_score, 4), "best_frame": self.best_frame,
        }  # fmt: skip

    @property
    def seconds(self) -> float:
        """Time on screen as sampled: `until - start` (0 without times)."""
        return 0.0 if self.start is None or self.until is None else self.until - self.start


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


class Intervals:
    """Streaming interval builder; see the module docstring. `update` with each sample in
    display order returns the intervals it closed (a class absent from it); `finish` the
    ones still open. With `keep_best`, each open interval holds its best sample (frame and
    that class's detections) until it closes: `best` maps a closed interval to them."""

    def __init__(self, names: Sequence[str], *, keep_best: bool = False) -> None:
        self.names = tuple(names)
        self.keep_best = keep_best
        self._open: dict[int, Interval] = {}
        self._best: dict[int, tuple[Frame, Detections]] = {}
        self.best: dict[int, tuple[Frame, Detections]] = {}  # id(interval) -> sample

    def update(self, frame: Frame, dets: Detections) -> list[Interval]:
        """Add one sample: xyxy in displayed pixels, scores 0..1, class_ids of its boxes."""
        present: dict[int, np.ndarray] = {}
        for class_id in np.unique(dets.class_ids).tolist():
            present[int(class_id)] = dets.class_ids == class_id
        closed = [self._close(c, frame.time) for c in list(self._open) if c not in present]
        for class_id, mask in present.items():
            count, score = int(mask.sum()), float(dets.scores[mask].max())
            interval = self._open.get(class_id)
            if interval is None:
                label = class_label(class_id, self.names)
                interval = Interval(label, class_id, frame.index, frame.index, frame.pts,
                                    frame.pts, frame.time, frame.time, count, score,
                                    frame.index, 0)  # fmt: skip
                self._open[class_id] = interval
            interval.end_index, interval.end_pts, interval.end = frame.index, frame.pts, frame.time
            interval.samples += 1
            interval.max_count = max(interval.max_count, count)
            if score > interval.best_score or interval.samples == 1:
                interval.best_score, interval.best_frame = score, frame.index
                if self.keep_best:
                    self._best[class_id] = (frame, dets[mask])
        return closed

    def finish(self) -> list[Interval]:
        """Close every interval still open (the end of the video), oldest class first."""
        return [self._close(c, None) for c in list(self._open)]

    def _close(self, class_id: int, until: float | None) -> Interval:
        interval = self._open.pop(class_id)
        interval.until = until if until is not None else interval.end
        best = self._best.pop(class_id, None)
        if best is not None:
            self.best[id(interval)] = best
        return interval


@dataclass
class ScanSummary:
    """Per class: intervals found and seconds on screen (`Interval.seconds`)."""

    rows: dict[str, list[float]] = field(default_factory=dict)  # label -> [intervals, seconds]

    def add(self, interval: Interval) -> None:
        row = self.rows.setdefault(interval.label, [0, 0.0])
        row[0] += 1
        row[1] += interval.seconds

    def table(self) -> list[dict[str, Any]]:
        """Rows {"label", "intervals", "seconds"}, the most seen first."""
        rows = [
            {"label": label, "intervals": int(n), "seconds": round(s, 3)}
            for label, (n, s) in self.rows.items()
        ]
        return sorted(rows, key=lambda r: (-r["seconds"], -r["intervals"], r["label"]))


MOVED_IOU = 0.3  # a box with less overlap than this with its class's boxes before has moved


def changed(before: Detections, after: Detections) -> bool:
    """Whether two samples differ: a class in one and not the other, a class's count, or a
    box of `after` overlapping none of its class's boxes in `before` by MOVED_IOU (xyxy in
    displayed pixels)."""
    classes = np.unique(np.concatenate([before.class_ids, after.class_ids]))
    for class_id in classes.tolist():
        a, b = before.xyxy[before.class_ids == class_id], after.xyxy[after.class_ids == class_id]
        if len(a) != len(b):
            return True
        if len(b) and iou_matrix(b, a).max(axis=1).min() < MOVED_IOU:
            return True
    return False


STRIDES = (16, 4)  # a changed stretch is probed every 16th frame, a changed 16 every 4th
HELD = 64  # at most this many decoded frames wait for their probes (4 top probes at once)


def refine(
    pairs: Iterator[tuple[Frame, Detections]],
    frames_from: Callable[[Frame], Iterator[Frame]],
    detect_all: Callable[[list[Frame]], list[Detections]],
    *,
    strides: Sequence[int] = STRIDES,
    held: int = HELD,
) -> Iterator[tuple[Frame, Detections]]:
    """The samples' (frame, detections) pairs in display order, with frames between two
    samples that `changed` detected too: that stretch is decoded (`frames_from(sample)`, a
    seek to the earlier one) and probed every `strides[0]`th frame; between two probes (or
    a probe and a sample) that changed, every `strides[1]`th frame, and so on down to every
    frame. So where detections change, consecutive frames looked at are adjacent (bounds
    exact to the frame), and where they hold still, only the probes are detected.

    `detect_all` detects a list of frames (one Detections each, in order); each call gets
    every frame a step needs at once (the top probes among the `held` frames decoded,
    then all the finer probes or fills among them), so that a batching or parallel
    detector gets several. At most `held` decoded frames wait (rounded down to a multiple
    of `strides[0]`, at least one stride). Closing it closes what it reads."""
    top = strides[0] if strides else 1
    chunk = max(top, held // top * top)
    before: tuple[Frame, Detections] | None = None
    try:
        for frame, dets in pairs:
            if (
                before is not None
                and frame.index > before[0].index + 1
                and changed(before[1], dets)
            ):
                between = _between(frames_from(before[0]), frame.index)
                try:
                    waiting: list[Frame] = []
                    for decoded in between:
                        waiting.append(decoded)
                        if len(waiting) == chunk:
                            found = _looked(before, waiting, None, detect_all, strides)
                            yield from found
                            before, waiting = found[-1], []
                    yield from _looked(before, waiting, (frame, dets), detect_all, strides)
                finally:
                    between.close()  # type: ignore[attr-defined]
            yield frame, dets
            before = (frame, dets)
    finally:
        close_if_closable(pairs)


Pair = tuple[Frame, Detections]


def _looked(
    first: Pair,
    frames: list[Frame],
    last: Pair | None,
    detect_all: Callable[[list[Frame]], list[Detections]],
    strides: Sequence[int],
) -> list[Pair]:
    """The pairs looked at among `frames` (held, between `first` and `last`), in order,
    level by level: each level's probes every `stride`th frame of the stretches that
    changed, detected in one call; stretches shorter than a stride wait for a finer one;
    at the end every frame of the stretches still changed (with no `strides`: every frame).
    With `last` None the last frame is a probe (and `len(frames)` a multiple of
    `strides[0]`)."""
    # (before, frames between, after): the stretches still to look into
    open_: list[tuple[Pair, list[Frame], Pair | None]] = [(first, frames, last)]
    looked: list[Pair] = []
    for stride in (*strides, 1):
        todo = [
            (a, held, b) for a, held, b in open_
            if held and (b is None or not strides or changed(a[1], b[1]))
        ]  # fmt: skip
        picked = [held[stride - 1 :: stride] if len(held) >= stride else [] for _, held, _ in todo]
        found = iter(detect_all([f for probes in picked for f in probes]))
        open_ = []
        for (a, held, b), probes in zip(todo, picked, strict=True):
            if not probes:
                open_.append((a, held, b))
                continue
            start = 0
            for stop, frame in zip(range(stride - 1, len(held), stride), probes, strict=True):
                pair = (frame, next(found))
                looked.append(pair)
                open_.append((a, held[start:stop], pair))
                a, start = pair, stop + 1
            open_.append((a, held[start:], b))
    return sorted(looked, key=lambda pair: pair[0].index)


def _between(frames: Iterator[Frame], stop_index: int) -> Iterator[Frame]:
    """The frames after the first, up to (not with) display index `stop_index`."""
    try:
        next(frames, None)
        for frame in frames:
            if frame.index >= stop_index:
                return
            yield frame
    finally:
        close_if_closable(frames)


def thumb_name(interval: Interval) -> str:
    """e.g. person_000012.480-000031.200_f000312.jpg: label, start and end, best frame."""
    label = "".join(c if c.isalnum() or c in "-_" else "_" for c in interval.label)
    start = "nopts" if interval.start is None else f"{interval.start:010.3f}"
    end = "nopts" if interval.end is None else f"{interval.end:010.3f}"
    return f"{label}_{start}-{end}_f{interval.best_frame:06d}.jpg"


def interval_writer(
    write_line: Callable[[dict[str, Any]], None] | None,
    thumbs: str | os.PathLike[str] | None,
    names: Sequence[str],
) -> tuple[Callable[[Frame, Detections], None], Callable[[], ScanSummary]]:
    """(update, finish) for a scan: each closed interval goes to `write_line` as its record
    and, with `thumbs` (an existing or new folder), its best sample with that class's boxes
    drawn; `finish` closes the rest and returns the summary."""
    folder = None if thumbs is None else Path(thumbs)
    if folder is not None:
        if folder.exists() and not folder.is_dir():
            raise InputError(f"{folder}: exists and is not a folder")
        folder.mkdir(parents=True, exist_ok=True)
    builder = Intervals(names, keep_best=folder is not None)
    summary = ScanSummary()

    def emit(closed: list[Interval]) -> None:
        for interval in closed:
            summary.add(interval)
            if write_line is not None:
                write_line(interval.record())
            best = builder.best.pop(id(interval), None)
            if folder is not None and best is not None:
                from vidpipe.draw.boxes import annotate
                from vidpipe.io.image import save_image

                frame, dets = best
                save_image(annotate(frame, dets, names), folder / thumb_name(interval))

    def update(frame: Frame, dets: Detections) -> None:
        emit(builder.update(frame, dets))

    def finish() -> ScanSummary:
        emit(builder.finish())
        return summary

    return update, finish
