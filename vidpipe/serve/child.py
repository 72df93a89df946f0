"""`python -m vidpipe.serve.child FOLDER`: one batch of `vidpipe serve`, run in a process of
its own as `vidpipe batch` runs it (the same `run_batch`, the ledger in FOLDER/out), so that
cancelling it, or the service dying, stops exactly its worker processes. Exit 0 when every
job is done, 1 when one failed, 2 for a request that cannot run (then `log.txt` says why).
"""

from __future__ import annotations

import ctypes
import json
import signal
import sys
from pathlib import Path

PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """SIGTERM this process when the service that started it dies (even by kill -9): an
    orphan batch would go on writing into a ledger the restarted service resumes too."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):  # not Linux: the service's shutdown stops it
        pass


def main(folder: Path) -> int:
    from vidpipe.batch.jobs import discover
    from vidpipe.batch.pool import STOP_GRACE_S
    from vidpipe.batch.runner import Settings, run_batch
    from vidpipe.errors import VidpipeError
    from vidpipe.runtime.children import reaped_children

    _die_with_parent()
    request = json.loads((folder / "request.json").read_text())
    state = json.loads((folder / "state.json").read_text())
    outdir = folder / "out"
    try:
        specs = discover(request["inputs"], outdir, allow_url=request["allow_url"])
        settings = Settings(jobs=request["jobs"], retries=request["retries"],
                            retry_failed=state.get("retry_failed", False),
                            progress=True)  # fmt: skip
        with reaped_children(STOP_GRACE_S):
            report = run_batch(specs, outdir, request["task"], request["options"], settings)
    except VidpipeError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    for job in report.results:
        if job.status == "failed":
            print(f"failed: {job.input}: {job.error}", file=sys.stderr)
    return 1 if report.count("failed") else 0


if __name__ == "__main__":
    from vidpipe.runtime.signals import interrupt

    for signum in (signal.SIGINT, signal.SIGTERM):  # as the CLI stops (a live run: gracefully)
        signal.signal(signum, lambda number, _frame: interrupt(number))
    try:
        sys.exit(main(Path(sys.argv[1])))
    except KeyboardInterrupt:
        sys.exit(130)
