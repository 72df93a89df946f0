"""`bench.py serve`: `vidpipe serve` under load: `--cameras` live cameras (the tests' loopback
camera: FFmpeg's testsrc2 over TCP at `--rate` fps, real time), each detected (YOLOX-Nano),
tracked and counted with its events sent to a loopback webhook receiver, while a batch of
`--videos` copies of the sample clip runs (`--batch-task`), for `--seconds`.

Once every camera runs (its model loaded), the time is cut into four equal phases,
alternately not scraped and scraped (`/metrics` every second). Figures:
- the cameras' frame rate, all of them together, scraped / not scraped (target >= 0.95:
  scraping slows nothing), the medians of the two phases of each kind;
- each camera's lag (wall time of its frame less the stream time, from its JSON Lines):
  how much it grew from the end of the first phase to the end (no queue growing: the
  largest growth, target <= 1 s);
- the service's and its children's resident memory (summed over its process tree, from
  /proc) at the end of the first phase and at the end (target: the end <= 1.1x);
- every camera event delivered or counted as dropped: events read x sinks = delivered +
  dropped + still queued, and the receiver got what was delivered (a difference of 0);
- the scrapes' own time (median, seconds).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from contextlib import ExitStack, suppress
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import benchlib as common

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))  # netservers.camera_server
FPS_TARGET = common.Target(">=", 0.95)
LAG_TARGET = common.Target("<=", 1.0)
RSS_TARGET = common.Target("<=", 1.1)


def _receiver(stack: ExitStack) -> tuple[str, list[int]]:
    got = [0]

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["content-length"]))
            got[0] += 1
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    stack.callback(thread.join, 10)
    stack.callback(server.server_close)
    stack.callback(server.shutdown)
    return f"http://127.0.0.1:{server.server_address[1]}/hook", got


def _call(base: str, path: str, body: object = None) -> object:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base + path, data=data,
                                     headers={"content-type": "application/json"})  # fmt: skip
    with urllib.request.urlopen(request, timeout=30) as answer:
        text = answer.read()
    return json.loads(text) if path != "/metrics" else text.decode()


def _tree_rss_mib(pid: int) -> float:
    """Resident memory of `pid` and every process below it (MiB)."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            parent = int(fields[1])
            rss[int(entry.name)] = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(parent, []).append(int(entry.name))
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        total += rss.get(current, 0)
        todo += children.get(current, [])
    return total / 2**20


def _frames(data: Path) -> dict[str, int]:
    out = {}
    for stats in data.glob("cameras/*/run-*/stats.json"):
        with suppress(OSError, ValueError, KeyError):
            out[stats.parent.parent.name] = json.loads(stats.read_text())["frames"]
    return out


def _lags(data: Path) -> dict[str, float]:
    """camera -> its last frame's lag: (wall - first wall) - (time - first time), seconds."""
    out = {}
    for lines in data.glob("cameras/*/run-*/detections.jsonl"):
        first = last = None
        with open(lines, encoding="utf-8") as handle:
            for line in handle:
                record = json.loads(line) if line.endswith("\n") else None
                if record and "event" not in record and record.get("time") is not None:
                    first = first or record
                    last = record
        if first and last:
            out[lines.parent.parent.name] = (last["wall_time"] - first["wall_time"]) - (
                last["time"] - first["time"]
            )
    return out


