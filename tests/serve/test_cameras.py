"""Cameras of `vidpipe serve`, run for real: the loopback test camera (an endless MPEG-TS
stream over TCP) detected, tracked and counted by a supervised worker; its events sent to a
loopback webhook receiver (signed); a camera whose stream ends comes back with a gap event;
a webhook that never answers holds no frame back; removing a camera closes its segment."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import NANO_ONNX, ffprobe_json, needs_ffprobe
from netservers import camera_server, live_server
from serve_helpers import SECRET, _camera, _json, _request, receiver, service, until

pytestmark = pytest.mark.skipif(not NANO_ONNX.is_file(), reason=f"no {NANO_ONNX}")


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


def test_a_cameras_credentials_are_never_shown(tmp_path: Path) -> None:
    """A camera whose URL carries a password and whose stream cannot be opened: its last
    error, its listing, its log and the metrics name it without the password."""
    root = tmp_path / "in"
    root.mkdir()
    url = "tcp://viewer:s3cr3t@127.0.0.1:9/cam"  # the discard port: refused
    with service(tmp_path / "data", root, "--allow-url") as (base, _):
        made = _json(base, "/cameras", method="POST", body=_camera("gate", url, reconnect=0,
                                                                    timeout_s=2))  # fmt: skip
        assert made["url"] == "tcp://***@127.0.0.1:9/cam"  # type: ignore[index]
        until(lambda: _json(base, "/cameras/gate")["restarts"] >= 1)  # type: ignore[index]
        shown = json.dumps(_json(base, "/cameras")) + _request(base, "/metrics")[1].decode()
        assert _json(base, "/cameras/gate")["last_error"]  # type: ignore[index]
    logs = "".join(p.read_text() for p in (tmp_path / "data").rglob("log.txt"))
    assert "error" in logs
    assert "s3cr3t" not in shown + logs
