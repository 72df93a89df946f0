"""File in, file out: decode -> stages -> encode, with decode and encode overlapping.

    decode ─► prefetch ─► stage(s) ─► prefetch ─► encode (+ audio copied)     process_file
    decode ─► prefetch ─► stage(s)  (side effects only, e.g. detections)       run_file

Closing is explicit: whatever ends the run (the end, an error in any stage, Ctrl-C), the
chain is closed from the encoder end, which stops and joins both prefetch threads, closes
the decoder (or kills its ffmpeg) and lets `encode` remove its temporary file.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from vidpipe.io.decode import Backend, decode
from vidpipe.io.encode import EncodeOptions, EncodeResult, encode
from vidpipe.io.probe import probe
from vidpipe.runtime.concurrency import prefetch
from vidpipe.types import Frame, VideoInfo

Stage = Callable[[Iterator[Frame]], Iterator[Frame]]

QUEUE_FRAMES = 8  # frames held by each prefetch queue: memory does not grow with length


def process_file(
    source: str,
    output: str,
    stages: list[Stage],
    *,
    options: EncodeOptions,
    backend: Backend = "av",
    info: VideoInfo | None = None,
    observe: Stage | None = None,
) -> EncodeResult:
    """Run `stages` over every frame of `source` and encode the result to `output`.

    `observe` wraps the processed stream (a progress bar) before the encoder queue.
    """
    chain = _open_chain(source, [*stages, *([observe] if observe else [])], backend, info)
    chain.append(prefetch(chain[-1], QUEUE_FRAMES, name="vidpipe-process"))
    try:
        return encode(chain[-1], output, source=source, options=options)
    finally:
        _close_chain(chain)


def run_file(
    source: str,
    stages: list[Stage],
    *,
    backend: Backend = "av",
    info: VideoInfo | None = None,
) -> int:
    """Run `stages` over every frame of `source` for their side effects (nothing encoded);
    decoding overlaps the stages. Returns the number of frames that came out."""
    chain = _open_chain(source, stages, backend, info)
    try:
        return sum(1 for _ in chain[-1])
    finally:
        _close_chain(chain)


def _open_chain(
    source: str, stages: list[Stage], backend: Backend, info: VideoInfo | None
) -> list[Iterator[Frame]]:
    info = info if info is not None else probe(source)
    chain: list[Iterator[Frame]] = [
        prefetch(decode(source, backend=backend, info=info), QUEUE_FRAMES, name="vidpipe-decode")
    ]
    for stage in stages:
        chain.append(stage(chain[-1]))
    return chain


def _close_chain(chain: list[Iterator[Frame]]) -> None:
    """Outermost first: once a prefetch thread is joined nothing iterates the generators
    inside it, which are then closed here rather than whenever they are collected."""
    for frames in reversed(chain):
        close = getattr(frames, "close", None)
        if close is not None:
            close()
