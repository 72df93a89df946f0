"""YOLOPAFPN, the YOLOX neck: top-down FPN then bottom-up PAN over the backbone's features.

The backbone is injected and kept as `self.backbone`, which is where the official checkpoints
have it (`backbone.backbone.*` in a whole-model state dict)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from vidpipe.detectors.yolox.blocks import BaseConv, CSPLayer, conv_block


class YOLOPAFPN(nn.Module):
    """`forward(Tensor[B, 3, H, W] float 0..255 BGR)` -> (P3, P4, P5) at strides 8, 16, 32 with
    int(256 w), int(512 w), int(1024 w) channels."""

    def __init__(self, backbone: nn.Module, depth: float, width: float, depthwise: bool):
        super().__init__()
        self.backbone = backbone
        conv = conv_block(depthwise)
        c3, c4, c5 = (int(c * width) for c in (256, 512, 1024))
        n = round(3 * depth)
        self.lateral_conv0 = BaseConv(c5, c4, 1)
        self.C3_p4 = CSPLayer(2 * c4, c4, n, False, depthwise)
        self.reduce_conv1 = BaseConv(c4, c3, 1)
        self.C3_p3 = CSPLayer(2 * c3, c3, n, False, depthwise)
        self.bu_conv2 = conv(c3, c3, 3, 2)
        self.C3_n3 = CSPLayer(2 * c3, c4, n, False, depthwise)
        self.bu_conv1 = conv(c4, c4, 3, 2)
        self.C3_n4 = CSPLayer(2 * c4, c5, n, False, depthwise)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x2, x1, x0 = self.backbone(x)
        fpn_out0 = self.lateral_conv0(x0)
        f_out0 = self.C3_p4(torch.cat([_up2(fpn_out0), x1], 1))
        fpn_out1 = self.reduce_conv1(f_out0)
        pan_out2 = self.C3_p3(torch.cat([_up2(fpn_out1), x2], 1))
        pan_out1 = self.C3_n3(torch.cat([self.bu_conv2(pan_out2), fpn_out1], 1))
        pan_out0 = self.C3_n4(torch.cat([self.bu_conv1(pan_out1), fpn_out0], 1))
        return pan_out2, pan_out1, pan_out0


def _up2(x: torch.Tensor) -> torch.Tensor:
    return F.interpolate(x, scale_factor=2.0, mode="nearest")
