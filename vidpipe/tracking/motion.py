"""`CameraMotion`: how far the picture moved between two frames (a pan, a shaking hand), for
BoT-SORT's camera-motion compensation, estimated by phase correlation of small luma pictures.

BoT-SORT warps its tracks by the affine camera motion found with sparse optical flow
(OpenCV). vidpipe estimates the dominant translation instead, in numpy alone: the luma
plane, taken every n-th pixel down to at most SIDE_PX on its long side, windowed (Hann) and
correlated with the previous one in the Fourier domain; the peak, refined to sub-pixel by a
parabola, is the shift. The detected objects are left out of both pictures (as BoT-SORT
masks them out of its features): where large objects move over a plain background, their
motion would otherwise read as the camera's. It costs about a millisecond a frame at any
resolution. A weak peak (a cut, a flat picture, most of it moving objects) reads as no motion.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import uniform_filter

SIDE_PX = 192  # the long side of the picture that is correlated
FEATHER_PX = 3  # small-picture pixels over which an object's hole fades in
MIN_PEAK = 0.08  # normalised correlation peak below which the shift is not trusted


class CameraMotion:
    """Feed the luma of each frame in turn; `shift` returns how far its content moved since
    the previous frame, in pixels of the luma given (x right, y down).

    >>> rng = np.random.default_rng(0)
    >>> scene = rng.normal(size=(300, 500)).cumsum(0).cumsum(1)  # a textured picture
    >>> motion = CameraMotion()
    >>> motion.shift(scene[50:250, 50:450])
    (0.0, 0.0)
    >>> [round(v) for v in motion.shift(scene[40:240, 62:462])]  # camera moved right 12, up 10
    [-12, 10]
    """

    def __init__(self) -> None:
        self._previous: tuple[np.ndarray, np.ndarray] | None = None  # small picture, its mask
        self._key: tuple[int, int, int] | None = None
        self._window: np.ndarray | None = None

    def reset(self) -> None:
        self._previous = None

    def shift(self, luma: np.ndarray, boxes: np.ndarray | None = None) -> tuple[float, float]:
        """(dx, dy) of the picture's content since the previous call; (0, 0) on the first
        call, after a change of size, or when the correlation is too weak.

        luma: `[H, W]` array (any numeric dtype) of the picture as displayed. boxes: `[N, 4]`
        x1 y1 x2 y2 in luma pixels, the objects detected in it: their pixels, and those of
        the previous call's boxes, are left out of the correlation.
        """
        step = max(1, -(-max(luma.shape) // SIDE_PX))
        small = np.asarray(luma[::step, ::step], np.float32)
        key = (*small.shape, step)
        if key != self._key:
            self._key, self._previous = key, None
            self._window = np.outer(np.hanning(small.shape[0]), np.hanning(small.shape[1]))
        assert self._window is not None
        mask = np.ones(small.shape, bool)
        for x1, y1, x2, y2 in np.zeros((0, 4)) if boxes is None else boxes:
            mask[max(int(y1 // step), 0) : int(-(-y2 // step)),
                 max(int(x1 // step), 0) : int(-(-x2 // step))] = False  # fmt: skip
        previous, self._previous = self._previous, (small, mask)
        if previous is None:
            return 0.0, 0.0
        both = mask & previous[1]
        if not both.any():
            return 0.0, 0.0
        weight = self._window * _feather(both)
        spectra = [
            np.fft.rfft2((picture - picture[both].mean()) * weight)
            for picture in (small, previous[0])
        ]
        cross = spectra[0] * np.conj(spectra[1])
        cross /= np.maximum(np.abs(cross), 1e-9)
        surface = np.fft.irfft2(cross, s=small.shape)
        peak = np.unravel_index(int(np.argmax(surface)), surface.shape)
        if surface[peak] < MIN_PEAK:
            return 0.0, 0.0
        dy = _refine(surface, peak, axis=0)
        dx = _refine(surface, peak, axis=1)
        return float(dx * step), float(dy * step)


def _feather(mask: np.ndarray, reach: int = FEATHER_PX) -> np.ndarray:
    """`mask` as weights 0..1 that fall smoothly (a box blur `2 * reach + 1` wide, twice) to
    0 at the objects left out, so that their outlines add no edge of their own."""
    weight = mask.astype(np.float32)
    for _ in range(2):
        weight = uniform_filter(weight, 2 * reach + 1, mode="nearest")
    return np.where(mask, weight, 0.0)


def _refine(surface: np.ndarray, peak: tuple[int, ...], axis: int) -> float:
    """The peak's position along `axis` to sub-pixel, as a signed shift: the peak moved
    towards its larger neighbour by that neighbour's share of the two (Foroosh et al. 2002,
    for the sinc-shaped peak of phase correlation)."""
    n = surface.shape[axis]
    i = int(peak[axis])

    def at(j: int) -> float:
        index = list(peak)
        index[axis] = j % n
        return float(surface[tuple(index)])

    left, centre, right = at(i - 1), at(i), at(i + 1)
    side, near = (1, right) if right >= left else (-1, left)
    offset = side * near / (near + centre) if near > 0 and centre > 0 else 0.0
    position = i + offset
    return position - n if position > n / 2 else position
