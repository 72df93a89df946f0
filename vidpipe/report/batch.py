"""A `vidpipe batch` output folder, read back for its page: the jobs table from the ledger
(`OUTDIR/.vidpipe-batch.sqlite`, read only) and the runs of its finished detect jobs.

A row: the job's input, task, status, last error, seconds, and for a detect job its frames
(the lines of `<stem>.jsonl`) and frames per second. A finished detect job is a `Run` of its
input video (or, where the input is not at hand, its `--video` output) and its results; the
row names its section.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from vidpipe.batch.jobs import LEDGER_NAME
from vidpipe.batch.ledger import read_rows
from vidpipe.errors import InputError
from vidpipe.report.page import Run, write_report

BATCH_THUMBS = 6  # the most thumbnails of a batch's video
DETECTIONS, EVENTS, VIDEO = ".jsonl", ".events.jsonl", ".mp4"
NOT_DETECTIONS = (".events.jsonl", ".intervals.jsonl", ".frames.jsonl")


def read_batch(outdir: str | os.PathLike[str]) -> tuple[list[dict[str, Any]], list[Run]]:
    """(jobs table rows, runs of the finished detect jobs) of a batch's output folder.
    InputError when it has no ledger, or one SQLite cannot read."""
    folder = Path(outdir)
    ledger = folder / LEDGER_NAME
    if not ledger.is_file():
        raise InputError(f"{outdir}: not a `vidpipe batch` output folder (no {LEDGER_NAME})")
    jobs, runs = [], []
    for row in read_rows(ledger):
        seconds = row.seconds
        job = {"key": row.key, "input": row.input, "task": row.task, "status": row.status,
               "error": row.error, "seconds": None if seconds is None else round(seconds, 3),
               "frames": None, "fps": None, "section": None}  # fmt: skip
        run = _run(folder, row.input, row.task, row.status, row.outputs)
        if run is not None:
            job["frames"] = _lines(run.detections)
            if seconds:
                job["fps"] = round(job["frames"] / seconds, 1)
            job["section"] = len(runs)
            runs.append(run)
        jobs.append(job)
    return jobs, runs


def _run(folder: Path, source: str, task: str, status: str, outputs: list[str]) -> Run | None:
    if task != "detect" or status != "done":
        return None
    names = [folder / name for name in outputs]
    dets = [p for p in names if p.name.endswith(DETECTIONS) and not p.name.endswith(NOT_DETECTIONS)]
    if not dets or not dets[0].is_file():
        return None
    events = next((p for p in names if p.name.endswith(EVENTS) and p.is_file()), None)
    video = source
    if not os.path.isfile(source):
        drawn = next((p for p in names if p.suffix == VIDEO and p.is_file()), None)
        video = str(drawn) if drawn else source
    return Run(video, str(dets[0]), None if events is None else str(events))


def _lines(path: str) -> int:
    with open(path, "rb") as handle:
        return sum(1 for line in handle if line.strip())


def write_batch_report(outdir: str | os.PathLike[str], out: str | os.PathLike[str], *,
                       title: str | None = None, gop: bool = False) -> None:  # fmt: skip
    """The page of a batch's output folder (`vidpipe report OUTDIR`, `batch --report
    F.html`): its jobs table, and a section per finished detect job."""
    jobs, runs = read_batch(outdir)
    write_report(runs, out, title=title or os.fspath(outdir), gop=gop, jobs=jobs,
                 thumbs=BATCH_THUMBS)  # fmt: skip
