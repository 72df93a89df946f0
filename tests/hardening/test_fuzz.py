"""Fuzzing (issue 6): byte-mutated and truncated copies of every sample clip through `probe`,
`frames`, `gamma` and `detect`, with both decoders and both encoders.

Every case must end with exit code 0 or 2 (2: exactly one `error:` line, last), no traceback,
no other stderr than `error:` / `warning:` / `wrote` lines, within its time limit, leaving no
thread, child process, open file or temporary file behind; an output exists after exit 0 and
holds the frame count vidpipe reported (ffprobe counts them), and none exists after exit 2.

The corpus (fuzz_corpus.py, seed SEED) holds PER_CLIP mutants of each clip; all cases run in
ONE harness process (fuzz_harness.py: `main(argv)` per case, each under SIGALRM), then a few
real `python -m vidpipe` subprocesses check for leftover ffmpeg processes and temporary files.
A larger corpus runs with `python -m pytest -m slow tests/hardening/test_fuzz.py`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from conftest import (
    FFPROBE,
    NANO_ONNX,
    ROOT,
    SAMPLE_CLIPS,
    ffprobe_json,
    processes_mentioning,
    run_cli,
)
from fuzz_corpus import KINDS, mutant, write_corpus

from vidpipe.cli.main import app, main

SEED = 6  # the number
PER_CLIP = 9  # 9 mutants of each sample clip (9 clips: 81), each run several ways
SLOW_PER_CLIP = 60
CASE_TIMEOUT_S = 30
HARNESS = Path(__file__).with_name("fuzz_harness.py")
HAVE_NANO = NANO_ONNX.is_file()
DETECT_ARGS = ["--model", str(NANO_ONNX), "--engine", "torch", "--size", "64", "--batch", "4"]


def _group_argv(group: str, path: Path) -> list[str]:
    """The command line of case `path` in `group`; outputs go beside the mutant."""
    stem, name = str(path.with_suffix("")), str(path)
    return {
        "probe": ["probe", name, "--gop", "--json"],
        "frames": ["frames", name, "--json"],
        "frames-ffmpeg": ["frames", name, "--json", "--backend", "ffmpeg"],
        "frames-intra": ["frames", name, "--type", "I", "--csv"],
        "frames-images": ["frames", name, "--keyframes", "-o", f"{stem}.images"],
        "gamma": ["gamma", name, "-g", "1.8", "-o", f"{stem}.gamma.mkv"],
        "gamma-ffmpeg": [
            "gamma", name, "-g", "0.7", "--backend", "ffmpeg", "--writer", "ffmpeg",
            "-o", f"{stem}.gamma-ff.mp4",
        ],
        "detect-json": ["detect", name, *DETECT_ARGS, "--json", f"{stem}.det.jsonl"],
        "detect-video": ["detect", name, *DETECT_ARGS, "-o", f"{stem}.det.mkv"],
    }[group]  # fmt: skip


# Which mutants each group runs: (modulus, remainder) over the mutant's index within its clip.
GROUPS = {
    "probe": (1, 0),
    "frames": (1, 0),
    "frames-ffmpeg": (4, 0),
    "frames-intra": (4, 1),
    "frames-images": (12, 5),
    "gamma": (6, 2),
    "gamma-ffmpeg": (12, 3),
    "detect-json": (12, 1),
    "detect-video": (12, 7),
}
OUTPUT_OF = {  # group -> suffix of the output file it writes beside the mutant
    "gamma": ".gamma.mkv",
    "gamma-ffmpeg": ".gamma-ff.mp4",
    "detect-json": ".det.jsonl",
    "detect-video": ".det.mkv",
}
ALLOWED_PREFIXES = ("error: ", "warning: ", "wrote ")


def _cases(paths: list[Path], per_clip: int) -> list[dict[str, object]]:
    cases = []
    for index, path in enumerate(paths):
        for group, (modulus, remainder) in GROUPS.items():
            if group.startswith("detect") and not HAVE_NANO:
                continue
            if (index % per_clip) % modulus == remainder:
                cases.append({"group": group, "file": str(path), "argv": _group_argv(group, path)})
    return cases


def run_harness(cases: list[dict[str, object]], workdir: Path, timeout: float) -> list[dict]:
    """Run `cases` in one harness process; its results, in order. A harness killed at
    `timeout` names the case it was running (the first one without a result)."""
    spec = workdir / "cases.json"
    spec.write_text(json.dumps(cases))
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    cmd = [sys.executable, str(HARNESS), "--timeout", str(CASE_TIMEOUT_S), "--cases", str(spec)]
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
        env=env,
    )  # fmt: skip
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
    results = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    if len(results) < len(cases):
        stuck = cases[len(results)]
        pytest.fail(f"harness stopped (code {proc.returncode}) at {stuck['argv']}: {err[-2000:]}")
    return results


def _frame_count(path: Path) -> int:
    streams = ffprobe_json(
        path, "-count_packets", "-show_entries", "stream=codec_type,nb_read_packets"
    )
    return sum(int(s["nb_read_packets"]) for s in streams["streams"] if s["codec_type"] == "video")


def _reported_frames(result: dict) -> int | None:
    """N of vidpipe's `wrote PATH (N frames, ...)` line (stdout for gamma, stderr for detect)."""
    for line in (result.get("stdout", "") + result["stderr"]).splitlines():
        if line.startswith("wrote ") and " frames" in line:
            return int(line.rsplit("(", 1)[1].split()[0])
    return None


