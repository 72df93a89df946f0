"""`DetectOptions`: what a detection run is asked for, defined and validated once.

The CLI (`vidpipe detect`), `vidpipe batch` (which records them in its ledger) and Python
callers build the same dataclass; its defaults are the only defaults. Plain values only
(strings, numbers, tuples), so it imports neither torch nor numpy and round-trips through
JSON (`to_dict` / `from_dict`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from vidpipe.detectors.recognize import FORMATS
from vidpipe.errors import InputError, number_option

ENGINES = ("auto", "openvino", "onnxruntime", "torch")
PRECISIONS = ("auto", "f32", "bf16")  # a CPU runtime's arithmetic (`vidpipe.detectors.runtimes`)
MODEL_FORMATS = ("auto", *FORMATS)
DEFAULT_BATCH = {"cpu": 1, "cuda": 16}  # frames per forward pass when `batch` is None


@dataclass(frozen=True)
class DetectOptions:
    """A detection run's model and thresholds.

    model: a model name (`yolox-nano` .. `yolox-x`, pulled once when missing) or a weight
        file: YOLOX's (.pth / .safetensors / .onnx) or another family's export (.onnx, or
        OpenVINO's .xml: YOLOv5, YOLOv8/11, end-to-end, RT-DETR layouts).
    model_format: "auto" (read from the graph and its metadata; an ambiguous file is an
        error naming the candidates) or the family's layout: yolox, yolov5, yolov8, e2e,
        rtdetr. names: the class names, a file (one per line, or a YAML `names:` list or
        mapping) or a tuple (None: the file's metadata, else COCO's for 80 classes, else
        the ids). device: "auto" (CUDA when there is one), "cpu",
        "cuda" or "cuda:N". engine: "openvino" or "onnxruntime" (CPU runtimes; a .pth
        checkpoint is exported to ONNX once, into the cache), "torch", or "auto" (the
        fastest CPU runtime installed on a CPU, OpenVINO first; torch on CUDA).
    size: model input size in pixels, a multiple of 32 (None: the model's own).
    conf: minimum score (objectness x class), 0..1. iou: NMS IoU threshold per class, (0, 1].
    max_det: most detections kept per frame. classes: class names or ids to keep (each may
        be comma-separated: ("person,car",)); None keeps all.
    batch: frames per forward pass (None: 1 on a CPU, where a CPU runtime runs one frame per
        core at once; 4 per core for the torch engine there; 16 on CUDA). compile:
        torch.compile. precision: the CPU runtime's arithmetic: "f32", "bf16" (OpenVINO on a
        CPU with native bf16: AVX-512 BF16 or AMX), or "auto" (bf16 where OpenVINO runs on
        such a CPU, else f32).
    """

    model: str = "yolox-nano"
    model_format: str = "auto"
    names: str | tuple[str, ...] | None = None
    device: str = "auto"
    engine: str = "auto"
    size: int | None = None
    conf: float = 0.25
    iou: float = 0.45
    max_det: int = 300
    classes: tuple[str, ...] | None = None
    batch: int | None = None
    compile: bool = False
    precision: str = "auto"

    def __post_init__(self) -> None:
        if isinstance(self.classes, str):
            object.__setattr__(self, "classes", (self.classes,))
        elif self.classes is not None:
            object.__setattr__(self, "classes", tuple(self.classes))
        if isinstance(self.names, list):
            object.__setattr__(self, "names", tuple(self.names))
        _check(self)

    def to_dict(self) -> dict[str, Any]:
        """The options as JSON-ready values (tuples as lists)."""
        values = dataclasses.asdict(self)
        for key in ("classes", "names"):
            values[key] = list(values[key]) if isinstance(values[key], tuple) else values[key]
        return values

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> DetectOptions:
        """Options from `values` (None means the default); InputError names an unknown key."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise InputError(f"unknown detect option {', '.join(unknown)}")
        return cls(**{k: v for k, v in values.items() if v is not None})


def _check(o: DetectOptions) -> None:
    """InputError naming the first bad option (as its CLI flag)."""
    if not isinstance(o.model, str) or not o.model.strip():
        raise InputError("--model must name a model or a model file")
    if not isinstance(o.device, str) or not (
        o.device in ("auto", "cpu", "cuda") or o.device.startswith("cuda:")
    ):
        raise InputError(f"--device must be auto, cpu or cuda[:N], not {o.device!r}")
    if o.model_format not in MODEL_FORMATS:
        raise InputError(
            f"--model-format must be one of {', '.join(MODEL_FORMATS)}, not {o.model_format!r}"
        )
    if o.names is not None and not (
        (isinstance(o.names, str) and o.names.strip())
        or (isinstance(o.names, tuple) and o.names and all(isinstance(n, str) for n in o.names))
    ):
        raise InputError("--names must be a file of class names (or a list of names)")
    if o.engine not in ENGINES:
        raise InputError(f"--engine must be one of {', '.join(ENGINES)}, not {o.engine!r}")
    if o.size is not None and (number_option("size", o.size, int) <= 0 or o.size % 32):
        raise InputError(f"--size must be a positive multiple of 32, got {o.size}")
    if not 0.0 <= number_option("conf", o.conf, float) <= 1.0:
        raise InputError(f"--conf must be in 0..1, got {o.conf:g}")
    if not 0.0 < number_option("iou", o.iou, float) <= 1.0:
        raise InputError(f"--iou must be in (0, 1], got {o.iou:g}")
    if number_option("max-det", o.max_det, int) < 1:
        raise InputError(f"--max-det must be >= 1, got {o.max_det}")
    if o.batch is not None and number_option("batch", o.batch, int) < 1:
        raise InputError(f"--batch must be >= 1, got {o.batch}")
    if o.classes is not None and not all(isinstance(c, str) for c in o.classes):
        raise InputError("--classes must be class names or ids")
    if o.precision not in PRECISIONS:
        raise InputError(f"--precision must be one of {', '.join(PRECISIONS)}, not {o.precision!r}")
    if not isinstance(o.compile, bool):
        raise InputError("option compile must be true or false")
