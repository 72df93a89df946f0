"""`vidpipe batch --engine ray` on a local Ray instance: same jobs, same ledger semantics as the
local engine (the driver owns the ledger); a bad file fails alone; a re-run starts no Ray."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import av
import pytest
from conftest import make_clip
from test_bad_input import run_cli

pytest.importorskip("ray")


def _frames(path: Path) -> int:
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


def _rows(outdir: Path) -> dict[str, dict]:
    db = sqlite3.connect(f"file:{outdir / '.vidpipe-batch.sqlite'}?mode=ro", uri=True)
    db.row_factory = sqlite3.Row
    try:
        return {r["key"]: dict(r) for r in db.execute("SELECT * FROM jobs")}
    finally:
        db.close()


def test_ray_engine_runs_records_and_resumes(tmp_path: Path) -> None:
    src, out = tmp_path / "in", tmp_path / "out"
    (src / "sub").mkdir(parents=True)
    make_clip(src / "a.mp4", frames=12)
    make_clip(src / "sub" / "b.mkv", frames=9)
    (src / "bad.mp4").write_bytes(b"\x00junk" * 500)
    report = str(tmp_path / "report.json")
    args = ("batch", str(src), "-o", str(out), "--task", "gamma", "--gamma", "2.2",
            "--jobs", "2", "--runner", "ray", "--retries", "1", "--report", report)  # fmt: skip
    session = Path("/tmp/ray/session_latest")  # Ray's default: the newest session's folder
    before = session.resolve() if session.exists() else None
    first = run_cli(*args, timeout=240)
    assert session.exists() and session.resolve() != before  # the jobs did run on Ray
    assert first.returncode == 1, first.stderr
    assert "Traceback" not in first.stderr
    assert _frames(out / "a.mp4") == 12 and _frames(out / "sub" / "b.mkv") == 9
    rows = _rows(out)
    assert {k: r["status"] for k, r in rows.items()} == {
        "a": "done",
        "sub/b": "done",
        "bad": "failed",
    }
    assert "bad.mp4" in rows["bad"]["error"]
    assert not any(".part-" in p.name for p in out.rglob("*"))  # no temporary file left
    stamp = (out / "a.mp4").stat().st_mtime_ns
    session_after_first = session.resolve()
    start = time.perf_counter()
    again = run_cli(*args, timeout=240)
    assert again.returncode == 1  # the bad file still fails (its attempts are used up)
    assert time.perf_counter() - start < 20  # nothing to run: no Ray instance is started
    assert (out / "a.mp4").stat().st_mtime_ns == stamp
    assert session.resolve() == session_after_first
    assert "0 done, 2 skipped, 1 failed" in again.stderr


def test_address_without_ray_engine_is_a_usage_error(tmp_path: Path) -> None:
    proc = run_cli("batch", str(tmp_path), "-o", str(tmp_path / "o"), "--task", "frames",
                   "--address", "127.0.0.1:6379")  # fmt: skip
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "--address" in proc.stderr
