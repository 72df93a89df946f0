"""`--runner ray`: the jobs of `vidpipe batch` as Ray tasks, on an existing cluster
(`--address`) or a local Ray instance.

`RayPool` has the `run` / `close` of the local `pool.WorkerPool`, so the driver (which plans
the jobs and is the only writer of the ledger) is the same for both engines. Each job is one
Ray task with a resource request: `num_cpus` = threads per job, `num_gpus` for detect on CUDA;
the task runs `worker.run_job_in_worker`, the local workers' own set-up and job. Tasks write
their outputs to the OUTDIR paths they are given, atomically, as local workers do, so on a
multi-machine cluster OUTDIR (and the inputs) must be on a shared filesystem. A task whose
worker dies or that raises is that job's failure; the others go on.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from typing import Any

from vidpipe.batch.worker import run_job_in_worker
from vidpipe.errors import VidpipeError

log = logging.getLogger(__name__)

WAIT_S = 0.5  # longest wait on the tasks before the driver looks again


def _ray() -> Any:
    try:
        import ray
    except ImportError:
        raise VidpipeError('--runner ray needs Ray: pip install "vidpipe[ray]"') from None
    return ray


class RayPool:
    """Up to `size` jobs in flight as Ray tasks, each asking for `threads` CPUs and `gpus`."""

    def __init__(self, size: int, threads: int, *, address: str | None, gpus: float) -> None:
        ray = _ray()
        self.size, self.threads, self.gpus = size, threads, gpus
        if not ray.is_initialized():
            try:
                if address:
                    ray.init(address=address, logging_level=logging.ERROR)
                else:
                    ray.init(
                        num_cpus=max(size * threads, 1), include_dashboard=False,
                        logging_level=logging.ERROR, log_to_driver=False,
                    )  # fmt: skip
            except (ConnectionError, RuntimeError, ValueError) as exc:
                raise VidpipeError(f"cannot reach Ray at {address or 'a local instance'}: "
                                   f"{' '.join(str(exc).split())[:200]}") from None  # fmt: skip
            self._owns = True
        else:
            self._owns = False
        self._remote = ray.remote(max_retries=0)(run_job_in_worker)

    def run(self, jobs: Sequence[Any], on_start: Any, on_finish: Any) -> None:
        """Run every job; `on_start(job)` before it is submitted, `on_finish(job, error,
        seconds, checksums)` when it ends (error None: done)."""
        ray = _ray()
        queue = list(jobs)[::-1]
        pending: dict[Any, Any] = {}
        while queue or pending:
            while queue and len(pending) < self.size:
                job = queue.pop()
                on_start(job)
                ref = self._remote.options(num_cpus=self.threads, num_gpus=self.gpus).remote(
                    job, self.threads
                )
                pending[ref] = job
            done, _ = ray.wait(list(pending), num_returns=1, timeout=WAIT_S)
            for ref in done:
                job = pending.pop(ref)
                try:
                    _, _, error, seconds, sums = ray.get(ref)
                except Exception as exc:  # the task's worker died or Ray failed it
                    error, seconds, sums = _reason(exc), 0.0, {}
                on_finish(job, error, seconds, sums)

    def close(self) -> None:
        """Shut down the local Ray instance this pool started (a cluster is left running)."""
        ray = _ray()
        if self._owns and ray.is_initialized():
            ray.shutdown()


def _reason(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return f"Ray task failed: {type(exc).__name__}: {text[:200]}"


def gpus_per_task(task: str, options: dict[str, Any]) -> float:
    """1 GPU for a detect job on CUDA (one model per GPU), else none."""
    device = str(options.get("device") or "cpu")
    return 1.0 if task == "detect" and device.startswith("cuda") else 0.0


def address_from_env(address: str | None) -> str | None:
    """`--address`, else $RAY_ADDRESS (Ray's own variable), else None (local instance)."""
    return address or os.environ.get("RAY_ADDRESS") or None
