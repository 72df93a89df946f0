"""`scripts/bench.py batch`: `vidpipe batch --task gamma` over 8 similar clips, whole commands
timed, runs interleaved (--jobs 1, --jobs 2, ...), medians reported.

* speed-up: frames per second of `--jobs 2` over `--jobs 1` (each into a fresh OUTDIR);
* resume: a re-run over the finished OUTDIR of `--jobs 2` (every job skipped after its
  outputs' checksums are verified) over that first run's wall time.

The 8 inputs are copies of one H.264 sample (bench.py's cached `--size` x `--seconds` clip
from FFmpeg's lavfi sources, with audio), so the jobs are of equal size; encoding is libx264
veryfast, as in `bench.py ops`.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
from pathlib import Path

import benchlib as common

SPEEDUP_TARGET = common.Target(">=", 1.6)  # --jobs 2 fps over --jobs 1 fps
RERUN_TARGET = common.Target("<=", 0.05)  # re-run over finished work / first run, wall time
CLIPS = 8


def make_inputs(sample: Path, folder: Path, count: int) -> list[Path]:
    """`count` copies of `sample` in `folder` (clip0.mp4, ...)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"clip{i}.mp4" for i in range(count)]
    for path in paths:
        shutil.copyfile(sample, path)
    return paths


def cmd_batch(args: argparse.Namespace) -> dict[str, object]:
    """The `batch` benchmark: worker speed-up and the cost of a re-run over finished work."""
    tools, sample = common.prepare(args)
    cores = os.cpu_count() or 1
    frames = sample.frames * CLIPS
    with tempfile.TemporaryDirectory(prefix="vidpipe-bench-batch-") as tmp:
        root = Path(tmp)
        make_inputs(Path(sample.path), root / "in", CLIPS)

        def argv(jobs: int, out: Path) -> list[str]:
            return [tools["vidpipe"], "-q", "batch", str(root / "in"), "-o", str(out),
                    "--task", "gamma", "--gamma", "2.2", "--codec", "libx264",
                    "--preset", "veryfast", "--jobs", str(jobs)]  # fmt: skip

        for jobs in (1, 2):
            print(f"--jobs {jobs}: `{' '.join(argv(jobs, root / 'out'))}`", flush=True)

        busy: dict[int, list[float]] = {1: [], 2: []}  # CPU time / (wall x cores) per run

        def fresh(jobs: int) -> float:
            out = root / f"out{jobs}"
            shutil.rmtree(out, ignore_errors=True)
            run = common.run_child(argv(jobs, out))
            busy[jobs].append(run.cpu_s / (run.wall_s * cores))
            return run.wall_s

        one, two, rerun = common.interleaved(
            [lambda: frames / fresh(1), lambda: frames / fresh(2),
             lambda: common.timed_run(argv(2, root / "out2"))],
            args.repeat,
            "fps --jobs 1, fps --jobs 2, re-run s",
        )  # fmt: skip
    first = [frames / fps for fps in two]
    # One job's CPU share bounds what more jobs can add: at most 1 / busy(--jobs 1).
    for jobs, shares in busy.items():
        print(f"--jobs {jobs}: CPU busy {statistics.median(shares):.0%} of {cores} cores")
    print(f"speed-up ceiling on these cores: {1 / statistics.median(busy[1]):.2f}")
    rows = [
        common.Measurement(f"batch gamma fps, --jobs 2 over --jobs 1 ({CLIPS} clips)", "fps",
                           two, one, SPEEDUP_TARGET),
        common.Measurement("batch re-run over finished work vs first run (--jobs 2)", "s",
                           rerun, first, RERUN_TARGET),
    ]  # fmt: skip
    return {"sample": sample.path, "clips": CLIPS, "cores": cores,
            "cpu_busy": {str(j): shares for j, shares in busy.items()},
            "measurements": rows}  # fmt: skip


def add_batch_parser(sub: argparse._SubParsersAction) -> None:
    """The `batch` subcommand's options."""
    parser = sub.add_parser("batch", help="vidpipe batch --jobs 2 vs --jobs 1, and a re-run")
    common.add_common(parser, repeat=1)
    parser.set_defaults(seconds=12.0, size=(640, 360), func=cmd_batch)
