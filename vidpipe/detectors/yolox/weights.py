"""Load YOLOX weights into our modules: official checkpoints (`.pth`), YOLOX ONNX exports
(`.onnx`) and our own `.safetensors`; save the latter.

Every loader returns a `YOLOX` in eval mode on the CPU in fp32 with batch norm folded into the
convolutions. The variant (nano .. x) and class count are inferred from the tensors, and a file
that fits no variant is refused with the reason. `.pth` files are read with
`torch.load(weights_only=True)`: a checkpoint that carries arbitrary Python objects is refused,
never unpickled. ONNX exports have batch norm already folded and most initialisers unnamed, so
their convolutions are matched to ours in call order, checking every shape and group count.
"""

from __future__ import annotations

import copy
import os
import re
from pathlib import Path
from typing import Any

import torch
from torch import nn

from vidpipe.detectors.yolox.blocks import fuse_conv_bn
from vidpipe.detectors.yolox.model import VARIANTS, YOLOX, Variant, build_yolox
from vidpipe.errors import InputError

SUFFIXES = (".safetensors", ".pth", ".onnx")
_FORMAT = "vidpipe-yolox"
_STEM = "backbone.backbone.stem.conv.conv.weight"
_CLS0 = "head.cls_preds.0.weight"


def load_weights(path: str | os.PathLike[str]) -> YOLOX:
    """A folded, eval-mode fp32 CPU model with the weights of `path` (by suffix)."""
    path = Path(path)
    loaders = {".pth": _load_pth, ".onnx": _load_onnx, ".safetensors": _load_safetensors}
    loader = loaders.get(path.suffix.lower())
    if loader is None:
        raise InputError(f"{path}: unknown model format (expected {', '.join(SUFFIXES)})")
    if not path.is_file():
        raise InputError(f"model file not found: {path}")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: the model file is empty")
    return loader(path)


def save_safetensors(model: YOLOX, path: str | os.PathLike[str]) -> None:
    """Write the folded weights of `model` (not modified) as safetensors, with its variant and
    class count."""
    from safetensors.torch import save_file

    model = fuse_conv_bn(copy.deepcopy(model))  # the caller's model stays as it was
    tensors = {k: v.detach().float().cpu().contiguous() for k, v in model.state_dict().items()}
    meta = {
        "format": _FORMAT,
        "variant": model.variant.name,
        "num_classes": str(model.num_classes),
    }
    save_file(tensors, str(path), metadata=meta)


# --- .pth: official checkpoints -----------------------------------------------------------


def _load_pth(path: Path) -> YOLOX:
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for bad files
        if "GLOBAL" in str(exc) or "Unsupported global" in str(exc):
            raise InputError(
                f"{path}: refused: the checkpoint holds Python objects besides tensors, "
                "which could run code when unpickled (only weights are loaded)"
            ) from None
        raise InputError(f"{path}: not a readable PyTorch checkpoint ({_reason(exc)})") from None
    state = ckpt.get("model", ckpt) if isinstance(ckpt, dict) else None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise InputError(f"{path}: no state dict of tensors in the checkpoint")
    state = {k.removeprefix("module."): v for k, v in state.items()}
    model = build_yolox(_variant_of(path, state), _num_classes(path, state))
    _load_state(path, model, state)
    return fuse_conv_bn(model)


def _variant_of(path: Path, state: dict[str, torch.Tensor]) -> Variant:
    """The variant whose width, depthwise flag and depth fit the tensors."""
    stem = state.get(_STEM)
    if stem is None:
        raise InputError(f"{path}: not a YOLOX checkpoint (no {_STEM})")
    width = stem.shape[0] / 64
    depthwise = "backbone.backbone.dark2.0.dconv.conv.weight" in state
    blocks = {k.split(".")[5] for k in state if k.startswith("backbone.backbone.dark3.1.m.")}
    for v in VARIANTS.values():
        n = max(round(v.depth * 3), 1) * 3
        if (v.width, v.depthwise, n) == (width, depthwise, len(blocks)):
            return v
    raise InputError(
        f"{path}: matches no YOLOX variant (width {width:g}, depthwise {depthwise}, "
        f"{len(blocks)} bottlenecks in dark3)"
    )


def _num_classes(path: Path, state: dict[str, torch.Tensor]) -> int:
    cls0 = state.get(_CLS0)
    if cls0 is None:
        raise InputError(f"{path}: not a YOLOX checkpoint (no {_CLS0})")
    return int(cls0.shape[0])


def _load_state(path: Path, model: nn.Module, state: dict[str, torch.Tensor]) -> None:
    """load_state_dict(strict) with a one-line error naming the first problems."""
    ours = model.state_dict()
    missing = [k for k in ours if k not in state]
    unexpected = [k for k in state if k not in ours]
    shapes = [
        f"{k} {tuple(state[k].shape)} != {tuple(v.shape)}"
        for k, v in ours.items()
        if k in state and state[k].shape != v.shape
    ]
    problems = [
        *(f"missing {k}" for k in missing[:3]),
        *(f"unexpected {k}" for k in unexpected[:3]),
        *shapes[:3],
    ]
    if problems:
        total = len(missing) + len(unexpected) + len(shapes)
        raise InputError(f"{path}: weights do not fit the model ({total} problems: "
                         f"{'; '.join(problems)})")  # fmt: skip
    model.load_state_dict(state, strict=True)


