"""The YOLOX model family: variants, construction, and inference preparation.

`YOLOX` composes an injected neck (which holds the backbone) and head, with the official
module names. `build_yolox(variant)` makes nano .. x; `prepare_for_inference` folds batch norm,
moves to the device, and optionally uses fp16, channels_last and torch.compile.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from vidpipe.detectors.yolox.backbone import CSPDarknet
from vidpipe.detectors.yolox.blocks import fuse_conv_bn
from vidpipe.detectors.yolox.head import YOLOXHead
from vidpipe.detectors.yolox.neck import YOLOPAFPN


@dataclass(frozen=True, slots=True)
class Variant:
    """Depth and width multipliers of a YOLOX model, and its usual input size (pixels)."""

    name: str
    depth: float
    width: float
    depthwise: bool
    input_size: int


VARIANTS: dict[str, Variant] = {
    v.name: v
    for v in (
        Variant("nano", 0.33, 0.25, True, 416),
        Variant("tiny", 0.33, 0.375, False, 416),
        Variant("s", 0.33, 0.50, False, 640),
        Variant("m", 0.67, 0.75, False, 640),
        Variant("l", 1.0, 1.0, False, 640),
        Variant("x", 1.33, 1.25, False, 640),
    )
}


class YOLOX(nn.Module):
    """`forward(Tensor[B, 3, H, W] float 0..255 BGR, letterboxed; H, W multiples of 32)` ->
    `Tensor[B, N, 5 + C]` (see `YOLOXHead.forward`); `decode` chooses raw or decoded boxes."""

    def __init__(self, backbone: nn.Module, head: YOLOXHead, variant: Variant):
        super().__init__()
        self.backbone = backbone  # the neck, holding the backbone: the official layout
        self.head = head
        self.variant = variant

    @property
    def num_classes(self) -> int:
        return self.head.num_classes

    def forward(self, images: torch.Tensor, decode: bool = True) -> torch.Tensor:
        return self.head(self.backbone(images), decode=decode)


def build_yolox(variant: str | Variant, num_classes: int = 80) -> YOLOX:
    """A YOLOX model with freshly initialised weights (eval mode)."""
    v = variant if isinstance(variant, Variant) else VARIANTS[variant]
    darknet = CSPDarknet(v.depth, v.width, v.depthwise)
    neck = YOLOPAFPN(darknet, v.depth, v.width, v.depthwise)
    return YOLOX(neck, YOLOXHead(num_classes, v.width, v.depthwise), v).eval()


def prepare_for_inference(
    model: YOLOX,
    device: torch.device,
    *,
    half: bool = False,
    channels_last: bool = True,
    compile: bool = False,
) -> nn.Module:
    """Fold batch norm (if not yet), move to `device`, fp16 when `half`, channels_last memory,
    and `torch.compile` when asked. Returns the module to call (possibly compiled)."""
    fuse_conv_bn(model)
    model = model.to(device)
    if half:
        model = model.half()
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    model.requires_grad_(False)
    return torch.compile(model) if compile else model
