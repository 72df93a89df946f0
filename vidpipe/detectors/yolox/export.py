"""A YOLOX checkpoint (`.pth`, `.safetensors`) as an ONNX graph for the CPU runtimes, exported
once into the cache and reused: `~/.cache/vidpipe/exported/<stem>-<sha256[:16]>[-<size>].onnx`
(XDG_CACHE_HOME respected; no size: the variant's own). The checkpoint's digest is in the
name, so a changed checkpoint is exported again; the export is written to a temporary name
and renamed, so a run stopped half-way leaves nothing that looks complete. Only the export
itself needs torch: later runs find the file and never import it.

The graph is YOLOX's own export layout (raw head output, `decode_in_inference` off; input
"images" `[B, 3, S, S]` BGR 0..255, batch dimension dynamic), which `yolox.family` reads like
any YOLOX `.onnx` file.
"""

from __future__ import annotations

import hashlib
import logging
import os
import warnings
from pathlib import Path

from vidpipe.detectors.hub import cache_dir
from vidpipe.errors import VidpipeError
from vidpipe.runtime.files import remove_temp, reserve_temp

log = logging.getLogger(__name__)

OPSET = 17


def export_dir() -> Path:
    """Where exported graphs are kept (may not exist yet)."""
    return cache_dir() / "exported"


def exported_onnx(checkpoint: Path, size: int | None) -> Path:
    """The ONNX export of `checkpoint` at input `size` (None: the variant's own), made now
    if the cache does not hold it yet."""
    with checkpoint.open("rb") as file:
        digest = hashlib.file_digest(file, "sha256").hexdigest()[:16]
    folder = export_dir()
    target = folder / f"{checkpoint.stem}-{digest}{'' if size is None else f'-{size}'}.onnx"
    if target.is_file():
        return target
    from vidpipe.detectors.yolox.weights import load_weights

    model = load_weights(checkpoint)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise VidpipeError(f"cannot create {folder}: {exc.strerror}") from None
    tmp = reserve_temp(target)
    done = False
    try:
        _export(model, size or model.variant.input_size, tmp)
        os.replace(tmp, target)
        done = True
    except VidpipeError:
        raise
    except Exception as exc:  # the exporter raises many types
        reason = " ".join(str(exc).split())[:200] or type(exc).__name__
        raise VidpipeError(
            f"{checkpoint}: cannot export it to ONNX for the CPU runtimes ({reason}); "
            "use --engine torch"
        ) from None
    finally:
        if not done:
            remove_temp(tmp)
    log.info("exported %s to %s (once; later runs reuse it)", checkpoint, target)
    return target


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
            dynamic_axes={"images": {0: "batch"}, "output": {0: "batch"}},
        )  # fmt: skip
