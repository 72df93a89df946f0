"""The class vocabulary of COCO-trained detectors and the `--classes` option.

Owns the 80 class names in the order COCO-trained detectors (YOLOX) emit them
(`COCO_NAMES`), their official COCO category ids (`COCO_CATEGORY_IDS`, 1..90 with gaps) and
the mapping a COCO results file uses (`category_id`), and the parsing of a `--classes` option
into class indexes (`parse_classes`). Evaluating results against a ground truth is
`vidpipe.evaluate.coco`'s job; detectors never need it.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence

from vidpipe.errors import InputError

COCO_NAMES: tuple[str, ...] = (
    "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat",
    "traffic light", "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat",
    "dog", "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe", "backpack",
    "umbrella", "handbag", "tie", "suitcase", "frisbee", "skis", "snowboard", "sports ball",
    "kite", "baseball bat", "baseball glove", "skateboard", "surfboard", "tennis racket",
    "bottle", "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple",
    "sandwich", "orange", "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair",
    "couch", "potted plant", "bed", "dining table", "toilet", "tv", "laptop", "mouse",
    "remote", "keyboard", "cell phone", "microwave", "oven", "toaster", "sink",
    "refrigerator", "book", "clock", "vase", "scissors", "teddy bear", "hair drier",
    "toothbrush",
)  # fmt: skip
"""Class index 0..79 of an 80-class COCO detector -> class name."""

COCO_CATEGORY_IDS: tuple[int, ...] = (
    *range(1, 12), *range(13, 26), 27, 28, *range(31, 45), *range(46, 66), 67, 70,
    *range(72, 83), *range(84, 91),
)  # fmt: skip
"""Class index 0..79 -> official COCO category id (1..90; 12, 26, 29, 30, 45, 66, 68, 69,
71 and 83 are unused)."""


def category_id(class_id: int, num_classes: int) -> int:
    """The category id a COCO results file uses for a model's `class_id`.

    For an 80-class (COCO) model, the official COCO id (`COCO_CATEGORY_IDS[class_id]`);
    for any other model, `class_id` itself. Raises ValueError for an 80-class model's
    `class_id` outside 0..79.
    """
    if num_classes != len(COCO_CATEGORY_IDS):
        return int(class_id)
    if not 0 <= class_id < len(COCO_CATEGORY_IDS):
        raise ValueError(f"class id {class_id} out of range 0..{len(COCO_CATEGORY_IDS) - 1}")
    return COCO_CATEGORY_IDS[class_id]


# --- the --classes option ----------------------------------------------------------------


def _norm(name: str) -> str:
    """Case-, underscore- and spacing-insensitive form of a class name ("Traffic_Light")."""
    return " ".join(name.replace("_", " ").replace("-", " ").lower().split())


def parse_classes(specs: Sequence[str], names: Sequence[str]) -> tuple[int, ...]:
    """Class indexes (into `names`) selected by the values of a `--classes` option.

    Each spec is a class name (case-insensitive; "traffic light", "Traffic_Light") or an
    integer index 0..len(names)-1, or a comma-separated list of them ("person,car", "0,2").
    Returns the indexes in the order first given, without duplicates. Raises InputError
    naming the first unknown name (with close names suggested) or out-of-range index, or
    when no class is given at all.
    """
    by_name: dict[str, int] = {}
    for index, name in enumerate(names):
        by_name.setdefault(_norm(name), index)
    chosen: dict[int, None] = {}
    for spec in specs:
        for piece in (p.strip() for p in spec.split(",")):
            if piece:
                chosen[_parse_class(piece, by_name, len(names))] = None
    if not chosen:
        raise InputError("no class given (expected names like 'person,car' or ids like '0,2')")
    return tuple(chosen)


def _parse_class(piece: str, by_name: dict[str, int], count: int) -> int:
    try:
        index = int(piece)
    except ValueError:
        index = None
    if index is not None:
        if not 0 <= index < count:
            raise InputError(f"class id {index} out of range 0..{count - 1}")
        return index
    found = by_name.get(_norm(piece))
    if found is not None:
        return found
    close = difflib.get_close_matches(_norm(piece), list(by_name), n=3, cutoff=0.6)
    hint = f" (did you mean {' or '.join(repr(c) for c in close)}?)" if close else ""
    raise InputError(f"unknown class {piece!r}{hint}; give a class name or an id 0..{count - 1}")
