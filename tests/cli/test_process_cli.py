"""`vidpipe gamma` / `vidpipe chroma` end to end, against ffmpeg's own filters (ffv1 = lossless)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import av
import numpy as np
import pytest
from conftest import FFMPEG, SAMPLE_CLIPS, make_clip, needs_ffmpeg_cli
from test_bad_input import processes_mentioning, run_cli

from vidpipe.cli.main import main
from vidpipe.io.decode import decode
from vidpipe.io.encode_options import EncodeOptions
from vidpipe.pipeline.recipes import process_file

H264 = next(p for p in SAMPLE_CLIPS if "bframes_aac" in p.name)
HEVC10 = next(p for p in SAMPLE_CLIPS if "10bit" in p.name)
VFR = next(p for p in SAMPLE_CLIPS if "vfr" in p.name)


def ffmpeg_filter(src, dst, vf: str, pix_fmt: str) -> None:
    subprocess.run(
        [FFMPEG, "-v", "error", "-y", "-i", str(src), "-vf", vf, "-pix_fmt", pix_fmt,
         "-c:v", "ffv1", "-an", str(dst)],
        check=True,
    )  # fmt: skip


def planes(path) -> list[tuple[np.ndarray, ...]]:
    return [f.planes for f in decode(str(path))]


def psnr(a: np.ndarray, b: np.ndarray, peak: float) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(peak**2 / mse)


@needs_ffmpeg_cli
@pytest.mark.parametrize("clip", [H264, HEVC10], ids=["8bit", "10bit"])
def test_gamma_luma_equals_lutyuv(tmp_path, clip):
    ours, ref = tmp_path / "ours.mkv", tmp_path / "ref.mkv"
    assert main(["gamma", str(clip), "-o", str(ours), "--gamma", "2.2", "--codec", "ffv1"]) == 0
    pix_fmt = next(decode(str(clip))).pix_fmt
    ffmpeg_filter(clip, ref, "lutyuv=y=gammaval(1/2.2):u=val:v=val", pix_fmt)
    a, b = planes(ours), planes(ref)
    assert len(a) == len(b) == len(planes(clip))
    for pa, pb in zip(a, b, strict=True):
        assert int(np.abs(pa[0].astype(int) - pb[0].astype(int)).max()) <= 1  # Y within 1 code
        np.testing.assert_array_equal(pa[1], pb[1])  # chroma untouched
        np.testing.assert_array_equal(pa[2], pb[2])


@needs_ffmpeg_cli
def test_gamma_rgb_close_to_lutrgb(tmp_path):
    ours, ref = tmp_path / "ours.mkv", tmp_path / "ref.mkv"
    args = ["gamma", str(H264), "-o", str(ours), "-g", "1.8", "--on", "rgb", "--codec", "ffv1"]
    assert main(args) == 0
    g = "gammaval(1/1.8)"
    # ffmpeg's own filters, one textbook step each (left-sited bilinear chroma up, the BT.601
    # limited matrix to rgb24, lutrgb, back, box chroma down). swscale's one-shot
    # yuv420p->rgb24 interpolates chroma its own way at sharp edges (34 dB against this).
    exact = "accurate_rnd+full_chroma_int"
    vf = (
        f"scale=flags=bilinear+{exact}:in_h_chr_pos=0:in_v_chr_pos=128,format=yuv444p,"
        f"scale=flags=neighbor+{exact},format=rgb24,lutrgb=r={g}:g={g}:b={g},"
        f"scale=flags=neighbor+{exact},format=yuv444p,scale=flags=area+{exact},format=yuv420p"
    )
    ffmpeg_filter(H264, ref, vf, "yuv420p")
    for pa, pb in zip(planes(ours), planes(ref), strict=True):
        for k in range(3):
            assert psnr(pa[k], pb[k], 255) >= 40


@needs_ffmpeg_cli
def test_chroma_444_close_to_swscale(tmp_path):
    ours, ref = tmp_path / "ours.mkv", tmp_path / "ref.mkv"
    assert main(["chroma", str(H264), "-o", str(ours), "--to", "444", "--codec", "ffv1"]) == 0
    vf = "scale=flags=bilinear:in_h_chr_pos=0:in_v_chr_pos=128,format=yuv444p"  # left siting
    ffmpeg_filter(H264, ref, vf, "yuv444p")
    for pa, pb in zip(planes(ours), planes(ref), strict=True):
        np.testing.assert_array_equal(pa[0], pb[0])
        assert psnr(pa[1], pb[1], 255) >= 40 and psnr(pa[2], pb[2], 255) >= 40


def test_chroma_round_trip_is_exact(tmp_path):
    up, down = tmp_path / "444.mkv", tmp_path / "420.mkv"
    base = ["--codec", "ffv1"]
    assert main(["chroma", str(H264), "-o", str(up), "--to", "444", "--up", "nearest", *base]) == 0
    assert main(["chroma", str(up), "-o", str(down), "--to", "420", "--filter", "box", *base]) == 0
    for pa, pb in zip(planes(H264), planes(down), strict=True):
        for a, b in zip(pa, pb, strict=True):
            np.testing.assert_array_equal(a, b)


def test_timestamps_and_audio_survive(tmp_path):
    out = tmp_path / "vfr_gamma.mp4"
    assert main(["gamma", str(VFR), "-o", str(out), "-g", "1.5"]) == 0
    assert [f.pts * f.time_base for f in decode(str(out))] == [
        f.pts * f.time_base for f in decode(str(VFR))
    ]
    out2 = tmp_path / "aac_gamma.mp4"
    assert main(["gamma", str(H264), "-o", str(out2), "-g", "0.8", "--writer", "ffmpeg"]) == 0
    with av.open(str(H264)) as a, av.open(str(out2)) as b:
        pa = [bytes(p) for p in a.demux(audio=0) if p.size]
        pb = [bytes(p) for p in b.demux(audio=0) if p.size]
    assert pa == pb and len(pa) > 10


@pytest.mark.parametrize(
    "args",
    [
        ["gamma", str(H264), "-o", "{out}", "-g", "0"],
        ["gamma", str(H264), "-o", "{out}", "-g", "10.5"],
        ["gamma", str(H264), "-o", "{out}", "-g", "nan"],
        ["gamma", str(H264), "-o", "{out}", "-g", "2", "--on", "hsv"],
        ["chroma", str(H264), "-o", "{out}", "--to", "411"],
        ["gamma", str(H264), "-o", str(H264), "-g", "2"],  # would overwrite the input
        ["gamma", str(H264), "-o", "{out}", "-g", "2", "--codec", "no-such-codec"],
    ],
)
def test_bad_process_options(tmp_path, args):
    before = H264.read_bytes()
    result = run_cli(*[a.replace("{out}", str(tmp_path / "o.mp4")) for a in args])
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("error: ") and "Traceback" not in result.stderr
    assert H264.read_bytes() == before
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--crf", "99"], "--crf must be in 0..63, got 99"),
        (["--crf", "-1"], "--crf must be in 0..63, got -1"),
        (["--preset", "very fast"], "--preset must be an encoder preset name, not 'very fast'"),
        (["--writer", "gst"], "--writer must be av or ffmpeg, not 'gst'"),
        (["--segment", "0"], "not a duration: '0'"),
        (["--pix-fmt", "yuv999p"], "unknown pixel format 'yuv999p'"),
        (["--codec", "no-such-codec"], "unknown codec 'no-such-codec'"),
    ],
)
def test_bad_encoder_value_is_one_input_error_line(tmp_path, args, message):
    """A bad encoder option is an InputError: exit 2, one `error:` line naming it."""
    result = run_cli("gamma", str(H264), "-o", str(tmp_path / "o.mp4"), "-g", "2", *args)
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith(f"error: {message}"), result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert list(tmp_path.iterdir()) == []


def test_existing_output_needs_overwrite(tmp_path):
    out = tmp_path / "o.mp4"
    out.write_bytes(b"keep me")
    result = run_cli("gamma", str(H264), "-o", str(out), "-g", "2")
    assert result.returncode == 2 and out.read_bytes() == b"keep me"
    assert "already exists (use --overwrite" in result.stderr  # the flag's real name
    assert run_cli("gamma", str(H264), "-o", str(out), "-g", "2", "--overwrite").returncode == 0
    assert out.stat().st_size > 1000


def test_stage_error_leaves_nothing(tmp_path):
    def broken(frames):
        for frame in frames:
            if frame.index == 5:
                raise RuntimeError("stage failed")
            yield frame

    with pytest.raises(RuntimeError, match="stage failed"):
        process_file(str(H264), str(tmp_path / "o.mp4"), [broken], encode=EncodeOptions())
    assert list(tmp_path.iterdir()) == []
    assert not [t for t in threading.enumerate() if t.name.startswith("vidpipe")]


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
@pytest.mark.parametrize("writer", ["av", "ffmpeg"])
def test_interrupt_leaves_nothing(tmp_path, sig, writer):
    clip = make_clip(tmp_path / "long.mkv", frames=600, size_wh=(320, 240), codec="ffv1")
    outdir = tmp_path / "out"
    outdir.mkdir()
    out = outdir / "o.mp4"
    proc = subprocess.Popen(
        [sys.executable, "-m", "vidpipe", "gamma", str(clip), "-o", str(out), "-g", "2",
         "--preset", "slow", "--writer", writer],
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while not list(outdir.iterdir()) and time.monotonic() < deadline:
        time.sleep(0.05)  # wait until it is writing
    time.sleep(0.3)
    os.kill(proc.pid, sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert err.splitlines() == ["error: interrupted"], err  # one line, no traceback
    assert list(outdir.iterdir()) == []
    assert processes_mentioning(str(outdir)) == []
