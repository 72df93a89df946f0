"""The one decoding entry point: probe, then stream `Frame`s from the PyAV or FFmpeg backend.

Both backends deliver the same frames (pixels, pts, time_base, picture types, indexes); only
the PyAV backend can make the decoder itself skip frames (`skip_frame`), the FFmpeg backend
decodes everything and the same filter keeps the frames asked for.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Literal

from vidpipe.io.damage import DecodeStats
from vidpipe.io.decode_av import Skip, decode_av
from vidpipe.io.inputs import BACKENDS, resolve_input
from vidpipe.io.probe import probe
from vidpipe.runtime.closing import close_if_closable
from vidpipe.types import Frame, PictureType, VideoInfo

Backend = Literal["av", "ffmpeg"]


def decode(
    path: str,
    *,
    backend: Backend = "av",
    skip: Skip = "none",
    info: VideoInfo | None = None,
    allow_urls: bool = False,
    stats: DecodeStats | None = None,
    timeout_s: float | None = None,
    start: tuple[int, int] | None = None,
    points: Sequence[tuple[int, int, bool]] | None = None,
    hwaccel: str = "auto",
) -> Iterator[Frame]:
    """Frames of the first video stream of `path`, in display order.

    skip: "nonintra" keeps I frames only, "nonkey" key frames only (the PyAV backend does
    not even decode the others). `info` saves a second probe when the caller has one.
    Raises InputError for bad input (before the first frame), FFmpegError when the ffmpeg
    subprocess fails. A URL (`allow_urls`) is read with every read bounded by `timeout_s`
    (InputError when it passes), by either backend. `start` = (pts, index) of a frame listed
    before: decode from it on (a seek; PyAV whichever the backend, as its frames are the
    same); `points`: only those frames (see `decode_av`). `hwaccel`: "auto", "none" or
    "cuda", the frames decoded on the CPU or by NVDEC (`vidpipe.io.hwaccel`), alike.
    """
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; choose from {', '.join(BACKENDS)}")
    resolved = resolve_input(path, allow_urls=allow_urls)
    if info is None:
        info = probe(path, allow_urls=allow_urls, timeout_s=timeout_s)
    if backend == "av" or start is not None or points is not None:
        frames = decode_av(
            resolved,
            stream_index=info.stream_index,
            skip=skip,
            chroma_location=info.color.chroma_location,
            rotation=info.rotation,
            stats=stats,
            timeout_s=timeout_s,
            start=start,
            points=points,
            hwaccel=hwaccel,
            pix_fmt=info.pix_fmt,
        )
    else:
        from vidpipe.io.decode_ffmpeg import decode_ffmpeg

        frames = decode_ffmpeg(
            resolved,
            stream_index=info.stream_index,
            width=info.width,
            height=info.height,
            source_pix_fmt=info.pix_fmt,
            rotation=info.rotation,
            color=info.color,
            stats=stats,
            demuxer=info.container,
            timeout_s=timeout_s,
            hwaccel=hwaccel,
        )
    if skip == "none":
        return frames
    return _keep(frames, skip)


def _keep(frames: Iterator[Frame], skip: Skip) -> Iterator[Frame]:
    """Drop what the decoder may not have skipped itself (codecs without skip_frame)."""
    try:
        for frame in frames:
            if frame.key_frame if skip == "nonkey" else frame.pict_type is PictureType.I:
                yield frame
    finally:
        close_if_closable(frames)
