"""PyAV decoding: a container's video stream -> Iterator[Frame], with frame threading.

Owns the only in-process decode loop, over the packets `StreamPackets` demuxes. Display-order
indexes come from the packets' pts (the rank of a frame's pts among all packets of the
stream), so frames keep their place among ALL frames even when the decoder skips non-intra or
non-key frames (FFmpeg's `skip_frame`), or drops a frame it cannot decode. Timestamps are
FFmpeg's best-effort ones (`BestEffort`), as ffprobe and the ffmpeg CLI give them.
"""

from __future__ import annotations

import heapq
import itertools
import logging
from collections import deque
from collections.abc import Iterator, Sequence
from fractions import Fraction
from typing import TYPE_CHECKING, Literal, NamedTuple

import av
import av.error
import numpy as np

from vidpipe.errors import InputError
from vidpipe.io.avnames import color_info
from vidpipe.io.damage import DecodeStats, check_damage
from vidpipe.io.hwaccel import hwaccel_for
from vidpipe.io.inputs import NETWORK_TIMEOUT_S, is_device, is_stream, open_options, redact
from vidpipe.io.packets import LOOKAHEAD, BestEffort, StreamPackets, default_step
from vidpipe.pixfmt import LAYOUTS, canonical_pix_fmt
from vidpipe.types import Frame, PictureType

if TYPE_CHECKING:
    from av.codec.hwaccel import HWAccel

log = logging.getLogger(__name__)

Skip = Literal["none", "nonintra", "nonkey"]
_SKIP_FRAME = {"none": "DEFAULT", "nonintra": "NONINTRA", "nonkey": "NONKEY"}
# Frames a skipping decoder may return out of display order (H.264's DPB holds <= 16).
_SKIP_REORDER = 16


def frame_planes(
    frame: av.VideoFrame, pix_fmt: str | None = None
) -> tuple[str, tuple[np.ndarray, ...]]:
    """Copy a PyAV frame's planes into contiguous arrays without line padding.

    Returns (pix_fmt, planes) with pix_fmt = canonical_pix_fmt(frame.format.name), or the
    `pix_fmt` given (one of `LAYOUTS`, the frame converted to it), and planes as described on
    `Frame.planes` (uint8, or little-endian uint16 for > 8 bit).
    """
    pix_fmt = pix_fmt or canonical_pix_fmt(frame.format.name)
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


def open_container(
    path: str, timeout_s: float | None = None, hwaccel: HWAccel | None = None
) -> av.container.InputContainer:
    """av.open for reading a resolved input with its `open_options` (a file's name taken
    literally; a URL's protocol whitelist and I/O timeouts, also PyAV's own on opening and
    each read); FFmpeg's refusal becomes a one-line InputError. `hwaccel`: its decoders on
    that device (`vidpipe.io.hwaccel`; the frame decode loop's only)."""
    url = is_stream(path)
    limit = (timeout_s or NETWORK_TIMEOUT_S) if url else None
    try:
        return av.open(path, options=open_options(path, timeout_s),
                       format="v4l2" if is_device(path) else None,
                       timeout=(limit, limit) if url else None, hwaccel=hwaccel)  # fmt: skip
    except av.error.ExitError:  # PyAV's timeout interrupted FFmpeg
        raise InputError(f"{redact(path)}: timed out after {limit:g} s") from None
    except av.error.FFmpegError as exc:
        reason = exc.strerror or type(exc).__name__
        if url and isinstance(exc, TimeoutError):
            raise InputError(f"{redact(path)}: timed out after {limit:g} s") from None
        what = "cannot open it" if url else "not a readable video file"
        raise InputError(f"{redact(path)}: {what} ({reason})") from None


