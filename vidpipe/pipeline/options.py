"""`OpOptions`, the stage registry: which per-frame ops a run applies, validated once, in
the order they run. Importable without numpy (`vidpipe batch` checks options before work).

`vidpipe gamma`, `vidpipe chroma`, `vidpipe detect --gamma/--chroma`, batch's gamma and
chroma tasks and Python callers all build an `OpOptions` and run `OpOptions.stages()`. A new
op is its module in ops/ with its stage, its field(s) and line in `stages()` here, and its
CLI option.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from vidpipe.errors import InputError
from vidpipe.ops.params import CHROMAS, DOWN_FILTERS, UP_FILTERS, GammaOn, check_gamma

if TYPE_CHECKING:
    from vidpipe.types import Frame

GAMMA_ON: tuple[str, ...] = ("luma", "rgb")
Stage = Callable[[Iterator["Frame"]], Iterator["Frame"]]


@dataclass(frozen=True)
class OpOptions:
    """The per-frame ops of a run; None leaves an op out. They run in field order.

    gamma: gamma-correct with G in (0, 10] on "luma" (Y only) or "rgb" (gamma_on).
    chroma: resample chroma to "420", "422" or "444" ("4:2:0" accepted) with the
        chroma_up (nearest, bilinear) / chroma_down (box, bilinear) filters.
    Raises InputError naming the bad option.
    """

    gamma: float | None = None
    gamma_on: GammaOn = "luma"
    chroma: str | None = None
    chroma_up: str = "bilinear"
    chroma_down: str = "box"

    def __post_init__(self) -> None:
        if self.gamma is not None:
            try:
                object.__setattr__(self, "gamma", check_gamma(self.gamma))
            except ValueError as exc:
                raise InputError(f"--{exc}") from None
        if self.gamma_on not in GAMMA_ON:
            raise InputError(f"--on must be luma or rgb, not {self.gamma_on!r}")
        if self.chroma is not None:
            to = str(self.chroma).replace(":", "")
            if to not in CHROMAS:
                raise InputError(
                    f"chroma (--chroma, --to) must be 420, 422 or 444, not {self.chroma!r}"
                )
            object.__setattr__(self, "chroma", to)
        if self.chroma_up not in UP_FILTERS:
            raise InputError(f"--up must be {' or '.join(UP_FILTERS)}, not {self.chroma_up!r}")
        if self.chroma_down not in DOWN_FILTERS:
            raise InputError(
                f"--filter must be {' or '.join(DOWN_FILTERS)}, not {self.chroma_down!r}"
            )

    def stages(self) -> list[Stage]:
        """The stages these options ask for, in order."""
        from vidpipe.pipeline.stages import chroma_stage, gamma_stage

        stages: list[Stage] = []
        if self.gamma is not None:
            stages.append(functools.partial(gamma_stage, gamma=self.gamma, on=self.gamma_on))
        if self.chroma is not None:
            stages.append(functools.partial(
                chroma_stage, to=self.chroma, up=self.chroma_up, down=self.chroma_down
            ))  # fmt: skip
        return stages


def check_refine(scan: bool, refine: bool) -> None:
    """InputError for --refine without a scan (`vidpipe detect` and `vidpipe batch` alike)."""
    if refine and not scan:
        raise InputError("--refine goes with --scan")
