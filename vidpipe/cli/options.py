"""Command-line options that `vidpipe detect` and `vidpipe batch` both take, declared once.

Each is a `typer.Option` whose default is None, meaning the library's default (the options
dataclasses hold the only defaults; the help says what it is). Light to import: `vidpipe
batch` takes them without loading numpy or the encoders.
"""

from __future__ import annotations

import typer

from vidpipe.detectors.options import DetectOptions
from vidpipe.tracking.options import TrackOptions

_D, _T = DetectOptions(), TrackOptions()

TRACK_HIGH = typer.Option(
    None,
    "--track-high",
    help=f"Score from which a box leads the first association ({_T.high}).",
)
TRACK_NEW = typer.Option(
    None, "--track-new", help=f"Score a box needs to start a track ({_T.new_track})."
)
TRACK_MIN_HITS = typer.Option(
    None,
    "--track-min-hits",
    help=f"Boxes in a row before a new track gets its id ({_T.min_hits}).",
)
COMPILE = typer.Option(
    _D.compile, "--compile", help="torch.compile the model (torch engine; slow start)."
)
