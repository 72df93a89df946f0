"""A video stream's frame index from its packets alone, nothing decoded: every frame's pts in
display order and its key flag. What time sampling plans with (`vidpipe detect --scan
--sample 2s`): which frame is shown at a time, which key frame a seek to it lands on.
Demuxing reads the file through but decodes nothing: a small fraction of a decode.
"""

from __future__ import annotations

import bisect
import functools
from dataclasses import dataclass
from fractions import Fraction

from vidpipe.errors import InputError
from vidpipe.io.decode_av import open_container
from vidpipe.io.inputs import redact


@dataclass(frozen=True)
class FrameIndex:
    """pts: every frame's pts in display order (ascending); key: its key flag; time_base:
    seconds per pts unit."""

    pts: tuple[int, ...]
    key: tuple[bool, ...]
    time_base: Fraction

    def __len__(self) -> int:
        return len(self.pts)

    def time(self, index: int) -> float:
        return float(self.pts[index] * self.time_base)

    def at_time(self, seconds: float) -> int | None:
        """The display index of the first frame shown at or after `seconds` (None: after
        the last frame)."""
        target = seconds / self.time_base
        index = bisect.bisect_left(self.pts, target)
        return index if index < len(self.pts) else None

    def key_before(self, index: int) -> int:
        """The display index of the last key frame at or before frame `index` (0 when none):
        where decoding it starts."""
        at = bisect.bisect_right(self._keys, index)
        return self._keys[at - 1] if at else 0

    @functools.cached_property
    def _keys(self) -> list[int]:
        return [i for i, key in enumerate(self.key) if key]


def frame_index(path: str, stream_index: int) -> FrameIndex:
    """The FrameIndex of video stream `stream_index` of the resolved local file `path`.
    InputError when its packets carry no timestamps (AVI's frame counter is only a decode
    order) or it has none."""
    rows: list[tuple[int, bool]] = []
    with open_container(path) as container:
        stream = container.streams[stream_index]
        time_base = Fraction(stream.time_base) if stream.time_base else Fraction(1, 1)
        if container.format.name == "avi":
            raise InputError(f"{redact(path)}: AVI stores no presentation times to sample by")
        for packet in container.demux(stream):
            if packet.size == 0:  # the demuxer's flush packet
                continue
            if packet.pts is None:
                raise InputError(
                    f"{redact(path)}: packets without timestamps: cannot sample by time"
                )
            rows.append((packet.pts, bool(packet.is_keyframe)))
    if not rows:
        raise InputError(f"{redact(path)}: no video packets")
    rows.sort()
    return FrameIndex(tuple(p for p, _ in rows), tuple(k for _, k in rows), time_base)
