"""Local worker processes for `vidpipe batch`, and the driver that plans and records a run.

    run_batch: lock OUTDIR ─► remove leftover temp files ─► take over `running` rows ─►
               decide per job (skip / run / exhausted) ─► WorkerPool ─► ledger ─► BatchReport

`WorkerPool` owns N worker processes started with the "spawn" context, one duplex pipe
each; a worker runs one job at a time by calling `tasks.run_task` (never the CLI), with
torch.set_num_threads(threads) and OMP_WAIT_POLICY=PASSIVE. The driver waits on the pipes
and the process sentinels together, so a worker that dies (segfault, killed) is seen at
once: its job is failed with the signal as reason and a fresh worker takes its place.
No threads are created here; the driver is the ledger's only writer.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import functools
import logging
import multiprocessing
import multiprocessing.connection
import os
import signal
import sys
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from vidpipe.batch import ledger as ledger_mod
from vidpipe.batch.jobs import LEDGER_NAME, JobSpec, inside_outdir
from vidpipe.batch.ledger import sha256_file
from vidpipe.batch.tasks import check_options, output_names, run_task
from vidpipe.errors import InputError
from vidpipe.runtime.concurrency import cpu_cores, ignore_sigint, interrupt, reap, start_process
from vidpipe.runtime.files import TEMP_NAME

log = logging.getLogger(__name__)

LOCK_NAME = ".vidpipe-batch.lock"
WAIT_S = 0.5  # longest wait on the workers before the bar refreshes
STOP_GRACE_S = 5.0  # a stopped worker's time to remove its temporary files


@dataclass(frozen=True)
class Job:
    """What a worker runs: `outputs` are absolute paths, `rel_outputs` relative to OUTDIR."""

    key: str
    task: str
    input: str
    outputs: tuple[str, ...]
    rel_outputs: tuple[str, ...]
    options: dict[str, Any]


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
    engine: str = "local"  # "local" worker processes or "ray" tasks
    address: str | None = None  # Ray cluster address (None: $RAY_ADDRESS or a local Ray)
    servers: tuple[str, ...] = ()  # detect: one shared model server per device (--gpus)


# --- the worker process ------------------------------------------------------------------


def _stop_worker(signum: int, _frame: object) -> None:
    interrupt(signum)  # as the CLI does: held off while a child process is taken charge of


def _worker_main(
    conn: multiprocessing.connection.Connection, threads: int, level: int, server: str | None
) -> None:
    """A worker: receive Job, run it, send ("done"|"failed", key, error, seconds, checksums);
    None or a closed pipe ends it. SIGINT is the driver's to handle; SIGTERM stops the job
    (temporary files removed) and the worker. server: its model server's address (--gpus)."""
    ignore_sigint()
    os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
    signal.signal(signal.SIGTERM, _stop_worker)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
    root = logging.getLogger("vidpipe")
    root.handlers[:], root.propagate = [handler], False
    root.setLevel(level)
    with contextlib.suppress(KeyboardInterrupt, EOFError, BrokenPipeError):
        while (job := conn.recv()) is not None:
            if job.task == "detect":  # the others need no torch: their workers start faster
                _torch_threads(threads)
            conn.send(_run_one(job, threads, server))