class Decoded(NamedTuple):
    """One decoded frame with what the container and FFmpeg's timing rules say of it.

    index: display-order position among all frames; pts: FFmpeg's best-effort timestamp in
    the stream's time base; size: bytes of the frame's packet (None when unknown); key: the
    packet's key flag (the decoder's flag when the packet is unknown).
    """

    frame: av.VideoFrame
    index: int
    pts: int | None
    size: int | None
    key: bool


class _SkipUntrusted(Exception):
    """A skipping H.264 decoder met an open-GOP key frame (see `iter_av_frames`)."""


def iter_av_frames(
    container: av.container.InputContainer,
    stream: av.VideoStream,
    *,
    skip: Skip = "none",
    stats: DecodeStats | None = None,
) -> Iterator[Decoded]:
    """Decode `stream`, yielding `Decoded` frames in display order.

    Indexes are the ranks of the frames' pts among all packets (so a skipped or lost frame
    keeps its place) where the container stores pts; they count decoded frames where it does
    not (AVI: there the decoder never skips, and the frames it keeps are filtered after).

    FFmpeg's H.264 decoder told to skip frames loses most I frames of an open GOP (key
    frames that are not IDR: x264 open-gop, broadcast streams; FFmpeg 8). At the first such
    key packet the skipping decode stops. Key frames ("nonkey") are then read again from
    the start, each key packet decoded alone (the others demuxed only); I frames
    ("nonintra": some are not key frames) decoded whole from the last frame given (a seek;
    the frames are filtered after, as for AVI).
    """
    stats = stats if stats is not None else DecodeStats()
    last: Decoded | None = None
    try:
        for last in _decoded(container, stream, skip, stats):
            yield last
        return
    except _SkipUntrusted:
        log.debug("open GOP in H.264: the decoder cannot skip frames (%s)", skip)
    if skip == "nonkey":
        container.seek(0, backward=True, any_frame=False)
        for decoded in _decoded(container, stream, skip, stats, alone=True):
            if last is None or decoded.index > last.index:
                yield decoded
        return
    if last is None or last.pts is None:
        container.seek(0, backward=True, any_frame=False)
        yield from _decoded(container, stream, "none", stats)
        return
    resumed = _decoded_from(container, stream, "none", stats, last.pts, last.index)
    try:
        next(resumed)  # given already
        yield from resumed
    finally:
        resumed.close()  # type: ignore[attr-defined]


def _non_idr_key(packet: av.Packet, extradata: bytes | None) -> bool:
    """Whether an H.264 key packet's slices are all non-IDR (NAL type 1, no 5): an open-GOP
    key frame. NAL units are length-prefixed (avcC extradata) or start-code separated."""
    data = bytes(packet)
    types = []
    if extradata and extradata[0] == 1 and len(extradata) > 4:
        size, at = (extradata[4] & 3) + 1, 0
        while at + size < len(data):
            length = int.from_bytes(data[at : at + size], "big")
            types.append(data[at + size] & 0x1F)
            at += size + length
    else:
        at = data.find(b"\x00\x00\x01")
        while at >= 0 and at + 3 < len(data):
            types.append(data[at + 3] & 0x1F)
            at = data.find(b"\x00\x00\x01", at + 3)
    return 1 in types and 5 not in types


