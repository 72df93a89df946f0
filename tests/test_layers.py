"""The layers of docs/architecture.md and no import cycles, as import-linter checks them (its
contracts are in pyproject.toml: a lower layer never imports a higher one); and no module
grown past the size one reader can hold (house rule: files under ~500 lines)."""

from __future__ import annotations

import pytest
from conftest import ROOT

MAX_LINES = 450
# Exempt: the CLI's option declarations, a flat list of typer.Option calls and their help.
LONG_ALLOWED = {"vidpipe/cli/options.py"}


def test_import_contracts_are_kept(capsys: pytest.CaptureFixture[str]) -> None:
    importlinter_cli = pytest.importorskip("importlinter.cli")
    code = importlinter_cli.lint_imports(
        config_filename=str(ROOT / "pyproject.toml"), no_cache=True, no_logo=True
    )
    assert code == 0, capsys.readouterr().out


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
