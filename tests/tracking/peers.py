"""Our trackers and Roboflow `trackers`' of the same family on the same detections, scored
by `vidpipe.evaluate.mot` (TrackEval's IDF1 / ID switches): what the scene tests and
`bench.py track` (scripts/bench_track.py) compare.

The peer runs with its own defaults but for the clip's frame rate (its buffers count
frames), fed the boxes at or above an input threshold; `best_peer` tries each threshold of
`THRESHOLDS` and keeps its best IDF1, as a user tuning it on this very clip would.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vidpipe.types import Detections

FAMILIES = ("bytetrack", "botsort", "ocsort", "sort")
THRESHOLDS = tuple(round(0.1 + 0.05 * i, 2) for i in range(11))  # 0.1 .. 0.6


@dataclass(frozen=True)
class Score:
    idf1: float
    id_switches: int


def at_least(dets: list[Detections], conf: float) -> list[Detections]:
    return [d[d.scores >= conf] for d in dets]


def run_ours(family: str, times: list[float], dets: list[Detections], **options) -> list:
    """Our tracker's output per frame (options: TrackOptions fields beyond the family)."""
    from vidpipe.tracking.options import TrackOptions
    from vidpipe.tracking.tracker import Tracker

    tracker = Tracker(TrackOptions(tracker=family, **options))
    return [tracker.update(d, t) for t, d in zip(times, dets, strict=True)]


def peer(family: str, fps: float = 30.0, buffer_s: float | None = None):
    """`trackers`' tracker of `family`, its defaults but for the clip's frame rate (and its
    lost-track buffer, `buffer_s` seconds, when given; its own is 30 frames)."""
    import trackers

    kind = {"bytetrack": trackers.ByteTrackTracker, "botsort": trackers.BoTSORTTracker,
            "ocsort": trackers.OCSORTTracker, "sort": trackers.SORTTracker}[family]  # fmt: skip
    if buffer_s is None:
        return kind(frame_rate=fps)
    return kind(frame_rate=fps, lost_track_buffer=max(1, round(buffer_s * fps)))


def run_peer(family: str, times: list[float], dets: list[Detections], fps: float = 30.0,
             buffer_s: float | None = None) -> list:  # fmt: skip
    """The peer's confirmed tracks per frame, as our Detections."""
    import supervision as sv

    tracker, out = peer(family, fps, buffer_s), []
    for d in dets:
        r = tracker.update(sv.Detections(d.xyxy, confidence=d.scores, class_id=d.class_ids))
        keep = r.tracker_id >= 0
        out.append(Detections(r.xyxy[keep], r.confidence[keep], r.class_id[keep],
                              r.tracker_id[keep]))  # fmt: skip
    return out


def write_mot(path: Path, frames: list[Detections]) -> Path:
    rows = [
        f"{f},{i},{x1:.2f},{y1:.2f},{x2 - x1:.2f},{y2 - y1:.2f},{s:.3f},-1,-1,-1\n"
        for f, d in enumerate(frames, 1)
        for (x1, y1, x2, y2), s, i in zip(d.xyxy, d.scores, d.tracker_id, strict=True)
    ]
    path.write_text("".join(rows))
    return path


def score(gt: Path, frames: list[Detections], folder: Path) -> Score:
    """IDF1 and ID switches of tracked `frames` against the ground-truth file `gt`."""
    from vidpipe.evaluate.mot import evaluate_mot

    if not any(len(f) for f in frames):
        return Score(0.0, 0)  # nothing tracked (TrackEval refuses an empty file)
    r = evaluate_mot(gt, write_mot(folder / "pred.txt", frames))
    return Score(r.idf1, r.id_switches)


def best_peer(
    family: str, gt: Path, times: list[float], dets: list[Detections], fps: float,
    folder: Path, thresholds: tuple[float, ...] = THRESHOLDS, buffer_s: float | None = None,
) -> tuple[float, Score]:  # fmt: skip
    """(threshold, score) of the peer at its best input threshold (ties: fewer switches)."""
    scores = {c: score(gt, run_peer(family, times, at_least(dets, c), fps, buffer_s), folder)
              for c in thresholds}  # fmt: skip
    best = max(scores, key=lambda c: (scores[c].idf1, -scores[c].id_switches))
    return best, scores[best]


def np_frames(dets: list[Detections]) -> dict[str, np.ndarray]:
    """Detections as arrays for np.savez (`from_np_frames` reads them back)."""
    out: dict[str, np.ndarray] = {}
    for i, d in enumerate(dets):
        out |= {f"xyxy{i}": d.xyxy, f"scores{i}": d.scores, f"classes{i}": d.class_ids}
    return out


def from_np_frames(data, frames: int) -> list[Detections]:
    return [Detections(data[f"xyxy{i}"], data[f"scores{i}"], data[f"classes{i}"])
            for i in range(frames)]  # fmt: skip
