"""`vidpipe batch` end to end: outputs, the ledger, re-runs, failures, a kill -9 and bad usage.

Oracles: PyAV decode of inputs and outputs (frame counts), `vidpipe frames --json` for the
frames task, sha256 of the files for the ledger's checksums, the file tree for what was
written where."""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import av
import pytest
import torch
from conftest import MODEL_DIR, make_clip, needs_nano
from test_bad_input import run_cli

LEDGER = ".vidpipe-batch.sqlite"


def frame_count(path: Path) -> int:
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


def ledger_rows(outdir: Path) -> dict[str, dict]:
    """The ledger read-only (as a second process would poll it)."""
    db = sqlite3.connect(f"file:{outdir / LEDGER}?mode=ro", uri=True, timeout=10)
    db.row_factory = sqlite3.Row
    try:
        return {r["key"]: dict(r) for r in db.execute("SELECT * FROM jobs")}
    finally:
        db.close()


def stray_files(outdir: Path) -> list[str]:
    """Hidden files under OUTDIR other than the ledger and its lock (temporary leftovers)."""
    return [
        str(p) for p in outdir.rglob(".*") if not p.name.startswith(".vidpipe-batch.")
    ]  # fmt: skip


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("batch_in")
    _mk(root / "a.mp4", frames=12)
    _mk(root / "sub" / "b.mkv", frames=10)
    _mk(root / "sub" / "deeper" / "c.mp4", frames=14)
    (root / "notes.txt").write_text("not a video")
    return root


def _mk(path: Path, **kw) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return make_clip(path, **kw)


