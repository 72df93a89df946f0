"""`vidpipe serve` run for real: uvicorn on the loopback, batches submitted over HTTP and
run by `vidpipe batch`'s runner in a process of their own; what a client sees (states, job
counts, files, the report page, /metrics) against the ledger and the files on disk; the
requests it refuses; its token; cancel and retry; and a `kill -9` of the service mid-batch,
after which a new service resumes the batch without redoing what was done."""

from __future__ import annotations

import json
import os
import socket
import sqlite3
from pathlib import Path

from conftest import SAMPLES, processes_mentioning, run_cli
from serve_helpers import _get, _json, _request, service, until

CLIP = SAMPLES / "street_bikes.mp4"


def _inputs(root: Path, count: int) -> Path:
    folder = root / "clips"
    folder.mkdir()
    for i in range(count):
        os.link(CLIP, folder / f"clip{i}.mp4")
    return folder


def _gamma(folder: Path) -> dict:
    return {"task": "gamma", "inputs": [str(folder)], "options": {"gamma": 2.2}}


def _state(base: str, batch: str) -> str:
    return _json(base, f"/batches/{batch}")["state"]  # type: ignore[index]


def test_a_batch_over_http_is_the_batch_on_disk(tmp_path: Path) -> None:
    root = tmp_path / "in"
    root.mkdir()
    folder = _inputs(root, 2)
    with service(tmp_path / "data", root) as (base, _):
        made = _json(base, "/batches", body=_gamma(folder), method="POST")
        batch = made["id"]  # type: ignore[index]
        until(lambda: _state(base, batch) == "done")
        seen = _json(base, f"/batches/{batch}")
        outdir = tmp_path / "data" / "batches" / batch / "out"
        db = sqlite3.connect(outdir / ".vidpipe-batch.sqlite")
        rows = db.execute("SELECT key, status, outputs FROM jobs ORDER BY key").fetchall()
        db.close()
        assert [(r[0], r[1]) for r in rows] == [("clip0", "done"), ("clip1", "done")]
        assert seen["jobs"] == {"pending": 0, "running": 0, "done": 2, "failed": 0}  # type: ignore[index]
        assert [j["key"] for j in seen["job_list"]] == ["clip0", "clip1"]  # type: ignore[index]
        status, body = _get(base, f"/batches/{batch}/files/clip1.mp4")
        assert status == 200 and body == (outdir / "clip1.mp4").read_bytes()
        status, page = _get(base, f"/batches/{batch}/report")
        assert status == 200 and b"clip0" in page and page.startswith(b"<!DOCTYPE html>")
        status, text = _get(base, "/metrics")
        assert status == 200
        assert 'vidpipe_jobs{status="done"} 2.0' in text.decode()
        assert 'vidpipe_batches{state="done"} 1.0' in text.decode()
        assert "process_resident_memory_bytes" in text.decode()
        assert _get(base, "/readyz")[0] == 200
        schema = _json(base, "/openapi.json")
        assert "GammaOptions" in json.dumps(schema) and "track_buffer" in json.dumps(schema)


def test_bad_requests_are_one_message_and_start_nothing(tmp_path: Path) -> None:
    root = tmp_path / "in"
    root.mkdir()
    folder = _inputs(root, 1)
    (root / "out").symlink_to("/etc")
    gamma = {"gamma": 2.2}
    cases = {
        "unknown option": ({"task": "gamma", "inputs": [str(folder)],
                            "options": {"gama": 2.2}}, 422, "gama"),
        "unknown task": ({"task": "gama", "inputs": [str(folder)]}, 422, "gama"),
        "bad value": ({"task": "detect", "inputs": [str(folder)], "options": {"conf": 7}},
                      400, "--conf"),
        "outside the roots": ({"task": "gamma", "inputs": ["/etc/hostname"],
                               "options": gamma}, 400, "outside the allowed roots"),
        "..": ({"task": "gamma", "inputs": [f"{folder}/../../x"], "options": gamma}, 400, "'..'"),
        "symlink out": ({"task": "gamma", "inputs": [str(root / "out" / "hostname")],
                         "options": gamma}, 400, "outside the allowed roots"),
        "a URL": ({"task": "gamma", "inputs": ["rtsp://user:secret@cam/1"], "options": gamma},
                  400, "rtsp://***@cam/1"),
        "relative": ({"task": "gamma", "inputs": ["clips"], "options": gamma}, 400, "absolute"),
        "no inputs": ({"task": "gamma", "inputs": [], "options": gamma}, 422, "inputs"),
    }  # fmt: skip
    with service(tmp_path / "data", root) as (base, _):
        for name, (body, status, words) in cases.items():
            got, answer = _request(base, "/batches", body=body, method="POST")
            message = json.loads(answer)["error"]
            assert (got, words in message) == (status, True), (name, got, message)
            assert "secret" not in message
        got, answer = _request(base, "/batches", raw=b"x" * (2 << 20), method="POST")
        assert got == 413 and "request body" in json.loads(answer)["error"]
        host, port = base.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=30) as conn:  # no length
            conn.sendall(b"POST /batches HTTP/1.1\r\nHost: x\r\nContent-Type: application/json"
                         b"\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n")  # fmt: skip
            assert conn.recv(64).startswith(b"HTTP/1.1 411")
        assert _get(base, "/batches/nope")[0] == 404
        assert _json(base, "/batches") == []
    assert list((tmp_path / "data" / "batches").iterdir()) == []


