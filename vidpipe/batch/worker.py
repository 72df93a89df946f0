"""What runs inside a `vidpipe batch` worker process: the `Job` a worker is given, the local
worker's main loop (`_worker_main`) and the one-job entry point of other engines
(`run_job_in_worker`, a Ray task).

A worker runs one job at a time by calling `tasks.run_task` (never the CLI), with
its share of the cores for CPU inference (`set_thread_budget(threads)`) and
OMP_WAIT_POLICY=PASSIVE, and answers ("done"|"failed", key, error, seconds, checksums).
SIGINT is the driver's to handle; SIGTERM stops the job (its temporary files removed).
Starting and watching workers is `pool.py`'s business; recording results is the driver's.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing.connection
import os
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vidpipe.batch.ledger import sha256_output
from vidpipe.batch.tasks import run_task
from vidpipe.runtime.budget import set_thread_budget
from vidpipe.runtime.children import ignore_sigint
from vidpipe.runtime.signals import interrupt

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Job:
    """What a worker runs: `outputs` are absolute paths, `rel_outputs` relative to OUTDIR."""

    key: str
    task: str
    input: str
    outputs: tuple[str, ...]
    rel_outputs: tuple[str, ...]
    options: dict[str, Any]
    timeout: float | None = None  # a stream input's (a URL, a capture device)
    reconnect: int = 0
    hwaccel: str = "auto"  # --hwaccel (`vidpipe.io.hwaccel`)


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
            set_thread_budget(threads)  # its share of the cores for CPU inference
            conn.send(_run_one(job, threads, server))


def run_job_in_worker(job: Job, threads: int) -> tuple[str, str, str | None, float, dict]:
    """One job in a worker of another engine (a Ray task): the same set-up and result as a
    local worker's."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    set_thread_budget(threads)
    return _run_one(job, threads)


def _run_one(
    job: Job, threads: int, server: str | None = None
) -> tuple[str, str, str | None, float, dict[str, str]]:
    start = time.perf_counter()
    try:
        run_task(job.task, job.input, list(job.outputs), job.options, threads=threads,
                 server=server, timeout=job.timeout, reconnect=job.reconnect,
                 hwaccel=job.hwaccel)  # fmt: skip
        sums = {
            rel: sha256_output(Path(p)) for rel, p in zip(job.rel_outputs, job.outputs, strict=True)
        }
        return "done", job.key, None, time.perf_counter() - start, sums
    except Exception as exc:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        log.debug("job %s failed", job.key, exc_info=True)
        return "failed", job.key, reason, time.perf_counter() - start, {}
