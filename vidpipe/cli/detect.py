"""`vidpipe detect`: objects in every frame; boxes drawn into a re-encoded video (audio,
timestamps and rotation kept) and/or detections as JSON Lines and COCO results; with --track,
track ids, MOTChallenge results, trails, and line / zone counts. Options are parsed into
`DetectOptions`, `TrackOptions`, `OpOptions` and `EncodeOptions` (their defaults are the
library's) and handed to the `detect_file` recipe, as `vidpipe batch` does."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import typer

from vidpipe.cli import options as shared
from vidpipe.cli.inputs import ALLOW_URL, HWACCEL, RECONNECT, TIMEOUT, open_source
from vidpipe.cli.main import quiet_progress
from vidpipe.cli.process import progress, with_encoder_options, written
from vidpipe.detectors.options import DetectOptions
from vidpipe.errors import InputError
from vidpipe.io.encode_options import EncodeOptions
from vidpipe.pipeline.options import OpOptions, ScanOptions, check_scan_flags
from vidpipe.tracking.options import detect_conf, tracking_of

_D = DetectOptions()  # the defaults


def detect_command(
    source: str = typer.Argument(..., help="Input video."),
    output: str | None = typer.Option(
        None, "-o", "--output", help="Video with boxes drawn (written atomically)."
    ),
    json_path: str | None = typer.Option(
        None, "--json", help="Detections as JSON Lines, one object per frame ('-': stdout)."
    ),
    coco_path: str | None = typer.Option(None, "--coco", help="Detections in COCO results format."),
    model: str | None = shared.MODEL,
    model_format: str | None = shared.MODEL_FORMAT,
    names: str | None = shared.NAMES,
    batch: int | None = shared.BATCH,
    device: str | None = shared.DEVICE,
    engine: str | None = shared.ENGINE,
    size: int | None = shared.SIZE,
    conf: float | None = shared.CONF,
    iou: float | None = shared.IOU,
    max_det: int | None = shared.MAX_DET,
    classes: list[str] | None = shared.CLASSES,
    track: str | None = shared.TRACK,
    track_buffer: float | None = shared.TRACK_BUFFER,
    track_high: float | None = shared.TRACK_HIGH,
    track_new: float | None = shared.TRACK_NEW,
    track_min_hits: int | None = shared.TRACK_MIN_HITS,
    mot_path: str | None = typer.Option(None, "--mot", help="Tracks as MOTChallenge text."),
    trails: int | None = shared.TRAILS,
    count_line: list[str] | None = shared.COUNT_LINE,
    zone: list[str] | None = shared.ZONE,
    anchor: str | None = shared.ANCHOR,
    events_path: str | None = typer.Option(
        None, "--events", help="Line and zone events as JSON Lines in time order, totals last."
    ),
    gamma: float | None = shared.GAMMA,
    on: str = shared.GAMMA_ON,
    chroma: str | None = shared.CHROMA,
    compile_: bool = shared.COMPILE,
    precision: str | None = shared.PRECISION,
    backend: str = shared.BACKEND,
    allow_url: bool = ALLOW_URL,
    timeout: float | None = TIMEOUT,
    reconnect: int = RECONNECT,
    hwaccel: str = HWACCEL,
    scan: bool = shared.SCAN,
    sample: str = shared.SAMPLE,
    refine: bool = shared.REFINE,
    intervals_path: str | None = typer.Option(
        None, "--intervals", help="--scan: the intervals per class, JSON Lines ('-': stdout)."
    ),
    thumbs: str | None = typer.Option(
        None, "--thumbs", help="--scan: a folder for the best frame of each interval, boxed."
    ),
    report: str | None = typer.Option(
        None, "--report", help="Also an HTML page of what was found (`vidpipe report`)."
    ),
    export: list[str] | None = shared.EXPORT,
    options: EncodeOptions | None = None,
) -> None:
    """Detect objects (YOLOX, or your own YOLOv5/v8/11, end-to-end or RT-DETR export) in
    every frame, or with --scan in the sampled ones. Without -o, --json or --coco the
    detections (with --scan: the intervals) go to stdout as JSON Lines."""
    from vidpipe.pipeline.recipes import detect_file

    tracking = tracking_of(
        track, lines=count_line or (), zones=zone or (), trails=trails or 0, high=track_high,
        new_track=track_new, lost_s=track_buffer, min_hits=track_min_hits, anchor=anchor,
    )  # fmt: skip
    detect = DetectOptions.from_dict({
        "model": model, "model_format": model_format, "names": names, "device": device,
        "engine": engine, "size": size, "conf": detect_conf(conf, tracking, _D.conf),
        "iou": iou, "max_det": max_det, "classes": tuple(classes) if classes else None,
        "batch": batch, "compile": compile_, "precision": precision,
    })  # fmt: skip
    ops = OpOptions(gamma=gamma, gamma_on=on, chroma=chroma)
    outputs = (output, json_path, coco_path, mot_path, events_path, intervals_path, thumbs, report,
               *(export or []))  # fmt: skip
    check_scan_flags(scan, refine=refine)
    scanning = ScanOptions(sample, refine) if scan else None
    if all(o is None for o in outputs):
        if scanning is not None:
            intervals_path = "-"
        else:
            json_path = "-"
    assert options is not None  # given by with_encoder_options
    exports = exports_of(export or [], source, output, json_path, tracking is not None,
                         options.overwrite)  # fmt: skip
    page = page_of_run(report, source, output, json_path, events_path, options.overwrite,
                       read_back=next(iter(exports.values()), None))  # fmt: skip
    with page as jsonl, open_source(source, backend, allow_url, timeout, reconnect, hwaccel) as src:
        result = detect_file(
            src, video=output, jsonl=jsonl, coco=coco_path, mot=mot_path,
            events=events_path, detect_options=detect, track=tracking, ops=ops, encode=options,
            observe=progress("scan" if scan else "detect"),  # type: ignore[arg-type]
            scan=scanning, intervals=intervals_path, thumbs=thumbs,
        )  # fmt: skip
        if exports:
            from vidpipe.formats.export import export as write_export
            from vidpipe.formats.facts import facts_of

            for name, path in exports.items():
                write_export(jsonl, name, path, facts_of(src.info), overwrite=True)
    if quiet_progress() is True:
        return
    if result.video is not None:  # on stderr: stdout may carry JSON
        v = result.video
        typer.echo(f"wrote {written(v)} ({v.frames} frames, {v.codec})", err=True)
    if result.counts is not None:
        typer.echo(format_counts(result.counts), err=True)
    if result.scan is not None:
        typer.echo(format_scan(result.scan, result.frames), err=True)


def exports_of(formats: list[str], source: str, output: str | None, json_path: str | None,
               tracked: bool, overwrite: bool) -> dict[str, str]:  # fmt: skip
    """`--export`: format -> the path it is written to, beside --json when it is a file,
    else beside -o, else the input's name in the working folder (clip.mp4 ->
    ./clip.cvat-video.xml); checked before the run."""
    if not formats:
        return {}
    from vidpipe.formats.export import check_format, export_path, outputs_of
    from vidpipe.io.inputs import is_url

    base = next((p for p in (json_path, output) if p not in (None, "-")), None)
    if base is None and is_url(source):
        raise InputError("--export of a URL's run: give --json or -o a file to name it by")
    base = base or os.path.basename(source)
    paths = {}
    for name in dict.fromkeys(formats):
        check_format(name, tracked)
        paths[name] = str(export_path(base, name))
        for path in outputs_of(name, paths[name]):
            if not overwrite and os.path.lexists(path):
                raise InputError(f"{path}: exists (--overwrite replaces it)")
    return paths


@contextlib.contextmanager
def page_of_run(report: str | None, source: str, output: str | None, json_path: str | None,
                events_path: str | None, overwrite: bool,
                read_back: str | None = None) -> Iterator[str | None]:  # fmt: skip
    """`--report`: checked before the run; yields the JSON Lines path the run writes (a
    temporary one beside the page when --json is not a file) and, once the run is done,
    writes the page of the input video (or of -o, when the input is a URL) and its
    results. Without `report`, yields `json_path` (a temporary one beside the path
    `read_back` when it is given, an output made from the run's lines, and --json is not a
    file) and writes nothing."""
    if report is None and read_back is None:
        yield json_path
        return
    from vidpipe.io.inputs import is_url
    from vidpipe.runtime.files import scratch_folder

    if json_path == "-":
        raise InputError("--report and --export read the run's JSON Lines back: give --json "
                         "a file")  # fmt: skip
    if report is not None:
        read_back = _page_target(report, source, output, overwrite)
    with contextlib.ExitStack() as stack:
        if json_path is None:
            scratch = stack.enter_context(scratch_folder(read_back))  # type: ignore[arg-type]
            json_path = str(scratch / "detections.jsonl")
        yield json_path
        if report is not None:
            from vidpipe.report.page import Run, write_report

            video = output if is_url(source) else source
            write_report([Run(video, json_path, events_path)], report)


def _page_target(report: str, source: str, output: str | None, overwrite: bool) -> str:
    """The checked page path of --report (before the run)."""
    from vidpipe.io.inputs import is_url
    from vidpipe.report.page import check_page

    if (output if is_url(source) else source) is None:
        raise InputError("--report plays the input video, or -o where the input is a URL")
    return str(check_page(report, [source], overwrite))


def format_scan(rows: list[dict], frames: int) -> str:
    """The summary of a scan: one line per class (intervals, seconds on screen)."""
    lines = [f"scanned {frames} frames: {len(rows)} classes"]
    lines += [f"{'class':<16} {'intervals':>9} {'seconds':>9}"] if rows else []
    lines += [f"{r['label']:<16} {r['intervals']:>9} {r['seconds']:>9.1f}" for r in rows]
    return "\n".join(lines)


def format_counts(counts: dict) -> str:
    """The totals of a counting run: one line per counting line and per zone."""
    rows = [f"line {name}: in {c['in']}, out {c['out']}" for name, c in counts["lines"].items()] + [
        f"zone {name}: entries {z['entries']}, exits {z['exits']}, "
        f"dwell {z['dwell_s']:.1f} s in all, longest {z['dwell_max_s']:.1f} s"
        for name, z in counts["zones"].items()
    ]
    return "\n".join(rows)


def register(app: typer.Typer) -> None:
    from vidpipe.cli.main import examples

    app.command(
        "detect",
        epilog=examples(
            "vidpipe detect clip.mp4 -o boxes.mp4 --json dets.jsonl",
            "vidpipe detect clip.mp4 --classes person,car --coco results.json -q",
            "vidpipe detect clip.mp4 --track bytetrack -o out.mp4 --trails 30",
            "vidpipe detect road.mp4 --count-line 0,400,1280,400 --events ev.jsonl",
            "vidpipe detect clip.mp4 -m yolox-s --device cuda --batch 32 -o boxes.mp4",
            "vidpipe detect clip.mp4 -m yolov8n.onnx --names classes.txt -o boxes.mp4",
            "vidpipe detect dog.jpg -o boxes.png # a still image",
            "vidpipe detect clip.mp4 --track bytetrack --json d.jsonl --export cvat-video",
        ),
    )(with_encoder_options(detect_command))
