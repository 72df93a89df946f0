"""What the export tests read: real clips (the street footage as it is, re-timed to a variable
frame rate, scaled to an odd size; the dog picture panned in a clip rotated 90 degrees),
YOLOX-Nano runs over them, and the annotation tools' own readers (client_read.py, run by
the python of scripts/annotation_clients.py)."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from conftest import (
    DOG_JPG,
    FFMPEG,
    NANO_ONNX,
    ROOT,
    SAMPLES,
    cached_media,
    make_dog_clip,
    run_cli,
)
from filelock import FileLock

from vidpipe.formats.facts import VideoFacts, clipped, video_facts
from vidpipe.formats.run import read_detections

BIKES = SAMPLES / "street_bikes.mp4"
CLIENT = Path(__file__).with_name("client_read.py")
VFR_PTS = "(140*floor(N/3)+40*eq(mod(N\\,3)\\,1)+120*eq(mod(N\\,3)\\,2))/(1000*TB)"


def _clips_into(folder: Path, bikes: Path, dog: Path) -> None:
    """vfr.mp4: the street footage with frame intervals cycling 40/80/20 ms (1/1000 time
    base); odd.mkv: it scaled to 641x361 (FFV1); rotated.mp4: the dog picture panned, stored
    turned, displayed upright by a 90-degree display matrix."""
    assert FFMPEG is not None and dog == DOG_JPG
    common = [FFMPEG, "-v", "error", "-y", "-i", str(bikes)]
    subprocess.run([*common, "-vf", f"settb=1/1000,setpts='{VFR_PTS}'", "-fps_mode", "vfr",
                    "-enc_time_base", "1/1000", "-c:v", "libx264", "-bf", "0",
                    "-video_track_timescale", "1000", str(folder / "vfr.mp4")],
                   check=True)  # fmt: skip
    subprocess.run([*common, "-vf", "scale=641:361", "-c:v", "ffv1", str(folder / "odd.mkv")],
                   check=True)  # fmt: skip
    make_dog_clip(folder / "rotated.mp4", frames=12, rotation=90)


@dataclass(frozen=True)
class Run:
    """A detect run: the clip it read and its JSON Lines."""

    video: Path
    lines: Path
    tracked: bool

    @property
    def facts(self) -> VideoFacts:
        return video_facts(self.video)


RUNS = ("bikes", "vfr", "odd", "rotated", "scan", "empty")


PLAN = {  # run -> (its clip, of BIKES or the made ones; detect's options)
    "bikes": ("street_bikes.mp4", ["--track", "bytetrack"]),
    "vfr": ("vfr.mp4", ["--track", "bytetrack"]),
    "odd": ("odd.mkv", ["--track", "bytetrack"]),
    "rotated": ("rotated.mp4", ["--track", "bytetrack"]),
    "scan": ("street_bikes.mp4", ["--scan", "--sample", "0.5s"]),
    "empty": ("street_bikes.mp4", ["--track", "bytetrack", "--classes", "toothbrush"]),
}


def _runs_into(folder: Path, clips: list[Path], model: Path, code: str) -> None:
    """Each run of PLAN as folder/<run>.jsonl (keyed by the clips, the model and `code`,
    the digest of vidpipe's sources: a changed detector or tracker runs them again)."""
    by_name = {clip.name: clip for clip in clips}
    for name, (clip, options) in PLAN.items():
        done = run_cli("detect", str(by_name[clip]), "--model", str(model), "--json",
                       str(folder / f"{name}.jsonl"), "-q", *options, timeout=180)  # fmt: skip
        assert done.returncode == 0, done.stderr


def _code_digest() -> str:
    digest = hashlib.sha256()
    for path in sorted((ROOT / "vidpipe").rglob("*.py")):
        digest.update(path.read_bytes())
    return digest.hexdigest()


@pytest.fixture(scope="session")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Run]:
    """name -> Run: tracked runs (bytetrack) of the street footage and of its VFR, odd-size
    and rotated kin; an untracked --scan run (its sampled frames only); a tracked run that
    found nothing (--classes toothbrush). Made once per machine and code (cached_media)."""
    if not NANO_ONNX.is_file() or not DOG_JPG.is_file() or FFMPEG is None:
        pytest.skip(f"needs {NANO_ONNX}, {DOG_JPG} and the ffmpeg CLI")
    made = cached_media(tmp_path_factory.mktemp("clips"), _clips_into, BIKES, DOG_JPG)
    clips = [BIKES, made / "vfr.mp4", made / "odd.mkv", made / "rotated.mp4"]
    out = cached_media(tmp_path_factory.mktemp("runs"), _runs_into, clips, NANO_ONNX,
                       _code_digest())  # fmt: skip
    by_name = {clip.name: clip for clip in clips}
    return {name: Run(by_name[clip], out / f"{name}.jsonl", "--track" in options)
            for name, (clip, options) in PLAN.items()}  # fmt: skip


