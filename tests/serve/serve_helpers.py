"""What the serve tests share: a real `vidpipe serve` on the loopback, bounded polling, and
a small HTTP client (urllib)."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from conftest import NANO_ONNX

DEADLINE_S = 120.0


@contextmanager
def service(data: Path, root: Path, *extra: str) -> Iterator[tuple[str, subprocess.Popen]]:
    """A running `vidpipe serve` (its base URL, its process), stopped at the end."""
    process = subprocess.Popen(
        [sys.executable, "-m", "vidpipe", "serve", "--data", str(data), "--root", str(root),
         "--port", "0", *extra],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert process.stderr is not None
        line = process.stderr.readline()  # the first line: where it listens
        found = re.search(r"http://[\d.]+:\d+", line)
        assert found, line + process.stderr.read()
        base = found.group(0)
        until(lambda: _get(base, "/healthz")[0] == 200)
        yield base, process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if process.stderr is not None:
            process.stderr.close()


def until(condition: Callable[[], bool], deadline_s: float = DEADLINE_S) -> None:
    """Poll `condition` every 0.1 s until it holds; fail after `deadline_s`."""
    end = time.monotonic() + deadline_s
    while not condition():
        assert time.monotonic() < end, f"not within {deadline_s} s"
        time.sleep(0.1)


def _request(
    base: str, path: str, body: object = None, method: str = "GET",
    headers: dict | None = None, raw: bytes | None = None,
) -> tuple[int, bytes]:  # fmt: skip
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    request = urllib.request.Request(base + path, data=data, method=method,
                                     headers={"content-type": "application/json",
                                              **(headers or {})})  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()
    except (urllib.error.URLError, ConnectionError):
        return 0, b""


def _get(base: str, path: str, **kw: object) -> tuple[int, bytes]:
    return _request(base, path, **kw)  # type: ignore[arg-type]


def _json(base: str, path: str, **kw: object) -> object:
    status, body = _request(base, path, **kw)  # type: ignore[arg-type]
    assert status < 300, (status, body)
    return json.loads(body)


SECRET = "hush"  # the webhook tests' shared secret


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
