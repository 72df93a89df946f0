"""The driver of `vidpipe batch`: it plans a run, hands the jobs to a runner and records
every result in the ledger (its only writer).

    run_batch: lock OUTDIR ─► remove leftover temp files ─► take over `running` rows ─►
               decide per job (skip / run / exhausted) ─► runner ─► ledger ─► BatchReport

Owns `Settings`, `JobResult`, `BatchReport`, the OUTDIR lock, the removal of temporary files
left by a killed run, output folder creation, per-job planning and the choice of runner
(`_pool`): the local `pool.WorkerPool` or `ray_engine.RayPool`, with one model server per
device (`model_server.ModelServers`) for `--gpus`. What runs in a worker is `worker.py`'s.
No threads are created here.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import logging
import os
import shutil
import sys
import time
import urllib.parse
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from tqdm import tqdm

from vidpipe.batch import ledger as ledger_mod
from vidpipe.batch.jobs import LEDGER_NAME, VIDEO_EXTENSIONS, JobSpec, inside_outdir
from vidpipe.batch.pool import WorkerPool
from vidpipe.batch.tasks import check_options, output_names
from vidpipe.batch.worker import Job
from vidpipe.errors import InputError
from vidpipe.io.inputs import redact
from vidpipe.runtime.budget import cpu_cores
from vidpipe.runtime.files import TEMP_NAME

log = logging.getLogger(__name__)

SCAN_SUFFIX = ".scan"  # a scan job's stem: "clip.scan.jsonl", "clip.scan.intervals.jsonl"

LOCK_NAME = ".vidpipe-batch.lock"


@dataclass(frozen=True)
class JobResult:
    """How a job ended in this run: status done | skipped | failed."""

    key: str
    input: str
    status: str
    outputs: list[str]
    error: str | None = None
    seconds: float = 0.0


@dataclass
class BatchReport:
    """Every job of the run, in input order."""

    results: list[JobResult] = field(default_factory=list)
    servers: list[Any] = field(default_factory=list)  # model_server.ServerStats, --gpus runs

    def count(self, status: str) -> int:
        return sum(1 for r in self.results if r.status == status)

    def as_dict(self) -> dict[str, Any]:
        """The `--report` JSON: per job input, status, outputs, error, seconds; totals."""
        jobs = [
            {"input": r.input, "status": r.status, "outputs": r.outputs, "error": r.error,
             "seconds": round(r.seconds, 3)}
            for r in self.results
        ]  # fmt: skip
        totals = {s: self.count(s) for s in ("done", "skipped", "failed")}
        totals["jobs"] = len(self.results)
        totals["seconds"] = round(sum(r.seconds for r in self.results), 3)
        report: dict[str, Any] = {"jobs": jobs, "totals": totals}
        if self.servers:
            report["model_servers"] = [dataclasses.asdict(s) for s in self.servers]
        return report


@dataclass(frozen=True)
class Settings:
    """How a run goes: worker count, retries, content hashing, progress bar."""

    jobs: int = 1
    retries: int = 2
    retry_failed: bool = False
    content_hash: bool = False
    progress: bool | None = None  # tqdm's `disable` (True: no bar)
    runner: str = "local"  # "local" worker processes or "ray" tasks
    address: str | None = None  # Ray cluster address (None: $RAY_ADDRESS or a local Ray)
    servers: tuple[str, ...] = ()  # detect: one shared model server per device (--gpus)
    timeout: float | None = None  # a stream's opening and reads (None: NETWORK_TIMEOUT_S)
    reconnect: int = 0  # a live stream's reconnections in a row
    hwaccel: str = "auto"  # where every job's frames are decoded (not in its ledger identity)


@contextlib.contextmanager
def locked(outdir: Path) -> Iterator[None]:
    """Hold OUTDIR's lock file for the run; InputError when another driver holds it.
    The kernel drops the lock when the process dies, however it dies."""
    fd = os.open(outdir / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise InputError(f"{outdir}: another vidpipe batch is running there") from None
        yield
    finally:
        os.close(fd)


def remove_leftovers(outdir: Path) -> int:
    """Remove temporary files and folders (`.<name>.part-<8 hex>`) left under OUTDIR by a
    killed run."""
    removed = 0
    for dirpath, dirnames, filenames in os.walk(outdir):
        for name in filenames:
            if TEMP_NAME.match(name):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(os.path.join(dirpath, name))
                    removed += 1
        for name in [d for d in dirnames if TEMP_NAME.match(d)]:
            dirnames.remove(name)
            shutil.rmtree(os.path.join(dirpath, name), ignore_errors=True)
            removed += 1
    if removed:
        log.info("removed %d temporary files left by an earlier run", removed)
    return removed


def prepare_outdir(outdir: Path) -> None:
    """Create OUTDIR; InputError when it is a file or cannot be created."""
    if outdir.exists() and not outdir.is_dir():
        raise InputError(f"{outdir}: output folder exists and is not a folder")
    try:
        outdir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"{outdir}: cannot create the output folder: {exc.strerror}") from None


def run_batch(
    specs: Sequence[JobSpec], outdir: Path, task: str, options: dict[str, Any],
    settings: Settings,
) -> BatchReport:  # fmt: skip
    """Run `task` over `specs` into `outdir` (created), resuming from its ledger.
    KeyboardInterrupt stops the workers and leaves their jobs `running` (redone next time).
    A scan's jobs (detect with `scan`) are `<stem>.scan`: their outputs and ledger rows sit
    beside a full pass's of the same input."""
    specs = [_scan_stem(spec, task, options) for spec in specs]
    prepare_outdir(outdir)
    with locked(outdir), ledger_mod.Ledger(outdir / LEDGER_NAME) as book:
        remove_leftovers(outdir)
        if taken := book.take_over():
            log.warning("%d jobs left running by an earlier run will be redone", taken)
        results: dict[str, JobResult] = {}
        todo = _plan(specs, outdir, task, options, settings, book, results)
        try:
            servers = _execute(todo, book, settings, results, len(specs))
        finally:
            # Its workers are reaped by now; one stopped mid-file (Ctrl-C landing before its
            # own clean-up could run, a kill) leaves its temporary file: none outlives the run.
            remove_leftovers(outdir)
    return BatchReport([results[s.key] for s in specs if s.key in results], servers)


