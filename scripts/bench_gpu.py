"""`bench.py gpu`: every figure of the GPU check in one run (scripts/gpu_check.sh runs it after
the cuda tests). It needs no ffmpeg program, which the GPU machines lack: the clip is made,
and every frame counted, with PyAV.

Steps, in order; each prints its rows as it goes. A row that cannot run on this machine says
"skipped: why"; a step that breaks says "FAILED: why" and the next step runs. The exit status
is 1 when a step FAILED (a skipped row is not a failure).

- env: the GPU, its driver and CUDA (nvidia-smi, torch), onnxruntime's execution providers,
  PyAV's FFmpeg with its hardware device types and its NVDEC (cuvid) and NVENC codecs, and
  `ffmpeg -hwaccels` where an ffmpeg program is found.
- clip: H.264 of real footage (sample_media/street_bikes.mp4, scaled to --size, looped to
  --frames frames at 30 fps; libx264), made once per size into --media.
- decode: decode-only frames/s, on the CPU (`hwaccel="none"`) and with NVDEC
  (`hwaccel="cuda"`).
- inference: `vp.detect` over the decoded frames (letterbox, model, NMS) at each batch of
  --batches, per runtime: torch (fp16 on CUDA), onnxruntime (its CUDA execution provider on a
  GPU, where installed) and TensorRT (onnxruntime's TensorRT execution provider, where
  offered and the CUDA one is not: vidpipe takes CUDA first; no TensorRT engine of its own).
- encode: encode-only frames/s with detect -o's x264 options, and with h264_nvenc.
- end-to-end: `vidpipe detect CLIP -o OUT.mp4` and `--json` frames/s (whole processes), and
  the peer on the same clip: the OpenCV + onnxruntime loop of scripts/peer_detect.py on the
  CPU (the ratio is ours over it).
- batch: `vidpipe batch` over --clips copies of the clip, --jobs J: `--gpus 0` (one model
  server, frames of several videos per forward pass) against `--device cuda` (a model per
  worker): aggregate frames/s, frames per forward pass, and nvidia-smi's GPU memory (peak)
  and utilisation (mean) sampled every 0.2 s.

--dry-run: the same steps on the CPU (device cpu) with a tiny clip, each GPU-only row
skipped, so that the script itself is tested where there is no GPU (tests/test_gpu_check.py).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import benchlib as common

ROOT = Path(__file__).resolve().parent.parent
FOOTAGE = ROOT / "sample_media" / "street_bikes.mp4"
PEER = ROOT / "scripts" / "peer_detect.py"
NO_GPU = "skipped: no GPU"


@dataclass
class Row:
    step: str
    what: str
    value: float | None = None  # a figure (unit says which), or None for a fact or a skip
    unit: str = ""
    status: str = "ok"  # "ok", "skipped: why" or "FAILED: why"
    text: str = ""  # a fact (env rows)

    def cell(self) -> str:
        if self.value is not None:
            return f"{self.value:.1f} {self.unit}".strip()
        return self.text or "-"


class Check:
    """The rows so far, printed as they come."""

    def __init__(self, gpu: bool) -> None:
        self.gpu = gpu
        self.rows: list[Row] = []

    def add(self, row: Row) -> None:
        self.rows.append(row)
        status = "" if row.status == "ok" else f"  [{row.status}]"
        print(f"  {row.step:<10} {row.what:<58} {row.cell()}{status}", flush=True)

    def fact(self, step: str, what: str, text: str) -> None:
        self.add(Row(step, what, text=text))

    def figure(self, step: str, what: str, value: float, unit: str = "fps") -> None:
        self.add(Row(step, what, value, unit))

    def skip(self, step: str, what: str, why: str = NO_GPU) -> None:
        self.add(Row(step, what, status=why if why.startswith("skipped") else f"skipped: {why}"))

    def run(self, step: str, body: Callable[[], None]) -> None:
        """Run one step; an exception is its FAILED row, and the check goes on."""
        print(f"\n== {step}", flush=True)
        try:
            body()
        except Exception as exc:  # every step's failure is reported, and the next step runs
            reason = " ".join(f"{type(exc).__name__}: {exc}".split())[:300]
            self.add(Row(step, "(step)", status=f"FAILED: {reason}"))

    @property
    def failed(self) -> list[Row]:
        return [r for r in self.rows if r.status.startswith("FAILED")]


# --------------------------------------------------------------------------- the steps


def _command(argv: list[str]) -> str:
    """A program's stdout (stderr joined), or why it could not run."""
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"({exc})"
    return (done.stdout + done.stderr).strip()


