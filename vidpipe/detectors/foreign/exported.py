"""Loading another project's exported detector: the graph on a runtime, the input it takes
(`InputSpec` from the family's convention, the graph's fixed size, the exporter's `imgsz`
or `--size`) and its output turned into one of postprocess' `OUTPUTS`.

Runtimes: onnxruntime or OpenVINO on the CPU (numpy in and out, no torch; one
single-threaded inference per core, a fixed batch size run that many frames at a time),
OpenVINO for an IR (`.xml`), onnxruntime's CUDA or TensorRT provider on a GPU
(onnxruntime-gpu; host arrays in and out). Every family here takes R'G'B' 0..1 (what
Ultralytics, YOLOv5 and RT-DETR export), padded with 114.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from vidpipe.detectors.families import Loaded, Request
from vidpipe.detectors.preprocess import InputSpec
from vidpipe.detectors.recognize import DESCRIPTIONS, Signature, signature
from vidpipe.detectors.runtimes import RUNTIMES, gpu_providers, installed, load_graph, pick
from vidpipe.errors import InputError, VidpipeError

DEFAULT_SIZE = 640  # Ultralytics' and RT-DETR's input where neither graph nor metadata says
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ExportFormat:
    """A family's exported layout.

    name: the family (recognize.FORMATS). placement: the letterbox (InputSpec.placement).
    output / nms: what `decode` returns (postprocess.OUTPUTS) and whether NMS follows.
    classes: the class count from the raw output's shape `[B, R, C]` (None: not in it).
    decode: the raw output `[B, R, C]` and the canvas (height, width) -> the decoded array.
    """

    name: str
    placement: Literal["top-left", "center", "stretch"]
    output: str
    nms: bool
    classes: Callable[[tuple[int, ...]], int | None]
    decode: Callable[[np.ndarray, tuple[int, int]], np.ndarray]

    def load(self, path: Path, request: Request) -> Loaded:
        """The export at `path` ready to run as `request` asks (engine, device, size)."""
        return load_export(path, request, self)


def engine_for(path: Path, request: Request) -> str:
    """The runtime `request` gets for an export: OpenVINO for an IR, onnxruntime on a GPU,
    else the one asked for or the fastest installed."""
    ir = path.suffix.lower() == ".xml"
    if request.engine == "torch" or request.compile:
        raise InputError("--engine torch and --compile run YOLOX models; this is an export")
    if ir and request.engine not in ("auto", "openvino"):
        raise InputError(f"{path}: an OpenVINO model runs with --engine openvino")
    if request.device != "cpu":
        if ir or request.engine == "openvino":
            raise InputError(f"--device {request.device}: OpenVINO runs here on the CPU only")
        return "onnxruntime"
    if request.engine in RUNTIMES:
        return request.engine
    return "openvino" if ir else pick() or "onnxruntime"


def load_export(path: Path, request: Request, fmt: ExportFormat) -> Loaded:
    """`fmt`'s export at `path` ready to run: graph, input spec, decoding, names."""
    sig = request.signature or signature(path)
    if request.auto_device and request.device != "cpu" and not _runs_on_gpu(path):
        log.warning("%s runs on the CPU: a GPU needs onnxruntime-gpu for an ONNX export", path)
        request = dataclasses.replace(request, device="cpu")
    engine = engine_for(path, request)
    if engine == "openvino" and not installed("openvino"):
        raise InputError(f"{path}: an OpenVINO model needs `pip install openvino`")
    graph = load_graph(path, engine, request.workers, 1 / 255, request.device, request.precision)
    spec = _spec(path, sig, request, fmt)
    if len(graph.output_shape) != 3:
        raise InputError(f"{path}: output {list(graph.output_shape)} is not [B, R, C]")
    classes = fmt.classes(tuple(d or 0 for d in graph.output_shape))
    if not classes and fmt.classes((1, 1, 1)) is not None:  # dynamic: run it once
        height, width = spec.size_wh[1], spec.size_wh[0]
        probe = graph(np.full((1, 3, height, width), 114, np.uint8))
        classes = fmt.classes(probe.shape)
    names = tuple(sig.names) if sig.names else None
    if classes is None:
        classes = len(names) if names else 0  # ids only, unless --names
    elif names and len(names) != classes:
        log.warning("%s: %d names in its metadata for %d classes; ignored", path, len(names),
                    classes)  # fmt: skip
        names = None
    if classes < 0:
        raise InputError(f"{path}: output {graph.output_shape} is too small for {fmt.name}")

    def forward(images: np.ndarray) -> np.ndarray:
        return fmt.decode(graph(images), (images.shape[2], images.shape[3]))

    log.debug("%s: %s on %s, input %s", path, DESCRIPTIONS[fmt.name], graph.engine, spec)
    return Loaded(forward, classes, spec, "float32", engine=graph.engine, device="cpu",
                  parallel=graph.workers, names=names, output=fmt.output, nms=fmt.nms)  # fmt: skip


def _runs_on_gpu(path: Path) -> bool:
    """Whether the export can run on a GPU here (an ONNX file, onnxruntime-gpu's providers)."""
    if path.suffix.lower() == ".xml":
        return False
    try:
        gpu_providers("cuda:0")
    except VidpipeError:
        return False
    return True


def _spec(path: Path, sig: Signature, request: Request, fmt: ExportFormat) -> InputSpec:
    """The input the export takes: its fixed size (a different --size is an error), else
    --size, the exporter's imgsz or DEFAULT_SIZE, cut down to the picture in steps of 32
    (Ultralytics' rectangular inference) unless the family stretches."""
    dims = sig.input
    if len(dims) != 4 or dims[1] not in (None, 3):
        raise InputError(f"{path}: the export's input {list(dims)} is not [B, 3, H, W]")
    height, width = dims[2], dims[3]
    if height is not None and width is not None:
        if request.size is not None and (height, width) != (request.size, request.size):
            raise InputError(f"{path}: the export takes {height}x{width} inputs; use --size "
                             f"{height} or leave it out")  # fmt: skip
        return InputSpec((width, height), "rgb", 1 / 255, placement=fmt.placement)
    if request.size is not None:
        height = width = request.size
    else:
        height, width = sig.imgsz or (DEFAULT_SIZE, DEFAULT_SIZE)
    stride = 0 if fmt.placement == "stretch" else 32
    return InputSpec((width, height), "rgb", 1 / 255, stride=stride, placement=fmt.placement)


def as_rows(raw: np.ndarray) -> np.ndarray:
    """`[B, R, C]` as a contiguous float32 array (what the decoders hand on)."""
    return np.ascontiguousarray(raw, dtype=np.float32)


def transpose_rows(raw: Any) -> np.ndarray:
    """`[B, C, N]` channels first -> `[B, N, C]` contiguous float32."""
    return np.ascontiguousarray(np.swapaxes(raw, 1, 2), dtype=np.float32)
