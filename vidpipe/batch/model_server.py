"""Cross-stream batching for `vidpipe batch --task detect --gpus 0,1`: one model per device in
its own process (a model server) shared by every decode worker, and the frames of several
videos in one forward pass, so the GPU stays busy when single videos are small or slow to
decode.

    worker 1: decode ─► letterbox (CPU, uint8) ─► send ─┐
    worker 2: decode ─► letterbox (CPU, uint8) ─► send ─┼─► server (one per GPU): the batches
    worker 3: decode ─► letterbox (CPU, uint8) ─► send ─┘   every worker has queued, up to
              ◄── detections (boxes only) ◄──────────────── MAX_FRAMES of one model ─► one
                                                              upload, forward, NMS

This module is the server's side: `ModelServers` (the driver's handle: one `serve` process
per device), `ModelServer` (a server's loop), `ServerStats`, and `parse_gpus` (`--gpus`).
The worker's side, `RemoteDetector`, and the wire protocol are `model_client.py`'s.

Transport: a Unix socket per server in a private (0700) temporary folder; one connection per
job. The server is one thread: it waits on its socket, its clients and the driver's control
pipe together, reads the requests that are queued after each forward pass (continuous
batching: no added wait when the GPU is idle), reads their images into one (pinned) staging
buffer, uploads that once and answers each request with its detections, in order. Requests
are batched together when they use the same detector (model, size, thresholds, classes: one
key per set of options, loaded once) and the same canvas (a model that takes any multiple of
32 gets each video's letterbox cut down to its picture, as a worker's own model would: a
video's boxes do not depend on which others shared its passes).

Failures: a worker that dies only drops its connection; a server that dies fails the jobs
that use it (their error says so) and the driver reports it; a forward pass that raises (CUDA
out of memory, ...) fails the requests of that pass only.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import multiprocessing.connection
import os
import shutil
import socket
import sys
import tempfile
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING, Any

from vidpipe.batch.model_client import wire_spec
from vidpipe.errors import InputError, VidpipeError
from vidpipe.runtime.children import ignore_sigint, reap, start_process

if TYPE_CHECKING:
    from vidpipe.detectors.options import DetectOptions

log = logging.getLogger(__name__)

MAX_FRAMES = 64  # frames per forward pass (a single larger request goes alone)
START_TIMEOUT_S = 300.0  # a server's time to import torch and start listening
STOP_TIMEOUT_S = 10.0


def parse_gpus(text: str) -> tuple[str, ...]:
    """`--gpus`: "all" or comma-separated CUDA indices ("0,1") -> ("cuda:0", "cuda:1");
    InputError when there is no such GPU."""
    import torch

    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if count == 0:
        raise InputError("--gpus: no CUDA device is available")
    if text.strip() == "all":
        return tuple(f"cuda:{i}" for i in range(count))
    try:
        indices = [int(part) for part in text.split(",")]
    except ValueError:
        raise InputError(f"--gpus must be 'all' or GPU indices like 0,1, not {text!r}") from None
    if len(set(indices)) != len(indices):
        raise InputError(f"--gpus names a GPU twice: {text!r}")
    for index in indices:
        if not 0 <= index < count:
            raise InputError(f"--gpus {text}: there is no GPU {index} ({count} available)")
    return tuple(f"cuda:{i}" for i in indices)


# --- the server ----------------------------------------------------------------------------


@dataclass
class _Client:
    conn: Connection
    key: DetectOptions | None = None  # the detector it opened
    header: tuple[Any, ...] | None = None  # frames, scales, sizes_wh, offsets, canvas (W, H)


@dataclass
class _Request:
    client: _Client
    frames: int
    scales: tuple[Any, ...]  # a float, or an (x, y) pair where the input is stretched
    sizes_wh: tuple[tuple[int, int], ...]
    offsets: tuple[tuple[int, int], ...]
    canvas_wh: tuple[int, int]


@dataclass
class ServerStats:
    """What one server did: frames, forward passes, the most videos (connections) and frames
    that shared a pass."""

    device: str
    frames: int = 0
    passes: int = 0
    max_streams: int = 0
    max_frames: int = 0
    failed_passes: int = 0
    streams_per_pass: dict[int, int] = field(default_factory=dict)


class ModelServer:
    """The server's state and loop (runs in its own process, see `serve`)."""

    def __init__(self, listener: socket.socket, device: str, control: Connection) -> None:
        import torch

        self.torch = torch
        self.listener, self.control = listener, control
        self.device = torch.device(device)
        self.clients: list[_Client] = []
        self.waiting: deque[_Client] = deque()  # clients whose request header is read, in order
        self.detectors: dict[DetectOptions, Any] = {}
        self.options: dict[DetectOptions, dict[str, Any]] = {}
        self.stats = ServerStats(device)
        self._staging: Any = None

    def run(self) -> None:
        """Serve until the driver says stop (or goes away)."""
        while self.poll(0.0 if self.waiting else None):
            if self.waiting:
                self.forward(self.take())

    def poll(self, timeout: float | None) -> bool:
        """Accept new clients and read one message from each client that has one (waiting
        up to `timeout` s for any); False when the driver says stop or has gone."""
        handles: list[Any] = [self.listener, self.control] + [c.conn for c in self.clients]
        ready = multiprocessing.connection.wait(handles, timeout=timeout)
        if self.control in ready:
            return False
        if self.listener in ready:
            conn, _ = self.listener.accept()
            self.clients.append(_Client(Connection(conn.detach())))
        for client in [c for c in self.clients if c.conn in ready and c.header is None]:
            self._receive(client)
        return True

    def _drop(self, client: _Client) -> None:
        with contextlib.suppress(ValueError):
            self.clients.remove(client)
        with contextlib.suppress(ValueError):
            self.waiting.remove(client)
        client.conn.close()

    def _send(self, client: _Client, message: tuple[str, Any]) -> None:
        try:
            client.conn.send(message)
        except OSError:  # the worker is gone
            self._drop(client)

    def _receive(self, client: _Client) -> None:
        """One message: "open" is answered at once; "run" waits for a forward pass."""
        try:
            message = client.conn.recv()
        except (EOFError, OSError) as exc:
            log.debug("model server: a client went away (%r)", exc)
            self._drop(client)
            return
        if message[0] == "open":
            self._open(client, message[1])
        elif message[0] == "run" and client.key is not None:
            client.header = message[1:]
            self.waiting.append(client)
        else:
            self._send(client, ("error", f"unexpected request {message[0]!r}"))
            self._drop(client)

    def _open(self, client: _Client, options: dict[str, Any]) -> None:
        from vidpipe.batch.tasks import detector_key, load_task_detector

        options = {**options, "device": str(self.device)}
        key = detector_key(options)
        try:
            if key not in self.detectors:
                self.detectors[key] = load_task_detector(options)
            detector = self.detectors[key]
        except Exception as exc:  # a bad model file: that job fails, the server goes on
            self._send(client, ("error", " ".join(str(exc).split()) or type(exc).__name__))
            return
        client.key = key
        info = {"names": detector.names, "num_classes": detector.num_classes,
                "input": wire_spec(detector.input_spec), "device": str(self.device)}  # fmt: skip
        self._send(client, ("ready", info))

    def take(self) -> list[_Request]:
        """The requests of the next pass: the first waiting one, then the others of the same
        detector and canvas in arrival order while they fit in MAX_FRAMES; their images are
        read into the staging buffer back to back."""
        key = self.waiting[0].key
        first_frames, *_, canvas = self.waiting[0].header  # type: ignore[misc]
        width, height = canvas
        frame_bytes = 3 * width * height
        staging = self._staging_for(max(MAX_FRAMES, first_frames) * frame_bytes)
        taken: list[_Request] = []
        used = 0
        for client in list(self.waiting):
            frames, scales, sizes_wh, offsets, canvas_wh = client.header  # type: ignore[misc]
            if client.key != key or tuple(canvas_wh) != tuple(canvas):
                continue
            if taken and used + frames * frame_bytes > len(staging):
                continue
            self.waiting.remove(client)
            client.header = None
            try:
                got = client.conn.recv_bytes_into(staging, used)
            except (EOFError, OSError) as exc:
                log.debug("model server: a client went away (%r)", exc)
                self._drop(client)
                continue
            if got != frames * frame_bytes:
                self._send(client, ("error", f"{got} bytes for {frames} frames {width}x{height}"))
                self._drop(client)
                continue
            taken.append(_Request(client, frames, scales, sizes_wh, offsets, (width, height)))
            used += got
        return taken

    def _staging_for(self, nbytes: int) -> Any:
        """A host buffer of at least `nbytes` (pinned for CUDA), reused between passes."""
        if self._staging is None or len(self._staging) < nbytes:
            tensor = self.torch.empty(nbytes, dtype=self.torch.uint8)
            if self.device.type == "cuda":
                tensor = tensor.pin_memory()
            self._staging = (tensor, tensor.numpy())
        return self._staging[1]

    def forward(self, requests: list[_Request]) -> None:
        if not requests:
            return
        from vidpipe.detectors.preprocess import Letterbox

        torch = self.torch
        detector = self.detectors[requests[0].client.key]
        (width, height), total = requests[0].canvas_wh, sum(r.frames for r in requests)
        host = self._staging[0][: total * 3 * width * height].view(total, 3, height, width)
        try:
            with torch.inference_mode():
                images = detector.from_wire(host)  # its device, dtype and scale
                batch = Letterbox(
                    images,
                    tuple(s for r in requests for s in r.scales),
                    tuple(s for r in requests for s in r.sizes_wh),
                    tuple(o for r in requests for o in r.offsets),
                )
                results = detector.infer(batch)  # ends with the boxes' host copy: in sync
        except Exception as exc:
            log.debug("forward pass failed", exc_info=True)
            reason = " ".join(str(exc).split()) or type(exc).__name__
            self.stats.failed_passes += 1
            for request in requests:
                self._send(request.client, ("error", f"forward pass failed: {reason}"))
            return
        start = 0
        for request in requests:
            self._send(request.client, ("result", results[start : start + request.frames]))
            start += request.frames
        stats, streams = self.stats, len(requests)
        stats.frames += total
        stats.passes += 1
        stats.max_streams = max(stats.max_streams, streams)
        stats.max_frames = max(stats.max_frames, total)
        stats.streams_per_pass[streams] = stats.streams_per_pass.get(streams, 0) + 1


