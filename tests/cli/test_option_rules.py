"""The rules between options hold alike in `vidpipe detect` and `vidpipe batch --task detect`
(each written once, in the options layer), and batch takes the tracking options detect has;
an option two commands share is declared once (`vidpipe.cli.options`): the same help, the
same default, in each; the names a help lists come from the library's registries."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import typer
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
    (["--crf", "99", "-o", "{out}/o.mp4"], ["--crf", "99", "--video"],
     "--crf must be in 0..63, got 99"),
    (["--preset", "a b", "-o", "{out}/o.mp4"], ["--preset", "a b", "--video"],
     "--preset must be an encoder preset name"),
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


def _commands() -> dict[str, dict[str, tuple[Any, ...]]]:
    """Each vidpipe command's options by long flag: the line its `--help` shows (flags, type,
    help) and the value it takes when left out (click as Typer builds it, every command)."""
    from vidpipe.cli.main import _register, app

    _register([])  # every command
    root = typer.main.get_command(app)
    ctx = root.make_context("vidpipe", [], resilient_parsing=True)
    return {
        name: {
            flag: (param.get_help_record(ctx), param.default)
            for param in command.params
            for flag in param.opts
            if flag.startswith("--")
        }
        for name, command in root.commands.items()  # type: ignore[attr-defined]
    }


def test_encoder_options_are_the_same_in_every_command() -> None:
    """gamma, chroma and detect take every encoder option, batch --codec, --crf and --preset:
    each with the help and default `vidpipe.cli.options` declares (not a copy per command)."""
    from vidpipe.cli.process import _ENCODER_PARAMS

    commands = _commands()
    encoder = {f"--{name.replace('_', '-')}" for name, _, _ in _ENCODER_PARAMS}
    reference = {flag: commands["gamma"][flag] for flag in encoder}
    assert reference["--crf"][0][1].startswith("Constant rate factor")
    for name in ("chroma", "detect"):
        assert {flag: commands[name][flag] for flag in encoder} == reference, name
    assert {"--codec", "--crf", "--preset"} <= set(commands["batch"])
    for name, options in commands.items():  # any command taking one takes it as declared
        for flag in encoder & set(options):
            assert options[flag] == reference[flag], (name, flag)


def test_names_in_the_help_come_from_the_registries() -> None:
    """Each name of a registry appears in the help of the option that takes it."""
    from vidpipe.batch.tasks import TASKS
    from vidpipe.detectors.recognize import FORMATS
    from vidpipe.io.encode_options import WRITERS
    from vidpipe.io.inputs import NETWORK_SCHEMES
    from vidpipe.tracking.options import TRACKERS

    registries = {
        "--model-format": FORMATS, "--allow-url": tuple(NETWORK_SCHEMES), "--track": TRACKERS,
        "--writer": WRITERS, "--task": TASKS,
    }  # fmt: skip
    seen = set()
    for name, options in _commands().items():
        for flag, ((_, text), _) in options.items():
            if flag in registries:
                seen.add(flag)
                words = set(re.findall(r"[\w-]+", text))
                missing = [n for n in registries[flag] if n not in words]
                assert not missing, (name, flag, missing)
    assert seen == set(registries)
