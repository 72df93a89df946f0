"""A track's gaps in the track formats: where the run looked at a frame and did not see the
track, its stretch ends (CVAT: an `outside` box on that frame; Label Studio: the keyframe
before it disabled), so that neither tool interpolates the object across the gap; between
frames the run did not look at (a scan's), nothing ends."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from fractions import Fraction
from pathlib import Path

import pytest

from vidpipe.formats.export import export
from vidpipe.formats.facts import VideoFacts


def _run(path: Path, seen: dict[int, bool]) -> Path:
    """JSON Lines of frames `seen` (index -> whether track 7 is in it), 25 fps."""
    box = {"label": "dog", "class_id": 16, "score": 0.9, "box": [10, 20, 50, 80], "track_id": 7}
    lines = [{"index": i, "pts": i, "time": i / 25, "detections": [box] if there else []}
             for i, there in seen.items()]  # fmt: skip
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


FACTS = VideoFacts("clip.mp4", "clip.mp4", 320, 240, 0, 10, Fraction(25), 0.4)


@pytest.mark.parametrize(
    ("seen", "outside", "disabled"),
    [
        # every frame looked at: seen 0-2 and 5-6: gone on 3 and on 7
        ({i: i in (0, 1, 2, 5, 6) for i in range(10)}, [3, 7], [3, 7]),
        # a scan looked at 0, 2, 4, 6: seen at all of them: nothing ends until 6 (and the
        # video goes on: gone on 7, a frame nobody looked at, for CVAT's interpolation)
        ({0: True, 2: True, 4: True, 6: True}, [7], [7]),
        # seen on the last frame: the video ends, nothing to close in CVAT
        ({i: i >= 8 for i in range(10)}, [], [10]),
    ],
)
def test_a_tracks_stretch_ends_where_the_run_saw_it_gone(
    tmp_path: Path, seen: dict[int, bool], outside: list[int], disabled: list[int]
) -> None:
    lines = _run(tmp_path / "run.jsonl", seen)
    export(lines, "cvat-video", tmp_path / "t.xml", FACTS)
    (track,) = ET.parse(tmp_path / "t.xml").getroot().iter("track")
    boxes = [(int(b.get("frame")), b.get("outside")) for b in track.iter("box")]
    assert [f for f, out in boxes if out == "1"] == outside
    assert [f for f, out in boxes if out == "0"] == [i for i, there in seen.items() if there]
    export(lines, "label-studio", tmp_path / "t.json", FACTS)
    (task,) = json.loads((tmp_path / "t.json").read_text())
    (region,) = task["predictions"][0]["result"]
    keys = region["value"]["sequence"]
    assert [k["frame"] for k in keys if not k["enabled"]] == disabled
    assert region["value"]["labels"] == ["dog"] and region["meta"] == {"track_id": 7}
