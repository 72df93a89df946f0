"""Hostile and broken model files through the CLI (`detect --model FILE`, `models convert`,
`models pull` and `detect`'s own download): each is one `error:` line naming what is wrong,
exit code 2, no traceback, and nothing written — no output video or JSON, no model file.

A `.pth` carrying a pickle payload is refused (torch.load with weights_only) and its code
never runs; truncated `.pth` / `.safetensors` / `.onnx` files, an empty file, a checkpoint of
another architecture, one that matches no YOLOX variant and one with a tensor of the wrong
shape are each named for what they are; a download whose sha256 does not match the recorded
one (served by a local HTTP server, the digest monkeypatched into `hub.MODELS`) is deleted and
reported. (tests/detectors/test_weights.py and tests/models/test_hub.py check the same refusals
one level down, on `load_weights` and `hub.pull`.)
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import NANO_ONNX, make_clip

from vidpipe.cli.main import main
from vidpipe.detectors.yolox.model import build_yolox
from vidpipe.detectors.yolox.weights import save_safetensors
from vidpipe.models import hub


class _RunsAShellCommand:
    """Pickles as a call to os.system: what a malicious checkpoint carries."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch '{self.marker}'",))


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_clip(tmp_path_factory.mktemp("clip") / "clip.mp4", frames=8, size_wh=(64, 48))


@pytest.fixture(scope="module")
def nano_state() -> dict[str, torch.Tensor]:
    return build_yolox("nano", 80).state_dict()


def half(path: Path, source: Path) -> Path:
    data = source.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def one_error_line(code: int, err: str) -> str:
    """The single stderr line of a failed run (exit code 2, no traceback)."""
    assert code == 2, err
    assert "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


def detect(clip: Path, out: Path, *args: str, capsys: pytest.CaptureFixture[str]) -> str:
    """`detect CLIP -o OUT/v.mp4 --json OUT/d.jsonl ARGS` in-process; its one error line."""
    capsys.readouterr()
    code = main(["detect", str(clip), "-o", str(out / "v.mp4"), "--json", str(out / "d.jsonl"),
                 *args])  # fmt: skip
    return one_error_line(code, capsys.readouterr().err)


