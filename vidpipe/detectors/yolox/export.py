"""YOLOX weights as an ONNX graph for the CPU runtimes with a dynamic input size, exported once
into the cache and reused: `~/.cache/vidpipe/exported/<stem>-<sha256[:16]>-<size>.onnx`
(XDG_CACHE_HOME respected; size: the model's own input size, which the letterbox scales to).

A checkpoint (`.pth`, `.safetensors`) needs it to run on onnxruntime or OpenVINO at all; a
YOLOX ONNX export whose input is fixed (416 x 416) is exported again through our modules
(its weights mapped onto them, every convolution checked) so that a wide frame runs at
416 x 192 instead of 416 x 416. The weights' digest is in the name, so changed weights are
exported again; the export is written to a temporary name and renamed, so a run stopped
half-way leaves nothing that looks complete. Only the export itself needs torch: later runs
find the file and never import it.

The graph is YOLOX's own export layout (raw head output, `decode_in_inference` off; input
"images" `[B, 3, H, W]` BGR 0..255, H and W multiples of 32).
"""

from __future__ import annotations

import hashlib
import logging
import warnings
from pathlib import Path

from vidpipe.errors import VidpipeError
from vidpipe.models.hub import cache_dir
from vidpipe.runtime.files import atomic_path

log = logging.getLogger(__name__)

OPSET = 17


def export_dir() -> Path:
    """Where exported graphs are kept (may not exist yet)."""
    return cache_dir() / "exported"


def cached_export(weights: Path, digest: str | None = None) -> tuple[Path, int] | None:
    """(the export of `weights`, its model's own input size) when the cache holds it;
    `digest`: the weights' `_digest` when already known."""
    digest = digest or _digest(weights)
    found = sorted(export_dir().glob(f"{_glob_escape(weights.stem)}-{digest}-*.onnx"))
    for path in found:
        size = path.stem.rpartition("-")[2]
        if size.isdigit():
            return path, int(size)
    return None


def exported_onnx(weights: Path) -> tuple[Path, int]:
    """(the ONNX export of the YOLOX weights in `weights`, the model's own input size), made
    now if the cache does not hold it yet. The input's height and width are dynamic (any
    multiple of 32), as is the batch."""
    digest = _digest(weights)
    cached = cached_export(weights, digest)
    if cached is not None:
        return cached
    from vidpipe.detectors.yolox.weights import load_weights

    model = load_weights(weights)
    size = _own_size(weights) or model.variant.input_size
    folder = export_dir()
    target = folder / f"{weights.stem}-{digest}-{size}.onnx"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise VidpipeError(f"cannot create {folder}: {exc.strerror}") from None
    with atomic_path(target) as tmp:  # renamed into place only when the export is whole
        try:
            _export(model, size, tmp)
        except Exception as exc:  # the exporter raises many types
            reason = " ".join(str(exc).split())[:200] or type(exc).__name__
            raise VidpipeError(f"{weights}: cannot export it to ONNX ({reason})") from None
    log.info("exported %s to %s (once; later runs reuse it)", weights, target)
    return target, size


def _digest(path: Path) -> str:
    with path.open("rb") as file:
        return hashlib.file_digest(file, "sha256").hexdigest()[:16]


def _glob_escape(text: str) -> str:
    return "".join(f"[{c}]" if c in "*?[" else c for c in text)


def _own_size(weights: Path) -> int | None:
    """The input size a fixed-size ONNX export was made for (None: not an ONNX file, or a
    dynamic one)."""
    if weights.suffix.lower() != ".onnx":
        return None
    import onnx

    dims = onnx.load(str(weights), load_external_data=False).graph.input[0].type.tensor_type
    values = [d.dim_value for d in dims.shape.dim]
    return values[2] if len(values) == 4 and values[2] > 0 else None


def _export(model: object, size: int, dest: Path) -> None:
    import torch

    class Raw(torch.nn.Module):  # the head's raw output, as YOLOX's own export writes it
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, images: torch.Tensor) -> torch.Tensor:
            return self.model(images, decode=False)  # type: ignore[operator]

    with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation and tracing
        torch.onnx.export(
            Raw().eval(), (torch.zeros(1, 3, size, size),), str(dest), dynamo=False,
            input_names=["images"], output_names=["output"], opset_version=OPSET,
            dynamic_axes={"images": {0: "batch", 2: "height", 3: "width"},
                          "output": {0: "batch", 1: "anchors"}},
        )  # fmt: skip
    import onnx

    graph = onnx.load(str(dest))  # record the output's width (5 + classes), which the
    width = graph.graph.output[0].type.tensor_type.shape.dim[2]  # tracer leaves open
    width.ClearField("dim_param")
    width.dim_value = 5 + int(model.num_classes)  # type: ignore[attr-defined]
    onnx.save(graph, str(dest))
