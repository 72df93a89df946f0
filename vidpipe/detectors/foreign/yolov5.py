"""YOLOv5-style exports (YOLOv5's export.py, YOLOv7, YOLOX-free anchor-based heads):
`[B, N, 5 + C]` per prediction cx, cy, w, h in input pixels, objectness, class
probabilities; three anchors per grid cell, decoded in the graph. Input: R'G'B' 0..1,
letterboxed centred on 114. Class-aware NMS after.
"""

from __future__ import annotations

from vidpipe.detectors.foreign.exported import ExportFormat, as_rows

FORMAT = ExportFormat(
    name="yolov5",
    placement="center",
    output="objectness",
    nms=True,
    classes=lambda shape: shape[2] - 5 if shape[2] else None,
    decode=lambda raw, canvas_hw: as_rows(raw),
)
load = FORMAT.load
