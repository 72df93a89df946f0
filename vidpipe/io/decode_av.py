"""PyAV decoding: a container's video stream -> Iterator[Frame], with frame threading.

Owns the only in-process demux/decode loop. Display-order indexes come from the packets'
pts (the rank of a frame's pts among all packets of the stream), so frames keep their place
among ALL frames even when the decoder skips non-intra or non-key frames (FFmpeg's
`skip_frame`), or drops a frame it cannot decode.
"""

from __future__ import annotations

import heapq
import logging
from collections import deque
from collections.abc import Iterator
from fractions import Fraction
from typing import Literal

import av
import av.error
import numpy as np

from vidpipe.errors import InputError
from vidpipe.io.avnames import color_info
from vidpipe.io.damage import DecodeStats, check_damage
from vidpipe.io.pixfmt import LAYOUTS, canonical_pix_fmt
from vidpipe.io.source import LITERAL_NAME_OPTIONS
from vidpipe.types import Frame, PictureType

log = logging.getLogger(__name__)

Skip = Literal["none", "nonintra", "nonkey"]
_SKIP_FRAME = {"none": "DEFAULT", "nonintra": "NONINTRA", "nonkey": "NONKEY"}
# Packets read ahead of the decoder; must exceed any stream's reorder depth (H.264: <= 16).
_LOOKAHEAD = 32
# Matroska data ending this much before its declared duration means the file was cut.
_DURATION_SLACK_S = 0.5


class _DisplayOrder:
    """Assigns display-order indexes from packet pts seen in decode order.

    A pts is given its index once more than `window` later packets are known, which is final
    as long as no frame is reordered further than `window` packets. Streams whose packets
    lack pts (or repeat one) fall back to counting decoded frames, which is exact for a full
    decode but not when the decoder skips frames.
    """

    def __init__(self, window: int) -> None:
        self._window = window
        self._heap: list[int] = []
        self._sizes: dict[int, int] = {}
        self._assigned: dict[int, tuple[int, int]] = {}  # pts -> (index, packet size)
        self._next = 0
        self.ordinal_mode = False

    def add(self, pts: int | None, size: int) -> None:
        if self.ordinal_mode:
            return
        if pts is None or pts in self._sizes or pts in self._assigned:
            self.ordinal_mode = True  # no usable pts: indexes count decoded frames instead
            self._heap.clear()
            self._sizes.clear()
            self._assigned.clear()
            return
        heapq.heappush(self._heap, pts)
        self._sizes[pts] = size
        while len(self._heap) > self._window:
            self._pop()

    def finish(self) -> None:
        while self._heap:
            self._pop()

    def _pop(self) -> None:
        pts = heapq.heappop(self._heap)
        self._assigned[pts] = (self._next, self._sizes.pop(pts))
        self._next += 1

    def take(self, pts: int | None) -> tuple[int, int] | None:
        """(index, packet size) for a decoded frame's pts, None while not yet known."""
        return None if pts is None else self._assigned.pop(pts, None)

    def pending(self, pts: int | None) -> bool:
        return pts is not None and pts in self._sizes


def frame_planes(frame: av.VideoFrame) -> tuple[str, tuple[np.ndarray, ...]]:
    """Copy a PyAV frame's planes into contiguous arrays without line padding.

    Returns (pix_fmt, planes) with pix_fmt = canonical_pix_fmt(frame.format.name) and planes
    as described on `Frame.planes` (uint8, or little-endian uint16 for > 8 bit).
    """
    pix_fmt = canonical_pix_fmt(frame.format.name)
    if pix_fmt != frame.format.name:
        frame = frame.reformat(format=pix_fmt)
    layout = LAYOUTS[pix_fmt]
    planes = []
    for plane in frame.planes:
        row = np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size)
        width_bytes = plane.width * layout.dtype.itemsize * layout.channels
        arr = np.ascontiguousarray(row[:, :width_bytes]).view(layout.dtype)
        if layout.channels == 3:
            arr = arr.reshape(plane.height, plane.width, 3)
        planes.append(arr)
    return pix_fmt, tuple(planes[: layout.planes])


