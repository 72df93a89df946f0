"""FFmpeg command lines as pure argv lists (built with ffmpeg-python), and binary discovery.

Nothing here starts a process: the builders only describe a command, so they are unit-tested
without FFmpeg. `vidpipe.io.decode_ffmpeg` runs what `decode_argv` describes.
"""

from __future__ import annotations

import functools
import logging
import os
import shutil

import ffmpeg

from vidpipe.errors import VidpipeError

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


def decode_argv(binary: str, path: str, *, stream_index: int, pix_fmt: str) -> list[str]:
    """argv decoding stream `stream_index` of the local file `path` to raw frames on stdout.

    stdout carries tightly packed `pix_fmt` frames (FFmpeg's rawvideo layout, one frame after
    another, no header); stderr carries the `showinfo` lines (one per frame, display order)
    that give each frame's pts, picture type, key flag and colour properties.

    Pixels are as stored (`-noautorotate`: rotation stays metadata); timestamps are the
    stream's own (`-copyts`, `-fps_mode passthrough`: no frame is duplicated or dropped).
    Only the `file` protocol may be opened. `path` must be absolute (use `resolve_input`),
    so it can never be read as an option or a protocol.
    """
    if not os.path.isabs(path):
        raise ValueError(f"decode_argv needs an absolute local path, got {path!r}")
    if stream_index < 0:
        raise ValueError(f"stream_index must be >= 0, got {stream_index}")
    source = ffmpeg.input(path, protocol_whitelist="file", noautorotate=None)
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
