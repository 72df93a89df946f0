"""Interrupted and failing runs of `detect -o` and `gamma -o` through the console script.

SIGINT / SIGTERM mid-run (to vidpipe alone, or to its whole process group as Ctrl-C at a
terminal does), a signal landing at the worst moments (right after an ffmpeg child is
started, inside PyAV's write callback), the disk refusing writes (RLIMIT_FSIZE with SIGXFSZ
ignored, so writes fail with EFBIG) and the ffmpeg encoder dying: each ends with one
`error:` line (exit 130 for a signal, 2 for a failure), no output file, no `.part-`
temporary file and no ffmpeg process left. Both decoders (`--backend av|ffmpeg`) and both
encoders (`--writer av|ffmpeg`) are exercised. (tests/cli/test_process_cli.py has the plain
SIGINT / SIGTERM cases of `gamma` with the av decoder.)
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from conftest import MODEL_DIR, NANO_ONNX, cached_clip, make_clip, processes_mentioning

WAIT_S = 60.0  # longest wait for a run to get going / to end


# --- helpers (shared with test_long_runs.py) --------------------------------------------


def vidpipe_env() -> dict[str, str]:
    """The environment for a vidpipe subprocess: the shared model folder, no mirror URL."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIDPIPE_")}
    env["VIDPIPE_MODEL_DIR"] = str(MODEL_DIR)
    return env


def children(pid: int) -> list[int]:
    """Live child processes of `pid` (any of its threads'), zombies left out."""
    kids = []
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except OSError:
        return []
    for task in tasks:
        try:
            kids += [int(k) for k in (task / "children").read_text().split()]
        except OSError:
            continue
    return [k for k in kids if alive(k)]


