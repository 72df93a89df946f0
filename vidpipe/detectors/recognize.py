"""What kind of detector an exported graph (ONNX, or OpenVINO IR `.xml` + `.bin`) holds, from
its output signature and the metadata its exporter wrote, so that a file is never run with
another family's decoding.

    yolox    [B, N, 5 + C]  N = one anchor per cell of the stride 8/16/32 grids (3549 at 416)
    yolov5   [B, N, 5 + C]  N = three anchors per cell (10647 at 416, 25200 at 640)
    yolov8   [B, 4 + C, N]  channels first, no objectness (YOLOv8 / YOLO11)
    e2e      [B, K, 6]      x1 y1 x2 y2 score class, NMS done in the graph (YOLOv10, YOLO26)
    rtdetr   [B, K, 4 + C]  normalised cx cy w h + class scores (RT-DETR)

Ultralytics' exporters write `names`, `stride`, `imgsz` and `task` (YOLOv5's: `stride` and
`names`) into the ONNX `metadata_props`; OpenVINO keeps them in the IR's `framework` section,
and Ultralytics' OpenVINO export also writes `metadata.yaml` beside the `.xml`. YOLOX's
exporter writes none. A YOLOX-shaped output with such metadata, or with three anchors per
cell, is not YOLOX. Where nothing tells two families apart, `identify` names the candidates
and `--model-format` decides: never a silent guess.
"""

from __future__ import annotations

import ast
import logging
from dataclasses import dataclass, field
from pathlib import Path

from vidpipe.errors import InputError, VidpipeError

STRIDES = (8, 16, 32)
P6_STRIDES = (8, 16, 32, 64)  # YOLOv5's P6 models (yolov5s6 ...)
FORMATS = ("yolox", "yolov5", "yolov8", "e2e", "rtdetr")  # --model-format
KNOWN_AS = {  # what users call the models each format reads (--model's help)
    "yolox": "YOLOX",
    "yolov5": "YOLOv5",
    "yolov8": "YOLOv8/11",
    "e2e": "YOLOv10/YOLO26 (end-to-end)",
    "rtdetr": "RT-DETR",
}
DESCRIPTIONS = {
    "yolox": "YOLOX ([B, N, 5 + classes], one anchor per cell, raw boxes)",
    "yolov5": "YOLOv5-style ([B, N, 5 + classes], three anchors per cell)",
    "yolov8": "YOLOv8/YOLO11-style ([B, 4 + classes, N], no objectness)",
    "e2e": "end-to-end, NMS-free ([B, K, 6]: x1 y1 x2 y2 score class)",
    "rtdetr": "RT-DETR-style ([B, K, 4 + classes], normalised boxes)",
}
PROBE_SIZE = 64  # the input a dynamic graph is run at once to count its predictions

Dims = tuple[int | None, ...]  # None: a dynamic axis
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Signature:
    """An exported graph's first input and output shapes and its exporter's metadata."""

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

    @property
    def imgsz(self) -> tuple[int, int] | None:
        """(height, width) of the exporter's `imgsz` metadata, if any."""
        try:
            value = ast.literal_eval(self.metadata.get("imgsz", "None"))
        except (ValueError, SyntaxError):
            return None
        if isinstance(value, int):
            value = [value, value]
        if (
            isinstance(value, (list, tuple))
            and len(value) == 2
            and all(isinstance(v, int) and v > 0 for v in value)
        ):
            return int(value[0]), int(value[1])
        return None

    @property
    def foreign(self) -> bool:
        """Whether an Ultralytics (or YOLOv5) exporter wrote the metadata."""
        meta = self.metadata
        return "stride" in meta or "imgsz" in meta or "Ultralytics" in meta.get("author", "")


def signature(path: Path) -> Signature:
    """The signature of the ONNX file or OpenVINO IR (.xml) at `path`; InputError when it
    cannot be read."""
    if path.suffix.lower() == ".xml":
        return _ir_signature(path)
    try:
        return _ort_signature(path)
    except Exception as exc:  # onnxruntime raises its own exception types
        log.debug("%s: onnxruntime cannot read it (%s); reading it with onnx", path, exc)
    return _onnx_signature(path)


