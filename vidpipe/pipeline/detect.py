"""`detect_stage`: the detection adapter of the frame stream — batches frames, runs a
`Detector`, hands each (frame, detections) to a callback (the JSON / COCO sinks) and yields the
frames, with boxes and labels drawn when asked.

    decode ─► prefetch ─► [gamma] ─► [chroma] ─► batch ─► detect ─► annotate ─► prefetch ─► encode
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Protocol

from vidpipe.pipeline.batching import batched
from vidpipe.types import Detections, Frame

OnResult = Callable[[Frame, Detections], None]


class FrameDetector(Protocol):
    """Anything that maps a batch of frames to one Detections per frame (boxes in displayed
    pixels), e.g. `vidpipe.detect.detector.Detector`."""

    names: Sequence[str]

    def __call__(self, frames: Sequence[Frame]) -> list[Detections]: ...


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

    for group in batched(frames, batch):
        results = detector(group)
        if len(results) != len(group):
            raise RuntimeError(f"detector returned {len(results)} results for {len(group)} frames")
        for frame, dets in zip(group, results, strict=True):
            if on_result is not None:
                on_result(frame, dets)
            yield annotate(frame, dets, detector.names) if draw else frame
