"""The options every command reading an input shares (network URLs, timeouts, reconnects,
hardware decoding) and `open_source`; light to import (`vidpipe batch` takes them without
the encoders)."""

from __future__ import annotations

from typing import Any

import typer

from vidpipe.io.inputs import HWACCELS, NETWORK_SCHEMES, NETWORK_TIMEOUT_S, backoff_waits

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
    f"opened again, after {', '.join(f'{w:g}' for w in backoff_waits())} s; each gap is an "
    "event in --json.",
)
HWACCEL = typer.Option(
    HWACCELS[0],
    "--hwaccel",
    help=f"Where frames are decoded: {', '.join(HWACCELS[:-1])} or {HWACCELS[-1]}. auto: on "
    "NVIDIA's NVDEC when a CUDA device opens, else on the CPU; none: on the CPU; cuda: on "
    "NVDEC, an error without a CUDA device. A stream NVDEC cannot decode is decoded on the "
    "CPU. Frames come as the CPU decoder gives them (pix_fmt, pts, indexes).",
)


def open_source(
    source: str, backend: str, allow_url: bool, timeout: float | None, reconnect: int = 0,
    hwaccel: str = HWACCELS[0],
) -> Any:  # fmt: skip
    """The command's input as a `Source`: a local file, or an opted-in URL."""
    from vidpipe.io.source import Source

    return Source(source, backend=backend, allow_url=allow_url, timeout=timeout,  # type: ignore[arg-type]
                  reconnect=reconnect, hwaccel=hwaccel)  # fmt: skip
