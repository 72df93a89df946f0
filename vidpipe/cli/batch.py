"""`vidpipe batch INPUTS... -o OUTDIR --task detect|gamma|chroma|frames`: many videos, local
worker processes, a resumable SQLite ledger in OUTDIR (see vidpipe.batch)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import typer

from vidpipe.batch.tasks import TASKS
from vidpipe.cli import options as shared
from vidpipe.cli.inputs import ALLOW_URL, HWACCEL, RECONNECT, TIMEOUT
from vidpipe.errors import InputError
from vidpipe.io.inputs import check_open_options

# The options whose declared default is a value (not None): left at it, they are not given
# (a task that does not take them refuses only a value given to it).
_DEFAULT = {
    name: option.default
    for name, option in (("sample", shared.SAMPLE), ("on", shared.GAMMA_ON),
                         ("up", shared.CHROMA_UP), ("filter", shared.CHROMA_FILTER),
                         ("backend", shared.BACKEND))
}  # fmt: skip


def batch_command(
    inputs: list[str] = typer.Argument(
        ..., help="Videos, folders (recursive), manifests; with --allow-url URLs and devices."
    ),
    outdir: Path = typer.Option(..., "-o", "--output", help="Output folder (mirrors inputs)."),
    task: str = typer.Option(..., "--task", help=f"{', '.join(TASKS[:-1])} or {TASKS[-1]}."),
    jobs: int = typer.Option(1, "--jobs", "-j", help="Worker processes (Ray: tasks in flight)."),
    runner: str = typer.Option("local", "--runner", help="local worker processes, or ray."),
    address: str | None = typer.Option(
        None, "--address", help="ray: cluster address (default $RAY_ADDRESS, else a local Ray)."
    ),
    retries: int = typer.Option(2, "--retries", help="Attempts a failed job gets over runs."),
    retry_failed: bool = typer.Option(False, "--retry-failed", help="Reset failed attempts."),
    content_hash: bool = typer.Option(
        False, "--hash", help="Fingerprint inputs by sha256 (default: size + mtime)."
    ),
    report: Path | None = typer.Option(
        None,
        "--report",
        help="Write the results here: JSON, or the batch's HTML page (`vidpipe report "
        "OUTDIR`) for a name ending in .html.",
    ),
    scan: bool = shared.SCAN,
    sample: str = shared.SAMPLE,
    refine: bool = shared.REFINE,
    thumbs: bool = typer.Option(
        False,
        "--thumbs",
        help="detect --scan (<stem>.scan.jsonl, <stem>.scan.intervals.jsonl): also the folder "
        "<stem>.scan.thumbs/, the best frame of each interval, boxed.",
    ),
    backend: str = shared.BACKEND,
    allow_url: bool = ALLOW_URL,
    timeout: float | None = TIMEOUT,
    reconnect: int = RECONNECT,
    hwaccel: str = HWACCEL,
    model: str | None = shared.MODEL,
    model_format: str | None = shared.MODEL_FORMAT,
    names: str | None = shared.NAMES,
    conf: float | None = shared.CONF,
    iou: float | None = shared.IOU,
    batch: int | None = shared.BATCH,
    max_det: int | None = shared.MAX_DET,
    engine: str | None = shared.ENGINE,
    device: str | None = shared.DEVICE,
    gpus: str | None = typer.Option(
        None,
        "--gpus",
        help="detect: one shared model per GPU ('0,1' or 'all'); the workers "
        "send it their frames, batched across videos.",
    ),
    classes: list[str] | None = shared.CLASSES,
    size: int | None = shared.SIZE,
    video: bool = typer.Option(False, "--video", help="detect: also write <stem>.mp4 boxed."),
    coco: bool = typer.Option(False, "--coco", help="detect: also write <stem>.coco.json."),
    track: str | None = shared.TRACK,
    track_buffer: float | None = shared.TRACK_BUFFER,
    track_high: float | None = shared.TRACK_HIGH,
    track_new: float | None = shared.TRACK_NEW,
    track_min_hits: int | None = shared.TRACK_MIN_HITS,
    compile_: bool = shared.COMPILE,
    precision: str | None = shared.PRECISION,
    trails: int | None = shared.TRAILS,
    mot: bool = typer.Option(False, "--mot", help="detect --track: also <stem>.mot.txt."),
    export: list[str] | None = shared.EXPORT,
    count_line: list[str] | None = shared.COUNT_LINE,
    zone: list[str] | None = shared.ZONE,
    anchor: str | None = shared.ANCHOR,
    gamma: float | None = shared.GAMMA,
    on: str = shared.GAMMA_ON,
    chroma: str | None = shared.CHROMA,
    filter_: str = shared.CHROMA_FILTER,
    up: str = shared.CHROMA_UP,
    codec: str | None = shared.CODEC,
    crf: int | None = shared.CRF,
    preset: str | None = shared.PRESET,
    pix_fmt: str | None = shared.PIX_FMT,
    bake_rotation: bool = shared.BAKE_ROTATION,
    writer: str | None = shared.WRITER,
) -> None:
    """Run one task over many videos with local worker processes or Ray tasks; a re-run
    resumes (done jobs are skipped, failed ones retried, interrupted ones redone). Exit 1 when
    a job failed. Each task takes the options of its command (detect, gamma, chroma,
    frames) that are no per-file output; the others are refused."""
    given = {
        "model": model, "model_format": model_format,
        "names": str(Path(names).resolve()) if names is not None else None, "conf": conf,
        "iou": iou, "batch": batch, "device": device,
        "classes": classes or None, "size": size, "video": video or None,
        "coco": coco or None, "gamma": gamma, "codec": codec, "crf": crf,
        "preset": preset, "max_det": max_det, "engine": engine, "track": track,
        "track_buffer": track_buffer, "track_high": track_high, "track_new": track_new,
        "track_min_hits": track_min_hits, "compile": compile_ or None, "precision": precision,
        "trails": trails, "mot": mot or None, "export": export or None,
        "count_line": count_line or None, "zone": zone or None, "anchor": anchor,
        "scan": scan or None, "sample": sample, "refine": refine or None,
        "thumbs": thumbs or None, "backend": backend, "on": on, "up": up,
        # one option, the chroma task's value ("to" in its jobs) or a detect job's op
        "to": chroma if task == "chroma" else None,
        "chroma": None if task == "chroma" else chroma,
        "filter": filter_, "pix_fmt": pix_fmt, "bake_rotation": bake_rotation or None,
        "writer": writer,
    }  # fmt: skip
    options = {k: v for k, v in given.items() if v is not None and v != _DEFAULT.get(k)}
    _check_run(jobs, retries, report)
    if runner not in ("local", "ray"):
        raise typer.BadParameter(f"--runner must be local or ray, not {runner!r}")
    if address is not None and runner != "ray":
        raise typer.BadParameter("--address goes with --runner ray")
    servers = _gpus(gpus, task, runner, device) if gpus is not None else ()
    if servers:
        options["device"] = "cuda"  # recorded in the ledger: a CPU run's outputs are redone
    from vidpipe.batch.jobs import discover
    from vidpipe.batch.pool import STOP_GRACE_S
    from vidpipe.batch.runner import Settings, prepare_outdir, run_batch
    from vidpipe.batch.tasks import check_model, check_options
    from vidpipe.runtime.children import reaped_children

    checked = check_options(task, options)  # bad option: exit 2 before any job starts
    if task == "detect":
        check_model(checked)
    check_open_options(backend, timeout, reconnect, hwaccel)
    if hwaccel == "cuda" and runner == "local":  # (Ray's workers may have the GPU)
        from vidpipe.io.hwaccel import use_cuda

        use_cuda(hwaccel)  # without a device: one error before any job
    specs = discover(inputs, outdir, allow_url=allow_url)
    if not specs:
        raise InputError("no input videos found")
    prepare_outdir(outdir)
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # inherited by the workers
    from vidpipe.cli.main import quiet_progress

    settings = Settings(
        jobs, retries, retry_failed, content_hash, quiet_progress(), runner=runner,
        address=address, servers=servers, timeout=timeout, reconnect=reconnect, hwaccel=hwaccel,
    )  # fmt: skip
    # Every worker, model server and multiprocessing's resource tracker is reaped before
    # the command ends, however it ends: none outlives `vidpipe` as an orphan.
    with reaped_children(STOP_GRACE_S):
        result = run_batch(specs, outdir, task, options, settings)
    if report is not None and report.suffix.lower() in (".html", ".htm"):
        from vidpipe.report.batch import write_batch_report

        write_batch_report(outdir, report)
    elif report is not None:
        _write_report(report, result.as_dict())
    _summary(result, quiet=quiet_progress() is True)
    if result.count("failed"):
        raise typer.Exit(1)


def _check_run(jobs: int, retries: int, report: Path | None) -> None:
    if jobs < 1:
        raise typer.BadParameter(f"--jobs must be >= 1, got {jobs}")
    if retries < 1:
        raise typer.BadParameter(f"--retries must be >= 1, got {retries}")
    if report is not None and (report.is_dir() or not report.parent.is_dir()):
        raise InputError(f"{report}: cannot write the report there")


def _gpus(text: str, task: str, runner: str, device: str | None) -> tuple[str, ...]:
    """The model servers' devices of `--gpus`."""
    if task != "detect":
        raise typer.BadParameter("--gpus goes with --task detect")
    if runner != "local":
        raise typer.BadParameter("--gpus goes with --runner local (Ray places GPU tasks itself)")
    if device not in (None, "auto", "cuda"):
        raise typer.BadParameter("--gpus chooses the devices: leave out --device")
    from vidpipe.batch.model_server import parse_gpus

    return parse_gpus(text)


