"""End-to-end (NMS-free) exports: YOLOv10, YOLO26, and Ultralytics exports made with
`nms=True`: `[B, K, 6]` per kept box x1, y1, x2, y2 in input pixels, score, class id. The
class count is not in the output: the names in the metadata (or `--names`) give it. Input:
R'G'B' 0..1, letterboxed centred on 114. No NMS after: the model picked its boxes.
"""

from __future__ import annotations

from vidpipe.detectors.foreign.exported import ExportFormat, as_rows

FORMAT = ExportFormat(
    name="e2e",
    placement="center",
    output="boxes",
    nms=False,
    classes=lambda shape: None,
    decode=lambda raw, canvas_hw: as_rows(raw),
)
load = FORMAT.load
