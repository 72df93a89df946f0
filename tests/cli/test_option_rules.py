"""The rules between options hold alike in `vidpipe detect` and `vidpipe batch --task detect`
(each written once, in the options layer), and in `vidpipe gamma` / `chroma` and batch's
tasks of theirs; batch takes every option of detect that applies to files (`PER_FILE` lists
the others, each with why); an option two commands share is declared once
(`vidpipe.cli.options`): the same help, the same default, in each; the names a help lists
come from the library's registries."""

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
    (["--writer", "gst", "-o", "{out}/o.mp4"], ["--writer", "gst", "--video"],
     "--writer must be av or ffmpeg"),
    (["--thumbs", "{out}/th"], ["--thumbs"], "--thumbs needs --scan"),
    (["--scan", "--sample", "fast"], ["--scan", "--sample", "fast"],
     "--sample must be I, key, a duration"),
    (["--backend", "gst"], ["--backend", "gst"], "--backend must be av or ffmpeg, not 'gst'"),
    (["--timeout", "0"], ["--timeout", "0"], "--timeout must be > 0 seconds"),
    (["--reconnect", "-1"], ["--reconnect", "-1"], "--reconnect must be >= 0"),
    (["--hwaccel", "gpu"], ["--hwaccel", "gpu"], "--hwaccel must be auto, none or cuda, not 'gpu'"),
    (["--gamma", "0"], ["--gamma", "0"], "--gamma must be in (0, 10]"),
    (["--chroma", "411"], ["--chroma", "411"], "must be 420, 422 or 444, not '411'"),
    (["--on", "rgb"], ["--on", "rgb"], "--on goes with --gamma"),
    (["--precision", "fp8"], ["--precision", "fp8"], "--precision must be one of auto, f32, bf16"),
    (["--gamma", "2", "--on", "hsv"], ["--gamma", "2", "--on", "hsv"],
     "--on must be luma or rgb"),
]  # fmt: skip

# (command, arguments for it and for `batch --task COMMAND`, the message both give)
TASK_RULES = [
    ("gamma", ["--gamma", "2", "--on", "hsv"], "--on must be luma or rgb"),
    ("gamma", ["--gamma", "11"], "--gamma must be in (0, 10]"),
    ("chroma", ["--to", "444", "--up", "cubic"], "--up must be nearest or bilinear"),
    ("chroma", ["--to", "420", "--filter", "cubic"], "--filter must be box or bilinear"),
    ("chroma", ["--to", "444", "--backend", "gst"], "--backend must be av or ffmpeg"),
]

# detect's options that batch lacks or takes otherwise, and why: each is a per-file output of
# detect (a path given once per run); a batch job writes fixed <stem>.* names under OUTDIR.
PER_FILE = {
    "--output": "detect: the boxed video; batch: the output folder (--video: <stem>.mp4)",
    "--json": "batch always writes <stem>.jsonl",
    "--coco": "a file in detect; a switch in batch (<stem>.coco.json)",
    "--mot": "a file in detect; a switch in batch (<stem>.mot.txt)",
    "--events": "batch writes <stem>.events.jsonl whenever there are lines or zones",
    "--intervals": "batch's scan writes <stem>.scan.intervals.jsonl",
    "--thumbs": "a folder in detect; a switch in batch (<stem>.scan.thumbs/)",
    "--overwrite": "batch replaces its own outputs; the ledger decides what runs again",
    "--segment": "cuts one output into files named by time; a job's outputs are fixed and "
    "checksummed in the ledger",
    "--report": "detect: the page of its run; batch: its JSON results, or for .html its page",
}


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