def env(check: Check) -> None:
    import av
    import onnxruntime
    import torch

    if shutil.which("nvidia-smi"):
        query = "name,driver_version,memory.total"
        smi = _command(["nvidia-smi", f"--query-gpu={query}", "--format=csv,noheader"])
        check.fact("env", "GPU (nvidia-smi: name, driver, memory)", smi)
    else:
        check.skip("env", "GPU (nvidia-smi)", "skipped: no nvidia-smi")
    cuda = torch.version.cuda or "none"
    name = torch.cuda.get_device_name(0) if check.gpu else "no GPU in use"
    check.fact("env", "torch, its CUDA, device", f"{torch.__version__}, CUDA {cuda}, {name}")
    check.fact("env", "onnxruntime providers", f"{onnxruntime.__version__}: "
               + ", ".join(onnxruntime.get_available_providers()))  # fmt: skip
    from av.codec.hwaccel import hwdevices_available

    codec = av.library_versions["libavcodec"]
    check.fact("env", "PyAV, libavcodec", f"{av.__version__}, {'.'.join(map(str, codec))}")
    check.fact("env", "PyAV hardware device types", ", ".join(hwdevices_available()) or "none")
    nv = sorted(c for c in av.codecs_available if c.endswith(("_cuvid", "_nvenc", "_nvdec")))
    check.fact("env", "PyAV NVDEC/NVENC codecs", ", ".join(nv) or "none")
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        check.skip("env", "ffmpeg -hwaccels / cuvid / nvenc", "skipped: no ffmpeg program")
        return
    hwaccels = _command([ffmpeg, "-hide_banner", "-hwaccels"]).splitlines()[1:]
    check.fact("env", "ffmpeg -hwaccels", ", ".join(h.strip() for h in hwaccels) or "none")
    for kind, pattern in (("decoders", r"cuvid|nvdec"), ("encoders", r"nvenc")):
        found = [line.split()[1] for line in _command([ffmpeg, "-hide_banner", f"-{kind}"])
                 .splitlines() if re.search(pattern, line) and len(line.split()) > 1]  # fmt: skip
        check.fact("env", f"ffmpeg -{kind} ({pattern})", ", ".join(found) or "none")


def make_clip(media: Path, size: tuple[int, int], frames: int) -> Path:
    """sample_media/street_bikes.mp4 scaled to `size` and looped to `frames` frames at
    30 fps, H.264 (libx264 veryfast, CRF 23, yuv420p), made with PyAV once into `media`."""
    import av

    width, height = size
    dest = media / f"gpu_{width}x{height}_{frames}.mp4"
    if dest.is_file():
        return dest
    media.mkdir(parents=True, exist_ok=True)
    with av.open(str(FOOTAGE)) as src:
        pictures = [
            f.reformat(width=width, height=height, format="yuv420p") for f in src.decode(video=0)
        ]
    pictures += pictures[-2:0:-1]  # there and back: no jump where it loops
    part = dest.with_name(dest.name + ".part.mp4")
    with av.open(str(part), "w") as out:
        stream = out.add_stream("libx264", rate=30, options={"preset": "veryfast", "crf": "23"})
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for i, picture in zip(range(frames), itertools.cycle(pictures), strict=False):
            picture.pts = i
            out.mux(stream.encode(picture))
        out.mux(stream.encode(None))
    part.replace(dest)
    return dest


def _frames(clip: Path) -> int:
    import av

    with av.open(str(clip)) as container:
        return sum(1 for _ in container.demux(video=0) if _.size)


