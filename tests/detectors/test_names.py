"""vidpipe.detectors.names: the COCO class names and category ids (checked against COCO 2017's
instances file), `category_id`, and `--classes` parsing."""

from __future__ import annotations

import pytest

from vidpipe.detectors.names import COCO_CATEGORY_IDS, COCO_NAMES, category_id, parse_classes
from vidpipe.errors import InputError

# --- names and ids ---------------------------------------------------------------------


def test_names_and_ids_follow_coco():
    assert len(COCO_NAMES) == len(set(COCO_NAMES)) == 80
    assert len(COCO_CATEGORY_IDS) == len(set(COCO_CATEGORY_IDS)) == 80
    assert list(COCO_CATEGORY_IDS) == sorted(COCO_CATEGORY_IDS)
    unused = set(range(1, 91)) - set(COCO_CATEGORY_IDS)
    assert unused == {12, 26, 29, 30, 45, 66, 68, 69, 71, 83}  # the ids COCO 2017 skips
    known = {  # (name, COCO category id) pairs from instances_val2017.json
        "person": 1, "bicycle": 2, "car": 3, "traffic light": 10, "stop sign": 13,
        "bird": 16, "dog": 18, "backpack": 27, "umbrella": 28, "handbag": 31,
        "bottle": 44, "wine glass": 46, "dining table": 67, "toilet": 70, "tv": 72,
        "microwave": 78, "book": 84, "toothbrush": 90,
    }  # fmt: skip
    for name, cat in known.items():
        assert COCO_CATEGORY_IDS[COCO_NAMES.index(name)] == cat, name
    assert COCO_NAMES.index("dog") == 16 and COCO_NAMES[-1] == "toothbrush"


def test_category_id():
    assert [category_id(i, 80) for i in range(80)] == list(COCO_CATEGORY_IDS)
    assert category_id(16, 80) == 18
    assert category_id(16, 20) == 16 and category_id(0, 1) == 0
    with pytest.raises(ValueError):
        category_id(80, 80)


# --- --classes -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("specs", "expected"),
    [
        (["dog"], (16,)),
        (["DOG", "Person"], (16, 0)),
        (["traffic light"], (9,)),
        (["Traffic_Light"], (9,)),
        (["person,car"], (0, 2)),
        (["0,2"], (0, 2)),
        (["person, 2 ,dog", "0"], (0, 2, 16)),
        (["79"], (79,)),
    ],
)
def test_parse_classes(specs, expected):
    assert parse_classes(specs, COCO_NAMES) == expected


@pytest.mark.parametrize(
    ("specs", "needle"),
    [
        (["dgo"], "'dgo' (did you mean 'dog'?)"),
        (["traffic lihgt"], "did you mean 'traffic light'"),
        (["person,zebraa"], "'zebraa'"),
        (["xyzzy"], "unknown class 'xyzzy'; give a class name or an id 0..79"),
        (["80"], "class id 80 out of range 0..79"),
        (["-1"], "class id -1 out of range"),
        (["", " , "], "no class given"),
    ],
)
def test_parse_classes_rejects(specs, needle):
    with pytest.raises(InputError) as info:
        parse_classes(specs, COCO_NAMES)
    message = str(info.value)
    assert needle in message and "\n" not in message


def test_parse_classes_other_vocabulary():
    names = ("helmet", "no helmet")
    assert parse_classes(["no helmet,1,HELMET"], names) == (1, 0)
    with pytest.raises(InputError, match=r"0\.\.1"):
        parse_classes(["2"], names)
