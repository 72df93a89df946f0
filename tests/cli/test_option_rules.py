"""The rules between options hold alike in `vidpipe detect` and `vidpipe batch --task detect`
(each written once, in the options layer), and batch takes the tracking options detect has."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import NANO_ONNX, SAMPLE_CLIPS, needs_nano, run_cli

CLIP = next(p for p in SAMPLE_CLIPS if p.name == "vfr.mp4")

# (detect's arguments, batch's arguments, the message both give)
RULES = [
    (["--trails", "5", "-o", "{out}/o.mp4"], ["--trails", "5", "--video"],
     "--trails needs --track"),
    (["--mot", "{out}/m.txt"], ["--mot"], "--mot needs --track"),
    (["--refine"], ["--refine"], "--refine goes with --scan"),
    (["--track", "sort", "--track-high", "1.5"], ["--track", "sort", "--track-high", "1.5"],
     "--track-high must be in 0..1"),
    (["--track", "sort", "--track-new", "-1"], ["--track", "sort", "--track-new", "-1"],
     "--track-new must be in 0..1"),
    (["--track", "sort", "--track-min-hits", "0"], ["--track", "sort", "--track-min-hits", "0"],
     "--track-min-hits"),
]  # fmt: skip


@pytest.mark.parametrize(("detect_args", "batch_args", "message"), RULES)
def test_each_rule_holds_in_both_commands(
    tmp_path: Path, detect_args: list[str], batch_args: list[str], message: str
) -> None:
    model = ["--model", str(NANO_ONNX)]
    runs = {
        "detect": run_cli("detect", str(CLIP), *model,
                          *[a.format(out=tmp_path) for a in detect_args]),
        "batch": run_cli("batch", str(CLIP), "-o", str(tmp_path / "b"), "--task", "detect",
                         *model, *batch_args),
    }  # fmt: skip
    for command, done in runs.items():
        assert done.returncode == 2, (command, done.stderr)
        assert done.stderr.startswith("error:") and message in done.stderr, (command, done.stderr)
        assert len(done.stderr.strip().splitlines()) == 1, (command, done.stderr)
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # nothing written by either


@needs_nano
def test_batch_takes_detects_tracking_options(tmp_path: Path) -> None:
    """On real footage, batch with --track-new/--track-high/--track-min-hits writes the MOT
    file detect writes with them, and not the one of the defaults."""
    clip = next(p for p in SAMPLE_CLIPS if p.name == "street_bikes.mp4")
    opts = ["--track", "bytetrack", "--track-new", "0.3", "--track-high", "0.3",
            "--track-min-hits", "4"]  # fmt: skip
    one = run_cli("detect", str(clip), "--model", str(NANO_ONNX), *opts,
                  "--mot", str(tmp_path / "d.txt"), "-q")  # fmt: skip
    assert one.returncode == 0, one.stderr
    for name, extra in (("b", opts), ("default", ["--track", "bytetrack"])):
        done = run_cli("batch", str(clip), "-o", str(tmp_path / name), "--task", "detect",
                       "--model", str(NANO_ONNX), *extra, "--mot", "-q", timeout=180)  # fmt: skip
        assert done.returncode == 0, done.stderr
    ours = (tmp_path / "d.txt").read_text()
    assert ours and (tmp_path / "b" / "street_bikes.mot.txt").read_text() == ours
    assert (tmp_path / "default" / "street_bikes.mot.txt").read_text() != ours
