"""Frame stream -> encoded file, the pipeline's sink: video encoded, audio/subtitles copied.

`encode` checks the output before any work, plans the video from the first frame (pixel
format, rotation kept as display matrix or baked into the planes, odd sizes padded when the
codec refuses them), turns the frames into PyAV frames, then runs one of two writers. "av"
(here) encodes with PyAV in-process and stream-copies the source's audio / subtitle packets,
reading the source only up to the time of the video packet being muxed (flat memory).
"ffmpeg" (`vidpipe.io.encode_ffmpeg`) feeds the frames to an ffmpeg child as NUT on stdin,
with the source as its second input for the copies. Frames keep their pts and time base
throughout (never 1/fps: VFR stays VFR). The options live in `vidpipe.io.encode_options`;
checks, pixel-format choice, copy planning and the temporary file in `vidpipe.io.output`
(the names in `__all__` are re-exported here: the library's encode API in one module).

The file is written to a hidden temporary name beside the target (`.NAME.part-RANDOM`) and
renamed over it when complete; on any exception, Ctrl-C or a closed generator the temporary
file is removed, an ffmpeg child killed and reaped, and the input iterator closed.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from itertools import chain
from pathlib import Path
from typing import Any

import av
import av.error
import numpy as np

from vidpipe.errors import VidpipeError
from vidpipe.io.decode_av import open_container
from vidpipe.io.encode_options import EncodeOptions
from vidpipe.io.image import to_av_frame
from vidpipe.io.output import (
    EncodeResult,
    Plan,
    auto_codec,
    check_codec,
    check_output,
    check_pix_fmt,
    color_values,
    default_pix_fmt,
    open_output,
    output_format,
    source_streams,
)
from vidpipe.pixfmt import LAYOUTS, plane_shapes
from vidpipe.types import ColorInfo, Frame

__all__ = [
    "EncodeResult",
    "Target",
    "check_target",
    "default_pix_fmt",
    "output_format",
    "write_stream",
]

log = logging.getLogger(__name__)

# 4:2:2 planes turned a quarter are 4:4:0 planes, and back.
_QUARTER_TURNED = {f"yuv422p{b}": f"yuv440p{b}" for b in ("", "10le", "12le")}
_QUARTER_TURNED.update({v: k for k, v in list(_QUARTER_TURNED.items())})


@dataclass(frozen=True)
class Target:
    """What the checks before any work fixed: the output, its muxer and encoder, the file
    whose audio / subtitle streams are copied (None: none) and the frame-rate hint."""

    path: Path
    muxer: str
    codec: av.Codec
    source: str | None
    copy_streams: tuple[int, ...]
    rate: Fraction | None


def check_target(
    output: str | os.PathLike[str],
    *,
    source: str | None,
    options: EncodeOptions,
    rate: Fraction | None = None,
    copy: bool = True,
) -> Target:
    """Every check `encode` makes before any work. `source` is a resolved input path (never
    overwritten; with `copy` its audio and subtitle streams are copied and its average frame
    rate is the default `rate`).

    Raises VidpipeError for a bad codec or pix_fmt, an output that is the input, exists
    without `overwrite`, or lies in a missing directory; FFmpegError when the ffmpeg writer's
    binary cannot be run."""
    target = check_output(output, source, options.overwrite)
    muxer = output_format(target)
    name = auto_codec(target, gpu=False) if options.codec == "auto" else options.codec
    codec = check_codec(name, muxer)
    if options.writer == "ffmpeg":
        from vidpipe.io.encode_ffmpeg import check_ffmpeg_encoder  # only for this writer

        check_ffmpeg_encoder(codec.name)
    check_pix_fmt(codec, options.pix_fmt)
    copy_streams: tuple[int, ...] = ()
    if source is not None and copy:
        copy_streams, source_rate = source_streams(source, muxer)
        rate = rate or source_rate
    return Target(target, muxer, codec, source if copy else None, copy_streams, rate)


def write_stream(
    frames: Iterable[Frame], tmp: Path, target: Target, options: EncodeOptions
) -> EncodeResult:
    """Encode `frames` (display order, host numpy or torch planes as `Frame` says) into the
    file `tmp` for `target` (checked by `check_target`), copying the source's streams.

    Frames keep their pts / time_base (a frame without pts follows the previous one by one
    tick; pts that go backwards are repaired, with a warning). Odd sizes are padded to even
    ones, replicating the last column / row, when the codec refuses odd sizes (libx264,
    libx265 in 4:2:0; ffv1, libvpx keep them): the output is then 1 pixel wider / taller.
    Raises VidpipeError when there are no frames or encoding fails, FFmpegError when the
    ffmpeg writer does. The caller owns `tmp` (renames it or removes it).
    """
    frame_iter = iter(frames)
    first = next(frame_iter, None)
    if first is None:
        raise VidpipeError(f"{target.path}: no frames to encode")
    plan = _plan(first, target.codec, options, target.muxer, target.copy_streams, target.rate)
    av_frames = _av_frames(chain([first], frame_iter), plan)
    if options.writer == "av":
        write = _write_av
    else:
        from vidpipe.io.encode_ffmpeg import write_ffmpeg

        write = write_ffmpeg
    count = write(av_frames, tmp, plan, target.source or "", options)
    log.info("wrote %d frames to %s (%s, %s)", count, target.path, plan.codec, plan.pix_fmt)
    return EncodeResult(target.path, count, plan.codec, plan.pix_fmt, plan.size_wh, plan.rotation)


# --- planning from the first frame -----------------------------------------------------


def _plan(
    first: Frame,
    codec: av.Codec,
    options: EncodeOptions,
    muxer: str,
    copy_streams: tuple[int, ...],
    rate: Fraction | None,
) -> Plan:
    if first.pix_fmt not in LAYOUTS:
        raise VidpipeError(f"cannot encode frames in {first.pix_fmt}")
    rotation = round(first.rotation) % 360
    turns = 0
    if options.rotation == "bake":
        if rotation % 90:
            raise VidpipeError(
                f"cannot bake a rotation of {rotation} degrees (not a multiple of 90)"
            )
        turns, rotation = rotation // 90, 0
    plane_fmt, color = first.pix_fmt, first.color
    if plane_fmt.startswith("yuvj"):  # same planes as yuv*, full range: tag it, keep values
        plane_fmt = "yuv" + plane_fmt[4:]
        color = dataclasses.replace(color, range="pc")
    if turns % 2 and LAYOUTS[plane_fmt].log2_chroma_w != LAYOUTS[plane_fmt].log2_chroma_h:
        if plane_fmt not in _QUARTER_TURNED:
            raise VidpipeError(f"cannot bake a quarter turn into {plane_fmt} frames")
        plane_fmt = _QUARTER_TURNED[plane_fmt]
    w, h = first.width, first.height
    turned = (h, w) if turns % 2 else (w, h)
    pix_fmt = options.pix_fmt or default_pix_fmt(codec, plane_fmt)
    color = _converted_color(plane_fmt, pix_fmt, color)
    time_base = first.time_base
    size_wh = _encodable_size(codec, pix_fmt, turned, time_base, options)
    return Plan(
        codec=codec.name,
        muxer=muxer,
        source_size_wh=(w, h),
        plane_fmt=plane_fmt,
        pix_fmt=pix_fmt,
        size_wh=size_wh,
        turns=turns,
        rotation=rotation,
        time_base=time_base,
        rate=rate,
        color=color,
        copy_streams=copy_streams,
    )


def _converted_color(plane_fmt: str, pix_fmt: str, color: ColorInfo) -> ColorInfo:
    """Colour tags after swscale converts `plane_fmt` to `pix_fmt` (its defaults: RGB ->
    Y'CbCr is BT.601 limited range; Y'CbCr <-> Y'CbCr keeps the samples' meaning)."""
    if LAYOUTS[plane_fmt].channels == 3 and not av.VideoFormat(pix_fmt).is_rgb:
        return dataclasses.replace(color, matrix="smpte170m", range="tv")
    return color


def _encodable_size(
    codec: av.Codec, pix_fmt: str, size_wh: tuple[int, int], plan_tb: Fraction, opts: EncodeOptions
) -> tuple[int, int]:
    """`size_wh`, or the next even size when the encoder refuses the odd one (found by
    opening it: libx264 / libx265 refuse odd 4:2:0 sizes, ffv1 / libvpx take them)."""

    def opens(wh: tuple[int, int]) -> bool:
        ctx = av.CodecContext.create(codec.name, "w")
        ctx.width, ctx.height = wh
        ctx.pix_fmt, ctx.time_base, ctx.options = pix_fmt, plan_tb, _codec_options(opts)
        try:
            ctx.open()
        except av.error.FFmpegError:
            return False
        return True

    w, h = size_wh
    even = (w + w % 2, h + h % 2)
    if even == size_wh or opens(size_wh) or not opens(even):
        return size_wh  # when neither opens, encoding reports the real error
    log.info("%s refuses %dx%d; padding frames to %dx%d", codec.name, w, h, *even)
    return even


def _codec_options(options: EncodeOptions) -> dict[str, str]:
    opts = {}
    if options.crf is not None:
        opts["crf"] = str(options.crf)
    if options.preset is not None:
        opts["preset"] = options.preset
    return opts


# --- frames -> PyAV frames ---------------------------------------------------------------


def _host(plane: Any) -> np.ndarray:
    """A plane as a numpy array (torch tensors are moved to the host)."""
    if hasattr(plane, "detach"):
        plane = plane.detach().cpu().numpy()
    return np.asarray(plane)


def _planes(frame: Frame, plan: Plan) -> tuple[np.ndarray, ...]:
    """The frame's planes turned by `plan.turns` and edge-padded to `plan.size_wh`."""
    planes = [_host(p) for p in frame.planes]
    if plan.turns:
        planes = [np.rot90(p, plan.turns) for p in planes]
    shapes = plane_shapes(plan.plane_fmt, *plan.size_wh)
    out = []
    for plane, shape in zip(planes, shapes, strict=True):
        pad_h, pad_w = shape[0] - plane.shape[0], shape[1] - plane.shape[1]
        if pad_h or pad_w:
            extra = ((0, 0),) * (plane.ndim - 2)
            plane = np.pad(plane, ((0, pad_h), (0, pad_w), *extra), mode="edge")
        out.append(np.ascontiguousarray(plane))
    return tuple(out)