def problems(result: dict) -> list[str]:
    """What is wrong with one case's result (empty: nothing)."""
    found = []
    code, lines = result["code"], result["stderr"].strip().splitlines()
    if result["timed_out"]:
        found.append(f"no result within {CASE_TIMEOUT_S} s")
    elif code not in (0, 2):
        found.append(f"exit code {code}")
    if "Traceback" in result["stderr"]:
        found.append("traceback")
    found += [
        f"stray stderr line {line!r}" for line in lines if not line.startswith(ALLOWED_PREFIXES)
    ]
    errors = [line for line in lines if line.startswith("error: ")]
    if code == 2 and (len(errors) != 1 or lines[-1] != errors[0]):
        found.append("exit 2 without exactly one error line, last")
    if code == 0 and errors:
        found.append("error line with exit 0")
    for key in ("threads", "children", "open_files"):
        if result[key]:
            found.append(f"left {key}: {result[key]}")
    found += _output_problems(result)
    return found


def _output_problems(result: dict) -> list[str]:
    group, code = result["group"], result["code"]
    folder = Path(result["file"]).parent
    stem = str(Path(result["file"]).with_suffix(""))
    if group == "frames-images":
        images = Path(f"{stem}.images")
        leftovers = [p.name for p in images.glob(".*")] if images.is_dir() else []
        return [f"temporary images left: {leftovers}"] if leftovers else []
    if group not in OUTPUT_OF:
        return []
    output = Path(stem + OUTPUT_OF[group])
    parts = [p.name for p in folder.glob(f".{output.name}.part*")]
    if parts:
        return [f"temporary files left: {parts}"]
    if code != 0:
        return [f"exit {code} but {output.name} exists"] if output.exists() else []
    if not output.is_file() or output.stat().st_size == 0:
        return [f"exit 0 but no {output.name}"]
    if group == "detect-json":
        indexes = [json.loads(line)["index"] for line in output.read_text().splitlines()]
        return [] if indexes == sorted(set(indexes)) else ["detections not one line per frame"]
    reported = _reported_frames(result)
    if FFPROBE is not None and reported is not None and _frame_count(output) != reported:
        return [
            f"{output.name}: ffprobe counts {_frame_count(output)} frames, vidpipe wrote {reported}"
        ]
    return [] if reported is not None else ["no 'wrote' line"]


def _report(results: list[dict]) -> str:
    bad = [(r, problems(r)) for r in results]
    lines = [
        f"{r['group']} {Path(r['file']).name}: {'; '.join(p)} | {r['stderr'].strip()[-300:]}"
        for r, p in bad
        if p
    ]
    return "\n".join(lines)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return write_corpus(SAMPLE_CLIPS, tmp_path_factory.mktemp("fuzz"), seed=SEED, per_clip=PER_CLIP)


@pytest.fixture(scope="module")
def results(corpus: list[Path]) -> dict[str, list[dict]]:
    cases = _cases(corpus, PER_CLIP)
    by_group: dict[str, list[dict]] = {group: [] for group in GROUPS}
    for result in run_harness(cases, corpus[0].parent, timeout=900):
        by_group[result["group"]].append(result)
    return by_group


def test_corpus_is_seeded_and_varied(corpus: list[Path]) -> None:
    assert len(corpus) == len(SAMPLE_CLIPS) * PER_CLIP >= 80
    kinds = Counter(p.name.split(".")[-2] for p in corpus)
    assert set(kinds) == set(KINDS)
    clip = SAMPLE_CLIPS[0]
    again = mutant(clip.read_bytes(), clip.name, SEED, 3)
    assert (corpus[0].parent / again.name).read_bytes() == again.data != clip.read_bytes()
    offsets = [at for p in SAMPLE_CLIPS for i in range(PER_CLIP)
               for at, _ in mutant(p.read_bytes(), p.name, SEED, i).edits]  # fmt: skip
    assert max(offsets) > 20_000  # damage all through the files, not only in the headers


