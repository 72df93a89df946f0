"""The registry of detector families: which code turns a weight file into a running model.

A family is a module with `load(path, request) -> Loaded`: the forward callable (images as
its `InputSpec` says -> decoded predictions in one of postprocess' `OUTPUTS`), its class count
and names, input, dtype and device. `load_detector` resolves the model file, picks the family
here (`family_for`: YOLOX for checkpoints; for exported graphs what `recognize` reads from the
graph and its metadata, or `--model-format`) and wraps what it loaded in a `Detector`
(letterbox, forward, NMS). A new family is its module and one line in `FAMILIES`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vidpipe.detectors.recognize import Signature, identify
from vidpipe.errors import InputError

if TYPE_CHECKING:
    from vidpipe.detectors.preprocess import InputSpec

# family name -> the module that loads it (imported when used); recognize.FORMATS' names
FAMILIES: dict[str, str] = {
    "yolox": "vidpipe.detectors.yolox.family",
    "yolov5": "vidpipe.detectors.foreign.yolov5",
    "yolov8": "vidpipe.detectors.foreign.yolov8",
    "e2e": "vidpipe.detectors.foreign.e2e",
    "rtdetr": "vidpipe.detectors.foreign.rtdetr",
}
EXPORTS = (".onnx", ".xml")  # exported graphs: any family; other weight files are YOLOX's


@dataclass(frozen=True)
class Request:
    """What the caller asked for: the model's catalogue name (None for a bare file), the
    device ("cpu", "cuda:N"), the engine ("auto", "torch", "onnxruntime", "openvino"), the
    input size (None: the model's), torch.compile, and the parallel inference calls a CPU
    may run."""

    name: str | None
    device: str
    engine: str
    size: int | None
    compile: bool
    workers: int
    signature: Signature | None = None  # an export's, as recognised
    auto_device: bool = False  # the device was "auto": a CPU fallback is allowed
    precision: str = "auto"  # a CPU runtime's arithmetic (`runtimes.precision_for`)


@dataclass(frozen=True)
class Loaded:
    """A family's model ready to run. forward: `[B, 3, H, W]` images as `spec` says (a numpy
    float32 array on the CPU; a torch tensor of `dtype` on a CUDA device) -> decoded
    `[B, N, 5 + C]` in input pixels (numpy or torch). dtype: "float32" or "float16".
    parallel: forward calls that may run at once, each on its own thread (a CPU runtime: one
    single-threaded inference per core); 1: one call at a time, which uses the cores itself.
    batch: the frames per forward pass it runs best with (None: the device's default)."""

    forward: Callable[[Any], Any]
    num_classes: int
    spec: InputSpec
    dtype: str
    engine: str
    device: str
    parallel: int = 1
    batch: int | None = None
    names: tuple[str, ...] | None = None
    output: str = "objectness"
    nms: bool = True


def family_for(path: Path, model_format: str | None = None) -> tuple[str, Signature | None]:
    """(family, signature) of a model file: a checkpoint (.pth, .safetensors) is YOLOX's
    (`model_format` must agree); an export (.onnx, .xml) is what `recognize.identify` reads
    from its graph and metadata, or `model_format` where it fits."""
    if path.suffix.lower() not in EXPORTS:
        if model_format not in (None, "yolox"):
            raise InputError(f"--model-format {model_format}: {path} is a YOLOX checkpoint")
        return "yolox", None
    return identify(path, model_format)


def load_family(family: str, path: Path, request: Request) -> Loaded:
    """Run `family`'s loader on `path`."""
    if family not in FAMILIES:
        raise InputError(f"unknown detector family {family!r}; known: {', '.join(FAMILIES)}")
    module = importlib.import_module(FAMILIES[family])
    return module.load(path, request)
