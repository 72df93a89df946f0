"""`detect`: the detection stage of the frame stream (drawing, `annotate`, is
`vidpipe.draw.boxes`'s).

    frames ─► detect (batch ─► letterbox ─► prefetch ─► model + NMS ─► prefetch)
           ─► (Frame, Detections) ─► [track] ─► annotate ─► Frame

`detect` batches frames, runs a `FrameDetector` and yields each frame with its detections,
in display order; `vidpipe.draw.boxes.annotate` draws them (its own step, after anything
that adds to the detections, such as a tracker). The letterbox (resize, colour conversion,
upload: the "host -> device prefetch" of the architecture) runs a batch or two ahead of the
model on its own thread, and the model with its post-processing on another, a batch ahead of
the caller: letterboxing the next batch, inferring this one and what the caller does with the
last one (JSON Lines, drawing, encoding) overlap, so no core waits on another stage's step.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Protocol

from vidpipe.pipeline.batching import batched
from vidpipe.runtime.closing import close_if_closable
from vidpipe.runtime.threads import ordered_map, prefetch
from vidpipe.types import Detections, Frame

PREPARED_BATCHES = 2  # letterboxed batches made ahead of the model, on their own thread
INFERRED_BATCHES = 1  # batches with their detections made ahead of the caller


class FrameDetector(Protocol):
    """A detector in two steps, e.g. `vidpipe.detectors.detector.Detector`: `prepare` a batch of
    frames (letterbox, upload), then `infer` one Detections per frame (displayed pixels).
    `names` are its class names by class id; `batch` its frames per forward pass."""

    names: Sequence[str]
    batch: int

    def prepare(self, frames: Sequence[Frame]) -> Any: ...

    def infer(self, prepared: Any) -> list[Detections]: ...


def detect(
    frames: Iterable[Frame], detector: FrameDetector, *, batch: int | None = None
) -> Iterator[tuple[Frame, Detections]]:
    """Each frame with its detections, `batch` frames per forward pass (default the
    detector's; the last batch may be shorter), in order. Closing it early stops the
    letterbox thread and closes `frames`."""
    size = batch or detector.batch
    if size < 1:
        raise ValueError(f"batch must be >= 1, got {size}")
    prepared = prefetch(
        ((group, detector.prepare(group)) for group in batched(frames, size)),
        PREPARED_BATCHES,
        name="vidpipe-letterbox",
    )
    inferred = ordered_map(
        lambda item: (item[0], detector.infer(item[1])),
        prepared,
        getattr(detector, "parallel", 1),
        ahead=INFERRED_BATCHES,
        name="vidpipe-infer",
    )
    try:
        for group, results in inferred:
            if len(results) != len(group):
                raise RuntimeError(f"{len(results)} results for {len(group)} frames")
            yield from zip(group, results, strict=True)
    finally:
        inferred.close()
        prepared.close()
        close_if_closable(frames)
