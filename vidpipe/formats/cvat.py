"""CVAT's XML, both ways: "CVAT for video 1.1" (tracks of boxes, each a run of keyframes
closed by an `outside` box) and "CVAT for images 1.1" (the boxes of each frame, named
`frame_000000` as CVAT names a video task's frames), and either read back as ground truth.

Frame numbers are the video's display indexes (CVAT numbers a video task's frames in
decode order from 0). A tracked run's box is a keyframe in every frame its track was seen;
a frame of the run it was not seen in closes the run of keyframes with an `outside` box,
as CVAT writes an object leaving the picture. CVAT gives a track one label: the class its
boxes carry most often (`Boxes.track_classes`).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

from vidpipe.errors import InputError
from vidpipe.formats.facts import VideoFacts, clipped
from vidpipe.formats.run import Boxes, from_rows

VERSION = "1.1"


def frame_name(index: int) -> str:
    """The name CVAT gives frame `index` of a video task."""
    return f"frame_{index:06d}"


def _meta(root: ET.Element, boxes: Boxes, facts: VideoFacts, mode: str) -> None:
    ET.SubElement(root, "version").text = VERSION
    task = ET.SubElement(ET.SubElement(root, "meta"), "task")
    stop = max(facts.frame_count, int(boxes.indexes.max(initial=-1)) + 1) - 1
    for key, value in (("name", facts.name), ("size", stop + 1), ("mode", mode),
                       ("overlap", 0), ("start_frame", 0), ("stop_frame", stop),
                       ("frame_filter", "")):  # fmt: skip
        ET.SubElement(task, key).text = str(value)
    labels = ET.SubElement(task, "labels")
    for class_id in sorted(boxes.names):
        label = ET.SubElement(labels, "label")
        ET.SubElement(label, "name").text = boxes.label(class_id)
        ET.SubElement(label, "type").text = "rectangle"
        ET.SubElement(label, "attributes")
    size = ET.SubElement(task, "original_size")
    ET.SubElement(size, "width").text = str(facts.width)
    ET.SubElement(size, "height").text = str(facts.height)
    ET.SubElement(task, "source").text = facts.name


def _box(parent: ET.Element, xyxy: np.ndarray, **attrs: str) -> None:
    x1, y1, x2, y2 = (f"{v:.2f}" for v in xyxy)
    ET.SubElement(parent, "box", {**attrs, "occluded": "0", "xtl": x1, "ytl": y1,
                                  "xbr": x2, "ybr": y2, "z_order": "0"})  # fmt: skip


def write_video(boxes: Boxes, facts: VideoFacts, out: Path) -> None:
    """CVAT for video 1.1 of a tracked run into the file `out`."""
    root = ET.Element("annotations")
    _meta(root, boxes, facts, "interpolation")
    xyxy = clipped(boxes.xyxy, facts)
    classes = boxes.track_classes()
    for track, keys in boxes.stretches():
        element = ET.SubElement(root, "track", id=str(track),
                                label=boxes.label(classes[track]), source="auto")  # fmt: skip
        for row, frame, ends in keys:
            _box(element, xyxy[row], frame=str(frame), outside="0", keyframe="1")
            if ends and frame + 1 < max(facts.frame_count, 1):
                _box(element, xyxy[row], frame=str(frame + 1), outside="1", keyframe="1")
    _write(root, out)


def write_images(boxes: Boxes, facts: VideoFacts, out: Path) -> None:
    """CVAT for images 1.1 of a run (tracked or not) into the file `out`: an `image` per
    frame of the run (a frame it did not look at, between a scan's samples, is left out:
    listed without boxes, it would say the frame holds nothing)."""
    root = ET.Element("annotations")
    _meta(root, boxes, facts, "annotation")
    xyxy = clipped(boxes.xyxy, facts)
    starts = np.searchsorted(boxes.frame, np.arange(len(boxes.indexes) + 1))
    for row, index in enumerate(boxes.indexes.tolist()):
        image = ET.SubElement(root, "image", id=str(index), name=frame_name(index),
                              width=str(facts.width), height=str(facts.height))  # fmt: skip
        for b in range(starts[row], starts[row + 1]):
            _box(image, xyxy[b], label=boxes.label(boxes.class_ids[b]), source="auto")
    _write(root, out)


def _write(root: ET.Element, out: Path) -> None:
    ET.indent(root, space="  ")
    ET.ElementTree(root).write(out, encoding="utf-8", xml_declaration=True)


def read(path: str) -> Boxes:
    """The boxes of a CVAT for video or for images 1.1 file, as ground truth: the frames
    0 .. the task's stop frame (video) or those listed (images: one not listed was not
    annotated), each box with its track's id (video) or none (images); boxes marked
    `outside` are not boxes. Raises InputError for a file that is not CVAT XML."""
    try:
        root = ET.parse(path).getroot()
    except (ET.ParseError, UnicodeDecodeError) as err:
        raise InputError(f"{path}: not XML ({err})") from None
    except OSError as err:
        raise InputError(f"{path}: cannot read: {err.strerror}") from None
    if root.tag != "annotations" or root.find("meta") is None:
        raise InputError(f"{path}: not CVAT XML (no <annotations> with <meta>)")
    rows: list[tuple[int, int, str, list[float]]] = []  # frame, track, label, box
    try:
        for track in root.iter("track"):
            for box in track.iter("box"):
                if box.get("outside") != "1":
                    rows.append((int(box.attrib["frame"]), int(track.attrib["id"]),
                                 track.attrib["label"], _corners(box)))  # fmt: skip
        images = [int(image.attrib["id"]) for image in root.iter("image")]
        for image in root.iter("image"):
            for box in image.iter("box"):
                rows.append((int(image.attrib["id"]), -1, box.attrib["label"], _corners(box)))
        stop = root.findtext("meta/task/stop_frame") or root.findtext("meta/job/stop_frame")
        frames: int | list[int] = images or (int(stop) + 1 if stop else 0)
    except (KeyError, ValueError) as err:
        raise InputError(f"{path}: not CVAT XML ({err!r} in a box)") from None
    return from_rows(rows, frames)


def _corners(box: ET.Element) -> list[float]:
    return [float(box.attrib[k]) for k in ("xtl", "ytl", "xbr", "ybr")]
