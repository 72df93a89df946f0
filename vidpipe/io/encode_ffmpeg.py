"""FFmpeg-subprocess encoder writer: frames to an ffmpeg child as NUT on its stdin.

`write_ffmpeg` runs the command `vidpipe.io.ffmpeg_cmd.encode_argv` describes. Raw video
carries no timestamps on a pipe, so the frames go to ffmpeg's stdin as NUT (`rawvideo` with
the frames' pts and time base) and the source file is its second input, for the audio /
subtitle stream copies. stderr is drained on a `LineDrain` thread and its tail goes into the
FFmpegError raised when ffmpeg fails. `check_ffmpeg_encoder` asks the binary (once) which
encoders it has. An ffmpeg < 6.1 cannot write a display matrix; the file is then remuxed by
stream copy with it.

The writer owns the process: on success or any failure (an exception, Ctrl-C, ffmpeg
exiting early) ffmpeg is killed if still running and reaped, the pipes closed and the drain
thread joined (a signal's KeyboardInterrupt is held off while ffmpeg starts and while PyAV
writes to its pipe). An ffmpeg killed by a signal (SIGXFSZ at a file-size limit) is reported
by the signal's name. `vidpipe.io.encode` plans the stream and owns the temporary file.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import shlex
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import av

from vidpipe.errors import FFmpegError, VidpipeError
from vidpipe.io.encode_options import EncodeOptions
from vidpipe.io.ffmpeg_cmd import encode_argv, exit_error, find_ffmpeg
from vidpipe.io.output import COPY_TYPES, FASTSTART_MUXERS, Plan, color_values, open_output
from vidpipe.runtime.files import remove_temp, reserve_temp
from vidpipe.runtime.signals import interrupts_held
from vidpipe.runtime.threads import LineDrain

log = logging.getLogger(__name__)

_EXITED_GRACE_S = 5.0  # wait for ffmpeg to exit after it stopped reading its input
_JOIN_TIMEOUT_S = 5.0
_CAPS_TIMEOUT_S = 30.0


class _Caps(NamedTuple):
    """What an ffmpeg binary can do: the `-display_rotation` input option (FFmpeg >= 6.1),
    and the names of its encoders."""

    display_rotation: bool
    encoders: frozenset[str]


@functools.cache
def _ffmpeg_caps(binary: str) -> _Caps:
    """The `_Caps` of an ffmpeg binary (asked once per binary and process)."""
    try:
        help_text, listing = (
            subprocess.run([binary, "-hide_banner", *args], capture_output=True, text=True,
                           timeout=_CAPS_TIMEOUT_S, check=False).stdout
            for args in (["-h", "long"], ["-encoders"])
        )  # fmt: skip
    except (OSError, subprocess.SubprocessError) as exc:
        raise FFmpegError(f"cannot run {binary}: {exc}") from exc
    rows = (row.split() for row in listing.split("------", 1)[-1].splitlines())
    encoders = frozenset(r[1] for r in rows if len(r) >= 2 and len(r[0]) == 6)
    return _Caps("-display_rotation" in help_text, encoders)


def check_ffmpeg_encoder(codec: str) -> None:
    """Raises VidpipeError when the ffmpeg binary `find_ffmpeg` picks has no encoder `codec`
    (FFmpegError when it cannot be run)."""
    binary = find_ffmpeg()
    if codec not in _ffmpeg_caps(binary).encoders:
        raise VidpipeError(f"{binary} has no encoder {codec!r}")


def _no_items(line: str) -> tuple[()]:
    return ()


def write_ffmpeg(
    frames: Iterator[av.VideoFrame], tmp: Path, plan: Plan, source: str, options: EncodeOptions
) -> int:
    """Feed NUT on an ffmpeg's stdin; raise FFmpegError (stderr tail) when it fails."""
    binary = find_ffmpeg()
    display_rotation = _ffmpeg_caps(binary).display_rotation
    argv = encode_argv(
        binary,
        output=str(tmp),
        source=source if plan.copy_streams else None,
        source_streams=plan.copy_streams,
        codec=plan.codec,
        pix_fmt=plan.pix_fmt,
        crf=options.crf,
        preset=options.preset,
        rotation_keep=plan.rotation or None,
        display_rotation=display_rotation,
        faststart=plan.muxer in FASTSTART_MUXERS,
        muxer=plan.muxer,
        time_base=plan.time_base,
        threads=options.threads,
        color={a: {"gbr": "rgb"}.get(n, n) for a, (_v, n) in color_values(plan.color).items()},
    )
    log.debug("running %s", shlex.join(argv))
    proc: subprocess.Popen[bytes] | None = None
    drain: LineDrain[Any] | None = None
    nut: av.container.OutputContainer | None = None
    try:
        with interrupts_held():  # Ctrl-C until `proc` is set would leave ffmpeg running
            proc = _start(argv)
        assert proc.stdin is not None and proc.stderr is not None
        drain = LineDrain(proc.stderr, _no_items, name=f"ffmpeg-encode-stderr-{proc.pid}")
        nut = av.open(proc.stdin, "w", format="nut")
        count = _feed_nut(nut, frames, plan, proc, drain)
        nut = None  # closed by _feed_nut
        code = proc.wait()
        if code != 0:
            raise exit_error(code, f"after {count} frames", drain.final_tail(_JOIN_TIMEOUT_S))
    finally:
        if proc is not None:
            _shutdown(proc, drain, nut)
    if plan.rotation and _read_rotation(tmp) != plan.rotation:
        log.info("%s wrote no display matrix; adding it by a stream-copy remux", binary)
        _remux_with_rotation(tmp, plan)
    return count


