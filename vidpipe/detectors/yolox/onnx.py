"""The optional onnxruntime engine: runs a YOLOX ONNX export as it is, for CPU machines where
onnxruntime's kernels beat PyTorch's (YOLOX-Nano at 416 on two cores: about 16 ms a frame
against 22 ms). Same letterbox, grid decode and post-processing as the PyTorch engine. The
frames of a batch run in parallel, one single-threaded run per core.

Expects YOLOX's default export (raw head output: `decode_in_inference` off), as the reference
model is; a fixed batch dimension of 1 is run frame by frame.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from vidpipe.detectors.yolox.head import STRIDES, decode_boxes
from vidpipe.errors import InputError, VidpipeError
from vidpipe.runtime.concurrency import cpu_cores, thread_map


def available() -> bool:
    """True when onnxruntime imports."""
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


class OrtYOLOX:
    """`__call__(Tensor[B, 3, S, S] float32 0..255 BGR, CPU)` -> decoded `Tensor[B, N, 5 + C]`
    (cx, cy, w, h in input pixels, objectness, class probabilities), like `YOLOX.forward`."""

    def __init__(self, path: str | os.PathLike[str], size: int, workers: int = 0) -> None:
        try:
            import onnxruntime as ort
        except ImportError:
            raise VidpipeError("--engine onnxruntime needs `pip install onnxruntime`") from None
        options = ort.SessionOptions()
        # One thread per run and one run per core: YOLOX-Nano's small ops scale badly inside
        # one run (2 threads: 1.0-1.25x the speed for 1.6-2x the CPU), frames in parallel do.
        self.workers = workers or cpu_cores()  # parallel runs (one per core)
        options.intra_op_num_threads = 1 if self.workers > 1 else 0
        # Spinning worker threads would steal the cores the decoder threads need.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            self.session = ort.InferenceSession(
                str(path), options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime raises its own exception types
            raise InputError(f"{path}: onnxruntime cannot load it ({exc})") from None
        inp, out = self.session.get_inputs()[0], self.session.get_outputs()[0]
        self.input_name = inp.name
        batch, channels, height, width = _shape4(Path(path), inp.shape)
        if channels != 3 or (height, width) not in ((size, size), (None, None)):
            raise InputError(
                f"{path}: the export takes {height}x{width} inputs; use --size {height} "
                "(or --engine torch, which takes any multiple of 32)"
            )
        self.fixed_batch = batch
        self.num_classes = int(out.shape[-1]) - 5
        self.size = size

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        array = images.contiguous().numpy()
        step = self.fixed_batch or -(-len(array) // self.workers)  # fixed, else one per worker
        chunks = [array[i : i + step] for i in range(0, len(array), step)]
        raw = np.concatenate(thread_map(self._run, chunks, self.workers))
        sizes_hw = [(self.size // s, self.size // s) for s in STRIDES]
        return decode_boxes(torch.from_numpy(raw), sizes_hw, inplace=True)  # raw is ours

    def _run(self, chunk: np.ndarray) -> np.ndarray:
        return self.session.run(None, {self.input_name: chunk})[0]


def _shape4(path: Path, shape: list[object]) -> tuple[int | None, int, int | None, int | None]:
    if len(shape) != 4:
        raise InputError(f"{path}: not a YOLOX export (input shape {shape})")
    return tuple(d if isinstance(d, int) else None for d in shape)  # type: ignore[return-value]
