"""Long runs: memory, open files and threads do not grow with the length of the video, nor
from one run to the next.

* Fast (CI): repeated in-process runs of `vidpipe.cli.main.main` (`gamma` and `detect`, both
  decoders and both encoders) leave the process with the open file descriptors, threads and
  child processes it had after the first run.
* Slow (`python -m pytest -m slow tests/hardening/test_long_runs.py`, a few minutes): a
  10-minute clip made with ffmpeg's lavfi (160x120, 10 fps, with audio) through `gamma -o`
  and `detect -o` in a subprocess: its peak RSS stays within 1.2x of a 30-second clip's, and
  its open file descriptors and threads, sampled through the run, do not grow.
"""

from __future__ import annotations

import gc
import os
import re
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from conftest import FFMPEG, NANO_ONNX, ffprobe_json, make_clip, needs_ffmpeg_cli
from test_interrupts import children, vidpipe_env

from vidpipe.cli.main import main

needs_model = pytest.mark.skipif(not NANO_ONNX.is_file(), reason=f"no model at {NANO_ONNX}")


def open_fds() -> list[str]:
    """What this process's file descriptors point at (the listing's own fd included)."""
    fds = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            fds.append(os.readlink(f"/proc/self/fd/{fd}"))
        except OSError:
            continue  # the listing's own descriptor, closed by now
    return sorted(fds)


def os_threads() -> int:
    """Threads of this process as the kernel counts them (native pools included)."""
    return len(os.listdir("/proc/self/task"))


# --- fast: repeated in-process runs --------------------------------------------------------


@needs_model
def test_repeated_runs_leave_no_files_threads_or_processes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VIDPIPE_MODEL_DIR", vidpipe_env()["VIDPIPE_MODEL_DIR"])
    clip = make_clip(tmp_path / "short.mp4", frames=24, size_wh=(160, 120), audio=True)
    out = tmp_path / "out"
    out.mkdir()
    commands = [
        ["gamma", str(clip), "-o", str(out / "g.mp4"), "-g", "2"],
        ["gamma", str(clip), "-o", str(out / "g.mkv"), "-g", "0.5", "--on", "rgb",
         "--backend", "ffmpeg", "--writer", "ffmpeg"],
        ["detect", str(clip), "-o", str(out / "d.mp4"), "--json", str(out / "d.jsonl")],
        ["detect", str(clip), "-o", str(out / "t.mkv"), "--engine", "torch", "--batch", "4",
         "--backend", "ffmpeg", "--writer", "ffmpeg"],
    ]  # fmt: skip

    def run_all() -> tuple[Counter[str], int, Counter[str], set[int]]:
        for argv in commands:
            assert main(["-q", *argv, "--overwrite"]) == 0, argv
        gc.collect()  # what earlier tests left for the collector goes now, not mid-comparison
        names = Counter(t.name for t in threading.enumerate())
        return Counter(open_fds()), os_threads(), names, set(children(os.getpid()))

    fds, tasks, names, kids = run_all()  # the first run starts the lasting pools (tqdm, ort)
    assert not [n for n in names if n.startswith(("vidpipe", "ffmpeg"))], names
    assert not [f for f in fds if str(tmp_path) in f], fds
    for _ in range(2):
        again = run_all()
        # Nothing new (what other tests left behind may still go away meanwhile).
        assert not again[0] - fds, f"open file descriptors left behind: {again[0] - fds}"
        assert again[1] <= tasks, f"{again[1]} threads, {tasks} after the first run"
        assert not again[2] - names, f"threads left behind: {again[2] - names}"
        assert not again[3] - kids, f"child processes left behind: {again[3] - kids}"
    assert sorted(p.name for p in out.iterdir()) == ["d.jsonl", "d.mp4", "g.mkv", "g.mp4", "t.mkv"]


# --- slow: a 10-minute clip against a 30-second one ----------------------------------------

RATE = 10  # frames per second of the generated clips
SAMPLE_S = 0.25


