"""Alerts of `vidpipe serve`: what the cameras' runs write (line and zone events, a class
appearing, the stream's and the worker's gaps) read as it is written (`Tail`), and sent to
webhooks (`Webhook`: JSON POSTed, signed with HMAC-SHA256 of a shared secret, retried with
backoff). The pipeline only writes files: a slow or hanging receiver cannot hold a frame
back. Each sink has a bounded queue; an event that finds it full is dropped and counted.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time
import urllib.parse
from collections import Counter
from pathlib import Path
from typing import Any

from vidpipe.io.inputs import redact

log = logging.getLogger(__name__)

APPEAR_GAP_S = 1.0  # a class absent this long and seen again "appears" again
QUEUE = 1000  # events a sink holds before it drops
TIMEOUT_S = 5.0  # a webhook's connection and answer
RETRIES = 3  # attempts per event
BACKOFF_S = 0.5  # before the second attempt, doubling
SIGNATURE = "X-Vidpipe-Signature"  # "sha256=" + hex HMAC-SHA256 of the body with the secret


class Tail:
    """New complete lines of the JSON Lines files a camera's runs write, turned into
    alert events (`poll`), from where the file was when the service first saw it."""

    def __init__(self) -> None:
        self._offsets: dict[Path, int] = {}
        self._seen: dict[tuple[str, str], float] = {}  # (camera, label) -> wall time
        self.events = 0  # events read so far (each goes to every sink)

    def poll(self, camera: str, folder: Path, run: Path | None) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        events += self._new(folder / "gaps.jsonl")
        if run is None:
            self.events += len(events)
            return events
        for record in self._new(run / "events.jsonl"):
            if record.get("event") != "totals":
                events.append({**record, "camera": camera})
        for record in self._new(run / "detections.jsonl"):
            if "event" in record:  # the stream's own gaps
                events.append({**record, "camera": camera})
                continue
            wall = record.get("wall_time") or time.time()
            for label in sorted({d.get("label") for d in record.get("detections", [])}):
                last = self._seen.get((camera, label))
                if last is None or wall - last > APPEAR_GAP_S:
                    events.append({"event": "appear", "camera": camera, "label": label,
                                   "index": record.get("index"), "wall_time": wall})  # fmt: skip
                self._seen[(camera, label)] = wall
        self.events += len(events)
        return events

    def _new(self, path: Path) -> list[dict[str, Any]]:
        try:
            size = path.stat().st_size
        except OSError:
            return []
        start = self._offsets.setdefault(path, 0)
        if size <= start:
            return []
        with open(path, "rb") as handle:
            handle.seek(start)
            chunk = handle.read(size - start)
        end = chunk.rfind(b"\n") + 1  # whole lines only: the rest is still being written
        self._offsets[path] = start + end
        out = []
        for line in chunk[:end].splitlines():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(record, dict):
                out.append(record)
        return out


class Webhook:
    """Events POSTed as JSON to `url`, one a request, in order, from a bounded queue."""

    def __init__(self, url: str, secret: str | None) -> None:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"--webhook {url!r}: an http(s) URL")
        self.url, self.secret = url, secret
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(QUEUE)
        self.counts: Counter[str] = Counter()  # sent, dropped_full, dropped_failed

    @property
    def queued(self) -> int:
        return self.queue.qsize()

    def put(self, event: dict[str, Any]) -> None:
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            self.counts["dropped_full"] += 1

    async def run(self) -> None:
        while True:
            event = await self.queue.get()
            body = json.dumps(event).encode()
            for attempt in range(RETRIES):
                try:
                    status = await _post(self.url, body, self._headers(body))
                    if 200 <= status < 300:
                        self.counts["sent"] += 1
                        break
                    reason = f"status {status}"
                except (OSError, asyncio.TimeoutError, ValueError) as err:
                    reason = str(err) or type(err).__name__
                if attempt + 1 < RETRIES:
                    await asyncio.sleep(BACKOFF_S * 2**attempt)
            else:
                self.counts["dropped_failed"] += 1
                log.warning("webhook %s: an event dropped (%s)", self.url, reason)

    def _headers(self, body: bytes) -> dict[str, str]:
        if self.secret is None:
            return {}
        digest = hmac.new(self.secret.encode(), body, hashlib.sha256).hexdigest()
        return {SIGNATURE: f"sha256={digest}"}


async def _post(url: str, body: bytes, headers: dict[str, str]) -> int:
    """POST `body` (JSON) to `url` over HTTP/1.1; the answer's status code."""
    parts = urllib.parse.urlsplit(url)
    tls = parts.scheme == "https"
    port = parts.port or (443 if tls else 80)
    reader, writer = await asyncio.wait_for(
        asyncio.open_connection(parts.hostname, port, ssl=True if tls else None), TIMEOUT_S
    )
    try:
        path = parts.path or "/"
        lines = [f"POST {path}{'?' + parts.query if parts.query else ''} HTTP/1.1",
                 f"Host: {parts.netloc}", "Content-Type: application/json",
                 f"Content-Length: {len(body)}", "Connection: close",
                 *(f"{k}: {v}" for k, v in headers.items())]  # fmt: skip
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        await asyncio.wait_for(writer.drain(), TIMEOUT_S)
        status = await asyncio.wait_for(reader.readline(), TIMEOUT_S)
        fields = status.split()
        if len(fields) < 2 or not fields[1].isdigit():
            raise ValueError(f"not an HTTP answer: {status[:40]!r}")
        return int(fields[1])
    finally:
        writer.close()


