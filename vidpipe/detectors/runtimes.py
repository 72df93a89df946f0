"""CPU runtimes for exported graphs (ONNX): onnxruntime and OpenVINO, behind one call,
`graph(images) -> raw output`, numpy in and out (no torch).

A call is one single-threaded inference on the caller's thread, and a graph may be called
from several threads at once: the caller runs one inference per core (`Detector.parallel`),
because a small detector's ops scale badly across threads inside one inference (YOLOX-Nano at
416 on 2 cores, onnxruntime: 14.6 ms a frame on 1 thread, 8.9 ms on 2, 8.0 ms with 2
single-threaded runs in parallel). onnxruntime: one session, one intra-op thread, no
spinning; OpenVINO: its throughput mode with one stream per core and an infer request per
calling thread. A graph with a fixed batch dimension is run that many frames at a time (the
last group padded), never refused.

`pick` chooses the engine for "auto": onnxruntime (a dependency), else OpenVINO. Measured on
this project's 2-core x86 machine, YOLOX-Nano in f32, whole `detect` runs: onnxruntime 8.6 s,
OpenVINO 9.7-11.7 s for the same clip; f32 OpenVINO and onnxruntime agree exactly (F1 1.000).
OpenVINO computes in bf16 where the CPU has it natively (`precision_for`, `--precision`):
detections then agree with f32's but for boxes near the threshold (a box of 0.4 or more on
one side found among those of 0.25 or more on the other, same class, IoU 0.5: F1 0.996 on
sample_media/street_bikes.mp4, tests/detectors/test_precision.py).
"""

from __future__ import annotations

import functools
import importlib.util
import logging
import os
import queue
import threading
from pathlib import Path
from typing import Any

import numpy as np

from vidpipe.errors import InputError, VidpipeError

log = logging.getLogger(__name__)
RUNTIMES = ("onnxruntime", "openvino")  # "auto" takes the first installed


def installed(engine: str) -> bool:
    """True when the engine's package can be imported (without importing it)."""
    return importlib.util.find_spec(engine) is not None


def pick() -> str | None:
    """The fastest CPU runtime installed, or None."""
    return next((engine for engine in RUNTIMES if installed(engine)), None)


class Graph:
    """An exported graph on the CPU: `__call__(images) -> [B, ...]` (its first output) on the
    caller's thread, single-threaded; safe to call from `workers` threads at once (that is
    how the cores are used). images: `[B, C, H, W]` uint8 0..255, made float32 and multiplied
    by `scale` on the way in. A graph with a fixed batch size runs that many at a time (the
    last group padded). input_shape: (batch, channels, height, width), None where dynamic.
    output_shape: the first output's shape, None where dynamic."""

    engine: str
    input_shape: tuple[int | None, ...]
    output_shape: tuple[int | None, ...]
    workers: int
    scale: float

    def __call__(self, images: np.ndarray) -> np.ndarray:
        fixed = self.input_shape[0]
        if not fixed or fixed == len(images):
            return self._run(images)
        outputs = []
        for start in range(0, len(images), fixed):
            chunk = images[start : start + fixed]
            if len(chunk) < fixed:  # pad the last group
                pad = np.zeros((fixed - len(chunk), *images.shape[1:]), images.dtype)
                chunk = np.concatenate([chunk, pad])
            outputs.append(self._run(chunk))
        return np.concatenate(outputs)[: len(images)]

    def _run(self, images: np.ndarray) -> np.ndarray:
        raise NotImplementedError


def load_graph(
    path: Path, engine: str, workers: int, scale: float = 1.0, device: str = "cpu",
    precision: str = "auto",
) -> Graph:  # fmt: skip
    """`path` (.onnx; OpenVINO also .xml) ready on `engine` ("openvino" or "onnxruntime")
    with `workers` parallel runs, taking uint8 images times `scale`; `device` "cuda:N" runs
    it with onnxruntime's CUDA (else TensorRT) execution provider, fed host arrays. Raises
    VidpipeError when the engine or provider is not installed, InputError when it cannot read
    the file. `precision` ("auto", "f32", "bf16"): OpenVINO's arithmetic (`precision_for`);
    onnxruntime runs f32."""
    if engine not in RUNTIMES:
        raise InputError(f"unknown CPU runtime {engine!r}; known: {', '.join(RUNTIMES)}")
    if not installed(engine):
        raise VidpipeError(f"--engine {engine} needs `pip install {engine}`")
    if engine == "openvino":
        if device != "cpu":
            raise InputError(f"--device {device}: OpenVINO runs here on the CPU only")
        return OpenVinoGraph(path, max(1, workers), scale, precision_for(precision))
    if path.suffix.lower() == ".xml":
        raise InputError(f"{path}: an OpenVINO model runs with --engine openvino")
    return OrtGraph(path, max(1, workers), scale, gpu_providers(device))


GPU_PROVIDERS = ("CUDAExecutionProvider", "TensorrtExecutionProvider")  # the first installed


def gpu_providers(device: str) -> list[Any]:
    """onnxruntime's providers for `device`: the CPU's, or for "cuda:N" the first of
    GPU_PROVIDERS that this onnxruntime has (onnxruntime-gpu) on GPU N; VidpipeError when it
    has none."""
    if device == "cpu":
        return ["CPUExecutionProvider"]
    import onnxruntime as ort

    index = int(device.partition(":")[2] or 0)
    available = ort.get_available_providers()
    for provider in GPU_PROVIDERS:
        if provider in available:
            return [(provider, {"device_id": index}), "CPUExecutionProvider"]
    raise VidpipeError(
        f"--device {device}: this export runs on a GPU through onnxruntime-gpu (CUDA or "
        f"TensorRT execution provider), and this onnxruntime has {', '.join(available)}; "
        "`pip install onnxruntime-gpu`, or use --device cpu"
    )


