"""YOLOX as a detector family: a weight file -> the forward callable, its class count and its
input (`InputSpec`: size x size, BGR, 0..255, padded with 114, picture at the top-left).

Engines: "openvino" and "onnxruntime" run a YOLOX ONNX export on the CPU (numpy in and out,
no torch: `vidpipe.detectors.runtimes`); "torch" runs our modules (any variant, any device,
fp16 on CUDA, optional `torch.compile`). "auto" takes the fastest CPU runtime installed on a
CPU and torch on CUDA. A `.pth` or `.safetensors` checkpoint meets a CPU runtime through an
ONNX export made once into the cache (`yolox.export`), and so does an ONNX export with a fixed
input size: the letterbox is then cut down to the picture (multiples of 32), which for wide
video is less than half the work of the square input. The forward returns decoded
`[B, N, 5 + C]` (cx, cy, w, h, objectness, class scores) in input pixels, which
`vidpipe.detectors.postprocess` turns into Detections.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from vidpipe.detectors.families import Loaded, Request
from vidpipe.detectors.preprocess import MARGIN, InputSpec
from vidpipe.detectors.runtimes import RUNTIMES, Graph, load_graph, pick
from vidpipe.detectors.yolox.grid import decode
from vidpipe.errors import InputError, VidpipeError
from vidpipe.models.hub import MODELS

DEFAULT_SIZE = 416  # a bare ONNX file whose input size is dynamic
log = logging.getLogger(__name__)


def engine_for(request: Request) -> str:
    """The engine `request` gets for a YOLOX model."""
    if request.engine in RUNTIMES:
        if request.device != "cpu":
            raise InputError(f"--engine {request.engine} runs on the CPU only (use --device cpu)")
        return request.engine
    if request.engine == "torch" or request.device != "cpu" or request.compile:
        return "torch"
    return pick() or "torch"


def load(path: Path, request: Request) -> Loaded:
    """The YOLOX model in `path` ready to run as `request` asks (engine, device, size)."""
    engine = engine_for(request)
    if path.suffix.lower() == ".xml" and engine != "openvino":  # an OpenVINO IR of YOLOX
        if request.engine not in ("auto", "openvino") or request.device != "cpu":
            raise InputError(f"{path}: an OpenVINO model runs with --engine openvino on the CPU")
        engine = "openvino"
    if engine == "torch":
        from vidpipe.detectors.yolox.torch_engine import load_torch

        return load_torch(path, request)
    graph, own_size = _graph(path, engine, request.workers, request.precision)
    _, channels, height, width = _input_shape(path, graph.input_shape)
    named = MODELS[request.name].input_size if request.name else None
    size = request.size or named or own_size or height or DEFAULT_SIZE
    dynamic = (height, width) == (None, None)
    if channels != 3 or not (dynamic or (height, width) == (size, size)):
        raise InputError(
            f"{path}: the export takes {height}x{width} inputs; use --size {height} "
            "(or --engine torch, which takes any multiple of 32)"
        )
    classes = graph.output_shape[-1] if len(graph.output_shape) == 3 else None
    if classes is None and len(graph.output_shape) == 3:  # not recorded in the graph: try it
        classes = graph(np.zeros((1, 3, size, size), np.uint8)).shape[-1]
    if classes is None or classes < 6:
        raise InputError(f"{path}: not a YOLOX export (output shape {graph.output_shape})")

    def forward(images: np.ndarray) -> np.ndarray:
        size_hw = (images.shape[2], images.shape[3])
        return decode(graph(images), size_hw)

    # a dynamic graph takes the letterbox cut down to the picture (multiples of 32)
    spec = InputSpec((size, size), stride=32, margin=MARGIN) if dynamic else InputSpec.square(size)
    return Loaded(forward, classes - 5, spec, "float32", engine=engine, device="cpu",
                  parallel=graph.workers)  # fmt: skip


def _graph(path: Path, engine: str, workers: int, precision: str) -> tuple[Graph, int | None]:
    """The graph to run for `path` and the model's own input size (None: not known): the
    export of a checkpoint; for an ONNX file with a fixed input size, its export with a
    dynamic one (made once; where it cannot be made, the file itself)."""
    from vidpipe.detectors.yolox.export import cached_export, exported_onnx

    if path.suffix.lower() == ".xml":
        return load_graph(path, engine, workers, precision=precision), None
    if path.suffix.lower() != ".onnx":
        graph_path, size = exported_onnx(path)
        return load_graph(graph_path, engine, workers, precision=precision), size
    cached = cached_export(path)
    if cached is not None:  # exported from YOLOX weights: checked then
        return load_graph(cached[0], engine, workers, precision=precision), cached[1]
    graph = load_graph(path, engine, workers, precision=precision)
    if len(graph.input_shape) == 4 and graph.input_shape[2:] != (None, None):
        try:
            graph_path, size = exported_onnx(path)
        except VidpipeError as exc:  # e.g. no torch: the fixed size then
            log.debug("%s stays at its fixed input size: %s", path, exc)
            return graph, None
        return load_graph(graph_path, engine, workers, precision=precision), size
    return graph, None


def _input_shape(path: Path, shape: tuple[Any, ...]) -> tuple[Any, ...]:
    if len(shape) != 4:
        raise InputError(f"{path}: not a YOLOX export (input shape {list(shape)})")
    return shape
