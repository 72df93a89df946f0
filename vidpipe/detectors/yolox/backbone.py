"""CSPDarknet, the YOLOX backbone: Focus stem and four stages, features at strides 8/16/32."""

from __future__ import annotations

import torch
from torch import nn

from vidpipe.detectors.yolox.blocks import CSPLayer, Focus, SPPBottleneck, conv_block


class CSPDarknet(nn.Module):
    """`forward(Tensor[B, 3, H, W] float 0..255 BGR)` -> (dark3, dark4, dark5) feature maps at
    strides 8, 16 and 32 with 4w, 8w and 16w channels (w = int(64 * width)); H and W must be
    multiples of 32."""

    def __init__(self, depth: float, width: float, depthwise: bool):
        super().__init__()
        conv = conv_block(depthwise)
        c = int(width * 64)
        n = max(round(depth * 3), 1)
        self.stem = Focus(3, c, ksize=3)
        self.dark2 = nn.Sequential(conv(c, c * 2, 3, 2), CSPLayer(c * 2, c * 2, n, True, depthwise))
        self.dark3 = nn.Sequential(
            conv(c * 2, c * 4, 3, 2), CSPLayer(c * 4, c * 4, n * 3, True, depthwise)
        )
        self.dark4 = nn.Sequential(
            conv(c * 4, c * 8, 3, 2), CSPLayer(c * 8, c * 8, n * 3, True, depthwise)
        )
        self.dark5 = nn.Sequential(
            conv(c * 8, c * 16, 3, 2),
            SPPBottleneck(c * 16, c * 16),
            CSPLayer(c * 16, c * 16, n, False, depthwise),
        )

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x = self.dark2(self.stem(x))
        dark3 = self.dark3(x)
        dark4 = self.dark4(dark3)
        return dark3, dark4, self.dark5(dark4)
