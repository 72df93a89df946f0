"""Tests of vidpipe.io.encode with both writers (PyAV in-process; ffmpeg 5.1 from PATH and the
imageio-ffmpeg 9.0 binary): timestamps, audio copy, lossless round trips, rotation, odd
sizes, atomic writes and cleanup. Oracles: ffprobe for timestamps and rotation, PyAV demux
for the copied packets, the input frames themselves for lossless pixels."""

from __future__ import annotations

import dataclasses
import itertools
import os
import shutil
import subprocess
import threading
from collections.abc import Iterable, Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from conftest import FFMPEG, SAMPLES, ffprobe_json, needs_ffmpeg_cli, needs_ffprobe

from vidpipe.errors import FFmpegError, VidpipeError
from vidpipe.io import encode_ffmpeg, ffmpeg_cmd
from vidpipe.io.decode import decode
from vidpipe.io.encode import default_pix_fmt, output_format
from vidpipe.io.encode_options import EncodeOptions
from vidpipe.io.probe import probe
from vidpipe.io.sink import encode
from vidpipe.types import Frame

VFR = SAMPLES / "vfr.mp4"
AAC = SAMPLES / "h264_bframes_aac.mp4"
ROTATED = SAMPLES / "rotated.mp4"
ODD = SAMPLES / "odd_641x361.mkv"
HEVC10 = SAMPLES / "hevc_10bit.mkv"
FAST = {"preset": "ultrafast"}


def _writers() -> list[Any]:
    try:
        import imageio_ffmpeg

        bundled: str | None = imageio_ffmpeg.get_ffmpeg_exe()
    except (ImportError, RuntimeError):
        bundled = None
    found = [("ffmpeg-path", shutil.which("ffmpeg")), ("ffmpeg-bundled", bundled)]
    params = [pytest.param(("av", None), id="av")]
    for name, exe in found:
        skip = pytest.mark.skipif(exe is None, reason=f"no {name}")
        params.append(pytest.param(("ffmpeg", exe), id=name, marks=skip))
    return params


