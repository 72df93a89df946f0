"""`OpOptions`, the stage registry: which per-frame ops a run applies, validated once, in
the order they run. Importable without numpy (`vidpipe batch` checks options before work).

`vidpipe gamma`, `vidpipe chroma`, `vidpipe detect --gamma/--chroma`, batch's gamma and
chroma tasks (and its detect jobs' ops) and Python callers all build an `OpOptions` and run
`OpOptions.stages()`. A new op is its module in ops/ with its stage, its field(s) and line
in `stages()` here, and its CLI option. `ScanOptions` (what `--scan` samples) and the rule
of the scan's own options (`check_scan_flags`) live here too, for the same reason.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from vidpipe.errors import InputError, VidpipeError
from vidpipe.ops.params import CHROMAS, DOWN_FILTERS, UP_FILTERS, GammaOn, check_gamma

if TYPE_CHECKING:
    from vidpipe.types import Frame

GAMMA_ON: tuple[str, ...] = ("luma", "rgb")
_SKIP = {"I": "nonintra", "key": "nonkey"}  # a scan's sampling by the decoder's skip mode
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
        if self.gamma is None and self.gamma_on != GAMMA_ON[0]:
            raise InputError("--on goes with --gamma")
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


@dataclass(frozen=True)
class ScanOptions:
    """What a scan samples: "I" (I frames, key or not) or "key" (key frames); `refine`: also
    every frame between two samples that differ (`changed`), so that an interval's start
    and end there are exact to the frame."""

    sample: str = "I"
    refine: bool = False

    def __post_init__(self) -> None:
        if self.sample in _SKIP:
            return
        try:
            _ = self.step
        except (VidpipeError, ValueError, TypeError, AttributeError):
            raise InputError(
                f"--sample must be I, key, a duration (2s, 500ms, 1m) or every:N, "
                f"not {self.sample!r}"
            ) from None

    def check(self, *, video: bool, track: bool, counting: bool) -> None:
        """InputError for what a scan cannot do: write a video (it decodes only some frames),
        track without --refine (samples seconds apart) or count lines and zones (a count
        needs every frame)."""
        if video:
            raise InputError("--scan writes no video: it decodes only the sampled frames")
        if counting:
            raise InputError("--scan counts no lines or zones: a count needs every frame")
        if track and not self.refine:
            raise InputError("--scan tracks only with --refine (every frame where things change)")

    @property
    def skip(self) -> str | None:
        """The decoder's skip mode that yields exactly the sampled frames (None: seeks)."""
        return _SKIP.get(self.sample)

    @property
    def step(self) -> tuple[str, float]:
        """("time", seconds) or ("frames", N) of a sampling by seeks."""
        if self.sample.startswith("every:"):
            n = int(self.sample.removeprefix("every:"))
            if n < 1:
                raise ValueError(n)
            return "frames", n
        from vidpipe.io.segments import parse_duration  # loads PyAV: only for a time step

        return "time", parse_duration(self.sample)


def check_scan_flags(
    scan: bool, *, refine: bool = False, intervals: bool = False, thumbs: bool = False
) -> None:
    """InputError for a scan's own option without --scan: --refine, --intervals, --thumbs
    (`vidpipe detect`, `vidpipe batch` and `detect_file` alike)."""
    if refine and not scan:
        raise InputError("--refine goes with --scan")
    if not scan and (intervals or thumbs):
        raise InputError(f"{'--intervals' if intervals else '--thumbs'} needs --scan")
