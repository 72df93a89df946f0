"""`vidpipe eval --pred RESULTS.json --gt INSTANCES.json`: COCO bbox mAP with pycocotools;
`vidpipe eval --mot --pred RES.txt --gt GT.txt`: HOTA, IDF1 and MOTA of MOTChallenge tracks."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from vidpipe.evaluate.coco import EvalReport
    from vidpipe.evaluate.mot import MotReport

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


def format_mot(report: MotReport) -> str:
    """The text output of `--mot`: the headline metrics, then the counts behind them."""
    r = report
    return "\n".join([
        f"HOTA  {r.hota:.4f}   (DetA {r.deta:.4f}, AssA {r.assa:.4f})",
        f"IDF1  {r.idf1:.4f}   (IDP {r.idp:.4f}, IDR {r.idr:.4f})",
        f"MOTA  {r.mota:.4f}   (MOTP {r.motp:.4f})",
        f"ID switches {r.id_switches}, false positives {r.false_positives}, "
        f"false negatives {r.false_negatives}, fragmentations {r.fragmentations}",
        f"ground truth boxes {r.gt_boxes}, predicted boxes {r.pred_boxes}, "
        f"mostly tracked {r.mostly_tracked}, mostly lost {r.mostly_lost}",
    ])  # fmt: skip


def eval_command(
    pred: str = typer.Option(
        ..., "--pred", help="COCO results JSON (array of detections); with --mot, MOT text."
    ),
    gt: str = typer.Option(
        ...,
        "--gt",
        help="COCO ground truth (instances JSON); with --mot, MOT gt.txt (column 7: 1 "
        "evaluated, 0 ignored).",
    ),
    mot: bool = typer.Option(
        False, "--mot", help="Evaluate tracks (MOTChallenge files): HOTA, IDF1, MOTA."
    ),
    iou: float = typer.Option(0.5, "--iou", help="--mot: IoU of a match for IDF1 and MOTA."),
    json_: bool = typer.Option(False, "--json", help="Print one JSON object instead."),
    sort: str = typer.Option("ap", "--sort", help="Order of the per-class table: ap or name."),
) -> None:
    """Evaluate detections against a COCO ground truth: mAP@[.5:.95], mAP@.5, AP per class;
    or, with --mot, tracks against MOTChallenge ground truth: HOTA, IDF1, MOTA (TrackEval's
    algorithms, through Roboflow's trackers).

    Needs pycocotools / trackers (pip install 'vidpipe[eval]'). Every ground-truth image is
    evaluated; images without predictions count their objects as missed.
    """
    if mot:
        from vidpipe.evaluate.mot import evaluate_mot

        tracks = evaluate_mot(gt, pred, iou=iou)
        typer.echo(json.dumps(asdict(tracks)) if json_ else format_mot(tracks))
        return
    from vidpipe.evaluate.coco import evaluate  # numpy and pycocotools: only when it runs

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
            "vidpipe eval --mot --pred tracks.txt --gt gt.txt",
        ),
    )(eval_command)
