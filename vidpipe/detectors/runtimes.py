"""CPU runtimes for exported graphs (ONNX): OpenVINO and onnxruntime, behind one call,
`graph(images) -> raw output`, numpy in and out (no torch).

Both run the frames of a batch in parallel, one single-threaded inference per core: a small
detector's ops scale badly across threads inside one inference (YOLOX-Nano at 416 on 2 cores,
onnxruntime: 14.6 ms a frame on 1 thread, 8.9 ms on 2, 8.0 ms with 2 single-threaded runs in
parallel). OpenVINO does this with its throughput mode: one stream per core and an
asynchronous infer request per stream; onnxruntime with one session run per core from a small
thread pool. A graph with a fixed batch dimension is run that many frames at a time (the last
group padded), never refused.

`pick` chooses the engine for "auto": OpenVINO when it is installed (the fastest measured on
x86 CPUs: 6.6-7.1 ms a frame against onnxruntime's 8.9 for YOLOX-Nano on 2 cores), else
onnxruntime. OpenVINO runs in f32: on CPUs with native bf16 it would otherwise pick bf16,
which moves boxes and scores (see the tests).
"""

from __future__ import annotations

import importlib.util
import os
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np

from vidpipe.errors import InputError, VidpipeError
from vidpipe.runtime.concurrency import thread_map

RUNTIMES = ("onnxruntime", "openvino")  # "auto" takes the first installed


def installed(engine: str) -> bool:
    """True when the engine's package can be imported (without importing it)."""
    return importlib.util.find_spec(engine) is not None


def pick() -> str | None:
    """The fastest CPU runtime installed, or None."""
    return next((engine for engine in RUNTIMES if installed(engine)), None)