def static_dims(shape: object) -> tuple[int | None, ...]:
    """onnxruntime's shape of an input or output, None where it is dynamic (a name)."""
    return tuple(d if isinstance(d, int) and d > 0 else None for d in shape)  # type: ignore[attr-defined]


class OrtGraph(Graph):
    """onnxruntime: one session, single-threaded runs (several at once from several
    threads); on a GPU where `providers` name one."""

    engine = "onnxruntime"

    def __init__(
        self,
        path: str | os.PathLike[str],
        workers: int,
        scale: float,
        providers: list[Any] | None = None,
    ) -> None:
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
                str(path), options, providers=providers or ["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime raises its own exception types
            raise InputError(f"{path}: onnxruntime cannot load it ({_first_line(exc)})") from None
        provider = self.session.get_providers()[0]
        if provider != "CPUExecutionProvider":  # e.g. onnxruntime-cuda
            self.engine = "onnxruntime-" + provider.removesuffix("ExecutionProvider").lower()
        inp, out = self.session.get_inputs()[0], self.session.get_outputs()[0]
        self.input_name = inp.name
        # an export made with half=True takes float16 (the scale applied in float32 first)
        self.input_dtype = np.float16 if inp.type == "tensor(float16)" else np.float32
        self.input_shape, self.output_shape = static_dims(inp.shape), static_dims(out.shape)
        self.workers, self.scale = workers, scale

    def _run(self, images: np.ndarray) -> np.ndarray:
        floats = images.astype(np.float32)
        if self.scale != 1.0:
            floats *= np.float32(self.scale)
        feed = floats if self.input_dtype is np.float32 else floats.astype(self.input_dtype)
        return self.session.run(None, {self.input_name: feed})[0]


@functools.cache
def native_bf16() -> bool:
    """Whether OpenVINO computes in bf16 natively on this CPU (its CPU plugin lists BF16 among
    its optimisation capabilities: AVX-512 BF16 or AMX)."""
    if not installed("openvino"):
        return False
    try:
        return "BF16" in ov_core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")
    except Exception:  # no CPU plugin: OpenVINO raises RuntimeError
        return False


def precision_for(precision: str) -> str:
    """OpenVINO's inference precision for `--precision`: "bf16" for auto where the CPU has
    native bf16 (the detections the same as f32's but for boxes near the threshold), else
    "f32"; InputError for bf16 on a CPU without it."""
    if precision == "f32" or (precision == "auto" and not native_bf16()):
        return "f32"
    if not native_bf16():
        raise InputError("--precision bf16: this CPU has no native bf16 (OpenVINO lists "
                         "no BF16 capability); use --precision auto or f32")  # fmt: skip
    return "bf16"


class OpenVinoGraph(Graph):
    """OpenVINO on the CPU in its throughput mode: `workers` streams of one thread each and as
    many infer requests, lent to the calls; in `precision` ("f32" or "bf16")."""

    engine = "openvino"

    def __init__(
        self, path: str | os.PathLike[str], workers: int, scale: float, precision: str = "f32"
    ) -> None:
        import openvino as ov

        core = ov_core()
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
            "INFERENCE_PRECISION_HINT": precision,
        }
        log.debug("OpenVINO: %s on %d streams", precision, workers)
        try:
            compiled = core.compile_model(model, "CPU", config)
        except Exception as exc:  # OpenVINO raises RuntimeError with a long log
            raise InputError(f"{path}: OpenVINO cannot load it ({_first_line(exc)})") from None
        self.input_shape = _ov_dims(compiled.inputs[0].get_partial_shape())
        self.output_shape = _ov_dims(compiled.outputs[0].get_partial_shape())
        self.workers, self.scale = workers, scale
        # One infer request per stream, lent to a call and given back: requests live as long
        # as the graph (not per thread: threads come and go, and a request destroyed with
        # its thread crashed the process later).
        self._requests: queue.SimpleQueue[Any] = queue.SimpleQueue()
        for _ in range(workers):
            self._requests.put(compiled.create_infer_request())

    def _run(self, images: np.ndarray) -> np.ndarray:
        request = self._requests.get()  # blocks while every request is busy
        try:
            if _OV_WARM.is_set():
                request.infer({0: images})
            else:
                with _OV_FIRST:  # the process's first inference runs alone (see _OV_FIRST)
                    request.infer({0: images})
                    _OV_WARM.set()
            return request.get_output_tensor(0).data.copy()
        finally:
            self._requests.put(request)


# OpenVINO's Python binding initialises process-wide static state (pybind11's NumPy API) in
# its first `infer`; two threads making their first call at once could deadlock there, each
# holding what the other waits for (seen with 4 threads: 2 runs in 12 hung, OpenVINO 2026).
# So the process's first inference holds this lock; every later one runs free.
_OV_FIRST = threading.Lock()
_OV_WARM = threading.Event()


@functools.cache
def ov_core() -> Any:
    """The process's one OpenVINO Core, never released: a Core released while another had
    run a model left the process crashing (SIGSEGV) at its next SIGALRM (OpenVINO 2026.4)."""
    import openvino as ov

    return ov.Core()


def _ov_dims(shape: object) -> tuple[int | None, ...]:
    return tuple(d.get_length() if d.is_static else None for d in shape)  # type: ignore[attr-defined]


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:200]
