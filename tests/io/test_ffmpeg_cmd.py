"""Unit tests of vidpipe.io.ffmpeg_cmd: argv builders (no subprocess) and binary discovery."""

from __future__ import annotations

import itertools
import os
import stat
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

from vidpipe.errors import InputError, VidpipeError
from vidpipe.io import ffmpeg_cmd
from vidpipe.io.ffmpeg_cmd import decode_argv, encode_argv, find_ffmpeg

CLIP = "/videos/my clip:1.mp4"


def _pairs(argv: list[str]) -> list[tuple[str, str]]:
    return list(itertools.pairwise(argv))


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    find_ffmpeg.cache_clear()
    yield
    find_ffmpeg.cache_clear()


def test_decode_argv_options() -> None:
    argv = decode_argv("/opt/ff/ffmpeg", CLIP, stream_index=2, pix_fmt="yuv420p10le")
    pairs = _pairs(argv)
    assert argv[0] == "/opt/ff/ffmpeg"
    assert argv.index("pipe:1") > argv.index("-i")
    for flag in ("-nostdin", "-hide_banner", "-nostats", "-noautorotate", "-copyts"):
        assert flag in argv
    for flag in ("-an", "-sn", "-dn"):
        assert flag in argv
    assert ("-loglevel", "info") in pairs
    assert ("-fps_mode", "passthrough") in pairs
    assert ("-map", "0:2") in pairs
    assert ("-f", "rawvideo") in pairs
    assert ("-pix_fmt", "yuv420p10le") in pairs
    assert ("-i", CLIP) in pairs
    vf = argv[argv.index("-vf") + 1]
    assert vf.split("=")[0] == "showinfo"
    assert "checksum=0" in vf  # accepted by FFmpeg 5.1 and 9.0, saves a pass per frame


def test_input_options_come_before_the_input() -> None:
    argv = decode_argv("ffmpeg", CLIP, stream_index=0, pix_fmt="yuv420p")
    i = argv.index("-i")
    assert ("-protocol_whitelist", "file") in _pairs(argv[:i])
    assert "-noautorotate" in argv[:i]
    assert argv.index("-map") > i and argv.index("-pix_fmt") > i
    assert ("-map", "0:0") in _pairs(argv)


def test_path_is_one_argument_even_when_it_looks_like_an_option(tmp_path: Path) -> None:
    weird = str(tmp_path / "-i; rm -rf ~ $(x).mp4")
    argv = decode_argv("ffmpeg", weird, stream_index=0, pix_fmt="gray")
    assert argv[argv.index("-i") + 1] == weird
    assert argv.count(weird) == 1


def test_relative_path_or_bad_index_refused() -> None:
    with pytest.raises(ValueError, match="absolute"):
        decode_argv("ffmpeg", "clip.mp4", stream_index=0, pix_fmt="yuv420p")
    url = decode_argv("ffmpeg", "http://example.invalid/a.mp4", stream_index=0, pix_fmt="gray")
    assert ("-protocol_whitelist", "http,https,tcp,tls,crypto") in _pairs(url)
    assert not any(arg.endswith("timeout") for arg in url)  # the reader's watchdog bounds it
    with pytest.raises(InputError, match="concat: protocol is refused"):
        decode_argv("ffmpeg", "concat:/a.mp4|/b.mp4", stream_index=0, pix_fmt="yuv420p")
    with pytest.raises(ValueError, match="stream_index"):
        decode_argv("ffmpeg", CLIP, stream_index=-1, pix_fmt="yuv420p")


def test_decode_argv_is_pure_and_deterministic() -> None:
    a = decode_argv("ffmpeg", CLIP, stream_index=1, pix_fmt="rgb24")
    b = decode_argv("ffmpeg", CLIP, stream_index=1, pix_fmt="rgb24")
    assert a == b and all(isinstance(x, str) for x in a)


def _fake_exe(path: Path) -> Path:
    path.write_text("#!/bin/sh\nexit 0\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def test_find_ffmpeg_env_var_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    exe = _fake_exe(tmp_path / "my-ffmpeg")
    monkeypatch.setenv(ffmpeg_cmd.ENV_VAR, str(exe))  # even when ffmpeg is on PATH
    assert find_ffmpeg() == str(exe)


def test_find_ffmpeg_env_var_must_be_executable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ffmpeg_cmd.ENV_VAR, str(tmp_path / "missing"))
    with pytest.raises(VidpipeError, match=ffmpeg_cmd.ENV_VAR):
        find_ffmpeg()


def test_find_ffmpeg_uses_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ffmpeg_cmd.ENV_VAR, raising=False)
    monkeypatch.setattr(ffmpeg_cmd.shutil, "which", lambda name: f"/fake/bin/{name}")
    assert find_ffmpeg() == "/fake/bin/ffmpeg"


def test_find_ffmpeg_is_cached(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ffmpeg_cmd.ENV_VAR, raising=False)
    calls: list[str] = []

    def which(name: str) -> str:
        calls.append(name)
        return "/fake/bin/ffmpeg"

    monkeypatch.setattr(ffmpeg_cmd.shutil, "which", which)
    assert find_ffmpeg() == find_ffmpeg() == "/fake/bin/ffmpeg"
    assert calls == ["ffmpeg"]


def test_find_ffmpeg_falls_back_to_imageio(monkeypatch: pytest.MonkeyPatch) -> None:
    imageio_ffmpeg = pytest.importorskip("imageio_ffmpeg")
    monkeypatch.delenv(ffmpeg_cmd.ENV_VAR, raising=False)
    monkeypatch.setattr(ffmpeg_cmd.shutil, "which", lambda name: None)
    monkeypatch.setattr(imageio_ffmpeg, "get_ffmpeg_exe", lambda: "/bundled/ffmpeg")
    assert find_ffmpeg() == "/bundled/ffmpeg"


