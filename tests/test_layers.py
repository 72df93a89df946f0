"""The layers of docs/architecture.md and no import cycles, as import-linter checks them (its
contracts are in pyproject.toml: a lower layer never imports a higher one)."""

from __future__ import annotations

import pytest
from conftest import ROOT

importlinter_cli = pytest.importorskip("importlinter.cli")


def test_import_contracts_are_kept(capsys: pytest.CaptureFixture[str]) -> None:
    code = importlinter_cli.lint_imports(
        config_filename=str(ROOT / "pyproject.toml"), no_cache=True, no_logo=True
    )
    assert code == 0, capsys.readouterr().out
