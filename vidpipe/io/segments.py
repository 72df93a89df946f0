"""Segmented video outputs for runs that never end (`--segment 10m`): one file per stretch of
time, each complete and playable once closed.

    with open_sink("cam.mp4", like=src, options=EncodeOptions(segment_s=600)) as dst:
        for frame in src.frames():       # cam_20261201T031500.000Z.mp4, cam_2026...
            dst.write(frame)

`Segments` holds one `Sink` at a time. A frame at or past `segment_s` seconds after the
current segment's first frame closes that segment (renamed into place: it is complete) and
starts the next with that frame. Time is the wall clock for a live source's frames
(`Frame.wall_time`), else the stream's own (`Frame.time`). A segment is named after the
output with its start appended: the UTC wall-clock time for a live source
(`cam_20261201T031500.000Z.mp4`), else the stream time (`clip_t000010.000.mp4`). Closed
segments stay whatever ends the run; an exception or `abort()` removes only the current
one (a graceful stop of a live run closes it normally). Sources' audio is not copied into
segments: each would need its own stretch of it.
"""

from __future__ import annotations

import dataclasses
import datetime
import logging
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vidpipe.errors import InputError, VidpipeError
from vidpipe.io.encode_options import EncodeOptions
from vidpipe.io.output import EncodeResult
from vidpipe.io.sink import Sink
from vidpipe.types import Frame

if TYPE_CHECKING:
    from vidpipe.io.source import Source

log = logging.getLogger(__name__)

_DURATION = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*(ms|s|m|h)?\s*$")
_UNIT_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


def parse_duration(text: str) -> float:
    """Seconds in "10m", "30s", "1.5h", "500ms" or a plain number of seconds; InputError
    for anything else or a duration that is not positive."""
    match = _DURATION.match(text)
    if match is None or not (seconds := float(match[1]) * _UNIT_S[match[2]]) > 0:
        raise InputError(f"not a duration: {text!r} (e.g. 10m, 30s, 1h, 500ms)")
    return seconds


def segment_name(output: str | os.PathLike[str], frame: Frame) -> Path:
    """The file of the segment that starts with `frame` (see the module's docstring)."""
    path = Path(output)
    if frame.wall_time is not None:
        moment = datetime.datetime.fromtimestamp(frame.wall_time, datetime.UTC)
        start = moment.strftime("%Y%m%dT%H%M%S.") + f"{moment.microsecond // 1000:03d}Z"
    else:
        start = f"t{frame.time or 0.0:010.3f}"
    return path.with_name(f"{path.stem}_{start}{path.suffix}")


_START = re.compile(r"_(?:t(\d+\.\d{3})|(\d{8}T\d{6}\.\d{3})Z)$")


def segment_start(path: str | os.PathLike[str]) -> tuple[str, float] | None:
    """What `segment_name` put in a segment's name: ("time", stream seconds) or
    ("wall_time", seconds since the epoch) of its first frame, to the millisecond; None for
    a name it did not make.

    >>> segment_start("cam_20261201T031500.250Z.mp4")
    ('wall_time', 1796094900.25)
    >>> segment_start("clip_t000010.000.mp4"), segment_start("clip.mp4")
    (('time', 10.0), None)
    """
    match = _START.search(Path(path).stem)
    if match is None:
        return None
    if match[1] is not None:
        return "time", float(match[1])
    moment = datetime.datetime.strptime(match[2], "%Y%m%dT%H%M%S.%f")
    return "wall_time", moment.replace(tzinfo=datetime.UTC).timestamp()


def _clock(frame: Frame) -> float:
    return frame.wall_time if frame.wall_time is not None else (frame.time or 0.0)


class Segments:
    """A video output cut into segments of `options.segment_s` seconds (see the module).

    Like a `Sink`: `write`, `close` (returns an `EncodeResult` of the whole: frames in all,
    `path` the last segment, `segments` every one), `abort`, a context manager.
    """

    def __init__(
        self, path: str | os.PathLike[str], *, like: Source | None, options: EncodeOptions
    ) -> None:
        if options.segment_s is None or not options.segment_s > 0:
            raise VidpipeError(f"segment length must be > 0 seconds, got {options.segment_s}")
        self.path = Path(path)
        if not self.path.suffix:
            raise VidpipeError(f"{path}: a segmented output needs a file extension (.mp4, .mkv)")
        self._like = like
        self._segment_s = options.segment_s
        self._options = dataclasses.replace(options, segment_s=None)
        self._current: Sink | None = None
        self._started = 0.0
        self._done: list[EncodeResult] = []
        self.result: EncodeResult | None = None

    def write(self, frame: Frame) -> None:
        """Add one frame, closing the current segment first when it is `segment_s` long."""
        if self.result is not None:
            raise VidpipeError(f"{self.path}: the output is closed")
        if self._current is not None and _clock(frame) - self._started >= self._segment_s:
            self._done.append(self._current.close())
            log.info("wrote segment %s", self._done[-1].path)
            self._current = None
        if self._current is None:
            name = segment_name(self.path, frame)
            self._current = Sink(name, like=self._like, options=self._options, copy=False)
            self._started = _clock(frame)
        self._current.write(frame)

    def close(self) -> EncodeResult:
        """Close the current segment; the whole output's result (idempotent)."""
        if self.result is not None:
            return self.result
        if self._current is not None:
            self._done.append(self._current.close())
            self._current = None
        if not self._done:
            raise VidpipeError(f"{self.path}: no frames to write")
        last = self._done[-1]
        frames = sum(r.frames for r in self._done)
        segments = tuple(r.path for r in self._done)
        self.result = dataclasses.replace(last, frames=frames, segments=segments)
        return self.result

    def abort(self) -> None:
        """Remove the current segment (the closed ones stay)."""
        current, self._current = self._current, None
        if current is not None:
            current.abort()

    def __enter__(self) -> Segments:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *rest: object) -> None:
        if exc_type is not None:
            self.abort()
        else:
            self.close()


def open_sink(
    path: str | os.PathLike[str],
    *,
    like: Source | None = None,
    options: EncodeOptions | None = None,
    **sink_options: Any,
) -> Sink | Segments:
    """A `Sink` (its keywords), or `Segments` when `options.segment_s` (or a `segment_s=`
    keyword) is set: then only `like=` goes with it."""
    fields = {f.name for f in dataclasses.fields(EncodeOptions)}
    encoder = {k: sink_options.pop(k) for k in list(sink_options) if k in fields}
    if options is not None and encoder:
        raise VidpipeError("give encoder options as `options` or as keywords, not both")
    options = options or EncodeOptions(**encoder)
    if options.segment_s is None:
        return Sink(path, like=like, options=options, **sink_options)
    if sink_options:
        raise VidpipeError(f"a segmented output takes like= only, not {', '.join(sink_options)}")
    return Segments(path, like=like, options=options)
