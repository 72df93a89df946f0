"""`vidpipe gamma` and `vidpipe chroma`: per-frame processing, re-encoded with audio kept."""

from __future__ import annotations

import functools
import inspect
import sys
from collections.abc import Callable, Iterator
from typing import Any

import typer
from tqdm import tqdm

from vidpipe.cli.main import quiet_progress
from vidpipe.io.decode import BACKENDS
from vidpipe.io.encode import EncodeOptions
from vidpipe.io.probe import probe
from vidpipe.pipeline.process import Stage, process_file
from vidpipe.types import Frame

OUT = typer.Option(..., "-o", "--output", help="Output file (written atomically).")
BACKEND = typer.Option("av", "--backend", help="Decoder: av or ffmpeg.")
CODEC = typer.Option("libx264", "--codec", help="Any FFmpeg video encoder.")

# The encoder options every re-encoding command takes: (parameter, type, Typer option).
_ENCODER_PARAMS = (
    ("crf", int | None, typer.Option(None, "--crf", help="Constant rate factor.")),
    ("preset", str | None, typer.Option(None, "--preset", help="Encoder preset, e.g. veryfast.")),
    ("pix_fmt", str | None,
     typer.Option(None, "--pix-fmt", help="Output pix_fmt (default follows the frames).")),
    ("overwrite", bool, typer.Option(False, "--overwrite", help="Replace an existing output.")),
    ("bake_rotation", bool,
     typer.Option(False, "--bake-rotation", help="Rotate pixels instead of keeping metadata.")),
    ("writer", str,
     typer.Option("av", "--writer", help="Encoder: av (in-process) or ffmpeg (subprocess).")),
)  # fmt: skip


def with_encoder_options(command: Callable[..., None]) -> Callable[..., None]:
    """Give a Typer command the encoder options (--crf, --preset, --pix-fmt, --overwrite,
    --bake-rotation, --writer) after its own; it receives them as `options: EncodeOptions`
    (built from its own `codec` parameter and these), declared as its last parameter."""
    signature = inspect.signature(command)
    own = [p for p in signature.parameters.values() if p.name != "options"]
    extra = [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=option, annotation=kind)
        for name, kind, option in _ENCODER_PARAMS
    ]

    @functools.wraps(command)
    def wrapper(**kwargs: Any) -> None:
        values = {name: kwargs.pop(name) for name, _, _ in _ENCODER_PARAMS}
        command(**kwargs, options=encode_options(kwargs["codec"], **values))

    wrapper.__signature__ = signature.replace(parameters=[*own, *extra])  # type: ignore[attr-defined]
    wrapper.__annotations__ = {
        **{k: v for k, v in command.__annotations__.items() if k != "options"},
        **{name: kind for name, kind, _ in _ENCODER_PARAMS},
    }
    return wrapper


def encode_options(
    codec: str, *, crf, preset, pix_fmt, overwrite, bake_rotation, writer
) -> EncodeOptions:
    if writer not in ("av", "ffmpeg"):
        raise typer.BadParameter(f"--writer must be av or ffmpeg, not {writer!r}")
    return EncodeOptions(
        codec=codec,
        crf=crf,
        preset=preset,
        pix_fmt=pix_fmt,
        rotation="bake" if bake_rotation else "keep",
        writer=writer,
        overwrite=overwrite,
    )


def progress(frames: Iterator[Frame], total: int, label: str) -> Iterator[Frame]:
    """tqdm bar (frames, fps, ETA) on stderr around a frame stream."""
    with tqdm(
        total=total or None, unit="frame", desc=label, file=sys.stderr, disable=quiet_progress()
    ) as bar:
        for frame in frames:
            yield frame
            bar.update(1)


def _run(
    source: str, output: str, stage: Stage, options: EncodeOptions | None, backend: str
) -> None:
    assert options is not None  # given by with_encoder_options
    if backend not in BACKENDS:
        raise typer.BadParameter(f"--backend must be one of {', '.join(BACKENDS)}")
    info = probe(source)
    observe = functools.partial(progress, total=info.frame_count, label="frames")
    result = process_file(
        source, output, [stage], options=options, backend=backend, info=info, observe=observe
    )  # type: ignore[arg-type]
    typer.echo(f"wrote {result.path} ({result.frames} frames, {result.codec} {result.pix_fmt})")


def gamma_command(
    source: str = typer.Argument(..., help="Input video."),
    output: str = OUT,
    gamma: float = typer.Option(..., "--gamma", "-g", help="Gamma G in (0, 10]; 1 = identity."),
    on: str = typer.Option("luma", "--on", help="luma (Y only) or rgb (per R, G, B channel)."),
    codec: str = CODEC,
    backend: str = BACKEND,
    options: EncodeOptions | None = None,
) -> None:
    """Gamma-correct every frame: out = max * (in / max) ** (1 / G)."""
    from vidpipe.ops.gamma import check_gamma  # imports torch: only when the command runs
    from vidpipe.pipeline.stages import gamma_stage

    try:
        check_gamma(gamma)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    if on not in ("luma", "rgb"):
        raise typer.BadParameter(f"--on must be luma or rgb, not {on!r}")
    stage = functools.partial(gamma_stage, gamma=gamma, on=on)
    _run(source, output, stage, options, backend)


def chroma_command(
    source: str = typer.Argument(..., help="Input video."),
    output: str = OUT,
    to: str = typer.Option(..., "--to", help="420, 422 or 444."),
    filter_: str = typer.Option("box", "--filter", help="Downsampling: box or bilinear."),
    up: str = typer.Option("bilinear", "--up", help="Upsampling: nearest or bilinear."),
    codec: str = CODEC,
    backend: str = BACKEND,
    options: EncodeOptions | None = None,
) -> None:
    """Resample the chroma planes to 4:2:0, 4:2:2 or 4:4:4 (siting of the stream honoured)."""
    from vidpipe.pipeline.stages import chroma_stage  # imports torch: only when it runs

    to = to.replace(":", "")
    if to not in ("420", "422", "444"):
        raise typer.BadParameter(f"--to must be 420, 422 or 444, not {to!r}")
    if filter_ not in ("box", "bilinear") or up not in ("nearest", "bilinear"):
        raise typer.BadParameter("--filter takes box|bilinear, --up nearest|bilinear")
    stage = functools.partial(chroma_stage, to=to, up=up, down=filter_)
    _run(source, output, stage, options, backend)


def register(app: typer.Typer) -> None:
    app.command("gamma")(with_encoder_options(gamma_command))
    app.command("chroma")(with_encoder_options(chroma_command))