class Graph:
    """An exported graph on the CPU: `__call__(images) -> [B, ...]` (its first output), the
    images `[B, C, H, W]` uint8 0..255, made float32 and multiplied by `scale` on the way in
    (by the runtime's own threads); `then` (optional) runs on each group's output where it
    was made, in parallel. input_shape: (batch, channels, height, width), None where dynamic.
    output_shape: the first output's shape, None where dynamic. workers: parallel runs."""

    engine: str
    input_shape: tuple[int | None, ...]
    output_shape: tuple[int | None, ...]
    workers: int
    scale: float

    def __call__(self, images: np.ndarray, then: Post | None = None) -> np.ndarray:
        fixed = self.input_shape[0]
        step = fixed or -(-len(images) // self.workers)
        chunks = [images[i : i + step] for i in range(0, len(images), step)]
        if fixed and len(chunks[-1]) < fixed:  # pad the last group of a fixed-batch graph
            pad = np.zeros((fixed - len(chunks[-1]), *images.shape[1:]), images.dtype)
            chunks[-1] = np.concatenate([chunks[-1], pad])
        return np.concatenate(self._run_all(chunks, then or _same))[: len(images)]

    def _run_all(self, chunks: list[np.ndarray], then: Post) -> list[np.ndarray]:
        raise NotImplementedError


Post = Callable[[np.ndarray], np.ndarray]


def _same(out: np.ndarray) -> np.ndarray:
    return out


def load_graph(path: Path, engine: str, workers: int, scale: float = 1.0) -> Graph:
    """`path` (.onnx) ready on `engine` ("openvino" or "onnxruntime") with `workers` parallel
    runs, taking uint8 images times `scale`. Raises VidpipeError when the engine is not
    installed, InputError when it cannot read the file."""
    if engine not in RUNTIMES:
        raise InputError(f"unknown CPU runtime {engine!r}; known: {', '.join(RUNTIMES)}")
    if not installed(engine):
        raise VidpipeError(f"--engine {engine} needs `pip install {engine}`")
    graph = (OpenVinoGraph if engine == "openvino" else OrtGraph)(path, max(1, workers), scale)
    return graph


def _dims(shape: object) -> tuple[int | None, ...]:
    return tuple(d if isinstance(d, int) and d > 0 else None for d in shape)  # type: ignore[attr-defined]


class OrtGraph(Graph):
    """onnxruntime: one session; `workers` single-threaded runs in parallel."""

    engine = "onnxruntime"

    def __init__(self, path: str | os.PathLike[str], workers: int, scale: float) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = 1 if workers > 1 else 0
        # Spinning worker threads would steal the cores the decoder threads need.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        # Inputs vary in size (the letterbox is cut down to the picture): no memory patterns
        # to plan, and without them peak RSS is lower (measured 252 MB against 267 MB).
        options.enable_mem_pattern = False
        try:
            self.session = ort.InferenceSession(
                str(path), options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime raises its own exception types
            raise InputError(f"{path}: onnxruntime cannot load it ({_first_line(exc)})") from None
        inp, out = self.session.get_inputs()[0], self.session.get_outputs()[0]
        self.input_name = inp.name
        self.input_shape, self.output_shape = _dims(inp.shape), _dims(out.shape)
        self.workers, self.scale = workers, scale

    def _run_all(self, chunks: list[np.ndarray], then: Post) -> list[np.ndarray]:
        def run(chunk: np.ndarray) -> np.ndarray:
            images = chunk.astype(np.float32)
            if self.scale != 1.0:
                images *= np.float32(self.scale)
            return then(self.session.run(None, {self.input_name: images})[0])

        return thread_map(run, chunks, self.workers)


class OpenVinoGraph(Graph):
    """OpenVINO on the CPU in its throughput mode: `workers` streams of one thread each, an
    asynchronous infer request per stream; f32."""

    engine = "openvino"

    def __init__(self, path: str | os.PathLike[str], workers: int, scale: float) -> None:
        import openvino as ov

        core = ov.Core()
        try:
            model = core.read_model(str(path))
            ppp = ov.preprocess.PrePostProcessor(model)  # uint8 in, f32 times scale inside
            ppp.input(0).tensor().set_element_type(ov.Type.u8)
            steps = ppp.input(0).preprocess().convert_element_type(ov.Type.f32)
            if scale != 1.0:
                steps.scale(1.0 / scale)
            model = ppp.build()
        except Exception as exc:  # OpenVINO raises RuntimeError with a long log
            raise InputError(f"{path}: OpenVINO cannot load it ({_first_line(exc)})") from None
        config = {
            "PERFORMANCE_HINT": "THROUGHPUT",
            "NUM_STREAMS": str(workers),
            "INFERENCE_NUM_THREADS": str(workers),
            "INFERENCE_PRECISION_HINT": "f32",
        }
        try:
            compiled = core.compile_model(model, "CPU", config)
        except Exception as exc:  # OpenVINO raises RuntimeError with a long log
            raise InputError(f"{path}: OpenVINO cannot load it ({_first_line(exc)})") from None
        self.input_shape = _ov_dims(compiled.inputs[0].get_partial_shape())
        self.output_shape = _ov_dims(compiled.outputs[0].get_partial_shape())
        self.workers, self.scale = workers, scale
        self._queue = ov.AsyncInferQueue(compiled, workers)
        self._results: dict[int, np.ndarray] = {}
        self._queue.set_callback(self._done)
        self._lock = threading.Lock()  # one batch at a time through the queue

    def _done(self, request: object, index: int) -> None:
        self._results[index] = request.get_output_tensor(0).data.copy()  # type: ignore[attr-defined]

    def _run_all(self, chunks: list[np.ndarray], then: Post) -> list[np.ndarray]:
        with self._lock:
            self._results.clear()
            for index, chunk in enumerate(chunks):
                self._queue.start_async({0: chunk}, index)
            self._queue.wait_all()
            return [then(self._results.pop(i)) for i in range(len(chunks))]


def _ov_dims(shape: object) -> tuple[int | None, ...]:
    return tuple(d.get_length() if d.is_static else None for d in shape)  # type: ignore[attr-defined]


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:200]
