"""`vidpipe export`, checked by the annotation tools' own libraries (datumaro reads CVAT XML,
the MOT sequence and Datumaro's format; label-studio-sdk validates the tasks against their
labelling interface; FiftyOne's importer reads its folder): the same frames, track ids,
labels and boxes (to 0.5 px) as the run's JSON Lines, on real footage as it is, re-timed
to a variable rate, at an odd size and rotated; a scan's sampled frames; an empty run."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest
from conftest import ffprobe_json, needs_ffprobe
from export_fixtures import (
    RUNS,
    Run,
    assert_same_rows,
    cli,
    clients_python,
    expected_rows,
    read_with_clients,
    runs,
)

from vidpipe.formats.export import FORMATS, export

__all__ = ["clients_python", "runs"]  # fixtures

CLIENT_FORMATS = ("cvat-video", "cvat-images", "mot", "datumaro", "label-studio", "fiftyone")
TRACK_IDS = {"cvat-video", "mot", "datumaro", "label-studio", "fiftyone"}  # formats that carry them


def _export(run: Run, fmt: str, folder: Path) -> Path:
    out = folder / f"{run.video.stem}-{run.lines.stem}{FORMATS[fmt].suffix}"
    done = cli("export", str(run.lines), "--to", fmt, "--video", str(run.video), "-o",
                   str(out))  # fmt: skip
    assert done.returncode == 0, done.stderr
    return out


def test_the_tools_read_every_export_as_the_run_is(runs: dict[str, Run], clients_python: Path,
                                                   tmp_path: Path) -> None:  # fmt: skip
    jobs, cases = [], []
    for name in RUNS:
        run = runs[name]
        for fmt in CLIENT_FORMATS:
            if FORMATS[fmt].tracks and not run.tracked:
                continue
            facts = run.facts
            path = tmp_path / f"{name}{FORMATS[fmt].suffix}"
            export(run.lines, fmt, path, facts)  # in process: the CLI's way is tested apart
            jobs.append({"format": fmt, "path": str(path), "width": facts.width,
                         "height": facts.height})  # fmt: skip
            cases.append((name, fmt, run))
    answers = read_with_clients(clients_python, jobs)
    for (name, fmt, run), answer in zip(cases, answers, strict=True):
        assert "rows" in answer, f"{name} as {fmt}: {answer.get('error')}"
        expected = expected_rows(run, tracks=fmt in TRACK_IDS and run.tracked)
        if name != "empty":
            assert expected, f"{name}: the run found nothing to compare"
        assert_same_rows(answer["rows"], expected), (name, fmt)


@needs_ffprobe
def test_frame_numbers_and_times_are_the_videos_own(runs: dict[str, Run], tmp_path: Path) -> None:
    """On the VFR clip, a Label Studio keyframe's frame is the decoded frame's (1-based) and
    its time that frame's presentation time (ffprobe), never frame / rate."""
    run = runs["vfr"]
    frames = ffprobe_json(run.video, "-select_streams", "v:0", "-show_frames",
                          "-show_entries", "frame=pts_time")["frames"]  # fmt: skip
    times = [float(f["pts_time"]) for f in frames]
    steps = {round(b - a, 3) for a, b in itertools.pairwise(times)}
    assert steps == {0.04, 0.08, 0.02}  # the clip is VFR
    (task,) = json.loads(_export(run, "label-studio", tmp_path).read_text())
    keys = [k for region in task["predictions"][0]["result"] for k in region["value"]["sequence"]]
    assert keys
    for key in keys:
        assert key["time"] == pytest.approx(times[key["frame"] - 1], abs=1e-3)
    assert any(abs(k["time"] - (k["frame"] - 1) / run.facts.fps) > 0.01 for k in keys)


@pytest.mark.parametrize("name", RUNS)
def test_pycocotools_reads_the_coco_video_as_the_run_is(runs: dict[str, Run], name: str,
                                                        tmp_path: Path) -> None:  # fmt: skip
    """COCO video through pycocotools' own index: an image per frame of the run (its
    frame_id), each annotation's box, category name and track id."""
    import contextlib
    import io

    from pycocotools.coco import COCO

    run = runs[name]
    path = _export(run, "coco-video", tmp_path)
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO(str(path))
    frames = sorted(image["frame_id"] for image in coco.dataset["images"])
    assert frames == [json.loads(line)["index"] for line in run.lines.read_text().splitlines()]
    rows = []
    for ann in coco.dataset["annotations"]:
        x, y, w, h = ann["bbox"]
        rows.append([coco.imgs[ann["image_id"]]["frame_id"], ann.get("track_id", -1),
                     coco.cats[ann["category_id"]]["name"], x, y, x + w, y + h])  # fmt: skip
    rows.sort(key=lambda r: (r[0], r[1], r[3], r[4]))
    assert_same_rows(rows, expected_rows(run, tracks=run.tracked))
