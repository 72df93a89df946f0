"""`vidpipe frames FILE`: list frames with their I/P/B types, or extract them as images."""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import typer
from tqdm import tqdm

from vidpipe.cli import options as shared
from vidpipe.cli.inputs import ALLOW_URL, HWACCEL, RECONNECT, TIMEOUT, open_source
from vidpipe.cli.main import quiet_progress
from vidpipe.errors import InputError
from vidpipe.io.damage import DecodeStats
from vidpipe.io.decode_av import Skip
from vidpipe.io.image import save_image
from vidpipe.runtime.signals import stop_gracefully
from vidpipe.types import Frame, PictureType, frame_record

_TYPES = [t.name for t in PictureType if t is not PictureType.NONE]
FIELDS = ("index", "pts", "time", "type", "key", "size")


def _line(rec: dict[str, object], fmt: str) -> str:
    if fmt == "json":
        return json.dumps(rec)
    cells = [
        "" if v is None else str(v).lower() if isinstance(v, bool) else str(v) for v in rec.values()
    ]
    if fmt == "csv":
        return ",".join(cells)
    time = "-" if rec["time"] is None else f"{rec['time']:.6f}"
    pts = "-" if rec["pts"] is None else rec["pts"]
    size = "-" if rec["size"] is None else rec["size"]
    key = "K" if rec["key"] else "-"
    return f"{rec['index']:>7} {pts:>11} {time:>13} {rec['type']:<3} {key} {size:>9}"


def image_name(frame: Frame, ext: str) -> str:
    """e.g. 000123_4.100s_I.png: display index, time and picture type."""
    time = "nopts" if frame.time is None else f"{frame.time:.3f}s"
    return f"{frame.index:06d}_{time}_{frame.pict_type.letter}.{ext}"


def _plan(types: list[str], keyframes: bool) -> tuple[set[PictureType] | None, Skip]:
    wanted = set()
    for t in types:
        name = t.upper()
        if name not in _TYPES:
            raise typer.BadParameter(f"unknown frame type {t!r}; use one of {', '.join(_TYPES)}")
        wanted.add(PictureType[name])
    if keyframes:
        return wanted or None, "nonkey"
    if wanted == {PictureType.I}:
        return wanted, "nonintra"
    return wanted or None, "none"


def frames_command(
    file: str = typer.Argument(..., help="Video file."),
    types: list[str] = typer.Option([], "--type", "-t", help="Keep these types (repeatable)."),
    keyframes: bool = typer.Option(False, "--keyframes", help="Keep key frames only."),
    as_json: bool = typer.Option(False, "--json", help="JSON Lines, one object per frame."),
    as_csv: bool = typer.Option(False, "--csv", help="CSV with a header line."),
    out_dir: Path | None = typer.Option(None, "-o", "--output", help="Write images here."),
    image_format: str = typer.Option("png", "--format", help="png or jpg."),
    backend: str = shared.BACKEND,
    allow_url: bool = ALLOW_URL,
    timeout: float | None = TIMEOUT,
    reconnect: int = RECONNECT,
    hwaccel: str = HWACCEL,
) -> None:
    """List frames in display order (index, pts, time, type, key, packet size) or extract them.

    A live URL's frames add their wall-clock time (wall_time), and --json its gaps."""
    if as_json and as_csv:
        raise typer.BadParameter("--json and --csv are exclusive")
    if image_format not in ("png", "jpg"):
        raise typer.BadParameter(f"--format must be png or jpg, not {image_format!r}")
    wanted, skip = _plan(types, keyframes)
    with open_source(file, backend, allow_url, timeout, reconnect, hwaccel) as src:
        if out_dir is not None:
            _prepare_dir(out_dir)
        frames = src.frames(skip, stats=DecodeStats())
        selected = (f for f in frames if wanted is None or f.pict_type in wanted)
        fmt = "json" if as_json else "csv" if as_csv else "text"
        with stop_gracefully() if src.info.live else contextlib.nullcontext():
            if out_dir is None:
                _print_listing(selected, fmt, src)
            else:
                total, listing = src.info.frame_count, fmt if fmt != "text" else None
                _extract(selected, out_dir, image_format, total, listing)
    src.check_lost()


def _print_listing(frames: Iterator[Frame], fmt: str, src: Any) -> None:
    """The listing on stdout; a live source's lines flushed one by one (with its gaps, in
    JSON Lines), a file's at the end."""
    out = sys.stdout
    live = src.info.live
    if fmt == "csv":
        out.write(",".join((*FIELDS, "wall_time") if live else FIELDS) + "\n")
    elif fmt == "text":
        out.write(f"{'index':>7} {'pts':>11} {'time':>13} {'typ':<3} k {'size':>9}\n")
    for frame in frames:
        if live and fmt == "json":
            for event in src.events():
                out.write(json.dumps(event) + "\n")
        out.write(_line(frame_record(frame), fmt) + "\n")
        if live:
            out.flush()
    out.flush()


def _prepare_dir(out_dir: Path) -> None:
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(f"{out_dir}: exists and is not a directory")
    out_dir.mkdir(parents=True, exist_ok=True)


def _extract(frames: Iterator[Frame], out_dir: Path, ext: str, total: int, fmt: str | None) -> None:
    with tqdm(
        total=total or None, unit="frame", desc="frames", file=sys.stderr, disable=quiet_progress()
    ) as bar:
        for frame in frames:
            save_image(frame, out_dir / image_name(frame, ext))
            if fmt is not None:
                sys.stdout.write(_line(frame_record(frame), fmt) + "\n")
            bar.update(max(0, frame.index + 1 - bar.n))
            bar.set_postfix_str(f"saved {frame.index}", refresh=False)


def register(app: typer.Typer) -> None:
    from vidpipe.cli.main import examples

    app.command(
        "frames",
        epilog=examples(
            "vidpipe frames clip.mp4 --type I # the I frames, key or not",
            "vidpipe frames clip.mp4 --json -q # JSON Lines, no warnings",
            "vidpipe frames clip.mp4 --keyframes -o keyframes/ --format jpg",
            "vidpipe frames -- -clip.mp4 # a file whose name starts with -",
        ),
    )(frames_command)
