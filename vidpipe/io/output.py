"""What both encoder writers share: result, plan, checks before any work, the output file.

Owns `EncodeResult` and `Plan` (what the first frame fixes for the whole stream), the checks
`encode` makes before any work (output path, muxer, and what of `EncodeOptions` needs PyAV:
codec, pixel format; the options are `vidpipe.io.encode_options`'s), the choice of the
encoded pixel format (`default_pix_fmt`), which of the source's audio / subtitle streams are
copied (`source_streams`), the colour tags written (`color_values`) and an output container
that is finished only on success (`open_output`), written to a hidden temporary file beside
the target (`vidpipe.runtime.files`). `vidpipe.io.encode` (PyAV writer) and
`vidpipe.io.encode_ffmpeg` (ffmpeg writer) build on it.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING

import av
import av.error

from vidpipe.errors import InputError, VidpipeError
from vidpipe.io import avnames
from vidpipe.io.inputs import is_url, redact

if TYPE_CHECKING:  # `check_codec` in the batch driver needs PyAV only, not numpy
    from vidpipe.types import ColorInfo

log = logging.getLogger(__name__)

# Muxers of the MOV family: their index ("moov") is moved to the front (`+faststart`).
FASTSTART_MUXERS = frozenset({"mp4", "mov", "ipod", "psp", "3gp", "3g2", "f4v"})
COPY_TYPES = ("audio", "subtitle")  # stream types copied from the source
# ColorInfo field -> (PyAV attribute = ffmpeg option, ffprobe name -> FFmpeg enum value)
_COLOR_FIELDS = tuple(
    (field, attr, {name: value for value, name in table.items() if name != "unknown"})
    for field, attr, table in (
        ("range", "color_range", avnames.RANGE),
        ("matrix", "colorspace", avnames.MATRIX),
        ("primaries", "color_primaries", avnames.PRIMARIES),
        ("transfer", "color_trc", avnames.TRANSFER),
    )
)


@dataclass(frozen=True)
class EncodeResult:
    """What `encode` wrote: the file, its frame count, video encoder and pixel format,
    encoded size (after baking and padding) and the display rotation written (0: none). A
    segmented output: `path` is the last segment, `frames` all, `segments` every file."""

    path: Path
    frames: int
    codec: str
    pix_fmt: str
    size_wh: tuple[int, int]
    rotation: int
    segments: tuple[Path, ...] = ()


@dataclass(frozen=True)
class Plan:
    """Everything the first frame fixes for the whole stream."""

    codec: str
    muxer: str
    source_size_wh: tuple[int, int]  # frames as they come
    plane_fmt: str  # pix_fmt of the planes after baking (yuvj* read as yuv*)
    pix_fmt: str  # encoder's
    size_wh: tuple[int, int]  # encoded, after baking and padding
    turns: int  # quarter turns counter-clockwise baked into the planes
    rotation: int  # display rotation to write, degrees counter-clockwise
    time_base: Fraction
    rate: Fraction | None  # frame-rate hint for rate control (the source's average)
    color: ColorInfo  # tags written
    copy_streams: tuple[int, ...]  # source stream indexes to stream-copy


# --- checks before any work ------------------------------------------------------------


class _NamedBuffer(io.BytesIO):
    """An in-memory file with a name, so FFmpeg guesses a muxer from it without any I/O."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name


def output_format(path: str | os.PathLike[str]) -> str:
    """The muxer FFmpeg picks for `path`'s name ("mp4", "matroska", "mov", "webm", ...)."""
    try:
        with av.open(_NamedBuffer(os.fspath(path)), "w") as probe:
            return probe.format.name
    except ValueError:
        raise VidpipeError(
            f"{path}: unknown output container; use a suffix like .mp4, .mkv, .mov or .webm"
        ) from None


def check_output(output: str | os.PathLike[str], source: str | None, overwrite: bool) -> Path:
    """The absolute target path; raises VidpipeError when `output` is empty, a directory,
    in a missing directory, the input file `source`, or exists without `overwrite`."""
    text = os.fspath(output)
    if not text:
        raise VidpipeError("empty output path")
    target = Path(os.path.abspath(text))
    if not target.parent.is_dir():
        raise VidpipeError(f"{text}: output directory {target.parent} does not exist")
    if target.is_dir():
        raise VidpipeError(f"{text}: is a directory")
    if (
        source is not None
        and not is_url(source)
        and (
            os.path.realpath(target) == os.path.realpath(source)
            or (target.exists() and os.path.samefile(target, source))
        )
    ):
        raise VidpipeError(f"{text}: refusing to write over the input file {source}")
    if (target.exists() or target.is_symlink()) and not overwrite:
        raise VidpipeError(
            f"{text}: already exists (use --overwrite, or overwrite=True in Python, to replace it)"
        )
    return target


def check_codec(name: str, muxer: str | None = None) -> av.Codec:
    """PyAV's video encoder `name`; raises InputError when there is none, or when the
    `muxer` (an FFmpeg format name) cannot hold what it writes."""
    if name not in av.codecs_available:
        raise InputError(
            f"unknown codec {name!r}: not an FFmpeg encoder PyAV has "
            "(e.g. libx264, libx265, libvpx-vp9, libsvtav1, ffv1)"
        )
    try:
        codec = av.Codec(name, "w")
    except (ValueError, av.error.FFmpegError):
        raise InputError(f"codec {name!r} has a decoder but no encoder") from None
    if codec.type != "video":
        raise InputError(f"codec {name!r} is an {codec.type} encoder, not a video encoder")
    if muxer is not None:
        with av.open(_NamedBuffer("probe"), "w", format=muxer) as probe:
            supported = probe.supported_codecs
        if name not in supported and codec.canonical_name not in supported:
            raise InputError(f"the {muxer} container cannot hold {name} video; pick another "
                               "--codec or output suffix")  # fmt: skip
    return codec


