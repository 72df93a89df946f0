"""What kind of detector an ONNX file holds, from its output signature and the metadata its
exporter wrote, so that a file is never run with another family's decoding.

    yolox    [B, N, 5 + C]  N = one anchor per cell of the stride 8/16/32 grids (3549 at 416)
    yolov5   [B, N, 5 + C]  N = three anchors per cell (10647 at 416, 25200 at 640)
    yolov8   [B, 4 + C, N]  channels first, no objectness (YOLOv8 / YOLO11)
    e2e      [B, K, 6]      x1 y1 x2 y2 score class, NMS done in the graph (YOLOv10, YOLO26)
    rtdetr   [B, K, 4 + C]  normalised cx cy w h + class scores (RT-DETR)

Ultralytics' exporters write `names`, `stride`, `imgsz` and `task` (and YOLOv5's `stride` and
`names`) into the ONNX `metadata_props`; YOLOX's write none. A YOLOX-shaped output with such
metadata, or with three anchors per cell, is not YOLOX. Reads the graph's structure only
(`onnx.load` without external data); no runtime session.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path

from vidpipe.errors import InputError

STRIDES = (8, 16, 32)
DESCRIPTIONS = {
    "yolox": "YOLOX",
    "yolov5": "YOLOv5-style ([B, N, 5 + classes], three anchors per cell)",
    "yolov8": "YOLOv8/YOLO11-style ([B, 4 + classes, N], no objectness)",
    "e2e": "end-to-end, NMS-free ([B, K, 6]: x1 y1 x2 y2 score class)",
    "rtdetr": "RT-DETR-style ([B, K, 4 + classes], normalised boxes)",
}

Dims = tuple[int | None, ...]  # None: a dynamic axis


@dataclass(frozen=True)
class Signature:
    """An ONNX graph's first input and output shapes and its metadata."""

    input: Dims
    output: Dims
    metadata: dict[str, str] = field(default_factory=dict)

    @property
    def names(self) -> list[str] | None:
        """The class names of exporters' metadata (a dict or list literal), if any."""
        text = self.metadata.get("names")
        if text is None:
            return None
        try:
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            return None
        if isinstance(value, dict):
            return [str(value[k]) for k in sorted(value)]
        return [str(v) for v in value] if isinstance(value, (list, tuple)) else None


def signature(path: Path) -> Signature:
    """The signature of the ONNX file at `path`; InputError when it cannot be read."""
    import onnx

    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as err:  # a protobuf DecodeError, OSError, ...
        raise InputError(f"{path}: not a readable ONNX model ({err})") from None
    graph = model.graph
    constants = {init.name for init in graph.initializer}
    inputs = [i for i in graph.input if i.name not in constants]
    if not inputs or not graph.output:
        raise InputError(f"{path}: the ONNX graph has no input or no output")
    metadata = {p.key: p.value for p in model.metadata_props}
    return Signature(_dims(inputs[0]), _dims(graph.output[0]), metadata)


def _dims(value: object) -> Dims:
    shape = value.type.tensor_type.shape  # type: ignore[attr-defined]
    return tuple(d.dim_value if d.HasField("dim_value") else None for d in shape.dim)


def anchor_cells(height: int, width: int) -> int:
    """Cells of the stride 8, 16 and 32 grids over an input of this size."""
    return sum((height // s) * (width // s) for s in STRIDES)


def layout(sig: Signature) -> str | None:
    """The detector layout of a signature ("yolox", "yolov5", "yolov8", "e2e", "rtdetr"), or
    None when its output has none of these shapes. A dynamic YOLOX-shaped output without an
    exporter's metadata reads as YOLOX (nothing tells it from a YOLOv5 export then)."""
    if len(sig.output) != 3:
        return None
    _, rows, cols = sig.output
    foreign = _ultralytics(sig)
    if not foreign and rows is not None and _grid(sig, rows):
        return "yolox"
    if cols == 6 and (foreign or (rows is not None and rows <= 1000)):
        return "e2e"
    if rows is not None and rows < 1000 and (cols is None or rows < cols):
        return "yolov8"  # [B, 4 + C, N]: the classes before the predictions
    names = sig.names
    if foreign and names and cols == 4 + len(names):
        return "rtdetr"
    if foreign or (rows is not None and _grid(sig, rows, anchors=3)):
        return "yolov5"
    return "yolox"


def check_yolox(path: Path) -> None:
    """InputError when the ONNX file at `path` holds a detector vidpipe would misread as
    YOLOX (another family's layout or exporter), naming what it is."""
    sig = signature(path)
    kind = layout(sig)
    if kind in (None, "yolox"):
        return
    shape = "[" + ", ".join("?" if d is None else str(d) for d in sig.output) + "]"
    source = " (Ultralytics metadata)" if _ultralytics(sig) else ""
    raise InputError(
        f"{path}: a {DESCRIPTIONS[kind]} export, output {shape}{source}; vidpipe runs "
        "YOLOX models (.pth, .safetensors, YOLOX .onnx) and would misread its boxes"
    )


def _ultralytics(sig: Signature) -> bool:
    """Whether an Ultralytics (or YOLOv5) exporter wrote the metadata."""
    meta = sig.metadata
    return "stride" in meta or "imgsz" in meta or "Ultralytics" in meta.get("author", "")


def _grid(sig: Signature, rows: int, anchors: int = 1) -> bool:
    """Whether `rows` predictions are `anchors` per cell of the input's stride grids."""
    if len(sig.input) != 4 or sig.input[2] is None or sig.input[3] is None:
        return False
    return rows == anchors * anchor_cells(sig.input[2], sig.input[3])