def _scan_stem(spec: JobSpec, task: str, options: dict[str, Any]) -> JobSpec:
    if task == "detect" and {**options, **spec.options}.get("scan"):
        return dataclasses.replace(spec, stem=spec.stem + SCAN_SUFFIX)
    return spec


def _plan(
    specs: Sequence[JobSpec], outdir: Path, task: str, options: dict[str, Any],
    settings: Settings, book: ledger_mod.Ledger, results: dict[str, JobResult],
) -> list[Job]:  # fmt: skip
    todo = []
    for spec in specs:
        try:
            job, fp = _job(spec, outdir, task, options, settings.content_hash)
        except (InputError, OSError) as exc:
            reason = spec.error or str(exc)
            shown = redact(str(spec.input))
            book.refuse(spec.key, shown, task, "{}", reason)
            results[spec.key] = JobResult(spec.key, shown, "failed", [], reason)
            continue
        canon = ledger_mod.canonical_options(task, job.options)
        row = book.get(spec.key)
        action, attempts = ledger_mod.decide(
            row, fp, canon, job.rel_outputs, outdir,
            retries=settings.retries, retry_failed=settings.retry_failed,
        )  # fmt: skip
        if action == "run":
            job = dataclasses.replace(job, hwaccel=settings.hwaccel)
            if isinstance(spec.input, str):
                job = dataclasses.replace(job, timeout=settings.timeout,
                                          reconnect=settings.reconnect)  # fmt: skip
            book.plan(spec.key, redact(job.input), fp, task, canon, job.rel_outputs, attempts)
            todo.append(job)
            continue
        assert row is not None
        status = "skipped" if action == "skip" else "failed"
        error = None if action == "skip" else f"{row.error} (after {row.attempts} attempts)"
        results[spec.key] = JobResult(spec.key, redact(job.input), status, list(job.rel_outputs),
                                      error)  # fmt: skip
    return todo