def auto_codec(output: str | os.PathLike[str], *, gpu: bool) -> str:
    """The encoder `--codec auto` means for `output`: H.264 (h264_nvenc on a GPU when it opens
    here, else libx264) where the container takes it, PNG / JPEG for a still image, else the
    container's own default video encoder."""
    muxer = output_format(output)
    if muxer == "image2":
        return "png" if Path(output).suffix.lower() == ".png" else "mjpeg"
    with av.open(_NamedBuffer("probe"), "w", format=muxer) as probe:
        supported, default = probe.supported_codecs, probe.default_video_codec
    if "h264" in supported:
        return first_working_encoder(["h264_nvenc", "libx264"] if gpu else ["libx264"])
    return av.Codec(default, "w").name


def first_working_encoder(names: Sequence[str]) -> str:
    """The first of `names` that this FFmpeg has and that opens here (a hardware encoder
    such as h264_nvenc is compiled in but fails to open without its GPU: an H100 has no
    NVENC); the last name when none opens (its own error then says why)."""
    for name in names[:-1]:
        if name not in av.codecs_available:
            continue
        ctx = av.CodecContext.create(name, "w")
        ctx.width, ctx.height, ctx.pix_fmt = 256, 144, "yuv420p"
        ctx.time_base = Fraction(1, 25)
        try:
            ctx.open()
        except (av.error.FFmpegError, ValueError):
            log.debug("encoder %s is not usable here", name)
            continue
        return name
    return names[-1]


def _codec_formats(codec: av.Codec) -> list[str]:
    return [f.name for f in codec.video_formats or ()]


def check_pix_fmt(codec: av.Codec, pix_fmt: str | None) -> None:
    """Raises InputError when `pix_fmt` (None: chosen later) is unknown or not the codec's."""
    if pix_fmt is None:
        return
    try:
        av.VideoFormat(pix_fmt)
    except ValueError:
        raise InputError(f"unknown pixel format {pix_fmt!r}") from None
    formats = _codec_formats(codec)
    if formats and pix_fmt not in formats:
        raise InputError(f"{codec.name} cannot encode {pix_fmt}; it takes {', '.join(formats)}")


def source_streams(source: str, muxer: str) -> tuple[tuple[int, ...], Fraction | None]:
    """Indexes of `source`'s audio / subtitle streams `muxer` can hold (others are skipped
    with a warning), and its first video stream's average frame rate (a rate-control hint)."""
    from vidpipe.io.decode_av import open_container

    with av.open(_NamedBuffer("probe"), "w", format=muxer) as probe:
        supported = probe.supported_codecs
    with open_container(source) as container:
        keep = []
        for stream in container.streams:
            if stream.type not in COPY_TYPES:
                continue
            name = stream.codec_context.name
            if name in supported:
                keep.append(stream.index)
            else:
                log.warning("%s: %s stream %d (%s) cannot go into %s; not copied",
                            redact(source), stream.type, stream.index, name, muxer)  # fmt: skip
        video = container.streams.video[0] if container.streams.video else None
        rate = (video.average_rate or video.guessed_rate) if video is not None else None
    return tuple(keep), (Fraction(rate) if rate else None)


# --- encoded pixel format and colour tags ------------------------------------------------


def default_pix_fmt(codec: av.Codec, plane_fmt: str) -> str:
    """The encoder pixel format for frames in `plane_fmt` (a `pixfmt.LAYOUTS` name).

    The frames' own format when the codec takes it (or takes anything); else the same
    layout (planes, chroma subsampling) at the nearest higher, then lower, bit depth;
    else yuv420p; else the codec's first format.
    """
    from vidpipe.pixfmt import LAYOUTS

    formats = _codec_formats(codec)
    if not formats or plane_fmt in formats:
        return plane_fmt
    lay = LAYOUTS[plane_fmt]

    def same_layout(name: str) -> bool:
        other = LAYOUTS.get(name)
        return (
            other is not None
            and not name.startswith("yuvj")
            and (other.planes, other.channels) == (lay.planes, lay.channels)
            and (other.log2_chroma_w, other.log2_chroma_h) == (lay.log2_chroma_w, lay.log2_chroma_h)
        )

    similar = [name for name in formats if same_layout(name)]
    higher = sorted(
        (n for n in similar if LAYOUTS[n].bits >= lay.bits), key=lambda n: LAYOUTS[n].bits
    )
    lower = sorted(
        (n for n in similar if LAYOUTS[n].bits < lay.bits), key=lambda n: -LAYOUTS[n].bits
    )
    for name in (*higher, *lower, "yuv420p"):
        if name in formats:
            return name
    return formats[0]


def color_values(color: ColorInfo) -> dict[str, tuple[int, str]]:
    """(FFmpeg enum value, name) of the known colour fields, by PyAV attribute name."""
    known = ((attr, table.get(getattr(color, field)), getattr(color, field))
             for field, attr, table in _COLOR_FIELDS)  # fmt: skip
    return {attr: (value, name) for attr, value, name in known if value is not None}


# --- the output file ---------------------------------------------------------------------


@contextlib.contextmanager
def open_output(path: Path, plan: Plan) -> Iterator[av.container.OutputContainer]:
    """An output container that is closed (trailer written) only when the body succeeds."""
    opts = {"movflags": "+faststart"} if plan.muxer in FASTSTART_MUXERS else {}
    out = av.open(str(path), "w", format=plan.muxer, options=opts)
    try:
        yield out
    except BaseException:
        with contextlib.suppress(Exception):
            out.close()
        raise
    out.close()