def _start(argv: list[str]) -> subprocess.Popen[bytes]:
    try:
        return subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
    except OSError as exc:
        raise FFmpegError(f"cannot run {argv[0]}: {exc}") from exc


def _feed_nut(
    nut: av.container.OutputContainer,
    frames: Iterator[av.VideoFrame],
    plan: Plan,
    proc: subprocess.Popen[bytes],
    drain: LineDrain[Any],
) -> int:
    """Mux the frames as rawvideo into NUT (pts kept), close it and ffmpeg's stdin.

    Raises FFmpegError when ffmpeg stops reading (it exited: the pipe broke)."""
    stream = nut.add_stream("rawvideo")
    stream.width, stream.height = plan.size_wh
    stream.pix_fmt = plan.pix_fmt
    stream.codec_context.time_base = plan.time_base
    stream.time_base = plan.time_base
    if plan.rate:
        stream.codec_context.framerate = plan.rate
    count = 0
    try:
        for av_frame in frames:
            with interrupts_held():  # PyAV's write callback would swallow a KeyboardInterrupt
                nut.mux(stream.encode(av_frame))
            count += 1
        with interrupts_held():
            nut.mux(stream.encode(None))
            nut.close()
        assert proc.stdin is not None
        proc.stdin.close()
    except BrokenPipeError as exc:
        try:
            code = proc.wait(timeout=_EXITED_GRACE_S)
        except subprocess.TimeoutExpired:
            raise exc from None
        tail = drain.final_tail(_JOIN_TIMEOUT_S)
        raise exit_error(code, f"after reading {count} frames", tail) from exc
    return count


def _shutdown(
    proc: subprocess.Popen[bytes],
    drain: LineDrain[Any] | None,
    nut: av.container.OutputContainer | None,
) -> None:
    """Kill ffmpeg if it still runs and reap it; close the NUT muxer and the pipes; join the
    stderr drain. On success everything has already ended and this only tidies up."""
    if proc.poll() is None:
        log.debug("killing ffmpeg (pid %d)", proc.pid)
        proc.kill()
        proc.wait()
    if nut is not None:
        with contextlib.suppress(Exception):  # its trailer goes nowhere now
            nut.close()
    for pipe in (proc.stdin, proc.stderr):
        if pipe is not None:
            with contextlib.suppress(OSError):
                pipe.close()
    if drain is not None:
        drain.join(timeout=_JOIN_TIMEOUT_S)


def _read_rotation(path: Path) -> int:
    """Display rotation (degrees counter-clockwise) of the first video frame of `path`."""
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            return round(frame.rotation or 0) % 360
    return 0


def _remux_with_rotation(tmp: Path, plan: Plan) -> None:
    """Rewrite `tmp` by stream copy with `plan.rotation` as the video's display matrix.

    Needed for ffmpeg < 6.1, which has no `-display_rotation` and drops the legacy
    `rotate` tag when it encodes (FFmpeg 5.1 honours that tag only for stream copy)."""
    fixed = reserve_temp(tmp)
    try:
        with av.open(str(tmp)) as src, open_output(fixed, plan) as out:
            streams = [s for s in src.streams if s.type in ("video", *COPY_TYPES)]
            mapping = {s.index: out.add_stream_from_template(s) for s in streams}
            mapping[src.streams.video[0].index].set_display_rotation(plan.rotation)
            for packet in src.demux(*streams):
                if packet.dts is None and packet.pts is None:
                    continue
                packet.stream = mapping[packet.stream.index]
                out.mux(packet)
        os.replace(fixed, tmp)
    except BaseException:
        remove_temp(fixed)
        raise
