"""Label Studio's video object tracking, both ways: a task of the video with the run's
tracks as a prediction (`videorectangle` regions: per track a sequence of keyframes in
percent of the picture, `frame` 1-based, `time` in seconds), the labelling interface that
reads it, and a task's annotations (or predictions) read back as ground truth.

Label Studio draws a region from keyframe to keyframe (interpolating between them) until a
keyframe that is not `enabled`: a tracked run's box is a keyframe in every frame its track
was seen, and the last one before a frame it was not seen in is disabled. A region has one
label: the class its boxes carry most often (`Boxes.track_classes`).
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any
from xml.sax.saxutils import quoteattr

import numpy as np

from vidpipe.errors import InputError
from vidpipe.formats.facts import VideoFacts, clipped
from vidpipe.formats.run import Boxes, from_rows

FROM_NAME, TO_NAME = "box", "video"  # the interface's tag names the regions refer to


def label_config(labels: list[str], fps: float) -> str:
    """The labelling interface of such tasks (paste it into the project's settings)."""
    rows = "".join(f"\n    <Label value={quoteattr(label)}/>" for label in labels)
    return (f'<View>\n  <Video name="{TO_NAME}" value="${TO_NAME}" framerate="{fps:g}"/>\n'
            f'  <VideoRectangle name="{FROM_NAME}" toName="{TO_NAME}"/>\n'
            f'  <Labels name="videoLabels" toName="{TO_NAME}" allowEmpty="true">{rows}\n'
            "  </Labels>\n</View>\n")  # fmt: skip


def write(boxes: Boxes, facts: VideoFacts, out: Path, video_url: str | None = None) -> str:
    """The task list (one task) into the file `out`; returns its labelling interface.
    video_url: what the task's `video` is (default: the clip's file name, to be served from
    the project's storage)."""
    fps = facts.fps or 1.0
    duration = facts.duration or facts.frame_count / fps
    xyxy = clipped(boxes.xyxy, facts)
    scale = np.array([facts.width, facts.height] * 2, np.float64) / 100.0
    percent = xyxy / scale
    classes = boxes.track_classes()
    regions = []
    for track, keys in boxes.stretches():
        sequence = []
        for row, frame, ends in keys:
            time = float(boxes.times[boxes.frame[row]])
            x1, y1, x2, y2 = (float(v) for v in percent[row])
            sequence.append({
                "frame": frame + 1, "enabled": not ends, "rotation": 0,
                "x": round(x1, 4), "y": round(y1, 4), "width": round(x2 - x1, 4),
                "height": round(y2 - y1, 4),
                "time": round(time if math.isfinite(time) else frame / fps, 6),
            })  # fmt: skip
        regions.append({
            "id": f"track{track}", "from_name": FROM_NAME, "to_name": TO_NAME,
            "type": "videorectangle", "origin": "prediction",
            "value": {"framesCount": facts.frame_count, "duration": round(duration, 6),
                      "sequence": sequence, "labels": [boxes.label(classes[track])]},
            "meta": {"track_id": track},
        })  # fmt: skip
    score = float(boxes.scores.mean()) if len(boxes.scores) else 0.0
    task = {"data": {TO_NAME: video_url or facts.name},
            "predictions": [{"model_version": "vidpipe", "score": round(score, 4),
                             "result": regions}]}  # fmt: skip
    out.write_text(json.dumps([task], indent=1))
    return label_config([boxes.label(c) for c in sorted(boxes.names)], fps)


def read(path: str | os.PathLike[str], facts: VideoFacts | None) -> Boxes:
    """The boxes of a Label Studio export (a JSON list of tasks, or one task) as ground
    truth: the first task's first annotation (its first prediction when it has none), each
    region's keyframes interpolated to every frame between enabled ones, as Label Studio
    shows them; pixel sizes from `facts` (else each region's `original_width` /
    `original_height`). Track ids: a region's `meta.track_id` (this module's), else its
    place in the list from 1."""
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise InputError(f"{path}: not a Label Studio JSON export ({err})") from None
    task = document[0] if isinstance(document, list) and document else document
    if not isinstance(task, dict) or not ({"annotations", "predictions"} & set(task)):
        raise InputError(f"{path}: not a Label Studio task (no annotations or predictions)")
    sets = task.get("annotations") or task.get("predictions") or [{}]
    regions = [r for r in sets[0].get("result", []) if r.get("type") == "videorectangle"]
    rows: list[tuple[int, int, str, list[float]]] = []
    frames = facts.frame_count if facts else 0
    try:
        for track, region in enumerate(regions, 1):
            size = _size(region, facts, path)
            value = region["value"]
            frames = max(frames, int(value.get("framesCount", 0)))
            label = (value.get("labels") or ["object"])[0]
            track = int((region.get("meta") or {}).get("track_id", track))
            for frame, box in _frames(value["sequence"]):
                pixels = [v * s / 100.0 for v, s in zip(box, size * 2, strict=True)]
                rows.append((frame - 1, track, label, pixels))
    except (KeyError, TypeError, ValueError, IndexError) as err:
        raise InputError(f"{path}: not a Label Studio videorectangle ({err!r})") from None
    return from_rows(rows, frames)


def _size(region: dict[str, Any], facts: VideoFacts | None, path: object) -> list[float]:
    if facts is not None:
        return [facts.width, facts.height]
    if "original_width" in region and "original_height" in region:
        return [float(region["original_width"]), float(region["original_height"])]
    raise InputError(f"{path}: its regions are in percent of a picture it does not size: "
                     "give --video")  # fmt: skip


def _frames(sequence: list[dict[str, Any]]) -> list[tuple[int, list[float]]]:
    """(frame, [x1, y1, x2, y2] in percent) of every frame a region is shown in."""
    keys = sorted(sequence, key=lambda k: int(k["frame"]))
    out = []
    for k, key in enumerate(keys):
        box = _corners(key)
        out.append((int(key["frame"]), box))
        following = keys[k + 1] if k + 1 < len(keys) else None
        if following is None or not key.get("enabled", True):
            continue
        span = int(following["frame"]) - int(key["frame"])
        end = _corners(following)
        for step in range(1, span):
            between = [a + (b - a) * step / span for a, b in zip(box, end, strict=True)]
            out.append((int(key["frame"]) + step, between))
    return out


def _corners(key: dict[str, Any]) -> list[float]:
    x, y = float(key["x"]), float(key["y"])
    return [x, y, x + float(key["width"]), y + float(key["height"])]
