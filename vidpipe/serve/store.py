"""Where `vidpipe serve` keeps its batches: `DATA/batches/<id>/` holds `request.json` (the
checked request: inputs, task, options), `state.json` (queued, running, done, failed,
cancelled, error; with the exit code and times), `out/` (the batch's OUTDIR, its ledger
inside) and `log.txt` (the batch's stderr). The store is the service's memory: a restarted
service reads it back and resumes what was queued or running (the ledger skips done jobs).
"""

from __future__ import annotations

import json
import os
import secrets
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from vidpipe.errors import InputError
from vidpipe.runtime.files import atomic_path

STATES = ("queued", "running", "done", "failed", "cancelled", "error")
ACTIVE = ("queued", "running")


@dataclass
class BatchState:
    """A batch's life: state, when it changed, the runner's exit code, its attempts."""

    state: str = "queued"
    created: float = field(default_factory=time.time)
    updated: float = field(default_factory=time.time)
    exit_code: int | None = None
    runs: int = 0  # times it was started (a restart resumes: a second run)
    retry_failed: bool = False  # the next run resets failed jobs' attempts (`retry`)
    message: str = ""  # why it ended in error / was cancelled


class Store:
    """The batches under `data`/batches."""

    def __init__(self, data: Path) -> None:
        self.root = data / "batches"
        self.root.mkdir(parents=True, exist_ok=True)

    def folder(self, batch: str) -> Path:
        """The folder of batch `batch`; InputError (404) for one that is not there."""
        if not batch.isalnum() or not (self.root / batch / "request.json").is_file():
            raise InputError(f"no batch {batch!r}")
        return self.root / batch

    def create(self, request: dict[str, Any]) -> str:
        """A new batch of `request` (checked), queued; returns its id."""
        batch = time.strftime("%Y%m%d%H%M%S") + secrets.token_hex(3)
        folder = self.root / batch
        (folder / "out").mkdir(parents=True)
        with atomic_path(folder / "request.json") as tmp:
            tmp.write_text(json.dumps(request, indent=1))
        self.save(batch, BatchState())
        return batch

    def ids(self) -> list[str]:
        """Every batch, oldest first."""
        return sorted(p.name for p in self.root.iterdir() if (p / "request.json").is_file())

    def request(self, batch: str) -> dict[str, Any]:
        return json.loads((self.folder(batch) / "request.json").read_text())

    def state(self, batch: str) -> BatchState:
        path = self.folder(batch) / "state.json"
        return BatchState(**json.loads(path.read_text())) if path.is_file() else BatchState()

    def save(self, batch: str, state: BatchState) -> None:
        state.updated = time.time()
        with atomic_path(self.root / batch / "state.json") as tmp:
            tmp.write_text(json.dumps(asdict(state)))

    def outdir(self, batch: str) -> Path:
        return self.folder(batch) / "out"

    def log(self, batch: str) -> Path:
        return self.folder(batch) / "log.txt"


def confined(path: str, roots: list[Path]) -> str:
    """`path` (absolute, symlinks resolved) when it lies under one of `roots` (resolved
    too); InputError naming it otherwise: a `..` part, a symlink out, or another place."""
    if "\x00" in path or not os.path.isabs(path):
        raise InputError(f"{path!r}: inputs are absolute paths")
    if ".." in Path(path).parts:
        raise InputError(f"{path}: '..' is not allowed in an input")
    real = os.path.realpath(path)
    for root in roots:
        top = os.path.realpath(root)
        if os.path.commonpath([top, real]) == top:
            return real
    raise InputError(f"{path}: outside the allowed roots (--root)")
