"""FFmpeg-subprocess decoding backend: raw frames from a pipe, metadata from showinfo.

`decode_ffmpeg` runs the command `vidpipe.io.ffmpeg_cmd.decode_argv` describes. Pixels come
on stdout as tightly packed frames of `canonical_pix_fmt(source_pix_fmt)`; per-frame metadata
(pts, picture type, key flag, colour properties) comes on stderr as the `showinfo` filter's
lines, which a `LineDrain` thread parses (`ShowinfoParser`, `vidpipe.io.showinfo`) and queues.
The two channels are matched frame by frame (showinfo's `n` is the display-order index) and
checked to agree; the container is demuxed alongside for indexes, key flags and packet sizes.

The generator owns the process: closing it early (break, `.close()`, an error downstream,
Ctrl-C) terminates ffmpeg, reaps it, closes the pipes and joins the drain thread.
"""

from __future__ import annotations

import functools
import logging
import shlex
import subprocess
from collections.abc import Callable, Iterator
from fractions import Fraction
from typing import IO

from vidpipe.errors import FFmpegError, InputError
from vidpipe.io.damage import DecodeStats, check_damage
from vidpipe.io.ffmpeg_cmd import decode_argv, exit_error, find_ffmpeg
from vidpipe.io.hwaccel import use_cuda
from vidpipe.io.inputs import NETWORK_TIMEOUT_S, is_stream, redact
from vidpipe.io.packets import StreamPackets
from vidpipe.io.probe import open_container
from vidpipe.io.showinfo import ShowinfoFrame, ShowinfoParser, frame_color
from vidpipe.pixfmt import canonical_pix_fmt, frame_nbytes, split_planes
from vidpipe.runtime.signals import interrupts_held
from vidpipe.runtime.threads import LineDrain
from vidpipe.runtime.watchdog import Watchdog
from vidpipe.types import ColorInfo, Frame

log = logging.getLogger(__name__)

_PIPE_BYTES = 1 << 20  # stdout pipe / read buffer we ask for
_POLL_S = 0.2  # how often a wait for metadata checks on the process
_META_TIMEOUT_S = 60.0  # longest wait for a frame's metadata while ffmpeg runs
_EXITED_GRACE_S = 5.0  # ... and once ffmpeg has exited
_EXIT_TIMEOUT_S = 60.0  # wait for ffmpeg to exit after its stdout ended
_TERM_GRACE_S = 2.0  # after SIGTERM, before SIGKILL
_JOIN_TIMEOUT_S = 5.0


def _read_exact(stream: IO[bytes], view: memoryview) -> int:
    """Fill `view` from `stream`; returns the bytes read (fewer only at EOF)."""
    got = 0
    while got < len(view):
        n = stream.readinto(view[got:])  # type: ignore[attr-defined]
        if not n:
            break
        got += n
    return got


def _grow_pipe(stream: IO[bytes]) -> None:
    """Best effort: enlarge the kernel pipe buffer (Linux) so ffmpeg blocks less often."""
    try:
        import fcntl

        fcntl.fcntl(stream.fileno(), fcntl.F_SETPIPE_SZ, _PIPE_BYTES)
    except (ImportError, AttributeError, OSError) as exc:
        log.debug("pipe size unchanged: %s", exc)


def _next_meta(
    proc: subprocess.Popen[bytes], drain: LineDrain[ShowinfoFrame], count: int
) -> ShowinfoFrame | None:
    """The metadata of frame `count`, waiting while ffmpeg runs (a bounded wait); None when
    ffmpeg's log has ended (no more frames). showinfo logs a frame before ffmpeg writes its
    pixels, so the metadata says how many bytes to read."""
    waited = 0.0
    while True:
        try:
            return drain.get(timeout=_POLL_S)
        except TimeoutError:
            waited += _POLL_S
        except EOFError:
            return None
        limit = _EXITED_GRACE_S if proc.poll() is not None else _META_TIMEOUT_S
        if waited >= limit:
            message = f"no showinfo metadata for frame {count} after {waited:.0f} s"
            raise FFmpegError(message, drain.tail())


def _check_meta(meta: ShowinfoFrame, count: int, drain: LineDrain[ShowinfoFrame]) -> Fraction:
    """The frame's time base; raise FFmpegError when showinfo's count disagrees with ours."""
    if meta.index != count:
        raise FFmpegError(f"frame count mismatch: pixels of frame {count}, showinfo n={meta.index}")
    if meta.time_base is None:
        raise FFmpegError("showinfo printed no time base", drain.tail())
    return meta.time_base


