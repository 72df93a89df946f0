"""The resumable job ledger of `vidpipe batch`: one SQLite file per OUTDIR.

Owns the schema, the only writer's updates (the driver process), the input fingerprint and
the decision a re-run takes for each job (`decide`): skip (done, same input and options,
outputs present with their recorded sha256), run, or leave failed (retries spent).

Table `jobs`, one row per job (key = output stem relative to OUTDIR):
    key, input, fingerprint ("size:<bytes>:mtime_ns:<ns>" or "sha256:<hex>"), task,
    options (canonical JSON), status (pending | running | done | failed), attempts
    (finished attempts: done or failed), error (last one-line reason), started_at /
    finished_at (Unix seconds), seconds (duration of the last attempt), outputs (JSON list
    of paths relative to OUTDIR), checksums (JSON object path -> sha256 hex of
    `sha256_output`: a folder's by its files).
A row left `running` belongs to a driver that died: `take_over` turns it back to pending.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from vidpipe.errors import InputError

STATUSES = ("pending", "running", "done", "failed")
Action = Literal["skip", "run", "exhausted"]
_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    key TEXT PRIMARY KEY,
    input TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    task TEXT NOT NULL,
    options TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'running', 'done', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    error TEXT,
    started_at REAL,
    finished_at REAL,
    seconds REAL,
    outputs TEXT NOT NULL DEFAULT '[]',
    checksums TEXT NOT NULL DEFAULT '{}'
)
"""
CHUNK_BYTES = 1 << 20


@dataclass(frozen=True)
class JobRow:
    """One ledger row (see the module docstring for the fields)."""

    key: str
    input: str
    fingerprint: str
    task: str
    options: str
    status: str
    attempts: int
    error: str | None
    started_at: float | None
    finished_at: float | None
    seconds: float | None
    outputs: list[str]
    checksums: dict[str, str]


def fingerprint(path: Path, *, content: bool = False) -> str:
    """ "size:<bytes>:mtime_ns:<ns>", or "sha256:<hex>" of the bytes when `content`."""
    if content:
        return f"sha256:{sha256_file(path)}"
    st = os.stat(path)
    return f"size:{st.st_size}:mtime_ns:{st.st_mtime_ns}"


def canonical_options(task: str, options: Mapping[str, Any]) -> str:
    """The JSON text the ledger compares: task and options, keys sorted."""
    return json.dumps({"task": task, **options}, sort_keys=True, separators=(",", ":"))


