"""The console script's entry point: each command registers only its own module, so a
command imports what it needs (a `batch` re-run over finished work is mostly start-up)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import SAMPLE_CLIPS, ffprobe_json, needs_ffprobe, run_cli

# As `vidpipe --help` lists them (Typer puts command groups, `models`, last).
COMMANDS = [
    "probe",
    "frames",
    "gamma",
    "chroma",
    "detect",
    "eval",
    "report",
    "export",
    "batch",
    "serve",
    "models",
]


def _modules_after(*argv: str) -> tuple[int, set[str]]:
    """Exit code of `main(argv)` in a fresh interpreter, and the modules it imported."""
    code = (
        "import json, sys\n"
        "from vidpipe.cli.main import main\n"
        f"rc = main({list(argv)!r})\n"
        "print(json.dumps([rc, sorted(sys.modules)]))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    rc, modules = json.loads(proc.stdout.splitlines()[-1])
    return rc, set(modules)


def test_help_lists_every_command_in_order() -> None:
    proc = run_cli("--help")
    assert proc.returncode == 0, proc.stderr
    listed = [
        line.split()[0] for line in proc.stdout.split("Commands:")[1].splitlines() if line.strip()
    ]
    assert listed == COMMANDS


def test_a_typo_names_the_command_it_meant() -> None:
    proc = run_cli("bacth", "x")
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: No such command 'bacth'"), proc.stderr
    assert "batch" in proc.stderr and len(proc.stderr.splitlines()) == 1


def test_batch_rerun_imports_neither_numpy_nor_the_other_commands(tmp_path: Path) -> None:
    clip = next(p for p in SAMPLE_CLIPS if p.name == "vfr.mp4")
    args = ["-q", "batch", str(clip), "-o", str(tmp_path / "out"), "--task", "gamma",
            "--gamma", "2.0", "--codec", "libx264"]  # fmt: skip
    assert run_cli(*args).returncode == 0  # the first run does the work in a worker
    rc, modules = _modules_after(*args)  # the re-run only checks the ledger
    assert rc == 0
    assert {"numpy", "torch", "PIL"}.isdisjoint(modules)
    assert {m for m in modules if m.startswith("vidpipe.cli.")} == {
        "vidpipe.cli.main", "vidpipe.cli.batch", "vidpipe.cli.inputs", "vidpipe.cli.options"
    }  # fmt: skip


def test_commands_registered_one_by_one_in_process_then_all(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from vidpipe.cli.main import app, main

    clip = str(SAMPLE_CLIPS[0])
    assert main(["probe", clip]) == 0
    assert main(["frames", clip, "--csv"]) == 0
    assert main(["--help"]) == 0
    names = [c.name for c in app.registered_commands] + [g.name for g in app.registered_groups]
    assert sorted(names) == sorted(COMMANDS)  # each once, whatever came first
    capsys.readouterr()


@needs_ffprobe
@pytest.mark.parametrize("name", ["h264_bframes_aac.mp4", "vfr.mp4", "street_bikes.mp4"])
def test_probe_prints_the_time_base_as_ffprobe_does(name: str) -> None:
    """`1/12800`, as ffprobe's stream time_base, not `1/12800 (0.000)`."""
    clip = next(p for p in SAMPLE_CLIPS if p.name == name)
    done = run_cli("probe", str(clip))
    assert done.returncode == 0, done.stderr
    row = next(line for line in done.stdout.splitlines() if line.startswith("time base"))
    video = next(s for s in ffprobe_json(clip, "-show_streams")["streams"]
                 if s["codec_type"] == "video")  # fmt: skip
    assert row.split()[-1] == video["time_base"]
