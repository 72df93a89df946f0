"""`vidpipe models list|pull|path|info|convert|check`: the model folder, which models are
there, downloads, what vidpipe reads a model file as, and what a precision costs on a clip."""

from __future__ import annotations

import typer

from vidpipe.cli import options as shared
from vidpipe.cli.main import examples

models_app = typer.Typer(
    name="models",
    help="Detection models: list them, download them, show where they are.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
)


@models_app.command("list", epilog=examples("vidpipe models list"))
def list_command() -> None:
    """Known models, their input size and local file ("-": not downloaded), and the folder."""
    from vidpipe.models.hub import list_models, model_dir

    rows = [("name", "input", "file")]
    for spec, path in list_models():
        rows.append((spec.name, str(spec.input_size), path.name if path is not None else "-"))
    widths = [max(len(row[i]) for row in rows) for i in range(2)]
    typer.echo(f"folder: {model_dir()}")
    for name, size, file in rows:
        typer.echo(f"{name:<{widths[0]}}  {size:>{widths[1]}}  {file}")


@models_app.command(
    "pull",
    epilog=examples(
        "vidpipe models pull yolox-s",
        "vidpipe models pull yolox-nano --force --no-progress",
    ),
)
def pull_command(
    name: str = typer.Argument(..., help="Model name, e.g. yolox-nano."),
    force: bool = typer.Option(False, "--force", help="Download again even if present."),
    no_progress: bool = typer.Option(False, "--no-progress", help="No progress bar."),
) -> None:
    """Download a model's official checkpoint into the model folder; prints its path."""
    from vidpipe.models.hub import pull

    typer.echo(str(pull(name, force=force, progress=not no_progress)))


@models_app.command(
    "path",
    epilog=examples(
        "vidpipe models path # the model folder",
        "vidpipe models path yolox-nano # its file; an error if not downloaded",
    ),
)
def path_command(
    name: str | None = typer.Argument(None, help="Model name; omitted: the folder."),
) -> None:
    """Print the model folder, or the local file of model NAME (error if it is not there)."""
    from vidpipe.errors import InputError
    from vidpipe.models.hub import find_local, get_spec, model_dir

    if name is None:
        typer.echo(str(model_dir()))
        return
    spec = get_spec(name)
    path = find_local(spec.name)
    if path is None:
        raise InputError(
            f"model {spec.name} is not in {model_dir()}; run `vidpipe models pull {spec.name}`"
        )
    typer.echo(str(path))