def _decoded(
    container: av.container.InputContainer,
    stream: av.VideoStream,
    skip: Skip,
    stats: DecodeStats,
    *,
    alone: bool = False,
) -> Iterator[Decoded]:
    """`iter_av_frames` without its open-GOP fallback; raises _SkipUntrusted for it. With
    `alone`, only key packets are decoded, each on its own (sent, drained, flushed)."""
    packets = StreamPackets(container, stream, stats)
    skipping = skip != "none" and not packets.dts_only
    h264 = skipping and not alone and stream.codec_context.name == "h264"
    extradata = stream.codec_context.extradata if h264 else None
    if not stream.codec_context.is_open:  # (a second pass after a seek finds it open)
        stream.thread_type = "AUTO"
    stream.codec_context.skip_frame = _SKIP_FRAME[skip if skipping and not alone else "none"]
    timing = BestEffort(default_step(stream))
    ahead: deque[av.Packet] = deque()
    ready: deque[av.VideoFrame] = deque()
    held: list[tuple[int, int, Decoded]] = []  # skipping: (index, arrival, frame) heap
    last_index = -1
    arrival = itertools.count()

    def emit() -> Iterator[Decoded]:
        nonlocal last_index
        while ready and not packets.order.pending(ready[0].pts):  # index not final yet
            frame = ready.popleft()
            facts = packets.facts(frame.pts)
            own_pts = None if packets.dts_only else frame.pts
            pts = timing.next(own_pts, frame.dts, frame.duration or 0)
            ranked = facts is not None and not packets.dts_only and pts == frame.pts
            if ranked and (skipping or facts.index > last_index):
                index = facts.index  # a skipping decoder's frames are put in order below
            else:
                index = last_index + 1
            last_index = max(last_index, index)
            key = facts.key if facts is not None else bool(frame.key_frame) or packets.all_key
            size = facts.size if facts is not None else None
            decoded = Decoded(frame, index, pts, size, key)
            if not skipping:
                yield decoded
                continue
            # A decoder told to skip frames may return the ones it keeps out of order
            # (H.264 with non-IDR I frames); its DPB holds at most 16, so a heap of 16 more
            # puts them back in display order.
            heapq.heappush(held, (index, next(arrival), decoded))
            if len(held) > _SKIP_REORDER:
                yield heapq.heappop(held)[2]

    try:
        for packet in packets:
            if alone:
                if packet.is_keyframe:
                    ready.extend(_decode(stream, packet, stats))
                    ready.extend(_decode(stream, None, stats))
                    stream.codec_context.flush_buffers()
                    yield from emit()
                continue
            if h264 and packet.is_keyframe and _non_idr_key(packet, extradata):
                raise _SkipUntrusted
            ahead.append(packet)
            if len(ahead) > LOOKAHEAD:
                ready.extend(_decode(stream, ahead.popleft(), stats))
                yield from emit()
        while ahead:  # each packet's frames out before the next: LOOKAHEAD frames held
            ready.extend(_decode(stream, ahead.popleft(), stats))  # at once were 100 MB
            yield from emit()  # at 1080p, at the end of every video
        ready.extend(_decode(stream, None, stats))
        yield from emit()
        while held:
            yield heapq.heappop(held)[2]
    finally:
        packets.close()


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


_SEEK_BACK_S = (0.0, 1.0, 4.0, 16.0, None)  # None: from the start


def _decoded_from(
    container: av.container.InputContainer,
    stream: av.VideoStream,
    skip: Skip,
    stats: DecodeStats,
    pts: int,
    index: int,
) -> Iterator[Decoded]:
    """The frames from the one at `pts` on, renumbered from `index`: a seek to the key frame
    at or before it, then decoding forward. Where a demuxer's seek lands after it (MPEG-PS
    seeks by byte position), it seeks again further back, at last from the start."""
    time_base = Fraction(stream.time_base) if stream.time_base else Fraction(1, 1)
    for back_s in _SEEK_BACK_S:
        if back_s is None:
            container.seek(0, backward=True, any_frame=False)
        else:
            target = pts - int(back_s / time_base)
            container.seek(target, stream=stream, backward=True, any_frame=False)
        decoded = iter_av_frames(container, stream, skip=skip, stats=stats)
        first = next((d for d in decoded if d.pts is not None and d.pts >= pts), None)
        if first is not None and first.pts == pts:
            yield first._replace(index=index)
            for count, item in enumerate(decoded, 1):
                yield item._replace(index=index + count)
            return
        decoded.close()
        log.debug("seek for pts %d landed after it (%s s back); seeking further", pts, back_s)
    raise InputError(f"no frame at pts {pts} in this stream")