def decode(check: Check, clip: Path) -> list:
    """Decode-only rows; returns the CPU-decoded frames (for the later steps)."""
    import vidpipe as vp

    for hwaccel, label in (("none", "CPU"), ("cuda", "NVDEC")):
        what = f"decode only, {label} (hwaccel={hwaccel})"
        if hwaccel == "cuda" and not check.gpu:
            check.skip("decode", what)
            continue
        start = time.perf_counter()
        with vp.open(clip, hwaccel=hwaccel) as src:
            frames = list(src.frames())
        check.figure("decode", what, len(frames) / (time.perf_counter() - start))
        if hwaccel == "none":
            decoded = frames
    return decoded


def inference(check: Check, frames: list, model: Path, batches: list[int]) -> None:
    import onnxruntime

    import vidpipe as vp

    device = "cuda" if check.gpu else "cpu"
    providers = onnxruntime.get_available_providers()
    for runtime, batch in itertools.product(("torch", "onnxruntime", "tensorrt"), batches):
        what = f"inference only, {runtime}, batch {batch} ({device})"
        if runtime == "tensorrt":
            if not check.gpu:
                check.skip("inference", what)
            elif "TensorrtExecutionProvider" not in providers:
                check.skip("inference", what, "skipped: no TensorRT execution provider")
            else:
                check.skip("inference", what, "skipped: vidpipe takes the CUDA provider first")
            continue
        if runtime == "onnxruntime" and check.gpu and "CUDAExecutionProvider" not in providers:
            check.skip("inference", what, "skipped: onnxruntime-gpu not installed")
            continue
        detector = vp.load_detector(str(model), engine=runtime, device=device, batch=batch)
        common.consume(detector(frames[:batch]))  # warm-up (CUDA kernels, arenas)
        start = time.perf_counter()
        done = sum(1 for _ in vp.detect(iter(frames), detector, batch=batch))
        precision = detector.dtype.replace("float", "fp")
        check.figure("inference", f"{what}, {precision}", done / (time.perf_counter() - start))


def encode(check: Check, frames: list, clip: Path) -> None:
    import vidpipe as vp
    from vidpipe.pipeline.recipes import PREVIEW_PRESET

    for codec in ("libx264", "h264_nvenc"):
        what = f"encode only, {codec}" + (f" preset {PREVIEW_PRESET}" if codec == "libx264" else "")
        if codec == "h264_nvenc" and not check.gpu:
            check.skip("encode", what)
            continue
        options = vp.EncodeOptions(
            codec=codec, preset=PREVIEW_PRESET if codec == "libx264" else None
        )
        with tempfile.TemporaryDirectory(prefix="vidpipe-gpu-enc-") as tmp:
            start = time.perf_counter()
            vp.encode(iter(frames), Path(tmp) / "enc.mp4", source=str(clip), options=options)
            check.figure("encode", what, len(frames) / (time.perf_counter() - start))


def _timed(argv: list[str]) -> tuple[float, str]:
    """Seconds a child took, and its stderr; RuntimeError naming its last line on failure."""
    start = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True)
    took = time.perf_counter() - start
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"{' '.join(argv[2:5])}... exit {done.returncode}: {last}")
    return took, done.stdout + done.stderr


def end_to_end(check: Check, clip: Path, frames: int, model: Path) -> None:
    device = "cuda" if check.gpu else "cpu"
    vidpipe = [sys.executable, "-m", "vidpipe", "-q"]
    with tempfile.TemporaryDirectory(prefix="vidpipe-gpu-e2e-") as tmp:
        detect = [*vidpipe, "detect", str(clip), "--model", str(model), "--device", device]
        took, _ = _timed([*detect, "-o", str(Path(tmp) / "out.mp4")])
        ours_video = frames / took
        check.figure("end-to-end", f"vidpipe detect -o out.mp4 ({device}, codec auto)", ours_video)
        took, _ = _timed([*detect, "--json", str(Path(tmp) / "out.jsonl")])
        ours_json = frames / took
        check.figure("end-to-end", f"vidpipe detect --json ({device})", ours_json)
    took, out = _timed([sys.executable, str(PEER), str(clip), str(model)])
    peer_frames = int(re.findall(r"frames (\d+)", out)[-1])
    if peer_frames != frames:
        raise RuntimeError(f"the peer read {peer_frames} frames of {frames}")
    peer = frames / took
    check.figure("end-to-end", "peer: OpenCV + onnxruntime loop, CPU, no writing", peer)
    check.figure("end-to-end", "ratio: vidpipe detect --json / peer", ours_json / peer, "x")