def alive(pid: int) -> bool:
    """True while `pid` exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def wait_for(condition: Callable[[], bool], proc: subprocess.Popen[str], what: str) -> None:
    """Poll `condition` until it holds; fail when `proc` ends first or after WAIT_S."""
    deadline = time.monotonic() + WAIT_S
    while not condition():
        if proc.poll() is not None:
            err = proc.stderr.read() if proc.stderr else ""
            pytest.fail(f"vidpipe ended (code {proc.returncode}) before {what}: {err}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"no {what} within {WAIT_S:.0f} s")
        time.sleep(0.02)


@contextlib.contextmanager
def writing(argv: list[str], outdir: Path) -> Iterator[subprocess.Popen[str]]:
    """`argv` started in its own session, yielded once encoded bytes are in its temporary
    file in `outdir`; killed with its whole group on the way out if still running."""
    proc = subprocess.Popen(
        argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        text=True, env=vidpipe_env(), start_new_session=True,
    )  # fmt: skip
    try:
        wait_for(lambda: any(p.stat().st_size for p in part_files(outdir)), proc, "output")
        yield proc
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def part_files(folder: Path) -> list[Path]:
    return [p for p in folder.iterdir() if ".part-" in p.name]


def assert_left_nothing(outdir: Path, kids: list[int], tmp_path: Path) -> None:
    """No output or temporary file, none of `kids` running, no process naming tmp_path."""
    assert sorted(os.listdir(outdir)) == []
    assert [k for k in kids if alive(k)] == []
    assert processes_mentioning(str(tmp_path)) == []


def command(name: str, clip: Path, out: Path, backend: str, writer: str) -> list[str]:
    argv = [sys.executable, "-m", "vidpipe", name, str(clip), "-o", str(out)]
    argv += ["--backend", backend, "--writer", writer]
    return argv + (["-g", "2"] if name == "gamma" else [])


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """30 s of 160x120 H.264 with AAC: far longer than any test lets a run go."""
    return cached_clip(
        tmp_path_factory.mktemp("input"), "long clip.mp4", frames=750, size_wh=(160, 120),
        audio=True, options={"preset": "ultrafast"},
    )  # fmt: skip


@pytest.fixture
def outdir(tmp_path: Path) -> Path:
    path = tmp_path / "out"
    path.mkdir()
    return path


# --- a signal mid-run ---------------------------------------------------------------------

MID_RUN = [
    # command, signal, --backend, --writer, to the whole process group (Ctrl-C at a terminal)
    ("gamma", signal.SIGINT, "ffmpeg", "ffmpeg", False),
    ("gamma", signal.SIGTERM, "ffmpeg", "av", False),
    ("gamma", signal.SIGINT, "ffmpeg", "ffmpeg", True),
    ("detect", signal.SIGINT, "av", "av", False),
    ("detect", signal.SIGTERM, "ffmpeg", "ffmpeg", False),
    ("detect", signal.SIGINT, "av", "ffmpeg", True),
]


@pytest.mark.parametrize(
    ("name", "sig", "backend", "writer", "group"),
    MID_RUN,
    ids=[f"{n}-{s.name}-{b}-{w}{'-group' if g else ''}" for n, s, b, w, g in MID_RUN],
)
def test_signal_mid_run_leaves_nothing(
    clip: Path,
    outdir: Path,
    tmp_path: Path,
    name: str,
    sig: signal.Signals,
    backend: str,
    writer: str,
    group: bool,
) -> None:
    if name == "detect" and not NANO_ONNX.is_file():
        pytest.skip(f"no model at {NANO_ONNX}")
    clip_bytes = clip.stat().st_size
    ffmpegs = (backend == "ffmpeg") + (writer == "ffmpeg")
    # Really processing: encoded bytes in the temporary file, the ffmpeg children running.
    with writing(command(name, clip, outdir / "out.mp4", backend, writer), outdir) as proc:
        wait_for(lambda: len(children(proc.pid)) >= ffmpegs, proc, f"{ffmpegs} ffmpeg children")
        kids = children(proc.pid)
        (os.killpg if group else os.kill)(proc.pid, sig)
        _, err = proc.communicate(timeout=WAIT_S)
    assert proc.returncode == 130, err
    assert err.splitlines() == ["error: interrupted"], err
    assert_left_nothing(outdir, kids, tmp_path)
    assert clip.stat().st_size == clip_bytes


# --- the hold itself (what the CLI's signal handler calls) ----------------------------------


@pytest.fixture
def fresh_flag(monkeypatch: pytest.MonkeyPatch) -> None:
    """`interrupt` sets the process-wide cancel flag: give this test its own."""
    from vidpipe.runtime import signals

    monkeypatch.setattr(signals, "_cancelled", threading.Event())
    monkeypatch.setattr(signals, "_held", 0)
    monkeypatch.setattr(signals, "_pending", None)


def test_interrupt_is_held_to_the_end_of_the_section(fresh_flag: None) -> None:
    from vidpipe.runtime import signals
    from vidpipe.runtime.signals import interrupt, interrupts_held

    with pytest.raises(KeyboardInterrupt):
        interrupt(signal.SIGINT)  # outside a section: at once
    steps = []
    with pytest.raises(KeyboardInterrupt, match="signal 15"), interrupts_held():
        with interrupts_held():  # nested: raised when the outer one ends
            interrupt(signal.SIGTERM)
            steps.append("inner")
        steps.append("outer")
    assert steps == ["inner", "outer"]
    with pytest.raises(KeyboardInterrupt, match="signal 2"), interrupts_held():
        interrupt(signal.SIGINT)
        raise ValueError("the body's own error")  # replaced by the held interrupt
    with pytest.raises(ValueError), interrupts_held():
        raise ValueError("no signal came: the body's error stands")

    with pytest.raises(KeyboardInterrupt, match="signal 2"), interrupts_held():
        interrupt(signal.SIGINT)
        with pytest.raises(KeyboardInterrupt):
            interrupt(signal.SIGINT)  # a second signal is not held
    assert signals._cancelled.is_set()  # prefetch consumers stop at their next item
    with interrupts_held():
        pass  # nothing pending any more

    held_there = []

    def elsewhere() -> None:  # a section off the main thread holds nothing
        with interrupts_held():
            held_there.append(signals._held)

    thread = threading.Thread(target=elsewhere)
    thread.start()
    thread.join()
    assert held_there == [0]


def test_a_run_after_an_interrupted_one_in_the_same_process_is_not_cancelled(
    fresh_flag: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The cancel flag an interrupt set stays set when `main()` returns 130; the next
    in-process `main()` clears it, else its first `prefetch` would stop it at once."""
    from vidpipe.cli.main import main
    from vidpipe.runtime import signals

    clip = make_clip(tmp_path / "in.mp4", frames=8)
    with pytest.raises(KeyboardInterrupt):
        signals.interrupt(signal.SIGINT)  # what Ctrl-C did to the run before
    assert main(["gamma", str(clip), "-g", "2.0", "-o", str(tmp_path / "out.mp4")]) == 0
    assert (tmp_path / "out.mp4").is_file()
    capsys.readouterr()


# --- a signal at the worst moment -----------------------------------------------------------

# Runs the console script with subprocess.Popen / av.open wrapped so that SIGINT arrives at a
# chosen moment; writes {"code", "pids", "not_reaped"} to the file argv[2]. A child that
# vidpipe did not wait for is still ours to reap afterwards ("not_reaped").
_AT_MOMENT = r"""
import json, os, signal, subprocess, sys
import av
from vidpipe.cli import main as cli

moment, result, *args = sys.argv[1:]
pids = []
real_init, real_open = subprocess.Popen.__init__, av.open

def init(self, *a, **k):
    real_init(self, *a, **k)
    role = {subprocess.PIPE: "encoder", subprocess.DEVNULL: "decoder"}.get(k.get("stdin"))
    if role is not None:
        pids.append(self.pid)
    if role is not None and moment == role + "-started":
        os.kill(os.getpid(), signal.SIGINT)  # lands before vidpipe holds the Popen

class Pipe:
    def __init__(self, f):
        self.f, self.writes = f, 0
    def write(self, data):
        self.writes += 1
        if self.writes == 3:
            os.kill(os.getpid(), signal.SIGINT)  # lands inside PyAV's write callback
        return self.f.write(data)
    def close(self):
        self.f.close()

def open_(file, *a, **k):
    if moment == "nut-write" and k.get("format") == "nut":
        file = Pipe(file)
    return real_open(file, *a, **k)

subprocess.Popen.__init__, av.open = init, open_
sys.argv = ["vidpipe", *args]
try:
    cli.run()
except SystemExit as exc:
    code = exc.code
not_reaped = []
for pid in pids:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        continue  # vidpipe reaped it
    not_reaped.append(pid)
with open(result, "w") as f:
    json.dump({"code": code, "pids": pids, "not_reaped": not_reaped}, f)
"""