def _decoded_points(
    container: av.container.InputContainer,
    stream: av.VideoStream,
    stats: DecodeStats,
    points: Sequence[tuple[int, int, bool]],
) -> Iterator[Decoded]:
    """One frame per (pts, index, seek) point, in display order: a seek to it where `seek`,
    else decoding on from the point before (the same GOP)."""
    current: Iterator[Decoded] | None = None
    try:
        for pts, index, seek in points:
            if current is None or seek:
                if current is not None:
                    current.close()  # type: ignore[attr-defined]
                current = _decoded_from(container, stream, "none", stats, pts, index)
            found = next((item for item in current if item.pts is not None and item.pts >= pts),
                         None)  # fmt: skip
            if found is None or found.pts != pts:
                raise InputError(f"no frame at pts {pts} in this stream")
            yield found._replace(index=index)
    finally:
        if current is not None:
            current.close()  # type: ignore[attr-defined]


def decode_av(
    path: str,
    *,
    stream_index: int,
    skip: Skip = "none",
    chroma_location: str = "unspecified",
    rotation: int = 0,
    stats: DecodeStats | None = None,
    timeout_s: float | None = None,
    start: tuple[int, int] | None = None,
    points: Sequence[tuple[int, int, bool]] | None = None,
    hwaccel: str = "auto",
    pix_fmt: str | None = None,
) -> Iterator[Frame]:
    """Decode one video stream of a local file or URL with PyAV.

    `path` must come from `resolve_input` (absolute, local; or an allowed URL, opened with
    its whitelist and `timeout_s` on every read). Yields `Frame`s in display order;
    with `skip="nonintra"` / `"nonkey"` the decoder only decodes I / key frames (same frames,
    same indexes as a full decode). Bad packets are counted in `stats` and logged at the end.

    `start` = (pts, index): begin at the frame of that pts, whose display index is `index`
    (a frame listed earlier): the decoder seeks to the key frame at or before it and
    decodes from there; frames before it are dropped and the ones after numbered on.
    `points` = [(pts, index, seek), ...] in display order (a `FrameIndex` plans them): only
    those frames, each by a seek where `seek`, else decoding on from the one before.

    `hwaccel`: "auto", "none" or "cuda" (`vidpipe.io.hwaccel`; InputError for "cuda" without
    a device). Frames decoded on the device come as the CPU decoder gives them: in
    `canonical_pix_fmt(pix_fmt)`, the stream's pix_fmt (the probe's), not NVDEC's nv12/p010.
    """
    stats = stats if stats is not None else DecodeStats()
    container = open_container(path, timeout_s, hwaccel_for(hwaccel))
    try:
        stream = container.streams[stream_index]
        on_device = stream.codec_context.is_hwaccel
        if hwaccel == "cuda" and not on_device:
            log.warning("%s: NVDEC cannot decode %s; decoding on the CPU", redact(path),
                        stream.codec_context.name)  # fmt: skip
        want = canonical_pix_fmt(pix_fmt) if on_device and pix_fmt else None
        time_base = Fraction(stream.time_base) if stream.time_base else Fraction(1, 1)
        if points is not None:
            decoded = _decoded_points(container, stream, stats, points)
        elif start is not None:
            decoded = _decoded_from(container, stream, skip, stats, *start)
        else:
            decoded = iter_av_frames(container, stream, skip=skip, stats=stats)
        for frame, index, pts, size, key in decoded:
            got, planes = frame_planes(frame, want)
            yield Frame(
                planes=planes,
                pix_fmt=got,
                index=index,
                pts=pts,
                time_base=time_base,
                pict_type=PictureType(int(frame.pict_type)),
                key_frame=key,
                color=color_info(frame, chroma_location),
                pkt_size=size,
                rotation=rotation,
            )
    finally:
        container.close()
    if start is None and points is None:  # after a seek, the packets read are not the file's
        check_damage(redact(path), stats)
