"""One object, one track, on what a real detector gives: boxes of two classes on one animal
(`one_per_object`), and a scene rendered from real pictures run through the real YOLOX-Nano,
scored against the generator's truth and against Roboflow `trackers` on the same boxes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import peers
import pytest
import rendered
from conftest import NANO_ONNX, needs_nano

from vidpipe.errors import InputError
from vidpipe.io.ffmpeg_cmd import find_ffmpeg
from vidpipe.tracking.options import TRACK_CONF, TrackOptions
from vidpipe.tracking.overlap import one_per_object
from vidpipe.tracking.tracker import Tracker
from vidpipe.types import Detections

pytest.importorskip("trackers")
DOG, CAT, PERSON = 16, 15, 0


def _frame(*boxes: tuple[tuple[float, float, float, float], float, int]) -> Detections:
    return Detections(
        np.array([b for b, _, _ in boxes], np.float32).reshape(-1, 4),
        np.array([s for _, s, _ in boxes], np.float32),
        np.array([c for _, _, c in boxes], np.int64),
    )


def _walk(step: int) -> tuple:
    x = 100 + 8 * step
    return ((x, 100, x + 80, 160), 0.7, DOG), ((x + 1, 101, x + 80, 161), 0.65, CAT)


def test_two_classes_on_one_animal_are_one_track() -> None:
    """ "dog 0.70" and "cat 0.65" on the same pixels, frame after frame: one track, one
    reported box (the dog's, the best score), its class the dog."""
    tracker = Tracker(TrackOptions(tracker="bytetrack"))
    out = [tracker.update(_frame(*_walk(i)), i / 30) for i in range(30)]
    assert {int(t) for d in out for t in d.tracker_id} == {1}
    assert all(len(d) == 1 for d in out[1:])
    assert all(d.class_ids.tolist() == [DOG] for d in out[1:])
    assert np.allclose(out[-1].xyxy[0], (332, 100, 412, 160))


def test_without_merging_each_class_gets_a_track() -> None:
    """merge_iou above 1 never joins: the old behaviour, two tracks on one animal."""
    tracker = Tracker(TrackOptions(tracker="bytetrack", merge_iou=2.0))
    out = [tracker.update(_frame(*_walk(i)), i / 30) for i in range(30)]
    assert {int(t) for d in out for t in d.tracker_id} == {1, 2}


def test_joined_boxes_vote_for_the_class() -> None:
    """The joined box's class and score count: cat leads three frames (0.6) with a dog box
    under it (0.55), then the dog alone (0.7): dog 2.35 against cat 1.8."""
    tracker = Tracker(TrackOptions(tracker="bytetrack", new_track=0.5))
    box = (100, 100, 180, 160)
    for i in range(3):
        out = tracker.update(_frame((box, 0.6, CAT), (box, 0.55, DOG)), i / 30)
    out = tracker.update(_frame((box, 0.7, DOG)), 3 / 30)
    assert out.class_ids.tolist() == [DOG]


def test_same_class_and_far_boxes_are_not_joined() -> None:
    """Two people overlapping (IoU 0.8) stay two candidates (NMS decides those); a dog and a
    cat side by side, or overlapping less than merge_iou, stay apart."""
    people = _frame(((0, 0, 100, 200), 0.9, PERSON), ((5, 0, 105, 200), 0.8, PERSON))
    assert one_per_object(people, 0.7)[0].tolist() == [0, 1]
    apart = _frame(((0, 0, 100, 100), 0.9, DOG), ((60, 0, 160, 100), 0.8, CAT))  # IoU 0.25
    assert one_per_object(apart, 0.7)[0].tolist() == [0, 1]
    assert one_per_object(apart, 0.2)[0].tolist() == [0]
    assert one_per_object(_frame(), 0.7)[0].tolist() == []


def test_three_classes_on_one_object_follow_the_best() -> None:
    box = (0, 0, 100, 100)
    lead, joined = one_per_object(_frame((box, 0.3, 7), (box, 0.6, 2), (box, 0.2, 5)), 0.7)
    assert lead.tolist() == [1]
    assert sorted(joined[0]) == [(5, pytest.approx(0.2)), (7, pytest.approx(0.3))]


@pytest.mark.parametrize("bad", [0, -0.5, float("nan"), float("inf"), "0.7", True])
def test_merge_iou_must_be_a_positive_number(bad: object) -> None:
    with pytest.raises(InputError, match="merge_iou"):
        TrackOptions(merge_iou=bad)  # type: ignore[arg-type]


# --- a rendered scene through the real detector -------------------------------------------


def _render_and_detect(name: str, folder: Path):
    """A rendered scene and the real model's boxes on it down to 0.05."""
    if not NANO_ONNX.is_file() or not rendered.DOG_JPG.is_file():
        pytest.skip(f"reference model/image not found ({NANO_ONNX}, {rendered.DOG_JPG})")
    scene = rendered.render(rendered.SCENES[name], folder, rendered.sprites(), find_ffmpeg())
    return scene, rendered.detect(scene, NANO_ONNX, 0.05)


@pytest.fixture(scope="module")
def crossing(tmp_path_factory: pytest.TempPathFactory):
    """Two identical dogs (cut from dog.jpg) head-on, one behind the other for 2 s, 30 fps."""
    return _render_and_detect("cross-2s-30fps", tmp_path_factory.mktemp("rendered"))


@pytest.fixture(scope="module")
def large_crossing(tmp_path_factory: pytest.TempPathFactory):
    """The same dogs at 1.4x (half the picture's height), hidden for 1 s: where the model
    gives a dog and a cat box on one dog most."""
    return _render_and_detect("cross-large-1s-30fps", tmp_path_factory.mktemp("rendered"))


@needs_nano
def test_real_detector_keeps_two_classes_on_the_dogs(crossing) -> None:
    """What this is about: the real model does give both a dog and a cat box on one dog."""
    _, dets = crossing
    both = 0
    for d in peers.at_least(dets, TRACK_CONF):
        _, joined = one_per_object(d, TrackOptions().merge_iou)
        both += any(joined)
    assert both >= 10


@needs_nano
@pytest.mark.parametrize("family", peers.FAMILIES)
def test_rendered_crossing_beats_trackers(tmp_path: Path, crossing, family: str) -> None:
    """Every tracker of ours, at a tracked run's defaults, against the same family of
    `trackers` at its best input threshold (0.1..0.6) on the same boxes: IDF1 at least 0.03
    higher, no more ID switches."""
    scene, dets = crossing
    gt = scene.write_gt(tmp_path / "gt.txt")
    ours = peers.score(gt, peers.run_ours(family, scene.times, peers.at_least(dets, TRACK_CONF)),
                       tmp_path)  # fmt: skip
    conf, theirs = peers.best_peer(
        family, gt, scene.times, dets, scene.spec.fps, tmp_path, peers.THRESHOLDS[::2]
    )
    assert ours.idf1 >= theirs.idf1 + 0.03, (ours, conf, theirs)
    assert ours.id_switches <= theirs.id_switches, (ours, conf, theirs)


@needs_nano
@pytest.mark.parametrize("family", peers.FAMILIES)
def test_merging_two_classes_on_one_dog_is_what_keeps_its_track(
    tmp_path: Path, large_crossing, family: str
) -> None:
    """Without `one_per_object` (merge_iou above 1) the dog and cat boxes on one large dog
    become two tracks trading its boxes: IDF1 0.1 lower or more, every tracker."""
    scene, dets = large_crossing
    gt = scene.write_gt(tmp_path / "gt.txt")
    ours_dets = peers.at_least(dets, TRACK_CONF)
    merged = peers.score(gt, peers.run_ours(family, scene.times, ours_dets), tmp_path)
    unmerged = peers.run_ours(family, scene.times, ours_dets, merge_iou=2.0)
    assert peers.score(gt, unmerged, tmp_path).idf1 < merged.idf1 - 0.1