class Ledger:
    """The SQLite ledger at `path` (WAL journal); one process writes it, readers may poll."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self._db = sqlite3.connect(path, timeout=30.0, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise InputError(f"{path}: cannot open the batch ledger: {exc}") from None

    def close(self) -> None:
        """Close the connection (SQLite checkpoints and removes the WAL file)."""
        self._db.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def get(self, key: str) -> JobRow | None:
        """The row of `key`, or None."""
        cur = self._db.execute("SELECT * FROM jobs WHERE key = ?", (key,))
        row = cur.fetchone()
        return None if row is None else _row(row)

    def rows(self) -> list[JobRow]:
        """Every row, by key."""
        return [_row(r) for r in self._db.execute("SELECT * FROM jobs ORDER BY key")]

    def take_over(self) -> int:
        """Rows left `running` by a driver that died become pending; returns how many."""
        cur = self._db.execute("UPDATE jobs SET status = 'pending' WHERE status = 'running'")
        return cur.rowcount

    def plan(
        self, key: str, input: str, fp: str, task: str, options: str, outputs: Sequence[str],
        attempts: int,
    ) -> None:  # fmt: skip
        """Insert or refresh `key` as pending with these input, options and outputs."""
        self._db.execute(
            "INSERT INTO jobs (key, input, fingerprint, task, options, status, attempts, outputs)"
            " VALUES (?, ?, ?, ?, ?, 'pending', ?, ?) ON CONFLICT(key) DO UPDATE SET"
            " input = excluded.input, fingerprint = excluded.fingerprint, task = excluded.task,"
            " options = excluded.options, status = 'pending', attempts = excluded.attempts,"
            " outputs = excluded.outputs",
            (key, input, fp, task, options, attempts, json.dumps(list(outputs))),
        )

    def start(self, key: str) -> None:
        """`key` is running from now."""
        self._db.execute(
            "UPDATE jobs SET status = 'running', started_at = ?, finished_at = NULL,"
            " seconds = NULL WHERE key = ?",
            (time.time(), key),
        )

    def finish(
        self, key: str, *, error: str | None, seconds: float, checksums: Mapping[str, str]
    ) -> None:
        """`key` ended: done (error None, with its outputs' checksums) or failed; one more
        attempt either way."""
        self._db.execute(
            "UPDATE jobs SET status = ?, error = ?, finished_at = ?, seconds = ?,"
            " checksums = ?, attempts = attempts + 1 WHERE key = ?",
            ("done" if error is None else "failed", error, time.time(), seconds,
             json.dumps(dict(checksums), sort_keys=True), key),
        )  # fmt: skip

    def refuse(self, key: str, input: str, task: str, options: str, error: str) -> None:
        """Record a job refused before it could run (bad output path, bad row) as failed."""
        self.plan(key, input, "", task, options, [], 0)
        self.finish(key, error=error, seconds=0.0, checksums={})


def read_rows(path: Path) -> list[JobRow]:
    """Every row of the ledger at `path`, read only (while its driver writes it); [] when
    there is none yet (no file, or no table). InputError for a file SQLite cannot read."""
    if not path.is_file():
        return []
    try:
        db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=5.0)
        try:
            return [_row(r) for r in db.execute("SELECT * FROM jobs ORDER BY key")]
        finally:
            db.close()
    except sqlite3.Error as exc:
        if "no such table" in str(exc):  # its driver is creating it this moment
            return []
        raise InputError(f"{path}: cannot read the batch ledger: {exc}") from None


def _row(values: tuple[Any, ...]) -> JobRow:
    (key, input_, fp, task, options, status, attempts, error, started, finished, seconds,
     outputs, checksums) = values  # fmt: skip
    return JobRow(key, input_, fp, task, options, status, attempts, error, started, finished,
                  seconds, json.loads(outputs), json.loads(checksums))  # fmt: skip


def outputs_intact(row: JobRow, outdir: Path) -> bool:
    """True when every recorded output exists with its recorded sha256."""
    if not row.outputs or set(row.outputs) != set(row.checksums):
        return False
    for name in row.outputs:
        path = outdir / name
        if not path.exists() or sha256_output(path) != row.checksums[name]:
            return False
    return True


def sha256_output(path: Path) -> str:
    """Hex sha256 of an output: a file's bytes, or a folder's files (each one's name
    relative to it and its sha256, by name)."""
    if not path.is_dir():
        return sha256_file(path)
    digest = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        digest.update(f"{file.relative_to(path).as_posix()}\0{sha256_file(file)}\n".encode())
    return digest.hexdigest()


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        while chunk := file.read(CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def decide(
    row: JobRow | None, fp: str, options: str, outputs: Sequence[str], outdir: Path, *,
    retries: int, retry_failed: bool,
) -> tuple[Action, int]:  # fmt: skip
    """What a run does with a job, and the attempts count it starts from.

    skip: done with the same input fingerprint, options and outputs, every output intact.
    exhausted: failed with the same input and options, `retries` attempts spent (and not
    `retry_failed`). run: anything else; attempts restart at 0 when the input or options
    changed or `retry_failed`."""
    if row is None:
        return "run", 0
    same = row.fingerprint == fp and row.options == options and row.outputs == list(outputs)
    if not same:
        return "run", 0
    if row.status == "done":
        return ("skip", row.attempts) if outputs_intact(row, outdir) else ("run", 0)
    if row.status == "failed":
        if retry_failed:
            return "run", 0
        return ("run", row.attempts) if row.attempts < retries else ("exhausted", row.attempts)
    return "run", row.attempts  # pending, or running taken over from a dead driver
