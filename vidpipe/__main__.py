"""`python -m vidpipe` runs the CLI."""

from __future__ import annotations

from vidpipe.cli.main import run

run()
