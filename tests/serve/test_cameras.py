"""Cameras of `vidpipe serve`, run for real: the loopback test camera (an endless MPEG-TS
stream over TCP) detected, tracked and counted by a supervised worker; its events sent to a
loopback webhook receiver (signed); a camera whose stream ends comes back with a gap event;
a webhook that never answers holds no frame back; removing a camera closes its segment."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from conftest import NANO_ONNX, ffprobe_json, needs_ffprobe
from netservers import camera_server, live_server
from serve_helpers import _json, _request, service, until

SECRET = "hush"
pytestmark = pytest.mark.skipif(not NANO_ONNX.is_file(), reason=f"no {NANO_ONNX}")


@contextmanager
def receiver(*, hang: bool = False, fail: int = 0) -> Iterator[tuple[str, list[tuple[dict, bool]]]]:
    """A loopback webhook receiver: (its URL, [(event, whether its signature is right)]);
    with `hang`, it takes each request and never answers; it answers the first `fail`
    requests 500."""
    got: list[tuple[dict, bool]] = []
    release = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["content-length"]))
            want = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
            got.append((json.loads(body), self.headers.get("x-vidpipe-signature") == want))
            if hang:
                release.wait(60)
                return
            self.send_response(500 if len(got) <= fail else 204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook", got
    finally:
        release.set()
        server.shutdown()
        server.server_close()
        thread.join(10)


def _camera(name: str, url: str, **extra: object) -> dict:
    return {"name": name, "url": url, "options": {"model": str(NANO_ONNX), "track": "bytetrack",
            "count_line": ["gate=80,0,80,120"]}, **extra}  # fmt: skip


@needs_ffprobe
def test_a_camera_runs_counts_alerts_and_closes_its_segment(tmp_path: Path) -> None:
    root = tmp_path / "in"
    root.mkdir()
    with (
        camera_server(size="160x120") as address,
        receiver() as (hook, got),
        service(tmp_path / "data", root, "--allow-url", "--webhook", hook,
                "--webhook-secret", SECRET) as (base, _),
    ):  # fmt: skip
        made = _json(base, "/cameras", method="POST",
                     body=_camera("gate", f"tcp://{address}", segment_s=1))  # fmt: skip
        assert made["state"] in ("running", "restarting")  # type: ignore[index]
        until(lambda: _json(base, "/cameras/gate").get("frames", 0) >= 20)  # type: ignore[union-attr]
        until(lambda: any(e["event"] == "appear" for e, _ in got))
        assert all(signed for _, signed in got)
        assert all(e["camera"] == "gate" for e, _ in got)
        text = _request(base, "/metrics")[1].decode()
        assert 'vidpipe_camera_up{camera="gate"} 1.0' in text
        fps = float(text.split('vidpipe_camera_fps{camera="gate"} ')[1].split()[0])
        assert fps > 5
        assert (
            _request(base, "/cameras", method="POST", body=_camera("gate", "tcp://x:1"))[0] == 400
        )
        status, answer = _request(base, "/cameras/gate", method="DELETE")
        assert status == 200, answer
        assert _request(base, "/cameras/gate")[0] == 404
    (folder,) = (tmp_path / "data" / "cameras").iterdir()
    assert folder.name.startswith("gate.removed-")
    segments = sorted((folder / "run-0001" / "segments").iterdir())
    assert segments
    for segment in segments:  # every segment, the last one included, is a whole file
        frames = ffprobe_json(segment, "-count_frames", "-select_streams", "v:0",
                              "-show_streams")["streams"][0]["nb_read_frames"]  # fmt: skip
        assert int(frames) > 0
    lines = (folder / "run-0001" / "detections.jsonl").read_text().splitlines()
    assert len(lines) >= 20 and all(json.loads(line) for line in lines)


def test_a_camera_that_ends_comes_back_with_a_gap(tmp_path: Path) -> None:
    """The stream serves a few seconds and drops; with no reconnections allowed the worker
    ends; the service starts another after its backoff and says so with a gap event."""
    root = tmp_path / "in"
    root.mkdir()
    clip = tmp_path / "clip.ts"
    import subprocess

    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=96x64:rate=25",
                    "-t", "2", "-c:v", "libx264", "-g", "25", "-f", "mpegts", str(clip)],
                   check=True)  # fmt: skip
    data = clip.read_bytes()
    with (
        live_server(data, [slice(0, len(data))] * 4) as (address, _),
        receiver() as (hook, got),
        service(tmp_path / "data", root, "--allow-url", "--webhook", hook,
                "--webhook-secret", SECRET) as (base, _),
    ):  # fmt: skip
        _json(base, "/cameras", method="POST",
              body=_camera("door", f"tcp://{address}", reconnect=0))  # fmt: skip
        until(lambda: _json(base, "/cameras/door")["restarts"] >= 1)  # type: ignore[index]
        until(lambda: any(e["event"] == "gap" for e, _ in got))
        gap = next(e for e, _ in got if e["event"] == "gap")
        assert gap["camera"] == "door" and gap["seconds"] >= 0.5
        text = _request(base, "/metrics")[1].decode()
        assert 'vidpipe_camera_restarts_total{camera="door"}' in text


def test_a_hanging_webhook_holds_no_frame_back(tmp_path: Path) -> None:
    root = tmp_path / "in"
    root.mkdir()
    with (
        camera_server(size="160x120") as address,
        receiver(hang=True) as (hook, got),
        service(tmp_path / "data", root, "--allow-url", "--webhook", hook) as (base, _),
    ):  # fmt: skip
        _json(base, "/cameras", method="POST", body=_camera("lobby", f"tcp://{address}"))
        until(lambda: bool(got))  # the receiver holds its first event, answering nothing
        start = _json(base, "/cameras/lobby")["frames"]  # type: ignore[index]
        until(lambda: _json(base, "/cameras/lobby")["frames"] >= start + 20)  # type: ignore[index]
        assert len(got) == 1  # one event at a time: the others wait, or are dropped
        assert _request(base, "/healthz")[0] == 200


@contextmanager
def broker() -> Iterator[str]:
    """Debian's mosquitto on a free loopback port (mqtt://127.0.0.1:PORT)."""
    import shutil
    import socket
    import subprocess

    exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    if not Path(exe).is_file():
        pytest.skip("Debian's mosquitto is not installed")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen([exe, "-p", str(port)], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)  # fmt: skip
    try:

        def listening() -> bool:
            with socket.socket() as probe:
                return probe.connect_ex(("127.0.0.1", port)) == 0

        until(listening, 20)
        yield f"mqtt://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(10)


