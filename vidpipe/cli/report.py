"""`vidpipe report VIDEO... --json DETS... [--events EV...] -o report.html`: one HTML page of
what runs found (`vidpipe.report`)."""

from __future__ import annotations

import os

import typer

from vidpipe.cli.options import OVERWRITE
from vidpipe.errors import InputError


def report_command(
    videos: list[str] = typer.Argument(
        ...,
        help="The videos the runs read (or their -o outputs), one section each; or one "
        "`vidpipe batch` output folder.",
    ),
    detections: list[str] = typer.Option(
        [],
        "--json",
        help="The JSON Lines of `vidpipe detect --json`, one per VIDEO, in order; or one for "
        "the --segment files of a run.",
    ),
    events: list[str] = typer.Option(
        [], "--events", help="The `--events` file of a counted run, one per VIDEO if given."
    ),
    output: str = typer.Option(..., "-o", "--output", help="The page to write (.html)."),
    title: str = typer.Option(None, "--title", help="The page's title (default: the videos)."),
    gop: bool = typer.Option(
        False, "--gop", help="Decode each video for its I/P/B counts and GOP (slow)."
    ),
    overwrite: bool = OVERWRITE,
) -> None:
    """One self-contained HTML page of what detect runs found: each video's facts, a
    timeline of its classes, objects and tracks per frame, counts per line and zone, the
    best frame of each interval, and the video played with the boxes drawn over it (class
    toggles, a score floor). Of a `vidpipe batch` folder: its jobs table (sortable,
    filtered), the classes across the batch, and a section per finished detect job. Open it
    in any browser; it needs no network."""
    from vidpipe.report.batch import write_batch_report
    from vidpipe.report.page import Run, check_page, check_runs, segment_runs, write_report

    check_page(output, [], overwrite)
    if len(videos) == 1 and not detections and os.path.isdir(videos[0]):
        if events:
            raise InputError("a batch folder's events are its own: no --events with it")
        write_batch_report(videos[0], output, title=title, gop=gop)
        return
    segments = None
    if len(videos) > 1 and len(detections) == 1 and len(events) <= 1:
        segments = segment_runs(videos, detections[0], events[0] if events else None)
    if segments is not None:
        check_runs(segments)
        check_page(output, [run.video for run in segments], overwrite)
        write_report(segments, output, title=title, gop=gop)
        return
    if len(detections) != len(videos):
        raise InputError(f"give one --json per video: {len(videos)} videos, "
                         f"{len(detections)} --json")  # fmt: skip
    if events and len(events) != len(videos):
        raise InputError(f"give one --events per video, or none: {len(videos)} videos, "
                         f"{len(events)} --events")  # fmt: skip
    runs = [
        Run(video, dets, events[i] if events else None)
        for i, (video, dets) in enumerate(zip(videos, detections, strict=True))
    ]
    check_runs(runs)
    check_page(output, [run.video for run in runs], overwrite)
    write_report(runs, output, title=title, gop=gop)


def register(app: typer.Typer) -> None:
    from vidpipe.cli.main import examples

    app.command(
        "report",
        epilog=examples(
            "vidpipe report clip.mp4 --json dets.jsonl -o report.html",
            "vidpipe report road.mp4 --json dets.jsonl --events ev.jsonl -o road.html",
            "vidpipe report a.mp4 b.mp4 --json a.jsonl --json b.jsonl -o both.html --gop",
        ),
    )(report_command)