def _ort_signature(path: Path) -> Signature:
    """The signature as onnxruntime reads it (its graph optimisations off): the `onnx`
    package costs 0.4 s to import here (ml_dtypes), a quarter of a short detect run."""
    import onnxruntime as ort

    from vidpipe.detectors.runtimes import static_dims

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    options.log_severity_level = 3  # its errors are ours to word
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    inputs, outputs = session.get_inputs(), session.get_outputs()  # none: onnx's reading
    metadata = dict(session.get_modelmeta().custom_metadata_map)  # says what is wrong
    return Signature(static_dims(inputs[0].shape), static_dims(outputs[0].shape), metadata)


def _onnx_signature(path: Path) -> Signature:
    """The signature as the `onnx` package reads it: a file onnxruntime cannot load (an
    operator it lacks, data it cannot find) may still be read, or refused in onnx's words."""
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


def _ir_signature(path: Path) -> Signature:
    """An OpenVINO IR's signature: shapes from the model, metadata from its `framework`
    section (an ONNX file's metadata_props), its labels and a `metadata.yaml` beside it."""
    from vidpipe.detectors.runtimes import installed, ov_core

    if not installed("openvino"):
        raise VidpipeError(f"{path}: an OpenVINO model needs `pip install openvino`")
    try:
        model = ov_core().read_model(str(path))
    except Exception as exc:  # OpenVINO raises RuntimeError with a long log
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise InputError(f"{path}: OpenVINO cannot read it ({first})") from None
    if not model.inputs or not model.outputs:
        raise InputError(f"{path}: the model has no input or no output")
    shapes = [
        tuple(d.get_length() if d.is_static else None for d in port.get_partial_shape())
        for port in (model.inputs[0], model.outputs[0])
    ]
    metadata: dict[str, str] = {}
    if model.has_rt_info(["framework"]):
        framework = model.get_rt_info(["framework"]).astype(dict)
        metadata.update({k: v.astype(str) for k, v in framework.items()})
    if "names" not in metadata and model.has_rt_info(["model_info", "labels"]):
        labels = model.get_rt_info(["model_info", "labels"]).astype(str).split()
        metadata["names"] = repr(labels)
    metadata.update(_yaml_metadata(path.parent / "metadata.yaml"))
    return Signature(shapes[0], shapes[1], metadata)


def _yaml_metadata(path: Path) -> dict[str, str]:
    """Ultralytics' `metadata.yaml` as metadata strings (empty when absent or unreadable)."""
    if not path.is_file():
        return {}
    import yaml

    try:
        values = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        log.warning("%s: ignored (%s)", path, exc)
        return {}
    if not isinstance(values, dict):
        return {}
    return {str(k): repr(v) if not isinstance(v, str) else v for k, v in values.items()}


