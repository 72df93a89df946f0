"""The registry of detector families: which code turns a weight file into a running model.

A family is a module with `load(path, request) -> Loaded`: the forward callable (images as
its `InputSpec` says -> decoded `[B, N, 5 + C]`), its class count, input, dtype and device.
`load_detector` resolves the model file, picks the family here and wraps what it loaded in a
`Detector` (letterbox, forward, NMS). A new family is its module and one line in `FAMILIES`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vidpipe.errors import InputError

if TYPE_CHECKING:
    from vidpipe.detectors.preprocess import InputSpec

# family name -> the module that loads it (imported when used)
FAMILIES: dict[str, str] = {"yolox": "vidpipe.detectors.yolox.family"}


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


def family_for(path: Path, name: str | None) -> str:
    """The family of a model file. Every weight format vidpipe reads today (.pth,
    .safetensors, .onnx) is YOLOX's; a family reading other exports decides here by the
    file's contents."""
    return "yolox"


def load_family(family: str, path: Path, request: Request) -> Loaded:
    """Run `family`'s loader on `path`."""
    if family not in FAMILIES:
        raise InputError(f"unknown detector family {family!r}; known: {', '.join(FAMILIES)}")
    module = importlib.import_module(FAMILIES[family])
    return module.load(path, request)