def test_find_ffmpeg_none_found(monkeypatch: pytest.MonkeyPatch) -> None:
    imageio_ffmpeg = pytest.importorskip("imageio_ffmpeg")
    monkeypatch.delenv(ffmpeg_cmd.ENV_VAR, raising=False)
    monkeypatch.setattr(ffmpeg_cmd.shutil, "which", lambda name: None)

    def missing() -> str:
        raise RuntimeError("no ffmpeg exe could be found")

    monkeypatch.setattr(imageio_ffmpeg, "get_ffmpeg_exe", missing)
    with pytest.raises(VidpipeError, match="ffmpeg not found"):
        find_ffmpeg()


def test_real_binary_is_executable() -> None:
    assert os.access(find_ffmpeg(), os.X_OK)


# --- encode_argv ---------------------------------------------------------------------------

OUT = "/videos/.out.mp4.part-1a2b"
SRC = "/videos/my clip:1.mp4"


def _encode_argv(**kwargs: Any) -> list[str]:
    args: dict[str, Any] = {
        "output": OUT,
        "source": SRC,
        "codec": "libx264",
        "pix_fmt": "yuv420p",
        "muxer": "mp4",
    }
    return encode_argv("/opt/ff/ffmpeg", **{**args, **kwargs})


def test_encode_argv_inputs_maps_and_timestamps() -> None:
    argv = _encode_argv(time_base=Fraction(1, 12800), crf=18, preset="slow", threads=3)
    pairs = _pairs(argv)
    assert argv[0] == "/opt/ff/ffmpeg" and argv.count("-i") == 2
    first, second = (i for i, a in enumerate(argv) if a == "-i")
    assert argv[first + 1] == "pipe:0" and argv[second + 1] == SRC
    assert ("-f", "nut") in _pairs(argv[:first])  # the video pipe is NUT: pts survive
    for start, end in ((0, first), (first + 1, second)):
        assert ("-protocol_whitelist", "file,pipe") in _pairs(argv[start:end])
    assert ("-map", "0:v:0") in pairs
    assert ("-map", "1:a?") in pairs and ("-map", "1:s?") in pairs
    assert ("-c:a", "copy") in pairs and ("-c:s", "copy") in pairs
    assert ("-c:v", "libx264") in pairs and ("-pix_fmt", "yuv420p") in pairs
    assert ("-crf", "18") in pairs and ("-preset", "slow") in pairs
    assert ("-threads:v", "3") in pairs
    assert ("-fps_mode", "passthrough") in pairs and "-copyts" in argv
    assert ("-enc_time_base:v", "1/12800") in pairs  # else ffmpeg rounds pts to 1/fps
    assert ("-f", "mp4") in _pairs(argv[second:])  # muxer explicit: the name ends in .part-*
    assert argv.index(OUT) > second and argv.count(OUT) == 1
    for flag in ("-y", "-nostdin", "-hide_banner", "-nostats"):
        assert flag in argv
    assert "-movflags" not in argv and "-display_rotation:v:0" not in argv


def test_encode_argv_faststart_color_and_explicit_streams() -> None:
    argv = _encode_argv(faststart=True, color={"color_range": "pc"}, source_streams=(1, 3))
    pairs = _pairs(argv)
    assert ("-movflags", "+faststart") in pairs and ("-color_range", "pc") in pairs
    assert ("-map", "1:1") in pairs and ("-map", "1:3") in pairs and ("-map", "1:a?") not in pairs
    none = _encode_argv(source=None, pix_fmt=None)
    assert none.count("-i") == 1 and "-pix_fmt" not in none and ("-map", "1:a?") not in _pairs(none)


def test_encode_argv_rotation_new_and_old_ffmpeg() -> None:
    new = _encode_argv(rotation_keep=90, display_rotation=True)
    first = new.index("-i")
    assert ("-display_rotation:v:0", "90") in _pairs(new[:first])  # an option of the pipe input
    assert "-noautorotate" in new[:first]  # else ffmpeg >= 7 rotates the pixels instead
    old = _encode_argv(rotation_keep=90, display_rotation=False)
    assert "-display_rotation:v:0" not in old
    assert ("-metadata:s:v:0", "rotate=270") in _pairs(old)  # legacy tag: clockwise degrees
    assert "-metadata:s:v:0" not in _encode_argv(rotation_keep=None, display_rotation=False)


def test_encode_argv_needs_absolute_paths_and_is_pure() -> None:
    with pytest.raises(ValueError, match="absolute"):
        _encode_argv(output="out.mp4")
    with pytest.raises(ValueError, match="absolute"):
        _encode_argv(source="clip.mp4")
    with pytest.raises(InputError, match="the concat: protocol is refused"):
        _encode_argv(source="concat:/a.mp4|/b.mp4")
    url = _encode_argv(source="https://example.invalid/a.mp4")  # an opted-in network input
    assert ("-protocol_whitelist", "http,https,tcp,tls,crypto") in _pairs(url)
    assert ("-protocol_whitelist", "file,pipe") in _pairs(url)  # the video pipe's
    weird = "/tmp/-i; rm -rf ~ $(x).mp4"
    argv = _encode_argv(source=weird)
    assert argv[argv.index(weird) - 1] == "-i" and argv.count(weird) == 1
    assert _encode_argv() == _encode_argv() and all(isinstance(a, str) for a in _encode_argv())