def _job(
    spec: JobSpec, outdir: Path, task: str, options: dict[str, Any], content_hash: bool
) -> tuple[Job, str]:
    """The Job of a spec and its input fingerprint; InputError when it is refused."""
    if spec.error is not None:
        raise InputError(spec.error)
    merged = check_options(task, {**options, **spec.options})
    if isinstance(spec.input, str):  # a stream: no fingerprint, so its job always runs
        fp = f"stream:{time.time_ns()}"
        suffix = PurePosixPath(urllib.parse.urlsplit(spec.input).path).suffix
        suffix = suffix if suffix.lower() in VIDEO_EXTENSIONS else ".mp4"
    else:
        if not spec.input.is_file():
            raise InputError(f"{spec.input}: no such file")
        fp = ledger_mod.fingerprint(spec.input, content=content_hash)
        suffix = spec.input.suffix
    rel = output_names(task, spec.stem, suffix, merged)
    paths = [inside_outdir(outdir, name) for name in rel]
    for path in paths:
        if os.path.realpath(path) == os.path.realpath(spec.input):
            raise InputError(f"{spec.input}: output would overwrite the input")
        path.parent.mkdir(parents=True, exist_ok=True)
    job = Job(spec.key, task, str(spec.input), tuple(map(str, paths)), tuple(rel), merged)
    return job, fp


def _execute(
    todo: list[Job], book: ledger_mod.Ledger, settings: Settings,
    results: dict[str, JobResult], total: int,
) -> list[Any]:  # fmt: skip
    """Run `todo`, recording each job; returns the model servers' stats (--gpus runs)."""
    running: dict[str, str] = {}
    bar = tqdm(total=total, unit="file", desc="batch", file=sys.stderr, disable=settings.progress)
    bar.update(len(results))

    def on_start(job: Job) -> None:
        book.start(job.key)
        running[job.key] = Path(redact(job.input)).name
        bar.set_postfix_str(", ".join(running.values()))

    def on_finish(job: Job, error: str | None, seconds: float, sums: dict[str, str]) -> None:
        book.finish(job.key, error=error, seconds=seconds, checksums=sums)
        status = "done" if error is None else "failed"
        results[job.key] = JobResult(job.key, redact(job.input), status, list(job.rel_outputs),
                                     error, seconds)  # fmt: skip
        running.pop(job.key, None)
        bar.set_postfix_str(", ".join(running.values()), refresh=False)
        bar.update(1)

    servers = None
    try:
        if todo:  # nothing to run: no workers (nor a Ray instance) to start
            with contextlib.ExitStack() as stack:
                if settings.servers and any(job.task == "detect" for job in todo):
                    from vidpipe.batch.model_server import ModelServers

                    threads = max(1, cpu_cores() // max(1, settings.jobs))
                    servers = stack.enter_context(ModelServers(settings.servers, threads))
                pool = _pool(todo, settings, servers.addresses if servers else ())
                stack.callback(pool.close)
                pool.run(todo, on_start, on_finish)
    finally:
        bar.close()
    if servers is None:
        return []
    for stats in servers.stats:
        log.info("model server %s: %d frames in %d forward passes, up to %d videos (%d frames) "
                 "in one", stats.device, stats.frames, stats.passes, stats.max_streams,
                 stats.max_frames)  # fmt: skip
    return servers.stats


def _pool(todo: list[Job], settings: Settings, servers: Sequence[str]) -> WorkerPool | Any:
    """The runner: local worker processes (using `servers` for detect, when given), or Ray
    tasks (same run / close)."""
    workers = max(1, min(settings.jobs, len(todo)))
    threads = max(1, cpu_cores() // max(1, settings.jobs))
    if settings.runner != "ray":
        return WorkerPool(workers, threads=threads, servers=servers)
    from vidpipe.batch import ray_engine

    gpus = max((ray_engine.gpus_per_task(j.task, j.options) for j in todo), default=0.0)
    address = ray_engine.address_from_env(settings.address)
    return ray_engine.RayPool(workers, threads, address=address, gpus=gpus)
