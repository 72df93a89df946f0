"""`export`: a run's results (`vidpipe detect`'s JSON Lines, or MOTChallenge text) written
in an annotation tool's format, with the facts of the video they are of; `read_truth`: a
tool's annotations read back as ground truth for `vidpipe eval`.

    cvat-video    CVAT for video 1.1 XML (tracks)              file    `cvat`
    cvat-images   CVAT for images 1.1 XML                      file    `cvat`
    mot           MOTChallenge sequence (seqinfo.ini, gt/)     folder  `mot`
    datumaro      Datumaro's own format                        folder  `datumaro`
    label-studio  Label Studio video tracking tasks (tracks)   file    `labelstudio`
    fiftyone      FiftyOne video labels dataset                folder  `fiftyone`
    coco-video    COCO instances with videos and track ids     file    `cocovid`
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from vidpipe.errors import InputError
from vidpipe.formats import cocovid, cvat, datumaro, fiftyone, labelstudio, mot
from vidpipe.formats.facts import VideoFacts, check_fits
from vidpipe.formats.run import Boxes, is_mot, read_detections, read_mot
from vidpipe.runtime.files import atomic_folder, atomic_path

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Format:
    """An export format: `write(boxes, facts, out)` fills the file or folder `out`."""

    write: Callable[[Boxes, VideoFacts, Path], object]
    folder: bool  # writes a folder, not a file
    tracks: bool  # takes a tracked run only
    suffix: str  # of the file or folder `detect --export` and `batch --export` name


FORMATS = {
    "cvat-video": Format(cvat.write_video, folder=False, tracks=True, suffix=".cvat-video.xml"),
    "cvat-images": Format(cvat.write_images, folder=False, tracks=False, suffix=".cvat.xml"),
    "mot": Format(mot.write, folder=True, tracks=False, suffix=".mot"),
    "datumaro": Format(datumaro.write, folder=True, tracks=False, suffix=".datumaro"),
    "label-studio": Format(labelstudio.write, folder=False, tracks=True,
                           suffix=".label-studio.json"),
    "fiftyone": Format(fiftyone.write, folder=True, tracks=False, suffix=".fiftyone"),
    "coco-video": Format(cocovid.write, folder=False, tracks=False, suffix=".coco-video.json"),
}  # fmt: skip
CONFIG_SUFFIX = ".config.xml"  # Label Studio's labelling interface, beside its tasks


def check_format(name: str, tracked: bool | None = None) -> Format:
    """The format called `name`; InputError for an unknown one, or one that takes tracks
    for a run that is not tracked (`tracked` False; None: not known yet)."""
    if name not in FORMATS:
        raise InputError(f"unknown export format {name!r}; choose from {', '.join(FORMATS)}")
    found = FORMATS[name]
    if found.tracks and tracked is False:
        hint = "cvat-images" if name == "cvat-video" else "another format"
        raise InputError(f"{name} takes tracks: run with --track, or export {hint}")
    return found


def export_path(base: str | os.PathLike[str], name: str) -> Path:
    """Where `detect --export` / `batch --export` write format `name` of a run whose
    results are `base` (its suffix replaced: out/clip.jsonl -> out/clip.cvat-video.xml)."""
    base = Path(base)
    return base.with_name(base.name.removesuffix(base.suffix) + FORMATS[name].suffix)


def outputs_of(name: str, out: str | os.PathLike[str]) -> list[Path]:
    """The paths an export of format `name` to `out` writes (Label Studio: the tasks and
    their labelling interface)."""
    out = Path(out)
    if name == "label-studio":
        return [out, out.with_name(out.name.removesuffix(out.suffix) + CONFIG_SUFFIX)]
    return [out]


def read_results(path: str | os.PathLike[str], facts: VideoFacts) -> Boxes:
    """The boxes of `vidpipe detect --json` JSON Lines, or of MOTChallenge text (rows
    `frame,id,x,...`), which `facts` checks they can be of (InputError if not)."""
    path = os.fspath(path)
    if is_mot(path):
        boxes = read_mot(path, frames=facts.frame_count or None)
    else:
        boxes = read_detections(path)
    check_fits(boxes, facts, path)
    return boxes


def export(results: str | os.PathLike[str], name: str, out: str | os.PathLike[str],
           facts: VideoFacts, *, video_url: str | None = None,
           overwrite: bool = False) -> list[Path]:  # fmt: skip
    """Write the run `results` of the video `facts` describe in format `name` to `out`
    (atomically: nothing is left half written), and return the paths written. video_url:
    Label Studio's task video (default: the clip's file name). InputError for an unknown
    format, one that takes tracks for an untracked run, or an existing output without
    `overwrite`."""
    found = check_format(name)
    if video_url is not None and name != "label-studio":
        raise InputError("--video-url is Label Studio's: it names the video of its task")
    targets = outputs_of(name, out)
    extension = Path(found.suffix).suffix
    if not found.folder and Path(out).suffix.lower() != extension:
        raise InputError(f"{out}: {name} is a {extension} file (its tools read it by that name)")
    for target in targets:
        if not overwrite and os.path.lexists(target):
            raise InputError(f"{target}: exists (--overwrite replaces it)")
    boxes = read_results(results, facts).by_track_class()
    check_format(name, boxes.tracked if len(boxes.scores) else None)
    with contextlib.ExitStack() as stack:
        place = stack.enter_context((atomic_folder if found.folder else atomic_path)(out))
        if name == "label-studio":
            config = labelstudio.write(boxes, facts, place, video_url)
            (stack.enter_context(atomic_path(targets[1]))).write_text(config)
        else:
            found.write(boxes, facts, place)
    log.debug("exported %s as %s to %s", results, name, out)
    return targets


def read_truth(path: str | os.PathLike[str], facts: VideoFacts | None) -> Boxes | None:
    """Ground truth in a tool's format, read as `Boxes`: CVAT XML (video or images), Label
    Studio JSON, COCO video, a MOTChallenge gt.txt with `labels.txt` beside it. None for a
    file that is none of these (COCO instances, a MOT17 gt.txt: the evaluators read
    those)."""
    path = os.fspath(path)
    suffix = Path(path).suffix.lower()
    if suffix == ".xml":
        return cvat.read(path)
    if suffix == ".json":
        try:
            document = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            return None  # the COCO evaluator says what is wrong with it
        if isinstance(document, list) or (isinstance(document, dict) and "data" in document):
            return labelstudio.read(path, facts)  # a task list, or one task (COCO: images)
        if isinstance(document, dict) and "videos" in document:
            return cocovid.read(document, path)
        return None  # COCO instances: the COCO evaluator reads them
    if suffix == ".txt":
        return mot.read(path, facts.frame_count if facts else None)
    return None
