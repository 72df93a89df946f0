"""RT-DETR-style exports (Ultralytics' RT-DETR): `[B, K, 4 + C]` per query cx, cy, w, h
normalised to the input (0..1) and C class scores. Input: R'G'B' 0..1, the picture stretched
to the whole input (aspect not kept), as its predictor does. No NMS: a DETR's queries are a
set, each object predicted once.
"""

from __future__ import annotations

import numpy as np

from vidpipe.detectors.foreign.exported import ExportFormat


def decode(raw: np.ndarray, canvas_hw: tuple[int, int]) -> np.ndarray:
    """`[B, K, 4 + C]` normalised boxes -> the same in input pixels."""
    rows = np.array(raw, dtype=np.float32)  # a copy: the runtime's buffer stays as it was
    height, width = canvas_hw
    rows[..., :4] *= np.array([width, height, width, height], np.float32)
    return rows


FORMAT = ExportFormat(
    name="rtdetr",
    placement="stretch",
    output="scores",
    nms=False,
    classes=lambda shape: shape[2] - 4 if shape[2] else None,
    decode=decode,
)
load = FORMAT.load
