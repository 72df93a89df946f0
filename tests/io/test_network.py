"""Network inputs, opted into (`--allow-url`, `vp.open(url, allow_url=True)`), on the loopback:
a clip over HTTP gives the frames the file gives (with and without range requests); every
other protocol stays refused, also behind a redirect; a silent, stalling or garbage server
ends the run with one `error:` line within about the timeout; credentials never show.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import threading
import time
from pathlib import Path

import pytest
from conftest import run_cli
from netservers import garbage_server, serve_folder, silent_server, stalling_server

import vidpipe as vp
from vidpipe.errors import InputError
from vidpipe.io.inputs import open_options, redact


@pytest.fixture(scope="module")
def clips(real_corpus: list[Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Real footage to serve: pymediainfo's sample.mp4 (1080p H.264 + AAC) and bikes.mp4
    remuxed with its index first (so a reader that gets the start of it can decode)."""
    folder = tmp_path_factory.mktemp("served")
    sample = next(p for p in real_corpus if p.parent.name.startswith("pymediainfo"))
    bikes = next(p for p in real_corpus if p.name == "bikes.mp4")
    (folder / "sample.mp4").write_bytes(sample.read_bytes())
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(bikes), "-c", "copy", "-movflags",
                    "+faststart", str(folder / "bikes.mp4")], check=True)  # fmt: skip
    return folder


def fingerprint(source: vp.Source) -> list[tuple]:
    """Per frame: index, pts, type, and a digest of its pixels."""
    return [
        (
            f.index,
            f.pts,
            f.pict_type.name,
            hashlib.sha1(b"".join(bytes(p) for p in f.planes)).hexdigest(),
        )
        for f in source.frames()
    ]


@pytest.mark.parametrize(
    ("ranges", "backend"),
    [(True, "av"), (False, "av"), (True, "ffmpeg")],
    ids=["ranges", "whole-file", "ffmpeg-backend"],
)
def test_a_clip_over_http_gives_the_files_frames(clips: Path, ranges: bool, backend) -> None:
    with vp.open(clips / "sample.mp4") as local:
        want, info = fingerprint(local), local.info
    with (
        serve_folder(clips, ranges=ranges) as base,
        vp.open(f"{base}/sample.mp4", allow_url=True, timeout=10, backend=backend) as remote,
    ):
        assert remote.info.frame_count == info.frame_count == len(want) == 23
        assert (remote.info.width, remote.info.codec) == (info.width, info.codec)
        assert fingerprint(remote) == want


def test_the_cli_reads_a_url_as_it_reads_the_file(clips: Path, tmp_path: Path) -> None:
    """frames --json, probe --json and gamma -o (audio stream-copied from the URL, with
    either writer) on a URL equal the same commands on the file."""
    local = run_cli("frames", str(clips / "bikes.mp4"), "--json")
    with serve_folder(clips) as base:
        url = f"{base}/bikes.mp4"
        remote = run_cli("frames", url, "--json", "--allow-url")
        assert remote.returncode == 0, remote.stderr
        assert remote.stdout == local.stdout and len(remote.stdout.splitlines()) == 250
        piped = run_cli("frames", url, "--json", "--allow-url", "--backend", "ffmpeg")
        assert piped.returncode == 0, piped.stderr
        unsized = [{**json.loads(line), "size": None} for line in local.stdout.splitlines()]
        assert [json.loads(line) for line in piped.stdout.splitlines()] == unsized
        probed = run_cli("probe", url, "--json", "--allow-url")
        assert json.loads(probed.stdout)["path"] == url
        for writer in ("av", "ffmpeg"):
            out = tmp_path / f"{writer}.mp4"
            done = run_cli("gamma", f"{base}/sample.mp4", "--allow-url", "-g", "1.5", "-o",
                           str(out), "--writer", writer, "-q")  # fmt: skip
            assert done.returncode == 0, done.stderr
            kinds = subprocess.run(
                ["ffprobe", "-v", "error", "-show_entries", "stream=codec_type", "-of", "csv=p=0",
                 str(out)], capture_output=True, text=True, check=True,
            ).stdout.split()  # fmt: skip
            assert kinds == ["video", "audio"], writer


def one_error_line(done: subprocess.CompletedProcess[str]) -> str:
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2, done.stderr
    assert len(lines) == 1 and lines[0].startswith("error:"), lines
    return lines[0]


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("file:///etc/passwd", "the file: protocol is refused"),
        ("concat:/a.mp4|/b.mp4", "the concat: protocol is refused"),
        ("pipe:0", "the pipe: protocol is refused"),
        ("subfile,,start,0,end,99,,:/etc/passwd", "the subfile: protocol is refused"),
        ("data:video/mp4;base64,AAAA", "the data: protocol is refused"),
        ("ftp://host/clip.mp4", "the ftp: protocol is refused"),
        ("http:///clip.mp4", "no host"),
    ],
)
def test_other_protocols_stay_refused(url: str, message: str) -> None:
    assert message in one_error_line(run_cli("frames", url, "--allow-url"))


