"""Tests of vidpipe.io.decode_ffmpeg: end-to-end decoding against PyAV as the oracle, with both
ffmpeg binaries, and ffmpeg misbehaving (a fake binary). The showinfo parsing is tested in
test_showinfo.py, the stderr drain in tests/runtime/test_line_drain.py."""

from __future__ import annotations

import itertools
import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from vidpipe.errors import FFmpegError, InputError
from vidpipe.io import decode_ffmpeg as mod
from vidpipe.io import ffmpeg_cmd
from vidpipe.io.decode_ffmpeg import decode_ffmpeg
from vidpipe.runtime.threads import LineDrain
from vidpipe.types import ColorInfo, Frame

av = pytest.importorskip("av")

# --- end to end -----------------------------------------------------------------------------

W, H, N = 64, 48, 30


def _encode_clip(
    path: Path, size_wh: tuple[int, int], frames: int, pts: list[int] | None = None, **x264: str
) -> Path:
    """H.264 yuv420p clip with B-frames (bf=2) and a GOP of 10, moving content; frame i gets
    `pts[i]` (in 1/30 s) when given (variable frame rate)."""
    w, h = size_wh
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        stream.codec_context.options = {"bf": "2", "g": "10", "sc_threshold": "0", **x264}
        yy, xx = np.mgrid[0:h, 0:w]
        for i in range(frames):
            rgb = np.stack([(xx * 4 + i * 8) % 256, (yy * 5) % 256, (xx + yy + i) % 256], -1)
            rgb[(i * 2) % h : (i * 2) % h + 8, i % w : i % w + 8] = 255
            frame = av.VideoFrame.from_ndarray(rgb.astype(np.uint8), format="rgb24")
            if pts is not None:
                frame.pts, frame.time_base = pts[i], Fraction(1, 30)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return path


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _encode_clip(tmp_path_factory.mktemp("media") / "clip.mp4", (W, H), N)


@pytest.fixture(scope="module")
def tagged_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    params = "colorprim=bt709:transfer=bt709:colormatrix=bt709:range=tv"
    path = tmp_path_factory.mktemp("media") / "tagged.mp4"
    return _encode_clip(path, (W, H), 4, **{"x264-params": params})


VFR_PTS = [0, 1, 2, 5, 6, 7, 15, 16, 20, 21, 22, 23, 40, 41, 42, 43]


@pytest.fixture(scope="module")
def vfr_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Variable frame rate: gaps in pts that a constant-rate output would fill with copies."""
    path = tmp_path_factory.mktemp("media") / "vfr.mp4"
    return _encode_clip(path, (W, H), len(VFR_PTS), pts=VFR_PTS)


@pytest.fixture(scope="module")
def big_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """320x240 x 90 frames: ~10 MB of raw frames, far more than the pipes hold."""
    return _encode_clip(tmp_path_factory.mktemp("media") / "big.mp4", (320, 240), 90)


def _binaries() -> list[Any]:
    found = [("system", shutil.which("ffmpeg"))]
    try:
        import imageio_ffmpeg

        found.append(("bundled", imageio_ffmpeg.get_ffmpeg_exe()))
    except (ImportError, RuntimeError):
        found.append(("bundled", None))
    return [
        pytest.param(exe, id=name, marks=pytest.mark.skipif(exe is None, reason=f"no {name}"))
        for name, exe in found
    ]


@pytest.fixture(params=_binaries())
def ffmpeg_bin(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Run decode_ffmpeg with this binary (via VIDPIPE_FFMPEG)."""
    monkeypatch.setenv(ffmpeg_cmd.ENV_VAR, request.param)
    ffmpeg_cmd.find_ffmpeg.cache_clear()
    yield request.param
    ffmpeg_cmd.find_ffmpeg.cache_clear()


def _major_version(binary: str) -> int:
    out = subprocess.run([binary, "-version"], capture_output=True, text=True, check=True).stdout
    match = re.search(r"version n?(\d+)\.", out)
    assert match, out.splitlines()[0]
    return int(match[1])


def _pyav_frames(path: Path) -> list[Any]:
    with av.open(str(path)) as container:
        return list(container.decode(video=0))


