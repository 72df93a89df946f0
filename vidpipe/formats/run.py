"""A run's results read back, column by column: the detections JSON Lines of `vidpipe
detect --json` (a full pass, or the sampled frames of `--scan`) and MOTChallenge text
(`--mot`, or ground truth), as `Boxes`, which the report, the exports and `vidpipe eval`
share. A two-hour video's file (180k frames) fits in memory as arrays, a few numbers a box,
not as 180k dicts.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from vidpipe.errors import InputError
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

    def label(self, class_id: int) -> str:
        """The label of a class id (its number as text when the run named none)."""
        return self.names.get(int(class_id), str(int(class_id)))

    def by_track_class(self) -> Boxes:
        """The boxes with each tracked one labelled by its track's class
        (`track_classes`): how the exports and `vidpipe eval` read a tracked run, so that
        a box has one label whichever tool holds it (CVAT and Label Studio give a track
        one label)."""
        classes = self.track_classes()
        if not classes:
            return self
        settled = self.class_ids.copy()
        tracked = self.track_ids >= 0
        settled[tracked] = [classes[int(t)] for t in self.track_ids[tracked]]
        return dataclasses.replace(self, class_ids=settled)

    def stretches(self) -> Iterator[tuple[int, list[tuple[int, int, bool]]]]:
        """Per track, in order of id: (track id, [(box row, frame index, ends), ...] in
        frame order), `ends` where the track's stretch of consecutive frames ends: its last
        box, or one whose next frame the run looked at without seeing the track (between a
        scan's samples the track is not known to be gone)."""
        seen = set(self.indexes.tolist())
        for track in sorted(set(self.track_ids[self.track_ids >= 0].tolist())):
            rows = np.flatnonzero(self.track_ids == track)
            frames = self.indexes[self.frame[rows]].tolist()
            ends = [k + 1 == len(frames) or (frames[k + 1] != f + 1 and f + 1 in seen)
                    for k, f in enumerate(frames)]  # fmt: skip
            yield track, list(zip(rows.tolist(), frames, ends, strict=True))

    def track_classes(self) -> dict[int, int]:
        """track id -> the class its boxes carry most often (ties: the lowest id): a
        track's label where a format gives a track one label (CVAT, Label Studio), while a
        tracker may relabel its boxes as its class votes settle."""
        out: dict[int, int] = {}
        tracked = self.track_ids >= 0
        pairs = np.stack([self.track_ids[tracked], self.class_ids[tracked]], 1)
        found, counts = np.unique(pairs, axis=0, return_counts=True)
        for i in np.lexsort((found[:, 1], -counts, found[:, 0])):
            out.setdefault(int(found[i, 0]), int(found[i, 1]))
        return out

    def of_frame(self, row: int) -> Detections:
        """The detections of frame row `row` (xyxy in displayed-frame pixels)."""
        lo, hi = np.searchsorted(self.frame, [row, row + 1])
        ids = self.track_ids[lo:hi]
        return Detections(
            self.xyxy[lo:hi], self.scores[lo:hi], self.class_ids[lo:hi],
            ids if (ids >= 0).all() and len(ids) else None,
        )  # fmt: skip


def _first_line(path: str | os.PathLike[str]) -> str:
    """The first non-blank line of a text file ("" for one it cannot read: the reader it
    is then given says why)."""
    try:
        with open(path, encoding="utf-8") as handle:
            return next((line.strip() for line in handle if line.strip()), "")
    except (OSError, UnicodeDecodeError):
        return ""


def is_jsonl(path: str | os.PathLike[str]) -> bool:
    """Whether `path` starts with a line of a run's JSON Lines (an object with its frame's
    "detections", or a live run's "event"), not MOTChallenge text or another JSON."""
    try:
        record = json.loads(_first_line(path))
    except json.JSONDecodeError:
        return False
    return isinstance(record, dict) and bool({"detections", "event"} & set(record))


def is_mot(path: str | os.PathLike[str]) -> bool:
    """Whether `path` starts like MOTChallenge text (a number, then a comma), or is empty
    (the MOT file of a tracked run that found nothing)."""
    first = _first_line(path)
    return not first or (first[0].isdigit() and "," in first)


def lines_of(path: str) -> Iterator[tuple[int, dict[str, Any]]]:
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
    for number, record in lines_of(path):
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


def read_mot(path: str | os.PathLike[str], *, frames: int | None = None,
             labels: list[str] | None = None) -> Boxes:  # fmt: skip
    """The boxes of a MOTChallenge text file (`frame,id,x,y,w,h,score[,class,visibility]`,
    frame 1-based: display index + 1), as frames 0 .. `frames` - 1 (default: up to its last
    frame; a frame without rows has no boxes). Column 7 is a box's score (in ground truth,
    a flag: rows of 0, boxes to ignore, are left out). labels: the names of classes 1, 2,
    ... of column 8 (a `labels.txt`); rows without a class (-1, or no column) are class 0,
    labelled "object" unless `labels` names it. Raises InputError naming a malformed line."""
    path = os.fspath(path)
    rows = []
    try:
        with open(path, encoding="utf-8") as handle:
            for number, line in enumerate(handle, 1):
                if not line.strip():
                    continue
                try:
                    values = [float(v) for v in line.split(",")]
                    if len(values) < 7 or values[0] < 1 or values[0] != int(values[0]):
                        raise ValueError
                except ValueError:
                    raise InputError(f"{path}:{number}: not a MOTChallenge row "
                                     "(frame,id,x,y,w,h,score,...)") from None  # fmt: skip
                rows.append(values[:8] + [-1.0] * (8 - len(values[:8])))
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except (IsADirectoryError, UnicodeDecodeError) as err:
        raise InputError(f"{path}: not a MOTChallenge text file ({err})") from None
    table = np.array(rows, np.float64).reshape(-1, 8)
    table = table[table[:, 6] != 0]
    table = table[np.lexsort((table[:, 1], table[:, 0]))]
    count = int(table[:, 0].max(initial=0)) if frames is None else frames
    index = table[:, 0].astype(np.int64) - 1
    if len(index) and index.max() >= count:
        raise InputError(f"{path}: frame {index.max() + 1} is past the video's {count} frames")
    class_ids = np.maximum(table[:, 7].astype(np.int64) - 1, 0)
    names = {0: "object"} if labels is None else dict(enumerate(labels))
    return Boxes(
        index, class_ids, np.clip(table[:, 6], 0, 1).astype(np.float32),
        np.c_[table[:, 2:4], table[:, 2:4] + table[:, 4:6]].astype(np.float32),
        table[:, 1].astype(np.int64), np.full(count, math.nan), np.arange(count),
        np.full(count, -1, np.int64), {int(c): names.get(int(c), str(int(c) + 1))
                                       for c in np.unique(class_ids)},
    )  # fmt: skip


def from_rows(rows: list[tuple[int, int, str, list[float]]],
              frames: int | list[int]) -> Boxes:  # fmt: skip
    """Ground-truth `Boxes` from (frame index, track id or -1, label, [x1, y1, x2, y2])
    rows in any order (scores 1; class ids by label, in order of name). frames: the frames
    annotated, a count (0 .. frames - 1, and any a row names beyond) or their indexes."""
    rows = sorted(rows, key=lambda r: (r[0], r[1]))
    names = sorted({r[2] for r in rows})
    ids = {name: i for i, name in enumerate(names)}
    if isinstance(frames, int):
        indexes = np.arange(max(frames, rows[-1][0] + 1 if rows else 0), dtype=np.int64)
    else:
        indexes = np.unique(np.array([*frames, *(r[0] for r in rows)], np.int64))
    return Boxes(
        np.searchsorted(indexes, np.array([r[0] for r in rows], np.int64)),
        np.array([ids[r[2]] for r in rows], np.int64),
        np.ones(len(rows), np.float32),
        np.array([r[3] for r in rows], np.float32).reshape(-1, 4),
        np.array([r[1] for r in rows], np.int64),
        np.full(len(indexes), np.nan), indexes,
        np.full(len(indexes), -1, np.int64), dict(enumerate(names)),
    )  # fmt: skip