def iter_av_frames(
    container: av.container.InputContainer,
    stream: av.VideoStream,
    *,
    skip: Skip = "none",
    stats: DecodeStats | None = None,
) -> Iterator[tuple[av.VideoFrame, int, int | None]]:
    """Decode `stream`, yielding (PyAV frame, display index, packet size) in display order."""
    stats = stats if stats is not None else DecodeStats()
    stream.thread_type = "AUTO"
    stream.codec_context.skip_frame = _SKIP_FRAME[skip]
    order = _DisplayOrder(_LOOKAHEAD)
    ahead: deque[av.Packet] = deque()
    ready: deque[av.VideoFrame] = deque()
    last_index = -1

    def emit() -> Iterator[tuple[av.VideoFrame, int, int | None]]:
        nonlocal last_index
        while ready and not order.pending(ready[0].pts):  # else its index is not final yet
            frame = ready.popleft()
            got = order.take(frame.pts)
            index, size = got if got is not None else (last_index + 1, None)
            last_index = index
            yield frame, index, size

    for packet in _demux(container, stream, stats):
        order.add(packet.pts, packet.size)
        ahead.append(packet)
        if len(ahead) > _LOOKAHEAD:
            ready.extend(_decode(stream, ahead.popleft(), stats))
            yield from emit()
    order.finish()
    while ahead:
        ready.extend(_decode(stream, ahead.popleft(), stats))
    ready.extend(_decode(stream, None, stats))
    yield from emit()


def _demux(
    container: av.container.InputContainer, stream: av.VideoStream, stats: DecodeStats
) -> Iterator[av.Packet]:
    """The stream's non-empty packets; a demuxer error ends the stream. Truncation is judged
    at the end (`_judge_truncation`). FFmpeg's log is never enabled here: its callback from a
    frame-threaded decoder can deadlock against the GIL when the decoder is closed."""
    stats.expected_packets = stream.frames
    declared = container.duration / av.time_base if container.duration else None
    end_time = 0.0
    packets = container.demux(stream)
    while True:
        try:
            packet = next(packets)
        except StopIteration:
            break
        except av.error.FFmpegError as exc:
            stats.demux_error = str(exc.strerror or exc)
            break
        if not packet.size:
            continue
        stats.packets += 1
        if packet.is_corrupt:
            stats.demux_error = f"corrupt packet at byte {packet.pos}"
        if packet.pts is not None and packet.time_base:
            end_time = max(end_time, float((packet.pts + packet.duration) * packet.time_base))
        yield packet
    _judge_truncation(container, stats, declared, end_time)


def _judge_truncation(
    container: av.container.InputContainer,
    stats: DecodeStats,
    declared: float | None,
    end_time: float,
) -> None:
    """A file is truncated when the demuxer failed, when an indexed container (MP4/MOV, AVI)
    delivered fewer packets than it records, or when Matroska/WebM data stops well before the
    duration its header declares (its only record of the length)."""
    if stats.packets < stats.expected_packets and stats.demux_error is None:
        stats.demux_error = "file ends before the frames its index records"
    matroska = "matroska" in container.format.name
    if matroska and declared is not None and end_time < declared - _DURATION_SLACK_S:
        stats.demux_error = f"data ends at {end_time:.2f} s of a declared {declared:.2f} s"
    stats.truncated = stats.demux_error is not None


def _decode(stream: av.VideoStream, packet: av.Packet | None, stats: DecodeStats) -> list:
    try:
        frames = stream.decode(packet)
    except av.error.InvalidDataError:
        stats.bad_packets += 1
        return []
    except av.error.EOFError:
        return []
    for frame in frames:
        if frame.is_corrupt:
            stats.corrupt_frames += 1
    return frames


def decode_av(
    path: str,
    *,
    stream_index: int,
    skip: Skip = "none",
    chroma_location: str = "unspecified",
    rotation: int = 0,
    stats: DecodeStats | None = None,
) -> Iterator[Frame]:
    """Decode one video stream of a local file with PyAV.

    `path` must come from `resolve_input` (absolute, local). Yields `Frame`s in display order;
    with `skip="nonintra"` / `"nonkey"` the decoder only decodes I / key frames (same frames,
    same indexes as a full decode). Bad packets are counted in `stats` and logged at the end.
    """
    stats = stats if stats is not None else DecodeStats()
    try:
        container = av.open(path, options=dict(LITERAL_NAME_OPTIONS))
    except av.error.FFmpegError as exc:
        raise InputError(f"{path}: cannot open ({exc.strerror})") from None
    try:
        stream = container.streams[stream_index]
        time_base = Fraction(stream.time_base) if stream.time_base else Fraction(1, 1)
        for frame, index, size in iter_av_frames(container, stream, skip=skip, stats=stats):
            pix_fmt, planes = frame_planes(frame)
            yield Frame(
                planes=planes,
                pix_fmt=pix_fmt,
                index=index,
                pts=frame.pts,
                time_base=time_base,
                pict_type=PictureType(int(frame.pict_type)),
                key_frame=bool(frame.key_frame),
                color=color_info(frame, chroma_location),
                pkt_size=size,
                rotation=rotation,
            )
    finally:
        container.close()
    check_damage(path, stats)
