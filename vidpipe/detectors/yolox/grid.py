"""YOLOX's anchor grid and the decode of its raw output, in numpy (no torch): what an exported
graph's output (YOLOX's default export, `decode_in_inference` off) needs, and the constants the
torch head decodes with on its device."""

from __future__ import annotations

import functools

import numpy as np

STRIDES = (8, 16, 32)


@functools.lru_cache(maxsize=16)
def anchor_grid(size_hw: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """(`[N, 2]` cell x, y; `[N, 1]` stride) float32 of the anchor points of an input of
    `size_hw`, level by level (strides 8, 16, 32), row-major. Read-only: shared."""
    grids, strides = [], []
    for stride in STRIDES:
        h, w = size_hw[0] // stride, size_hw[1] // stride
        ys, xs = np.mgrid[0:h, 0:w]
        grids.append(np.stack((xs, ys), 2).reshape(-1, 2))
        strides.append(np.full((h * w, 1), stride))
    grid, stride = np.concatenate(grids).astype(np.float32), np.concatenate(strides)
    grid.flags.writeable = False
    stride = stride.astype(np.float32)
    stride.flags.writeable = False
    return grid, stride


def decode(raw: np.ndarray, size_hw: tuple[int, int]) -> np.ndarray:
    """Grid decode of raw `[B, N, 5 + C]` (dx, dy, log w, log h in grid units, then scores),
    in place: cx = (dx + grid_x) * stride, w = exp(log w) * stride, in input pixels."""
    grid, stride = anchor_grid(size_hw)
    if raw.shape[1] != len(grid):
        raise ValueError(f"{raw.shape[1]} anchors in the output, {len(grid)} for {size_hw}")
    raw[..., :2] += grid
    raw[..., :2] *= stride
    np.exp(raw[..., 2:4], out=raw[..., 2:4])
    raw[..., 2:4] *= stride
    return raw
