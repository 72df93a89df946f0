"""`vidpipe gamma` and `vidpipe chroma`: per-frame processing, re-encoded with audio kept;
and what every re-encoding command shares: the encoder options (`with_encoder_options`, over
the declarations in `vidpipe.cli.options`), the progress bar."""

from __future__ import annotations

import functools
import inspect
import sys
from collections.abc import Callable, Iterator
from typing import Any

import typer
from tqdm import tqdm

from vidpipe.cli import options as shared
from vidpipe.cli.inputs import ALLOW_URL, HWACCEL, RECONNECT, TIMEOUT, open_source
from vidpipe.cli.main import quiet_progress
from vidpipe.io.encode import EncodeResult
from vidpipe.io.encode_options import EncodeOptions
from vidpipe.io.segments import parse_duration
from vidpipe.pipeline.options import OpOptions
from vidpipe.types import Frame, VideoInfo

OUT = typer.Option(..., "-o", "--output", help="Output file (written atomically).")

# The encoder options every re-encoding command takes: (parameter, type, Typer option).
_ENCODER_PARAMS = (
    ("codec", str | None, shared.CODEC),
    ("crf", int | None, shared.CRF),
    ("preset", str | None, shared.PRESET),
    ("pix_fmt", str | None, shared.PIX_FMT),
    ("overwrite", bool, shared.OVERWRITE),
    ("bake_rotation", bool, shared.BAKE_ROTATION),
    ("writer", str | None, shared.WRITER),
    ("segment", str | None, shared.SEGMENT),
)


def with_encoder_options(command: Callable[..., None]) -> Callable[..., None]:
    """Give a Typer command the encoder options (`_ENCODER_PARAMS`, declared in
    `vidpipe.cli.options`) after its own; it receives them as `options: EncodeOptions`,
    declared as its last parameter (an option left unset: `EncodeOptions`' default)."""
    signature = inspect.signature(command)
    own = [p for p in signature.parameters.values() if p.name != "options"]
    extra = [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=option, annotation=kind)
        for name, kind, option in _ENCODER_PARAMS
    ]

    @functools.wraps(command)
    def wrapper(**kwargs: Any) -> None:
        values = {name: kwargs.pop(name) for name, _, _ in _ENCODER_PARAMS}
        bake = values.pop("bake_rotation")
        segment = values.pop("segment")
        options = EncodeOptions(
            rotation="bake" if bake else "keep",
            segment_s=parse_duration(segment) if segment is not None else None,
            **{name: value for name, value in values.items() if value is not None},
        )
        command(**kwargs, options=options)

    wrapper.__signature__ = signature.replace(parameters=[*own, *extra])  # type: ignore[attr-defined]
    wrapper.__annotations__ = {
        **{k: v for k, v in command.__annotations__.items() if k != "options"},
        **{name: kind for name, kind, _ in _ENCODER_PARAMS},
    }
    return wrapper


def progress(label: str) -> Callable[[Iterator[Frame], VideoInfo], Iterator[Frame]]:
    """A recipe's `observe`: a tqdm bar (frames, fps, ETA) on stderr around the stream."""

    def observe(frames: Iterator[Frame], info: VideoInfo) -> Iterator[Frame]:
        with tqdm(
            total=info.frame_count or None, unit="frame", desc=label, file=sys.stderr,
            disable=quiet_progress(),
        ) as bar:  # fmt: skip
            for frame in frames:
                yield frame
                bar.update(max(1, frame.index + 1 - bar.n))  # sampled frames: by position

    return observe


def _run(source: str, output: str, ops: OpOptions, options: EncodeOptions | None, backend: str,
         allow_url: bool, timeout: float | None, reconnect: int, hwaccel: str):  # fmt: skip
    from vidpipe.pipeline.recipes import process_file

    assert options is not None  # given by with_encoder_options
    with open_source(source, backend, allow_url, timeout, reconnect, hwaccel) as src:
        result = process_file(src, output, ops, encode=options, observe=progress("frames"))
    typer.echo(f"wrote {written(result)} ({result.frames} frames, {result.codec} {result.pix_fmt})")


def written(result: EncodeResult) -> str:
    """The file an encode wrote, or its segments: "N segments, FIRST .. LAST"."""
    if not result.segments:
        return str(result.path)
    first, last = result.segments[0], result.segments[-1]
    return f"{len(result.segments)} segments, {first} .. {last.name}"


def gamma_command(
    source: str = typer.Argument(..., help="Input video."),
    output: str = OUT,
    gamma: float = shared.required(shared.GAMMA),
    on: str = shared.GAMMA_ON,
    backend: str = shared.BACKEND,
    allow_url: bool = ALLOW_URL,
    timeout: float | None = TIMEOUT,
    reconnect: int = RECONNECT,
    hwaccel: str = HWACCEL,
    options: EncodeOptions | None = None,
) -> None:
    """Gamma-correct every frame: out = max * (in / max) ** (1 / G)."""
    ops = OpOptions(gamma=gamma, gamma_on=on)
    _run(source, output, ops, options, backend, allow_url, timeout, reconnect, hwaccel)


def chroma_command(
    source: str = typer.Argument(..., help="Input video."),
    output: str = OUT,
    chroma: str = shared.required(shared.CHROMA),
    filter_: str = shared.CHROMA_FILTER,
    up: str = shared.CHROMA_UP,
    backend: str = shared.BACKEND,
    allow_url: bool = ALLOW_URL,
    timeout: float | None = TIMEOUT,
    reconnect: int = RECONNECT,
    hwaccel: str = HWACCEL,
    options: EncodeOptions | None = None,
) -> None:
    """Resample the chroma planes to 4:2:0, 4:2:2 or 4:4:4 (siting of the stream honoured)."""
    ops = OpOptions(chroma=chroma, chroma_up=up, chroma_down=filter_)
    _run(source, output, ops, options, backend, allow_url, timeout, reconnect, hwaccel)


def register(app: typer.Typer) -> None:
    from vidpipe.cli.main import examples

    app.command(
        "gamma",
        epilog=examples(
            "vidpipe gamma clip.mp4 -o bright.mp4 --gamma 2.2",
            "vidpipe gamma clip.mp4 -o bright.mkv -g 2.2 --on rgb --codec ffv1",
        ),
    )(with_encoder_options(gamma_command))
    app.command(
        "chroma",
        epilog=examples(
            "vidpipe chroma clip.mp4 -o full.mkv --to 444 --codec ffv1",
            "vidpipe chroma clip.mp4 -o c422.mp4 --to 422 --crf 18 --overwrite",
        ),
    )(with_encoder_options(chroma_command))
