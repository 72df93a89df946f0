"""YOLOX as a detector family: a weight file -> the forward callable, its class count and its
input (`InputSpec`: size x size, BGR, 0..255, padded with 114, picture at the top-left).

Engines: "torch" (our modules: any variant, any device, fp16 on CUDA, optional
`torch.compile`) and "onnxruntime" (a YOLOX ONNX export on the CPU). "auto" takes onnxruntime
for an .onnx model on the CPU when it is installed (faster kernels there), else torch. The
forward returns decoded `Tensor[B, N, 5 + C]` (cx, cy, w, h, objectness, class scores) in
input pixels, which `vidpipe.detectors.postprocess` turns into Detections.
"""

from __future__ import annotations

from pathlib import Path

import torch

from vidpipe.detectors.families import Loaded, Request
from vidpipe.detectors.hub import MODELS
from vidpipe.detectors.preprocess import InputSpec
from vidpipe.detectors.yolox import onnx as onnx_engine
from vidpipe.detectors.yolox.model import prepare_for_inference
from vidpipe.detectors.yolox.weights import load_weights
from vidpipe.errors import InputError


def load(path: Path, request: Request) -> Loaded:
    """The YOLOX model in `path` ready to run as `request` asks (engine, device, size)."""
    name, device = request.name, request.device
    use_ort = request.engine == "onnxruntime" or (
        request.engine == "auto"
        and device.type == "cpu"
        and path.suffix.lower() == ".onnx"
        and not request.compile
        and onnx_engine.available()
    )
    if use_ort:
        if device.type != "cpu" or path.suffix.lower() != ".onnx":
            raise InputError("--engine onnxruntime runs .onnx models on the CPU only")
        size = request.size or (MODELS[name].input_size if name else 416)
        ort_model = onnx_engine.OrtYOLOX(path, size, workers=request.workers)
        return Loaded(ort_model, ort_model.num_classes, InputSpec.square(size), torch.float32,
                      engine="onnxruntime", parallel=False)  # fmt: skip
    yolox = load_weights(path)
    size = request.size or (MODELS[name].input_size if name else yolox.variant.input_size)
    half = device.type == "cuda"
    forward = prepare_for_inference(yolox, device, half=half, compile=request.compile)
    dtype = torch.float16 if half else torch.float32
    return Loaded(forward, yolox.num_classes, InputSpec.square(size), dtype, engine="torch",
                  parallel=device.type == "cpu" and not request.compile)  # fmt: skip