# --- .safetensors: ours --------------------------------------------------------------------


def _load_safetensors(path: Path) -> YOLOX:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
        state = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise InputError(f"{path}: not a readable safetensors file ({_reason(exc)})") from None
    if meta.get("format") != _FORMAT or meta.get("variant") not in VARIANTS:
        raise InputError(f"{path}: not a vidpipe YOLOX safetensors file (metadata {meta})")
    try:
        num_classes = int(meta["num_classes"])
    except (KeyError, ValueError):
        raise InputError(f"{path}: bad num_classes in metadata {meta}") from None
    model = fuse_conv_bn(build_yolox(meta["variant"], num_classes))
    _load_state(path, model, state)
    return model


# --- .onnx: YOLOX exports ------------------------------------------------------------------


def _load_onnx(path: Path) -> YOLOX:
    convs = _onnx_convs(path)
    cls0 = next((w for name, w, _, _ in convs if name == _CLS0), None)
    if cls0 is None:
        raise InputError(f"{path}: not a YOLOX export (no {_CLS0} initialiser)")
    stem_channels = convs[0][1].shape[0]
    candidates = [v for v in VARIANTS.values() if int(v.width * 64) == stem_channels]
    if not candidates:
        raise InputError(f"{path}: fits no YOLOX variant (first conv has {stem_channels} filters)")
    reasons = []
    for variant in candidates:
        model = fuse_conv_bn(build_yolox(variant, int(cls0.shape[0])))
        reason = _assign_convs(model, convs)
        if reason is None:
            return model
        reasons.append(f"{variant.name}: {reason}")
    raise InputError(f"{path}: fits no YOLOX variant ({reasons[0]})")


def _onnx_convs(path: Path) -> list[tuple[str, torch.Tensor, torch.Tensor | None, int]]:
    """(weight name, weight, bias, groups) of every Conv node, in graph order."""
    import onnx
    from onnx import numpy_helper

    try:
        graph = onnx.load(str(path)).graph
    except Exception as exc:  # protobuf raises its own types
        raise InputError(f"{path}: not a readable ONNX model ({_reason(exc)})") from None
    inits = {t.name: t for t in graph.initializer}
    out = []
    for node in graph.node:
        if node.op_type != "Conv":
            continue
        if node.input[1] not in inits:
            raise InputError(f"{path}: Conv {node.name} has a computed weight; not a YOLOX export")
        weight = torch.from_numpy(numpy_helper.to_array(inits[node.input[1]]).copy())
        bias = None
        if len(node.input) > 2 and node.input[2] in inits:
            bias = torch.from_numpy(numpy_helper.to_array(inits[node.input[2]]).copy())
        groups = next((a.i for a in node.attribute if a.name == "group"), 1)
        out.append((node.input[1], weight, bias, groups))
    return out


def _assign_convs(model: YOLOX, convs: list[tuple[str, Any, Any, int]]) -> str | None:
    """Copy ONNX conv weights onto our convs in call order; the reason when they do not fit."""
    ours = _convs_in_call_order(model)
    if len(ours) != len(convs):
        return f"{len(convs)} convolutions, the model has {len(ours)}"
    for (name, module), (onnx_name, weight, bias, groups) in zip(ours, convs, strict=True):
        if weight.shape != module.weight.shape or groups != module.groups:
            return f"{onnx_name} {tuple(weight.shape)} does not fit {name}"
        if not onnx_name.startswith("onnx::") and onnx_name != f"{name}.weight":
            return f"{onnx_name} found where {name} was expected"
        if bias is None or module.bias is None or bias.shape != module.bias.shape:
            return f"{onnx_name} has no matching bias"
    with torch.no_grad():
        for (_, module), (_, weight, bias, _) in zip(ours, convs, strict=True):
            module.weight.copy_(weight)
            module.bias.copy_(bias)
    return None


def _convs_in_call_order(model: YOLOX) -> list[tuple[str, nn.Conv2d]]:
    """Our Conv2d modules in the order a forward pass calls them (a 64x64 dry run)."""
    names = {module: name for name, module in model.named_modules()}
    order: list[tuple[str, nn.Conv2d]] = []
    hooks = [
        m.register_forward_hook(lambda mod, _i, _o: order.append((names[mod], mod)))
        for m in model.modules()
        if isinstance(m, nn.Conv2d)
    ]
    try:
        with torch.inference_mode():
            model(torch.zeros(1, 3, 64, 64), decode=False)
    finally:
        for hook in hooks:
            hook.remove()
    return order


def _reason(exc: BaseException) -> str:
    """The first sentence of the error (torch adds advice after it), at most 160 characters."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return re.split(r"(?<=\w)\. ", text, maxsplit=1)[0][:160]
