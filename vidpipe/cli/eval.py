"""`vidpipe eval --pred RESULTS.json --gt INSTANCES.json`: COCO bbox mAP with pycocotools."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from vidpipe.detectors.coco import EvalReport

SORTS = ("ap", "name")


def format_report(report: EvalReport, sort: str = "ap") -> str:
    """The text output: both mAPs, the counts, then one (class, AP) row per category.

    sort "ap": highest AP first (categories without ground truth, AP "-", last);
    "name": alphabetical.
    """
    lines = [
        f"mAP@[.5:.95]  {report.map_50_95:.4f}",
        f"mAP@.5        {report.map_50:.4f}",
        f"images {report.n_images}, predictions {report.n_predictions}",
        "",
    ]
    rows = sorted(report.per_class.items())
    if sort == "ap":
        rows.sort(key=lambda item: -1.0 if item[1] is None else item[1], reverse=True)
    width = max([len("class"), *(len(name) for name, _ in rows)])
    lines.append(f"{'class':<{width}}  AP@[.5:.95]")
    for name, ap in rows:
        lines.append(f"{name:<{width}}  {'-' if ap is None else f'{ap:.4f}'}")
    return "\n".join(lines)


def eval_command(
    pred: str = typer.Option(..., "--pred", help="COCO results JSON (array of detections)."),
    gt: str = typer.Option(..., "--gt", help="COCO ground truth (instances JSON)."),
    json_: bool = typer.Option(False, "--json", help="Print one JSON object instead."),
    sort: str = typer.Option("ap", "--sort", help="Order of the per-class table: ap or name."),
) -> None:
    """Evaluate detections against a COCO ground truth: mAP@[.5:.95], mAP@.5, AP per class.

    Needs pycocotools (pip install 'vidpipe[eval]'). Every ground-truth image is evaluated;
    images without predictions count their objects as missed.
    """
    from vidpipe.detectors.coco import evaluate  # numpy and pycocotools: only when it runs

    if sort not in SORTS:
        raise typer.BadParameter(f"--sort must be ap or name, not {sort!r}")
    report = evaluate(pred, gt)
    if json_:
        typer.echo(json.dumps(asdict(report)))
    else:
        typer.echo(format_report(report, sort))


def register(app: typer.Typer) -> None:
    from vidpipe.cli.main import examples

    app.command(
        "eval",
        epilog=examples(
            "vidpipe eval --pred results.json --gt instances_val2017.json",
            "vidpipe eval --pred results.json --gt instances.json --sort name",
            "vidpipe eval --pred results.json --gt instances.json --json",
        ),
    )(eval_command)