def test_a_url_without_the_flag_is_refused_and_its_credentials_hidden() -> None:
    line = one_error_line(run_cli("probe", "rtsp://admin:hunter2@10.1.2.3/live?token=abc"))
    assert "refused" in line and "--allow-url" in line
    assert "hunter2" not in line and "abc" not in line and "admin" not in line
    assert redact("rtsp://admin:hunter2@cam/x?token=abc&q=1") == "rtsp://***@cam/x?token=***&q=1"


def test_a_redirect_cannot_leave_the_network_protocols(clips: Path) -> None:
    """A 302 to another http URL is followed; one to file: (a local video here) is not."""
    with serve_folder(clips) as base:
        followed = run_cli("frames", f"{base}/redirect?to={base}/bikes.mp4", "--allow-url")
        assert followed.returncode == 0, followed.stderr
        local = clips / "bikes.mp4"
        escaped = run_cli("frames", f"{base}/redirect?to=file://{local}", "--allow-url",
                          "--timeout", "5")  # fmt: skip
        assert "cannot open it" in one_error_line(escaped)


def test_the_whitelist_is_the_schemes_own() -> None:
    assert open_options("https://h/x", 3)["protocol_whitelist"] == "http,https,tcp,tls,crypto"
    assert open_options("https://h/x", 3)["rw_timeout"] == "3000000"
    assert "file" not in open_options("rtsp://h/x")["protocol_whitelist"].split(",")
    assert open_options("/abs/clip.mp4") == {"pattern_type": "none"}


def _children() -> set[int]:
    """The pids of this process's children (from /proc: no child is started to ask)."""
    import os

    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:  # the process ended meanwhile
            continue
        if int(fields[1]) == os.getpid():
            found.add(int(stat.parent.name))
    return found


@pytest.mark.parametrize(
    ("command", "backend"),
    [("frames", "av"), ("probe", "av"), ("detect", "av"), ("frames", "ffmpeg")],
)
def test_a_server_that_never_sends_times_out(command: str, backend: str, tmp_path: Path) -> None:
    """Accepted, then silence: one error line saying it timed out, within about --timeout
    seconds (not the 30 s default, not forever), and nothing written."""
    with silent_server() as address:
        out = tmp_path / "out.jsonl"
        extra = ["--json", str(out), "--device", "cpu"] if command == "detect" else []
        extra += ["--backend", backend] if command != "probe" else []
        start = time.monotonic()
        done = run_cli(command, f"http://{address}/clip.mp4", "--allow-url", "--timeout", "2",
                       *extra, timeout=60)  # fmt: skip
        took = time.monotonic() - start
    assert "timed out" in one_error_line(done)
    assert 1.5 < took < 20, took  # start-up plus about 2 s; the default would be 30
    assert not out.exists()


@pytest.mark.parametrize("backend", ["av", "ffmpeg"])
def test_a_server_that_stalls_mid_stream_times_out_in_python(clips: Path, backend) -> None:
    """Half the file, then silence: the frames that came are given, then InputError saying
    it timed out; no thread or child process (ffmpeg's, on that backend) is left behind."""
    data = (clips / "bikes.mp4").read_bytes()
    threads, children = threading.active_count(), _children()
    with stalling_server(data, len(data) // 2) as address:
        got = 0
        start = time.monotonic()
        url = f"http://{address}/bikes.mp4"
        with (
            pytest.raises(InputError, match="timed out"),
            vp.open(url, allow_url=True, timeout=2, backend=backend) as source,
        ):
            for _ in source.frames():
                got += 1
        took = time.monotonic() - start
    assert 50 < got < 250 and took < 20, (got, took)
    deadline = time.monotonic() + 10
    while threading.active_count() > threads and time.monotonic() < deadline:
        time.sleep(0.05)  # bounded polling: the decoder's threads end with it
    assert threading.active_count() <= threads and _children() <= children


def test_a_server_that_sends_garbage_is_one_error(tmp_path: Path) -> None:
    with garbage_server() as address:
        line = one_error_line(run_cli("probe", f"http://{address}/x.mp4", "--allow-url",
                                      "--timeout", "5"))  # fmt: skip
    assert "cannot open it" in line


def test_bad_timeouts() -> None:
    for value in ("0", "-1"):
        done = run_cli("frames", "http://127.0.0.1:9/x.mp4", "--allow-url", "--timeout", value)
        assert "--timeout must be > 0" in one_error_line(done)


@pytest.mark.parametrize("backend", ["av", "ffmpeg"])
@pytest.mark.parametrize("name", ["bikes.mp4", "bikes.ts"])
def test_a_broken_link_is_resumed_where_it_broke(clips: Path, name: str, backend: str) -> None:
    """The server resets the connection halfway through the file: FFmpeg asks for the rest
    (a range request) and every frame arrives, as from the file."""
    if not (clips / "bikes.ts").exists():
        subprocess.run(["ffmpeg", "-v", "error", "-i", str(clips / "bikes.mp4"), "-c", "copy",
                        "-f", "mpegts", str(clips / "bikes.ts")], check=True)  # fmt: skip
    with vp.open(clips / name) as local:
        want = fingerprint(local)
    half = (clips / name).stat().st_size // 2
    with (
        serve_folder(clips, drop_at=half) as base,
        vp.open(f"{base}/{name}", allow_url=True, timeout=10, backend=backend) as remote,
    ):
        got = fingerprint(remote)
    assert got == want
