"""The pre-annotation loop closed: a run exported, imported back by `vidpipe eval --gt` as
ground truth, measures the same run perfectly (mAP 1.0; tracks: IDF1 and HOTA 1.0), and a
changed annotation measures it less; Label Studio's keyframes are read as Label Studio shows
them (interpolated between enabled keyframes); `detect --export` and `batch --export` write
what `vidpipe export` writes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import NANO_ONNX, ffprobe_json, needs_ffprobe, run_cli
from export_fixtures import BIKES, Run, cli, runs

from vidpipe.formats.export import FORMATS, read_truth
from vidpipe.formats.facts import video_facts

__all__ = ["runs"]  # fixture

TRUTHS = {  # format -> the file eval reads, inside what the export wrote
    "cvat-video": "", "cvat-images": "", "label-studio": "", "coco-video": "",
    "mot": "gt/gt.txt",
}  # fmt: skip


def _eval(gt: Path, pred: Path, *extra: str) -> dict:
    done = cli("eval", "--gt", str(gt), "--pred", str(pred), "--json", *extra)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _export(run: Run, fmt: str, out: Path) -> Path:
    done = cli("export", str(run.lines), "--to", fmt, "--video", str(run.video), "-o",
                   str(out))  # fmt: skip
    assert done.returncode == 0, done.stderr
    return out


@pytest.mark.parametrize("fmt", sorted(TRUTHS))
def test_an_export_read_back_as_truth_scores_its_run_perfectly(
    runs: dict[str, Run], fmt: str, tmp_path: Path
) -> None:
    run = runs["bikes"]
    out = _export(run, fmt, tmp_path / f"truth{FORMATS[fmt].suffix}")
    gt = out / TRUTHS[fmt] if TRUTHS[fmt] else out
    video = ("--video", str(run.video))
    boxes = _eval(gt, run.lines, *video)
    assert boxes["map_50_95"] == pytest.approx(1.0)
    assert boxes["n_predictions"] > 100
    if fmt != "cvat-images":  # (no track ids in it)
        tracks = _eval(gt, run.lines, "--mot", *video)
        assert tracks["idf1"] == pytest.approx(1.0) and tracks["hota"] == pytest.approx(1.0)
        assert tracks["id_switches"] == 0 and tracks["gt_boxes"] == boxes["n_predictions"]


def test_a_corrected_annotation_measures_the_run_less(runs: dict[str, Run],
                                                      tmp_path: Path) -> None:  # fmt: skip
    """Deleting one track and swapping two tracks' ids from frame 50 on in the CVAT file (as
    a person correcting it would) lowers mAP and IDF1, and adds ID switches."""
    run = runs["bikes"]
    xml = _export(run, "cvat-video", tmp_path / "truth.xml")
    import xml.etree.ElementTree as ET

    tree = ET.parse(xml)
    root = tree.getroot()
    tracks = root.findall("track")
    assert len(tracks) >= 3
    root.remove(tracks[0])
    a, b = tracks[1], tracks[2]
    late_a = [box for box in a.findall("box") if int(box.get("frame")) >= 50]
    late_b = [box for box in b.findall("box") if int(box.get("frame")) >= 50]
    assert late_a or late_b
    for box in late_a:
        a.remove(box)
        b.append(box)
    for box in late_b:
        b.remove(box)
        a.append(box)
    for track in (a, b):  # CVAT lists a track's boxes by frame
        boxes = sorted(track.findall("box"), key=lambda box: int(box.get("frame")))
        for box in boxes:
            track.remove(box)
        track.extend(boxes)
    tree.write(tmp_path / "corrected.xml")
    video = ("--video", str(run.video))
    assert _eval(tmp_path / "corrected.xml", run.lines, *video)["map_50_95"] < 1.0
    tracks_score = _eval(tmp_path / "corrected.xml", run.lines, "--mot", *video)
    assert tracks_score["idf1"] < 0.99 and tracks_score["id_switches"] >= 1


def test_label_studio_keyframes_are_interpolated_as_label_studio_shows_them(
    tmp_path: Path,
) -> None:
    """A region keyed at frames 1, 11 (enabled) and 21 (disabled: the region ends there),
    and again at 31: frames 2..10 lie on the line between the first two keys, 22..30 hold no
    box. Percent of a 640x272 picture (the region's original size)."""

    def key(frame: int, x: float, enabled: bool = True) -> dict:
        return {"frame": frame, "x": x, "y": 10.0, "width": 20.0, "height": 50.0,
                "enabled": enabled, "time": (frame - 1) / 25, "rotation": 0}  # fmt: skip

    region = {"type": "videorectangle", "from_name": "box", "to_name": "video",
              "original_width": 640, "original_height": 272,
              "value": {"framesCount": 40, "duration": 1.6, "labels": ["car"],
                        "sequence": [key(1, 0.0), key(11, 50.0), key(21, 60.0, False),
                                     key(31, 10.0, False)]}}  # fmt: skip
    path = tmp_path / "export.json"
    path.write_text(json.dumps([{"data": {"video": "clip.mp4"},
                                 "annotations": [{"result": [region]}]}]))  # fmt: skip
    truth = read_truth(path, None)
    assert truth is not None
    frames = truth.indexes[truth.frame].tolist()
    assert frames == [*range(0, 21), 30]
    x1 = truth.xyxy[:, 0]
    for f in range(0, 11):  # keys at frames 1 and 11 (0-based 0 and 10): 0 % .. 50 %
        assert x1[frames.index(f)] == pytest.approx(640 * 0.5 * f / 10, abs=1e-3)
    assert x1[frames.index(15)] == pytest.approx(640 * 0.55, abs=1e-3)
    assert truth.xyxy[0, 1] == pytest.approx(27.2) and truth.xyxy[0, 3] == pytest.approx(163.2)
    assert {truth.label(c) for c in truth.class_ids} == {"car"}


@pytest.mark.skipif(not NANO_ONNX.is_file(), reason=f"no {NANO_ONNX}")
def test_detect_and_batch_export_write_what_export_writes(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "street_bikes.mp4").write_bytes(BIKES.read_bytes())
    done = run_cli("detect", str(BIKES), "--model", str(NANO_ONNX), "--track", "bytetrack",
                   "--json", str(tmp_path / "d.jsonl"), "--export", "cvat-video", "--export",
                   "label-studio", "-q", timeout=180)  # fmt: skip
    assert done.returncode == 0, done.stderr
    run = Run(BIKES, tmp_path / "d.jsonl", tracked=True)
    done = run_cli("batch", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--task",
                   "detect", "--model", str(NANO_ONNX), "--track", "bytetrack", "--export",
                   "cvat-video", "--export", "label-studio", "-q", timeout=240)  # fmt: skip
    assert done.returncode == 0, done.stderr
    studio = ["label-studio.json", "label-studio.config.xml"]
    for fmt, names in (("cvat-video", ["cvat-video.xml"]), ("label-studio", studio)):
        _export(run, fmt, tmp_path / f"ref{FORMATS[fmt].suffix}")
        for name in names:
            ref = (tmp_path / f"ref.{name}").read_text()
            assert (tmp_path / f"d.{name}").read_text() == ref
            assert (tmp_path / "out" / f"street_bikes.{name}").read_text() == ref
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


@needs_ffprobe
@pytest.mark.parametrize("name", ["rotated", "odd", "vfr"])
def test_a_video_s_facts_are_as_displayed(runs: dict[str, Run], name: str) -> None:
    """The size the formats record is the displayed picture's (ffprobe: the coded size,
    turned by the display matrix's rotation), the frame count ffprobe's."""
    facts = video_facts(runs[name].video)
    (stream,) = ffprobe_json(runs[name].video, "-select_streams", "v:0", "-count_frames",
                             "-show_streams")["streams"]  # fmt: skip
    rotation = next((int(d["rotation"]) for d in stream.get("side_data_list", [])
                     if "rotation" in d), 0)  # fmt: skip
    size = (stream["width"], stream["height"])
    assert (facts.width, facts.height) == (size[::-1] if rotation % 180 else size)
    assert facts.frame_count == int(stream["nb_read_frames"])
