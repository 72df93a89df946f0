"""Test helper: loopback servers for network inputs, each a context manager that yields its
base URL and stops (threads joined, sockets closed) on exit.

    serve_folder(folder, ranges=True)  HTTP/1.1 GET of the folder's files, with byte ranges
                                       (206) or without (the whole file every time); and
                                       /redirect?to=URL answered 302 Location: URL; drop_at=N
                                       resets the first response that crosses byte N
    silent_server()                    accepts connections and never sends a byte
    garbage_server()                   answers 200 OK with random bytes, then closes
    stalling_server(data, after)       answers 200 OK with `after` bytes of `data`, then holds
                                       the connection open without sending more
    live_server(data, pieces)          a raw TCP stream (tcp://): connection k gets the bytes
                                       `data[pieces[k]]` (a slice), then is dropped; later
                                       connections are closed at once (the camera is gone)
    camera_server()                    an endless live camera (FFmpeg's testsrc2, MPEG-TS
                                       over tcp://), one ffmpeg per connection
    rtsp_server(clip)                  GStreamer's RTSP server (Debian's) streaming an MP4
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import struct
import subprocess
import threading
import urllib.parse
from collections.abc import Callable, Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

_RANGE = re.compile(r"bytes=(\d*)-(\d*)$")


def _handler(folder: Path, ranges: bool, drop_at: int | None) -> type[SimpleHTTPRequestHandler]:
    dropped: list[int] = []

    class Handler(SimpleHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, directory=str(folder), **kwargs)

        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            url = urllib.parse.urlsplit(self.path)
            if url.path == "/redirect":
                target = urllib.parse.parse_qs(url.query)["to"][0]
                self.send_response(302)
                self.send_header("Location", target)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            path = folder / url.path.lstrip("/")
            if not path.is_file():
                self.send_error(404)
                return
            data = path.read_bytes()
            match = _RANGE.match(self.headers.get("Range", "")) if ranges else None
            start, end = 0, len(data) - 1
            if match and (match.group(1) or match.group(2)):
                if match.group(1):
                    start = int(match.group(1))
                    end = int(match.group(2)) if match.group(2) else end
                else:
                    start = len(data) - int(match.group(2))
                if start >= len(data):
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{len(data)}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{end}/{len(data)}")
            else:
                self.send_response(200)
            self.send_header("Accept-Ranges", "bytes" if ranges else "none")
            self.send_header("Content-Type", "video/mp4")
            self.send_header("Content-Length", str(end - start + 1))
            if self.headers.get("Connection", "").lower() == "close":
                self.send_header("Connection", "close")  # as servers answer it
            self.end_headers()
            stop = end + 1
            if drop_at is not None and not dropped and start < drop_at < stop:
                dropped.append(drop_at)  # once: the link breaks there, mid-response
                stop = drop_at
                self.close_connection = True
            with contextlib.suppress(OSError):  # the client may stop reading early
                self.wfile.write(data[start:stop])
                if stop <= end:  # a broken link: a reset, not a clean close
                    self.wfile.flush()
                    linger = struct.pack("ii", 1, 0)
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)

    return Handler


@contextlib.contextmanager
def serve_folder(folder: Path, *, ranges: bool = True, drop_at: int | None = None) -> Iterator[str]:
    """`http://127.0.0.1:PORT` serving `folder`; with `drop_at`, the first response that
    would cross that byte of its file is cut there and the connection reset (once)."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(folder, ranges, drop_at))
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