def test_gamma_folder_rerun_touch_delete(clips: Path, tmp_path: Path) -> None:
    src = tmp_path / "in"
    for p in clips.rglob("*"):
        if p.is_file():
            (src / p.relative_to(clips)).parent.mkdir(parents=True, exist_ok=True)
            (src / p.relative_to(clips)).write_bytes(p.read_bytes())
    out = tmp_path / "out"
    args = ("-q", "batch", str(src), "-o", str(out), "--task", "gamma", "--gamma", "2.2",
            "--jobs", "2", "--preset", "veryfast")  # fmt: skip
    proc = run_cli(*args)
    assert proc.returncode == 0, proc.stderr
    expected = {"a.mp4": src / "a.mp4", "sub/b.mkv": src / "sub/b.mkv",
                "sub/deeper/c.mp4": src / "sub/deeper/c.mp4"}  # fmt: skip
    for rel, source in expected.items():
        assert frame_count(out / rel) == frame_count(source)
    rows = ledger_rows(out)
    assert set(rows) == {"a", "sub/b", "sub/deeper/c"}
    for row in rows.values():
        assert (row["status"], row["attempts"], row["error"]) == ("done", 1, None)
        (name,) = json.loads(row["outputs"])
        assert json.loads(row["checksums"]) == {name: sha256(out / name)}
        assert row["seconds"] > 0 and row["finished_at"] >= row["started_at"]
    mtimes = {rel: (out / rel).stat().st_mtime_ns for rel in expected}

    start = time.monotonic()
    proc = run_cli(*args[1:])  # not quiet: the summary line
    assert proc.returncode == 0, proc.stderr
    assert time.monotonic() - start < 10
    assert "0 done, 3 skipped, 0 failed" in proc.stderr
    assert {rel: (out / rel).stat().st_mtime_ns for rel in expected} == mtimes

    st = (src / "a.mp4").stat()
    os.utime(src / "a.mp4", ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    (out / "sub/deeper/c.mp4").unlink()
    proc = run_cli(*args[1:])
    assert proc.returncode == 0, proc.stderr
    assert "2 done, 1 skipped, 0 failed" in proc.stderr
    assert (out / "sub/b.mkv").stat().st_mtime_ns == mtimes["sub/b.mkv"]
    assert (out / "a.mp4").stat().st_mtime_ns != mtimes["a.mp4"]
    assert frame_count(out / "sub/deeper/c.mp4") == 14
    after = ledger_rows(out)
    redone = {k for k in rows if after[k]["finished_at"] != rows[k]["finished_at"]}
    assert redone == {"a", "sub/deeper/c"}
    assert stray_files(out) == []


def test_corrupt_input_fails_others_done_and_retries(clips: Path, tmp_path: Path) -> None:
    src = tmp_path / "in"
    src.mkdir()
    (src / "good.mp4").write_bytes((clips / "a.mp4").read_bytes())
    (src / "bad.mp4").write_bytes(os.urandom(50_000))
    out, report = tmp_path / "out", tmp_path / "report.json"
    args = ("batch", str(src), "-o", str(out), "--task", "frames", "--jobs", "2", "--retries",
            "2", "--report", str(report))  # fmt: skip
    proc = run_cli(*args)
    assert proc.returncode == 1, proc.stderr
    assert "1 done, 0 skipped, 1 failed" in proc.stderr
    assert any(
        line.startswith("failed:") and "bad.mp4" in line for line in proc.stderr.splitlines()
    )
    content = json.loads(report.read_text())
    jobs = {Path(j["input"]).name: j for j in content["jobs"]}
    assert jobs["good.mp4"]["status"] == "done" and jobs["good.mp4"]["error"] is None
    assert jobs["good.mp4"]["outputs"] == ["good.frames.jsonl"]
    assert jobs["bad.mp4"]["status"] == "failed" and "video" in jobs["bad.mp4"]["error"]
    assert content["totals"] == {**content["totals"], "done": 1, "failed": 1, "skipped": 0,
                                 "jobs": 2}  # fmt: skip
    assert not (out / "bad.frames.jsonl").exists()
    # second run: retried (attempt 2 of 2); third run: not retried; --retry-failed: again
    for run, attempts in ((2, 2), (3, 2)):
        proc = run_cli(*args)
        assert proc.returncode == 1, proc.stderr
        assert ledger_rows(out)["bad"]["attempts"] == attempts, run
    assert "after 2 attempts" in proc.stderr
    proc = run_cli(*args, "--retry-failed")
    assert proc.returncode == 1
    assert ledger_rows(out)["bad"]["attempts"] == 1
    assert ledger_rows(out)["good"]["attempts"] == 1  # never redone
    assert stray_files(out) == []


def test_frames_task_equals_frames_json(clips: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = run_cli("-q", "batch", str(clips / "sub" / "b.mkv"), "-o", str(out), "--task", "frames")
    assert proc.returncode == 0, proc.stderr
    listing = run_cli("frames", "--json", str(clips / "sub" / "b.mkv"))
    assert listing.returncode == 0
    assert (out / "b.frames.jsonl").read_text() == listing.stdout
    assert len(listing.stdout.splitlines()) == 10


def test_manifest_escapes_are_refused(clips: Path, tmp_path: Path) -> None:
    work = tmp_path / "work"
    out = work / "out"
    out.mkdir(parents=True)
    (tmp_path / "elsewhere").mkdir()
    os.symlink(tmp_path / "elsewhere", out / "link")
    manifest = tmp_path / "m.jsonl"
    rows = [
        {"input": str(clips / "a.mp4"), "output": "ok/a.mp4"},
        {"input": str(clips / "a.mp4"), "output": "../escaped.mp4"},
        {"input": str(clips / "sub/b.mkv"), "output": str(tmp_path / "abs.mkv")},
        {"input": str(clips / "sub/b.mkv"), "output": "link/b.mkv"},
    ]
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    before = sorted(p.name for p in tmp_path.iterdir())
    before_work = sorted(p.name for p in work.iterdir())
    proc = run_cli("batch", str(manifest), "-o", str(out), "--task", "frames")
    assert proc.returncode == 1, proc.stderr
    assert "1 done, 0 skipped, 3 failed" in proc.stderr
    assert (out / "ok" / "a.frames.jsonl").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    assert sorted(p.name for p in work.iterdir()) == before_work
    assert list((tmp_path / "elsewhere").iterdir()) == []
    assert proc.stderr.count("failed: ") == 3


def _start_gamma_batch(tmp_path: Path, clips: int, frames: int) -> subprocess.Popen[str]:
    """`vidpipe batch --task gamma --jobs 2` over `clips` new 320x240 clips (tmp_path/in ->
    tmp_path/out), started in its own session."""
    src, out = tmp_path / "in", tmp_path / "out"
    for i in range(clips):
        _mk(src / f"c{i}.mp4", frames=frames, size_wh=(320, 240))
    argv = [sys.executable, "-m", "vidpipe", "-q", "batch", str(src), "-o", str(out),
            "--task", "gamma", "--gamma", "2.0", "--jobs", "2"]  # fmt: skip
    return subprocess.Popen(argv, start_new_session=True, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)  # fmt: skip


def test_kill_9_then_resume(tmp_path: Path) -> None:
    src, out = tmp_path / "in", tmp_path / "out"
    proc = _start_gamma_batch(tmp_path, clips=6, frames=40)
    statuses: list[str] = []
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            if (out / LEDGER).exists():
                with pytest.MonkeyPatch.context():
                    try:
                        statuses = [r["status"] for r in ledger_rows(out).values()]
                    except sqlite3.OperationalError:
                        statuses = []
                if "done" in statuses and "running" in statuses:
                    break
            time.sleep(0.02)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert "done" in statuses and "running" in statuses, (statuses, proc.stderr.read())
    before = ledger_rows(out)
    done_before = {k for k, r in before.items() if r["status"] == "done"}
    proc2 = run_cli("batch", str(src), "-o", str(out), "--task", "gamma", "--gamma", "2.0",
                    "--jobs", "2")  # fmt: skip
    assert proc2.returncode == 0, proc2.stderr
    rows = ledger_rows(out)
    assert all(r["status"] == "done" for r in rows.values())
    for key, row in rows.items():
        assert row["attempts"] == (
            1 if key in done_before else before.get(key, {}).get("attempts", 0) + 1
        )
        assert frame_count(out / f"{key}.mp4") == 40
        assert json.loads(row["checksums"]) == {f"{key}.mp4": sha256(out / f"{key}.mp4")}
    assert f"{len(rows) - len(done_before)} done, {len(done_before)} skipped" in proc2.stderr
    assert stray_files(out) == []
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == sorted(
        f"c{i}.mp4" for i in range(6)
    )


def _session_processes(sid: int) -> list[str]:
    """Command lines of live processes of session `sid` (the driver, its workers, ffmpeg)."""
    found = []
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            cmd = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[3]) == sid and fields[0] != "Z":
            found.append(cmd.decode(errors="replace"))
    return found


PR_SET_CHILD_SUBREAPER = 36


@contextlib.contextmanager
def _adopting_orphans() -> Iterator[None]:
    """While on, this process (not init) adopts orphaned descendants: a child that the driver
    did not reap before it exited becomes ours, alive or a zombie, and `_orphans` sees it
    however fast it ends (a check of live processes at exit is a race against its exit)."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        pytest.skip(f"prctl(PR_SET_CHILD_SUBREAPER): {os.strerror(ctypes.get_errno())}")
    try:
        yield
    finally:
        libc.prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)


def _orphans(sid: int) -> list[str]:
    """Processes of session `sid` (the driver's) adopted by this process, zombies included:
    children the driver left behind. Each is killed and reaped here. Call after the
    driver was waited for."""
    found = {}
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        name, fields = stat.split("(", 1)[1].rsplit(")", 1)[0], stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == os.getpid() and int(fields[3]) == sid:
            found[int(entry)] = f"{entry} {name} state {fields[0]}"
    for pid in found:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)
    return sorted(found.values())


def _wait_for_a_worker_writing(proc: subprocess.Popen[str], out: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        if any(".part-" in p.name for p in out.glob(".*")):  # a worker is writing
            break
        time.sleep(0.02)


def test_ctrl_c_stops_workers_and_the_rerun_finishes(tmp_path: Path) -> None:
    src, out = tmp_path / "in", tmp_path / "out"
    with _adopting_orphans():
        proc = _start_gamma_batch(tmp_path, clips=4, frames=60)
        try:
            _wait_for_a_worker_writing(proc, out)
            os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C does: the whole foreground group
            _, stderr = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        orphans = _orphans(proc.pid)
    assert proc.returncode == 130, stderr
    assert stderr.strip().splitlines()[-1] == "error: interrupted" and "Traceback" not in stderr
    assert orphans == []  # every child (workers, the resource tracker) reaped by the driver
    assert _session_processes(proc.pid) == []  # no worker, no ffmpeg left behind
    assert stray_files(out) == []  # no temporary file
    rows = ledger_rows(out)
    assert "running" in {r["status"] for r in rows.values()}  # redone next time
    for key, row in rows.items():  # what is not done has no output that looks complete
        assert (row["status"] == "done") == (out / f"{key}.mp4").exists()
    again = run_cli("-q", "batch", str(src), "-o", str(out), "--task", "gamma", "--gamma",
                    "2.0", "--jobs", "2")  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert all(frame_count(out / f"c{i}.mp4") == 60 for i in range(4))
    assert {r["status"] for r in ledger_rows(out).values()} == {"done"}


def _workers(driver: int) -> list[int]:
    """Pids of the driver's worker processes (its children but multiprocessing's tracker)."""
    found = []
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            cmd = Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == driver and b"resource_tracker" not in cmd:
            found.append(int(entry))
    return found


def test_a_worker_killed_mid_file_leaves_no_temporary_file(tmp_path: Path) -> None:
    """A worker dies while writing (SIGKILL: no clean-up of its own runs); the driver records
    its job failed and, when the run ends, no temporary file is left in OUTDIR."""
    out = tmp_path / "out"
    with _adopting_orphans():
        proc = _start_gamma_batch(tmp_path, clips=2, frames=120)
        try:
            _wait_for_a_worker_writing(proc, out)
            killed = _workers(proc.pid)
            for pid in killed:
                os.kill(pid, signal.SIGKILL)
            _, stderr = proc.communicate(timeout=120)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    assert killed, "no worker found"
    assert proc.returncode == 1 and "Traceback" not in stderr, stderr
    assert stray_files(out) == []
    failed = {k for k, r in ledger_rows(out).items() if r["status"] == "failed"}
    assert failed and all(not (out / f"{key}.mp4").exists() for key in failed)


@pytest.mark.parametrize("ending", ["done", "sigterm"])
def test_the_driver_reaps_every_child_before_it_exits(tmp_path: Path, ending: str) -> None:
    """Workers and multiprocessing's resource tracker: none outlives the driver, an orphan,
    whether the run ends or is stopped by a SIGTERM to the driver alone."""
    out = tmp_path / "out"
    with _adopting_orphans():
        proc = _start_gamma_batch(tmp_path, clips=3, frames=30)
        try:
            if ending == "sigterm":
                _wait_for_a_worker_writing(proc, out)
                os.kill(proc.pid, signal.SIGTERM)
            _, stderr = proc.communicate(timeout=120)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        orphans = _orphans(proc.pid)
    assert proc.returncode == (0 if ending == "done" else 130), stderr
    assert "Traceback" not in stderr
    assert orphans == []
    assert _session_processes(proc.pid) == []
    assert stray_files(out) == []


def test_unwritable_outdir_and_output_folder(clips: Path, tmp_path: Path) -> None:
    proc = run_cli("batch", str(clips), "-o", "/proc/vidpipe-test/out", "--task", "frames")
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("error: /proc/vidpipe-test/out: cannot create the output")
    assert len(proc.stderr.splitlines()) == 1
    out = tmp_path / "out"
    out.mkdir()
    (out / "sub").write_text("a file where the mirrored folder goes")
    proc = run_cli("batch", str(clips), "-o", str(out), "--task", "frames")
    assert proc.returncode == 1, proc.stderr
    failed = [line for line in proc.stderr.splitlines() if line.startswith("failed:")]
    assert len(failed) == 2 and all("sub" in line for line in failed), proc.stderr
    assert (out / "a.frames.jsonl").exists()  # the others are done
    assert (out / "sub").read_text().startswith("a file")


@needs_nano
def test_detect_task_jsonl_per_input(clips: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("VIDPIPE_MODEL_DIR", str(MODEL_DIR))
    out = tmp_path / "out"
    model = str(MODEL_DIR / "yolox_nano.onnx")
    proc = run_cli("-q", "batch", str(clips / "a.mp4"), str(clips / "sub"), "-o", str(out),
                   "--task", "detect", "--model", model, "--jobs", "2", "--coco",
                   timeout=240)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    for stem, frames in (("a", 12), ("b", 10), ("deeper/c", 14)):
        lines = (out / f"{stem}.jsonl").read_text().splitlines()
        assert [json.loads(line)["index"] for line in lines] == list(range(frames))
        assert isinstance(json.loads((out / f"{stem}.coco.json").read_text()), list)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (("--task", "blur"), "unknown task"),
        (("--task", "gamma"), "needs --gamma"),
        (("--task", "gamma", "--gamma", "-1"), "(0, 10]"),
        (("--task", "gamma", "--gamma", "2", "--to", "444"), "no option chroma"),
        (("--task", "chroma", "--to", "411"), "420, 422 or 444"),
        (("--task", "frames", "--jobs", "0"), "--jobs"),
        (("--task", "frames", "--retries", "0"), "--retries"),
        (("--task", "detect", "--conf", "2"), "--conf"),
        (("--task", "detect", "--model", "/nope/m.onnx"), "not found"),
        (("--task", "gamma", "--gamma", "2", "--codec", "nope"), "unknown codec"),
        (("--task", "gamma", "--gamma", "2", "--gpus", "0"), "--gpus goes with --task detect"),
        (("--task", "detect", "--gpus", "0", "--runner", "ray"), "--gpus goes with --runner"),
        (("--task", "detect", "--gpus", "0", "--device", "cpu"), "leave out --device"),
    ],
)
def test_bad_usage(clips: Path, tmp_path: Path, extra: tuple[str, ...], message: str) -> None:
    proc = run_cli("batch", str(clips), "-o", str(tmp_path / "out"), *extra)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and message in lines[0], lines
    assert not (tmp_path / "out").exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_gpus_without_a_gpu(clips: Path, tmp_path: Path) -> None:
    proc = run_cli("batch", str(clips), "-o", str(tmp_path / "out"), "--task", "detect",
                   "--gpus", "0")  # fmt: skip
    assert proc.returncode == 2 and proc.stderr == "error: --gpus: no CUDA device is available\n"
    assert not (tmp_path / "out").exists()


def test_bad_inputs_and_outdir(clips: Path, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "file").write_text("x")
    cases = [
        ((str(tmp_path / "empty"), "-o", str(tmp_path / "o1")), "no input videos"),
        ((str(tmp_path / "missing.mp4"), "-o", str(tmp_path / "o2")), "no such file"),
        ((str(clips), "-o", str(tmp_path / "file")), "not a folder"),
        ((str(tmp_path / "file"), "-o", str(tmp_path / "o3")), "neither"),
    ]
    (tmp_path / "m.csv").write_text("nope\n")
    cases.append(((str(tmp_path / "m.csv"), "-o", str(tmp_path / "o4")), "'input' column"))
    for args, message in cases:
        proc = run_cli("batch", *args, "--task", "frames")
        lines = proc.stderr.strip().splitlines()
        assert proc.returncode == 2 and len(lines) == 1, (args, proc.stderr)
        assert lines[0].startswith("error:") and message in lines[0], (args, lines)


def _children(pid: int) -> list[int]:
    kids = []
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            kids.append(int(entry))
    return kids


def test_a_killed_worker_fails_only_its_job(tmp_path: Path) -> None:
    src, out = tmp_path / "in", tmp_path / "out"
    for i in range(3):
        _mk(src / f"c{i}.mp4", frames=60, size_wh=(320, 240))
    argv = [sys.executable, "-m", "vidpipe", "batch", str(src), "-o", str(out),
            "--task", "gamma", "--gamma", "2.0", "--jobs", "1"]  # fmt: skip
    proc = subprocess.Popen(
        argv, start_new_session=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        killed = False
        while time.monotonic() < deadline and not killed and proc.poll() is None:
            with_running = (out / LEDGER).exists() and any(
                r["status"] == "running" for r in _safe_rows(out).values()
            )
            if with_running:
                for kid in _children(proc.pid):
                    os.kill(kid, signal.SIGKILL)
                    killed = True
            time.sleep(0.02)
        _, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert killed
    assert proc.returncode == 1, stderr
    rows = ledger_rows(out)
    failed = [r for r in rows.values() if r["status"] == "failed"]
    assert len(failed) == 1 and "killed by SIGKILL" in failed[0]["error"], rows
    assert sum(r["status"] == "done" for r in rows.values()) == 2
    assert "2 done, 0 skipped, 1 failed" in stderr


def _safe_rows(outdir: Path) -> dict[str, dict]:
    try:
        return ledger_rows(outdir)
    except sqlite3.OperationalError:
        return {}
