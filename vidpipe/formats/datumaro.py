"""Datumaro's own format (`annotations/default.json`, dm_format_version 1.0), as CVAT
exports a video task in it: an item `frame_000000` per frame of the run (its `frame`
attribute the display index; the picture not saved, its size given), each box a `bbox`
annotation with its score and, in a tracked run, its `track_id` as attributes.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from vidpipe.formats.cvat import frame_name
from vidpipe.formats.facts import VideoFacts, clipped
from vidpipe.formats.run import Boxes

FORMAT_VERSION = "1.0"
MEDIA_IMAGE = 2  # datumaro.components.media.MediaType.IMAGE


def write(boxes: Boxes, facts: VideoFacts, out: Path) -> None:
    """Fill the dataset folder `out` (an empty folder)."""
    classes = sorted(boxes.names)
    label_id = {c: i for i, c in enumerate(classes)}
    xyxy = clipped(boxes.xyxy, facts)
    starts = np.searchsorted(boxes.frame, np.arange(len(boxes.indexes) + 1))
    items = []
    for row, index in enumerate(boxes.indexes.tolist()):
        annotations = []
        for b in range(starts[row], starts[row + 1]):
            x1, y1, x2, y2 = (round(float(v), 2) for v in xyxy[b])
            attributes: dict[str, object] = {"score": round(float(boxes.scores[b]), 4)}
            if boxes.track_ids[b] >= 0:
                attributes["track_id"] = int(boxes.track_ids[b])
            annotations.append({
                "id": len(annotations), "type": "bbox", "attributes": attributes, "group": 0,
                "label_id": label_id[int(boxes.class_ids[b])], "z_order": 0,
                "bbox": [x1, y1, round(x2 - x1, 2), round(y2 - y1, 2)],
            })  # fmt: skip
        items.append({"id": frame_name(index), "annotations": annotations,
                      "attr": {"frame": index},
                      "image": {"path": None, "size": [facts.height, facts.width]}})  # fmt: skip
    labels = [{"name": boxes.label(c), "parent": "", "attributes": []} for c in classes]
    document = {
        "dm_format_version": FORMAT_VERSION, "media_type": MEDIA_IMAGE, "infos": {},
        "categories": {"label": {"labels": labels, "label_groups": [], "attributes": []}},
        "items": items,
    }  # fmt: skip
    (out / "annotations").mkdir(parents=True)
    (out / "annotations" / "default.json").write_text(json.dumps(document))