def _next_pts(frame: Frame, time_base: Fraction, last: int | None) -> tuple[int, bool]:
    """(pts in `time_base`, repaired). The frame's own pts, rescaled when its time base
    differs; the previous + 1 when it has none, or when it does not increase: as FFmpeg's
    muxer repairs timestamps that go backwards (then `repaired` is True)."""
    if frame.pts is None:
        return (0 if last is None else last + 1), False
    pts = (
        frame.pts
        if frame.time_base == time_base
        else round(frame.pts * frame.time_base / time_base)
    )
    if last is not None and pts <= last:
        return last + 1, True
    return pts, False


def _av_frames(frames: Iterable[Frame], plan: Plan) -> Iterator[av.VideoFrame]:
    """PyAV frames ready for the encoder: baked, padded, converted, pts set, colour tagged."""
    last: int | None = None
    repaired = False
    for frame in frames:
        if (frame.width, frame.height) != plan.source_size_wh:
            w, h = plan.source_size_wh
            raise VidpipeError(
                f"frame {frame.index} is {frame.width}x{frame.height}; the stream is {w}x{h}"
            )
        last, moved = _next_pts(frame, plan.time_base, last)
        if moved and not repaired:
            log.warning(
                "frame %d: its timestamp does not follow the previous frame's; such frames are "
                "written just after the previous one (as ffmpeg repairs them)",
                frame.index,
            )
        repaired = repaired or moved
        ready = dataclasses.replace(frame, planes=_planes(frame, plan), pix_fmt=plan.plane_fmt)
        av_frame = to_av_frame(ready)
        if plan.plane_fmt != plan.pix_fmt:
            av_frame = av_frame.reformat(format=plan.pix_fmt)
        av_frame.pts = last
        av_frame.time_base = plan.time_base
        for attr, (value, _name) in color_values(plan.color).items():
            setattr(av_frame, attr, value)
        yield av_frame