def serve(path: str, device: str, control: Connection, level: int, threads: int) -> None:
    """A model server process: listen on `path`, tell the driver, serve until told to stop,
    then send the driver its ServerStats."""
    ignore_sigint()  # Ctrl-C is the driver's to handle
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
    root = logging.getLogger("vidpipe")
    root.handlers[:], root.propagate = [handler], False
    root.setLevel(level)
    try:
        import torch

        torch.set_num_threads(threads)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(path)
        listener.listen(64)
        server = ModelServer(listener, device, control)
    except Exception as exc:
        control.send(("error", f"{type(exc).__name__}: {exc}"))
        return
    control.send(("listening", None))
    with contextlib.suppress(KeyboardInterrupt):
        server.run()
    listener.close()
    for client in list(server.clients):
        server._drop(client)
    with contextlib.suppress(OSError):
        control.send(("stats", server.stats))


class ModelServers:
    """One model server process per device, started on enter and stopped on exit;
    `addresses` for the workers, `stats` once stopped."""

    def __init__(self, devices: Sequence[str], threads: int) -> None:
        self.devices, self.threads = list(devices), threads
        self.addresses: list[str] = []
        self.stats: list[ServerStats] = []
        self._procs: list[tuple[multiprocessing.process.BaseProcess, Connection]] = []
        self._folder: str | None = None

    def __enter__(self) -> ModelServers:
        ctx = multiprocessing.get_context("spawn")
        self._folder = tempfile.mkdtemp(prefix="vidpipe-models-")  # 0700: only this user
        level = logging.getLogger("vidpipe").getEffectiveLevel()
        try:
            for i, device in enumerate(self.devices):
                path = os.path.join(self._folder, f"server{i}.sock")
                ours, theirs = ctx.Pipe(duplex=True)
                proc = ctx.Process(
                    target=serve, args=(path, device, theirs, level, self.threads),
                    name="vidpipe-model-server",
                )  # fmt: skip
                self._procs.append((proc, ours))  # owned before a Ctrl-C can end its start
                try:
                    start_process(proc)
                finally:
                    theirs.close()
                self.addresses.append(path)
            for (proc, conn), device in zip(self._procs, self.devices, strict=True):
                self._wait_listening(proc, conn, device)
        except BaseException:
            self.close()
            raise
        return self

    @staticmethod
    def _wait_listening(proc: Any, conn: Connection, device: str) -> None:
        ready = multiprocessing.connection.wait([conn, proc.sentinel], timeout=START_TIMEOUT_S)
        message = None
        with contextlib.suppress(EOFError, OSError):
            if conn in ready or conn.poll():
                message = conn.recv()
        if message is None or message[0] != "listening":
            reason = message[1] if message else "it did not start"
            raise VidpipeError(f"model server on {device}: {reason}")

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop every server (told first, killed after STOP_TIMEOUT_S) and collect stats.
        Every server is reaped before this returns, a second Ctrl-C meanwhile or not."""
        deadline = time.monotonic() + STOP_TIMEOUT_S
        try:
            for _, conn in self._procs:
                with contextlib.suppress(OSError):
                    conn.send("stop")
            for _, conn in self._procs:
                with contextlib.suppress(EOFError, OSError):
                    if conn.poll(max(0.0, deadline - time.monotonic())):
                        message = conn.recv()
                        if message[0] == "stats":
                            self.stats.append(message[1])
        finally:
            try:
                reap([proc for proc, _ in self._procs], deadline)
            finally:
                for _, conn in self._procs:
                    conn.close()
                self._procs.clear()
                if self._folder is not None:
                    shutil.rmtree(self._folder, ignore_errors=True)
                    self._folder = None
