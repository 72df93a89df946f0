"""The global options `--debug` and `-q/--quiet` anywhere on the command line (as pip's general
options), parsed by click itself (`--` and option values respected); an example in every
command's --help."""

from __future__ import annotations

import json
import logging
import random
import shlex
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
from conftest import SAMPLE_CLIPS, make_clip, run_cli

from vidpipe.cli import main as cli
from vidpipe.errors import VidpipeError

H264 = next(p for p in SAMPLE_CLIPS if "bframes_aac" in p.name)


def _tree() -> tuple[Any, list[tuple[list[str], Any]]]:
    """The click tree of all commands: the root and every (path, command), sub-groups'
    commands included, found by walking it (a command added later is covered)."""
    cli._register([])  # every module's commands, as `vidpipe --help` does
    root = typer.main.get_command(cli.app)

    def walk(group: Any, path: list[str]) -> Iterator[tuple[list[str], Any]]:
        for name, command in group.commands.items():
            yield [*path, name], command
            if hasattr(command, "commands"):
                yield from walk(command, [*path, name])

    return root, list(walk(root, []))


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """Parsing a command line outside `main` runs the global options' callbacks: put the
    "vidpipe" logger and the flags back afterwards."""
    logger = logging.getLogger("vidpipe")
    saved = (logger.handlers[:], logger.level, logger.propagate)
    yield
    logger.handlers[:], logger.level, logger.propagate = saved
    cli._debug = cli._quiet = False