@contextlib.contextmanager
def _tcp_server(serve: Callable[[socket.socket, threading.Event], None]) -> Iterator[str]:
    """A TCP listener whose connections each get `serve(conn, stop)` on a thread; yields
    `127.0.0.1:PORT`. On exit: stop set, every connection closed, every thread joined."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.05)
    stop = threading.Event()
    conns: list[socket.socket] = []
    threads: list[threading.Thread] = []

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conns.append(conn)
            worker = threading.Thread(target=serve, args=(conn, stop), daemon=True)
            threads.append(worker)
            worker.start()

    acceptor = threading.Thread(target=accept, daemon=True)
    acceptor.start()
    try:
        yield f"127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        acceptor.join(5)
        listener.close()
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.close()
        for worker in threads:
            worker.join(5)


def _hold(conn: socket.socket, stop: threading.Event) -> None:
    stop.wait(60)


@contextlib.contextmanager
def silent_server() -> Iterator[str]:
    """Accepts and never sends: yields `127.0.0.1:PORT`."""
    with _tcp_server(_hold) as address:
        yield address


def _answer(conn: socket.socket, body: bytes, length: int | None = None) -> None:
    with contextlib.suppress(OSError):
        conn.recv(65536)  # the request
        size = len(body) if length is None else length
        head = f"HTTP/1.1 200 OK\r\nContent-Type: video/mp4\r\nContent-Length: {size}\r\n\r\n"
        conn.sendall(head.encode() + body)


@contextlib.contextmanager
def garbage_server() -> Iterator[str]:
    """200 OK and 64 KiB of random bytes: yields `127.0.0.1:PORT`."""

    def serve(conn: socket.socket, stop: threading.Event) -> None:
        _answer(conn, os.urandom(65536))
        with contextlib.suppress(OSError):
            conn.shutdown(socket.SHUT_WR)

    with _tcp_server(serve) as address:
        yield address


@contextlib.contextmanager
def stalling_server(data: bytes, after: int) -> Iterator[str]:
    """200 OK for the whole of `data` (Content-Length), but only its first `after` bytes are
    sent; the connection then stays open and silent. Yields `127.0.0.1:PORT`."""

    def serve(conn: socket.socket, stop: threading.Event) -> None:
        _answer(conn, data[:after], length=len(data))
        stop.wait(60)

    with _tcp_server(serve) as address:
        yield address


@contextlib.contextmanager
def live_server(
    data: bytes, pieces: list[slice], *, chunk: int = 18800, stall: bool = False
) -> Iterator[tuple[str, list[slice]]]:
    """A live stream over raw TCP (`tcp://127.0.0.1:PORT`, e.g. MPEG-TS): connection k is sent
    `data[pieces[k]]` in `chunk`-byte writes, then dropped, as a camera whose link fails;
    a connection after the last piece is closed at once. `stall`: a piece that is not the
    last is followed by silence instead (the link hangs rather than drops). Yields
    (`127.0.0.1:PORT`, the list of pieces served so far, one per connection)."""
    served: list[slice] = []

    def serve(conn: socket.socket, stop: threading.Event) -> None:
        piece = pieces[len(served)] if len(served) < len(pieces) else slice(0, 0)
        served.append(piece)
        body = data[piece]
        with contextlib.suppress(OSError):
            for at in range(0, len(body), chunk):
                if stop.is_set():
                    return
                conn.sendall(body[at : at + chunk])
            if stall and len(served) < len(pieces):
                stop.wait(60)
            conn.shutdown(socket.SHUT_RDWR)

    with _tcp_server(serve) as address:
        yield address, served


@contextlib.contextmanager
def camera_server(*, size: str = "160x120", rate: int = 25, realtime: bool = True) -> Iterator[str]:
    """An endless live camera over raw TCP (`tcp://127.0.0.1:PORT`): each connection gets its
    own MPEG-TS H.264 stream of FFmpeg's testsrc2 (`size`, `rate` fps, a key frame a second),
    at real-time pace (or as fast as it encodes), until the client leaves. Yields
    `127.0.0.1:PORT`; every ffmpeg it started is killed and reaped on exit."""
    procs: list[subprocess.Popen[bytes]] = []

    def serve(conn: socket.socket, stop: threading.Event) -> None:
        argv = ["ffmpeg", "-v", "error", "-nostdin", *(["-re"] if realtime else []), "-f",
                "lavfi", "-i", f"testsrc2=size={size}:rate={rate}", "-c:v", "libx264",
                "-preset", "ultrafast", "-g", str(rate), "-pix_fmt", "yuv420p", "-f", "mpegts",
                "pipe:1"]  # fmt: skip
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
        procs.append(proc)
        assert proc.stdout is not None
        with contextlib.suppress(OSError):
            while not stop.is_set() and (chunk := proc.stdout.read1(65536)):
                conn.sendall(chunk)
        proc.kill()
        proc.wait()
        proc.stdout.close()
        with contextlib.suppress(OSError):
            conn.close()

    try:
        with _tcp_server(serve) as address:
            yield address
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


RTSP_PYTHON = "/usr/bin/python3"  # the system Python, where Debian's GStreamer bindings live


def rtsp_available() -> bool:
    """Whether GStreamer's RTSP server can be run (Debian: gir1.2-gst-rtsp-server-1.0)."""
    probe = "import gi; gi.require_version('GstRtspServer', '1.0')"
    try:
        done = subprocess.run([RTSP_PYTHON, "-c", probe], capture_output=True, timeout=30)
        return done.returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@contextlib.contextmanager
def rtsp_server(clip: Path) -> Iterator[str]:
    """GStreamer's RTSP server (tests/rtsp_server.py on the system Python) streaming the H.264
    MP4 `clip` at real time, each client from its start. Yields `rtsp://127.0.0.1:PORT/clip`;
    the server is stopped and reaped on exit."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    script = Path(__file__).with_name("rtsp_server.py")
    argv = [RTSP_PYTHON, str(script), str(clip), str(port)]
    server = subprocess.Popen(argv, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
    try:
        assert server.stdout is not None
        line = server.stdout.readline()  # "ready" once listening (EOF if it failed)
        if line.strip() != "ready":
            raise RuntimeError(f"the RTSP server did not start: {line!r}")
        yield f"rtsp://127.0.0.1:{port}/clip"
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        if server.stdout is not None:
            server.stdout.close()
