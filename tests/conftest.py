"""Shared fixtures: the committed sample clips, ffprobe as an oracle, clips made on the fly, and
the corpus of real footage from PyPI packages (scripts/fetch_corpus.py)."""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import inspect
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from fractions import Fraction
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING

import av
import numpy as np
import pytest
from filelock import FileLock

if TYPE_CHECKING:
    import torch

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "sample_media"
SAMPLE_CLIPS = sorted(p for p in SAMPLES.iterdir() if p.suffix in {".mp4", ".mkv", ".avi", ".webm"})
FFPROBE = shutil.which("ffprobe")
FFMPEG = shutil.which("ffmpeg")

needs_ffprobe = pytest.mark.skipif(FFPROBE is None, reason="ffprobe (the oracle) is not installed")
needs_ffmpeg_cli = pytest.mark.skipif(FFMPEG is None, reason="ffmpeg CLI not on PATH")

# Reference model and image beside the repository (never copied into it); CI sets
# VIDPIPE_MODEL_DIR to ../shared/models.
SHARED = ROOT.parent / "shared"
MODEL_DIR = Path(os.environ.get("VIDPIPE_MODEL_DIR") or SHARED / "models")
NANO_ONNX = MODEL_DIR / "yolox_nano.onnx"
DOG_JPG = SHARED / "media" / "dog.jpg"
needs_nano = pytest.mark.skipif(
    not NANO_ONNX.is_file() or not DOG_JPG.is_file(),
    reason=f"reference model/image not found ({NANO_ONNX}, {DOG_JPG})",
)
DOG_PAN_PX = 6  # the dog clip pans right by this many pixels per frame