@pytest.fixture(scope="module")
def damaged(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A clip whose middle packets are garbage: `frames` lists it with a `warning:` line."""
    d = tmp_path_factory.mktemp("damaged")
    clip = make_clip(d / "clean.mkv", frames=60, size_wh=(160, 120), options={"g": "30"})
    data = bytearray(clip.read_bytes())
    rng = random.Random(3)
    for offset in range(len(data) // 3, len(data) * 2 // 3, 4000):
        data[offset : offset + 64] = rng.randbytes(64)
    bad = d / "damaged.mkv"
    bad.write_bytes(bytes(data))
    return bad


def test_quiet_after_the_command_hides_the_warning_as_before_it(damaged: Path) -> None:
    loud = run_cli("frames", str(damaged), "--json")
    assert any(line.startswith("warning:") for line in loud.stderr.splitlines()), loud.stderr
    before = run_cli("-q", "frames", str(damaged), "--json")
    assert before.stderr == "" and before.stdout == loud.stdout
    for argv in (
        ["frames", "-q", str(damaged), "--json"],  # between the command and its argument
        ["frames", str(damaged), "--json", "-q"],
        ["frames", str(damaged), "--quiet", "--json"],
    ):
        after = run_cli(*argv)
        assert (after.returncode, after.stdout, after.stderr) == (
            before.returncode, before.stdout, before.stderr,
        ), argv  # fmt: skip


def test_debug_after_the_command_shows_the_traceback_as_before_it(tmp_path: Path) -> None:
    missing = str(tmp_path / "missing.mp4")
    plain = run_cli("probe", missing)
    assert (plain.returncode, plain.stderr) == (2, f"error: {missing}: no such file\n")
    before = run_cli("--debug", "probe", missing)
    assert "Traceback" in before.stderr
    assert before.stderr.splitlines()[-1].endswith(f"InputError: {missing}: no such file")
    for argv in (["probe", "--debug", missing], ["probe", missing, "--debug"]):
        after = run_cli(*argv)
        assert (after.returncode, after.stderr) == (before.returncode, before.stderr), argv


@pytest.mark.parametrize(
    "argv",
    [
        ["--debug", "models", "path", "no-such-model"],
        ["models", "--debug", "path", "no-such-model"],
        ["models", "path", "--debug", "no-such-model"],
        ["models", "path", "no-such-model", "--debug"],
    ],
)
def test_debug_anywhere_in_a_sub_group(argv: list[str], capsys: pytest.CaptureFixture) -> None:
    assert cli.main(["models", "path", "no-such-model"]) == 2
    assert capsys.readouterr().err.startswith("error: ")
    with pytest.raises(VidpipeError):  # --debug: the exception itself, for its traceback
        cli.main(argv)


@pytest.mark.parametrize(
    "argv",
    [
        ["-q", "models", "list"],
        ["models", "-q", "list"],
        ["models", "list", "-q"],
        ["models", "list", "--quiet"],
        ["probe", "--json", str(H264), "-q"],
    ],
)
def test_quiet_anywhere_sets_quiet(argv: list[str], capsys: pytest.CaptureFixture) -> None:
    assert cli.main(argv) == 0
    assert (cli._quiet, cli._debug) == (True, False)
    assert capsys.readouterr().err == ""
    assert cli.main([a for a in argv if a not in ("-q", "--quiet")]) == 0
    assert cli._quiet is False  # reset for each run of `main`
    capsys.readouterr()


def test_a_file_named_dash_q_after_double_dash_is_a_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.chdir(tmp_path)
    assert cli.main(["probe", "--", "-q"]) == 2
    assert capsys.readouterr().err == "error: -q: no such file\n"  # not quiet mode
    assert cli._quiet is False
    shutil.copy(H264, tmp_path / "-q")
    assert cli.main(["probe", "--json", "--", "-q"]) == 0
    assert json.loads(capsys.readouterr().out)["frame_count"] == 100
    assert cli._quiet is False


def test_dash_q_as_the_value_of_an_option_is_that_value(capsys: pytest.CaptureFixture) -> None:
    assert cli.main(["frames", str(H264), "--type", "-q"]) == 2
    assert capsys.readouterr().err.startswith("error: Invalid value: unknown frame type '-q'")
    assert cli._quiet is False


def test_clustered_short_flags_and_option_values(restore_logging: None) -> None:
    _, commands = _tree()
    batch = dict((" ".join(path), c) for path, c in commands)["batch"]
    ctx = batch.make_context("batch", ["in.mp4", "-o", "out", "--task", "gamma", "-qj4"])
    assert ctx.params["jobs"] == 4 and cli._quiet is True
    detect = dict((" ".join(path), c) for path, c in commands)["detect"]
    cli._quiet = False
    ctx = detect.make_context("detect", ["in.mp4", "--json", "-q"])
    assert ctx.params["json_path"] == "-q" and cli._quiet is False


def test_version_after_a_command_is_one_error_line(capsys: pytest.CaptureFixture) -> None:
    assert cli.main(["probe", "--version"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: No such option: --version") and err.count("\n") == 1


def test_global_options_are_defined_once_and_shared_by_every_command() -> None:
    root, commands = _tree()
    shared = [p for p in root.params if p.name in cli.GLOBAL_OPTIONS]
    assert [p.name for p in shared] == ["debug", "quiet"]
    for path, command in commands:
        own = [p for p in command.params if p.name in cli.GLOBAL_OPTIONS]
        assert len(own) == 2 and all(a is b for a, b in zip(own, shared, strict=True)), path


def _examples(help_text: str) -> list[str]:
    """The command lines under "Examples:" in a --help text."""
    lines = help_text.split("Examples:\n", 1)[1].splitlines()
    return [line.strip() for line in lines if line.strip()]


def test_every_command_help_shows_examples(capsys: pytest.CaptureFixture) -> None:
    _, commands = _tree()
    assert {"probe", "frames", "gamma", "chroma", "detect", "eval", "batch", "models",
            "models list", "models pull", "models path", "models convert"} <= {
        " ".join(path) for path, _ in commands
    }  # fmt: skip
    for path, _ in commands:
        assert cli.main([*path, "--help"]) == 0
        out = capsys.readouterr().out
        assert "Examples:\n" in out, path
        examples = _examples(out)
        assert examples, path
        for line in examples:  # one per line (not rewrapped), fitting an 80-column terminal
            assert line.startswith(f"vidpipe {' '.join(path)}"), (path, line)
            assert len(line) <= 76, line


def test_every_example_parses(restore_logging: None, capsys: pytest.CaptureFixture) -> None:
    """Each example names real options with valid values for its command (parsed by the
    command, not run), so the examples cannot drift from the options."""
    root, commands = _tree()
    for path, _ in commands:
        assert cli.main([*path, "--help"]) == 0
        for line in _examples(capsys.readouterr().out):
            args = shlex.split(line, comments=True)[1:]
            command, name = root, "vidpipe"
            while hasattr(command, "commands") and args and args[0] in command.commands:
                name, args = args[0], args[1:]
                command = command.commands[name]
            command.make_context(name, args)  # raises a click UsageError if it does not parse
