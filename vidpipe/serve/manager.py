"""`Manager`: runs the service's batches one after another, each in a process of its own
(`vidpipe.serve.child`), stepped by the service's loop (no thread): it starts the oldest
queued batch, polls the running one's process, and records how it ended; `cancel` stops it,
`retry` queues it again (its failed jobs' attempts reset). On start it queues again what a
service that died was running: its ledger resumes it, skipping what is done.
"""

from __future__ import annotations

import logging
import signal
import subprocess
import sys

from vidpipe.errors import InputError
from vidpipe.serve.child import end
from vidpipe.serve.store import ACTIVE, Store

log = logging.getLogger(__name__)

STOP_GRACE_S = 10.0  # a stopped batch's time to end its workers before it is killed


class Manager:
    """The batches of `store`, run one at a time."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.current: tuple[str, subprocess.Popen[bytes]] | None = None
        self._cancelled: set[str] = set()
        self._stopping = False

    def resume(self) -> int:
        """Queue again the batches a service that died left running; returns how many."""
        found = 0
        for batch in self.store.ids():
            state = self.store.state(batch)
            if state.state == "running":
                state.state, found = "queued", found + 1
                self.store.save(batch, state)
        return found

    def step(self) -> None:
        """Record how the running batch ended, if it did; start the oldest queued one."""
        if self.current is not None:
            batch, process = self.current
            code = process.poll()
            if code is None:
                return
            self.current = None
            self._finished(batch, code)
        queued = [b for b in self.store.ids() if self.store.state(b).state == "queued"]
        if queued and not self._stopping:
            self._start(queued[0])

    def _start(self, batch: str) -> None:
        state = self.store.state(batch)
        with open(self.store.log(batch), "ab") as log_file:
            process = subprocess.Popen(
                [sys.executable, "-m", "vidpipe.serve.child", str(self.store.folder(batch))],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log_file,
                start_new_session=True,
            )  # fmt: skip
        self.current = (batch, process)
        state.state, state.runs, state.exit_code = "running", state.runs + 1, None
        self.store.save(batch, state)
        log.info("batch %s started (pid %d)", batch, process.pid)

    def _finished(self, batch: str, code: int) -> None:
        state = self.store.state(batch)
        state.exit_code, state.retry_failed = code, False
        if batch in self._cancelled:
            self._cancelled.discard(batch)
            state.state, state.message = "cancelled", "cancelled by a request"
        elif code in (0, 1):
            state.state = "done" if code == 0 else "failed"
        else:
            lines = self.store.log(batch).read_text(errors="replace").strip().splitlines()
            state.state, state.message = "error", (lines[-1] if lines else f"exit code {code}")
        self.store.save(batch, state)
        log.info("batch %s ended %s (exit code %d)", batch, state.state, code)

    def cancel(self, batch: str) -> None:
        """Stop a running batch (its workers end, their jobs are redone if it is retried)
        or drop a queued one. InputError for a batch that is not active."""
        state = self.store.state(batch)
        if state.state not in ACTIVE:
            raise InputError(f"batch {batch} is {state.state}: nothing to cancel")
        if self.current is not None and self.current[0] == batch:
            self._cancelled.add(batch)
            self.current[1].send_signal(signal.SIGTERM)  # it stops its workers, as on Ctrl-C
            return
        state.state, state.message = "cancelled", "cancelled by a request"
        self.store.save(batch, state)

    def retry(self, batch: str) -> None:
        """Queue an ended batch again; its failed jobs get their attempts back."""
        state = self.store.state(batch)
        if state.state in ACTIVE:
            raise InputError(f"batch {batch} is {state.state}: it is not over")
        state.state, state.retry_failed, state.message = "queued", True, ""
        self.store.save(batch, state)

    def stop(self) -> None:
        """End the running batch's process (the service stops): its state stays `running`,
        so the next service resumes it."""
        self._stopping = True
        if self.current is None:
            return
        end(self.current[1], STOP_GRACE_S)
        self.current = None
