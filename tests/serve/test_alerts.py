"""Alerts of `vidpipe serve` to real receivers: a camera's events published to Debian's
mosquitto (MQTT), and a webhook that fails, retried, or always fails, counted dropped."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from conftest import NANO_ONNX
from netservers import camera_server
from serve_helpers import SECRET, _camera, _json, _request, receiver, service, until

pytestmark = pytest.mark.skipif(not NANO_ONNX.is_file(), reason=f"no {NANO_ONNX}")


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