class _GpuSampler:
    """nvidia-smi's memory used (MiB) and utilisation (%), every 0.2 s, while it runs."""

    def __init__(self) -> None:
        query = "--query-gpu=memory.used,utilization.gpu"
        self._proc = subprocess.Popen(
            ["nvidia-smi", query, "--format=csv,noheader,nounits", "-lms", "200"],
            stdout=subprocess.PIPE,
            text=True,
        )
        self.samples: list[tuple[float, float]] = []
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        assert self._proc.stdout is not None
        for line in self._proc.stdout:
            parts = [p.strip() for p in line.split(",")]
            if len(parts) == 2 and all(p.replace(".", "").isdigit() for p in parts):
                self.samples.append((float(parts[0]), float(parts[1])))

    def stop(self) -> tuple[float, float]:
        """(peak MiB, mean %)."""
        self._proc.terminate()
        self._proc.wait(10)
        self._thread.join(10)
        if not self.samples:
            return float("nan"), float("nan")
        return max(m for m, _ in self.samples), statistics.fmean(u for _, u in self.samples)


def batch(check: Check, clip: Path, frames: int, model: Path, clips: int, jobs: int) -> None:
    device = "cuda" if check.gpu else "cpu"
    with tempfile.TemporaryDirectory(prefix="vidpipe-gpu-batch-") as tmp:
        inputs = Path(tmp) / "in"
        inputs.mkdir()
        for i in range(clips):
            os.link(clip, inputs / f"clip{i:02d}.mp4")
        for label, extra in (
            ("--gpus 0", ["--gpus", "0"]),
            (f"--device {device}", ["--device", device]),
        ):
            what = f"batch {clips} clips --jobs {jobs} {label}"
            if label.startswith("--gpus") and not check.gpu:
                check.skip("batch", what)
                continue
            out = Path(tmp) / f"out-{label.split()[0].strip('-')}"
            argv = [
                sys.executable,
                "-m",
                "vidpipe",
                "batch",
                str(inputs),
                "-o",
                str(out),
                "--task",
                "detect",
                "--model",
                str(model),
                "--jobs",
                str(jobs),
                *extra,
            ]
            sampler = _GpuSampler() if check.gpu else None
            took, log = _timed(argv)
            check.figure("batch", f"{what}: aggregate", clips * frames / took)
            if sampler is not None:
                peak, busy = sampler.stop()
                check.figure("batch", f"{what}: GPU memory, peak", peak, "MiB")
                check.figure("batch", f"{what}: GPU utilisation, mean", busy, "%")
            served = re.findall(r"(\d+) frames in (\d+) forward passes", log)
            if served:
                total, passes = (sum(int(s[i]) for s in served) for i in (0, 1))
                check.figure("batch", f"{what}: frames per forward pass", total / passes, "")


# --------------------------------------------------------------------------- command