def test_pickle_payload_is_refused_and_never_run(
    clip: Path, nano_state, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`detect` end to end through the console script, `models convert` in-process."""
    marker = tmp_path / "PWNED"
    evil = tmp_path / "evil.pth"
    torch.save({"model": nano_state, "extra": _RunsAShellCommand(marker)}, evil)
    out = tmp_path / "out"
    out.mkdir()
    run = subprocess.run(
        [sys.executable, "-m", "vidpipe", "detect", str(clip), "--model", str(evil),
         "-o", str(out / "v.mp4"), "--json", str(out / "d.jsonl")],
        capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    line = one_error_line(run.returncode, run.stderr)
    assert line.startswith(f"error: {evil}: refused: the checkpoint holds Python objects"), line
    assert not marker.exists(), "the checkpoint's pickled code ran"
    assert os.listdir(out) == []
    code = main(["models", "convert", str(evil), str(out / "w.safetensors")])
    assert "refused" in one_error_line(code, capsys.readouterr().err)
    assert not marker.exists() and os.listdir(out) == []


def _broken_files(folder: Path, state: dict[str, torch.Tensor]) -> dict[str, tuple[Path, str]]:
    """name -> (file, what its error line must say)."""
    good_pth = folder / "good.pth"
    torch.save({"model": state}, good_pth)
    legacy = folder / "legacy.pth"
    torch.save({"model": state}, legacy, _use_new_zipfile_serialization=False)
    good_st = folder / "good.safetensors"
    save_safetensors(build_yolox("nano", 80), good_st)
    resnet = {"conv1.weight": torch.zeros(64, 3, 7, 7), "fc.weight": torch.zeros(1000, 512)}
    torch.save(resnet, folder / "resnet.pth")
    no_variant = {k: v for k, v in state.items() if ".dark3.1.m.0." not in k}
    torch.save({"model": no_variant}, folder / "no_variant.pth")
    reshaped = dict(state)
    reshaped["head.obj_preds.2.weight"] = torch.zeros(2, 64, 1, 1)
    torch.save({"model": reshaped}, folder / "reshaped.pth")
    (folder / "empty.pth").write_bytes(b"")
    cases = {
        "truncated-pth": (
            half(folder / "truncated.pth", good_pth),
            "not a readable PyTorch checkpoint (PytorchStreamReader failed reading zip archive: "
            "failed finding central directory)",
        ),
        "truncated-legacy-pth": (
            half(folder / "truncated_legacy.pth", legacy),
            "not a readable PyTorch checkpoint (",
        ),
        "truncated-safetensors": (
            half(folder / "truncated.safetensors", good_st),
            "not a readable safetensors file (",
        ),
        "empty": (folder / "empty.pth", "the model file is empty"),
        "other-architecture": (
            folder / "resnet.pth",
            "not a YOLOX checkpoint (no backbone.backbone.stem.conv.conv.weight)",
        ),
        "no-variant": (folder / "no_variant.pth", "matches no YOLOX variant (width 0.25"),
        "wrong-shape": (
            folder / "reshaped.pth",
            "weights do not fit the model (1 problems: head.obj_preds.2.weight (2, 64, 1, 1) "
            "!= (1, 64, 1, 1))",
        ),
    }
    if NANO_ONNX.is_file():
        cases["truncated-onnx"] = (
            half(folder / "truncated.onnx", NANO_ONNX),
            "not a readable ONNX model",
        )
    return cases


@pytest.fixture(scope="module")
def broken(tmp_path_factory: pytest.TempPathFactory, nano_state) -> dict[str, tuple[Path, str]]:
    return _broken_files(tmp_path_factory.mktemp("models"), nano_state)


CASES = ["truncated-pth", "truncated-legacy-pth", "truncated-safetensors", "truncated-onnx",
         "empty", "other-architecture", "no-variant", "wrong-shape"]  # fmt: skip


@pytest.mark.parametrize("case", CASES)
def test_broken_model_file_is_one_line_naming_it(
    clip: Path, broken, tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str
) -> None:
    if case not in broken:
        pytest.skip(f"no {NANO_ONNX} to truncate")
    path, reason = broken[case]
    line = detect(clip, tmp_path, "--model", str(path), capsys=capsys)
    assert line.startswith(f"error: {path}: ") and reason in line, line
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("case", ["truncated-pth", "other-architecture"])
def test_models_convert_refuses_broken_files(
    broken, tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str
) -> None:
    path, reason = broken[case]
    capsys.readouterr()
    code = main(["models", "convert", str(path), str(tmp_path / "w.safetensors")])
    assert reason in one_error_line(code, capsys.readouterr().err)
    assert os.listdir(tmp_path) == []


# --- downloads with a recorded sha256 that does not match ----------------------------------


@pytest.fixture
def mirror(
    http_mirror: tuple[str, dict[str, bytes], list[str]], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> dict[str, bytes]:  # fmt: skip
    """The files served at VIDPIPE_MODEL_BASE_URL; VIDPIPE_MODEL_DIR is tmp_path / "models"
    (not created)."""
    base_url, files, _ = http_mirror
    monkeypatch.setenv("VIDPIPE_MODEL_BASE_URL", base_url)
    monkeypatch.setenv("VIDPIPE_MODEL_DIR", str(tmp_path / "models"))
    return files


def _serve_with_wrong_digest(
    mirror: dict[str, bytes], monkeypatch: pytest.MonkeyPatch, name: str
) -> tuple[str, str]:
    """Serve random bytes for model `name` and record another sha256 for it: (expected, got)."""
    spec = hub.MODELS[name]
    body = random.Random(name).randbytes(50_000)
    mirror[spec.filename] = body
    expected = hashlib.sha256(b"the real checkpoint").hexdigest()
    monkeypatch.setitem(hub.MODELS, name, dataclasses.replace(spec, sha256=expected))
    return expected, hashlib.sha256(body).hexdigest()


def test_models_pull_deletes_a_download_with_the_wrong_sha256(
    mirror, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    expected, got = _serve_with_wrong_digest(mirror, monkeypatch, "yolox-tiny")
    capsys.readouterr()
    code = main(["models", "pull", "yolox-tiny", "--no-progress"])
    line = one_error_line(code, capsys.readouterr().err)
    assert line == (
        f"error: sha256 mismatch for yolox-tiny from {os.environ['VIDPIPE_MODEL_BASE_URL']}/"
        f"yolox_tiny.pth: expected {expected}, got {got}; the download was deleted"
    )
    assert os.listdir(tmp_path / "models") == []  # neither the file nor a temporary one


def test_detect_download_with_the_wrong_sha256_writes_nothing(
    clip: Path,
    mirror,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    expected, got = _serve_with_wrong_digest(mirror, monkeypatch, "yolox-s")
    out = tmp_path / "out"
    out.mkdir()
    capsys.readouterr()
    args = ["detect", str(clip), "--model", "yolox-s", "-o", str(out / "v.mp4")]
    code = main([*args, "--json", str(out / "d.jsonl")])  # no progress bar off a terminal
    line = one_error_line(code, capsys.readouterr().err)
    assert line.startswith("error: sha256 mismatch for yolox-s from ")
    assert line.endswith(f"expected {expected}, got {got}; the download was deleted")
    assert os.listdir(tmp_path / "models") == [] and os.listdir(out) == []
