"""Test helper: ONNX detectors in the exported layouts of other detector families.

``wrap_nano`` wraps the reference YOLOX-Nano graph (``yolox_nano.onnx``: input ``images``
float32 [1, 3, 416, 416] BGR 0..255, output ``output`` [1, 3549, 85] raw) into a model that
looks like a YOLOv5, YOLOv8 or end-to-end (NMS inside the graph) export: input ``images``
float32 [1, 3, 416, 416] RGB 0..1, output ``output0``. The metadata helpers write what the
Ultralytics / YOLOv5 exporters write. ``nms_reference`` and ``f1_at`` are plain numpy
references for comparing detections. Only ``onnx`` and numpy are used (and vidpipe's
COCO names, as labels).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from vidpipe.detectors.names import COCO_NAMES

SIZE = 416
STRIDES = (8, 16, 32)
E2E_IOU = 0.45
E2E_SCORE = 0.05
E2E_MAX_DET = 100

COCO80: list[str] = list(COCO_NAMES)  # the exporters' names of an 80-class COCO model


def _grids(size: int = SIZE) -> tuple[np.ndarray, np.ndarray]:
    """Anchor-point grid [N, 2] (grid_x, grid_y) and strides [N, 1], float32, N = 3549 at 416."""
    cells, strides = [], []
    for s in STRIDES:
        n = size // s
        ys, xs = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
        cells.append(np.stack([xs.ravel(), ys.ravel()], axis=1))
        strides.append(np.full((n * n, 1), s))
    return (np.concatenate(cells).astype(np.float32), np.concatenate(strides).astype(np.float32))


class _Graph:
    """Accumulates nodes and constant initializers for the wrapper graph."""

    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []

    def const(self, name: str, value: np.ndarray) -> str:
        """Adds an initializer named ``w/<name>``; returns its name."""
        self.inits.append(numpy_helper.from_array(np.asarray(value), f"w/{name}"))
        return f"w/{name}"

    def op(self, op: str, inputs: list[str], out: str, **attrs: object) -> str:
        """Adds node ``op`` writing tensor ``out`` (one output); returns ``out``."""
        self.nodes.append(helper.make_node(op, inputs, [out], name=f"n/{out}", **attrs))
        return out

    def slice(self, x: str, start: int, end: int, axis: int, out: str) -> str:
        """``x[..., start:end, ...]`` along ``axis`` (opset-11 Slice with constant inputs)."""
        ins = [np.array([v], np.int64) for v in (start, end, axis)]
        names = [self.const(f"{out}_{k}", v) for k, v in zip(("s", "e", "a"), ins, strict=True)]
        return self.op("Slice", [x, *names], out)


def _decode(g: _Graph, raw: str) -> tuple[str, str, str, str]:
    """Grid decode of raw [1, 3549, 85] -> (cxcy [1,N,2], wh [1,N,2] in input pixels,
    objectness [1,N,1], class probabilities [1,N,80]); all sigmoids stay in 0..1."""
    grid, stride = _grids()
    gxy = g.const("grid", grid[None])
    gst = g.const("stride", stride[None])
    xy = g.slice(raw, 0, 2, 2, "dxdy")
    lwh = g.slice(raw, 2, 4, 2, "logwh")
    cxcy = g.op("Mul", [g.op("Add", [xy, gxy], "gxy"), gst], "cxcy")
    wh = g.op("Mul", [g.op("Exp", [lwh], "expwh"), gst], "wh")
    return cxcy, wh, g.slice(raw, 4, 5, 2, "obj"), g.slice(raw, 5, 85, 2, "cls")


def _e2e(g: _Graph, cxcy: str, wh: str, obj: str, cls: str, out: str) -> None:
    """NMS in the graph: class-aware NonMaxSuppression on argmax-class scores, best 100 by
    TopK, zero rows as padding -> ``out`` [1, 100, 6] = (x1, y1, x2, y2, score, class)."""
    half = g.op("Mul", [wh, g.const("half", np.array(0.5, np.float32))], "halfwh")
    boxes = g.op(
        "Concat",
        [g.op("Sub", [cxcy, half], "x1y1"), g.op("Add", [cxcy, half], "x2y2")],
        "xyxy",
        axis=2,
    )
    best = g.op("ReduceMax", [cls], "bestcls", axes=[2], keepdims=1)
    cid = g.op("ArgMax", [cls], "clsid", axis=2, keepdims=1)
    score = g.op("Mul", [obj, best], "score")  # [1,N,1]
    depth = g.const("depth", np.array([len(COCO80)], np.int64))
    onoff = g.const("onoff", np.array([0.0, 1.0], np.float32))
    onehot = g.op("OneHot", [g.op("Squeeze", [cid], "cid2", axes=[2]), depth, onoff], "onehot")
    masked = g.op("Mul", [onehot, score], "masked")  # [1,N,80], zero but the argmax class
    scores = g.op("Transpose", [masked], "nmsscores", perm=[0, 2, 1])
    sel = g.op(
        "NonMaxSuppression",
        [
            boxes,
            scores,
            g.const("maxper", np.array([E2E_MAX_DET], np.int64)),
            g.const("iou", np.array([E2E_IOU], np.float32)),
            g.const("thr", np.array([E2E_SCORE], np.float32)),
        ],
        "selected",
    )  # [M, 3] = (batch, class, box)
    idx = g.op("Squeeze", [g.slice(sel, 2, 3, 1, "selbox2")], "selbox", axes=[1])
    cidf = g.op("Cast", [cid], "cidf", to=TensorProto.FLOAT)
    rows = g.op("Concat", [boxes, score, cidf], "rows3", axis=2)
    rows = g.op("Squeeze", [rows], "rows", axes=[0])  # [N, 6]
    pad = g.const("pad", np.zeros((E2E_MAX_DET, 6), np.float32))
    cand = g.op("Concat", [g.op("Gather", [rows, idx], "kept", axis=0), pad], "cand", axis=0)
    cscore = g.op("Squeeze", [g.slice(cand, 4, 5, 1, "cscore2")], "cscore", axes=[1])
    k = g.const("k", np.array([E2E_MAX_DET], np.int64))
    g.nodes.append(helper.make_node("TopK", [cscore, k], ["topv", "topi"], name="n/topk", axis=0))
    top = g.op("Gather", [cand, "topi"], "top", axis=0)
    g.op("Unsqueeze", [top], out, axes=[0])


def wrap_nano(
    nano: Path,
    out: Path,
    layout: str,
    *,
    metadata: dict[str, str] | None = None,
    anchors: int = 1,
) -> Path:
    """Writes ``out``: ``images`` [1,3,416,416] RGB 0..1 -> yolox_nano -> ``output0`` in layout
    "yolov5" [1, anchors*3549, 85] (cx, cy, w, h px, obj, 80 class probs), "yolov8"
    [1, 84, 3549] (cx, cy, w, h px, 80 obj*class scores) or "e2e" [1, 100, 6]
    (x1, y1, x2, y2, score, class; NMS iou 0.45, score > 0.05, zero rows as padding)."""
    if layout not in ("yolov5", "yolov8", "e2e"):
        raise ValueError(f"unknown layout {layout!r}")
    base = onnx.compose.add_prefix(onnx.load(str(nano)), "nano/")
    inner_in, inner_out = base.graph.input[0].name, base.graph.output[0].name
    g = _Graph()
    scaled = g.op("Mul", ["images", g.const("k255", np.array(255.0, np.float32))], "x255")
    g.op("Gather", [scaled, g.const("bgr", np.array([2, 1, 0], np.int64))], inner_in, axis=1)
    pre, g.nodes = g.nodes, []
    cxcy, wh, obj, cls = _decode(g, inner_out)
    n = sum((SIZE // s) ** 2 for s in STRIDES)
    if layout == "yolov5":
        dec = g.op("Concat", [cxcy, wh, obj, cls], "dec", axis=2)
        g.op("Concat", [dec] * anchors, "output0", axis=1)
        shape = [1, anchors * n, 85]
    elif layout == "yolov8":
        scores = g.op("Mul", [obj, cls], "scores")
        dec = g.op("Concat", [cxcy, wh, scores], "dec", axis=2)
        g.op("Transpose", [dec], "output0", perm=[0, 2, 1])
        shape = [1, 84, n]
    else:
        _e2e(g, cxcy, wh, obj, cls, "output0")
        shape = [1, E2E_MAX_DET, 6]
    graph = helper.make_graph(
        [*pre, *base.graph.node, *g.nodes],
        f"{layout}_from_yolox_nano",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, SIZE, SIZE])],
        [helper.make_tensor_value_info("output0", TensorProto.FLOAT, shape)],
        initializer=[*base.graph.initializer, *g.inits],
        value_info=list(base.graph.value_info),
    )
    model = helper.make_model(graph, opset_imports=list(base.opset_import))
    model.ir_version = base.ir_version
    model.producer_name = "vidpipe-tests"
    if metadata is not None:
        helper.set_model_props(model, dict(metadata))
    onnx.checker.check_model(model, full_check=True)
    out = Path(out)
    onnx.save(model, str(out))
    return out


def _names(names: list[str]) -> str:
    """``str({0: name0, 1: name1, ...})``, the exporters' ``names`` entry."""
    return str(dict(enumerate(names)))


