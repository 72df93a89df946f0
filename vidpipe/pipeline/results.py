"""The streaming result sinks of `vidpipe detect`: detections, tracks and counting events.

Owns `DetectionsJsonl` (one JSON line per frame), `CocoResults` (a COCO results array that
`vidpipe eval` / pycocotools read), `MotResults` (MOTChallenge text of tracked detections) and
`EventsJsonl` (counting events, one JSON object per line). All write rows as they come, never
holding more than the file buffer, into a hidden temporary file beside the target
(`reserve_temp`) that is renamed into place only when the `with` block ends without an
exception; otherwise it is removed and an existing target is left untouched. They flush the
first row at once, then about once a second, so a reader following the file (or a pipe, for
JSON Lines to stdout) sees the run start and progress. For a live source (`in_place`), which
may never end, JSON Lines are written straight into the target and flushed row by row, and
kept whatever ends the run (each line is complete).
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import IO

from vidpipe.detectors.names import category_id
from vidpipe.errors import VidpipeError
from vidpipe.runtime.files import remove_temp, reserve_temp
from vidpipe.types import Detections, class_label

log = logging.getLogger(__name__)

FLUSH_INTERVAL_S = 1.0  # seconds between flushes of a sink's buffer
STDOUT = "-"


class _AtomicSink:
    """A text file written through a temporary file and renamed into place on success.

    path: the target file, or "-" for stdout (written directly, never closed). in_place:
    write the target itself, flushing each row, and keep it whatever ends the run.
    """

    def __init__(self, path: str | os.PathLike[str], *, in_place: bool = False) -> None:
        self.path = os.fspath(path)
        self.in_place = in_place
        self._file: IO[str] | None = None
        self._tmp: Path | None = None
        self._target: Path | None = None
        self._flushed_at = 0.0

    def __enter__(self) -> _AtomicSink:
        if self._file is not None:
            raise RuntimeError(f"{type(self).__name__} is already open")
        if self.path == STDOUT:
            self._file = sys.stdout
        elif self.in_place:
            target = _check_target(self.path)
            try:
                self._file = open(target, "w", encoding="utf-8")  # closed in __exit__
            except OSError as err:
                raise VidpipeError(f"{self.path}: cannot write: {err.strerror}") from err
        else:
            self._target = _check_target(self.path)
            self._tmp = reserve_temp(self._target)
            try:
                self._file = open(self._tmp, "w", encoding="utf-8")  # closed in __exit__
            except OSError as err:
                remove_temp(self._tmp)
                self._tmp = None
                raise VidpipeError(f"{self.path}: cannot write: {err.strerror}") from err
        self._flushed_at = -math.inf  # the first row is pushed out at once
        self._begin()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        file, tmp, self._file, self._tmp = self._file, self._tmp, None, None
        if file is None:
            return
        if tmp is None:  # stdout or in place: what was written stays written
            if exc_type is None:
                self._end(file)
            file.flush()
            if file is not sys.stdout:
                file.close()
            return
        if exc_type is not None:
            with contextlib.suppress(OSError):
                file.close()
            remove_temp(tmp)
            return
        try:
            self._end(file)
            file.close()
            os.replace(tmp, self._target)  # type: ignore[arg-type]
        except BaseException as err:
            with contextlib.suppress(OSError):
                file.close()
            remove_temp(tmp)
            if isinstance(err, OSError):
                raise VidpipeError(f"{self.path}: cannot write: {err.strerror}") from err
            raise
        log.debug("wrote %s", self._target)

    def flush(self) -> None:
        """Push the buffered rows to the file (they appear in the temporary file)."""
        if self._file is not None:
            self._file.flush()
            self._flushed_at = time.monotonic()

    def _put(self, text: str) -> None:
        """Write `text`, flushing when FLUSH_INTERVAL_S has passed since the last flush."""
        file = self._open_file()
        try:
            file.write(text)
            if self.in_place or time.monotonic() - self._flushed_at >= FLUSH_INTERVAL_S:
                self.flush()
        except OSError as err:
            if self._tmp is None:  # stdout (a closed pipe): the CLI handles it
                raise
            raise VidpipeError(f"{self.path}: cannot write: {err.strerror}") from err

    def _open_file(self) -> IO[str]:
        """The open file; RuntimeError outside the `with` block."""
        if self._file is None:
            raise RuntimeError(f"{type(self).__name__} is not open: use it in a `with` block")
        return self._file

    def _begin(self) -> None:
        """Called on entering the `with` block, after the file is open (nothing by default)."""

    def _end(self, file: IO[str]) -> None:
        """Write what follows the rows (nothing by default)."""


def _check_target(path: str) -> Path:
    """The absolute target; VidpipeError for an empty path, a directory, a missing folder."""
    if not path:
        raise VidpipeError("empty output path")
    target = Path(os.path.abspath(path))
    if target.is_dir():
        raise VidpipeError(f"{path}: is a directory")
    if not target.parent.is_dir():
        raise VidpipeError(f"{path}: output directory {target.parent} does not exist")
    return target


class DetectionsJsonl(_AtomicSink):
    """JSON Lines of detections, one line per frame, in the order written.

    Each line: {"index": display index, "pts": in time_base units or null, "time": seconds
    or null, "detections": [{"label", "class_id", "score", "box": [x1, y1, x2, y2]}]} with
    the box in displayed-frame pixels rounded to 2 decimals and the score to 4. label is
    `names[class_id]`, or str(class_id) when `names` has no such entry. Tracked detections
    (`dets.tracker_id` set) add "track_id" (an integer) after "box" in each of their rows;
    untracked ones have no such key. A live source's frames add "wall_time" (seconds since
    the epoch) after "time", and its events (`write_event`: a gap) are lines of their own,
    {"event": ...}. path "-" writes to stdout; `in_place`: see `_AtomicSink`.
    """

    def __init__(
        self, path: str | os.PathLike[str], names: Sequence[str], *, in_place: bool = False
    ) -> None:
        super().__init__(path, in_place=in_place)
        self.names = tuple(names)

    def __enter__(self) -> DetectionsJsonl:
        super().__enter__()
        return self

    def write(
        self,
        index: int,
        pts: int | None,
        time: float | None,
        dets: Detections,
        wall_time: float | None = None,
    ) -> None:
        """Append the line of one frame.

        dets: xyxy `[N, 4]` float32 in displayed-frame pixels, scores `[N]` 0..1, class_ids
        `[N]`, optional tracker_id `[N]` int.
        """
        rows = [
            {
                "label": class_label(class_id, self.names),
                "class_id": class_id,
                "score": round(score, 4),
                "box": [round(v, 2) for v in box],
            }
            for box, score, class_id in zip(
                dets.xyxy.tolist(), dets.scores.tolist(), dets.class_ids.tolist(), strict=True
            )
        ]
        if dets.tracker_id is not None:
            for row, tracker_id in zip(rows, dets.tracker_id.tolist(), strict=True):
                row["track_id"] = tracker_id
        record: dict[str, object] = {"index": index, "pts": pts, "time": time}
        if wall_time is not None:
            record["wall_time"] = round(wall_time, 6)
        record["detections"] = rows
        self._put(json.dumps(record) + "\n")

    def write_event(self, event: dict[str, object]) -> None:
        """Append an event of the source (a live stream's gap) as a line of its own."""
        self._put(json.dumps(event) + "\n")


class CocoResults(_AtomicSink):
    """The COCO results format: a JSON array of {"image_id", "category_id", "bbox": [x, y,
    w, h] in pixels (2 decimals), "score" (5 decimals)}, one row per detection.

    num_classes: the model's class count; an 80-class model's class ids become the official
    COCO category ids (`vidpipe.detectors.names.category_id`), others are written as they are.
    Rows are streamed; an empty run writes `[]`.
    """

    def __init__(self, path: str | os.PathLike[str], num_classes: int) -> None:
        super().__init__(path)
        self.num_classes = num_classes
        self.rows = 0  # rows written so far

    def __enter__(self) -> CocoResults:
        super().__enter__()
        return self

    def write(self, image_id: int, dets: Detections) -> None:
        """Append the detections of image (frame) `image_id`.

        dets: xyxy `[N, 4]` float32 x1 y1 x2 y2 in displayed-frame pixels, scores `[N]` 0..1,
        class_ids `[N]` int; tracker_id, if set, is not written (COCO results have no tracks).
        """
        self._open_file()
        parts = []
        for (x1, y1, x2, y2), score, class_id in zip(
            dets.xyxy.tolist(), dets.scores.tolist(), dets.class_ids.tolist(), strict=True
        ):
            row = {
                "image_id": int(image_id),
                "category_id": category_id(class_id, self.num_classes),
                "bbox": [round(x1, 2), round(y1, 2), round(x2 - x1, 2), round(y2 - y1, 2)],
                "score": round(score, 5),
            }
            parts.append(("[\n" if self.rows == 0 else ",\n") + json.dumps(row))
            self.rows += 1
        if parts:
            self._put("".join(parts))

    def _begin(self) -> None:
        self.rows = 0

    def _end(self, file: IO[str]) -> None:
        file.write("\n]\n" if self.rows else "[]\n")


class MotResults(_AtomicSink):
    """Tracked detections as MOTChallenge text, one row per box: `frame,id,x,y,w,h,score,
    -1,-1,-1` with frame = display index + 1, the box's left, top, width and height in
    displayed pixels (2 decimals) and the score (4 decimals). What `vidpipe eval --mot`,
    TrackEval and `trackers` read."""

    def __enter__(self) -> MotResults:
        super().__enter__()
        return self

    def write(self, index: int, dets: Detections) -> None:
        """Append the tracked detections (`tracker_id` set) of the frame at display `index`."""
        if dets.tracker_id is None:
            raise ValueError("MOT results need tracked detections (tracker_id set)")
        rows = [
            f"{index + 1},{tid},{x1:.2f},{y1:.2f},{x2 - x1:.2f},{y2 - y1:.2f},{score:.4f}"
            ",-1,-1,-1\n"
            for (x1, y1, x2, y2), score, tid in zip(
                dets.xyxy.tolist(), dets.scores.tolist(), dets.tracker_id.tolist(), strict=True
            )
        ]
        if rows:
            self._put("".join(rows))


class EventsJsonl(_AtomicSink):
    """Events (dicts of JSON values) as JSON Lines, in the order written; a "class_id" key
    gains a "label" from `names` beside it."""

    def __init__(
        self, path: str | os.PathLike[str], names: Sequence[str], *, in_place: bool = False
    ) -> None:
        super().__init__(path, in_place=in_place)
        self.names = tuple(names)

    def __enter__(self) -> EventsJsonl:
        super().__enter__()
        return self

    def write(self, events: Sequence[dict[str, object]]) -> None:
        """Append one line per event."""
        lines = []
        for event in events:
            cid = event.get("class_id")
            if isinstance(cid, int) and "label" not in event:
                event = {**event, "label": class_label(cid, self.names)}
            lines.append(json.dumps(event) + "\n")
        if lines:
            self._put("".join(lines))
