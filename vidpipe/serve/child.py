"""`python -m vidpipe.serve.child FOLDER`: one batch of `vidpipe serve`, run in a process of
its own as `vidpipe batch` runs it (the same `run_batch`, the ledger in FOLDER/out), so that
cancelling it, or the service dying, stops exactly its worker processes. Exit 0 when every
job is done, 1 when one failed, 2 for a request that cannot run (then `log.txt` says why).
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """SIGTERM this process when the service that started it dies (even by kill -9): an
    orphan batch would go on writing into a ledger the restarted service resumes too."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):  # not Linux: the service's shutdown stops it
        pass


def end(process: subprocess.Popen[bytes], grace_s: float) -> None:
    """End a child of the service (a batch's or a camera's process, the leader of its own
    process group): SIGTERM, which it takes as a first Ctrl-C (a batch stops its workers, a
    live run closes its segment); its whole group killed if it has not ended in `grace_s`."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def main(folder: Path) -> int:
    from vidpipe.batch.jobs import discover
    from vidpipe.batch.pool import STOP_GRACE_S
    from vidpipe.batch.runner import Settings, run_batch
    from vidpipe.errors import VidpipeError
    from vidpipe.runtime.children import reaped_children

    die_with_parent()
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
