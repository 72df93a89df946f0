"""Unit tests of vidpipe.io.ffmpeg_cmd: argv builders (no subprocess) and binary discovery."""

from __future__ import annotations

import itertools
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from vidpipe.errors import VidpipeError
from vidpipe.io import ffmpeg_cmd
from vidpipe.io.ffmpeg_cmd import decode_argv, find_ffmpeg

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
    with pytest.raises(ValueError, match="absolute"):
        decode_argv("ffmpeg", "http://example.invalid/a.mp4", stream_index=0, pix_fmt="yuv420p")
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
