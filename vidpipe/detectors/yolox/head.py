"""YOLOXHead: decoupled anchor-free head (stem, class branch, box/objectness branch) per level.

`decode=False` gives the raw inference output that YOLOX's ONNX export produces; `decode=True`
adds the grid decode to boxes in input pixels. The head keeps no state between calls."""

from __future__ import annotations

import functools

import torch
from torch import nn

from vidpipe.detectors.yolox.blocks import BaseConv, conv_block
from vidpipe.detectors.yolox.grid import STRIDES, anchor_grid


class YOLOXHead(nn.Module):
    """Per level k: stems[k] -> cls_convs[k] -> cls_preds[k]; reg_convs[k] -> reg_preds[k],
    obj_preds[k] (the official names and call order, so checkpoints and ONNX exports map)."""

    def __init__(self, num_classes: int, width: float, depthwise: bool):
        super().__init__()
        conv = conv_block(depthwise)
        hidden = int(256 * width)
        self.num_classes = num_classes
        self.stems = nn.ModuleList()
        self.cls_convs = nn.ModuleList()
        self.reg_convs = nn.ModuleList()
        self.cls_preds = nn.ModuleList()
        self.reg_preds = nn.ModuleList()
        self.obj_preds = nn.ModuleList()
        for c_in in (int(c * width) for c in (256, 512, 1024)):
            self.stems.append(BaseConv(c_in, hidden, 1))
            self.cls_convs.append(nn.Sequential(conv(hidden, hidden, 3), conv(hidden, hidden, 3)))
            self.reg_convs.append(nn.Sequential(conv(hidden, hidden, 3), conv(hidden, hidden, 3)))
            self.cls_preds.append(nn.Conv2d(hidden, num_classes, 1))
            self.reg_preds.append(nn.Conv2d(hidden, 4, 1))
            self.obj_preds.append(nn.Conv2d(hidden, 1, 1))

    def forward(self, features: tuple[torch.Tensor, ...], decode: bool = True) -> torch.Tensor:
        """Args:
            features: (P3, P4, P5) from the neck, strides 8, 16, 32.
            decode: add the grid decode (boxes in input pixels) or return the raw output.

        Returns:
            `Tensor[B, N, 5 + C]`, N = sum of H_k * W_k over levels (row-major, level by level):
            raw: dx, dy, log w, log h (grid units), objectness and C class probabilities
            (sigmoids applied); decoded: cx, cy, w, h in input pixels, then the same scores.
        """
        levels = []
        for k, x in enumerate(features):
            x = self.stems[k](x)
            cls_out = self.cls_preds[k](self.cls_convs[k](x))
            reg_feat = self.reg_convs[k](x)
            reg_out = self.reg_preds[k](reg_feat)
            obj_out = self.obj_preds[k](reg_feat)
            out = torch.cat([reg_out, obj_out.sigmoid(), cls_out.sigmoid()], 1)
            levels.append(out.flatten(start_dim=2))
        raw = torch.cat(levels, dim=2).permute(0, 2, 1)
        if not decode:
            return raw
        return decode_boxes(raw, [tuple(f.shape[-2:]) for f in features])


def decode_boxes(
    raw: torch.Tensor, sizes_hw: list[tuple[int, int]], *, inplace: bool = False
) -> torch.Tensor:
    """Grid decode: cx = (dx + grid_x) * stride, w = exp(log w) * stride.

    Args:
        raw: `Tensor[B, N, 5 + C]` raw head output (see `YOLOXHead.forward`).
        sizes_hw: feature map sizes (H_k, W_k) of the levels, strides 8, 16, 32.
        inplace: decode into `raw` itself (for a tensor the caller owns and no longer needs
            raw) instead of a new tensor.
    """
    grid, stride = _grid(tuple(sizes_hw), raw.device, raw.dtype)
    if not inplace:
        xy = (raw[..., :2] + grid) * stride
        wh = torch.exp(raw[..., 2:4]) * stride
        return torch.cat([xy, wh, raw[..., 4:]], dim=-1)
    raw[..., :2].add_(grid).mul_(stride)
    raw[..., 2:4].exp_().mul_(stride)
    return raw


@functools.lru_cache(maxsize=16)
def _grid(
    sizes_hw: tuple[tuple[int, int], ...], device: torch.device, dtype: torch.dtype
) -> tuple[torch.Tensor, torch.Tensor]:
    """`anchor_grid` on `device` in `dtype`, built once per input size (constants, not state
    of a forward pass)."""
    (h, w), stride = sizes_hw[0], STRIDES[0]
    grid, strides = anchor_grid((h * stride, w * stride))
    return torch.tensor(grid, device=device, dtype=dtype), torch.tensor(strides, device=device,
                                                                        dtype=dtype)  # fmt: skip
