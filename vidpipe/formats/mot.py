"""A MOTChallenge sequence folder (`seqinfo.ini`; `gt/gt.txt` of a tracked run, `det/det.txt`
of an untracked one, each with the `labels.txt` of its classes), as MOTChallenge's tools
and Datumaro's `mot_seq` format read it, and a `gt.txt` read back as ground truth.

Rows are `frame,id,x,y,w,h,flag,class,visibility` (frame = display index + 1; flag 1: the
box counts; class: its 1-based line in `labels.txt`, the run's labels, not MOT17's
pedestrian classes; visibility 1) in gt.txt, and `frame,-1,x,y,w,h,score,class,-1` in
det.txt (the class where Datumaro reads it). seqinfo.ini gives the picture's size, rate
(an integer, as MOTChallenge's tools read it: a VFR clip's average, rounded) and frame
count; `img1/` (the frames as pictures) is not written: the video is the sequence.
"""

from __future__ import annotations

import configparser
import os
from pathlib import Path

import numpy as np

from vidpipe.formats.facts import VideoFacts, clipped
from vidpipe.formats.run import Boxes, read_mot

LABELS = "labels.txt"


def write(boxes: Boxes, facts: VideoFacts, out: Path) -> None:
    """Fill the sequence folder `out` (an empty folder)."""
    info = configparser.ConfigParser()
    info.optionxform = str  # type: ignore[assignment,method-assign]  # keys keep their case
    info["Sequence"] = {
        "name": Path(facts.name).stem, "imDir": "img1", "frameRate": str(round(facts.fps)),
        "seqLength": str(facts.frame_count), "imWidth": str(facts.width),
        "imHeight": str(facts.height), "imExt": ".jpg",
    }  # fmt: skip
    with open(out / "seqinfo.ini", "w", encoding="utf-8") as handle:
        info.write(handle, space_around_delimiters=False)
    xyxy = clipped(boxes.xyxy, facts)
    frames = boxes.indexes[boxes.frame] + 1
    classes = sorted(boxes.names)
    number = {c: i + 1 for i, c in enumerate(classes)}
    kind = "gt" if boxes.tracked else "det"
    (out / kind).mkdir()
    (out / kind / LABELS).write_text("".join(boxes.label(c) + "\n" for c in classes))
    rows = [
        f"{f},{t},{_xywh(b)},1,{number[int(c)]},1\n" if boxes.tracked
        else f"{f},-1,{_xywh(b)},{s:.4f},{number[int(c)]},-1\n"
        for f, t, b, c, s in zip(frames, boxes.track_ids, xyxy, boxes.class_ids, boxes.scores,
                                 strict=True)
    ]  # fmt: skip
    (out / kind / f"{kind}.txt").write_text("".join(rows))


def _xywh(xyxy: np.ndarray) -> str:
    x1, y1, x2, y2 = xyxy
    return f"{x1:.2f},{y1:.2f},{x2 - x1:.2f},{y2 - y1:.2f}"


def read(path: str | os.PathLike[str], frames: int | None = None) -> Boxes | None:
    """A gt.txt with a `labels.txt` beside it (this format's, and Datumaro's), read with
    those labels; None for a gt.txt without one (MOT17's own classes: `vidpipe eval`
    leaves those to TrackEval's rules). frames: the video's frame count, if known; else
    seqinfo.ini's seqLength, if there is one."""
    labels = Path(path).parent / LABELS
    if not labels.is_file():
        return None
    info = configparser.ConfigParser()
    info.read(Path(path).parent.parent / "seqinfo.ini")
    if frames is None and info.has_option("Sequence", "seqLength"):
        frames = info.getint("Sequence", "seqLength")
    names = [line.strip() for line in labels.read_text().splitlines() if line.strip()]
    return read_mot(path, frames=frames, labels=names)
