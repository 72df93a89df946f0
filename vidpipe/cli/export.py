"""`vidpipe export RESULTS --to FORMAT --video CLIP -o OUT`: a run's results in an annotation
tool's format (`vidpipe.formats.export`)."""

from __future__ import annotations

import typer

from vidpipe.cli.options import OVERWRITE

FORMAT_HELP = (
    "cvat-video (tracks), cvat-images, mot (a folder), datumaro (a folder), label-studio "
    "(tracks), fiftyone (a folder) or coco-video."
)


def export_command(
    results: str = typer.Argument(
        ..., help="The run's JSON Lines (`vidpipe detect --json`) or MOTChallenge text (--mot)."
    ),
    to: str = typer.Option(..., "--to", help=f"The format: {FORMAT_HELP}"),
    output: str = typer.Option(..., "-o", "--output", help="The file or folder to write."),
    video: str = typer.Option(
        ..., "--video", help="The video the results are of (its size, frames, timestamps)."
    ),
    video_url: str | None = typer.Option(
        None, "--video-url", help="label-studio: the task's video as the project serves it."
    ),
    overwrite: bool = OVERWRITE,
) -> None:
    """Write a run's boxes and tracks for an annotation tool, to correct them there and
    measure the detector against the corrections (`vidpipe eval --gt`). Frame numbers are
    the video's own frames (never time x rate), boxes are in the picture as displayed."""
    from vidpipe.formats.export import check_format, export
    from vidpipe.formats.facts import video_facts

    check_format(to)
    written = export(results, to, output, video_facts(video), video_url=video_url,
                     overwrite=overwrite)  # fmt: skip
    for path in written:
        typer.echo(f"wrote {path}", err=True)


def register(app: typer.Typer) -> None:
    from vidpipe.cli.main import examples

    app.command(
        "export",
        epilog=examples(
            "vidpipe export dets.jsonl --to cvat-video --video clip.mp4 -o clip.xml",
            "vidpipe export dets.jsonl --to label-studio --video clip.mp4 -o tasks.json",
            "vidpipe export tracks.txt --to mot --video clip.mp4 -o clip-mot/",
            "vidpipe export dets.jsonl --to fiftyone --video clip.mp4 -o clip-fo/",
        ),
    )(export_command)
