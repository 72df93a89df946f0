"""The layers of docs/architecture.md and no import cycles, as import-linter checks them (its
contracts are in pyproject.toml: a lower layer never imports a higher one); and no module
grown past the size one reader can hold (house rule: files under ~500 lines)."""

from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import ROOT

MAX_LINES = 450
# Exempt: the CLI's option declarations, a flat list of typer.Option calls and their help.
LONG_ALLOWED = {"vidpipe/cli/options.py"}


def test_import_contracts_are_kept() -> None:
    """In a process of its own: import-linter configures logging with `dictConfig`, which
    disables every logger already made (vidpipe's), and later tests' warnings would be lost."""
    pytest.importorskip("importlinter.cli")
    code = (
        "import sys\nfrom importlinter.cli import lint_imports\n"
        f"sys.exit(lint_imports(config_filename={str(ROOT / 'pyproject.toml')!r}, "
        "no_cache=True, no_logo=True))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=ROOT
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_no_module_is_longer_than_the_limit() -> None:
    """A module past MAX_LINES is split along a seam (its topics, a pure part apart from the
    one with processes or threads), not squeezed."""
    lengths = {
        path.relative_to(ROOT).as_posix(): len(path.read_text(encoding="utf-8").splitlines())
        for path in (ROOT / "vidpipe").rglob("*.py")
    }
    over = {name: n for name, n in sorted(lengths.items()) if n > MAX_LINES}
    over = {name: n for name, n in over.items() if name not in LONG_ALLOWED}
    assert not over, f"modules over {MAX_LINES} lines: " + ", ".join(
        f"{name} ({n})" for name, n in over.items()
    )
