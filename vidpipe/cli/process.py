"""`vidpipe gamma` and `vidpipe chroma`: per-frame processing, re-encoded with audio kept."""

from __future__ import annotations

import functools
import logging
import sys
from collections.abc import Iterator

import typer
from tqdm import tqdm

from vidpipe.io.decode import BACKENDS
from vidpipe.io.encode import EncodeOptions
from vidpipe.io.probe import probe
from vidpipe.pipeline.process import Stage, process_file
from vidpipe.types import Frame

OUT = typer.Option(..., "-o", "--output", help="Output file (written atomically).")
CODEC = typer.Option("libx264", "--codec", help="Any FFmpeg video encoder.")
CRF = typer.Option(None, "--crf", help="Constant rate factor (codec's default if unset).")
PRESET = typer.Option(None, "--preset", help="Encoder preset, e.g. veryfast.")
PIX_FMT = typer.Option(None, "--pix-fmt", help="Output pix_fmt (default follows the frames).")
OVERWRITE = typer.Option(False, "--overwrite", help="Replace an existing output.")
BAKE = typer.Option(False, "--bake-rotation", help="Rotate pixels instead of keeping metadata.")
WRITER = typer.Option("av", "--writer", help="Encoder: av (in-process) or ffmpeg (subprocess).")
BACKEND = typer.Option("av", "--backend", help="Decoder: av or ffmpeg.")


def encode_options(codec, crf, preset, pix_fmt, overwrite, bake, writer) -> EncodeOptions:
    if writer not in ("av", "ffmpeg"):
        raise typer.BadParameter(f"--writer must be av or ffmpeg, not {writer!r}")
    return EncodeOptions(
        codec=codec,
        crf=crf,
        preset=preset,
        pix_fmt=pix_fmt,
        rotation="bake" if bake else "keep",
        writer=writer,
        overwrite=overwrite,
    )


def quiet_progress() -> bool | None:
    """tqdm's `disable`: off with --quiet, else only on a terminal (None: tqdm checks)."""
    return True if logging.getLogger("vidpipe").level >= logging.ERROR else None


def progress(frames: Iterator[Frame], total: int, label: str) -> Iterator[Frame]:
    """tqdm bar (frames, fps, ETA) on stderr around a frame stream."""
    with tqdm(
        total=total or None, unit="frame", desc=label, file=sys.stderr, disable=quiet_progress()
    ) as bar:
        for frame in frames:
            yield frame
            bar.update(1)


def _run(source: str, output: str, stage: Stage, options: EncodeOptions, backend: str) -> None:
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
    crf: int | None = CRF,
    preset: str | None = PRESET,
    pix_fmt: str | None = PIX_FMT,
    overwrite: bool = OVERWRITE,
    bake_rotation: bool = BAKE,
    writer: str = WRITER,
    backend: str = BACKEND,
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
    options = encode_options(codec, crf, preset, pix_fmt, overwrite, bake_rotation, writer)
    stage = functools.partial(gamma_stage, gamma=gamma, on=on)
    _run(source, output, stage, options, backend)


def chroma_command(
    source: str = typer.Argument(..., help="Input video."),
    output: str = OUT,
    to: str = typer.Option(..., "--to", help="420, 422 or 444."),
    filter_: str = typer.Option("box", "--filter", help="Downsampling: box or bilinear."),
    up: str = typer.Option("bilinear", "--up", help="Upsampling: nearest or bilinear."),
    codec: str = CODEC,
    crf: int | None = CRF,
    preset: str | None = PRESET,
    pix_fmt: str | None = PIX_FMT,
    overwrite: bool = OVERWRITE,
    bake_rotation: bool = BAKE,
    writer: str = WRITER,
    backend: str = BACKEND,
) -> None:
    """Resample the chroma planes to 4:2:0, 4:2:2 or 4:4:4 (siting of the stream honoured)."""
    from vidpipe.pipeline.stages import chroma_stage  # imports torch: only when it runs

    to = to.replace(":", "")
    if to not in ("420", "422", "444"):
        raise typer.BadParameter(f"--to must be 420, 422 or 444, not {to!r}")
    if filter_ not in ("box", "bilinear") or up not in ("nearest", "bilinear"):
        raise typer.BadParameter("--filter takes box|bilinear, --up nearest|bilinear")
    options = encode_options(codec, crf, preset, pix_fmt, overwrite, bake_rotation, writer)
    stage = functools.partial(chroma_stage, to=to, up=up, down=filter_)
    _run(source, output, stage, options, backend)


def register(app: typer.Typer) -> None:
    app.command("gamma")(gamma_command)
    app.command("chroma")(chroma_command)
