"""`vidpipe probe FILE [--json] [--gop]`: container, streams and GOP structure."""

from __future__ import annotations

import dataclasses
import json
from fractions import Fraction
from typing import Any

import typer

from vidpipe.cli.inputs import ALLOW_URL, TIMEOUT
from vidpipe.io.inputs import check_open_options
from vidpipe.io.probe import probe
from vidpipe.types import VideoInfo


def info_dict(info: VideoInfo) -> dict[str, Any]:
    """VideoInfo as plain JSON values; Fractions become "num/den" strings."""

    def plain(value: Any) -> Any:
        if isinstance(value, Fraction):
            return f"{value.numerator}/{value.denominator}"
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [plain(v) for v in value]
        return value

    return plain(dataclasses.asdict(info))


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, Fraction):
        return f"{value.numerator}/{value.denominator} ({float(value):.3f})"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def info_table(info: VideoInfo) -> str:
    """Readable two-column listing of a probe result."""
    c = info.color
    rows = [
        ("file", info.path),
        ("container", info.container),
        ("video stream", f"#{info.stream_index} {info.codec} ({info.profile or '-'})"),
        ("decoder", info.decoder or "-"),
        ("size", f"{info.width}x{info.height}"),
        ("SAR / DAR", f"{_fmt(info.sar)} / {_fmt(info.dar)}"),
        ("pix_fmt", f"{info.pix_fmt} ({info.bit_depth}-bit {info.chroma_subsampling or '-'})"),
        ("colour", f"range {c.range}, matrix {c.matrix}, primaries {c.primaries}"),
        ("transfer", c.transfer),
        ("chroma location", c.chroma_location),
        ("field order", info.field_order),
        ("rotation", f"{info.rotation} deg"),
        ("frame rate", _fmt(info.frame_rate)),
        ("avg frame rate", _fmt(info.avg_frame_rate)),
        ("time base", f"{info.time_base.numerator}/{info.time_base.denominator}"),
        ("duration", f"{_fmt(info.duration)} s"),
        ("frames", str(info.frame_count)),
        ("bit rate", f"{info.bit_rate} b/s" if info.bit_rate else "-"),
    ]
    for a in info.audio:
        rows.append((f"audio #{a.index}", f"{a.codec} {a.sample_rate} Hz {a.layout or a.channels}"))
    if info.gop is not None:
        g = info.gop
        rows += [
            ("I / P / B / other", f"{g.i_frames} / {g.p_frames} / {g.b_frames} / {g.other_frames}"),
            ("key frames", str(g.key_frames)),
            (
                "keyint mean / max",
                f"{_fmt(g.keyframe_interval_mean)} / {_fmt(g.keyframe_interval_max)}",
            ),
            ("longest B run", str(g.longest_b_run)),
            ("GOPs open / closed", f"{g.open_gops} / {g.closed_gops}"),
        ]
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)


def probe_command(
    file: str = typer.Argument(..., help="Video file."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
    gop: bool = typer.Option(False, "--gop", help="Decode everything for I/P/B and GOP stats."),
    allow_url: bool = ALLOW_URL,
    timeout: float | None = TIMEOUT,
) -> None:
    """Describe a video file: container, video and audio streams, optionally the GOPs."""
    check_open_options(timeout=timeout)
    info = probe(file, gop=gop, allow_urls=allow_url, timeout_s=timeout)
    typer.echo(json.dumps(info_dict(info)) if as_json else info_table(info))


def register(app: typer.Typer) -> None:
    from vidpipe.cli.main import examples

    app.command(
        "probe",
        epilog=examples(
            "vidpipe probe clip.mp4 # container, streams, colour",
            "vidpipe probe clip.mp4 --gop --json # plus I/P/B counts and GOPs, JSON",
        ),
    )(probe_command)
