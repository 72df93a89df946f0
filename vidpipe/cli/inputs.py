"""The options every command reading an input shares (network URLs, timeouts, reconnects)
and `open_source`; light to import (`vidpipe batch` takes them without the encoders)."""

from __future__ import annotations

from typing import Any

import typer

from vidpipe.io.inputs import NETWORK_SCHEMES, NETWORK_TIMEOUT_S

ALLOW_URL = typer.Option(
    False,
    "--allow-url",
    help=f"Also read network inputs: {', '.join(NETWORK_SCHEMES)} URLs (no other protocol, "
    "redirects included), and V4L2 devices (/dev/video0); credentials in URLs are never "
    "printed.",
)
TIMEOUT = typer.Option(
    None,
    "--timeout",
    help=f"Seconds a URL's opening and each of its reads may take ({NETWORK_TIMEOUT_S:g}).",
)
RECONNECT = typer.Option(
    0,
    "--reconnect",
    help="Times in a row a live URL (any but an http(s) file of known length) that drops is "
    "opened again, after 0.5, 1, 2, 4, 8 s; each gap is an event in --json.",
)


def open_source(
    source: str, backend: str, allow_url: bool, timeout: float | None, reconnect: int = 0
) -> Any:
    """The command's input as a `Source`: a local file, or an opted-in URL."""
    from vidpipe.io.source import Source

    return Source(source, backend=backend, allow_url=allow_url, timeout=timeout,  # type: ignore[arg-type]
                  reconnect=reconnect)  # fmt: skip