def test_a_token_is_asked_for_and_off_loopback_required(tmp_path: Path) -> None:
    root = tmp_path / "in"
    root.mkdir()
    done = run_cli("serve", "--data", str(tmp_path / "d"), "--host", "0.0.0.0", "--port", "0")
    assert done.returncode == 2 and done.stderr.startswith("error: --host 0.0.0.0 is not loopback")
    with service(tmp_path / "data", root, "--token", "s3cret") as (base, _):
        assert _get(base, "/healthz")[0] == 200  # for the probes
        for path in ("/batches", "/metrics", "/readyz"):
            assert _get(base, path)[0] == 401
            assert _get(base, path, headers={"authorization": "Bearer nope"})[0] == 401
            assert _get(base, path, headers={"authorization": "Bearer s3cret"})[0] == 200


def test_cancel_then_retry(tmp_path: Path) -> None:
    root = tmp_path / "in"
    root.mkdir()
    folder = _inputs(root, 6)
    with service(tmp_path / "data", root) as (base, _):
        batch = _json(base, "/batches", body=_gamma(folder), method="POST")["id"]  # type: ignore[index]
        until(lambda: _json(base, f"/batches/{batch}")["jobs"]["done"] >= 1)  # type: ignore[index]
        _json(base, f"/batches/{batch}/cancel", method="POST", body={})
        until(lambda: _state(base, batch) == "cancelled")
        jobs = _json(base, f"/batches/{batch}")["jobs"]  # type: ignore[index]
        assert jobs["done"] < 6
        status, _ = _request(base, f"/batches/{batch}/cancel", method="POST", body={})
        assert status == 400  # over already
        _json(base, f"/batches/{batch}/retry", method="POST", body={})
        until(lambda: _state(base, batch) == "done")
        assert _json(base, f"/batches/{batch}")["jobs"]["done"] == 6  # type: ignore[index]


def test_a_killed_service_resumes_its_batch_without_redoing_it(tmp_path: Path) -> None:
    root = tmp_path / "in"
    root.mkdir()
    folder = _inputs(root, 6)
    data = tmp_path / "data"
    with service(data, root) as (base, process):
        batch = _json(base, "/batches", body=_gamma(folder), method="POST")["id"]  # type: ignore[index]
        until(lambda: _json(base, f"/batches/{batch}")["jobs"]["done"] >= 2)  # type: ignore[index]
        process.kill()  # kill -9: no clean-up of its own
        process.wait()
        # its batch's process ends with it (and its workers), leaving the ledger to resume
        until(lambda: not processes_mentioning(str(data)))
    ledger = data / "batches" / batch / "out" / ".vidpipe-batch.sqlite"
    before = dict(sqlite3.connect(ledger).execute(
        "SELECT key, finished_at FROM jobs WHERE status = 'done'").fetchall())  # fmt: skip
    assert 2 <= len(before) < 6
    with service(data, root) as (base, _):
        until(lambda: _state(base, batch) == "done")
        seen = _json(base, f"/batches/{batch}")
    db = sqlite3.connect(ledger)
    rows = db.execute("SELECT key, status, attempts, finished_at FROM jobs").fetchall()
    db.close()
    assert sorted(r[0] for r in rows) == [f"clip{i}" for i in range(6)]
    assert all(r[1] == "done" and r[2] == 1 for r in rows)
    for key, _, _, finished in rows:  # what was done before the kill was not done again
        if key in before:
            assert finished == before[key]
    assert seen["runs"] == 2  # type: ignore[index]
    outs = (data / "batches" / batch / "out").iterdir()  # one output each, no scratch left
    assert sorted(p.name for p in outs if not p.name.startswith(".vidpipe-batch.")) == [
        f"clip{i}.mp4" for i in range(6)
    ]