@pytest.mark.parametrize(("command", "args", "message"), TASK_RULES)
def test_each_rule_holds_in_a_command_and_its_batch_task(
    tmp_path: Path, command: str, args: list[str], message: str
) -> None:
    runs = {
        command: run_cli(command, str(CLIP), "-o", str(tmp_path / "o.mp4"), *args),
        "batch": run_cli("batch", str(CLIP), "-o", str(tmp_path / "b"), "--task", command,
                         *args),
    }  # fmt: skip
    for name, done in runs.items():
        assert done.returncode == 2, (name, done.stderr)
        assert done.stderr.startswith("error:") and message in done.stderr, (name, done.stderr)
        assert len(done.stderr.strip().splitlines()) == 1, (name, done.stderr)
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_batch_offers_every_detect_option_that_applies_to_files() -> None:
    """Each detect option is in batch --help with the same help line (one declaration), or
    is a per-file output listed in PER_FILE; the options batch shares with gamma and chroma
    read the same there (but that a command may require one batch's tasks check)."""
    commands = _commands()
    detect, batch = commands["detect"], commands["batch"]
    assert set(PER_FILE) <= set(detect)  # the list names real options
    missing = sorted(set(detect) - set(batch) - set(PER_FILE))
    assert not missing, f"batch --help lacks {missing}: take them, or list them in PER_FILE"
    differ = sorted(f for f in set(detect) & set(batch) - set(PER_FILE) if detect[f] != batch[f])
    assert not differ, f"detect and batch show these otherwise: {differ}"
    for name in ("gamma", "chroma"):
        for flag in set(commands[name]) & set(batch) - {"--output"}:
            (shown, text), _ = commands[name][flag]
            assert (shown, text.replace("  [required]", "")) == batch[flag][0], (name, flag)
            assert batch[flag][1] in (commands[name][flag][1], None), (name, flag)


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
    """gamma, chroma and detect take every encoder option, batch those that are no per-file
    output: each with the help and default `vidpipe.cli.options` declares (not a copy per
    command)."""
    from vidpipe.cli.process import _ENCODER_PARAMS

    commands = _commands()
    encoder = {f"--{name.replace('_', '-')}" for name, _, _ in _ENCODER_PARAMS}
    reference = {flag: commands["gamma"][flag] for flag in encoder}
    assert reference["--crf"][0][1].startswith("Constant rate factor")
    for name in ("chroma", "detect"):
        assert {flag: commands[name][flag] for flag in encoder} == reference, name
    assert encoder - set(PER_FILE) <= set(commands["batch"])
    for name, options in commands.items():  # any command taking one takes it as declared
        for flag in encoder & set(options):
            assert options[flag] == reference[flag], (name, flag)


def test_names_in_the_help_come_from_the_registries() -> None:
    """Each name of a registry appears in the help of the option that takes it."""
    from vidpipe.batch.tasks import TASKS
    from vidpipe.detectors.recognize import FORMATS
    from vidpipe.formats.export import FORMATS as EXPORTS
    from vidpipe.io.encode_options import WRITERS
    from vidpipe.io.inputs import BACKENDS, HWACCELS, NETWORK_SCHEMES
    from vidpipe.ops.params import CHROMAS, DOWN_FILTERS, UP_FILTERS
    from vidpipe.pipeline.options import GAMMA_ON
    from vidpipe.tracking.options import TRACKERS

    registries = {
        "--model-format": FORMATS, "--allow-url": tuple(NETWORK_SCHEMES), "--track": TRACKERS,
        "--writer": WRITERS, "--task": TASKS, "--backend": BACKENDS, "--to": CHROMAS,
        "--chroma": CHROMAS, "--on": GAMMA_ON, "--up": UP_FILTERS, "--filter": DOWN_FILTERS,
        "--hwaccel": HWACCELS, "--export": tuple(EXPORTS),
    }  # fmt: skip
    by_command = {("export", "--to"): tuple(EXPORTS)}  # `vidpipe export --to FORMAT`
    seen = set()
    for name, options in _commands().items():
        for flag, ((_, text), _) in options.items():
            registry = by_command.get((name, flag), registries.get(flag))
            if registry is not None:
                seen.add(flag)
                words = set(re.findall(r"[\w-]+", text))
                missing = [n for n in registry if n not in words]
                assert not missing, (name, flag, missing)
    assert seen == set(registries)
