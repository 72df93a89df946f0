"""FFmpeg command lines as pure argv lists (built with ffmpeg-python), and binary discovery.

Nothing here starts a process: the builders only describe a command, so they are unit-tested
without FFmpeg. `vidpipe.io.decode_ffmpeg` runs what `decode_argv` describes,
`vidpipe.io.encode` what `encode_argv` describes.
"""

from __future__ import annotations

import functools
import logging
import os
import shutil
import signal
import subprocess
from collections.abc import Mapping, Sequence
from fractions import Fraction

import ffmpeg

from vidpipe.errors import FFmpegError, VidpipeError
from vidpipe.io.inputs import check_url, is_device, is_url, open_options

log = logging.getLogger(__name__)

ENV_VAR = "VIDPIPE_FFMPEG"

# Options every vidpipe ffmpeg run gets: no stdin, no banner / progress, info level so that
# the showinfo filter (which logs at info) reaches stderr.
_QUIET_ARGS = ("-nostdin", "-hide_banner", "-nostats", "-loglevel", "info")

# showinfo without checksums (they cost an extra pass over every frame); `checksum` is an
# option of both FFmpeg 5.1 and 9.0. showinfo passes frames through untouched.
SHOWINFO_FILTER = "showinfo=checksum=0"


@functools.cache
def find_ffmpeg() -> str:
    """Path of the ffmpeg binary vidpipe runs (cached for the life of the process).

    Order: the `VIDPIPE_FFMPEG` environment variable, then `ffmpeg` on `PATH`, then the
    binary bundled with the `imageio-ffmpeg` package. Raises `VidpipeError` when none exists.
    """
    from_env = os.environ.get(ENV_VAR)
    if from_env:
        resolved = shutil.which(from_env)
        if resolved is None:
            raise VidpipeError(f"{ENV_VAR}={from_env!r} is not an executable ffmpeg binary")
        return resolved
    on_path = shutil.which("ffmpeg")
    if on_path:
        return on_path
    try:
        import imageio_ffmpeg

        bundled = imageio_ffmpeg.get_ffmpeg_exe()
    except (ImportError, RuntimeError) as exc:
        log.debug("imageio-ffmpeg has no binary: %s", exc)
        bundled = None
    if bundled:
        return bundled
    raise VidpipeError(
        f"ffmpeg not found: install FFmpeg, `pip install imageio-ffmpeg`, or set {ENV_VAR}"
    )


def binary_version(binary: str) -> str:
    """The version an ffmpeg binary reports (`ffmpeg -version`'s first line, third word)."""
    try:
        out = subprocess.run(
            [binary, "-hide_banner", "-version"],
            capture_output=True,
            text=True,
            timeout=30,
            stdin=subprocess.DEVNULL,
        ).stdout
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"unknown ({exc})"
    words = out.split()
    return words[2] if len(words) > 2 and words[0] == "ffmpeg" else "unknown"


def _source_options(source: str) -> dict[str, str]:
    """Input options of the file or URL whose streams an encode copies: a file may only be
    read as a file; a URL gets its scheme's whitelist and I/O timeout (`open_options`)."""
    if not is_url(source):
        return {"protocol_whitelist": "file,pipe"}
    options = open_options(source)
    options.pop("timeout", None)  # RTSP's own: the ffmpeg CLI takes it as an output option
    return options


def decode_argv(
    binary: str,
    path: str,
    *,
    stream_index: int,
    pix_fmt: str,
    demuxer: str | None = None,
    hwaccel: str | None = None,
) -> list[str]:
    """argv decoding stream `stream_index` of the local file (or URL) `path` to raw frames on
    stdout; with `hwaccel` ("cuda") decoded by that `-hwaccel` (frames downloaded to system
    memory, then converted to `pix_fmt` as any).

    stdout carries tightly packed `pix_fmt` frames (FFmpeg's rawvideo layout, one frame after
    another, no header); stderr carries the `showinfo` lines (one per frame, display order)
    that give each frame's pts, picture type, key flag and colour properties.

    Pixels are as stored (`-noautorotate`: rotation stays metadata); timestamps are the
    stream's own (`-copyts`, `-fps_mode passthrough`: no frame is duplicated or dropped).
    Only the `file` protocol may be opened. `path` must be absolute (use `resolve_input`),
    so it can never be read as an option or a protocol; or a URL `resolve_input` allowed,
    opened with its scheme's whitelist. `demuxer` is the input
    format the probe found (PyAV's `container.format.name`); for "image2" (still images) the
    argv names it and adds `-pattern_type none`, so a `%` in the file name is not read as a pattern.
    """
    if not os.path.isabs(path) and not is_url(path):
        raise ValueError(f"decode_argv needs an absolute local path or a URL, got {path!r}")
    if stream_index < 0:
        raise ValueError(f"stream_index must be >= 0, got {stream_index}")
    literal: dict[str, str] = {"f": "image2", "pattern_type": "none"} if demuxer == "image2" else {}
    if is_device(path):
        literal = {"f": "v4l2"}
    # A URL: its `open_options` but no timeouts: at its rw_timeout ffmpeg ends a stalled
    # input as if it were complete (exit 0, fewer frames); the reader's watchdog
    # (`decode_ffmpeg`) bounds every wait instead and kills ffmpeg.
    opens = {"protocol_whitelist": "file"}
    if is_url(path):
        opens = open_options(check_url(path))
        for option in ("rw_timeout", "timeout"):
            opens.pop(option, None)
    hw = {"hwaccel": hwaccel} if hwaccel is not None else {}
    source = ffmpeg.input(path, noautorotate=None, **opens, **literal, **hw)
    # Selecting the input stream makes ffmpeg-python emit `-map 0:{stream_index}`.
    output = source[str(stream_index)].output(
        "pipe:1",
        format="rawvideo",
        pix_fmt=pix_fmt,
        vf=SHOWINFO_FILTER,
        fps_mode="passthrough",
        an=None,
        sn=None,
        dn=None,
    )
    return output.global_args(*_QUIET_ARGS, "-copyts").compile(cmd=binary)


