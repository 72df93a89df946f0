"""`Detector`: frames in, `Detections` out — letterbox (as the model's `InputSpec` says),
forward and post-processing. `load_detector` resolves the model name or file and the device
(auto: CUDA when there is one), and lets the model's family (`vidpipe.detectors.families`:
YOLOX and the foreign exports) load it with the engine and precision asked for.

On the CPU nothing here imports torch: the letterbox is numpy + swscale, onnxruntime or
OpenVINO run the model (one single-threaded inference per core: `parallel`), NMS is numpy.
torch is imported for the torch engine and for CUDA (where the letterbox runs on the GPU from
the uploaded planes).
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from vidpipe.detectors.families import Request, family_for, load_family
from vidpipe.detectors.names import COCO_NAMES, parse_classes
from vidpipe.detectors.options import DEFAULT_BATCH, DetectOptions
from vidpipe.detectors.postprocess import postprocess
from vidpipe.detectors.preprocess import InputSpec, Letterbox, letterbox
from vidpipe.errors import InputError
from vidpipe.models.hub import canonical_name, resolve_model
from vidpipe.runtime.budget import thread_budget
from vidpipe.runtime.threads import thread_map
from vidpipe.types import Detections, Frame

log = logging.getLogger(__name__)


class Detector:
    """Callable `frames -> list[Detections]` (boxes in displayed-frame pixels).

    forward: `[B, 3, H, W]` images (letterboxed as `input_spec` says: numpy uint8 0..255 when
    `device` is "cpu", the forward applying the spec's scale; a torch tensor of `dtype`, scaled,
    on a CUDA device) -> decoded `[B, N, 5 + C]` in input pixels, numpy or torch (what a
    family's `load` returns).
    device: "cpu" or "cuda:N". engine: what runs the model ("openvino", "onnxruntime",
    "torch"). parallel: `infer` calls that may run at once on different threads (each a
    single-threaded inference; `detect` and `__call__` run that many).
    """

    def __init__(
        self,
        forward: Callable[[Any], Any],
        *,
        num_classes: int,
        input_spec: InputSpec,
        device: str = "cpu",
        dtype: str = "float32",
        engine: str = "",
        conf: float,
        iou: float,
        max_det: int,
        classes: Sequence[int] | None = None,
        batch: int,
        parallel: int = 1,
        names: Sequence[str] | None = None,
        output: str = "objectness",
        nms: bool = True,
        family: str = "",
    ) -> None:
        self.device = device
        self.family = family  # e.g. "yolox", "yolov8" (families.FAMILIES)
        self.parallel = parallel
        self.engine = engine
        self.batch = batch  # frames per forward pass
        self.input_spec = input_spec
        self.dtype = dtype
        self.num_classes = num_classes
        self.names = tuple(names) if names is not None else class_names(num_classes)
        self.options = {"conf": conf, "iou": iou, "max_det": max_det, "classes": classes,
                        "output": output, "nms": nms}  # fmt: skip
        self._forward = forward

    def __call__(self, frames: Sequence[Frame]) -> list[Detections]:
        if not frames:
            return []
        if self.parallel <= 1 or len(frames) == 1:
            return self.infer(self.prepare(frames))
        step = -(-len(frames) // self.parallel)
        groups = [frames[i : i + step] for i in range(0, len(frames), step)]
        found = thread_map(lambda group: self.infer(self.prepare(group)), groups, self.parallel)
        return [dets for group in found for dets in group]

    def prepare(self, frames: Sequence[Frame]) -> Letterbox:
        """The letterboxed batch on the device (can run ahead, on another thread); on the CPU
        in uint8 0..255 (a quarter of float32 while it waits), which the forward takes."""
        if self.device == "cpu":
            return letterbox(frames, self.input_spec, dtype="uint8")
        import torch

        from vidpipe.detectors.device_letterbox import letterbox_on_device

        with torch.inference_mode():
            dtype = getattr(torch, self.dtype)
            return letterbox_on_device(frames, self.input_spec, torch.device(self.device), dtype)

    def from_wire(self, images: Any) -> Any:
        """The model's input from a uint8 `[B, 3, H, W]` letterbox (0..255, a numpy array or a
        host tensor): its dtype, its scale, on its device."""
        if self.device == "cpu":
            return np.asarray(images, dtype=np.uint8)  # the forward applies the scale
        import torch

        with torch.inference_mode():
            out = torch.as_tensor(images).to(self.device, non_blocking=True)
            out = out.to(getattr(torch, self.dtype))
            return out.mul_(self.input_spec.scale) if self.input_spec.scale != 1 else out

    def infer(self, batch: Letterbox) -> list[Detections]:
        """Forward pass and post-processing of a prepared batch."""
        pred = self._forward(batch.images)
        found = postprocess(pred, scales=batch.scales, sizes_wh=batch.sizes_wh,
                            offsets=batch.offsets, **self.options)  # fmt: skip
        return [dataclasses.replace(dets, names=self.names) for dets in found]


def resolve_device(name: str) -> str:
    """ "auto" (CUDA when available, else CPU), "cpu", "cuda" or "cuda:N" -> "cpu" or
    "cuda:N". torch is imported only where CUDA may be there: an NVIDIA driver is loaded
    and CUDA_VISIBLE_DEVICES does not hide every device."""
    if name == "auto":
        return "cuda:0" if _may_have_cuda() and _cuda_count() > 0 else "cpu"
    if name == "cpu":
        return "cpu"
    head, _, index = name.partition(":")
    if head != "cuda" or (index and not index.isdigit()):
        raise InputError(f"--device must be auto, cpu or cuda[:N], not {name!r}")
    count = _cuda_count() if _may_have_cuda() else 0
    if count == 0:
        raise InputError("--device cuda: no CUDA device is available (use --device cpu)")
    if int(index or 0) >= count:
        raise InputError(f"--device {name}: only {count} CUDA device(s)")
    return f"cuda:{int(index or 0)}"


def _may_have_cuda() -> bool:
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None and visible.strip() in ("", "-1"):
        return False
    return os.path.exists("/proc/driver/nvidia/version") or os.path.exists("/dev/nvidiactl")


def _cuda_count() -> int:
    try:
        import torch
    except ImportError:
        return 0
    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def load_detector(model: str | DetectOptions = "yolox-nano", **options: Any) -> Detector:
    """A Detector for a model name (`yolox-nano` .. `yolox-x`, pulled when missing) or file
    (.pth / .safetensors / .onnx / OpenVINO .xml: YOLOX, or a YOLOv5, YOLOv8/11, end-to-end
    or RT-DETR export), or for a whole `DetectOptions`; keywords are its fields (model_format,
    names, device, engine, size, conf, iou, max_det, classes, batch, compile), e.g.
    `load_detector("yolox-s", conf=0.4, classes=["person"])` or
    `load_detector("yolov8n.onnx", names="classes.txt")`.

    Raises InputError for a bad option, a missing model file or an unusable device."""
    if isinstance(model, DetectOptions):
        opts = dataclasses.replace(model, **options) if options else model
    else:
        opts = DetectOptions(model=model, **options)
    device = resolve_device(opts.device)
    path = resolve_model(opts.model)
    name = canonical_name(str(opts.model))
    family, sig = family_for(path, None if opts.model_format == "auto" else opts.model_format)
    request = Request(name, device, opts.engine, opts.size, opts.compile, thread_budget(), sig,
                      auto_device=opts.device == "auto", precision=opts.precision)  # fmt: skip
    loaded = load_family(family, path, request)
    if opts.precision == "bf16" and loaded.engine != "openvino":
        raise InputError(f"--precision bf16 runs with --engine openvino on the CPU, "
                         f"not {loaded.engine} on {loaded.device}")  # fmt: skip
    names = _names(opts.names, loaded) if opts.names else loaded.names
    names = names or class_names(loaded.num_classes)
    keep = parse_classes(opts.classes, names) if opts.classes else None
    log.debug("model %s (%s) on %s (%s)", path, family, device, loaded.engine)
    return Detector(
        loaded.forward, num_classes=loaded.num_classes or len(names), input_spec=loaded.spec,
        device=loaded.device, dtype=loaded.dtype, engine=loaded.engine, classes=keep,
        conf=opts.conf, iou=opts.iou, max_det=opts.max_det,
        batch=opts.batch or loaded.batch or DEFAULT_BATCH["cpu" if device == "cpu" else "cuda"],
        parallel=loaded.parallel, names=names, output=loaded.output, nms=loaded.nms,
        family=family,
    )  # fmt: skip


def _names(names: str | tuple[str, ...], loaded: Any) -> tuple[str, ...]:
    """The class names `--names` gives (a file or a tuple), as many as the model's classes
    (any number where the output does not tell the count)."""
    found = read_names(Path(names)) if isinstance(names, str) else tuple(names)
    if loaded.num_classes and len(found) != loaded.num_classes:
        raise InputError(f"--names gives {len(found)} names for a model of "
                         f"{loaded.num_classes} classes")  # fmt: skip
    return found


def read_names(path: Path) -> tuple[str, ...]:
    """Class names from a file: one per line (blank lines skipped), or YAML (.yaml / .yml)
    with a `names:` list or {id: name} mapping as datasets and exporters write them."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"--names {path}: cannot read it ({exc})") from None
    if path.suffix.lower() in (".yaml", ".yml"):
        import yaml

        try:
            values = yaml.safe_load(text)
        except yaml.YAMLError:
            raise InputError(f"--names {path}: not valid YAML") from None
        values = values.get("names") if isinstance(values, dict) else None
        if isinstance(values, dict):
            values = [values[k] for k in sorted(values)]
        if not isinstance(values, list) or not values:
            raise InputError(f"--names {path}: no `names:` list or mapping in it")
        return tuple(str(v) for v in values)
    found = tuple(line.strip() for line in text.splitlines() if line.strip())
    if not found:
        raise InputError(f"--names {path}: no names in it")
    return found


def class_names(num_classes: int) -> tuple[str, ...]:
    """COCO's names for an 80-class model, else the ids as strings."""
    return COCO_NAMES if num_classes == 80 else tuple(map(str, range(num_classes)))
