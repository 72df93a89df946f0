"""`Source`: one video input, resolved and probed once, whose frames any stage can read.

    with Source("in.mp4") as src:           # vidpipe.open("in.mp4")
        print(src.info.width, src.info.frame_count)
        for frame in src.frames():          # display order, either backend
            ...

The Source is the only place that knows what the input is (a local file, or an opted-in
network URL: `allow_url=True`, `timeout=`). Sinks made
`like=src` take its streams to copy and its frame rate from it; nothing re-probes it. Frame
iterators it hands out are closed with it (a decoder's file or ffmpeg child released).
"""

from __future__ import annotations

import collections
import os
import weakref
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from vidpipe.errors import InputError, VidpipeError
from vidpipe.io.damage import DecodeStats
from vidpipe.io.decode import Backend, decode
from vidpipe.io.decode_av import Skip
from vidpipe.io.hwaccel import use_cuda
from vidpipe.io.inputs import check_open_options, is_stream, redact, resolve_input
from vidpipe.io.live import Event, live_frames
from vidpipe.io.probe import probe
from vidpipe.runtime.closing import close_if_closable
from vidpipe.types import Frame, VideoInfo

if TYPE_CHECKING:
    from vidpipe.io.index import FrameIndex

SKIPS: tuple[str, ...] = ("none", "nonintra", "nonkey")
_EVENTS_KEPT = 1000  # events held until taken (a reader that never takes them: bounded)


class Source:
    """A video input opened once: `.info` (its `VideoInfo`), `.frames()`, a context manager.

    path: a local video file, or with `allow_url` a network URL (http, https, rtsp, rtsps,
    rtmp, srt, udp, tcp; other protocols are refused either way). backend: "av" (PyAV,
    in-process) or "ffmpeg" (an ffmpeg child). timeout: seconds a URL's opening
    and each of its reads may take (None: `NETWORK_TIMEOUT_S`). reconnect: times in a row a
    live stream (`info.live`) that fails or ends is opened again (`vidpipe.io.live`); its
    gaps are events (`events()`). hwaccel: "auto" (NVDEC when a CUDA device opens, else the
    CPU), "none" (the CPU) or "cuda" (NVDEC, an InputError here without a device); frames
    as the CPU decoder gives them either way (`vidpipe.io.hwaccel`). Raises InputError for a
    bad input (missing, empty, not a video, refused, timed out) when made.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        backend: Backend = "av",
        allow_url: bool = False,
        timeout: float | None = None,
        reconnect: int = 0,
        hwaccel: str = "auto",
    ) -> None:
        check_open_options(backend, timeout, reconnect, hwaccel)
        if hwaccel == "cuda":
            use_cuda(hwaccel)  # without a device: its InputError now, before any output opens
        self.name = redact(os.fspath(path))  # as given (credentials hidden), for messages
        self.path = resolve_input(path, allow_urls=allow_url)  # what FFmpeg is given
        self.backend: Backend = backend
        self.timeout = timeout
        self.reconnect = reconnect
        self.hwaccel = hwaccel
        self.info: VideoInfo = probe(self.path, allow_urls=allow_url, timeout_s=timeout)
        self._open: weakref.WeakSet[Iterator[Frame]] = weakref.WeakSet()
        self._events: collections.deque[Event] = collections.deque(maxlen=_EVENTS_KEPT)
        self._index: FrameIndex | None = None
        self.lost: InputError | None = None  # a live stream lost for good (see `check_lost`)
        self._closed = False

    def frames(
        self,
        skip: Skip = "none",
        *,
        stats: DecodeStats | None = None,
        start: Frame | None = None,
    ) -> Iterator[Frame]:
        """The frames of the video stream in display order, `Frame` by `Frame`.

        skip: "nonintra" keeps I frames only, "nonkey" key frames only (the av backend's
        decoder skips the others). `stats` counts undecodable packets. Each call decodes
        from the start (a live stream: from now); the iterator is closed when this Source is.
        A live stream's frames carry `wall_time`, and it is reconnected as `reconnect` says.
        `start`: a frame this Source gave before; decoding seeks to it and begins there
        (same pixels, pts and index; a file only).
        """
        if self._closed:
            raise VidpipeError(f"{self.name}: the source is closed")
        if skip not in SKIPS:
            raise VidpipeError(f"skip must be one of {', '.join(SKIPS)}, not {skip!r}")
        at = None
        if start is not None:
            if self.info.live or start.pts is None:
                raise VidpipeError(f"{self.name}: no seeking in a live stream or without pts")
            at = (start.pts, start.index)

        def open_frames() -> Iterator[Frame]:
            return decode(self.path, backend=self.backend, skip=skip, info=self.info,
                          stats=stats, allow_urls=is_stream(self.path),
                          timeout_s=self.timeout, start=at, hwaccel=self.hwaccel)  # fmt: skip

        if self.info.live:
            at_end = not self.path.lower().startswith("http")  # a camera's link closed
            frames = live_frames(open_frames, name=self.name, reconnect=self.reconnect,
                                 on_event=self._events.append, on_lost=self._lose,
                                 reconnect_at_end=at_end)  # fmt: skip
        else:
            frames = open_frames()
        self._open.add(frames)
        return frames

    def frames_at(self, indexes: Sequence[int]) -> Iterator[Frame]:
        """The frames at these display indexes (ascending) of a file: each by a seek to its
        key frame, or by decoding on from the one before where no key frame lies between
        (the frame index comes from the packets, `vidpipe.io.index`). Frames are as
        `frames()` gives them (pixels, pts, index)."""
        if self.info.live:
            raise VidpipeError(f"{self.name}: no seeking in a live stream")
        index = self.frame_index()
        points, before = [], None
        for i in indexes:
            if before is not None and i <= before:
                raise VidpipeError("frames_at takes ascending indexes")
            seek = before is None or index.key_before(i) > before
            points.append((index.pts[i], i, seek))
            before = i
        frames = decode(self.path, backend=self.backend, info=self.info, points=points,
                        hwaccel=self.hwaccel)  # fmt: skip
        self._open.add(frames)
        return frames

    def frame_index(self) -> FrameIndex:
        """Every frame's pts and key flag, from the packets (read once, then kept)."""
        if self._index is None:
            from vidpipe.io.index import frame_index

            self._index = frame_index(self.path, self.info.stream_index)
        return self._index

    def _lose(self, error: InputError) -> None:
        self.lost = error

    def check_lost(self) -> None:
        """Raise the InputError of a live stream that was lost for good (its frames ended
        early so the outputs could close with what was recorded); call after closing them."""
        if self.lost is not None:
            raise self.lost

    def events(self) -> list[Event]:
        """The events of a live stream since the last call (gaps: `vidpipe.io.live`), oldest
        first; thread-safe (the frames may be read on another thread)."""
        taken = []
        while self._events:
            taken.append(self._events.popleft())
        return taken

    def __iter__(self) -> Iterator[Frame]:
        return self.frames()

    def close(self) -> None:
        """Close every frame iterator still open (idempotent)."""
        self._closed = True
        for frames in list(self._open):
            close_if_closable(frames)
        self._open.clear()

    def __enter__(self) -> Source:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        i = self.info
        return f"<Source {self.name!r} {i.codec} {i.width}x{i.height} {i.frame_count} frames>"