# Options of every encode run: no keyboard interaction (stdin is the video pipe, which
# `-nostdin` does not affect), no banner / progress, warnings and errors only (the last
# stderr line is then the error), and overwrite: the output is always vidpipe's own temporary
# file, reserved (created empty) before ffmpeg starts.
_ENCODE_GLOBAL_ARGS = ("-nostdin", "-hide_banner", "-nostats", "-loglevel", "warning", "-y")


def encode_argv(
    binary: str,
    *,
    output: str,
    source: str | None,
    codec: str,
    pix_fmt: str | None,
    crf: int | None = None,
    preset: str | None = None,
    rotation_keep: int | None = None,
    faststart: bool = False,
    muxer: str,
    time_base: Fraction | None = None,
    display_rotation: bool = True,
    threads: int = 0,
    color: Mapping[str, str] | None = None,
    source_streams: Sequence[int] | None = None,
) -> list[str]:
    """argv encoding a NUT stream read on stdin to `output`, stream-copying `source`'s
    audio and subtitle streams.

    Input 0 is `pipe:0`: NUT with one `rawvideo` stream (per-frame pts in `time_base`, which
    raw video on a pipe could not carry). Input 1 is the local file `source` (None: no second
    input); `source_streams` lists its streams to copy by index (`-map 1:N`), None copies all
    audio and subtitle streams there are (`-map 1:a? -map 1:s?`).

    Timestamps: `-copyts` and `-fps_mode passthrough` keep every frame's pts (nothing shifted,
    duplicated or dropped), and `-enc_time_base:v time_base` makes the encoder count in the
    frames' own time base; without it ffmpeg (5.1 and 9.0) uses 1/frame-rate as guessed from
    the NUT stream and rounds variable-rate timestamps onto that grid.

    Rotation: `rotation_keep` (degrees counter-clockwise, None or 0: none) becomes the
    output's display matrix. With `display_rotation` (FFmpeg >= 6.1 has the input option) it
    is `-display_rotation:v:0 N` on input 0 together with `-noautorotate` (without it ffmpeg
    would rotate the pixels and drop the matrix). Older ffmpeg (5.1) gets the legacy
    `-metadata:s:v:0 rotate=M` tag (clockwise degrees), which FFmpeg 5.1 only honours for
    stream copy: an encoded stream comes out with no rotation, so the caller must check the
    result (vidpipe.io.encode does, and fixes it).

    `output` is the absolute path of the file to write with muxer `muxer` (`-f`, so the name
    may end in anything); `faststart` adds `-movflags +faststart` (MP4/MOV). `crf`, `preset`
    and `threads` (0: ffmpeg's default, auto) are encoder options; `color` maps ffmpeg's
    colour options (`color_range`, `colorspace`, `color_primaries`, `color_trc`) to values.
    Only the `file` and `pipe` protocols may be opened, and for a `source` URL (an opted-in
    network input) its scheme's protocols.
    """
    for name, path in (("output", output), ("source", source)):
        if name == "source" and path is not None and is_url(path):
            check_url(path)  # a network scheme's URL, nothing else
        elif path is not None and not os.path.isabs(path):
            raise ValueError(f"encode_argv needs an absolute local {name} path, got {path!r}")
    video_opts: dict[str, object] = {"noautorotate": None}
    if rotation_keep and display_rotation:
        video_opts["display_rotation:v:0"] = str(rotation_keep)
    video = ffmpeg.input("pipe:0", format="nut", protocol_whitelist="file,pipe", **video_opts)
    streams = [video["v:0"]]
    if source is not None:
        src = ffmpeg.input(source, **_source_options(source))
        if source_streams is None:
            streams += [src["a?"], src["s?"]]
        else:
            streams += [src[str(index)] for index in source_streams]
    opts: dict[str, object] = {"c:v": codec, "c:a": "copy", "c:s": "copy"}
    opts.update(format=muxer, fps_mode="passthrough")
    if pix_fmt is not None:
        opts["pix_fmt"] = pix_fmt
    if crf is not None:
        opts["crf"] = str(crf)
    if preset is not None:
        opts["preset"] = preset
    if threads > 0:
        opts["threads:v"] = str(threads)
    if time_base is not None:
        opts["enc_time_base:v"] = f"{time_base.numerator}/{time_base.denominator}"
    if rotation_keep and not display_rotation:
        opts["metadata:s:v:0"] = f"rotate={(-rotation_keep) % 360}"
    if faststart:
        opts["movflags"] = "+faststart"
    opts.update(color or {})
    out = ffmpeg.output(*streams, output, **opts)
    return out.global_args(*_ENCODE_GLOBAL_ARGS, "-copyts").compile(cmd=binary)


def exit_error(code: int, when: str, stderr_tail: str) -> FFmpegError:
    """The error for ffmpeg's exit `code`: its last stderr line, or, when a signal killed it
    (SIGXFSZ at a file-size limit, the OOM killer's SIGKILL), the signal's name instead."""
    if code >= 0:
        return FFmpegError(f"ffmpeg exited with code {code} {when}", stderr_tail)
    try:
        name = signal.Signals(-code).name
    except ValueError:
        name = f"signal {-code}"
    description = signal.strsignal(-code)
    killed = f"ffmpeg was killed by {name}" + (f" ({description})" if description else "")
    error = FFmpegError(f"{killed} {when}")
    error.stderr_tail = stderr_tail
    return error