def cmd_gpu(args: argparse.Namespace) -> dict[str, object]:
    import torch

    gpu = torch.cuda.is_available() and not args.dry_run
    if not gpu and not args.dry_run:
        raise common.BenchError("no CUDA device (torch.cuda.is_available() is False): "
                                "use --dry-run to check the script on a CPU")  # fmt: skip
    model = args.model_dir / "yolox_nano.onnx"
    if not model.is_file():
        raise common.BenchError(f"{model}: no such model (--model-dir, $VIDPIPE_MODEL_DIR)")
    size = (320, 180) if args.dry_run else args.size
    count = 24 if args.dry_run else args.frames
    batches = [1, 2] if args.dry_run else args.batches
    clips, jobs = (2, 2) if args.dry_run else (args.clips, args.jobs)
    check = Check(gpu)
    print(f"GPU check ({'dry run: CPU, tiny clip' if args.dry_run else 'GPU'}), "
          f"clip {size[0]}x{size[1]}, {count} frames")  # fmt: skip
    state: dict[str, object] = {}
    check.run("env", lambda: env(check))
    check.run("clip", lambda: state.update(clip=make_clip(args.media, size, count)))
    clip = state.get("clip")
    if isinstance(clip, Path):
        frames = _frames(clip)
        check.fact("clip", "clip", f"{clip.name}: {frames} frames")
        check.run("decode", lambda: state.update(frames=decode(check, clip)))
        decoded = state.get("frames")
        if isinstance(decoded, list):
            check.run("inference", lambda: inference(check, decoded, model, batches))
            check.run("encode", lambda: encode(check, decoded, clip))
        check.run("end-to-end", lambda: end_to_end(check, clip, frames, model))
        check.run("batch", lambda: batch(check, clip, frames, model, clips, jobs))
    _print_table(check)
    result = {"dry_run": args.dry_run, "gpu": gpu, "rows": [asdict(r) for r in check.rows],
              "failed": len(check.failed)}  # fmt: skip
    if check.failed:
        if args.json_out:  # bench.py writes it only for a run that did not fail
            args.json_out.write_text(json.dumps(result, indent=2) + "\n")
        raise common.BenchError(f"{len(check.failed)} step(s) FAILED")
    return {"measurements": [], **result}


def _print_table(check: Check) -> None:
    width = max(len(r.what) for r in check.rows)
    print(f"\n{'step':<10}  {'measurement':<{width}}  {'figure':>12}  status")
    for r in check.rows:
        if r.value is None and r.status == "ok":
            continue  # the facts were printed above
        print(f"{r.step:<10}  {r.what:<{width}}  {r.cell():>12}  {r.status}")
    print(
        f"\n{len(check.failed)} FAILED, "
        f"{sum(r.status.startswith('skipped') for r in check.rows)} skipped, "
        f"{sum(r.status == 'ok' and r.value is not None for r in check.rows)} figures"
    )


def _numbers(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be numbers like 1,16,32, got {text!r}") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"must be numbers >= 1, got {text!r}")
    return values


def add_gpu_parser(sub: argparse._SubParsersAction) -> None:
    """The `gpu` subcommand's options."""
    parser = sub.add_parser("gpu", help="the GPU check's figures (scripts/gpu_check.sh)")
    parser.add_argument("--dry-run", action="store_true", help="CPU, a tiny clip, GPU rows skipped")
    parser.add_argument(
        "--size", type=common.size_wh, default=(1920, 1080), help="clip WxH (1920x1080)"
    )
    parser.add_argument(
        "--frames", type=common.positive(int), default=600, help="clip frames (600)"
    )
    parser.add_argument(
        "--batches", type=_numbers, default=[1, 16, 32], help="inference batches (1,16,32)"
    )
    parser.add_argument("--clips", type=common.positive(int), default=16, help="batch: clips (16)")
    parser.add_argument("--jobs", type=common.positive(int), default=8, help="batch: --jobs (8)")
    media = Path(tempfile.gettempdir()) / "vidpipe-gpu-media"
    parser.add_argument(
        "--media", type=Path, default=media, help=f"where the clip is made ({media})"
    )
    models = os.environ.get("VIDPIPE_MODEL_DIR") or ROOT.parent / "shared" / "models"
    parser.add_argument(
        "--model-dir",
        type=Path,
        default=Path(models),
        help="folder of yolox_nano.onnx ($VIDPIPE_MODEL_DIR, else ../shared/models)",
    )
    parser.add_argument(
        "--json", dest="json_out", type=Path, default=None, help="rows as JSON here"
    )
    parser.set_defaults(func=cmd_gpu)
