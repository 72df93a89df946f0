"""Maintainer benchmarks: vidpipe against a peer tool, both measured in the same run.

Every figure is a ratio to a peer (ffprobe, ffmpeg) timed on the same machine in the same
run, with the runs of the two interleaved (peer, ours, peer, ours, ...) so that drift in a
noisy machine's load hits both sides alike. The median of ``--repeat`` runs is reported.
These are scripts a maintainer runs by hand, never unit tests; the exit code is 0 whether
or not a target is met, and 1 only when something failed to run.

Usage::

    python scripts/bench.py frames [--seconds 60] [--size 1920x1080] [--repeat 3]
                                   [--media DIR] [--json OUT]

``frames`` makes (once, cached in ``bench_media/``) a long H.264 sample from FFmpeg's lavfi
sources and times ``vidpipe frames`` against ``ffprobe -show_frames`` and vidpipe's decoders
against ``ffmpeg -f null``. The ffmpeg binary is the one vidpipe itself runs
(``vidpipe.io.ffmpeg_cmd.find_ffmpeg``); ffprobe is the one beside it, else the one on PATH.
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
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

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


@dataclass
class Measurement:
    """One row of the table: per-run figures of ours and the peer (seconds or fps)."""

    name: str
    unit: str  # "s" (lower is better) or "fps" (higher is better)
    ours: list[float]
    peer: list[float]
    target: Target | None = None

    @property
    def ratio(self) -> float:
        peer = statistics.median(self.peer)
        return statistics.median(self.ours) / peer if peer else math.inf

    @property
    def result(self) -> str:
        if self.target is None:
            return "info"
        return "PASS" if self.target.met(self.ratio) else "FAIL"

    def as_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "unit": self.unit,
            "ours_median": statistics.median(self.ours),
            "peer_median": statistics.median(self.peer),
            "ratio": self.ratio,
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
    duration_s: float
    size_bytes: int
    streams: str  # e.g. "h264 video, aac audio"


# ---------------------------------------------------------------------------- running tools


def run_tool(argv: Sequence[str], *, capture: bool = False) -> str:
    """Run `argv` (never through a shell); return its stdout when `capture`, else "".

    stdout goes to /dev/null unless captured; stderr is collected for the error message.
    Raises BenchError when the tool cannot start, times out or exits non-zero.
    """
    out = subprocess.PIPE if capture else subprocess.DEVNULL
    try:
        proc = subprocess.run(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.PIPE,
            timeout=RUN_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise BenchError(f"cannot run {shlex.join(argv)}: {exc}") from None
    if proc.returncode != 0:
        lines = proc.stderr.decode(errors="replace").strip().splitlines()
        tail = lines[-1] if lines else "(no error output)"
        raise BenchError(f"{shlex.join(argv)} exited {proc.returncode}: {tail}")
    return proc.stdout.decode() if capture else ""


def timed_run(argv: Sequence[str]) -> float:
    """Wall-clock seconds of one run of `argv`, stdout to /dev/null."""
    start = time.perf_counter()
    run_tool(argv)
    return time.perf_counter() - start


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


def ensure_sample(ffmpeg: str, media: Path, size_wh: tuple[int, int], seconds: float) -> Path:
    """The cached long sample for these settings, made first when missing."""
    stem = f"h264_{size_wh[0]}x{size_wh[1]}_{RATE}fps"
    sample = media / f"{stem}_{seconds:g}s.mp4"
    if sample.is_file():
        print(f"sample: {_rel(sample)} (cached)")
        return sample
    media.mkdir(parents=True, exist_ok=True)
    segment = media / f"{stem}_{SEGMENT_SECONDS}s_segment.mp4"
    start = time.perf_counter()
    if not segment.is_file():
        encode_segment(ffmpeg, segment, size_wh)
    loop_segment(ffmpeg, segment, sample, seconds)
    print(f"sample: {_rel(sample)} (made in {time.perf_counter() - start:.1f} s)")
    return sample


def describe_sample(ffprobe: str, path: Path) -> SampleInfo:
    """Stream layout, size and frame counts of `path`, from ffprobe (no decoding)."""
    base = [ffprobe, "-v", "error", "-of", "json"]
    report = json.loads(
        run_tool(
            [*base, "-count_packets", "-show_entries",
             "stream=codec_type,codec_name,width,height,nb_read_packets:format=duration,size",
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
        duration_s=float(report["format"]["duration"]),
        size_bytes=int(report["format"]["size"]),
        streams=", ".join(f"{s.get('codec_name')} {s.get('codec_type')}" for s in streams),
    )


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
    ffmpeg = find_ffmpeg()
    ffprobe = find_ffprobe(ffmpeg)
    vidpipe = find_vidpipe()
    path = ensure_sample(ffmpeg, args.media, args.size, args.seconds)
    sample = describe_sample(ffprobe, path)
    print(
        f"  {sample.frames} frames ({sample.key_frames} key), {sample.width}x{sample.height}, "
        f"{sample.duration_s:.2f} s, {sample.size_bytes / 1e6:.1f} MB, {sample.streams}"
    )
    tools = {"ffmpeg": ffmpeg, "ffprobe": ffprobe, "vidpipe": vidpipe}
    for name, exe in tools.items():
        version = "" if name == "vidpipe" else f" ({tool_version(exe)})"
        print(f"{name}: {exe}{version}")
    rows = bench_listing(vidpipe, ffprobe, sample.path, args.repeat)
    rows += bench_decode(ffmpeg, sample, args.repeat)
    return {"sample": asdict(sample), "tools": tools, "measurements": rows}


def add_frames_parser(sub: argparse._SubParsersAction) -> None:
    """The `frames` subcommand's options."""
    parser = sub.add_parser("frames", help="frame listing and decode speed vs ffprobe/ffmpeg")
    parser.add_argument(
        "--seconds", type=_positive(float), default=60.0, help="sample length (default 60)"
    )
    parser.add_argument(
        "--size", type=_size_wh, default=(1920, 1080), help="sample WxH (default 1920x1080)"
    )
    _add_common(parser)
    parser.set_defaults(func=cmd_frames)


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


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--repeat", type=_positive(int), default=3, help="runs of each side (default 3)"
    )
    parser.add_argument(
        "--media", type=Path, default=MEDIA_DIR, help="sample cache (default bench_media/)"
    )
    parser.add_argument(
        "--json", dest="json_out", type=Path, metavar="OUT", help="also write figures as JSON"
    )


def print_table(rows: Sequence[Measurement]) -> None:
    """measurement | ours | peer | ratio | target | result, medians of the runs."""
    width = max(len("measurement"), *(len(r.name) for r in rows))
    head = f"{'measurement':<{width}}  {'ours':>12}  {'peer':>12}  {'ratio':>6}  {'target':>7}"
    print(f"\n{head}  result")
    for r in rows:
        ours, peer = (_fmt(statistics.median(v), r.unit) for v in (r.ours, r.peer))
        target = "-" if r.target is None else str(r.target)
        cells = f"{ours:>12}  {peer:>12}  {r.ratio:>6.3f}  {target:>7}"
        print(f"{r.name:<{width}}  {cells}  {r.result}")


def _fmt(value: float, unit: str) -> str:
    return f"{value:.3f} s" if unit == "s" else f"{value:.1f} fps"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="BENCHMARK")
    add_frames_parser(sub)
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
