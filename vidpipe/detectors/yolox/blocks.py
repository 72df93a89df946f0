"""YOLOX building blocks: conv + batch norm + SiLU, depthwise conv, bottlenecks, CSP, SPP, Focus.

Module and parameter names follow the official YOLOX code (`conv`, `bn`, `dconv`, `pconv`,
`conv1`..`conv3`, `m`), so its checkpoints load by name. `fuse_conv_bn` folds a trained batch
norm into the convolution in front of it for inference (`BaseConv.bn` becomes Identity).
Every forward takes and returns `Tensor[B, C, H, W]` float (fp32 or fp16), any device.
"""

from __future__ import annotations

import torch
from torch import nn

BN_EPS = 1e-3  # YOLOX trains with eps 1e-3 / momentum 0.03; checkpoints do not record it
BN_MOMENTUM = 0.03


class BaseConv(nn.Module):
    """Conv2d (same padding, no bias) -> BatchNorm2d -> SiLU."""

    def __init__(self, c_in: int, c_out: int, ksize: int, stride: int = 1, groups: int = 1):
        super().__init__()
        pad = (ksize - 1) // 2
        self.conv = nn.Conv2d(c_in, c_out, ksize, stride, pad, groups=groups, bias=False)
        self.bn: nn.Module = nn.BatchNorm2d(c_out, eps=BN_EPS, momentum=BN_MOMENTUM)
        self.act = nn.SiLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.bn(self.conv(x)))


class DWConv(nn.Module):
    """Depthwise 3x3 (`dconv`) then pointwise 1x1 (`pconv`), each a BaseConv."""

    def __init__(self, c_in: int, c_out: int, ksize: int, stride: int = 1):
        super().__init__()
        self.dconv = BaseConv(c_in, c_in, ksize, stride, groups=c_in)
        self.pconv = BaseConv(c_in, c_out, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pconv(self.dconv(x))


def conv_block(depthwise: bool) -> type[BaseConv] | type[DWConv]:
    """The 3x3 convolution of a model: depthwise-separable (nano) or plain."""
    return DWConv if depthwise else BaseConv


class Bottleneck(nn.Module):
    """1x1 -> 3x3, plus the input when `shortcut` and the channel counts agree."""

    def __init__(self, c_in: int, c_out: int, shortcut: bool, depthwise: bool):
        super().__init__()
        hidden = c_out  # YOLOX's CSP bottlenecks use expansion 1.0
        self.conv1 = BaseConv(c_in, hidden, 1)
        self.conv2 = conv_block(depthwise)(hidden, c_out, 3)
        self.use_add = shortcut and c_in == c_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv2(self.conv1(x))
        return y + x if self.use_add else y


class CSPLayer(nn.Module):
    """Cross-stage partial block: two 1x1 branches, `n` bottlenecks on one, concat, 1x1."""

    def __init__(self, c_in: int, c_out: int, n: int, shortcut: bool, depthwise: bool):
        super().__init__()
        hidden = int(c_out * 0.5)
        self.conv1 = BaseConv(c_in, hidden, 1)
        self.conv2 = BaseConv(c_in, hidden, 1)
        self.conv3 = BaseConv(2 * hidden, c_out, 1)
        self.m = nn.Sequential(*(Bottleneck(hidden, hidden, shortcut, depthwise) for _ in range(n)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x1 = self.conv1(x)
        x2 = self.conv2(x)
        return self.conv3(torch.cat((self.m(x1), x2), dim=1))


class SPPBottleneck(nn.Module):
    """Spatial pyramid pooling: 1x1, max-pools 5/9/13 (stride 1) concatenated, 1x1."""

    def __init__(self, c_in: int, c_out: int, kernel_sizes: tuple[int, ...] = (5, 9, 13)):
        super().__init__()
        hidden = c_in // 2
        self.conv1 = BaseConv(c_in, hidden, 1)
        self.m = nn.ModuleList(nn.MaxPool2d(k, stride=1, padding=k // 2) for k in kernel_sizes)
        self.conv2 = BaseConv(hidden * (len(kernel_sizes) + 1), c_out, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv1(x)
        return self.conv2(torch.cat([x, *(pool(x) for pool in self.m)], dim=1))


class Focus(nn.Module):
    """Space-to-depth (2x2 pixel blocks into channels, YOLOX's order), then a BaseConv."""

    def __init__(self, c_in: int, c_out: int, ksize: int = 3):
        super().__init__()
        self.conv = BaseConv(c_in * 4, c_out, ksize)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        top_left = x[..., ::2, ::2]
        top_right = x[..., ::2, 1::2]
        bottom_left = x[..., 1::2, ::2]
        bottom_right = x[..., 1::2, 1::2]
        return self.conv(torch.cat((top_left, bottom_left, top_right, bottom_right), dim=1))


@torch.no_grad()
def fuse_conv_bn(module: nn.Module) -> nn.Module:
    """Fold every BaseConv's batch norm into its convolution (in place; returns `module`).

    W' = W * g / sqrt(var + eps) per output channel, b' = beta - mean * g / sqrt(var + eps).
    Only valid for inference (the model is put in eval mode)."""
    for block in module.modules():
        if isinstance(block, BaseConv) and isinstance(block.bn, nn.BatchNorm2d):
            bn, conv = block.bn, block.conv
            scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
            fused = nn.Conv2d(
                conv.in_channels,
                conv.out_channels,
                conv.kernel_size,
                conv.stride,
                conv.padding,
                groups=conv.groups,
                bias=True,
            ).to(conv.weight.device, conv.weight.dtype)
            fused.weight.copy_(conv.weight * scale.reshape(-1, 1, 1, 1))
            fused.bias.copy_(bn.bias - bn.running_mean * scale)
            block.conv, block.bn = fused, nn.Identity()
    return module.eval()