def _select(param: tuple[str, str | None], monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    name, exe = param
    if exe is not None:
        monkeypatch.setenv(ffmpeg_cmd.ENV_VAR, exe)
    ffmpeg_cmd.find_ffmpeg.cache_clear()
    if name == "ffmpeg":
        # asked (and cached) before any spying
        encode_ffmpeg._ffmpeg_caps(ffmpeg_cmd.find_ffmpeg())
    yield name
    ffmpeg_cmd.find_ffmpeg.cache_clear()


@pytest.fixture(params=_writers())
def writer(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The writer name; the ffmpeg writer runs the binary of the param (via VIDPIPE_FFMPEG)."""
    yield from _select(request.param, monkeypatch)


@pytest.fixture(params=[p for p in _writers() if p.values[0][0] == "ffmpeg"])
def ffmpeg_binary(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Each ffmpeg binary in turn, made the one `find_ffmpeg` returns."""
    yield from _select(request.param, monkeypatch)


def _encode(src: Path, out: Path, writer: str, frames: Iterable[Frame] | None = None, **opts: Any):
    options = EncodeOptions(writer=writer, **opts)  # type: ignore[arg-type]
    return encode(
        decode(str(src)) if frames is None else frames, out, source=str(src), options=options
    )


def _times(frames: Iterable[Frame]) -> list[Fraction]:
    return [Fraction(f.pts) * f.time_base for f in frames if f.pts is not None]


def _probe_times(path: Path) -> list[Fraction]:
    """Video frame times (pts * stream time base) as ffprobe decodes them, display order."""
    data = ffprobe_json(
        path,
        "-select_streams",
        "v:0",
        "-show_frames",
        "-show_entries",
        "frame=pts:stream=time_base",
    )
    time_base = Fraction(data["streams"][0]["time_base"])
    return [int(f["pts"]) * time_base for f in data["frames"]]


def _probe_video(path: Path) -> dict[str, Any]:
    entries = "stream=width,height,pix_fmt:stream_side_data=rotation"
    return ffprobe_json(path, "-select_streams", "v:0", "-show_entries", entries)["streams"][0]


def _side_rotation(stream: dict[str, Any]) -> int:
    return int(next((d["rotation"] for d in stream.get("side_data_list", [])), 0)) % 360


def _packets(path: Path, kind: str) -> list[tuple[bytes, Fraction | None]]:
    with av.open(str(path)) as container:
        stream = getattr(container.streams, kind)[0]
        return [
            (bytes(p), None if p.pts is None else p.pts * p.time_base)
            for p in container.demux(stream)
            if p.size
        ]


def _top_boxes(path: Path) -> list[str]:
    """Names of an MP4 file's top-level boxes, in file order."""
    names, data, pos = [], path.read_bytes(), 0
    while pos + 8 <= len(data):
        size = int.from_bytes(data[pos : pos + 4], "big")
        names.append(data[pos + 4 : pos + 8].decode("latin-1"))
        if size == 1:
            size = int.from_bytes(data[pos + 8 : pos + 16], "big")
        pos += size if size else len(data)
    return names


def _assert_planes_equal(got: list[Frame], want: list[Frame]) -> None:
    assert len(got) == len(want)
    for ours, ref in zip(got, want, strict=True):
        assert ours.pix_fmt == ref.pix_fmt
        for a, b in zip(ours.planes, ref.planes, strict=True):
            np.testing.assert_array_equal(a, b)


# --- timestamps, audio, pixels ------------------------------------------------------------


@needs_ffprobe
def test_vfr_timestamps_kept_and_faststart(writer: str, tmp_path: Path) -> None:
    out = tmp_path / "vfr.mp4"
    result = _encode(VFR, out, writer, **FAST)
    want = _times(decode(str(VFR)))
    assert len(set(np.diff([float(t) for t in want]).round(3))) > 1  # really variable
    assert _probe_times(out) == want
    assert result.frames == len(want) == 30 and result.path == out
    boxes = _top_boxes(out)
    assert boxes.index("moov") < boxes.index("mdat")  # +faststart


@needs_ffprobe
def test_timestamps_going_backwards_are_repaired_with_one_warning(
    writer: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """As ffmpeg's muxer: a frame whose pts does not increase is written just after the
    previous one (one warning for the run), never refused."""
    frames = list(decode(str(VFR)))[:10]
    swapped = [
        dataclasses.replace(f, pts=p)
        for f, p in zip(frames, [0, 40, 20, 20, 140, 30, 200, 240, 260, 300], strict=False)
    ]
    out = tmp_path / "repaired.mp4"
    with caplog.at_level("WARNING", logger="vidpipe"):
        result = _encode(VFR, out, writer, frames=swapped, **FAST)
    tb = frames[0].time_base
    assert result.frames == 10
    assert _probe_times(out) == [p * tb for p in (0, 40, 41, 42, 140, 141, 200, 240, 260, 300)]
    warnings = [r for r in caplog.records if "does not follow" in r.getMessage()]
    assert len(warnings) == 1 and "frame 2" in warnings[0].getMessage()


@needs_ffprobe
def test_bframes_pts_and_audio_packets_copied(writer: str, tmp_path: Path) -> None:
    out = tmp_path / "av.mp4"
    _encode(AAC, out, writer, preset="superfast")  # superfast still makes B-frames
    assert _probe_times(out) == _times(decode(str(AAC)))
    shown = ffprobe_json(out, "-select_streams", "v:0", "-show_frames", "-show_entries", "frame")
    types = [f["pict_type"] for f in shown["frames"]]
    assert "B" in types
    src_audio, out_audio = _packets(AAC, "audio"), _packets(out, "audio")
    assert len(out_audio) == len(src_audio) == 189
    assert [b for b, _ in out_audio] == [b for b, _ in src_audio]
    assert [t for _, t in out_audio] == [t for _, t in src_audio]


@pytest.mark.parametrize("clip", [VFR, HEVC10], ids=["8bit", "10bit"])
def test_ffv1_round_trip_is_lossless(writer: str, clip: Path, tmp_path: Path) -> None:
    out = tmp_path / "lossless.mkv"
    result = _encode(clip, out, writer, codec="ffv1")
    frames = list(decode(str(clip)))
    assert result.pix_fmt == frames[0].pix_fmt
    again = list(decode(str(out)))
    _assert_planes_equal(again, frames)
    assert _times(again) == _times(frames)


@pytest.fixture(scope="module")
def subtitled(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """h264_bframes_aac.mp4 remuxed into Matroska with an SRT subtitle stream (index 2)."""
    folder = tmp_path_factory.mktemp("subs")
    srt = folder / "s.srt"
    srt.write_text(
        "1\n00:00:00,500 --> 00:00:01,500\nhello\n\n2\n00:00:02,000 --> 00:00:03,000\nworld\n"
    )
    out = folder / "subtitled.mkv"
    argv = [str(FFMPEG), "-v", "error", "-i", str(AAC), "-i", str(srt), "-map", "0", "-map", "1"]
    subprocess.run([*argv, "-c", "copy", str(out)], check=True)
    return out


@needs_ffmpeg_cli
def test_subtitles_copied_or_skipped_when_the_container_cannot_hold_them(
    writer: str, subtitled: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    out = tmp_path / "subs.mkv"
    _encode(subtitled, out, writer, **FAST)
    assert _packets(out, "subtitles") == _packets(subtitled, "subtitles")
    assert [p for p, _ in _packets(out, "subtitles")] == [b"hello", b"world"]
    assert _packets(out, "audio") == _packets(subtitled, "audio")
    assert _times(decode(str(out))) == _times(decode(str(subtitled)))
    _encode(subtitled, tmp_path / "subs.mp4", writer, **FAST)  # MP4 takes no SRT: skipped
    with av.open(str(tmp_path / "subs.mp4")) as container:
        assert [s.type for s in container.streams] == ["video", "audio"]
    assert "subtitle stream 2 (srt) cannot go into mp4" in caplog.text


# --- rotation and sizes ---------------------------------------------------------------------


@needs_ffprobe
def test_rotation_kept_as_display_matrix(writer: str, tmp_path: Path) -> None:
    out = tmp_path / "rot.mp4"
    result = _encode(ROTATED, out, writer, **FAST)
    assert result.rotation == probe(str(ROTATED)).rotation == 90
    assert probe(str(out)).rotation == 90
    stream = _probe_video(out)
    assert _side_rotation(stream) == 90  # ffprobe 5.1 agrees: one display matrix
    assert (stream["width"], stream["height"]) == (320, 240)  # pixels not rotated


def test_what_the_ffmpeg_cli_does_with_rotation(
    ffmpeg_binary: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """FFmpeg >= 6.1 writes the display matrix itself (`-display_rotation`); 5.1 cannot: the
    legacy `rotate` tag is dropped when encoding, so encode remuxes (checked without it)."""
    binary = ffmpeg_cmd.find_ffmpeg()
    remuxed: list[Path] = []
    monkeypatch.setattr(
        encode_ffmpeg, "_remux_with_rotation", lambda tmp, plan: remuxed.append(tmp)
    )
    out = tmp_path / "rot.mp4"
    _encode(ROTATED, out, "ffmpeg", **FAST)
    cli_rotation = probe(str(out)).rotation
    if encode_ffmpeg._ffmpeg_caps(binary).display_rotation:
        assert cli_rotation == 90 and remuxed == []
    else:
        assert cli_rotation == 0 and len(remuxed) == 1
    assert probe(str(out)).width == 320  # never rotated pixels (-noautorotate)


@needs_ffprobe
def test_rotation_baked_into_pixels(writer: str, tmp_path: Path) -> None:
    out = tmp_path / "baked.mkv"
    result = _encode(ROTATED, out, writer, codec="ffv1", rotation="bake")
    assert result.rotation == 0 and result.size_wh == (240, 320)
    stream = _probe_video(out)
    assert _side_rotation(stream) == 0 and (stream["width"], stream["height"]) == (240, 320)
    info = probe(str(out))
    assert info.rotation == 0 and (info.width, info.height) == (240, 320)
    src = list(decode(str(ROTATED)))
    got = list(decode(str(out)))
    assert len(got) == len(src)
    for ours, ref in zip(got, src, strict=True):
        for a, b in zip(ours.planes, ref.planes, strict=True):
            np.testing.assert_array_equal(a, np.rot90(b))


def test_odd_size_padded_by_replication_for_libx264(writer: str, tmp_path: Path) -> None:
    out = tmp_path / "odd.mp4"
    result = _encode(ODD, out, writer, crf=0, **FAST)  # crf 0: x264 is lossless
    assert result.size_wh == (642, 362)
    info = probe(str(out))
    assert (info.width, info.height) == (642, 362)
    src, got = list(decode(str(ODD))), list(decode(str(out)))
    assert len(got) == len(src)
    for ours, ref in zip(got[:3], src[:3], strict=True):
        y, (u, v) = ours.planes[0], ours.planes[1:]
        np.testing.assert_array_equal(y[:361, :641], ref.planes[0])
        np.testing.assert_array_equal(y[:361, 641], ref.planes[0][:, 640])  # last column again
        np.testing.assert_array_equal(y[361], y[360])  # last row again
        np.testing.assert_array_equal(u, ref.planes[1])  # 321x181 chroma covers both sizes
        np.testing.assert_array_equal(v, ref.planes[2])


def test_ffv1_keeps_odd_size(tmp_path: Path) -> None:
    result = _encode(ODD, tmp_path / "odd.mkv", "av", codec="ffv1")
    assert result.size_wh == (641, 361)
    _assert_planes_equal(list(decode(str(result.path))), list(decode(str(ODD))))


# --- refusals before any work ------------------------------------------------------------


def _snapshot(directory: Path) -> dict[str, tuple[bytes, int]]:
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in directory.iterdir()
            if p.is_file()}  # fmt: skip


@pytest.mark.parametrize("spelling", ["same", "relative", "symlink", "hardlink"])
def test_refuses_to_write_over_the_input(
    spelling: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = tmp_path / "in.mp4"
    shutil.copy(VFR, src)
    out = {"same": src, "relative": Path("sub/../in.mp4"), "symlink": tmp_path / "link.mp4",
           "hardlink": tmp_path / "hard.mp4"}[spelling]  # fmt: skip
    (tmp_path / "sub").mkdir()
    if spelling == "symlink":
        out.symlink_to(src)
    elif spelling == "hardlink":
        os.link(src, out)
    monkeypatch.chdir(tmp_path)
    before = _snapshot(tmp_path)
    with pytest.raises(VidpipeError, match="input"):
        _encode(src, out, "av", overwrite=True)
    assert _snapshot(tmp_path) == before


def test_existing_output_needs_overwrite(writer: str, tmp_path: Path) -> None:
    out = tmp_path / "out.mp4"
    out.write_bytes(b"precious")
    before = _snapshot(tmp_path)
    with pytest.raises(VidpipeError, match="exists"):
        _encode(VFR, out, writer, **FAST)
    assert _snapshot(tmp_path) == before
    _encode(VFR, out, writer, overwrite=True, **FAST)
    assert probe(str(out)).frame_count == 30
    assert [p.name for p in tmp_path.iterdir()] == ["out.mp4"]


def test_missing_directory_unknown_container_and_empty_input(tmp_path: Path) -> None:
    with pytest.raises(VidpipeError, match="does not exist"):
        _encode(VFR, tmp_path / "nope" / "out.mp4", "av")
    with pytest.raises(VidpipeError, match="container"):
        _encode(VFR, tmp_path / "out.xyz", "av")
    with pytest.raises(VidpipeError, match="no frames"):
        _encode(VFR, tmp_path / "out.mp4", "av", frames=[])
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("codec", "message"),
    [("nope264", "unknown codec"), ("aac", "not a video encoder"), ("vp6", "no encoder")],
)
def test_unknown_or_unsuitable_codec(codec: str, message: str, tmp_path: Path) -> None:
    with pytest.raises(VidpipeError, match=message):
        _encode(VFR, tmp_path / "out.mp4", "av", codec=codec)
    assert list(tmp_path.iterdir()) == []


def test_bad_pix_fmt_refused(tmp_path: Path) -> None:
    with pytest.raises(VidpipeError, match="cannot encode"):
        _encode(VFR, tmp_path / "out.mp4", "av", pix_fmt="yuv420p16le")
    assert list(tmp_path.iterdir()) == []


# --- failures: nothing left behind ------------------------------------------------------------


class _Spy:
    """Records the subprocesses encode starts and the stderr drains it runs."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.procs: list[subprocess.Popen[bytes]] = []
        real_popen = subprocess.Popen

        def popen(*args: Any, **kwargs: Any) -> subprocess.Popen[bytes]:
            assert "shell" not in kwargs
            self.procs.append(real_popen(*args, **kwargs))
            return self.procs[-1]

        monkeypatch.setattr(encode_ffmpeg.subprocess, "Popen", popen)

    def assert_released(self, writer: str) -> None:
        assert len(self.procs) == (writer == "ffmpeg")
        for proc in self.procs:
            assert proc.returncode is not None  # reaped: no zombie, nothing running
            assert not Path(f"/proc/{proc.pid}").exists()
            assert proc.stdin is not None and proc.stdin.closed
            assert proc.stderr is not None and proc.stderr.closed
        drains = [t for t in threading.enumerate() if t.name.startswith("ffmpeg-encode-stderr")]
        assert drains == []


@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
def test_failing_input_leaves_nothing(
    writer: str, error: type[BaseException], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spy = _Spy(monkeypatch)
    upstream = decode(str(AAC))

    def frames() -> Iterator[Frame]:
        for frame in upstream:
            if frame.index == 5:
                raise error("broken upstream")
            yield frame

    with pytest.raises(error, match="broken upstream"):
        _encode(AAC, tmp_path / "out.mp4", writer, frames=frames(), **FAST)
    assert list(tmp_path.iterdir()) == []
    spy.assert_released(writer)


def test_input_iterator_closed_on_failure(tmp_path: Path) -> None:
    def frames() -> Iterator[Frame]:
        for frame in decode(str(VFR)):
            if frame.index == 3:  # another size mid-stream: rejected
                frame = Frame(tuple(p[:-2, :-2] for p in frame.planes), frame.pix_fmt,
                              frame.index, frame.pts, frame.time_base)  # fmt: skip
            yield frame

    gen = frames()
    with pytest.raises(VidpipeError, match="frame 3 is 318x238"):
        _encode(VFR, tmp_path / "o.mp4", "av", frames=gen, **FAST)
    assert gen.gi_frame is None  # closed by encode: upstream resources are released
    assert list(tmp_path.iterdir()) == []


def test_encoder_failure_is_reported(
    writer: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spy = _Spy(monkeypatch)
    with pytest.raises(VidpipeError) as caught:
        _encode(VFR, tmp_path / "out.mp4", writer, preset="no-such-preset")
    if writer == "ffmpeg":
        assert isinstance(caught.value, FFmpegError)
        assert "preset" in caught.value.stderr_tail.lower()
    assert list(tmp_path.iterdir()) == []
    spy.assert_released(writer)


# --- source copy is lazy; pure helpers ---------------------------------------------------------


def test_source_packets_read_only_up_to_the_video_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    frames = list(decode(str(AAC)))  # decoded first: the only reader of AAC is then encode's
    read: list[Fraction] = []  # times of the source packets demuxed so far
    real_open = av.open

    class Recording:
        def __init__(self, container: Any) -> None:
            self._c = container

        def __getattr__(self, name: str) -> Any:
            return getattr(self._c, name)

        def __enter__(self) -> Recording:
            return self

        def __exit__(self, *exc: object) -> None:
            self._c.close()

        def demux(self, *streams: Any) -> Iterator[Any]:
            for packet in self._c.demux(*streams):
                if packet.pts is not None and packet.stream.type == "audio":  # not probing's
                    read.append(packet.pts * packet.time_base)
                yield packet

    def fake_open(path: Any, *args: Any, **kwargs: Any) -> Any:
        container = real_open(path, *args, **kwargs)
        return Recording(container) if path == str(AAC.resolve()) and not args else container

    monkeypatch.setattr(av, "open", fake_open)
    seen: list[tuple[Fraction, Fraction]] = []  # (time of the frame asked for, audio read)

    def watched() -> Iterator[Frame]:
        for frame in frames:
            seen.append((frame.pts * frame.time_base, max(read, default=Fraction(-1))))
            yield frame

    _encode(AAC, tmp_path / "out.mp4", "av", frames=watched(), **FAST)
    for (previous, _), (_, audio) in itertools.pairwise(seen):
        assert audio <= previous + Fraction(1, 20)  # one AAC packet (21 ms) of look-ahead
    assert seen[50][1] < Fraction(3)  # not the whole 4 s track up front
    assert len(read) == 189


def test_default_pix_fmt() -> None:
    x264, x265, vp9 = (av.Codec(n, "w") for n in ("libx264", "libx265", "libvpx-vp9"))
    assert default_pix_fmt(x264, "yuv420p") == "yuv420p"
    assert default_pix_fmt(x264, "yuv444p") == "yuv444p"  # High 4:4:4
    assert default_pix_fmt(x265, "yuv420p10le") == "yuv420p10le"
    assert default_pix_fmt(x264, "yuv420p12le") == "yuv420p10le"  # nearest depth it has
    assert default_pix_fmt(vp9, "yuv420p10le") in {"yuv420p10le", "yuv420p"}
    assert default_pix_fmt(x264, "rgb24") == "yuv420p"
    assert default_pix_fmt(av.Codec("ffv1", "w"), "yuv440p") == "yuv440p"


def test_output_format_follows_ffmpeg_guess() -> None:
    assert output_format("/x/a.mp4") == "mp4"
    assert output_format("a.MKV") == "matroska"
    assert output_format("a.m4v") == "ipod"
    assert output_format("a.mov") == "mov"


def test_first_working_encoder_skips_missing_and_unopenable_encoders() -> None:
    from vidpipe.io.output import first_working_encoder

    assert first_working_encoder(["no_such_encoder", "libx264"]) == "libx264"
    assert first_working_encoder(["libx264"]) == "libx264"
    assert first_working_encoder(["ffv1", "libx264"]) == "ffv1"
    if "h264_nvenc" in av.codecs_available and not Path("/dev/nvidia0").exists():
        assert first_working_encoder(["h264_nvenc", "libx264"]) == "libx264"