# --- writer "av" -------------------------------------------------------------------------


class _SourceCopy:
    """Stream-copies chosen streams of a source file into an output container, in the
    source's order, reading only up to the time asked for (one packet of look-ahead)."""

    def __init__(self, source: str, out: av.container.OutputContainer, indexes: tuple[int, ...]):
        self._out = out
        self._in = open_container(source) if indexes else None
        self._map: dict[int, av.stream.Stream] = {}
        self._packets: Iterator[av.Packet] = iter(())
        self._next: av.Packet | None = None
        if self._in is not None:
            streams = [self._in.streams[i] for i in indexes]
            self._map = {s.index: out.add_stream_from_template(s) for s in streams}
            demuxed = self._in.demux(*streams)
            self._packets = (p for p in demuxed if p.dts is not None or p.pts is not None)

    def until(self, time: Fraction | None) -> None:
        """Mux every packet whose time (dts, else pts, in seconds) is <= `time`; None: all."""
        while True:
            if self._next is None:
                self._next = next(self._packets, None)
                if self._next is None:
                    return
            packet = self._next
            stamp = packet.dts if packet.dts is not None else packet.pts
            if time is not None and stamp is not None and stamp * packet.time_base > time:
                return
            self._next = None
            packet.stream = self._map[packet.stream.index]
            self._out.mux(packet)

    def close(self) -> None:
        if self._in is not None:
            self._in.close()


