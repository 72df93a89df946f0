"""COCO video: COCO instances with a `videos` list, an image per frame of the run (its
`video_id` and `frame_id`, the display index, which is also its image id, as in the COCO
results of `vidpipe detect --coco`) and the boxes as annotations with their `track_id`
(TAO, BDD100K) and `instance_id` (mmdetection's CocoVID) and score.

Category ids are the official COCO ids for a COCO model's classes (as `--coco` writes them),
else the class ids; the file is COCO instances to pycocotools, so `vidpipe eval --gt` takes
it as it is.
"""

from __future__ import annotations

import json
from pathlib import Path

from vidpipe.detectors.names import COCO_CATEGORY_IDS, COCO_NAMES
from vidpipe.errors import InputError
from vidpipe.formats.facts import VideoFacts, clipped
from vidpipe.formats.run import Boxes, from_rows

VIDEO_ID = 1


def category_ids(boxes: Boxes) -> dict[int, int]:
    """class id -> category id: the official COCO one where every class is COCO's (the same
    name at the same index), else the class id itself."""
    coco = all(0 <= c < len(COCO_NAMES) and COCO_NAMES[c] == boxes.label(c) for c in boxes.names)
    return {c: COCO_CATEGORY_IDS[c] if coco else c for c in boxes.names}


def write(boxes: Boxes, facts: VideoFacts, out: Path) -> None:
    """The COCO video JSON into the file `out`."""
    ids = category_ids(boxes)
    stem = Path(facts.name).stem
    images = [
        {"id": index, "video_id": VIDEO_ID, "frame_id": index, "width": facts.width,
         "height": facts.height, "file_name": f"{stem}/frame_{index:06d}.jpg"}
        for index in boxes.indexes.tolist()
    ]  # fmt: skip
    xyxy = clipped(boxes.xyxy, facts)
    annotations = []
    for b in range(len(boxes.frame)):
        x1, y1, x2, y2 = (round(float(v), 2) for v in xyxy[b])
        w, h = round(x2 - x1, 2), round(y2 - y1, 2)
        annotation = {
            "id": b + 1, "image_id": int(boxes.indexes[boxes.frame[b]]), "video_id": VIDEO_ID,
            "category_id": ids[int(boxes.class_ids[b])], "bbox": [x1, y1, w, h],
            "area": round(w * h, 2), "iscrowd": 0, "score": round(float(boxes.scores[b]), 4),
        }  # fmt: skip
        if boxes.track_ids[b] >= 0:
            annotation["track_id"] = annotation["instance_id"] = int(boxes.track_ids[b])
        annotations.append(annotation)
    document = {
        "info": {"description": f"vidpipe run of {facts.name}"},
        "videos": [{"id": VIDEO_ID, "name": facts.name, "width": facts.width,
                    "height": facts.height, "length": facts.frame_count, "fps": facts.fps}],
        "images": images, "annotations": annotations,
        "categories": [{"id": ids[c], "name": boxes.label(c)} for c in sorted(boxes.names)],
    }  # fmt: skip
    out.write_text(json.dumps(document))


def read(document: dict, path: str) -> Boxes:
    """The boxes of a COCO video document (one video: its images' `frame_id`s are the
    frames annotated) as ground truth, with each annotation's `track_id` (or
    `instance_id`). Raises InputError for one that is not such a document."""
    try:
        names = {c["id"]: str(c["name"]) for c in document["categories"]}
        frame_of = {im["id"]: int(im.get("frame_id", im["id"])) for im in document["images"]}
        rows = []
        for ann in document["annotations"]:
            x, y, w, h = (float(v) for v in ann["bbox"])
            track = int(ann.get("track_id", ann.get("instance_id", -1)))
            rows.append((frame_of[ann["image_id"]], track, names[ann["category_id"]],
                         [x, y, x + w, y + h]))  # fmt: skip
    except (KeyError, TypeError, ValueError) as err:
        raise InputError(f"{path}: not a COCO video file ({err!r})") from None
    return from_rows(rows, sorted(frame_of.values()))