def _pyav_planes(frame: Any) -> tuple[np.ndarray, ...]:
    """(Y [H,W], U [H/2,W/2], V [H/2,W/2]) uint8 from PyAV's stacked yuv420p ndarray."""
    stacked = frame.reformat(format="yuv420p").to_ndarray()  # [H*3/2, W]
    h, w = frame.height, frame.width
    u = stacked[h : h + h // 4].reshape(h // 2, w // 2)
    v = stacked[h + h // 4 :].reshape(h // 2, w // 2)
    return stacked[:h], u, v


def _decode(path: Path, **kwargs: Any) -> Iterator[Frame]:
    args: dict[str, Any] = {"stream_index": 0, "width": W, "height": H, "source_pix_fmt": "yuv420p"}
    return decode_ffmpeg(str(path), **{**args, **kwargs})


def test_decode_matches_pyav(clip: Path, ffmpeg_bin: str) -> None:
    frames = list(_decode(clip, rotation=90))
    oracle = _pyav_frames(clip)
    assert len(frames) == len(oracle) == N
    assert [f.index for f in frames] == list(range(N))
    pts = [f.pts for f in frames]
    assert all(b > a for a, b in itertools.pairwise(pts))
    assert [f.pts for f in oracle] == pts
    oracle_types = [av.video.frame.PictureType(f.pict_type).name for f in oracle]
    assert [f.pict_type.name for f in frames] == oracle_types
    assert "B" in oracle_types and oracle_types.count("I") == 3  # GOP 10, bf 2
    assert [f.key_frame for f in frames] == [bool(f.key_frame) for f in oracle]
    time_base = Fraction(oracle[0].time_base.numerator, oracle[0].time_base.denominator)
    for ours, theirs in zip(frames, oracle, strict=True):
        assert ours.time_base == time_base and ours.pix_fmt == "yuv420p"
        assert ours.rotation == 90 and ours.pkt_size > 0  # from the container, demuxed alongside
        assert [p.shape for p in ours.planes] == [(H, W), (H // 2, W // 2), (H // 2, W // 2)]
        for mine, ref in zip(ours.planes, _pyav_planes(theirs), strict=True):
            assert mine.dtype == np.uint8 and mine.flags.c_contiguous and mine.flags.owndata
            np.testing.assert_array_equal(mine, ref)


def test_variable_frame_rate_keeps_pts_no_dup_no_drop(vfr_clip: Path, ffmpeg_bin: str) -> None:
    frames = list(_decode(vfr_clip))
    oracle = _pyav_frames(vfr_clip)
    assert len(frames) == len(oracle) == len(VFR_PTS)
    assert [f.pts for f in frames] == [f.pts for f in oracle]
    seconds = [round(f.time * 30) for f in frames if f.time is not None]
    assert seconds == VFR_PTS  # 1/30 s units, as encoded


def test_decode_colour_from_showinfo(tagged_clip: Path, ffmpeg_bin: str) -> None:
    given = ColorInfo("bt470bg", "pc", "bt470bg", "gamma22", "center")
    frames = list(_decode(tagged_clip, color=given))
    assert len(frames) == 4
    # FFmpeg >= 6 prints the chroma location (h264 says left); 5.1 does not: the given one.
    siting = "left" if _major_version(ffmpeg_bin) >= 6 else "center"
    assert {f.color for f in frames} == {ColorInfo("bt709", "tv", "bt709", "bt709", siting)}


def test_decode_to_rgb24_when_source_is_not_planar_yuv(clip: Path, ffmpeg_bin: str) -> None:
    frames = list(_decode(clip, source_pix_fmt="bgr0"))  # canonical -> rgb24
    assert len(frames) == N
    assert frames[0].pix_fmt == "rgb24" and frames[0].planes[0].shape == (H, W, 3)


class _Spy:
    """Records the Popen and LineDrain objects decode_ffmpeg creates."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.procs: list[subprocess.Popen[bytes]] = []
        self.drains: list[LineDrain[Any]] = []
        real_popen, real_drain = subprocess.Popen, LineDrain

        def popen(*args: Any, **kwargs: Any) -> subprocess.Popen[bytes]:
            assert "shell" not in kwargs
            self.procs.append(real_popen(*args, **kwargs))
            return self.procs[-1]

        def drain(*args: Any, **kwargs: Any) -> LineDrain[Any]:
            self.drains.append(real_drain(*args, **kwargs))
            return self.drains[-1]

        monkeypatch.setattr(mod.subprocess, "Popen", popen)
        monkeypatch.setattr(mod, "LineDrain", drain)

    def assert_released(self) -> None:
        (proc,) = self.procs
        assert proc.poll() is not None  # reaped: returncode set, no zombie
        assert proc.stdout is not None and proc.stdout.closed
        assert proc.stderr is not None and proc.stderr.closed
        assert not any(d.is_alive() for d in self.drains)


def test_early_close_terminates_ffmpeg(
    big_clip: Path, ffmpeg_bin: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    spy = _Spy(monkeypatch)
    gen = _decode(big_clip, width=320, height=240)
    taken = [next(gen) for _ in range(3)]
    assert [f.index for f in taken] == [0, 1, 2]
    assert spy.procs[0].poll() is None  # still running: blocked on a full pipe
    gen.close()
    spy.assert_released()


def test_error_downstream_releases_ffmpeg(
    big_clip: Path, ffmpeg_bin: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    spy = _Spy(monkeypatch)

    def consume() -> None:
        for frame in _decode(big_clip, width=320, height=240):
            if frame.index == 5:
                raise KeyError("downstream failure")

    with pytest.raises(KeyError):
        consume()
    spy.assert_released()


def test_not_a_video_is_refused_before_ffmpeg_starts(
    tmp_path: Path, ffmpeg_bin: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The container is demuxed alongside ffmpeg (for indexes, key flags, truncation), so a
    file PyAV cannot open is refused as bad input, and no ffmpeg is started."""
    spy = _Spy(monkeypatch)
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(np.random.default_rng(1).integers(0, 256, 20_000, np.uint8).tobytes())
    with pytest.raises(InputError, match="not a readable video file"):
        list(decode_ffmpeg(str(junk), stream_index=0, width=32, height=32, source_pix_fmt="gray"))
    assert spy.procs == []


def test_a_killed_decoder_is_named_by_its_signal(
    big_clip: Path, ffmpeg_bin: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    spy = _Spy(monkeypatch)
    seen = 0
    with pytest.raises(FFmpegError) as info:
        for _ in _decode(big_clip, width=320, height=240):
            seen += 1
            if seen == 3:
                os.kill(spy.procs[0].pid, signal.SIGKILL)  # as the OOM killer would
    message = str(info.value)
    assert message.startswith("ffmpeg was killed by SIGKILL (Killed) after "), message
    assert seen < 90
    spy.assert_released()


def test_frames_come_at_the_size_the_decoder_outputs(clip: Path, ffmpeg_bin: str) -> None:
    """The raw frames are sized by showinfo's `s:` (what ffmpeg really outputs), not by the
    size the caller expects (a Theora picture at an odd offset decodes wider than its header
    says)."""
    frames = list(_decode(clip, height=50))
    assert [f.planes[0].shape for f in frames] == [(H, W)] * N


# --- protocol faults, with a fake ffmpeg ----------------------------------------------------

_FAKE = """#!{python}
import os, sys
mode = os.environ["FAKE_FFMPEG_MODE"]
tag = "[Parsed_showinfo_0 @ 0x1] "
err = sys.stderr
err.write(tag + "config in time_base: 1/25, frame_rate: 25/1\\n")
metas = {{"partial": 2, "extra_meta": 2, "missing_meta": 1, "exit1": 1, "ok": 2}}[mode]
for n in range(metas):
    err.write(tag + f"n:{{n:4d}} pts:{{n:7d}} pts_time:0 fmt:gray s:4x2 i:P iskey:1 type:I \\n")
    err.write(tag + "color_range:pc color_space:unknown color_primaries:unknown ")
    err.write("color_trc:unknown\\n")
err.flush()
frames = {{"partial": 1.5, "extra_meta": 1, "missing_meta": 2, "exit1": 1, "ok": 2}}[mode]
sys.stdout.buffer.write(bytes(range(int(8 * frames))))
sys.stdout.flush()
if mode == "exit1":
    err.write("something broke\\n")
sys.exit(1 if mode == "exit1" else 0)
"""


@pytest.fixture
def fake_ffmpeg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    exe = tmp_path / "ffmpeg"
    exe.write_text(_FAKE.format(python=sys.executable))
    exe.chmod(0o755)
    monkeypatch.setenv(ffmpeg_cmd.ENV_VAR, str(exe))
    ffmpeg_cmd.find_ffmpeg.cache_clear()
    yield
    ffmpeg_cmd.find_ffmpeg.cache_clear()


@pytest.mark.parametrize(
    ("mode", "message"),
    [
        ("partial", "ended inside frame 1"),
        ("extra_meta", "frame count mismatch: no pixels for frame 1"),
        ("missing_meta", "frame count mismatch: pixels after frame 1"),
        ("exit1", "exited with code 1 after 1 frames: something broke"),
    ],
)
def test_protocol_faults(
    fake_ffmpeg: None, clip: Path, monkeypatch: pytest.MonkeyPatch, mode: str, message: str
) -> None:
    """(The fake ffmpeg ignores its input; a real clip is demuxed alongside it.)"""
    monkeypatch.setenv("FAKE_FFMPEG_MODE", mode)
    spy = _Spy(monkeypatch)
    gen = decode_ffmpeg(str(clip), stream_index=0, width=4, height=2, source_pix_fmt="gray")
    first = next(gen)
    assert first.planes[0].tolist() == [[0, 1, 2, 3], [4, 5, 6, 7]]
    with pytest.raises(FFmpegError, match=re.escape(message)):
        list(gen)
    spy.assert_released()


def test_fake_ok_stream(fake_ffmpeg: None, clip: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_FFMPEG_MODE", "ok")
    given = ColorInfo(matrix="bt709")
    frames = list(
        decode_ffmpeg(
            str(clip), stream_index=0, width=4, height=2, source_pix_fmt="gray", color=given
        )
    )
    assert [(f.index, f.pts, f.time) for f in frames] == [(0, 0, 0.0), (1, 1, 0.04)]
    assert frames[1].color == ColorInfo(matrix="bt709", range="pc")
    assert frames[1].planes[0].tolist() == [[8, 9, 10, 11], [12, 13, 14, 15]]