def _add_video_stream(
    out: av.container.OutputContainer, plan: Plan, options: EncodeOptions
) -> av.VideoStream:
    stream = out.add_stream(plan.codec)
    stream.width, stream.height = plan.size_wh
    stream.pix_fmt = plan.pix_fmt
    ctx = stream.codec_context
    ctx.time_base = plan.time_base
    stream.time_base = plan.time_base
    if plan.rate:
        ctx.framerate = plan.rate
    ctx.thread_count = options.threads
    ctx.options = _codec_options(options)
    for attr, (value, _name) in color_values(plan.color).items():
        setattr(ctx, attr, value)
    if plan.rotation:
        stream.set_display_rotation(plan.rotation)
    return stream


def _write_av(
    frames: Iterator[av.VideoFrame], tmp: Path, plan: Plan, source: str, options: EncodeOptions
) -> int:
    """Encode and mux in-process; the source's streams are interleaved as video advances."""

    def mux_video(packets: list[av.Packet]) -> None:
        for packet in packets:
            stamp = packet.dts if packet.dts is not None else packet.pts
            if stamp is not None:
                copy.until(stamp * packet.time_base)
            out.mux(packet)

    count = 0
    try:
        with open_output(tmp, plan) as out:
            video = _add_video_stream(out, plan, options)
            copy = _SourceCopy(source, out, plan.copy_streams)
            try:
                for av_frame in frames:
                    mux_video(video.encode(av_frame))
                    count += 1
                mux_video(video.encode(None))
                copy.until(None)
            finally:
                copy.close()
    except av.error.FFmpegError as exc:
        raise VidpipeError(
            f"encoding with {plan.codec} failed after {count} frames: {exc}"
        ) from exc
    return count
