"""`bench.py report`: a two-hour run's page (`vidpipe report`), and a 500-video batch's, made
and opened.

A JSON Lines file of `--frames` frames at 25 fps (180,000: two hours) with three tracked
objects a frame, each missing from one frame in ten (a detector's flicker: tens of thousands
of intervals), is made once in a temporary folder; `vidpipe report` turns it into a page (its
wall time and peak RSS, from `os.wait4`), which is then opened `--repeat` times in a fresh
headless Chromium (Selenium), timed from the request to the page's script being done
(`window.vidpipeReport.ready`). Absolute figures, with the issue's target for the load:
at most 3 s. The video of the page is the real sample clip (its first 110 frames have
thumbnails; the rest of the run is past its end).

The batch (`--videos`, 500): a `vidpipe batch` output folder of that many finished detect
jobs of the sample clip (its real 110-frame JSON Lines from one `vidpipe detect` run, each
job's copy, and a ledger written by `vidpipe.batch.ledger.Ledger`) and one failed job; its
page (jobs table, classes across the batch, a closed section per video, read when opened)
made and opened the same way.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import benchlib as common

ROOT = Path(__file__).resolve().parent.parent
LOAD = common.Target("<=", 3.0)  # seconds until a page's script is done


def _run_lines(path: Path, frames: int) -> None:
    rng = random.Random(0)
    classes = (("person", 0), ("car", 2), ("dog", 16))
    with open(path, "w", encoding="utf-8") as out:
        for i in range(frames):
            dets = []
            for k, (label, class_id) in enumerate(classes):
                if rng.random() < 0.9:
                    x = (i * 3 + k * 200) % 1200
                    dets.append({"label": label, "class_id": class_id,
                                 "score": round(rng.uniform(0.3, 0.95), 4),
                                 "box": [x, 100 + k * 100, x + 80, 180 + k * 100],
                                 "track_id": k + 1 + (i // 5000) * 3})  # fmt: skip
            out.write(json.dumps({"index": i, "pts": i * 512, "time": i / 25,
                                  "detections": dets}) + "\n")  # fmt: skip


def _make_page(video: Path, lines: Path | None, page: Path) -> tuple[float, float]:
    """(seconds, peak RSS MiB) of `vidpipe report` (of a batch folder without `lines`)."""
    start = time.perf_counter()
    results = [] if lines is None else ["--json", str(lines)]
    child = subprocess.Popen([sys.executable, "-m", "vidpipe", "report", str(video), *results,
                              "-o", str(page), "-q"])  # fmt: skip
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise common.BenchError(f"vidpipe report exited {child.returncode}")
    return time.perf_counter() - start, usage.ru_maxrss / 1024


def _load_s(page: Path) -> float:
    """Seconds from asking a fresh headless Chromium for the page to its script being done."""
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_path = shutil.which("chromedriver")
    if browser is None or driver_path is None:
        raise common.BenchError("no chromium / chromedriver (apt install chromium chromium-driver)")
    options = Options()
    for arg in ("--headless=new", "--no-sandbox", "--window-size=1280,1000"):
        options.add_argument(arg)
    options.binary_location = browser
    driver = webdriver.Chrome(options=options, service=Service(driver_path))
    try:
        driver.set_script_timeout(120)
        driver.get("about:blank")
        start = time.perf_counter()
        driver.get(page.as_uri())
        driver.execute_async_script(
            """const done = arguments[arguments.length - 1];
            (function wait() {
              if (window.vidpipeReport && window.vidpipeReport.ready) done();
              else setTimeout(wait, 10);
            })();"""
        )
        return time.perf_counter() - start
    finally:
        driver.quit()


def _batch_folder(folder: Path, videos: int, model_dir: Path) -> None:
    """A batch output folder of `videos` finished detect jobs and one failed one."""
    from vidpipe.batch.jobs import LEDGER_NAME
    from vidpipe.batch.ledger import Ledger

    video = ROOT / "sample_media" / "street_bikes.mp4"
    lines = folder / "one.jsonl"
    done = subprocess.run([sys.executable, "-m", "vidpipe", "detect", str(video), "--model",
                           str(model_dir / "yolox_nano.onnx"), "--json", str(lines), "-q"],
                          capture_output=True, text=True)  # fmt: skip
    if done.returncode != 0:
        raise common.BenchError(f"vidpipe detect failed: {done.stderr.strip()}")
    with Ledger(folder / LEDGER_NAME) as ledger:
        for i in range(videos):
            key = f"clip{i:04d}"
            shutil.copy(lines, folder / f"{key}.jsonl")
            ledger.plan(key, str(video), "size:0", "detect", "{}", [f"{key}.jsonl"], 0)
            ledger.finish(key, error=None, seconds=0.5, checksums={})
        ledger.refuse("broken", str(folder / "broken.mp4"), "detect", "{}", "not a video")
    lines.unlink()


def _figures(label: str, page: Path, made_s: float, rss: float, repeat: int) -> list:
    size = page.stat().st_size / 2**20
    loads = [_load_s(page) for _ in range(repeat)]
    return [
        common.Measurement(f"{label}: page opened in Chromium", "s", loads, [], LOAD),
        common.Measurement(f"{label}: vidpipe report", "s", [made_s], []),
        common.Measurement(f"{label}: vidpipe report peak RSS", "MiB", [rss], []),
        common.Measurement(f"{label}: page size", "MiB", [size], []),
    ]


def cmd_report(args: argparse.Namespace) -> dict:
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        lines, page = Path(folder) / "run.jsonl", Path(folder) / "run.html"
        video = ROOT / "sample_media" / "street_bikes.mp4"
        _run_lines(lines, args.frames)
        made_s, rss = _make_page(video, lines, page)
        rows += _figures(f"{args.frames} frames", page, made_s, rss, args.repeat)
    if args.videos:
        with tempfile.TemporaryDirectory() as folder:
            batch, page = Path(folder) / "out", Path(folder) / "batch.html"
            batch.mkdir()
            _batch_folder(batch, args.videos, args.model_dir)
            made_s, rss = _make_page(batch, None, page)
            rows += _figures(f"batch of {args.videos} videos", page, made_s, rss, args.repeat)
    return {"measurements": rows}


def add_report_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("report", help="a two-hour run's page: made and opened in Chromium")
    parser.add_argument("--frames", type=common.positive(int), default=180_000,
                        help="frames of the run (180000: two hours at 25 fps)")  # fmt: skip
    parser.add_argument("--videos", type=int, default=500,
                        help="videos of the batch (500; 0: no batch)")  # fmt: skip
    parser.add_argument("--repeat", type=common.positive(int), default=3, help="loads (3)")
    parser.add_argument(
        "--model-dir", type=Path,
        default=Path(os.environ.get("VIDPIPE_MODEL_DIR") or ROOT.parent / "shared" / "models"),
        help="folder of yolox_nano.onnx for the batch's one real run (default "
        "$VIDPIPE_MODEL_DIR, else ../shared/models)",
    )  # fmt: skip
    parser.add_argument("--json", dest="json_out", type=Path, default=None, help="figures here")
    parser.set_defaults(func=cmd_report)
