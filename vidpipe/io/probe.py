"""Probing with PyAV: `VideoInfo` of a file's first video stream, and its GOP summary.

Bad input (not media, no video stream, nothing decodable) becomes an `InputError` here, so
every command that probes first fails the same way.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import Iterable
from dataclasses import replace
from fractions import Fraction

import av
import av.error
import av.filter
import av.logging

from vidpipe.errors import InputError
from vidpipe.io.avnames import FIELD_ORDER, color_info
from vidpipe.io.damage import DecodeStats, check_damage
from vidpipe.io.decode_av import iter_av_frames, open_container
from vidpipe.io.inputs import is_stream, redact, resolve_input
from vidpipe.io.packets import DTS_ONLY_FORMATS
from vidpipe.pixfmt import LAYOUTS
from vidpipe.types import AudioInfo, GopSummary, PictureType, VideoInfo

log = logging.getLogger(__name__)

_NOTIMESTAMPS = 0x100  # AVFMT_NOTIMESTAMPS: a demuxer of raw streams without timestamps


def probe(
    path: str, *, gop: bool = False, allow_urls: bool = False, timeout_s: float | None = None
) -> VideoInfo:
    """Describe the container, its first video stream and its audio streams.

    With `gop=True` the whole stream is decoded for picture-type statistics. A URL (with
    `allow_urls`) is read up to its first frame only: where the container records no frame
    count, it is 0 (a live stream has none). Raises InputError for anything that is not a
    file with a decodable video stream (or a URL that does not give one within
    `timeout_s`).
    """
    resolved = resolve_input(path, allow_urls=allow_urls)
    path = redact(path)
    with open_container(resolved, timeout_s) as container:
        if not container.streams.video:
            raise InputError(f"{path}: no video stream (audio-only or data file)")
        stream = container.streams.video[0]
        if stream.codec_context is None:  # a codec id FFmpeg has no decoder for
            raise InputError(f"{path}: no decoder for its video stream (unknown codec)")
        first = _first_frame(container, stream, path)
        info = _video_info(path, container, stream, first, resolved)
    # The decoder freed (its frame threads joined) before FFmpeg's log is switched on
    # briefly to read the siting.
    del stream, container
    gc.collect()  # ... also one a reference cycle still held
    siting = replace(info.color, chroma_location=chroma_location(first))
    info = replace(info, color=siting)
    if gop and info.live:
        raise InputError(f"{path}: --gop reads the whole stream; a live source never ends")
    if gop:
        info = _with_gop(info, resolved)
    return info


def _first_frame(container, stream, path: str) -> av.VideoFrame:
    stats = DecodeStats()
    for decoded in iter_av_frames(container, stream, stats=stats):
        return decoded.frame
    if stats.timed_out:
        raise InputError(f"{path}: timed out waiting for data")
    raise InputError(f"{path}: no decodable video frame ({stats.demux_error or 'no frames'})")


def chroma_location(frame: av.VideoFrame) -> str:
    """The frame's chroma siting as FFmpeg names it ("left", "center", ...).

    PyAV does not expose `AVFrame.chroma_location`, so the frame goes once through FFmpeg's
    own `showinfo` filter, whose log line carries it as `cl:NAME`. Call it with no decoder
    open: FFmpeg's log is enabled meanwhile, and a frame-threaded decoder logging into it
    can deadlock.
    """
    graph = av.filter.Graph()
    src = graph.add_buffer(
        width=frame.width, height=frame.height, format=frame.format, time_base=Fraction(1, 1)
    )
    show = graph.add("showinfo")
    sink = graph.add("buffersink")
    src.link_to(show)
    show.link_to(sink)
    graph.configure()
    previous = av.logging.get_level()
    av.logging.set_level(av.logging.INFO)
    try:
        with av.logging.Capture(local=False) as logs:
            graph.push(frame)
            graph.pull()
    finally:
        av.logging.set_level(previous)
        if previous is None:
            # No Python callback left behind: PyAV's takes the GIL for some messages, and a
            # decoder thread logging while the main thread frees that decoder (holding the
            # GIL) deadlocks — seen in batch workers. FFmpeg's own callback, silenced.
            av.logging.restore_default_callback()
            av.logging.set_libav_level(-8)  # AV_LOG_QUIET
    for _level, _name, message in logs:
        for token in message.split():
            if token.startswith("cl:"):
                return token[3:]
    return "unspecified"


def _bit_depth_and_subsampling(pix_fmt: str) -> tuple[int, str]:
    if pix_fmt in LAYOUTS:
        layout = LAYOUTS[pix_fmt]
        return layout.bits, layout.subsampling or ("4:4:4" if layout.channels == 3 else "")
    fmt = av.VideoFormat(pix_fmt)
    bits = max(c.bits for c in fmt.components)
    if len(fmt.components) < 3 or fmt.is_rgb:
        return bits, "4:4:4" if fmt.is_rgb else ""
    w, h = fmt.components[1].width, fmt.components[1].height
    return bits, "4:2:0" if (w, h) == (1, 1) else "4:2:2" if w else "4:4:4"


def _fraction(value: object) -> Fraction | None:
    if value is None:
        return None
    frac = Fraction(value)
    return frac if frac > 0 else None


def _video_info(path: str, container, stream, first: av.VideoFrame, resolved: str) -> VideoInfo:
    ctx = stream.codec_context
    pix_fmt = ctx.pix_fmt or first.format.name
    bit_depth, subsampling = _bit_depth_and_subsampling(pix_fmt)
    time_base = Fraction(stream.time_base) if stream.time_base else Fraction(1, 1)
    duration = None
    if stream.duration:
        duration = float(stream.duration * time_base)
    elif container.duration:
        duration = container.duration / av.time_base
    # AVI counts its empty index entries (dropped or repeated frames) as frames. A URL is
    # never read through to count (it may never end).
    network = is_stream(resolved)
    frame_count = _count_packets(resolved) if _is_dts_only(container) and not network else (
        stream.frames)  # fmt: skip
    frame_rate = _fraction(stream.guessed_rate or stream.base_rate)
    avg_frame_rate = _fraction(stream.average_rate)
    if container.format.flags & _NOTIMESTAMPS:
        # A raw elementary stream: its timestamps are made from the codec's own rate.
        avg_frame_rate = frame_rate or avg_frame_rate
    return VideoInfo(
        path=path,
        container=container.format.name,
        stream_index=stream.index,
        codec=ctx.codec.canonical_name,
        decoder=ctx.codec.name,
        profile=stream.profile,
        width=ctx.width,
        height=ctx.height,
        sar=_fraction(stream.sample_aspect_ratio),
        dar=_fraction(stream.display_aspect_ratio),
        pix_fmt=pix_fmt,
        bit_depth=bit_depth,
        chroma_subsampling=subsampling,
        color=color_info(first),
        field_order=FIELD_ORDER.get(int(ctx.field_order or 0), "unknown"),
        rotation=round(first.rotation or 0),
        frame_rate=frame_rate,
        avg_frame_rate=avg_frame_rate,
        time_base=time_base,
        duration=duration,
        frame_count=frame_count or (0 if network else _count_packets(resolved)),
        live=network and (duration is None or not resolved.lower().startswith("http")),
        bit_rate=stream.bit_rate or container.bit_rate or None,
        audio=tuple(_audio_info(s) for s in container.streams.audio),
    )


def _is_dts_only(container: av.container.InputContainer) -> bool:
    return container.format.name in DTS_ONLY_FORMATS


def _count_packets(path: str) -> int:
    with open_container(path) as container:
        stream = container.streams.video[0]
        return sum(1 for p in container.demux(stream) if p.size)


def _audio_info(stream) -> AudioInfo:
    tb = Fraction(stream.time_base) if stream.time_base else None
    ctx = stream.codec_context
    return AudioInfo(
        index=stream.index,
        codec=ctx.codec.canonical_name,
        sample_rate=ctx.sample_rate,
        channels=ctx.channels,
        layout=ctx.layout.name if ctx.layout else "",
        duration=float(stream.duration * tb) if stream.duration and tb else None,
        bit_rate=stream.bit_rate or None,
    )


def _with_gop(info: VideoInfo, resolved: str) -> VideoInfo:
    stats = DecodeStats()
    with open_container(resolved) as container:
        stream = container.streams[info.stream_index]
        types = (
            (PictureType(int(d.frame.pict_type)), d.key)
            for d in iter_av_frames(container, stream, stats=stats)
        )
        summary = gop_summary(types)
    check_damage(info.path, stats)
    return replace(info, gop=summary)


def gop_summary(types: Iterable[tuple[PictureType, bool]]) -> GopSummary:
    """Statistics of (picture type, key flag) pairs given in display order.

    A GOP starts at each key frame; it is open when the frame shown just before that key
    frame is a B frame (its leading B frames reference the previous GOP), closed otherwise.
    The first GOP of a stream counts as closed.
    """
    counts = {PictureType.I: 0, PictureType.P: 0, PictureType.B: 0}
    frames = other = keys = b_run = longest_b = open_gops = closed_gops = 0
    intervals: list[int] = []
    last_key: int | None = None
    prev: PictureType | None = None
    for index, (ptype, key) in enumerate(types):
        frames += 1
        if ptype in counts:
            counts[ptype] += 1
        else:
            other += 1
        b_run = b_run + 1 if ptype is PictureType.B else 0
        longest_b = max(longest_b, b_run)
        if key:
            keys += 1
            if last_key is not None:
                intervals.append(index - last_key)
            if prev is PictureType.B:
                open_gops += 1
            else:
                closed_gops += 1
            last_key = index
        prev = ptype
    return GopSummary(
        frames=frames,
        i_frames=counts[PictureType.I],
        p_frames=counts[PictureType.P],
        b_frames=counts[PictureType.B],
        other_frames=other,
        key_frames=keys,
        keyframe_interval_mean=sum(intervals) / len(intervals) if intervals else None,
        keyframe_interval_max=max(intervals) if intervals else None,
        longest_b_run=longest_b,
        open_gops=open_gops,
        closed_gops=closed_gops,
    )
