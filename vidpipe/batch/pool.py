"""The local engine of `vidpipe batch`: `WorkerPool`, N worker processes started with the
"spawn" context, one duplex pipe each, running the driver's jobs one at a time each.

The pool waits on the pipes and the process sentinels together, so a worker that dies
(segfault, killed) is seen at once: its job is failed with the signal as reason and a fresh
worker takes its place. `close` stops and reaps every worker. What a worker does is
`worker.py`'s; the driver (`runner.py`) hears of each job through `OnStart` / `OnFinish`.
No threads are created here.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import multiprocessing.connection
import signal
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from vidpipe.batch.worker import Job, _worker_main
from vidpipe.runtime.children import reap, start_process

WAIT_S = 0.5  # longest wait on the workers before the bar refreshes
STOP_GRACE_S = 5.0  # a stopped worker's time to remove its temporary files


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