def anchor_cells(height: int, width: int, strides: tuple[int, ...] = STRIDES) -> int:
    """Cells of the stride grids (8, 16, 32 by default) over an input of this size."""
    return sum(-(-height // s) * -(-width // s) for s in strides)


def candidates(sig: Signature, rows: int | None = None, size_hw: tuple[int, int] | None = None,
               ) -> list[str]:  # fmt: skip
    """The families whose layout the signature fits, best evidence first (one: certain).
    rows and size_hw: the output's predictions counted by running a dynamic graph once on an
    input of that (height, width)."""
    if len(sig.output) != 3:
        return []
    _, first, cols = sig.output
    rows = first if first is not None else rows
    hw = size_hw or (sig.input[2:4] if len(sig.input) == 4 else None)
    names = sig.names
    # [B, 4 + C, N]: the classes before the predictions, N dynamic or the larger
    v8 = first is not None and first >= 5 and (cols is None or first < cols)
    if v8 and (not names or first == 4 + len(names)):
        return ["yolov8"]
    grid = _grid_kind(rows, hw)
    if sig.foreign:
        if cols == 6:
            return ["e2e"]
        if names and cols == 5 + len(names):
            return ["yolov5"]
        if names and cols == 4 + len(names):
            return ["rtdetr"]
        return ["yolov5"] if grid == "yolov5" else ["yolov5", "rtdetr"]
    if grid is not None:
        return [grid]
    if rows is None or hw is None or None in hw:
        return ["yolox", "yolov5", "rtdetr"] if cols != 6 else ["yolox", "e2e"]
    return ["e2e"] if cols == 6 else ["rtdetr"]  # fixed rows, not a grid: queries


def _grid_kind(rows: int | None, size_hw: tuple[int | None, ...] | None) -> str | None:
    """ "yolox" or "yolov5" when `rows` predictions are 1 or 3 per cell of the input's grids."""
    if rows is None or size_hw is None or None in size_hw:
        return None
    height, width = size_hw  # type: ignore[misc]
    if rows == anchor_cells(height, width):
        return "yolox"
    if rows in (3 * anchor_cells(height, width), 3 * anchor_cells(height, width, P6_STRIDES)):
        return "yolov5"
    return None


def fits(kind: str, sig: Signature) -> bool:
    """Whether the output's shape can hold `kind`'s layout (what --model-format is checked
    against)."""
    if len(sig.output) != 3:
        return False
    _, rows, cols = sig.output
    if kind == "yolov8":
        return rows is None or rows >= 5
    if kind == "e2e":
        return cols in (None, 6)
    return cols is None or cols >= (5 if kind == "rtdetr" else 6)


def identify(path: Path, model_format: str | None = None) -> tuple[str, Signature]:
    """(family, signature) of the export at `path`. `model_format` (one of FORMATS) decides
    where the file fits it; without it an ambiguous file is an InputError naming the
    candidates, and a file of no known layout one saying so."""
    sig = signature(path)
    task = sig.metadata.get("task", "detect")
    if task != "detect":
        raise InputError(f"{path}: a {task} model; vidpipe runs detection models")
    shape = "[" + ", ".join("?" if d is None else str(d) for d in sig.output) + "]"
    if model_format is not None:
        if model_format not in FORMATS:
            raise InputError(f"--model-format must be one of {', '.join(FORMATS)}")
        if not fits(model_format, sig):
            raise InputError(f"{path}: output {shape} cannot be {DESCRIPTIONS[model_format]}")
        return model_format, sig
    kinds = candidates(sig)
    if len(kinds) > 1 and sig.output[1] is None:  # dynamic: count the predictions
        kinds = candidates(sig, *_probe(path, sig))
    if not kinds:
        raise InputError(f"{path}: output {shape} is not a detector output vidpipe reads")
    if len(kinds) > 1:
        raise InputError(
            f"{path}: output {shape} fits {' or '.join(kinds)}; say which with "
            f"--model-format {'|'.join(kinds)}"
        )
    return kinds[0], sig


def _probe(path: Path, sig: Signature) -> tuple[int | None, tuple[int, int] | None]:
    """(predictions, (height, width)) of one run of the graph on a blank input: its fixed
    size, else PROBE_SIZE square. (None, None) where it cannot run."""
    import numpy as np

    from vidpipe.detectors.runtimes import load_graph, pick

    dims = sig.input if len(sig.input) == 4 else (1, 3, None, None)
    height, width = dims[2] or PROBE_SIZE, dims[3] or PROBE_SIZE
    engine = "openvino" if path.suffix.lower() == ".xml" else pick()
    try:
        graph = load_graph(path, engine or "onnxruntime", 1)
        out = graph(np.zeros((dims[0] or 1, dims[1] or 3, height, width), np.uint8))
    except Exception as exc:  # any failure leaves the file ambiguous
        log.debug("%s: probe run failed: %s", path, exc)
        return None, None
    return (int(out.shape[1]), (height, width)) if out.ndim == 3 else (None, None)