@pytest.mark.parametrize("group", list(GROUPS))
def test_fuzzed_inputs_end_cleanly(results: dict[str, list[dict]], group: str) -> None:
    if group.startswith("detect") and not HAVE_NANO:
        pytest.skip(f"{NANO_ONNX} not found")
    cases = results[group]
    assert cases
    assert _report(cases) == ""


def test_fuzz_corpus_is_neither_all_accepted_nor_all_refused(results: dict[str, list[dict]]):
    """The mutants exercise both paths: decoding through damage (0) and refusal (2)."""
    codes = Counter(r["code"] for r in results["frames"])
    assert codes[0] >= len(results["frames"]) // 5
    assert codes[2] >= len(results["frames"]) // 5
    warned = [r for r in results["frames"] if r["code"] == 0 and "warning: " in r["stderr"]]
    assert warned  # some decode with undecodable packets counted and reported


def test_fuzzed_inputs_in_subprocesses_leave_nothing(results: dict[str, list[dict]]) -> None:
    """Real `python -m vidpipe` runs with the ffmpeg decoder and writer on mutants that probe
    well (so ffmpeg starts) and then fail as truncated, or decode with a warning: exit 0/2,
    no traceback, no ffmpeg process, temporary file or (after a failure) output left."""
    frames = results["frames"]
    failing = [r for r in frames if r["code"] == 2 and "packets read" in r["stderr"]]
    warned = [r for r in frames if r["code"] == 0 and "warning: " in r["stderr"]]
    assert len(failing) >= 2 and len(warned) >= 2
    for number, r in enumerate(failing[:2] + warned[:2]):
        path = Path(r["file"])
        out = path.with_name(path.stem + ".sub.mp4")
        runs = [["frames", str(path), "--backend", "ffmpeg"]]
        if number in (0, 2):  # gamma imports torch (3 s a run): one failing, one warned input
            runs.append(["-q", "gamma", str(path), "-g", "2", "--backend", "ffmpeg",
                         "--writer", "ffmpeg", "-o", str(out)])  # fmt: skip
        for args in runs:
            proc = run_cli(*args, timeout=120)
            assert proc.returncode in (0, 2), proc.stderr
            assert "Traceback" not in proc.stderr
            assert processes_mentioning(path.name) == []
            assert list(path.parent.glob(".*.part*")) == []
            assert out.exists() == ("gamma" in args and proc.returncode == 0)


# --- regressions found by the fuzzer ---------------------------------------------------------


def test_main_in_process_registers_the_commands_once(capsys: pytest.CaptureFixture[str]) -> None:
    """Each in-process `main()` used to add every command to the app again: 300 calls made
    one call 50x slower (found by the harness, whose cases slowed down one by one)."""
    clip = str(SAMPLE_CLIPS[0])
    assert main(["probe", clip]) == 0
    registered = len(app.registered_commands)
    for _ in range(3):
        assert main(["probe", clip]) == 0
    assert len(app.registered_commands) == registered
    capsys.readouterr()


@pytest.mark.parametrize("backend", ["av", "ffmpeg"])
def test_unknown_video_codec_is_one_error_line(tmp_path: Path, backend: str) -> None:
    """Seed 2, mutant 6 of h264_bframes_aac.mp4 overwrites the stream's codec tag: FFmpeg
    has no decoder for it (ffprobe names no codec). It was an AttributeError (exit 1)."""
    clip = next(p for p in SAMPLE_CLIPS if p.name == "h264_bframes_aac.mp4")
    case = mutant(clip.read_bytes(), clip.name, seed=2, index=6)
    path = tmp_path / case.name
    path.write_bytes(case.data)
    if FFPROBE is not None:
        streams = ffprobe_json(path, "-show_entries", "stream=codec_type,codec_name")["streams"]
        assert {"codec_type": "video"} in streams  # ffprobe names no codec either
    proc = run_cli("frames", str(path), "--backend", backend)
    assert proc.returncode == 2
    assert proc.stderr == f"error: {path}: no decoder for its video stream (unknown codec)\n"


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_fuzz_slow_larger_corpus(tmp_path: Path) -> None:
    """SLOW_PER_CLIP mutants per clip through every group (run with -m slow)."""
    paths = write_corpus(SAMPLE_CLIPS, tmp_path, seed=SEED + 1000, per_clip=SLOW_PER_CLIP)
    results = run_harness(_cases(paths, SLOW_PER_CLIP), tmp_path, timeout=3600)
    assert _report(results) == ""