def ultralytics_metadata(
    names: list[str], imgsz: int = 416, *, end2end: bool = False
) -> dict[str, str]:
    """Metadata an Ultralytics YOLOv8 detect ONNX export writes (all values strings)."""
    meta = {
        "description": "Ultralytics YOLOv8n model trained on coco.yaml",
        "author": "Ultralytics",
        "version": "8.3.0",
        "license": "AGPL-3.0 License (https://ultralytics.com/license)",
        "stride": "32",
        "task": "detect",
        "batch": "1",
        "imgsz": str([imgsz, imgsz]),
        "names": _names(names),
    }
    if end2end:
        meta["end2end"] = "True"
    return meta


def yolov5_metadata(names: list[str]) -> dict[str, str]:
    """Metadata YOLOv5's export.py writes: stride and names."""
    return {"stride": "32", "names": _names(names)}


def _iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """IoU of one xyxy box [4] against boxes [K, 4] -> [K] in 0..1."""
    x1 = np.maximum(box[0], boxes[:, 0])
    y1 = np.maximum(box[1], boxes[:, 1])
    x2 = np.minimum(box[2], boxes[:, 2])
    y2 = np.minimum(box[3], boxes[:, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    return inter / np.maximum(area + areas - inter, 1e-9)


def nms_reference(dets: np.ndarray, iou: float) -> np.ndarray:
    """Class-aware greedy NMS of rows [K, 6]; keeps a box unless IoU > iou with a kept box of
    its class; returns the kept rows sorted by score (descending)."""
    dets = dets[np.argsort(-dets[:, 4], kind="stable")]
    keep: list[int] = []
    for i in range(len(dets)):
        same = [j for j in keep if dets[j, 5] == dets[i, 5]]
        if not same or _iou(dets[i, :4], dets[same, :4]).max() <= iou:
            keep.append(i)
    return dets[keep]


def f1_at(pred: np.ndarray, truth: np.ndarray, iou: float = 0.5) -> float:
    """Per-frame F1 in 0..1 of rows [K, >=6] (xyxy, score, class): greedy matching in score
    order (column 4 when present) with IoU >= iou and the same class; both empty -> 1.0."""
    pred, truth = np.asarray(pred, np.float64), np.asarray(truth, np.float64)
    if pred.size == 0 and truth.size == 0:
        return 1.0
    if pred.size == 0 or truth.size == 0:
        return 0.0
    used = np.zeros(len(truth), bool)
    tp = 0
    for p in pred[np.argsort(-pred[:, 4], kind="stable")]:
        ious = _iou(p[:4], truth[:, :4])
        ious[used | (truth[:, 5] != p[5])] = -1.0
        j = int(ious.argmax())
        if ious[j] >= iou:
            used[j] = True
            tp += 1
    return 2.0 * tp / (len(pred) + len(truth))
