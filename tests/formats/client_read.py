"""Read exports back with the annotation tools' own libraries. Run by tests/formats with
the python of scripts/annotation_clients.py (datumaro, label-studio-sdk, fiftyone); it
imports nothing of vidpipe.

Reads a JSON list of jobs {"format", "path", "width", "height"} on stdin; prints a JSON list
with, per job, {"rows": [[frame index, track id or -1, label, x1, y1, x2, y2], ...]} (sorted,
pixels of the picture as displayed) or {"error": what the library raised}.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
import warnings
import xml.etree.ElementTree as ET
from pathlib import Path

warnings.filterwarnings("ignore")


def datumaro_rows(path: Path, fmt: str) -> list[list]:
    import datumaro as dm
    from datumaro.components.annotation import AnnotationType, Bbox

    dataset = dm.Dataset.import_from(str(path), fmt)
    labels = dataset.categories()[AnnotationType.label]
    rows = []
    for item in dataset:
        frame = item.attributes.get("frame")
        if frame is None:  # MOT: items are numbered by frame from 1
            frame = int(item.id) - 1
        for ann in item.annotations:
            if not isinstance(ann, Bbox) or ann.attributes.get("outside"):
                continue
            track = int(ann.attributes.get("track_id", -1))
            rows.append([int(frame), track, labels[ann.label].name, ann.x, ann.y,
                         ann.x + ann.w, ann.y + ann.h])  # fmt: skip
    return rows


def cvat_images(path: Path) -> list[list]:
    """Datumaro's CVAT importer wants each image's file: empty ones stand in for them."""
    with tempfile.TemporaryDirectory() as folder:
        copy = Path(folder) / path.name
        shutil.copy(path, copy)
        (Path(folder) / "images").mkdir()
        for image in ET.parse(path).getroot().iter("image"):
            (Path(folder) / "images" / image.attrib["name"]).touch()
        return datumaro_rows(copy, "cvat")


def label_studio(path: Path, width: int, height: int) -> list[list]:
    from label_studio_sdk.label_interface import LabelInterface
    from label_studio_sdk.label_interface.control_tags import VideoRectangleValue

    config = path.with_name(path.name.removesuffix(path.suffix) + ".config.xml").read_text()
    interface = LabelInterface(config)
    (task,) = json.loads(path.read_text())
    prediction = task["predictions"][0]
    errors = interface.validate_prediction(prediction, return_errors=True)
    if errors is not True and errors:
        raise ValueError(f"label-studio-sdk refuses the prediction: {errors}")
    rows = []
    for region in prediction["result"]:
        value = VideoRectangleValue(**region["value"])
        track = int(region["meta"]["track_id"])
        for key in value.sequence:
            x, y = key.x * width / 100, key.y * height / 100
            rows.append([key.frame - 1, track, value.labels[0], x, y,
                         x + key.width * width / 100, y + key.height * height / 100])  # fmt: skip
    return rows


def fiftyone_rows(path: Path, width: int, height: int) -> list[list]:
    import fiftyone.utils.data as foud

    importer = foud.FiftyOneVideoLabelsDatasetImporter(str(path))
    rows = []
    with importer:
        for _video, _metadata, _label, frames in importer:
            for number, fields in (frames or {}).items():
                for det in fields["detections"].detections:
                    x, y, w, h = det.bounding_box
                    rows.append([int(number) - 1, -1 if det.index is None else int(det.index),
                                 det.label, x * width, y * height, (x + w) * width,
                                 (y + h) * height])  # fmt: skip
    return rows


def read(fmt: str, path: Path, width: int, height: int) -> list[list]:
    if fmt == "cvat-video":
        return datumaro_rows(path, "cvat")
    if fmt == "cvat-images":
        return cvat_images(path)
    if fmt == "mot":  # a tracked run's gt/, or the det/det.txt of an untracked one
        return datumaro_rows(path if (path / "gt").is_dir() else path / "det" / "det.txt",
                             "mot_seq")  # fmt: skip
    if fmt == "datumaro":
        return datumaro_rows(path, "datumaro")
    if fmt == "label-studio":
        return label_studio(path, width, height)
    if fmt == "fiftyone":
        return fiftyone_rows(path, width, height)
    raise ValueError(f"no client for {fmt}")


def main() -> None:
    out = []
    for job in json.load(sys.stdin):
        try:
            rows = read(job["format"], Path(job["path"]), job["width"], job["height"])
        except Exception as exc:  # the library's own refusal is the finding
            out.append({"error": f"{type(exc).__name__}: {exc}"})
            continue
        out.append({"rows": sorted(rows, key=lambda r: (r[0], r[1], r[3], r[4]))})
    print(json.dumps(out))


if __name__ == "__main__":
    main()
