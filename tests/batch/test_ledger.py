"""The SQLite ledger and a re-run's decision per job (vidpipe.batch.ledger), task options."""

from __future__ import annotations

import hashlib
import os
import sqlite3
from pathlib import Path

import pytest

from vidpipe.batch.ledger import Ledger, canonical_options, decide, fingerprint
from vidpipe.batch.tasks import check_options, output_names
from vidpipe.errors import InputError


def test_fingerprint(tmp_path: Path) -> None:
    f = tmp_path / "a.bin"
    f.write_bytes(b"hello")
    st = os.stat(f)
    assert fingerprint(f) == f"size:5:mtime_ns:{st.st_mtime_ns}"
    assert fingerprint(f, content=True) == "sha256:" + hashlib.sha256(b"hello").hexdigest()
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns + 1000))
    assert fingerprint(f) != f"size:5:mtime_ns:{st.st_mtime_ns}"


def _done_row(tmp_path: Path, content: bytes = b"out") -> tuple[Ledger, Path]:
    out = tmp_path / "x.mp4"
    out.write_bytes(content)
    book = Ledger(tmp_path / "l.sqlite")
    book.plan("x", "/in/x.mp4", "fp", "gamma", "{}", ["x.mp4"], 0)
    book.start("x")
    book.finish(
        "x", error=None, seconds=1.5, checksums={"x.mp4": hashlib.sha256(b"out").hexdigest()}
    )
    return book, out


def test_ledger_rows_and_wal(tmp_path: Path) -> None:
    book, _ = _done_row(tmp_path)
    row = book.get("x")
    assert row is not None
    assert (row.status, row.attempts, row.outputs, row.seconds) == ("done", 1, ["x.mp4"], 1.5)
    assert row.started_at <= row.finished_at
    # an independent reader sees the committed row, and the journal is WAL
    ro = sqlite3.connect(f"file:{tmp_path / 'l.sqlite'}?mode=ro", uri=True)
    assert ro.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert ro.execute("SELECT status, attempts FROM jobs").fetchall() == [("done", 1)]
    book.close()


def test_decide(tmp_path: Path) -> None:
    book, out = _done_row(tmp_path)
    row = book.get("x")
    go = {"outdir": tmp_path, "retries": 2, "retry_failed": False}
    assert decide(row, "fp", "{}", ["x.mp4"], **go) == ("skip", 1)
    assert decide(row, "fp2", "{}", ["x.mp4"], **go) == ("run", 0)  # input changed
    assert decide(row, "fp", '{"g":1}', ["x.mp4"], **go) == ("run", 0)  # options changed
    out.write_bytes(b"tampered")
    assert decide(row, "fp", "{}", ["x.mp4"], **go) == ("run", 0)  # checksum differs
    out.unlink()
    assert decide(row, "fp", "{}", ["x.mp4"], **go) == ("run", 0)  # output gone
    assert decide(None, "fp", "{}", ["x.mp4"], **go) == ("run", 0)
    for attempts, action in ((1, "run"), (2, "exhausted"), (3, "exhausted")):
        book.plan("x", "/in/x.mp4", "fp", "gamma", "{}", ["x.mp4"], attempts - 1)
        book.finish("x", error="boom", seconds=0.1, checksums={})
        row = book.get("x")
        assert (row.status, row.attempts, row.error) == ("failed", attempts, "boom")
        assert decide(row, "fp", "{}", ["x.mp4"], **go)[0] == action
        assert decide(row, "fp", "{}", ["x.mp4"], **{**go, "retry_failed": True}) == ("run", 0)


def test_take_over_running_rows(tmp_path: Path) -> None:
    book = Ledger(tmp_path / "l.sqlite")
    for key in "abc":
        book.plan(key, key, "fp", "gamma", "{}", [key], 0)
    book.start("a")
    book.start("b")
    book.finish("b", error=None, seconds=1.0, checksums={"b": "0"})
    book.close()  # the driver "dies"
    book = Ledger(tmp_path / "l.sqlite")
    assert book.take_over() == 1
    assert {r.key: r.status for r in book.rows()} == {"a": "pending", "b": "done", "c": "pending"}


def test_canonical_options_ignores_key_order() -> None:
    assert canonical_options("gamma", {"a": 1, "b": 2}) == canonical_options(
        "gamma", {"b": 2, "a": 1}
    )
    assert canonical_options("gamma", {}) != canonical_options("chroma", {})


@pytest.mark.parametrize(
    ("task", "options", "message"),
    [
        ("blur", {}, "unknown task"),
        ("gamma", {}, "needs --gamma"),
        ("gamma", {"gamma": 0}, "(0, 10]"),
        ("gamma", {"gamma": "2"}, "a number"),
        ("gamma", {"gamma": 2, "to": "444"}, "no option to"),
        ("chroma", {"to": "411"}, "420, 422 or 444"),
        ("chroma", {"to": "444", "crf": 99}, "--crf"),
        ("chroma", {"to": "444", "codec": "nope"}, "unknown codec"),
        ("detect", {"conf": 1.5}, "--conf"),
        ("detect", {"iou": 0}, "--iou"),
        ("detect", {"size": 100}, "multiple of 32"),
        ("detect", {"batch": 0}, "--batch"),
        ("detect", {"device": "tpu"}, "--device"),
        ("frames", {"gamma": 2}, "no option gamma"),
    ],
)
def test_bad_options(task: str, options: dict, message: str) -> None:
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace("]", r"\]")):
        check_options(task, options)


def test_output_names() -> None:
    detect = check_options("detect", {"video": True, "coco": True})
    assert output_names("detect", "a/b", ".mkv", detect) == [
        "a/b.mp4",
        "a/b.jsonl",
        "a/b.coco.json",
    ]
    assert output_names("detect", "a/b", ".mkv", check_options("detect", {})) == ["a/b.jsonl"]
    assert output_names("gamma", "a/b", ".MKV", {}) == ["a/b.mkv"]
    assert output_names("frames", "a/b", ".mp4", {}) == ["a/b.frames.jsonl"]
    assert check_options("chroma", {"to": "4:2:2"})["to"] == "422"