def _write_report(path: Path, content: dict[str, Any]) -> None:
    """The report JSON, written atomically."""
    from vidpipe.runtime.files import atomic_path

    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(content, indent=2) + "\n", encoding="utf-8")


def _summary(result: Any, *, quiet: bool) -> None:
    """Counts and one line per failure on stderr (the failures even with --quiet)."""
    if not quiet:
        counts = ", ".join(f"{result.count(s)} {s}" for s in ("done", "skipped", "failed"))
        typer.echo(f"batch: {counts}", err=True)
    for job in result.results:
        if job.status == "failed":
            error = job.error or "failed"
            where = "" if error.startswith(job.input) else f"{job.input}: "
            typer.echo(f"failed: {where}{error}", err=True)


def register(app: typer.Typer) -> None:
    from vidpipe.cli.main import examples

    app.command(
        "batch",
        epilog=examples(
            "vidpipe batch videos/ -o results/ --task gamma --gamma 2.2 --jobs 2",
            "vidpipe batch videos/ -o dets/ --task detect --model yolox-s --video -q",
            "vidpipe batch videos/ -o dets/ --task detect --gpus all --jobs 12",
            "vidpipe batch videos/ -o scans/ --task detect --scan --sample 2s --thumbs",
            "vidpipe batch in/ -o out/ --task chroma --to 444 --up nearest --codec ffv1",
            "vidpipe batch list.csv -o out/ --task frames --report report.json",
        ),
    )(batch_command)