def _sent(base: str) -> float:
    text = _request(base, "/metrics")[1].decode()
    rows = [line for line in text.splitlines() if line.startswith("vidpipe_alerts_sent_total")]
    return float(rows[0].split()[-1]) if rows else 0.0


def test_a_cameras_events_reach_an_mqtt_broker(tmp_path: Path) -> None:
    import paho.mqtt.client as mqtt

    root = tmp_path / "in"
    root.mkdir()
    got: list[tuple[str, dict]] = []
    with broker() as url, camera_server(size="160x120") as address:
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
        client.on_message = lambda _c, _u, m: got.append((m.topic, json.loads(m.payload)))
        client.connect("127.0.0.1", int(url.rsplit(":", 1)[1]))
        client.subscribe("vidpipe/#", qos=1)
        client.loop_start()
        try:
            with service(tmp_path / "data", root, "--allow-url", "--mqtt", url) as (base, _):
                _json(base, "/cameras", method="POST", body=_camera("yard", f"tcp://{address}"))
                until(lambda: any(t == "vidpipe/yard/appear" for t, _ in got))
                until(lambda: _sent(base) >= 1)  # the broker acknowledged one (QoS 1)
        finally:
            client.loop_stop()
            client.disconnect()
    event = next(e for t, e in got if t == "vidpipe/yard/appear")
    assert event["camera"] == "yard" and event["label"]


def test_a_failing_webhook_is_retried_and_what_it_refuses_is_counted(tmp_path: Path) -> None:
    """The receiver answers 500 to the first two requests: the first event comes three times
    (the third delivered); later ones once each. With one that always fails, each event is
    tried RETRIES times, then counted dropped."""
    from vidpipe.serve.alerts import RETRIES

    root = tmp_path / "in"
    root.mkdir()
    with (
        camera_server(size="160x120") as address,
        receiver(fail=2) as (flaky, got),
        receiver(fail=10**6) as (broken, refused),
        service(tmp_path / "data", root, "--allow-url", "--webhook", flaky, "--webhook", broken,
                "--webhook-secret", SECRET) as (base, _),
    ):  # fmt: skip
        _json(base, "/cameras", method="POST", body=_camera("hall", f"tcp://{address}"))
        until(lambda: len(got) >= 4)
        assert got[0][0] == got[1][0] == got[2][0] and got[3][0] != got[0][0]
        until(lambda: len(refused) >= RETRIES + 1)
        assert [e for e, _ in refused[:RETRIES]] == [refused[0][0]] * RETRIES
        until(lambda: f'reason="failed",sink="{broken}"}} 1.0' in _metrics(base)
              or f'sink="{broken}",reason="failed"}} 1.0' in _metrics(base))  # fmt: skip


def _metrics(base: str) -> str:
    return _request(base, "/metrics")[1].decode()