@models_app.command(
    "info",
    epilog=examples(
        "vidpipe models info yolov8n.onnx",
        "vidpipe models info custom.onnx --model-format yolov5 --names c.txt",
    ),
)
def info_command(
    model: str = typer.Argument(..., help="A model name or file (as detect --model)."),
    model_format: str = typer.Option("auto", "--model-format", help="As detect --model-format."),
    names: str | None = typer.Option(None, "--names", help="As detect --names."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object."),
) -> None:
    """What vidpipe reads a model as: its family, input (size, channels, scale, letterbox),
    output, classes and the CPU runtime that runs it."""
    import json

    from vidpipe.detectors.detector import load_detector
    from vidpipe.models.hub import resolve_model

    det = load_detector(model, model_format=model_format, names=names, device="cpu")
    spec = det.input_spec
    info = {
        "file": str(resolve_model(model, download=False)),
        "family": det.family,
        "engine": det.engine,
        "input": {
            "size_wh": list(spec.size_wh),
            "channels": spec.channels,
            "scale": spec.scale,
            "pad": spec.pad_value,
            "placement": spec.placement,
            "stride": spec.stride,
        },
        "output": det.options["output"],
        "nms": det.options["nms"],
        "classes": det.num_classes,
        "names": list(det.names),
    }
    if as_json:
        typer.echo(json.dumps(info))
        return
    size = "x".join(map(str, spec.size_wh)) + (f" (cut down in steps of {spec.stride})"
                                               if spec.stride else "")  # fmt: skip
    shown = ", ".join(det.names[:8]) + (", ..." if len(det.names) > 8 else "")
    for key, value in (
        ("file", info["file"]), ("family", det.family), ("engine", det.engine),
        ("input", f"{size}, {spec.channels.upper()} x {spec.scale:.4g}, {spec.placement} on "
                  f"{spec.pad_value:g}"),
        ("output", f"{det.options['output']}, {'NMS after' if det.options['nms'] else 'no NMS'}"),
        ("classes", f"{det.num_classes}: {shown}" if det.names else str(det.num_classes)),
    ):  # fmt: skip
        typer.echo(f"{key:<8} {value}")


@models_app.command(
    "convert",
    epilog=examples(
        "vidpipe models convert yolox-s yolox_s.safetensors",
        "vidpipe models convert yolox_nano.pth nano.safetensors --overwrite",
    ),
)
def convert_command(
    source: str = typer.Argument(..., help="A model name or a .pth / .onnx / .safetensors file."),
    output: str = typer.Argument(..., help="The .safetensors file to write."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing output."),
) -> None:
    """Write a model's weights (batch norm folded) as vidpipe safetensors."""
    from pathlib import Path

    from vidpipe.detectors.yolox.weights import load_weights, save_safetensors
    from vidpipe.errors import InputError
    from vidpipe.models.hub import resolve_model
    from vidpipe.runtime.files import atomic_path

    target = Path(output)
    if target.suffix.lower() != ".safetensors":
        raise InputError(f"{output}: the output must end in .safetensors")
    if target.exists() and not overwrite:
        raise InputError(f"{output} exists (use --overwrite to replace it)")
    model = load_weights(resolve_model(source))
    with atomic_path(target) as tmp:
        save_safetensors(model, tmp)
    typer.echo(f"{target} ({model.variant.name}, {model.num_classes} classes)")


@models_app.command(
    "check",
    epilog=examples(
        "vidpipe models check street.mp4 --precision bf16",
        "vidpipe models check street.mp4 --model yolox-s --frames 0 --json",
    ),
)
def check_command(
    clip: str = typer.Argument(..., help="Footage to check on (your own, as you will run it)."),
    model: str | None = shared.MODEL,
    precision: str = typer.Option(
        "auto", "--precision", help="The precision checked against f32: auto or bf16 (auto)."
    ),
    engine: str | None = typer.Option(
        None, "--engine", help="The runtime both run on (openvino, where bf16 is; else auto)."
    ),
    size: int | None = shared.SIZE,
    conf: float | None = shared.CONF,
    frames: int = typer.Option(300, "--frames", help="Frames checked from the start; 0: all."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object."),
) -> None:
    """What a precision costs: the clip's frames through the model in f32 and in PRECISION on
    the same runtime, box by box (a box either run gives 0.4 or more must be among the
    other's: same class, IoU 0.5; boxes near --conf flicker between any two runs), per
    class, with each one's time per frame."""
    import json

    from vidpipe.detectors.options import DetectOptions
    from vidpipe.detectors.runtimes import installed
    from vidpipe.errors import InputError
    from vidpipe.io.source import Source
    from vidpipe.pipeline.compare import compare_detectors

    if precision not in ("auto", "bf16"):
        raise InputError(f"--precision must be auto or bf16 (against f32), not {precision!r}")
    if frames < 0:
        raise InputError(f"--frames must be 0 (all) or more, not {frames}")
    engine = engine or ("openvino" if installed("openvino") else "auto")
    base = {"model": model, "engine": engine, "size": size, "conf": conf, "device": "cpu"}
    reference = DetectOptions.from_dict({**base, "precision": "f32"})
    other = DetectOptions.from_dict({**base, "precision": precision})
    with Source(clip) as src:
        result = compare_detectors(src, reference, other, frames or None)
    if result.frames == 0:
        raise InputError(f"{clip}: no frames to check")
    names = result.names
    rows = [(names[c] if c < len(names) else str(c), counts, result.tight.classes[c])
            for c, counts in sorted(result.loose.classes.items())]  # fmt: skip
    if as_json:
        report = {
            "clip": clip, "frames": result.frames,
            "reference": vars(result.reference), "checked": vars(result.other),
            "classes": {name: {**vars(c), "f1": c.f1, "f1_iou07": t.f1} for name, c, t in rows},
            "total": {**vars(result.loose.total), "f1": result.loose.total.f1,
                      "f1_iou07": result.tight.total.f1},
        }  # fmt: skip
        typer.echo(json.dumps(report))
        return
    ref, got = result.reference, result.other
    speed = ref.ms_per_frame / got.ms_per_frame if got.ms_per_frame else float("nan")
    typer.echo(f"{clip}: {result.frames} frames")
    typer.echo(f"reference  {ref.engine} {ref.precision}: {ref.ms_per_frame:.1f} ms a frame")
    typer.echo(f"checked    {got.engine} {got.precision}: {got.ms_per_frame:.1f} ms a frame "
               f"({speed:.2f}x)")  # fmt: skip
    width = max([len("class"), *(len(name) for name, _, _ in rows)])
    typer.echo(f"{'class':<{width}}  matched  missed  extra  F1@0.5  F1@0.7")
    total = ("all", result.loose.total, result.tight.total)
    for name, c, t in [*rows, total]:
        typer.echo(f"{name:<{width}}  {c.matched:7d}  {c.missed:6d}  {c.extra:5d}  "
                   f"{c.f1:6.3f}  {t.f1:6.3f}")  # fmt: skip


def register(app: typer.Typer) -> None:
    app.add_typer(
        models_app,
        name="models",
        epilog=examples(
            "vidpipe models list",
            "vidpipe models pull yolox-s",
            "vidpipe models path yolox-s -q",
        ),
    )
