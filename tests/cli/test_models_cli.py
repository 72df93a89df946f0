"""`vidpipe models list|pull|path` through the real console script (a subprocess), with
VIDPIPE_MODEL_DIR pointing at ../shared/models (the reference yolox_nano.onnx) or a temporary
folder, and downloads from a local HTTP server on 127.0.0.1."""

from __future__ import annotations

import os
import random
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

SHARED_MODELS = Path(os.environ.get("VIDPIPE_SHARED_MODELS", ROOT.parent / "shared" / "models"))
needs_shared = pytest.mark.skipif(
    not (SHARED_MODELS / "yolox_nano.onnx").is_file(),
    reason=f"no reference model in {SHARED_MODELS}",
)
NAMES = ["yolox-nano", "yolox-tiny", "yolox-s", "yolox-m", "yolox-l", "yolox-x"]


def run_models(*args: str, model_dir: Path, base_url: str = "") -> subprocess.CompletedProcess[str]:
    """`vidpipe models ARGS` in a subprocess with its own model folder and mirror URL."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIDPIPE_")}
    env["VIDPIPE_MODEL_DIR"] = str(model_dir)
    if base_url:
        env["VIDPIPE_MODEL_BASE_URL"] = base_url
    return subprocess.run(
        [sys.executable, "-m", "vidpipe", "models", *args],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
        env=env,
    )


def run_in_process(
    *args: str,
    model_dir: Path,
    base_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> tuple[int, str, str]:
    """`vidpipe models ARGS` through vidpipe.cli.main.main in this process (faster):
    (exit code, stdout, stderr)."""
    from vidpipe.cli.main import main

    monkeypatch.setenv("VIDPIPE_MODEL_DIR", str(model_dir))
    monkeypatch.setenv("VIDPIPE_MODEL_BASE_URL", base_url)
    capsys.readouterr()
    code = main(["models", *args])
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_error_line(result: subprocess.CompletedProcess[str], pattern: str) -> None:
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert pattern in lines[0], lines[0]
    assert "Traceback" not in result.stderr


@needs_shared
def test_list_shows_the_shared_onnx() -> None:
    result = run_models("list", model_dir=SHARED_MODELS)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"folder: {SHARED_MODELS}"
    rows = {line.split()[0]: line.split()[1:] for line in lines[2:]}
    assert list(rows) == NAMES
    assert rows["yolox-nano"] == ["416", "yolox_nano.onnx"]
    assert rows["yolox-tiny"] == ["416", "-"]
    assert all(rows[name] == ["640", "-"] for name in NAMES[2:])


@needs_shared
def test_path_prints_the_folder_or_the_model_file() -> None:
    folder = run_models("path", model_dir=SHARED_MODELS)
    assert (folder.returncode, folder.stdout) == (0, f"{SHARED_MODELS}\n"), folder.stderr
    nano = run_models("path", "yolox-nano", model_dir=SHARED_MODELS)
    assert (nano.returncode, nano.stdout) == (0, f"{SHARED_MODELS / 'yolox_nano.onnx'}\n")
    assert_one_error_line(
        run_models("path", "yolox-s", model_dir=SHARED_MODELS),
        f"model yolox-s is not in {SHARED_MODELS}; run `vidpipe models pull yolox-s`",
    )


def test_bad_names_are_one_error_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    message = "unknown model 'nano'; known models: yolox-nano, yolox-tiny"
    assert_one_error_line(run_models("pull", "nano", model_dir=tmp_path), message)
    code, out, err = run_in_process(
        "path", "nano", model_dir=tmp_path, base_url="", monkeypatch=monkeypatch, capsys=capsys
    )
    assert (code, out) == (2, "")
    assert err.startswith(f"error: {message}") and err.count("\n") == 1
    assert os.listdir(tmp_path) == []


def test_pull_downloads_prints_the_path_and_then_reuses_it(
    tmp_path: Path,
    http_mirror: tuple[str, dict[str, bytes], list[str]],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    base_url, files, seen = http_mirror
    body = random.Random(5).randbytes(300_000)
    files["yolox_tiny.pth"] = body
    folder = tmp_path / "cache" / "models"  # created by pull
    result = run_models("pull", "YOLOX_TINY", model_dir=folder, base_url=base_url)
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"{folder / 'yolox_tiny.pth'}\n"
    assert (folder / "yolox_tiny.pth").read_bytes() == body
    assert os.listdir(folder) == ["yolox_tiny.pth"]
    assert seen == ["/models/yolox_tiny.pth"]

    here = {"model_dir": folder, "base_url": base_url, "monkeypatch": monkeypatch}
    again = run_in_process("pull", "yolox-tiny", "--no-progress", **here, capsys=capsys)
    assert again[:2] == (0, result.stdout)
    assert seen == ["/models/yolox_tiny.pth"]  # present: no request
    code, listed, _ = run_in_process("list", **here, capsys=capsys)
    assert code == 0
    assert "yolox-tiny    416  yolox_tiny.pth" in listed.splitlines()


def test_pull_offline_is_one_error_line(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    base_url = f"http://127.0.0.1:{port}"
    result = run_models("pull", "yolox-s", model_dir=tmp_path, base_url=base_url)
    assert_one_error_line(
        result, f"error: could not download yolox-s from {base_url}/yolox_s.pth ("
    )
    assert result.stderr.rstrip().endswith(
        f"put yolox_s.pth (or .onnx / .safetensors) in {tmp_path}, set VIDPIPE_MODEL_DIR, "
        "or pass --model PATH"
    )
    assert os.listdir(tmp_path) == []


@needs_shared
def test_convert_writes_safetensors_that_load_to_the_same_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import onnxruntime as ort
    import torch

    from vidpipe.detectors.yolox.weights import load_weights

    out = tmp_path / "nano.safetensors"
    code, stdout, _ = run_in_process(
        "convert", "yolox-nano", str(out), model_dir=SHARED_MODELS, base_url="",
        monkeypatch=monkeypatch, capsys=capsys,
    )  # fmt: skip
    assert code == 0 and "nano, 80 classes" in stdout
    assert [p.name for p in tmp_path.iterdir()] == ["nano.safetensors"]
    x = torch.rand(1, 3, 416, 416) * 255
    session = ort.InferenceSession(str(SHARED_MODELS / "yolox_nano.onnx"))
    expected = session.run(None, {"images": x.numpy()})[0]
    with torch.inference_mode():
        got = load_weights(out)(x, decode=False).numpy()
    assert abs(got - expected).max() < 1e-3
    again = run_models("convert", "yolox-nano", str(out), model_dir=SHARED_MODELS)
    assert_one_error_line(again, "exists")
    wrong = run_models("convert", "yolox-nano", str(tmp_path / "x.pth"), model_dir=SHARED_MODELS)
    assert_one_error_line(wrong, ".safetensors")
