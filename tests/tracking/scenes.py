"""Generated tracking scenes: objects on known trajectories, their ground truth, and the
detections a detector would give (box noise, misses, occlusion, class flicker, false boxes).

`scene(kind, seed)` returns a `Scene`: per frame its time (seconds), the ground-truth boxes
with their object ids, and synthetic `Detections`. Kinds:

    "crossing"  1280x720, 10 s at 30 fps: two objects cross head-on, the nearer one passing in
                front of the other (the far one hidden, then low-scored, while covered); one
                rises and falls; two wander; a dog/cat flicker; one walks out of the frame's
                right edge and comes back after about 0.9 s
    "vfr"       the same trajectories sampled at irregular times (15..60 fps, dropped frames)
    "skip"      the same, every 5th frame only (as if only I frames were decoded)
    "gaps"      30 fps with 0.3 s of frames dropped every 2 s

Trajectories are functions of time, so every variant sees the same motion. An object is in
the ground truth while its box centre is inside the frame (MOTChallenge's convention of
counting what can be seen), and the truth has the objects' own ids (1..6).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vidpipe.types import Detections

WIDTH, HEIGHT = 1280, 720
DOG, CAT, PERSON, CAR = 16, 15, 0, 2


@dataclass(frozen=True)
class Obj:
    id: int
    class_id: int
    size_wh: tuple[float, float]
    depth: int  # larger is nearer the camera (drawn on top, hides what is behind)
    path: Callable[[float], tuple[float, float]]  # time (s) -> box centre (x, y)
    flicker: int | None = None  # another class the detector confuses it with


def _objects() -> list[Obj]:
    return [
        Obj(1, PERSON, (70, 160), 0, lambda t: (100 + 110 * t, 380)),
        Obj(2, PERSON, (80, 180), 1, lambda t: (1180 - 110 * t, 400)),
        Obj(3, CAR, (160, 90), 0, lambda t: (640 + 40 * np.sin(t), 150 + 95 * t - 19 * t * t)),
        Obj(4, DOG, (110, 80), 0, lambda t: (300 + 60 * np.cos(0.9 * t), 600 - 25 * t), CAT),
        Obj(5, CAR, (150, 85), 0, lambda t: (950 + 150 * np.sin(0.6 * t), 620 - 20 * t)),
        Obj(6, PERSON, (60, 140), 0, lambda t: (1180 + 130 * np.sin(2 * np.pi * t / 4), 200)),
    ]


@dataclass
class Scene:
    times: list[float]  # seconds, one per frame
    truth: list[tuple[np.ndarray, np.ndarray]]  # per frame: ids [K], xyxy [K, 4]
    detections: list[Detections]

    def write_gt(self, path: Path) -> Path:
        """The truth as a MOTChallenge ground-truth file (frame 1-based, flag 1, class 1)."""
        rows = []
        for frame, (ids, boxes) in enumerate(self.truth, 1):
            for i, (x1, y1, x2, y2) in zip(ids.tolist(), boxes.tolist(), strict=True):
                rows.append(f"{frame},{i},{x1:.2f},{y1:.2f},{x2 - x1:.2f},{y2 - y1:.2f},1,1,1\n")
        path.write_text("".join(rows))
        return path


def frame_times(kind: str, seconds: float = 10.0, seed: int = 0) -> list[float]:
    rng = np.random.default_rng(seed + 100)
    if kind == "crossing":
        return [i / 30 for i in range(int(seconds * 30))]
    if kind == "skip":
        return [i / 30 for i in range(0, int(seconds * 30), 5)]
    if kind == "gaps":
        return [i / 30 for i in range(int(seconds * 30)) if i % 60 < 51]
    if kind == "vfr":
        times, t = [], 0.0
        while t < seconds:
            times.append(t)
            t += float(rng.choice([1 / 60, 1 / 30, 1 / 30, 1 / 24, 1 / 15, 2 / 30, 3 / 30]))
        return times
    raise ValueError(kind)


def _box(obj: Obj, t: float) -> np.ndarray:
    x, y = obj.path(t)
    w, h = obj.size_wh
    return np.array([x - w / 2, y - h / 2, x + w / 2, y + h / 2])


def _covered(box: np.ndarray, other: np.ndarray) -> float:
    """The share of `box` that `other` covers."""
    lo, hi = np.maximum(box[:2], other[:2]), np.minimum(box[2:], other[2:])
    inter = float(np.prod(np.clip(hi - lo, 0, None)))
    return inter / float(np.prod(box[2:] - box[:2]))


def scene(kind: str = "crossing", seed: int = 0, seconds: float = 10.0) -> Scene:
    rng = np.random.default_rng(seed)
    objects = _objects()
    times = frame_times(kind, seconds, seed)
    truth, detections = [], []
    for t in times:
        boxes = {o.id: _box(o, t) for o in objects}
        visible = [o for o in objects if 0 <= o.path(t)[0] < WIDTH and 0 <= o.path(t)[1] < HEIGHT]
        ids = np.array([o.id for o in visible], np.int64)
        truth.append((ids, np.array([boxes[o.id] for o in visible]).reshape(-1, 4)))
        xyxy, scores, classes = [], [], []
        for o in visible:
            cover = max(
                (_covered(boxes[o.id], boxes[p.id]) for p in visible if p.depth > o.depth),
                default=0.0,
            )
            if cover > 0.6 or rng.random() < 0.04:
                continue  # hidden, or missed
            score = rng.uniform(0.2, 0.45) if cover > 0.25 else rng.uniform(0.6, 0.95)
            w, h = o.size_wh
            noise = rng.normal(0, 0.03, 4) * np.array([w, h, w, h])
            xyxy.append(boxes[o.id] + noise)
            scores.append(score)
            flick = o.flicker is not None and rng.random() < 0.3
            classes.append(o.flicker if flick else o.class_id)
        for _ in range(rng.poisson(0.3)):  # a false box now and then
            x, y = rng.uniform(0, WIDTH - 60), rng.uniform(0, HEIGHT - 60)
            xyxy.append(np.array([x, y, x + rng.uniform(20, 60), y + rng.uniform(20, 60)]))
            scores.append(rng.uniform(0.1, 0.65))
            classes.append(int(rng.integers(0, 80)))
        detections.append(
            Detections(
                np.array(xyxy, np.float32).reshape(-1, 4),
                np.array(scores, np.float32),
                np.array(classes, np.int64),
            )
        )
    return Scene(times, truth, detections)