def _end_of_stream(
    proc: subprocess.Popen[bytes], drain: LineDrain[ShowinfoFrame], count: int
) -> None:
    """After ffmpeg's last frame: wait for it to exit, and check its exit code."""
    try:
        code = proc.wait(timeout=_EXIT_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise FFmpegError("ffmpeg closed its output but did not exit", drain.tail()) from None
    if code != 0:
        raise exit_error(code, f"after {count} frames", drain.final_tail(_EXITED_GRACE_S))


def _shutdown(proc: subprocess.Popen[bytes], drain: LineDrain[ShowinfoFrame] | None) -> None:
    """Stop ffmpeg if it still runs, reap it, join the drain thread, close the pipes."""
    if proc.stdout is not None:
        proc.stdout.close()  # a writer blocked on a full pipe gets EPIPE and exits
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=_TERM_GRACE_S)
        except subprocess.TimeoutExpired:
            log.warning("ffmpeg (pid %d) ignored SIGTERM; killing it", proc.pid)
            proc.kill()
            proc.wait()
    if drain is not None:
        drain.join(timeout=_JOIN_TIMEOUT_S)
    if proc.stderr is not None:
        proc.stderr.close()


def _start(argv: list[str]) -> subprocess.Popen[bytes]:
    log.debug("running %s", shlex.join(argv))
    try:
        return subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            bufsize=_PIPE_BYTES,
        )
    except OSError as exc:
        raise FFmpegError(f"cannot run {argv[0]}: {exc}") from exc


def decode_ffmpeg(
    path: str,
    *,
    stream_index: int,
    width: int,
    height: int,
    source_pix_fmt: str,
    rotation: int = 0,
    color: ColorInfo | None = None,
    stats: DecodeStats | None = None,
    demuxer: str | None = None,
    timeout_s: float | None = None,
    hwaccel: str = "auto",
) -> Iterator[Frame]:
    """Decode video stream `stream_index` of the local file `path` with an ffmpeg subprocess.

    `path` is the absolute path from `resolve_input`; `width` x `height` and `source_pix_fmt`
    are the stream's (from the probe). Yields `Frame`s in display order, pixels as stored (no
    rotation applied; `rotation` is copied to each frame), in `canonical_pix_fmt(source_pix_fmt)`:
    planes as `plane_shapes` says, e.g. yuv420p -> Y `[H, W]`, U and V `[ceil(H/2), ceil(W/2)]`
    uint8; >8-bit -> little-endian uint16; rgb24 -> one `[H, W, 3]` uint8. Each frame owns
    its arrays, sized as the decoder outputs them (showinfo's `s:`; a Theora picture at an odd
    offset decodes wider than its header says). `pts` (ffmpeg's best-effort timestamp),
    `time_base`, `pict_type` and colour come from showinfo (colour fields it reports as
    unknown are taken from `color`); `index`, `key_frame` and `pkt_size` from the container,
    demuxed alongside (`StreamPackets`), as the PyAV backend takes them.

    Damage is counted in `stats` (see `check_damage`): undecodable packets from ffmpeg's log,
    truncation from the demuxer. `demuxer` is the probe's container format (`decode_argv`).
    Raises FFmpegError (with the tail of ffmpeg's stderr) when ffmpeg fails, its output ends
    inside a frame, or its pixels and metadata disagree.

    A URL (allowed by `resolve_input`) is read by ffmpeg alone, nothing demuxed alongside (a
    live stream cannot be opened twice alike): indexes are showinfo's display-order count,
    key flags the decoder's, `pkt_size` None. No frame for `timeout_s` seconds ends it with
    an InputError (ffmpeg killed); ffmpeg failing on it is an InputError too.

    `hwaccel` ("auto", "none", "cuda"; `vidpipe.io.hwaccel`): decoding on CUDA runs ffmpeg
    with `-hwaccel cuda`, which downloads the frames; they come in the same pix_fmt.
    """
    if width <= 0 or height <= 0:
        raise ValueError(f"frame size must be positive, got {width}x{height}")
    stats = stats if stats is not None else DecodeStats()
    pix_fmt = canonical_pix_fmt(source_pix_fmt)
    url = path if is_stream(path) else None
    argv = decode_argv(find_ffmpeg(), path, stream_index=stream_index, pix_fmt=pix_fmt,
                       demuxer=demuxer, hwaccel="cuda" if use_cuda(hwaccel) else None)  # fmt: skip
    if url is not None:
        pipe = functools.partial(_decode_pipe, argv, path, width, height, pix_fmt, rotation,
                                 color, stats, None)  # fmt: skip
        yield from _decode_url(pipe, url, timeout_s or NETWORK_TIMEOUT_S)
        return
    container = open_container(path)
    try:
        packets = StreamPackets(container, container.streams[stream_index], stats)
        if packets.dts_only:
            packets.order.ordinal_mode = True  # its pts name no packet: nothing to look up
        frames = _decode_pipe(argv, path, width, height, pix_fmt, rotation, color, stats,
                              packets)  # fmt: skip
        try:
            yield from frames
        finally:
            frames.close()
            packets.close()
    finally:
        container.close()


