"""The ops' parameter domains, importable without numpy (options are checked before any
frame work starts, e.g. by `vidpipe batch`'s driver): chroma layouts and filters, gamma range
and what it corrects."""

from __future__ import annotations

import math
from typing import Literal

GammaOn = Literal["luma", "rgb"]  # what gamma corrects: the luma plane, or R, G and B
CHROMAS = ("420", "422", "444")
UP_FILTERS = ("nearest", "bilinear")
DOWN_FILTERS = ("box", "bilinear")


def check_gamma(gamma: float) -> float:
    """Validate a gamma value: finite and in (0, 10]; returns it as a float.

    Raises ValueError("gamma must be in (0, 10], got ...") otherwise.
    """
    try:
        value = float(gamma)
    except (TypeError, ValueError):
        raise ValueError(f"gamma must be in (0, 10], got {gamma!r}") from None
    if not (math.isfinite(value) and 0.0 < value <= 10.0):
        raise ValueError(f"gamma must be in (0, 10], got {gamma!r}")
    return value
