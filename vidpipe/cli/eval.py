"""`vidpipe eval --pred RESULTS --gt TRUTH`: COCO bbox mAP with pycocotools; with `--mot`,
HOTA, IDF1 and MOTA of tracks. RESULTS: COCO results, MOTChallenge text or a run's JSON
Lines; TRUTH: COCO instances, a MOT gt.txt, or an annotation tool's file (CVAT XML, Label
Studio JSON, COCO video: `vidpipe.formats`), converted for the evaluators here."""

from __future__ import annotations

import json
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from vidpipe.errors import InputError

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
        ...,
        "--pred",
        help="COCO results JSON (array of detections); with --mot, MOT text; or the run's "
        "JSON Lines (`vidpipe detect --json`).",
    ),
    gt: str = typer.Option(
        ...,
        "--gt",
        help="COCO ground truth (instances JSON); with --mot, MOT gt.txt (column 7: 1 "
        "evaluated, 0 ignored); or CVAT XML (video or images), Label Studio JSON, COCO "
        "video, a `vidpipe export --to mot` gt.txt.",
    ),
    video: str | None = typer.Option(
        None, "--video", help="The video annotated (Label Studio's boxes are in percent of it)."
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
    if sort not in SORTS:
        raise typer.BadParameter(f"--sort must be ap or name, not {sort!r}")
    with tempfile.TemporaryDirectory(prefix="vidpipe-eval-") as folder:
        gt, pred = _converted(gt, pred, video, mot, Path(folder))
        if mot:
            from vidpipe.evaluate.mot import evaluate_mot

            tracks = evaluate_mot(gt, pred, iou=iou)
            typer.echo(json.dumps(asdict(tracks)) if json_ else format_mot(tracks))
            return
        from vidpipe.evaluate.coco import evaluate  # numpy and pycocotools: when it runs

        report = evaluate(pred, gt)
    if json_:
        typer.echo(json.dumps(asdict(report)))
    else:
        typer.echo(format_report(report, sort))


def _converted(gt: str, pred: str, video: str | None, mot: bool,
               folder: Path) -> tuple[str, str]:  # fmt: skip
    """(ground truth, results) as the evaluators read them: a tool's ground truth and a
    run's JSON Lines written into `folder` as COCO or MOTChallenge files; others as given."""
    from vidpipe.formats.export import read_truth
    from vidpipe.formats.facts import video_facts
    from vidpipe.formats.run import is_jsonl, read_detections

    truth = read_truth(gt, video_facts(video) if video else None)
    run = read_detections(pred).by_track_class() if is_jsonl(pred) else None
    if truth is None and run is None:
        return gt, pred
    from vidpipe.formats import truth as convert

    if mot:
        for flag, path, boxes in (("--gt", gt, truth), ("--pred", pred, run)):
            if boxes is not None and len(boxes.scores) and not boxes.tracked:
                raise InputError(f"{flag} {path}: no track ids: --mot measures tracks")
        if truth is not None:
            gt = _write(folder / "gt.txt", convert.mot_text(truth, truth=True))
        if run is not None:
            pred = _write(folder / "pred.txt", convert.mot_text(run, truth=False))
        return gt, pred
    if run is None:
        raise InputError(f"--pred {pred}: with this ground truth, give the run's JSON Lines "
                         "(`vidpipe detect --json`): COCO results name no labels")  # fmt: skip
    if truth is None:  # COCO instances: their categories, by name; image ids: frame indexes
        document = _coco(gt)
        category = {str(c.get("name")): c.get("id") for c in document["categories"]}
        frames = [im.get("id") for im in document["images"]]
    else:
        category = convert.categories(truth, run)
        gt = _write(folder / "gt.json", json.dumps(convert.coco_truth(truth, category)))
        frames = truth.indexes.tolist()
    results = convert.coco_results(run, category, frames)
    return gt, _write(folder / "pred.json", json.dumps(results))


def _coco(path: str) -> dict:
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise InputError(f"--gt {path}: not COCO instances JSON ({err})") from None
    if not isinstance(document, dict) or not {"images", "categories"} <= set(document):
        raise InputError(f"--gt {path}: not COCO instances (no images and categories)")
    return document


def _write(path: Path, text: str) -> str:
    path.write_text(text, encoding="utf-8")
    return str(path)


def register(app: typer.Typer) -> None:
    from vidpipe.cli.main import examples

    app.command(
        "eval",
        epilog=examples(
            "vidpipe eval --pred results.json --gt instances_val2017.json",
            "vidpipe eval --pred results.json --gt instances.json --sort name",
            "vidpipe eval --pred results.json --gt instances.json --json",
            "vidpipe eval --mot --pred tracks.txt --gt gt.txt",
            "vidpipe eval --pred dets.jsonl --gt cvat.xml  # after export, corrected",
            "vidpipe eval --mot --pred dets.jsonl --gt tasks.json --video clip.mp4",
        ),
    )(eval_command)