def _decode_url(
    pipe: Callable[[Watchdog], Iterator[Frame]], url: str, timeout_s: float
) -> Iterator[Frame]:
    """`_decode_pipe` (`pipe`, given the watchdog) on a URL under a `Watchdog`: when ffmpeg
    gives no frame for `timeout_s` seconds (its input silent or stalled; the time the
    consumer holds a frame not counted) ffmpeg is killed and InputError says it timed out.
    ffmpeg failing on the URL is an InputError too, its credentials hidden."""
    dog = Watchdog(timeout_s, lambda: None, name="ffmpeg-url-watchdog")
    count = 0
    with dog:
        frames = pipe(dog)
        try:
            for frame in frames:
                dog.pause()
                yield frame
                dog.feed()
                count += 1
        except FFmpegError as err:
            if not dog.expired:
                raise InputError(str(err).replace(url, redact(url))) from None
        finally:
            frames.close()
    if dog.expired:
        what = "opening it" if count == 0 else f"frame {count}"
        raise InputError(f"{redact(url)}: timed out after {timeout_s:g} s waiting for {what}")


def _decode_pipe(
    argv: list[str],
    path: str,
    width: int,
    height: int,
    pix_fmt: str,
    rotation: int,
    color: ColorInfo | None,
    stats: DecodeStats,
    packets: StreamPackets | None,
    dog: Watchdog | None = None,
) -> Iterator[Frame]:
    """Run `argv`, pair its pixels with its showinfo lines and the container's `packets`
    (None for a URL: showinfo's facts alone), yield the `Frame`s; ffmpeg ended in finally.
    `dog`, when given, is made to kill ffmpeg when it expires."""
    proc: subprocess.Popen[bytes] | None = None
    drain: LineDrain[ShowinfoFrame] | None = None
    try:
        with interrupts_held():  # Ctrl-C until `proc` is set would leave ffmpeg running
            proc = _start(argv)
        if dog is not None:
            dog.on_expire = proc.kill
        assert proc.stdout is not None and proc.stderr is not None
        _grow_pipe(proc.stdout)
        parser = ShowinfoParser(stats, path=path)
        drain = LineDrain(
            proc.stderr, parser.feed, finish=parser.finish, name=f"ffmpeg-stderr-{proc.pid}"
        )
        count, last_index = 0, -1
        buf = memoryview(bytearray(0))
        while (meta := _next_meta(proc, drain, count)) is not None:
            time_base = _check_meta(meta, count, drain)
            size_wh = meta.size_wh or (width, height)
            if len(buf) != (nbytes := frame_nbytes(pix_fmt, *size_wh)):
                buf = memoryview(bytearray(nbytes))
            got = _read_exact(proc.stdout, buf)
            if got != nbytes:
                _end_of_stream(proc, drain, count)
                if not got:
                    message = f"frame count mismatch: no pixels for frame {count} of the log"
                    raise FFmpegError(message)
                raise FFmpegError(f"ffmpeg output ended inside frame {count} ({got} bytes)")
            facts = None if packets is None else packets.lookup(meta.pts)
            if packets is not None:
                packets.keep_ahead(count)
            if facts is not None and facts.index > last_index:
                last_index = facts.index
            else:
                last_index += 1
            yield Frame(
                planes=tuple(p.copy() for p in split_planes(buf, pix_fmt, *size_wh)),
                pix_fmt=pix_fmt,
                index=last_index,
                pts=meta.pts,
                time_base=time_base,
                pict_type=meta.pict_type,
                key_frame=facts.key if facts is not None else meta.key_frame or _all_key(packets),
                color=frame_color(meta, color),
                pkt_size=facts.size if facts is not None else None,
                rotation=rotation,
            )
            count += 1
        _end_of_stream(proc, drain, count)
        if proc.stdout.read(1):
            message = f"frame count mismatch: pixels after frame {count}, the last in the log"
            raise FFmpegError(message)
        log.debug("ffmpeg decoded %d frames of %s", count, redact(path))
        if packets is not None:
            packets.drain()
        check_damage(redact(path), stats)
    finally:
        if proc is not None:
            _shutdown(proc, drain)


def _all_key(packets: StreamPackets | None) -> bool:
    return packets is not None and packets.all_key