def run_cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """`python -m vidpipe ARGS...` in a subprocess (stdin closed), output captured as text."""
    return subprocess.run(
        [sys.executable, "-m", "vidpipe", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


# Every process this test process starts, and every process those start, inherits OWNER_VAR
# (`vidpipe_env()`-style copies of os.environ keep it: it is not a VIDPIPE_ variable), also
# after it is orphaned. The leftover-process checks count only processes carrying this
# process's value, so pytest-xdist workers (and other test runs on the machine) working on
# the same sample clips never see each other's ffmpeg children.
OWNER_VAR = "PYTEST_VIDPIPE_OWNER"
if not os.environ.get(OWNER_VAR, "").startswith(f"{os.getpid()}."):
    os.environ[OWNER_VAR] = f"{os.getpid()}.{time.time_ns()}"
_OWNER_ENTRY = f"{OWNER_VAR}={os.environ[OWNER_VAR]}".encode()


def _started_by_this_process(pid: str) -> bool:
    """Whether process `pid` inherited this test process's OWNER_VAR (from /proc/PID/environ,
    the environment it was started with)."""
    try:
        return _OWNER_ENTRY in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:  # ended meanwhile, or not ours to read (another user's: not ours at all)
        return False


def processes_mentioning(text: str) -> list[str]:
    """Command lines of live processes that name `text` (leftover ffmpeg children) and that this
    test process started, directly or not (OWNER_VAR), pytest itself left out. (Not every
    command line that contains "pytest": every tmp_path does.)"""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
        except OSError:
            continue
        is_pytest = any(a == "pytest" or a.endswith(("/pytest", "/py.test")) for a in argv)
        cmd = " ".join(argv)
        other = int(pid) != os.getpid() and not is_pytest
        if other and text in cmd and _started_by_this_process(pid):
            found.append(cmd)
    return found


# --- generated media, cached between runs --------------------------------------------------

# Media the fixtures generate is kept here between runs (and shared by pytest-xdist workers),
# one folder per key: the generator's qualified name and its module's source, its arguments,
# the contents of the files it reads, and the versions of what encodes. Delete it at will.
MEDIA_CACHE = (
    Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "vidpipe" / "test-media"
)


@functools.cache
def _digest(path: Path, size: int, mtime_ns: int) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _key_part(value: object) -> object:
    """`value` as JSON for a cache key: a file by its content's sha256, a folder never."""
    if isinstance(value, Path):
        assert value.is_file(), f"a cache key names files by content: {value}"
        stat = value.stat()
        return _digest(value, stat.st_size, stat.st_mtime_ns)
    if isinstance(value, dict):
        return {str(k): _key_part(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, (list, tuple)):
        return [_key_part(v) for v in value]
    if callable(value):
        return f"{value.__module__}.{value.__qualname__}"
    return repr(value)


@functools.cache
def _tools() -> tuple[str, ...]:
    """What generated bytes depend on besides the generator: PyAV (and its FFmpeg), numpy,
    Pillow and the ffmpeg CLI."""
    import PIL

    cli = "none"
    if FFMPEG is not None:
        cli = subprocess.run(
            [FFMPEG, "-version"], capture_output=True, text=True, check=True
        ).stdout.split("\n", 1)[0]
    return (av.__version__, str(av.ffmpeg_version_info), np.__version__, PIL.__version__, cli)


# The generators' helpers (every module of tests/ that is not a test module): part of each key.
_HELPERS = sorted(p for p in Path(__file__).parent.rglob("*.py") if not p.name.startswith("test_"))


def cached_media(dest: Path, make: Callable[..., object], *args: object) -> Path:
    """`dest`, a new folder holding what `make(folder, *args)` writes into a folder. It is built
    once into MEDIA_CACHE (under a lock: xdist workers wait for the one building it) and
    copied from there (tests may write beside their inputs). Keyed by `make`'s name, its
    module's and the test helpers' sources, `args` (Paths among them by content) and the
    encoders' versions."""
    sources = [Path(inspect.getsourcefile(make) or ""), *_HELPERS]
    key = json.dumps(
        [make.__qualname__, _key_part(sources), _key_part(args), _tools()], sort_keys=True
    )
    digest = hashlib.sha256(key.encode()).hexdigest()[:20]
    entry = MEDIA_CACHE / f"{make.__name__}-{digest}"
    if not entry.is_dir():
        MEDIA_CACHE.mkdir(parents=True, exist_ok=True)
        with FileLock(MEDIA_CACHE / f".{entry.name}.lock"):
            if not entry.is_dir():
                building = MEDIA_CACHE / f".building-{entry.name}-{os.getpid()}"
                shutil.rmtree(building, ignore_errors=True)
                building.mkdir()
                try:
                    make(building, *args)
                    (building / ".key.json").write_text(key)
                    os.rename(building, entry)  # all of it, or nothing
                finally:
                    shutil.rmtree(building, ignore_errors=True)
    shutil.copytree(entry, dest, ignore=shutil.ignore_patterns(".key.json"), dirs_exist_ok=True)
    return dest


def ffprobe_json(path: Path | str, *args: str) -> dict:
    """Run ffprobe with JSON output (the independent oracle)."""
    out = subprocess.run(
        [FFPROBE, "-v", "error", "-of", "json", *args, str(path)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out)


def ffprobe_frames(path: Path | str) -> list[dict]:
    """ffprobe -show_frames of the first video stream, in display (output) order."""
    entries = "frame=pts,pict_type,key_frame,pkt_size"
    return ffprobe_json(path, "-select_streams", "v:0", "-show_frames", "-show_entries", entries)[
        "frames"
    ]


def make_clip(
    path: Path,
    *,
    frames: int = 30,
    size_wh: tuple[int, int] = (64, 48),
    codec: str = "libx264",
    options: dict[str, str] | None = None,
    rate: int = 25,
    pix_fmt: str = "yuv420p",
    audio: bool = False,
) -> Path:
    """Encode a clip of moving gradients with PyAV (deterministic content)."""
    width, height = size_wh
    with av.open(str(path), "w") as out:
        stream = out.add_stream(codec, rate=rate)
        stream.width, stream.height, stream.pix_fmt = width, height, pix_fmt
        stream.codec_context.options = options or {}
        astream = out.add_stream("aac", rate=48000) if audio else None
        yy, xx = np.mgrid[0:height, 0:width]
        for i in range(frames):
            rgb = np.stack(
                [(xx * 4 + i * 7) % 256, (yy * 4 + i * 3) % 256, (xx + yy + i * 11) % 256], -1
            )
            frame = av.VideoFrame.from_ndarray(rgb.astype(np.uint8), format="rgb24")
            frame.pts = i
            frame.time_base = Fraction(1, rate)
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
        if astream is not None:
            _write_tone(out, astream, frames / rate)
    return path


def _write_tone(out, astream, seconds: float) -> None:
    samples = int(48000 * seconds)
    t = np.arange(samples) / 48000
    tone = (0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    for start in range(0, samples, 1024):
        chunk = tone[start : start + 1024]
        frame = av.AudioFrame.from_ndarray(np.stack([chunk, chunk]), format="fltp", layout="stereo")
        frame.sample_rate = 48000
        frame.pts = start
        out.mux(astream.encode(frame))
    out.mux(astream.encode(None))


def _clip_into(folder: Path, name: str, kwargs: dict) -> None:
    make_clip(folder / name, **kwargs)


def cached_clip(folder: Path, name: str, **kwargs: object) -> Path:
    """`make_clip(folder / name, **kwargs)` through the media cache (`folder` is new)."""
    return cached_media(folder, _clip_into, name, kwargs) / name


@pytest.fixture(scope="session")
def bframe_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """H.264 with a fixed GOP (10) and 2 B-frames: types I B B P B B P B B P per GOP."""
    opts = {"bf": "2", "g": "10", "x264-params": "b-adapt=0:scenecut=0:keyint=10:min-keyint=10"}
    return cached_clip(tmp_path_factory.mktemp("clips"), "bframes.mp4", frames=40, options=opts)


def make_dog_clip(path: Path, *, frames: int = 16, rotation: int = 0) -> Path:
    """640x480 H.264 (+ AAC) panning across ../shared/media/dog.jpg: frame i shows the crop at
    x = DOG_PAN_PX * i, y = 48. With `rotation`, the pixels are stored turned the other way and
    the display matrix turns them back, so the clip DISPLAYS the same upright images."""
    from PIL import Image

    image = np.asarray(Image.open(DOG_JPG).convert("RGB"))
    turns = round(rotation / 90) % 4
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=25)
        stream.width, stream.height = (480, 640) if turns % 2 else (640, 480)
        stream.pix_fmt = "yuv420p"
        stream.codec_context.options = {"crf": "18", "preset": "veryfast"}
        if turns:
            stream.set_display_rotation(rotation)
        astream = out.add_stream("aac", rate=48000)
        for i in range(frames):
            x = DOG_PAN_PX * i
            crop = np.ascontiguousarray(np.rot90(image[48:528, x : x + 640], -turns))
            frame = av.VideoFrame.from_ndarray(crop, format="rgb24")
            frame.pts = i
            frame.time_base = Fraction(1, 25)
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
        _write_tone(out, astream, frames / 25)
    return path


@pytest.fixture(scope="session")
def dog_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """16 frames panning across the dog image, with audio (see make_dog_clip)."""
    if not DOG_JPG.is_file():
        pytest.skip(f"{DOG_JPG} not found")
    return cached_media(tmp_path_factory.mktemp("dog"), _dog_clip_into, DOG_JPG) / "dog.mp4"


def _dog_clip_into(folder: Path, image: Path) -> None:
    assert image == DOG_JPG  # in the cache key by its content
    make_dog_clip(folder / "dog.mp4")


# --- YOLOX test helpers -----------------------------------------------------------------


def randomize_bn(model: torch.nn.Module, seed: int) -> torch.nn.Module:
    """Give every BatchNorm non-trivial affine parameters and running statistics (in place).
    Small running variances make the eps (1e-3) matter, so a fold that ignores it fails."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                n = module.num_features
                module.weight.copy_(torch.rand(n, generator=gen) * 0.8 + 0.6)
                module.bias.copy_(torch.randn(n, generator=gen) * 0.2)
                module.running_mean.copy_(torch.randn(n, generator=gen) * 0.3)
                module.running_var.copy_(torch.rand(n, generator=gen) * 0.95 + 0.05)
    return model.eval()


def random_images(batch: int, height: int, width: int, seed: int = 0) -> torch.Tensor:
    """`Tensor[B, 3, H, W]` float32 0..255 (BGR in the model's eyes)."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    return torch.rand(batch, 3, height, width, generator=gen) * 255.0


@pytest.fixture
def http_mirror() -> Iterator[tuple[str, dict[str, bytes], list[str]]]:
    """A local HTTP server for model downloads: (base URL, files by name to serve, request
    paths seen); a name it does not hold is a 404."""
    files: dict[str, bytes] = {}
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(self.path)
            body = files.get(self.path.rsplit("/", 1)[-1])
            if body is None:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/models", files, seen
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


# --- Real footage from pinned PyPI packages (scripts/fetch_corpus.py, issue 11) --------------


def _load_fetch_corpus():
    """scripts/fetch_corpus.py as a module (scripts/ is not a package)."""
    path = ROOT / "scripts" / "fetch_corpus.py"
    spec = importlib.util.spec_from_file_location("fetch_corpus", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("fetch_corpus", module)  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


fetch_corpus = _load_fetch_corpus()
CORPUS = fetch_corpus.MANIFEST  # CorpusFile entries; `.id` is e.g. "puremagic/test.avi"
CORPUS_IDS = [entry.id for entry in CORPUS]


@pytest.fixture(scope="session")
def _corpus_fetch() -> tuple[list[Path] | None, str]:
    """(the corpus files, "") or (None, why pip could not download them). A download that does
    not match its pinned sha256 fails; so does an unreachable registry when
    VIDPIPE_CORPUS_REQUIRED=1 (for CI, which has registry access)."""
    dest = fetch_corpus.default_dest()
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        # pytest-xdist workers each ask: the first downloads, the others wait, then find it all.
        with FileLock(dest.parent / f".{dest.name}.lock"):
            return fetch_corpus.fetch_corpus(dest), ""
    except fetch_corpus.CorpusUnavailable as exc:
        if os.environ.get("VIDPIPE_CORPUS_REQUIRED") == "1":
            pytest.fail(f"VIDPIPE_CORPUS_REQUIRED=1 but the corpus is unavailable: {exc}")
        return None, str(exc)


@pytest.fixture(scope="session")
def corpus_or_none(_corpus_fetch: tuple[list[Path] | None, str]) -> list[Path] | None:
    """The corpus files in CORPUS order (fetched once into $VIDPIPE_CORPUS_DIR or
    ~/.cache/vidpipe/corpus), or None when pip cannot download them."""
    return _corpus_fetch[0]


@pytest.fixture(scope="session")
def real_corpus(_corpus_fetch: tuple[list[Path] | None, str]) -> list[Path]:
    """The corpus files (list of Paths, CORPUS order); skips when pip cannot reach PyPI."""
    paths, why = _corpus_fetch
    if paths is None:
        pytest.skip(f"real-media corpus unavailable (pip cannot download it): {why}")
    return paths


# --- Detector test fixtures: the reference picture and the OpenCV oracle ----------------------

SHARED = ROOT.parent / "shared"


@pytest.fixture(scope="module")
def cv2():  # the OpenCV module (test-only oracle)
    return pytest.importorskip("cv2")


@pytest.fixture(scope="module")
def dog_rgb() -> np.ndarray:
    """`[576, 768, 3]` uint8 RGB of ../shared/media/dog.jpg, read-only (as PIL hands it out)."""
    models = Path(os.environ.get("VIDPIPE_MODEL_DIR") or SHARED / "models")
    candidates = [models.parent / "media" / "dog.jpg", SHARED / "media" / "dog.jpg"]
    path = next((p for p in candidates if p.is_file()), None)
    if path is None:
        pytest.skip(f"reference image not found: {candidates[-1]}")
    from PIL import Image

    return np.asarray(Image.open(path).convert("RGB"))