def run_job_in_worker(job: Job, threads: int) -> tuple[str, str, str | None, float, dict]:
    """One job in a worker of another engine (a Ray task): the same set-up and result as a
    local worker's."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    if job.task == "detect":
        _torch_threads(threads)
    return _run_one(job, threads)


@functools.cache
def _torch_threads(threads: int) -> None:
    """Import torch in this worker and give it `threads` threads (once)."""
    import torch

    torch.set_num_threads(threads)


def _run_one(
    job: Job, threads: int, server: str | None = None
) -> tuple[str, str, str | None, float, dict[str, str]]:
    start = time.perf_counter()
    try:
        run_task(
            job.task, job.input, list(job.outputs), job.options, threads=threads, server=server
        )
        sums = {
            rel: sha256_file(Path(p)) for rel, p in zip(job.rel_outputs, job.outputs, strict=True)
        }
        return "done", job.key, None, time.perf_counter() - start, sums
    except Exception as exc:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        log.debug("job %s failed", job.key, exc_info=True)
        return "failed", job.key, reason, time.perf_counter() - start, {}


# --- the pool ----------------------------------------------------------------------------


@dataclass
class _Worker:
    process: multiprocessing.process.BaseProcess
    conn: multiprocessing.connection.Connection
    job: Job | None = None


OnStart = Callable[[Job], None]
OnFinish = Callable[[Job, str | None, float, dict[str, str]], None]


class WorkerPool:
    """`size` worker processes (spawn), each running one job at a time; with `servers`
    (model server addresses) the workers are spread over them in turn."""

    def __init__(self, size: int, threads: int, servers: Sequence[str] = ()) -> None:
        self.size, self.threads, self.servers = size, threads, list(servers)
        self._ctx = multiprocessing.get_context("spawn")
        self._workers: list[_Worker] = []
        self._spawned = 0

    def _spawn(self) -> _Worker:
        """A new worker, in `_workers` before it starts: a Ctrl-C raised as its start ends
        (`start_process` holds it until then) leaves it to `close`, not unowned."""
        ours, theirs = self._ctx.Pipe(duplex=True)
        level = logging.getLogger("vidpipe").getEffectiveLevel()
        server = self.servers[self._spawned % len(self.servers)] if self.servers else None
        self._spawned += 1
        process = self._ctx.Process(
            target=_worker_main, args=(theirs, self.threads, level, server),
            name="vidpipe-batch-worker",
        )  # fmt: skip
        worker = _Worker(process, ours)
        self._workers.append(worker)
        try:
            start_process(process)
        except BaseException:
            if process.pid is None:  # not started: nothing to stop
                self._workers.remove(worker)
                ours.close()
            raise
        finally:
            theirs.close()
        return worker

    def run(self, jobs: Sequence[Job], on_start: OnStart, on_finish: OnFinish) -> None:
        """Run every job; `on_start` before a job is sent, `on_finish(job, error, seconds,
        checksums)` when it ends (error None: done). A dead worker fails its job only."""
        queue = deque(jobs)
        while queue or any(w.job for w in self._workers):
            while queue and (idle := self._idle()) is not None:
                idle.job = queue.popleft()
                on_start(idle.job)
                with contextlib.suppress(OSError):  # a dead worker: its sentinel says so
                    idle.conn.send(idle.job)
            busy = [w for w in self._workers if w.job is not None]
            handles = [w.conn for w in busy] + [w.process.sentinel for w in busy]
            ready = set(multiprocessing.connection.wait(handles, timeout=WAIT_S))
            for worker in busy:
                if worker.conn in ready or worker.process.sentinel in ready:
                    self._collect(worker, on_finish)

    def _idle(self) -> _Worker | None:
        for worker in [w for w in self._workers if w.job is None and not w.process.is_alive()]:
            worker.process.join()
            worker.conn.close()
            self._workers.remove(worker)
        for worker in self._workers:
            if worker.job is None:
                return worker
        if len(self._workers) < self.size:
            return self._spawn()
        return None

    def _collect(self, worker: _Worker, on_finish: OnFinish) -> None:
        job = worker.job
        assert job is not None
        message = None
        with contextlib.suppress(EOFError, OSError):
            if worker.conn.poll():
                message = worker.conn.recv()
        if message is not None:
            _, _, error, seconds, sums = message
            worker.job = None
            on_finish(job, error, seconds, sums)
            return
        if worker.process.is_alive():
            return
        worker.process.join()
        code = worker.process.exitcode or 0
        reason = (f"worker process killed by {signal.Signals(-code).name}" if code < 0
                  else f"worker process exited with code {code}")  # fmt: skip
        self._workers.remove(worker)
        worker.conn.close()
        on_finish(job, reason, 0.0, {})

    def close(self) -> None:
        """Stop every worker: idle ones are told to end, busy ones get SIGTERM (their
        temporary files are removed), then any still alive after STOP_GRACE_S is killed.
        Every worker is reaped before this returns, a second Ctrl-C meanwhile or not."""
        try:
            for worker in self._workers:
                with contextlib.suppress(OSError, ValueError):
                    if worker.job is None:
                        worker.conn.send(None)
                    else:
                        worker.process.terminate()
        finally:
            try:
                reap([w.process for w in self._workers], time.monotonic() + STOP_GRACE_S)
            finally:
                for worker in self._workers:
                    worker.conn.close()
                self._workers.clear()


# --- the driver --------------------------------------------------------------------------


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
    """Remove temporary files (`.<name>.part-<8 hex>`) left under OUTDIR by a killed run."""
    removed = 0
    for dirpath, _, filenames in os.walk(outdir):
        for name in filenames:
            if TEMP_NAME.match(name):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(os.path.join(dirpath, name))
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
    KeyboardInterrupt stops the workers and leaves their jobs `running` (redone next time)."""
    prepare_outdir(outdir)
    with locked(outdir), ledger_mod.Ledger(outdir / LEDGER_NAME) as book:
        remove_leftovers(outdir)
        if taken := book.take_over():
            log.warning("%d jobs left running by an earlier run will be redone", taken)
        results: dict[str, JobResult] = {}
        todo = _plan(specs, outdir, task, options, settings, book, results)
        servers = _execute(todo, book, settings, results, len(specs))
    return BatchReport([results[s.key] for s in specs if s.key in results], servers)


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
            book.refuse(spec.key, str(spec.input), task, "{}", reason)
            results[spec.key] = JobResult(spec.key, str(spec.input), "failed", [], reason)
            continue
        canon = ledger_mod.canonical_options(task, job.options)
        row = book.get(spec.key)
        action, attempts = ledger_mod.decide(
            row, fp, canon, job.rel_outputs, outdir,
            retries=settings.retries, retry_failed=settings.retry_failed,
        )  # fmt: skip
        if action == "run":
            book.plan(spec.key, job.input, fp, task, canon, job.rel_outputs, attempts)
            todo.append(job)
            continue
        assert row is not None
        status = "skipped" if action == "skip" else "failed"
        error = None if action == "skip" else f"{row.error} (after {row.attempts} attempts)"
        results[spec.key] = JobResult(spec.key, job.input, status, list(job.rel_outputs), error)
    return todo


