"""YOLOv8 / YOLO11-style exports (Ultralytics' anchor-free heads): `[B, 4 + C, N]`, channels
first, per prediction cx, cy, w, h in input pixels and C class scores, no objectness. Input:
R'G'B' 0..1, letterboxed centred on 114. Class-aware NMS after.
"""

from __future__ import annotations

from vidpipe.detectors.foreign.exported import ExportFormat, transpose_rows

FORMAT = ExportFormat(
    name="yolov8",
    placement="center",
    output="scores",
    nms=True,
    classes=lambda shape: shape[1] - 4 if shape[1] else None,
    decode=lambda raw, canvas_hw: transpose_rows(raw),
)
load = FORMAT.load