def cmd_serve(args: argparse.Namespace) -> dict:
    from netservers import camera_server

    model = args.model_dir / "yolox_nano.onnx"
    if not model.is_file():
        raise common.BenchError(f"{model}: no such model (--model-dir)")
    with ExitStack() as stack, tempfile.TemporaryDirectory() as folder:
        data, inputs = Path(folder) / "data", Path(folder) / "in"
        inputs.mkdir()
        for i in range(args.videos):
            os.link(ROOT / "sample_media" / "street_bikes.mp4", inputs / f"v{i:03d}.mp4")
        hook, received = _receiver(stack)
        service = subprocess.Popen(
            [sys.executable, "-m", "vidpipe", "serve", "--data", str(data), "--root",
             str(inputs), "--port", "0", "--allow-url", "--webhook", hook],
            stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL,
        )  # fmt: skip
        stack.callback(service.wait, 60)
        stack.callback(service.terminate)
        assert service.stderr is not None
        base = re.search(r"http://[\d.]+:\d+", service.stderr.readline()).group(0)  # type: ignore[union-attr]
        deadline = time.monotonic() + 60
        while True:  # up once /healthz answers
            try:
                _call(base, "/healthz")
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise common.BenchError("vidpipe serve did not come up") from None
                time.sleep(0.1)
        for c in range(args.cameras):
            address = stack.enter_context(camera_server(size=args.size, rate=args.rate))
            _call(base, "/cameras", {"name": f"cam{c}", "url": f"tcp://{address}",
                                     "options": {"model": str(model), "track": "bytetrack",
                                                 "count_line": ["80,0,80,240"]}})  # fmt: skip
        options = {"gamma": 2.2} if args.batch_task == "gamma" else {"model": str(model)}
        _call(base, "/batches", {"task": args.batch_task, "inputs": [str(inputs)],
                                 "options": options})  # fmt: skip
        deadline = time.monotonic() + 180  # warm-up: every camera's model loaded, running
        while len(_frames(data)) < args.cameras or min(_frames(data).values()) < 2 * args.rate:
            if time.monotonic() > deadline:
                raise common.BenchError("the cameras did not all start within 180 s")
            time.sleep(0.5)
        phase_s = args.seconds / 4
        rates: dict[bool, list[float]] = {False: [], True: []}
        scrapes: list[float] = []
        rss_start = lag_start = None
        for phase in range(4):
            scraped = phase % 2 == 1
            before, start = _frames(data), time.monotonic()
            while time.monotonic() - start < phase_s:
                tick = time.monotonic()
                if scraped:
                    _call(base, "/metrics")
                    scrapes.append(time.monotonic() - tick)
                time.sleep(max(0.0, 1.0 - (time.monotonic() - tick)))
            after = _frames(data)
            frames = sum(after.get(k, 0) - before.get(k, 0) for k in after)
            rates[scraped].append(frames / (time.monotonic() - start))
            if phase == 0:
                rss_start, lag_start = _tree_rss_mib(service.pid), _lags(data)
        rss_end, lag_end = _tree_rss_mib(service.pid), _lags(data)
        text = str(_call(base, "/metrics"))
        figures = {name: float(value) for name, value in re.findall(
            r"^(vidpipe_alerts_\w+)(?:\{[^}]*\})? ([\d.e+]+)$", text, re.M)}  # fmt: skip
        dropped = sum(float(v) for v in re.findall(
            r"^vidpipe_alerts_dropped_total\{[^}]*\} ([\d.e+]+)$", text, re.M))  # fmt: skip
        read = figures.get("vidpipe_alerts_events_total", 0.0)
        sent = figures.get("vidpipe_alerts_sent_total", 0.0)
        queued = figures.get("vidpipe_alerts_queued", 0.0)
        jobs = _call(base, "/batches")[0]["jobs"]  # type: ignore[index]
    growth = max((lag_end[k] - lag_start.get(k, 0.0) for k in lag_end), default=0.0)
    assert rss_start is not None
    print(f"{args.cameras} cameras at {args.rate} fps {args.size}, a batch of {args.videos} "
          f"({args.batch_task}: {jobs}); events read {read:.0f}, sent {sent:.0f}, dropped "
          f"{dropped:.0f}, queued {queued:.0f}, received {received[0]}")  # fmt: skip
    rows = [
        common.Measurement(
            "cameras' fps, scraped / not", "fps", rates[True], rates[False], FPS_TARGET
        ),
        common.Measurement("largest lag growth of a camera", "s", [growth], [], LAG_TARGET),
        common.Measurement(
            "RSS at the end / after warm-up", "x", [rss_end / rss_start], [], RSS_TARGET
        ),
        common.Measurement(
            "events not delivered and not counted",
            "events",
            [abs(read - sent - dropped - queued) + abs(sent - received[0])],
            [],
            common.Target("<=", 0.0),
        ),
        common.Measurement("a /metrics scrape", "s", scrapes or [0.0], []),
    ]
    return {"measurements": rows}


def add_serve_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("serve", help="vidpipe serve under cameras and a batch")
    parser.add_argument("--cameras", type=common.positive(int), default=8, help="(8)")
    parser.add_argument("--rate", type=common.positive(int), default=5, help="camera fps (5)")
    parser.add_argument("--size", default="160x120", help="camera picture (160x120)")
    parser.add_argument("--videos", type=common.positive(int), default=50, help="(50)")
    parser.add_argument("--batch-task", choices=("gamma", "detect"), default="gamma")
    parser.add_argument("--seconds", type=common.positive(float), default=120.0, help="(120)")
    parser.add_argument(
        "--model-dir", type=Path,
        default=Path(os.environ.get("VIDPIPE_MODEL_DIR") or ROOT.parent / "shared" / "models"),
        help="folder of yolox_nano.onnx (default $VIDPIPE_MODEL_DIR, else ../shared/models)",
    )  # fmt: skip
    parser.add_argument("--json", dest="json_out", type=Path, default=None, help="figures here")
    parser.set_defaults(func=cmd_serve)
