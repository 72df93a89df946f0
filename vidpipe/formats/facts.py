"""`VideoFacts`: what an annotation format records of the video its boxes belong to (the
picture's size as displayed, its frame count, rate and duration), probed once from the clip,
and the check that a run's boxes can be that video's.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from vidpipe.errors import InputError
from vidpipe.formats.run import Boxes
from vidpipe.types import VideoInfo


@dataclass(frozen=True)
class VideoFacts:
    """A clip as the formats describe it.

    path: as given; name: its file name. width, height: the picture as displayed (after the
    container's rotation, which is what the boxes' pixels are). frame_count: the frames the
    container holds (frame numbers in every format are display indexes 0 .. frame_count - 1,
    never time x rate). rate: the average frame rate (None when unknown); duration: seconds.
    """

    path: str
    name: str
    width: int
    height: int
    rotation: int
    frame_count: int
    rate: Fraction | None
    duration: float | None

    @property
    def fps(self) -> float:
        """The average rate as a number (what Label Studio and seqinfo.ini take; 0 unknown)."""
        return float(self.rate) if self.rate else 0.0


def video_facts(path: str | os.PathLike[str]) -> VideoFacts:
    """Probe `path` (a local file). Raises InputError when it is not a video."""
    from vidpipe.io.probe import probe

    return facts_of(probe(os.fspath(path)))


def facts_of(info: VideoInfo) -> VideoFacts:
    """The facts of a probed video (a Source's `info`: nothing is probed again)."""
    path = info.path
    width, height = (info.height, info.width) if info.rotation % 180 else (info.width, info.height)
    return VideoFacts(
        path=path, name=os.path.basename(path), width=width, height=height,
        rotation=info.rotation, frame_count=info.frame_count,
        rate=info.avg_frame_rate or info.frame_rate, duration=info.duration,
    )  # fmt: skip


def check_fits(boxes: Boxes, facts: VideoFacts, results: str) -> None:
    """InputError when the boxes cannot be this video's: a frame past its end, or a box
    wholly outside its displayed picture (results of another clip, or of its unrotated
    picture). A box partly outside is a tracked object's predicted box as it leaves."""
    last = int(boxes.indexes.max()) if len(boxes.indexes) else -1
    if last >= facts.frame_count > 0:
        raise InputError(f"{results}: frame {last} is past the {facts.frame_count} frames of "
                         f"{facts.path} (results of another video?)")  # fmt: skip
    xyxy = boxes.xyxy
    outside = (xyxy[:, 0] >= facts.width) | (xyxy[:, 1] >= facts.height) | (xyxy[:, 2] <= 0)
    if (outside | (xyxy[:, 3] <= 0)).any():
        raise InputError(f"{results}: boxes lie outside the {facts.width}x{facts.height} "
                         f"picture of {facts.path} (results of another video?)")  # fmt: skip


def clipped(xyxy: np.ndarray, facts: VideoFacts) -> np.ndarray:
    """`[N, 4]` float64 x1 y1 x2 y2 clipped to the displayed picture, which every format
    takes (a tracked object's predicted box may overhang it as the object leaves)."""
    limits = np.array([facts.width, facts.height] * 2, np.float64)
    return np.clip(xyxy.astype(np.float64), 0.0, limits)