def lavfi_clip(path: Path, seconds: int) -> Path:
    """`seconds` of 160x120 testsrc2 at RATE fps (H.264) with a sine tone (AAC)."""
    subprocess.run(
        [FFMPEG, "-v", "error", "-y", "-f", "lavfi", "-i", f"testsrc2=size=160x120:rate={RATE}",
         "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", str(seconds),
         "-c:v", "libx264", "-preset", "ultrafast", "-g", str(5 * RATE), "-c:a", "aac",
         str(path)],
        check=True, timeout=300,
    )  # fmt: skip
    return path


class Run:
    """One vidpipe run in a subprocess: exit code, peak RSS (KiB, from wait4), and samples of
    its open file descriptors and threads taken every SAMPLE_S seconds: (time, fds, threads)."""

    def __init__(self, argv: list[str], log: Path) -> None:
        with log.open("w") as err:
            proc = subprocess.Popen(
                [sys.executable, "-m", "vidpipe", *argv],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err,
                env=vidpipe_env(),
            )  # fmt: skip
        start = time.monotonic()
        self.samples: list[tuple[float, int, int]] = []
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            sample = self._sample(proc.pid)
            if sample is not None:
                self.samples.append((time.monotonic() - start, *sample))
            time.sleep(SAMPLE_S)
        proc.returncode = os.waitstatus_to_exitcode(status)
        self.code = proc.returncode
        self.peak_rss_kib = usage.ru_maxrss
        self.stderr = log.read_text()

    @staticmethod
    def _sample(pid: int) -> tuple[int, int] | None:
        try:
            fds = len(os.listdir(f"/proc/{pid}/fd"))
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            return None
        return fds, int(re.search(r"^Threads:\s+(\d+)", status, re.M)[1])

    def steady(self) -> tuple[list[tuple[float, int, int]], list[tuple[float, int, int]]]:
        """The samples of the first and second half of the run, the first 10% (start-up:
        imports, model loading) left out."""
        end = self.samples[-1][0]
        body = [s for s in self.samples if s[0] > 0.1 * end]
        middle = (body[0][0] + end) / 2
        return [s for s in body if s[0] <= middle], [s for s in body if s[0] > middle]


LENGTHS_S = {"30s": 30, "10min": 600}


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("long")
    return {name: lavfi_clip(folder / f"{name}.mp4", s) for name, s in LENGTHS_S.items()}


@pytest.mark.slow
@needs_ffmpeg_cli
@pytest.mark.parametrize("name", ["gamma", "detect"])
def test_ten_minutes_in_the_memory_of_thirty_seconds(
    clips: dict[str, Path], tmp_path: Path, name: str
) -> None:
    if name == "detect" and not NANO_ONNX.is_file():
        pytest.skip(f"no model at {NANO_ONNX}")
    options = ["-g", "2"] if name == "gamma" else []
    runs = {}
    for length, clip in clips.items():
        out = tmp_path / f"{length}.mp4"
        runs[length] = run = Run([name, str(clip), "-o", str(out), *options], tmp_path / "log")
        assert run.code == 0, run.stderr
        entries = [
            "-count_packets",
            "-select_streams",
            "v:0",
            "-show_entries",
            "stream=nb_read_packets",
        ]
        [stream] = ffprobe_json(out, *entries)["streams"]
        assert (
            int(stream["nb_read_packets"]) == LENGTHS_S[length] * RATE
        )  # every frame went through
    short, long = runs["30s"], runs["10min"]
    assert long.peak_rss_kib <= 1.2 * short.peak_rss_kib, (long.peak_rss_kib, short.peak_rss_kib)
    first, second = long.steady()
    assert len(first) > 10 and len(second) > 10
    for what, column, slack in (("open file descriptors", 1, 2), ("threads", 2, 4)):
        before, after = max(s[column] for s in first), max(s[column] for s in second)
        assert after <= before + slack, f"{what} grew from {before} to {after} during the run"
