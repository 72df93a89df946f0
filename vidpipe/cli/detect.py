"""`vidpipe detect`: objects in every frame; boxes drawn into a re-encoded video (audio,
timestamps and rotation kept) and/or detections as JSON Lines and COCO results. Options are
parsed into `DetectOptions`, `OpOptions` and `EncodeOptions` (their defaults are the
library's) and handed to the `detect_file` recipe, as `vidpipe batch` does."""

from __future__ import annotations

import typer

from vidpipe.cli.main import quiet_progress
from vidpipe.cli.process import BACKEND, CODEC, progress, with_encoder_options
from vidpipe.detectors.options import DetectOptions
from vidpipe.io.encode import EncodeOptions
from vidpipe.pipeline.options import OpOptions

_D = DetectOptions()  # the defaults


def detect_command(
    source: str = typer.Argument(..., help="Input video."),
    output: str | None = typer.Option(
        None, "-o", "--output", help="Video with boxes drawn (written atomically)."
    ),
    json_path: str | None = typer.Option(
        None, "--json", help="Detections as JSON Lines, one object per frame ('-': stdout)."
    ),
    coco_path: str | None = typer.Option(None, "--coco", help="Detections in COCO results format."),
    model: str = typer.Option(
        _D.model, "--model", "-m", help="yolox-nano .. yolox-x, or a .pth/.onnx/.safetensors"
    ),
    batch: int | None = typer.Option(
        _D.batch,
        "--batch",
        help="Frames per forward pass (default: 1 on a CPU, a frame per core at once; 16 on CUDA).",
    ),
    device: str = typer.Option(_D.device, "--device", help="auto, cpu or cuda[:N]."),
    engine: str = typer.Option(
        _D.engine,
        "--engine",
        help="onnxruntime or openvino (CPU runtimes; a .pth is exported to ONNX once, "
        "into the cache), torch, or auto (the fastest CPU runtime installed on a CPU, "
        "torch on CUDA).",
    ),
    size: int | None = typer.Option(_D.size, "--size", help="Model input size (multiple of 32)."),
    conf: float = typer.Option(_D.conf, "--conf", help="Minimum score (objectness x class)."),
    iou: float = typer.Option(_D.iou, "--iou", help="NMS IoU threshold (per class)."),
    max_det: int = typer.Option(_D.max_det, "--max-det", help="Most detections kept per frame."),
    classes: list[str] | None = typer.Option(
        None, "--classes", help="Classes to keep: names or ids, repeatable or comma-separated."
    ),
    gamma: float | None = typer.Option(None, "--gamma", help="Gamma-correct (luma) first."),
    chroma: str | None = typer.Option(None, "--chroma", help="Resample chroma first: 420/422/444."),
    compile_: bool = typer.Option(
        _D.compile, "--compile", help="torch.compile the model (slow start)."
    ),
    codec: str = CODEC,
    backend: str = BACKEND,
    options: EncodeOptions | None = None,
) -> None:
    """Detect objects (YOLOX, COCO classes) in every frame. Without -o, --json or --coco the
    detections go to stdout as JSON Lines."""
    from vidpipe.pipeline.recipes import detect_file

    detect = DetectOptions(
        model=model, device=device, engine=engine, size=size, conf=conf, iou=iou,
        max_det=max_det, classes=tuple(classes) if classes else None, batch=batch,
        compile=compile_,
    )  # fmt: skip
    ops = OpOptions(gamma=gamma, chroma=chroma)
    if output is None and json_path is None and coco_path is None:
        json_path = "-"
    assert options is not None  # given by with_encoder_options
    result = detect_file(
        source, video=output, jsonl=json_path, coco=coco_path, detect_options=detect, ops=ops,
        encode=options, backend=backend, observe=progress("detect"),  # type: ignore[arg-type]
    )  # fmt: skip
    if result.video is not None and quiet_progress() is not True:  # stdout may carry JSON
        v = result.video
        typer.echo(f"wrote {v.path} ({v.frames} frames, {v.codec})", err=True)


def register(app: typer.Typer) -> None:
    from vidpipe.cli.main import examples

    app.command(
        "detect",
        epilog=examples(
            "vidpipe detect clip.mp4 -o boxes.mp4 --json dets.jsonl",
            "vidpipe detect clip.mp4 --classes person,car --coco results.json -q",
            "vidpipe detect clip.mp4 -m yolox-s --device cuda --batch 32 -o boxes.mp4",
            "vidpipe detect dog.jpg -o boxes.png # a still image",
        ),
    )(with_encoder_options(detect_command))
