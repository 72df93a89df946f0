"""Bad input: one `error:` line on stderr, exit code 2, no traceback, no leftover ffmpeg."""

from __future__ import annotations

import random
import subprocess
from pathlib import Path

import av
import numpy as np
import pytest
from conftest import SAMPLE_CLIPS, make_clip, processes_mentioning, run_cli

H264 = next(p for p in SAMPLE_CLIPS if "bframes_aac" in p.name)


def _audio_only(path: Path) -> Path:
    with av.open(str(path), "w") as out:
        stream = out.add_stream("aac", rate=48000)
        for i in range(20):
            frame = av.AudioFrame.from_ndarray(
                np.zeros((2, 1024), np.float32), format="fltp", layout="stereo"
            )
            frame.sample_rate, frame.pts = 48000, i * 1024
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path


@pytest.fixture(scope="module")
def bad_inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("bad")
    (d / "empty.mp4").write_bytes(b"")
    (d / "random.mp4").write_bytes(random.Random(7).randbytes(200_000))
    (d / "text.mp4").write_text("this is not a video\n" * 100)
    data = H264.read_bytes()  # moov at the end: the first half has no index
    (d / "truncated.mp4").write_bytes(data[: len(data) // 2])
    webm = next(p for p in SAMPLE_CLIPS if p.suffix == ".webm").read_bytes()
    (d / "truncated.webm").write_bytes(webm[: len(webm) // 2])  # header intact, data cut
    return {
        "missing": d / "does-not-exist.mp4",
        "directory": d,
        "empty": d / "empty.mp4",
        "random": d / "random.mp4",
        "text": d / "text.mp4",
        "audio-only": _audio_only(d / "audio.m4a"),
        "truncated": d / "truncated.mp4",
        "truncated-webm": d / "truncated.webm",
    }


CASES = ["missing", "directory", "empty", "random", "text", "audio-only", "truncated"]


def _assert_one_error_line(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("command", ["probe", "frames"])
def test_bad_input_is_one_line_exit_2(bad_inputs, case, command):
    result = run_cli(command, str(bad_inputs[case]))
    _assert_one_error_line(result)


@pytest.mark.parametrize("case", ["random", "text", "truncated", "truncated-webm"])
def test_bad_input_ffmpeg_backend_leaves_no_process(bad_inputs, case):
    path = bad_inputs[case]
    result = run_cli("frames", str(path), "--backend", "ffmpeg")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith("error: ")
    assert "Traceback" not in result.stderr
    assert processes_mentioning(path.name) == []


def test_truncated_with_intact_header_lists_frames_then_fails(bad_inputs):
    result = run_cli("frames", str(bad_inputs["truncated-webm"]), "--json")
    assert result.returncode == 2
    assert result.stdout.count("\n") > 5  # the frames that were there were listed
    assert result.stderr.startswith("error: ") and "truncated" in result.stderr


def test_corrupted_packets_warn_with_count(tmp_path):
    clip = make_clip(tmp_path / "clean.mkv", frames=60, size_wh=(160, 120), options={"g": "30"})
    data = bytearray(clip.read_bytes())
    rng = random.Random(3)
    for offset in range(len(data) // 3, len(data) * 2 // 3, 4000):  # damage the middle
        data[offset : offset + 64] = rng.randbytes(64)
    bad = tmp_path / "damaged.mkv"
    bad.write_bytes(bytes(data))
    result = run_cli("frames", str(bad), "--json")
    assert "Traceback" not in result.stderr
    assert result.returncode in (0, 2)
    assert len(result.stdout.splitlines()) >= 30  # the good frames are there
    warning = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert warning and "could not be decoded" in warning[0]


@pytest.mark.parametrize(
    "args",
    [
        ("frames", str(H264), "--type", "Q"),
        ("frames", str(H264), "--format", "gif", "-o", "x"),
        ("frames", str(H264), "--backend", "gstreamer"),
        ("frames", str(H264), "--json", "--csv"),
        ("frames", "http://example.com/a.mp4"),
        ("frames", "concat:a.mp4|b.mp4"),
        ("probe", "pipe:0"),
        ("frames", str(H264), "--no-such-option"),
    ],
)
def test_bad_options_and_urls(args):
    _assert_one_error_line(run_cli(*args))


def test_output_dir_that_is_a_file(tmp_path):
    target = tmp_path / "file.txt"
    target.write_text("x")
    _assert_one_error_line(run_cli("frames", str(H264), "-o", str(target)))
    assert target.read_text() == "x"
