"""`vidpipe batch` over network streams (`--allow-url`): URLs on the command line or in a
manifest, next to files; refused without the flag; credentials never in the ledger, the
report or the messages; several live cameras at once through one model server (`--gpus`,
here its CPU form)."""

from __future__ import annotations

import json
import sqlite3
import subprocess
from pathlib import Path

import pytest
from conftest import NANO_ONNX, needs_nano, run_cli
from netservers import live_server, serve_folder

from vidpipe.batch.jobs import LEDGER_NAME, discover, stream_stem
from vidpipe.batch.runner import Settings, run_batch
from vidpipe.errors import InputError


@pytest.fixture(scope="module")
def served(real_corpus: list[Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """bikes.mp4 (its index first) and as MPEG-TS, to serve."""
    folder = tmp_path_factory.mktemp("served")
    bikes = next(p for p in real_corpus if p.name == "bikes.mp4")
    for name, extra in (("bikes.mp4", ["-movflags", "+faststart"]), ("bikes.ts", [])):
        subprocess.run(["ffmpeg", "-v", "error", "-i", str(bikes), "-c", "copy", *extra,
                        str(folder / name)], check=True)  # fmt: skip
    return folder


def test_stream_stems() -> None:
    assert stream_stem("rtsp://admin:pw@cam:8554/live/1?token=x") == "cam_8554_live_1"
    assert stream_stem("http://h/clips/a.mp4") == "h_clips_a"
    assert stream_stem("/dev/video0") == "video0"


def test_urls_in_a_manifest_and_on_the_command_line(served: Path, tmp_path: Path) -> None:
    """frames over two URLs (one with credentials) and the file itself: the URL jobs list
    what the file's job lists; the ledger and the report show the URL with `***`."""
    out = tmp_path / "out"
    with serve_folder(served) as base:
        secret = base.replace("http://", "http://viewer:hunter2@") + "/bikes.mp4"
        manifest = tmp_path / "cams.jsonl"
        rows = [{"input": secret, "output": "cam1"}, {"input": str(served / "bikes.mp4")}]
        manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
        report = tmp_path / "report.json"
        done = run_cli("batch", str(manifest), f"{base}/bikes.ts", "-o", str(out), "--task",
                       "frames", "--allow-url", "--report", str(report), "-q")  # fmt: skip
    assert done.returncode == 0, done.stderr
    want = (out / "bikes.frames.jsonl").read_text().splitlines()
    assert len(want) == 250
    assert (out / "cam1.frames.jsonl").read_text().splitlines() == want
    ts = out / f"{stream_stem(base + '/bikes.ts')}.frames.jsonl"  # 127.0.0.1_PORT_bikes
    listed = [json.loads(line) for line in ts.read_text().splitlines()]
    assert len(listed) == 250 and [r["type"] for r in listed] == [
        json.loads(line)["type"] for line in want
    ]
    assert "hunter2" not in report.read_text() and "viewer" not in report.read_text()
    assert "***@" in report.read_text()
    with sqlite3.connect(out / LEDGER_NAME) as db:
        inputs = [row[0] for row in db.execute("SELECT input FROM jobs")]
    assert not any("hunter2" in i for i in inputs) and any("***@" in i for i in inputs)


def test_urls_without_the_flag_are_refused(served: Path, tmp_path: Path) -> None:
    """On the command line: one error line, exit 2, nothing run. In a manifest: that row's
    job fails, saying why (credentials hidden); the others run."""
    line = run_cli("batch", "http://u:hunter2@127.0.0.1:9/x.mp4", "-o", str(tmp_path / "o"),
                   "--task", "frames")  # fmt: skip
    assert line.returncode == 2 and "--allow-url" in line.stderr and "hunter2" not in line.stderr
    manifest = tmp_path / "m.csv"
    manifest.write_text(
        f"input\nrtsp://u:hunter2@cam/x\n{served / 'bikes.mp4'}\nfile:///etc/passwd\n"
    )
    specs = discover([str(manifest)], tmp_path / "o")
    assert [s.error is not None for s in specs] == [True, False, True]
    assert "--allow-url" in specs[0].error and "hunter2" not in specs[0].error
    allowed = discover([str(manifest)], tmp_path / "o", allow_url=True)
    assert [s.error is not None for s in allowed] == [False, False, True]
    assert "file: protocol is refused" in allowed[2].error
    with pytest.raises(InputError, match="concat: protocol is refused"):
        discover(["concat:/a.mp4|/b.mp4"], tmp_path / "o", allow_url=True)


@needs_nano
def test_live_cameras_share_one_model_server(served: Path, tmp_path: Path) -> None:
    """Two live cameras (real footage over TCP, each dropping once and coming back) detected
    at once by two workers through one model server: each camera's JSON Lines hold its
    frames with wall-clock times and one gap event; the job ends failed when the camera is
    gone for good, its detections kept."""
    data = (served / "bikes.ts").read_bytes()
    cut, back = 300000 // 188 * 188, 400000 // 188 * 188
    pieces = [slice(0, None), slice(0, cut), slice(back, None)]
    out = tmp_path / "out"
    with live_server(data, pieces) as (one, _), live_server(data, pieces) as (two, _):
        urls = [f"tcp://{one}", f"tcp://{two}"]
        specs = discover(urls, out, allow_url=True)
        settings = Settings(2, progress=True, servers=("cpu",), timeout=5, reconnect=1)
        options = {"model": str(NANO_ONNX), "batch": 4}
        result = run_batch(specs, out, "detect", options, settings)
    assert [r.status for r in result.results] == ["failed", "failed"]  # the cameras are gone
    assert all("cannot open it" in r.error for r in result.results)
    for spec in specs:
        lines = [json.loads(x) for x in (out / f"{spec.stem}.jsonl").read_text().splitlines()]
        gaps = [r for r in lines if r.get("event") == "gap"]
        frames = [r for r in lines if "event" not in r]
        assert len(gaps) == 1 and len(frames) > 150
        assert all("wall_time" in r for r in frames)
        assert sum(len(r["detections"]) for r in frames) > 0
    (server,) = result.servers
    assert server.max_streams == 2  # the two cameras shared forward passes
    assert server.frames == sum(
        len([x for x in (out / f"{s.stem}.jsonl").read_text().splitlines() if '"event"' not in x])
        for s in specs
    )


@needs_nano
def test_a_batch_scan_sits_beside_the_full_pass(served: Path, tmp_path: Path) -> None:
    """batch --task detect --scan (--sample I) over a folder, then the full pass into the
    same OUTDIR: the scan's outputs are <stem>.scan.jsonl and <stem>.scan.intervals.jsonl, what
    `detect --scan` writes; the full pass's <stem>.jsonl; the ledger has a row for each, and
    re-running the scan skips it."""
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "bikes.mp4").write_bytes((served / "bikes.mp4").read_bytes())
    out = tmp_path / "out"
    scan = ["batch", str(folder), "-o", str(out), "--task", "detect", "--model",
            str(NANO_ONNX), "--scan", "--sample", "I", "-q"]  # fmt: skip
    assert run_cli(*scan).returncode == 0
    single = run_cli("detect", str(folder / "bikes.mp4"), "--scan", "--json", "-", "--model",
                     str(NANO_ONNX), "-q")  # fmt: skip
    assert (out / "bikes.scan.jsonl").read_text() == single.stdout
    assert (out / "bikes.scan.intervals.jsonl").read_text().count("\n") > 0
    full = ["batch", str(folder), "-o", str(out), "--task", "detect", "--model",
            str(NANO_ONNX), "-q"]  # fmt: skip
    assert run_cli(*full).returncode == 0
    assert (out / "bikes.jsonl").read_text().count("\n") == 250
    with sqlite3.connect(out / LEDGER_NAME) as db:
        rows = dict(db.execute("SELECT key, status FROM jobs"))
    assert rows == {"bikes": "done", "bikes.scan": "done"}
    report = tmp_path / "r.json"
    assert run_cli(*scan, "--report", str(report)).returncode == 0
    assert json.loads(report.read_text())["totals"]["skipped"] == 1
    refused = run_cli("batch", str(folder), "-o", str(out), "--task", "detect", "--scan",
                      "--video", "--model", str(NANO_ONNX))  # fmt: skip
    assert refused.returncode == 2 and "--scan writes no video" in refused.stderr
    refused = run_cli("batch", str(folder), "-o", str(out), "--task", "detect", "--scan",
                      "--track", "bytetrack", "--model", str(NANO_ONNX))  # fmt: skip
    assert refused.returncode == 2 and "--scan tracks only with --refine" in refused.stderr