class Mqtt:
    """Events published to an MQTT broker (paho-mqtt), JSON on `<prefix>/<camera>/<event>`
    at QoS 1, stepped by the service's loop (`step`: no network thread). paho holds at most
    QUEUE unsent messages: one past them is dropped and counted. A lost broker is connected
    again with backoff while events keep queueing."""

    def __init__(self, url: str, prefix: str = "vidpipe") -> None:
        import paho.mqtt.client as mqtt

        parts = urllib.parse.urlsplit(url)
        if parts.scheme != "mqtt" or not parts.hostname:
            raise ValueError(f"--mqtt {url!r}: mqtt://HOST[:PORT]")
        self.url, self.prefix = url, prefix
        self.host, self.port = parts.hostname, parts.port or 1883
        self.counts: Counter[str] = Counter()  # published, sent (acknowledged), dropped_full
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
        if parts.username:
            self.client.username_pw_set(parts.username, parts.password)
        self.client.max_queued_messages_set(QUEUE)
        self.client.on_publish = lambda *_: self.counts.update(["sent"])
        self._next_try, self._backoff = 0.0, BACKOFF_S

    @property
    def queued(self) -> int:
        """Events published and not yet acknowledged by the broker."""
        return self.counts["published"] - self.counts["sent"]

    def put(self, event: dict[str, Any]) -> None:
        import paho.mqtt.client as mqtt

        topic = f"{self.prefix}/{event.get('camera', '-')}/{event.get('event', 'event')}"
        info = self.client.publish(topic, json.dumps(event), qos=1)
        if info.rc == mqtt.MQTT_ERR_QUEUE_SIZE:
            self.counts["dropped_full"] += 1
        else:
            self.counts["published"] += 1

    def step(self) -> None:
        """Do what the network allows without waiting; connect when there is no link and
        its backoff has passed."""
        if self.client.socket() is None:
            now = time.monotonic()
            if now < self._next_try:
                return
            self._next_try = now + self._backoff
            self._backoff = min(self._backoff * 2, 30.0)
            try:
                self.client.connect(self.host, self.port, keepalive=30)
            except OSError as err:
                log.warning("mqtt %s: %s", redact(self.url), err)
                return
            self._backoff = BACKOFF_S
        self.client.loop(timeout=0)

    def close(self) -> None:
        self.client.disconnect()