@pytest.mark.parametrize(
    ("moment", "args"),
    [
        ("encoder-started", ["gamma", "{clip}", "-o", "{out}", "-g", "2", "--writer", "ffmpeg"]),
        ("decoder-started", ["frames", "{clip}", "--backend", "ffmpeg"]),
        ("nut-write", ["gamma", "{clip}", "-o", "{out}", "-g", "2", "--writer", "ffmpeg"]),
    ],
)
def test_signal_at_the_worst_moment(
    clip: Path, outdir: Path, tmp_path: Path, moment: str, args: list[str]
) -> None:
    """A Ctrl-C right after ffmpeg is started (before vidpipe holds its Popen) used to leave
    that ffmpeg running, unreaped; one inside PyAV's write callback printed a traceback."""
    result = tmp_path / "result.json"
    argv = [a.format(clip=clip, out=outdir / "out.mp4") for a in args]
    run = subprocess.run(
        [sys.executable, "-c", _AT_MOMENT, moment, str(result), *argv],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        text=True, env=vidpipe_env(), timeout=WAIT_S,
    )  # fmt: skip
    report = json.loads(result.read_text())
    assert report["code"] == 130, run.stderr
    assert run.stderr.splitlines() == ["error: interrupted"], run.stderr
    assert report["pids"] and report["not_reaped"] == []
    assert_left_nothing(outdir, report["pids"], tmp_path)


# --- the disk or the encoder failing mid-stream ---------------------------------------------


def _file_size_limit(limit: int) -> Callable[[], None]:
    def preexec() -> None:  # in the child: writes past `limit` fail with EFBIG
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return preexec


DISK_FULL = [
    # command, --backend, --writer, extra options, file size limit, expected in the message
    ("gamma", "av", "av", [], 64 << 10, "File too large"),
    # the ffmpeg encoder is vidpipe's child: SIGXFSZ is not ignored there and kills it
    ("gamma", "ffmpeg", "ffmpeg", [], 64 << 10, "killed by SIGXFSZ (File size limit exceeded)"),
    ("detect", "ffmpeg", "av", ["--json", "{out}/dets.jsonl"], 1, "File too large"),
]


@pytest.mark.parametrize(
    ("name", "backend", "writer", "extra", "limit", "reason"),
    DISK_FULL,
    ids=[f"{n}-{b}-{w}{'-json' if e else ''}" for n, b, w, e, _, _ in DISK_FULL],
)
def test_disk_refusing_writes_is_one_error_line(
    clip: Path,
    outdir: Path,
    tmp_path: Path,
    name: str,
    backend: str,
    writer: str,
    extra: list[str],
    limit: int,
    reason: str,
) -> None:
    if name == "detect" and not NANO_ONNX.is_file():
        pytest.skip(f"no model at {NANO_ONNX}")
    argv = command(name, clip, outdir / "out.mp4", backend, writer)
    argv += [e.format(out=outdir) for e in extra]
    run = subprocess.run(
        argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, env=vidpipe_env(),
        timeout=WAIT_S, preexec_fn=_file_size_limit(limit),
    )  # fmt: skip
    assert run.returncode == 2, run.stderr
    [line] = run.stderr.splitlines()
    assert line.startswith("error: ") and reason in line, line
    if limit > 1:  # frames were written before the limit was hit: a mid-stream failure
        assert " after " in line and " after 0 frames" not in line, line
    assert_left_nothing(outdir, [], tmp_path)


def test_encoder_killed_mid_stream(clip: Path, outdir: Path, tmp_path: Path) -> None:
    with writing(command("gamma", clip, outdir / "out.mp4", "av", "ffmpeg"), outdir) as proc:
        [encoder] = children(proc.pid)
        os.kill(encoder, signal.SIGKILL)  # as the OOM killer would
        _, err = proc.communicate(timeout=WAIT_S)
    assert proc.returncode == 2, err
    [line] = err.splitlines()
    assert line.startswith("error: ffmpeg was killed by SIGKILL (Killed) after reading "), line
    assert_left_nothing(outdir, [encoder], tmp_path)
