"""`detect_stage`: the detection adapter of the frame stream — batches frames, runs a
`Detector`, hands each (frame, detections) to a callback (the JSON / COCO sinks) and yields the
frames, with boxes and labels drawn when asked.

    decode ─► prefetch ─► [gamma] ─► [chroma] ─► batch ─► letterbox ─► prefetch ─► model + NMS
           ─► annotate ─► prefetch ─► encode

The letterbox (colour conversion, resize, upload: the "host -> device prefetch" of the
architecture) runs a batch or two ahead of the model on its own thread.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any, Protocol

from vidpipe.pipeline.batching import batched
from vidpipe.runtime.concurrency import prefetch
from vidpipe.types import Detections, Frame

OnResult = Callable[[Frame, Detections], None]

PREPARED_BATCHES = 2  # letterboxed batches made ahead of the model, on their own thread


class FrameDetector(Protocol):
    """A detector in two steps, e.g. `vidpipe.detect.detector.Detector`: `prepare` a batch of
    frames (letterbox, upload), then `infer` one Detections per frame (displayed pixels)."""

    names: Sequence[str]

    def prepare(self, frames: Sequence[Frame]) -> Any: ...

    def infer(self, prepared: Any) -> list[Detections]: ...


def detect_stage(
    frames: Iterator[Frame],
    detector: FrameDetector,
    *,
    batch: int,
    on_result: OnResult | None = None,
    draw: bool = False,
) -> Iterator[Frame]:
    """Detect objects in every frame, `batch` frames per forward pass (the last batch may be
    shorter); `on_result(frame, detections)` is called in display order; frames come out in
    order, annotated when `draw`."""
    from vidpipe.detect.draw import annotate

    prepared = prefetch(
        ((group, detector.prepare(group)) for group in batched(frames, batch)),
        PREPARED_BATCHES,
        name="vidpipe-letterbox",
    )
    try:
        for group, ready in prepared:
            results = detector.infer(ready)
            if len(results) != len(group):
                raise RuntimeError(f"{len(results)} results for {len(group)} frames")
            for frame, dets in zip(group, results, strict=True):
                if on_result is not None:
                    on_result(frame, dets)
                yield annotate(frame, dets, detector.names) if draw else frame
    finally:
        prepared.close()