def expected_rows(run: Run, tracks: bool) -> list[list]:
    """Our run as [frame index, track id or -1, label, x1, y1, x2, y2] rows (the order
    client_read.py prints): boxes labelled by their track's class and clipped to the
    picture, as every export writes them; track ids where the format carries them."""
    boxes = read_detections(run.lines).by_track_class()
    xyxy = clipped(boxes.xyxy, run.facts)
    rows = [
        [int(boxes.indexes[boxes.frame[b]]), int(boxes.track_ids[b]) if tracks else -1,
         boxes.label(boxes.class_ids[b]), *map(float, xyxy[b])]
        for b in range(len(boxes.frame))
    ]  # fmt: skip
    return sorted(rows, key=lambda r: (r[0], r[1], r[3], r[4]))


def assert_same_rows(found: list[list], expected: list[list], tol_px: float = 0.5) -> None:
    """Same frames, track ids, labels and boxes (to `tol_px`), row for row."""
    assert len(found) == len(expected)
    assert [r[:3] for r in found] == [r[:3] for r in expected]
    if expected:
        gap = np.abs(np.array([r[3:] for r in found]) - np.array([r[3:] for r in expected]))
        assert gap.max() <= tol_px, f"boxes differ by up to {gap.max():.3f} px"


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    """`vidpipe ARGS...` in this process (`vidpipe.cli.main.main`, as a test calls it): its
    exit code and what it wrote, without a new interpreter's start-up for each call (the
    commands' own process behaviour is checked with `run_cli` elsewhere)."""
    import contextlib
    import io

    from vidpipe.cli.main import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(args))
    return subprocess.CompletedProcess(list(args), code, out.getvalue(), err.getvalue())


def _clients_script():
    path = ROOT / "scripts" / "annotation_clients.py"
    spec = importlib.util.spec_from_file_location("annotation_clients", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def clients_python() -> Path:
    """The python with datumaro, label-studio-sdk and fiftyone (made once, from the package
    registry); skips without registry access, fails then when VIDPIPE_CLIENTS_REQUIRED=1."""
    clients = _clients_script()
    dest = clients.default_dest()
    dest.mkdir(parents=True, exist_ok=True)
    try:
        with FileLock(dest / ".clients.lock"):
            return clients.clients_python(dest)
    except clients.ClientsUnavailable as exc:
        if os.environ.get("VIDPIPE_CLIENTS_REQUIRED") == "1":
            pytest.fail(f"VIDPIPE_CLIENTS_REQUIRED=1 but the clients are unavailable: {exc}")
        pytest.skip(f"annotation tools' libraries unavailable: {exc}")


def read_with_clients(python: Path, jobs: list[dict]) -> list[dict]:
    """client_read.py's answer per job ({"rows": ...} or {"error": ...})."""
    done = subprocess.run([str(python), str(CLIENT)], input=json.dumps(jobs), text=True,
                          capture_output=True, timeout=240, env={**os.environ,
                          "PYTHONWARNINGS": "ignore"})  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)
