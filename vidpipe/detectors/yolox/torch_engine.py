"""YOLOX on torch: our modules with the checkpoint's weights, on any device (fp16 on CUDA,
optional `torch.compile`). On the CPU the frames of a batch run in parallel, one
single-threaded forward per core: YOLOX's small convolutions scale badly across threads
inside one forward (measured 20-30% more frames/s for Nano on 2 cores)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vidpipe.detectors.families import Loaded, Request
from vidpipe.detectors.preprocess import MARGIN, InputSpec
from vidpipe.detectors.yolox.model import prepare_for_inference
from vidpipe.detectors.yolox.weights import load_weights
from vidpipe.models.hub import MODELS
from vidpipe.runtime.threads import thread_map


def load_torch(path: Path, request: Request) -> Loaded:
    """The YOLOX model in `path` on `request.device` with our torch modules."""
    device = torch.device(request.device)
    yolox = load_weights(path)
    size = request.size or (MODELS[request.name].input_size if request.name else
                            yolox.variant.input_size)  # fmt: skip
    half = device.type == "cuda"
    model = prepare_for_inference(yolox, device, half=half, compile=request.compile)
    if device.type == "cpu":
        torch.set_num_threads(min(torch.get_num_threads(), request.workers))
        forward = _host_forward(model, 1 if request.compile else request.workers)
    else:
        forward = _inference(model)
    dtype = "float16" if half else "float32"
    # our modules take any multiple of 32 (a compiled one: one shape)
    spec = (
        InputSpec((size, size), stride=32, margin=MARGIN)
        if not request.compile
        else InputSpec.square(size)
    )
    # on the CPU a forward splits its batch over the cores: 4 frames for each
    batch = 4 * request.workers if device.type == "cpu" else None
    return Loaded(forward, yolox.num_classes, spec, dtype, engine="torch", device=request.device,
                  batch=batch)  # fmt: skip


def _host_forward(model: Callable[..., torch.Tensor], workers: int) -> Callable[..., Any]:
    """Host images (uint8 0..255, numpy or a CPU tensor) in, decoded predictions out; slices
    of the batch in parallel, one single-threaded forward per core. torch's intra-op thread
    count is 1 only while a forward runs (`_one_thread_each`); the caller's setting is back
    afterwards."""
    run = _inference(model)

    def forward(images: np.ndarray | torch.Tensor) -> torch.Tensor:
        images = torch.as_tensor(images).float()  # uint8 0..255 on the host; YOLOX takes 0..255
        if workers <= 1:
            return run(images)
        step = -(-len(images) // workers)
        chunks = [images[i : i + step] for i in range(0, len(images), step)]
        with _one_thread_each():
            return torch.cat(thread_map(run, chunks, workers))

    return forward


@contextlib.contextmanager
def _one_thread_each() -> Iterator[None]:
    """torch's intra-op threads set to 1 for the body, then put back. thread_map's threads
    are new: each takes torch's count when it first runs an op, so inside the body that is 1."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _inference(model: Callable[..., torch.Tensor]) -> Callable[[torch.Tensor], torch.Tensor]:
    def run(images: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode():  # per thread: the mode is thread-local
            return model(images.contiguous(memory_format=torch.channels_last))

    return run
