"""A constant-velocity Kalman filter for boxes, batched over tracks, stepped in real time.

State `[T, 8]` float64: cx, cy, w, h (box centre and size, displayed-frame pixels) and their
velocities in pixels per REF_STEP_S. The noise model is BoT-SORT's (xywh, noise proportional
to the box's width or height; ByteTrack's constants), defined per REF_STEP_S and scaled with
the real time between frames: a prediction over `dt` seconds is `k = dt / REF_STEP_S` steps of
the published 30 fps filter, its process noise (a random walk on position and velocity) is
`k` times one step's. At 30 fps this is exactly the published filter; at 25 fps, with VFR
timing or after dropped or skipped frames, it moves boxes by the time that really passed.
"""

from __future__ import annotations

import numpy as np

REF_STEP_S = 1.0 / 30.0  # the frame interval the published noise constants were tuned for
STD_POSITION = 1.0 / 20.0  # of the box side, per step and per measurement
STD_VELOCITY = 1.0 / 160.0  # of the box side, per step
MIN_SIDE = 1.0  # a predicted box never shrinks below a pixel


def xyxy_to_xywh(xyxy: np.ndarray) -> np.ndarray:
    """`[N, 4]` x1 y1 x2 y2 -> `[N, 4]` float64 cx cy w h."""
    xyxy = np.asarray(xyxy, np.float64)
    wh = xyxy[:, 2:] - xyxy[:, :2]
    return np.concatenate([xyxy[:, :2] + wh / 2, wh], axis=1)


def xywh_to_xyxy(xywh: np.ndarray) -> np.ndarray:
    """`[N, 4]` cx cy w h -> `[N, 4]` float64 x1 y1 x2 y2."""
    half = xywh[:, 2:4] / 2
    return np.concatenate([xywh[:, :2] - half, xywh[:, :2] + half], axis=1)


def _sides(xywh: np.ndarray) -> np.ndarray:
    """`[N, 4]` the side each coordinate's noise scales with: w, h, w, h."""
    return np.stack([xywh[:, 2], xywh[:, 3], xywh[:, 2], xywh[:, 3]], axis=1)


def initiate(xywh: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """New tracks from `[N, 4]` cx cy w h measurements: means `[N, 8]` (velocity 0) and
    covariances `[N, 8, 8]` (BoT-SORT's initial uncertainty)."""
    n = len(xywh)
    mean = np.zeros((n, 8))
    mean[:, :4] = xywh
    side = _sides(xywh)
    std = np.concatenate([2 * STD_POSITION * side, 10 * STD_VELOCITY * side], axis=1)
    cov = np.zeros((n, 8, 8))
    cov[:, np.arange(8), np.arange(8)] = std**2
    return mean, cov


def predict(mean: np.ndarray, cov: np.ndarray, dt: float) -> tuple[np.ndarray, np.ndarray]:
    """Every track moved `dt` seconds ahead (dt >= 0): new `[T, 8]` means, `[T, 8, 8]`
    covariances."""
    k = max(float(dt), 0.0) / REF_STEP_S
    if len(mean) == 0 or k == 0.0:
        return mean.copy(), cov.copy()
    mean = mean.copy()
    mean[:, :4] += k * mean[:, 4:]
    mean[:, 2:4] = np.maximum(mean[:, 2:4], MIN_SIDE)
    f = np.eye(8)
    f[:4, 4:] = k * np.eye(4)
    side = _sides(mean[:, :4])
    q = np.concatenate([STD_POSITION * side, STD_VELOCITY * side], axis=1) ** 2 * k
    cov = f @ cov @ f.T
    cov[:, np.arange(8), np.arange(8)] += q
    return mean, cov


def update(mean: np.ndarray, cov: np.ndarray, xywh: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Tracks `[M, 8]` / `[M, 8, 8]` corrected by one measurement each (`[M, 4]` cx cy w h)."""
    if len(mean) == 0:
        return mean.copy(), cov.copy()
    r = (STD_POSITION * _sides(mean[:, :4])) ** 2
    s = cov[:, :4, :4].copy()
    s[:, np.arange(4), np.arange(4)] += r
    # K = P H^T S^-1, solved as S K^T = H P (S symmetric).
    gain = np.linalg.solve(s, cov[:, :4, :]).transpose(0, 2, 1)
    innovation = xywh - mean[:, :4]
    mean = mean + np.einsum("mij,mj->mi", gain, innovation)
    cov = cov - gain @ s @ gain.transpose(0, 2, 1)
    return mean, cov
