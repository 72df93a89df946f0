"""`scripts/bench.py detect`: `vidpipe detect` against the OpenCV + onnxruntime loop
(scripts/peer_detect.py) on the same clip with the same model, whole commands timed, runs
interleaved (peer, ours, ...), medians reported; plus decode-, inference- and encode-only
rates of vidpipe's stages so the bottleneck is visible.

The sample (cached in bench_media/) pans across ../shared/media/dog.jpg scaled to fill the
frame, so every frame has objects to find, box and label.
"""

from __future__ import annotations

import argparse
import itertools
import os
import shlex
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import bench as common

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as the vidpipe console script does
import numpy as np

SCRIPTS = Path(__file__).resolve().parent
DEFAULT_IMAGE = SCRIPTS.parent.parent / "shared" / "media" / "dog.jpg"
DEFAULT_MODEL_DIR = SCRIPTS.parent.parent / "shared" / "models"
JSON_TARGET = common.Target(">=", 1.0)  # detect --json fps over the peer without writing
VIDEO_TARGET = common.Target(">=", 1.0)  # detect -o (libx264) fps over the peer writing mp4v
OURS_ENCODE = ("--preset", "veryfast")


def ensure_dog_sample(media: Path, image: Path, size_wh: tuple[int, int], seconds: float) -> Path:
    """H.264 yuv420p at 30 fps panning across `image` (scaled to cover 1.25x the frame)."""
    import av
    from PIL import Image

    w, h = size_wh
    dest = media / f"dog_pan_{w}x{h}_{seconds:g}s.mp4"
    if dest.is_file():
        return dest
    media.mkdir(parents=True, exist_ok=True)
    src = Image.open(image).convert("RGB")
    scale = 1.25 * max(h / src.height, w / src.width)
    big = np.asarray(src.resize((round(src.width * scale), round(src.height * scale))))
    if big.shape[1] < w:
        raise common.BenchError(f"{image} is too narrow for a {w}x{h} pan")
    frames = round(seconds * common.RATE)
    travel = big.shape[1] - w
    with common.atomic_path(dest) as tmp, av.open(str(tmp), "w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=common.RATE)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        stream.codec_context.options = {"crf": "20", "preset": "fast"}
        for i in range(frames):
            x = round(travel * (0.5 - 0.5 * np.cos(2 * np.pi * i / frames)))
            y = (big.shape[0] - h) // 2
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(big[y : y + h, x : x + w]))
            frame.pts, frame.time_base = i, Fraction(1, common.RATE)
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return dest


def stage_rates(
    path: str, model: Path, frames: int, device: str, batch: int
) -> list[common.Measurement]:
    """In-process decode-only, inference-only (batch) and encode-only frames/s (info rows)."""
    import vidpipe as vp

    start = time.perf_counter()
    with vp.open(path) as src:
        decoded = list(itertools.islice(src.frames(), frames))
    decode_fps = len(decoded) / (time.perf_counter() - start)
    detector = vp.load_detector(str(model), device=device)
    group = decoded[:batch]
    detector(group)  # warm-up
    start, done = time.perf_counter(), 0
    while time.perf_counter() - start < 10:
        detector(group)
        done += len(group)
    infer_fps = done / (time.perf_counter() - start)
    with tempfile.TemporaryDirectory(prefix="vidpipe-bench-enc-") as tmp:
        start = time.perf_counter()
        vp.encode(
            iter(decoded), Path(tmp) / "enc.mp4", source=path,
            options=vp.EncodeOptions(codec="libx264", preset="veryfast"),
        )  # fmt: skip
        encode_fps = len(decoded) / (time.perf_counter() - start)
    return [
        common.Measurement(f"decode only ({device})", "fps", [decode_fps], [decode_fps]),
        common.Measurement(
            f"inference only, batch {batch}: letterbox+model+NMS ({device})",
            "fps", [infer_fps], [infer_fps],
        ),
        common.Measurement("encode only, libx264 veryfast", "fps", [encode_fps], [encode_fps]),
    ]  # fmt: skip


def cmd_detect(args: argparse.Namespace) -> dict[str, object]:
    model = args.model_dir / "yolox_nano.onnx"
    if not model.is_file():
        raise common.BenchError(f"{model} not found (--model-dir)")
    sample_path = ensure_dog_sample(args.media, args.image, args.size, args.seconds)
    vidpipe = common.find_vidpipe()
    frames = round(args.seconds * common.RATE)
    print(f"sample: {common._rel(sample_path)} ({frames} frames {args.size[0]}x{args.size[1]})")
    env_model = ["--model", str(model), "--device", args.device]
    batch = ["--batch", str(args.batch)] if args.batch else []
    cuda = ["--cuda"] if args.device.startswith("cuda") else []
    peer_py = [sys.executable, str(SCRIPTS / "peer_detect.py"), str(sample_path), str(model)]
    with tempfile.TemporaryDirectory(prefix="vidpipe-bench-detect-") as tmp:
        out = Path(tmp)
        runs = {
            "peer": [*peer_py, *cuda],
            "ours --json": [vidpipe, "-q", "detect", str(sample_path), *env_model, *batch,
                            "--json", str(out / "d.jsonl"), "--overwrite"],
            "peer -o (mp4v)": [*peer_py, *cuda, "-o", str(out / "peer.mp4")],
            "ours -o (libx264)": [vidpipe, "-q", "detect", str(sample_path), *env_model, *batch,
                                  "-o", str(out / "ours.mp4"), "--overwrite", *OURS_ENCODE],
        }  # fmt: skip
        for name, argv in runs.items():
            print(f"{name}: `{shlex.join(argv)}`", flush=True)
        figures = common.interleaved(
            [lambda argv=argv: frames / common.timed_run(argv) for argv in runs.values()],
            args.repeat,
            "fps peer, ours --json, peer -o, ours -o",
        )
    peer, ours_json, peer_o, ours_o = figures
    rows = [
        common.Measurement("detect --json fps vs peer (no writing)", "fps", ours_json, peer,
                           JSON_TARGET),
        common.Measurement("detect -o libx264 fps vs peer writing mp4v", "fps", ours_o, peer_o,
                           VIDEO_TARGET),
    ]  # fmt: skip
    if not args.no_stages:
        rows += stage_rates(str(sample_path), model, frames, args.device, args.batch or 8)
    return {"sample": str(sample_path), "device": args.device, "measurements": rows}


def add_detect_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("detect", help="vidpipe detect vs OpenCV + onnxruntime loop")
    common._add_common(parser, repeat=3)
    parser.set_defaults(seconds=20.0, size=(1280, 720), func=cmd_detect)
    parser.add_argument("--image", type=Path, default=DEFAULT_IMAGE, help="picture to pan over")
    parser.add_argument(
        "--model-dir",
        type=Path,
        default=Path(os.environ.get("VIDPIPE_MODEL_DIR", DEFAULT_MODEL_DIR)),
    )
    parser.add_argument("--device", default="cpu", help="cpu or cuda (peer: CUDA provider)")
    parser.add_argument(
        "--batch", type=int, default=None, help="vidpipe --batch (default: its own)"
    )
    parser.add_argument("--no-stages", action="store_true", help="skip the per-stage rates")
