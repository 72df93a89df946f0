"""YOLOX as a detector family: a weight file -> the forward callable, its class count and its
input (`InputSpec`: size x size, BGR, 0..255, padded with 114, picture at the top-left).

Engines: "openvino" and "onnxruntime" run a YOLOX ONNX export on the CPU (numpy in and out,
no torch: `vidpipe.detectors.runtimes`); "torch" runs our modules (any variant, any device,
fp16 on CUDA, optional `torch.compile`). "auto" takes the fastest CPU runtime installed on a
CPU and torch on CUDA. A `.pth` or `.safetensors` checkpoint meets a CPU runtime through an
ONNX export made once into the cache (`yolox.export`). The forward returns decoded
`[B, N, 5 + C]` (cx, cy, w, h, objectness, class scores) in input pixels, which
`vidpipe.detectors.postprocess` turns into Detections.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from vidpipe.detectors.families import Loaded, Request
from vidpipe.detectors.hub import MODELS
from vidpipe.detectors.preprocess import InputSpec
from vidpipe.detectors.runtimes import RUNTIMES, load_graph, pick
from vidpipe.detectors.yolox.grid import decode
from vidpipe.errors import InputError

DEFAULT_SIZE = 416  # a bare ONNX file whose input size is dynamic


def engine_for(path: Path, request: Request) -> str:
    """The engine `request` gets for the YOLOX model in `path`."""
    if request.engine in RUNTIMES:
        if request.device != "cpu":
            raise InputError(f"--engine {request.engine} runs on the CPU only (use --device cpu)")
        return request.engine
    if request.engine == "torch" or request.device != "cpu" or request.compile:
        return "torch"
    return pick() or "torch"


def load(path: Path, request: Request) -> Loaded:
    """The YOLOX model in `path` ready to run as `request` asks (engine, device, size)."""
    engine = engine_for(path, request)
    if engine == "torch":
        from vidpipe.detectors.yolox.torch_engine import load_torch

        return load_torch(path, request)
    size = request.size or (MODELS[request.name].input_size if request.name else None)
    if path.suffix.lower() != ".onnx":
        from vidpipe.detectors.yolox.export import exported_onnx

        path = exported_onnx(path, size)
    graph = load_graph(path, engine, request.workers, scale=1.0)  # YOLOX takes 0..255
    _, channels, height, width = _input_shape(path, graph.input_shape)
    size = size or height or DEFAULT_SIZE
    if channels != 3 or (height, width) not in ((size, size), (None, None)):
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
        return graph(images, then=lambda raw: decode(raw, (size, size)))

    return Loaded(forward, classes - 5, InputSpec.square(size), "float32", engine=engine,
                  device="cpu")  # fmt: skip


def _input_shape(path: Path, shape: tuple[Any, ...]) -> tuple[Any, ...]:
    if len(shape) != 4:
        raise InputError(f"{path}: not a YOLOX export (input shape {list(shape)})")
    return shape
