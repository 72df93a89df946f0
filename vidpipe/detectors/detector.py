"""`Detector`: frames in, `Detections` out — letterbox (as the model's `InputSpec` says),
forward and post-processing on one device, under inference mode. `load_detector` resolves the
model name or file and the device (auto: CUDA when there is one), and lets the model's family
(`vidpipe.detectors.families`: YOLOX today) load it with the engine and precision asked for.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import torch

from vidpipe.detectors.coco import COCO_NAMES, parse_classes
from vidpipe.detectors.families import Request, family_for, load_family
from vidpipe.detectors.hub import canonical_name, resolve_model
from vidpipe.detectors.options import DEFAULT_BATCH, DetectOptions
from vidpipe.detectors.postprocess import postprocess
from vidpipe.detectors.preprocess import InputSpec, Letterbox, letterbox
from vidpipe.errors import InputError
from vidpipe.runtime.concurrency import cpu_cores, thread_map
from vidpipe.types import Detections, Frame

log = logging.getLogger(__name__)


class Detector:
    """Callable `frames -> list[Detections]` (boxes in displayed-frame pixels).

    forward: `Tensor[B, 3, H, W]` (dtype, device below; letterboxed as `input_spec` says) ->
    decoded `Tensor[B, N, 5 + C]` in input pixels (e.g. a prepared `YOLOX`, an `OrtYOLOX`).
    """

    def __init__(
        self,
        forward: Callable[[torch.Tensor], torch.Tensor],
        *,
        num_classes: int,
        device: torch.device,
        input_spec: InputSpec,
        dtype: torch.dtype = torch.float32,
        conf: float = 0.25,
        iou: float = 0.45,
        max_det: int = 300,
        classes: Sequence[int] | None = None,
        batch: int = 8,
    ) -> None:
        self.device = device
        self.batch = batch  # frames per forward pass
        self.input_spec = input_spec
        self.dtype = dtype
        self.num_classes = num_classes
        self.names = class_names(num_classes)
        self.options = {"conf": conf, "iou": iou, "max_det": max_det, "classes": classes}
        self._forward = forward

    def __call__(self, frames: Sequence[Frame]) -> list[Detections]:
        if not frames:
            return []
        return self.infer(self.prepare(frames))

    def prepare(self, frames: Sequence[Frame]) -> Letterbox:
        """The letterboxed batch on the device (can run ahead, on another thread)."""
        with torch.inference_mode():
            return letterbox(frames, self.input_spec, self.device, self.dtype)

    def infer(self, batch: Letterbox) -> list[Detections]:
        """Forward pass and post-processing of a prepared batch."""
        with torch.inference_mode():
            images = batch.images.contiguous(memory_format=torch.channels_last)
            pred = self._forward(images)
            found = postprocess(pred, scales=batch.scales, sizes_wh=batch.sizes_wh, **self.options)
        return [dataclasses.replace(dets, names=self.names) for dets in found]


def resolve_device(name: str) -> torch.device:
    """ "auto" (CUDA when available, else CPU), "cpu", "cuda" or "cuda:N"."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise InputError(f"--device must be auto, cpu or cuda[:N], not {name!r}") from None
    if device.type not in ("cpu", "cuda"):
        raise InputError(f"--device must be auto, cpu or cuda[:N], not {name!r}")
    if device.type == "cuda" and not torch.cuda.is_available():
        raise InputError("--device cuda: no CUDA device is available (use --device cpu)")
    if device.type == "cuda" and (device.index or 0) >= torch.cuda.device_count():
        raise InputError(f"--device {name}: only {torch.cuda.device_count()} CUDA device(s)")
    return device


def load_detector(model: str | DetectOptions = "yolox-nano", **options: Any) -> Detector:
    """A Detector for a model name (`yolox-nano` .. `yolox-x`, pulled when missing) or file
    (.pth / .onnx / .safetensors), or for a whole `DetectOptions`; keywords are its fields
    (device, engine, size, conf, iou, max_det, classes, batch, compile), e.g.
    `load_detector("yolox-s", conf=0.4, classes=["person"])`.

    Raises InputError for a bad option, a missing model file or an unusable device."""
    if isinstance(model, DetectOptions):
        opts = dataclasses.replace(model, **options) if options else model
    else:
        opts = DetectOptions(model=model, **options)
    torch_device = resolve_device(opts.device)
    path = resolve_model(opts.model)
    name = canonical_name(str(opts.model))
    request = Request(name, torch_device, opts.engine, opts.size, opts.compile, thread_budget())
    loaded = load_family(family_for(path, name), path, request)
    forward = _per_core(loaded.forward) if loaded.parallel else loaded.forward
    names = class_names(loaded.num_classes)
    keep = parse_classes(opts.classes, names) if opts.classes else None
    log.debug("model %s on %s (%s)", path, torch_device, loaded.engine)
    return Detector(
        forward, num_classes=loaded.num_classes, device=torch_device, input_spec=loaded.spec,
        dtype=loaded.dtype, classes=keep, conf=opts.conf, iou=opts.iou, max_det=opts.max_det,
        batch=opts.batch or DEFAULT_BATCH[torch_device.type],
    )  # fmt: skip


def _per_core(model: Callable[[torch.Tensor], torch.Tensor]) -> Callable[..., torch.Tensor]:
    """On the CPU, run slices of the batch in parallel, one single-threaded forward per core:
    YOLOX's small convolutions scale badly across threads inside one forward (measured
    20-30% more frames/s for Nano on 2 cores). torch's intra-op thread count is 1 only while
    a forward runs (`_one_thread_each`); the caller's setting is back afterwards."""
    workers = thread_budget()
    if workers <= 1:
        return model

    def forward(images: torch.Tensor) -> torch.Tensor:
        step = -(-len(images) // workers)
        chunks = [images[i : i + step] for i in range(0, len(images), step)]
        with _one_thread_each():
            return torch.cat(thread_map(_inference(model), chunks, workers))

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


_budget: list[int] = []


def thread_budget() -> int:
    """Parallel inference calls on the CPU: torch's thread count when the first detector is
    made (the cores by default; a `vidpipe batch` worker sets its share first), capped by the
    cores this process may use."""
    if not _budget:
        _budget.append(min(torch.get_num_threads(), cpu_cores()))
    return _budget[0]


def _inference(model: Callable[[torch.Tensor], torch.Tensor]) -> Callable[..., torch.Tensor]:
    def run(chunk: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode():  # per thread: the mode is thread-local
            return model(chunk)

    return run


def class_names(num_classes: int) -> tuple[str, ...]:
    """COCO's names for an 80-class model, else the ids as strings."""
    return COCO_NAMES if num_classes == 80 else tuple(map(str, range(num_classes)))
