"""`--hwaccel auto|none|cuda` (`vidpipe.io.hwaccel`): the choice with the device check faked
either way, the frames NVDEC's formats become, and the CLI on this machine (no GPU needed:
the one test that decodes on CUDA is skipped without a device)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import av
import numpy as np
import pytest
from av.codec.hwaccel import HWAccel
from conftest import SAMPLE_CLIPS, run_cli

import vidpipe as vp
from vidpipe.errors import InputError
from vidpipe.io import hwaccel as hw
from vidpipe.io.decode import decode
from vidpipe.io.decode_av import frame_planes
from vidpipe.io.ffmpeg_cmd import decode_argv

VFR = next(p for p in SAMPLE_CLIPS if p.name == "vfr.mp4")
CLIPS = {p.name: p for p in SAMPLE_CLIPS}
BACKENDS = ["av", "ffmpeg"]


@pytest.fixture
def device(monkeypatch: pytest.MonkeyPatch):
    """`device(None)`: a CUDA device opens; `device("why")`: none does, for that reason."""
    return lambda error: monkeypatch.setattr(hw, "cuda_error", lambda: error)


def test_auto_decodes_on_the_cpu_without_a_device(device, caplog) -> None:
    device("no NVIDIA driver")
    with caplog.at_level(logging.DEBUG, logger="vidpipe.io.hwaccel"):
        assert hw.hwaccel_for("auto") is None and hw.use_cuda("auto") is False
    assert "--hwaccel auto: decoding on the CPU (no NVIDIA driver)" in caplog.text


def test_auto_and_cuda_decode_on_cuda_with_a_device(device) -> None:
    device(None)
    for choice in ("auto", "cuda"):
        accel = hw.hwaccel_for(choice)
        assert isinstance(accel, HWAccel) and accel.allow_software_fallback
        assert not accel.is_hw_owned  # frames downloaded to system memory
        assert hw.use_cuda(choice) is True


def test_none_is_the_cpu_whatever_the_device(device) -> None:
    for error in (None, "no NVIDIA driver"):
        device(error)
        assert hw.hwaccel_for("none") is None and hw.use_cuda("none") is False


def test_cuda_without_a_device_is_one_input_error(device) -> None:
    device("Operation not permitted")
    with pytest.raises(InputError) as caught:
        hw.hwaccel_for("cuda")
    message = "--hwaccel cuda: no CUDA device could be opened (Operation not permitted)"
    assert str(caught.value) == message
    with pytest.raises(InputError, match="no CUDA device"):
        vp.open(VFR, hwaccel="cuda")  # when made, before any frame
    for backend in BACKENDS:
        with pytest.raises(InputError, match="no CUDA device"):
            next(decode(str(VFR), backend=backend, hwaccel="cuda"))  # type: ignore[arg-type]


@pytest.mark.parametrize("value", ["x", "CUDA", "", "nvdec"])
def test_an_unknown_value_is_an_input_error(value: str) -> None:
    message = f"--hwaccel must be auto, none or cuda, not {value!r}"
    for call in (hw.use_cuda, hw.hwaccel_for, lambda v: vp.open(VFR, hwaccel=v)):
        with pytest.raises(InputError) as caught:
            call(value)
        assert str(caught.value) == message


def test_the_device_check_says_why_on_this_machine() -> None:
    hw.cuda_error.cache_clear()
    error = hw.cuda_error()
    assert error is None or error  # a reason, never an empty one
    assert hw.cuda_error() is error  # tried once


def test_ffmpeg_gets_hwaccel_cuda_before_its_input() -> None:
    argv = decode_argv("ffmpeg", "/v/a.mp4", stream_index=0, pix_fmt="yuv420p", hwaccel="cuda")
    assert argv[argv.index("-hwaccel") + 1] == "cuda" and argv.index("-hwaccel") < argv.index("-i")
    assert argv[argv.index("-pix_fmt") + 1] == "yuv420p"  # frames downloaded, then converted
    assert "-hwaccel" not in decode_argv("ffmpeg", "/v/a.mp4", stream_index=0, pix_fmt="gray")


@pytest.mark.parametrize(
    ("name", "device_fmt"),
    [("h264_scenecut.mp4", "nv12"), ("hevc_10bit.mkv", "p010le"), ("hevc_10bit.mkv", "p016le"),
     ("mjpeg.avi", "nv12"), ("odd_641x361.mkv", "nv12")],
)  # fmt: skip
def test_a_frame_in_nvdecs_format_comes_out_as_the_cpu_gives_it(name: str, device_fmt: str):
    """What `decode_av` does with a frame NVDEC downloaded: the CPU decoder's pix_fmt and
    samples (the frame here is the CPU's, put in NVDEC's format)."""
    with av.open(str(CLIPS[name])) as container:
        cpu = next(container.decode(video=0))
        expected_fmt, expected = frame_planes(cpu)
        got_fmt, got = frame_planes(cpu.reformat(format=device_fmt), expected_fmt)
    assert got_fmt == expected_fmt and len(got) == len(expected)
    for a, b in zip(got, expected, strict=True):
        np.testing.assert_array_equal(a, b)


def test_open_takes_hwaccel_and_none_gives_the_same_frames() -> None:
    def frames(**options: str) -> list[tuple]:
        with vp.open(VFR, **options) as src:
            return [(f.index, f.pts, f.pix_fmt, [p.tobytes() for p in f.planes])
                    for f in src.frames()]  # fmt: skip

    assert frames(hwaccel="none") == frames()


@pytest.mark.parametrize("backend", BACKENDS)
def test_frames_none_and_auto_list_what_no_option_lists(backend: str) -> None:
    runs = [run_cli("frames", str(VFR), "--json", "--backend", backend, *extra)
            for extra in ([], ["--hwaccel", "none"], ["--hwaccel", "auto"])]  # fmt: skip
    assert [r.returncode for r in runs] == [0, 0, 0], [r.stderr for r in runs]
    assert runs[0].stdout and runs[1].stdout == runs[0].stdout == runs[2].stdout


@pytest.mark.skipif(hw.cuda_error() is None, reason="a CUDA device is here")
@pytest.mark.parametrize("backend", BACKENDS)
def test_frames_cuda_without_a_device_is_one_error_line(backend: str) -> None:
    done = run_cli("frames", str(VFR), "--json", "--backend", backend, "--hwaccel", "cuda")
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.startswith("error: --hwaccel cuda: no CUDA device could be opened (")
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr


def test_frames_with_an_unknown_hwaccel_exits_2() -> None:
    done = run_cli("frames", str(VFR), "--hwaccel", "bogus")
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.strip() == "error: --hwaccel must be auto, none or cuda, not 'bogus'"


def test_batch_takes_hwaccel(tmp_path: Path) -> None:
    done = run_cli("batch", str(VFR), "-o", str(tmp_path / "b"), "--task", "frames",
                   "--hwaccel", "none", "-q")  # fmt: skip
    assert done.returncode == 0, done.stderr
    listing = (tmp_path / "b" / "vfr.frames.jsonl").read_text()
    alone = run_cli("frames", str(VFR), "--json")
    assert [json.loads(line) for line in listing.splitlines()] == [
        json.loads(line) for line in alone.stdout.splitlines()
    ]
    bad = run_cli("batch", str(VFR), "-o", str(tmp_path / "c"), "--task", "frames",
                  "--hwaccel", "bogus")  # fmt: skip
    assert bad.returncode == 2 and "--hwaccel must be auto, none or cuda" in bad.stderr
    assert not (tmp_path / "c").exists()


@pytest.mark.skipif(hw.cuda_error() is None, reason="a CUDA device is here")
def test_batch_cuda_without_a_device_is_one_error_before_any_job(tmp_path: Path) -> None:
    done = run_cli("batch", str(VFR), "-o", str(tmp_path / "b"), "--task", "frames",
                   "--hwaccel", "cuda")  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("error: --hwaccel cuda: no CUDA device could be opened (")
    assert len(done.stderr.strip().splitlines()) == 1 and not (tmp_path / "b").exists()


@pytest.mark.cuda
@pytest.mark.skipif(hw.cuda_error() is not None, reason="needs a CUDA device (NVDEC)")
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", ["h264_scenecut.mp4", "hevc_10bit.mkv"])
def test_cuda_decodes_the_frames_the_cpu_decodes(backend: str, name: str) -> None:
    clip = str(CLIPS[name])
    cpu = list(decode(clip, backend=backend, hwaccel="none"))  # type: ignore[arg-type]
    gpu = list(decode(clip, backend=backend, hwaccel="cuda"))  # type: ignore[arg-type]
    assert len(gpu) == len(cpu) > 0
    for a, b in zip(gpu, cpu, strict=True):
        fields = ("index", "pts", "time_base", "pict_type", "key_frame", "pix_fmt")
        assert [getattr(a, f) for f in fields] == [getattr(b, f) for f in fields], a.index
        for pa, pb in zip(a.planes, b.planes, strict=True):
            assert pa.shape == pb.shape and pa.dtype == pb.dtype
            assert np.abs(pa.astype(np.int32) - pb).mean() < 0.5, a.index
