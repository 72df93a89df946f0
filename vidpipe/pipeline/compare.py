"""`compare_detectors`: what a detector option (a precision, a runtime) changes on the user's
own footage (`vidpipe models check`): the same frames run through a reference detector and
through the other, batch by batch in turn, their boxes compared (`vidpipe.evaluate.agreement`,
per class, at IoU 0.5 and 0.7) and each one's time per frame measured on the same batches.

Frames are decoded once and streamed through both: memory stays flat however many are
checked.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass

from vidpipe.detectors.detector import Detector, load_detector
from vidpipe.detectors.options import DetectOptions
from vidpipe.evaluate.agreement import Agreement
from vidpipe.io.source import Source
from vidpipe.pipeline.batching import batched


@dataclass(frozen=True)
class Side:
    """One detector of the comparison: its runtime, arithmetic and time per frame."""

    engine: str
    precision: str  # "f32", "bf16", "f16"
    ms_per_frame: float


@dataclass(frozen=True)
class Comparison:
    """The other detector against the reference: agreement at IoU 0.5 (`loose`) and 0.7
    (`tight`), by class id (`names` names them), and both sides' speed."""

    frames: int
    reference: Side
    other: Side
    loose: Agreement
    tight: Agreement
    names: tuple[str, ...]


def compare_detectors(source: Source, reference: DetectOptions, other: DetectOptions,
                      frames: int | None = None) -> Comparison:  # fmt: skip
    """The first `frames` frames of `source` (None: all) through both detectors."""
    detectors = (load_detector(reference), load_detector(other))
    step = max(detectors[0].batch * detectors[0].parallel, 1)
    loose, tight, seconds = Agreement(), Agreement(), [0.0, 0.0]
    for group in batched(itertools.islice(source.frames(), frames), step):
        found = []
        for i, detector in enumerate(detectors):
            start = time.perf_counter()
            found.append(detector(list(group)))
            seconds[i] += time.perf_counter() - start
        for want, got in zip(*found, strict=True):
            loose.add(want, got)
            tight.add(want, got, iou=0.7)
    count = max(loose.frames, 1)
    sides = [
        Side(d.engine, _precision(d, o), 1000 * s / count)
        for d, o, s in zip(detectors, (reference, other), seconds, strict=True)
    ]
    return Comparison(loose.frames, sides[0], sides[1], loose, tight, tuple(detectors[0].names))


def _precision(detector: Detector, options: DetectOptions) -> str:
    """The arithmetic the detector runs in: OpenVINO's (`precision_for`), else its dtype's."""
    if detector.engine == "openvino":
        from vidpipe.detectors.runtimes import precision_for

        return precision_for(options.precision)
    return {"float16": "f16", "bfloat16": "bf16"}.get(str(detector.dtype), "f32")
