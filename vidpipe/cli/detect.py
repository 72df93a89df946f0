"""`vidpipe detect`: YOLOX on every frame; boxes drawn into a re-encoded video (audio, timestamps
and rotation kept) and/or detections as JSON Lines and COCO results."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import os
from pathlib import Path

import typer

from vidpipe.cli.main import quiet_progress
from vidpipe.cli.process import BACKEND, progress, with_encoder_options
from vidpipe.errors import InputError
from vidpipe.io.decode import BACKENDS
from vidpipe.io.encode import EncodeOptions
from vidpipe.io.probe import probe


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
        "yolox-nano", "--model", "-m", help="yolox-nano .. yolox-x, or a .pth/.onnx/.safetensors"
    ),
    batch: int | None = typer.Option(None, "--batch", help="Frames per forward pass."),
    device: str = typer.Option("auto", "--device", help="auto, cpu or cuda[:N]."),
    engine: str = typer.Option(
        "auto",
        "--engine",
        help="torch, onnxruntime (.onnx on the CPU) or auto (onnxruntime "
        "for an .onnx model on the CPU when installed, else torch).",
    ),
    size: int | None = typer.Option(None, "--size", help="Model input size (multiple of 32)."),
    conf: float = typer.Option(0.25, "--conf", help="Minimum score (objectness x class)."),
    iou: float = typer.Option(0.45, "--iou", help="NMS IoU threshold (per class)."),
    max_det: int = typer.Option(300, "--max-det", help="Most detections kept per frame."),
    classes: list[str] | None = typer.Option(
        None, "--classes", help="Classes to keep: names or ids, repeatable or comma-separated."
    ),
    gamma: float | None = typer.Option(None, "--gamma", help="Gamma-correct (luma) first."),
    chroma: str | None = typer.Option(None, "--chroma", help="Resample chroma first: 420/422/444."),
    compile_: bool = typer.Option(False, "--compile", help="torch.compile the model (slow start)."),
    codec: str = typer.Option(
        "auto",
        "--codec",
        help="FFmpeg video encoder; auto: h264_nvenc on a GPU if it opens, else libx264.",
    ),
    backend: str = BACKEND,
    options: EncodeOptions | None = None,
) -> None:
    """Detect objects (YOLOX, COCO classes) in every frame. Without -o, --json or --coco the
    detections go to stdout as JSON Lines."""
    _check_numbers(conf, iou, max_det, batch)
    if backend not in BACKENDS:
        raise typer.BadParameter(f"--backend must be one of {', '.join(BACKENDS)}")
    if output is None and json_path is None and coco_path is None:
        json_path = "-"
    assert options is not None  # given by with_encoder_options
    _check_targets(source, [output, json_path, coco_path], options.overwrite)
    stages = _pre_stages(gamma, chroma)
    info = probe(source)  # a bad input fails before the model loads

    from vidpipe.detect.detector import DEFAULT_BATCH, load_detector

    detector = load_detector(
        model, device=device, engine=engine, size=size, classes=classes, conf=conf, iou=iou,
        max_det=max_det, compile=compile_,
    )  # fmt: skip
    batch = batch or DEFAULT_BATCH[detector.device.type]
    if output is not None and codec == "auto":
        from vidpipe.io.output import auto_codec

        codec = auto_codec(output, gpu=detector.device.type == "cuda")
        options = dataclasses.replace(options, codec=codec)
    with _sinks(json_path, coco_path, detector) as on_result:
        _run(source, output, info, stages, detector, batch, on_result, options, backend)


def _run(source, output, info, stages, detector, batch, on_result, options, backend) -> None:
    from vidpipe.pipeline.detect import detect_stage
    from vidpipe.pipeline.process import process_file, run_file

    detect = functools.partial(
        detect_stage, detector=detector, batch=batch, on_result=on_result, draw=output is not None
    )
    observe = functools.partial(progress, total=info.frame_count, label="detect")
    if output is None:
        run_file(source, [*stages, detect, observe], backend=backend, info=info)  # type: ignore[arg-type]
        return
    result = process_file(
        source, output, [*stages, detect], options=options, backend=backend, info=info,
        observe=observe,
    )  # type: ignore[arg-type]  # fmt: skip
    if quiet_progress() is not True:  # stdout may carry the JSON Lines
        typer.echo(f"wrote {result.path} ({result.frames} frames, {result.codec})", err=True)


@contextlib.contextmanager
def _sinks(json_path, coco_path, detector):
    """The JSON Lines / COCO writers as one `on_result(frame, dets)` callback; their files
    appear only when the whole run succeeds."""
    from vidpipe.detect.results import CocoResults, DetectionsJsonl

    with contextlib.ExitStack() as stack:
        writers = []
        if json_path is not None:
            jsonl = stack.enter_context(DetectionsJsonl(json_path, detector.names))
            writers.append(lambda f, d: jsonl.write(f.index, f.pts, f.time, d))
        if coco_path is not None:
            coco = stack.enter_context(CocoResults(coco_path, detector.num_classes))
            writers.append(lambda f, d: coco.write(f.index, d))

        def on_result(frame, dets) -> None:
            for write in writers:
                write(frame, dets)

        yield on_result


def _pre_stages(gamma: float | None, chroma: str | None) -> list:
    from vidpipe.ops.gamma import check_gamma
    from vidpipe.pipeline.stages import chroma_stage, gamma_stage

    stages = []
    if gamma is not None:
        try:
            check_gamma(gamma)
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from None
        stages.append(functools.partial(gamma_stage, gamma=gamma))
    if chroma is not None:
        to = chroma.replace(":", "")
        if to not in ("420", "422", "444"):
            raise typer.BadParameter(f"--chroma must be 420, 422 or 444, not {chroma!r}")
        stages.append(functools.partial(chroma_stage, to=to))
    return stages


def _check_numbers(conf: float, iou: float, max_det: int, batch: int | None) -> None:
    if not 0.0 <= conf <= 1.0:
        raise typer.BadParameter(f"--conf must be in 0..1, got {conf}")
    if not 0.0 < iou <= 1.0:
        raise typer.BadParameter(f"--iou must be in (0, 1], got {iou}")
    if max_det < 1:
        raise typer.BadParameter(f"--max-det must be >= 1, got {max_det}")
    if batch is not None and batch < 1:
        raise typer.BadParameter(f"--batch must be >= 1, got {batch}")


def _check_targets(source: str, targets: list[str | None], overwrite: bool) -> None:
    """Output files: distinct, never the input, not replaced without --overwrite."""
    paths = [t for t in targets if t is not None and t != "-"]
    if len({os.path.abspath(p) for p in paths}) != len(paths):
        raise InputError("-o, --json and --coco must name different files")
    src = Path(source)
    for target in paths[1:] if targets[0] is not None else paths:  # -o: io/encode checks
        path = Path(target)
        if src.exists() and path.exists() and path.resolve() == src.resolve():
            raise InputError(f"{target}: refusing to overwrite the input")
        if path.exists() and not overwrite:
            raise InputError(f"{target} exists (use --overwrite to replace it)")


def register(app: typer.Typer) -> None:
    app.command("detect")(with_encoder_options(detect_command))