def _job(
    spec: JobSpec, outdir: Path, task: str, options: dict[str, Any], content_hash: bool
) -> tuple[Job, str]:
    """The Job of a spec and its input fingerprint; InputError when it is refused."""
    if spec.error is not None:
        raise InputError(spec.error)
    merged = check_options(task, {**options, **spec.options})
    if not spec.input.is_file():
        raise InputError(f"{spec.input}: no such file")
    fp = ledger_mod.fingerprint(spec.input, content=content_hash)
    rel = output_names(task, spec.stem, spec.input.suffix, merged)
    paths = [inside_outdir(outdir, name) for name in rel]
    for path in paths:
        if os.path.realpath(path) == os.path.realpath(spec.input):
            raise InputError(f"{spec.input}: output would overwrite the input")
        path.parent.mkdir(parents=True, exist_ok=True)
    return Job(spec.key, task, str(spec.input), tuple(map(str, paths)), tuple(rel), merged), fp


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
        running[job.key] = Path(job.input).name
        bar.set_postfix_str(", ".join(running.values()))

    def on_finish(job: Job, error: str | None, seconds: float, sums: dict[str, str]) -> None:
        book.finish(job.key, error=error, seconds=seconds, checksums=sums)
        status = "done" if error is None else "failed"
        results[job.key] = JobResult(job.key, job.input, status, list(job.rel_outputs), error,
                                     seconds)  # fmt: skip
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
    """The engine: local worker processes (using `servers` for detect, when given), or Ray
    tasks (same run / close)."""
    workers = max(1, min(settings.jobs, len(todo)))
    threads = max(1, cpu_cores() // max(1, settings.jobs))
    if settings.engine != "ray":
        return WorkerPool(workers, threads=threads, servers=servers)
    from vidpipe.batch import ray_engine

    gpus = max((ray_engine.gpus_per_task(j.task, j.options) for j in todo), default=0.0)
    address = ray_engine.address_from_env(settings.address)
    return ray_engine.RayPool(workers, threads, address=address, gpus=gpus)
