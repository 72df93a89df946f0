"""FiftyOne's video labels dataset folder (`fiftyone.types.FiftyOneVideoLabelsDataset`):
`manifest.json` naming the video and its labels, `labels/<name>.json` the boxes of each
frame in ETA's `VideoLabels` (frame numbers 1-based: display index + 1; boxes relative to
the picture as displayed; a track's id as the object's `index`, FiftyOne's track index).

Load it with `fiftyone.Dataset.from_dir(folder,
dataset_type=fiftyone.types.FiftyOneVideoLabelsDataset)`: each frame's `detections` field
holds the boxes. The manifest names the video by its absolute path: the folder does not
copy it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from vidpipe.formats.facts import VideoFacts, clipped
from vidpipe.formats.run import Boxes

OBJECT = "eta.core.objects.DetectedObject"
DATASET = "eta.core.datasets.LabeledVideoDataset"


def write(boxes: Boxes, facts: VideoFacts, out: Path) -> None:
    """Fill the dataset folder `out` (an empty folder)."""
    relative = clipped(boxes.xyxy, facts) / np.array([facts.width, facts.height] * 2)
    starts = np.searchsorted(boxes.frame, np.arange(len(boxes.indexes) + 1))
    frames: dict[str, object] = {}
    for row, index in enumerate(boxes.indexes.tolist()):
        objects = []
        for b in range(starts[row], starts[row + 1]):
            x1, y1, x2, y2 = (round(float(v), 6) for v in relative[b])
            found = {
                "type": OBJECT, "label": boxes.label(boxes.class_ids[b]),
                "bounding_box": {"top_left": {"x": x1, "y": y1},
                                 "bottom_right": {"x": x2, "y": y2}},
                "confidence": round(float(boxes.scores[b]), 4), "frame_number": index + 1,
            }  # fmt: skip
            if boxes.track_ids[b] >= 0:
                found["index"] = int(boxes.track_ids[b])
            objects.append(found)
        if objects:
            frames[str(index + 1)] = {"frame_number": index + 1, "objects": {"objects": objects}}
    labels = Path("labels") / f"{Path(facts.name).stem}.json"
    (out / "labels").mkdir()
    (out / labels).write_text(json.dumps({"frames": frames}))
    record = {"data": os.path.abspath(facts.path), "labels": str(labels)}
    manifest = {"type": DATASET, "description": "", "index": [record]}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1))
