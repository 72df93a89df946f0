"""What a user gets wrong with `vidpipe export` and `vidpipe eval --gt`: one `error:` line,
exit 2, nothing written (no half file, no scratch left), the existing output untouched."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import run_cli
from export_fixtures import Run, cli, runs

__all__ = ["runs"]  # fixture


def _refused(done, *words: str) -> None:
    assert done.returncode == 2, (done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    assert "Traceback" not in done.stderr
    for word in words:
        assert word in lines[0], lines[0]


def _export(run: Run, *args: str, video: Path | None = None):
    return cli("export", str(run.lines), "--video", str(video or run.video), *args)


def _nothing_but(folder: Path, *names: str) -> None:
    assert sorted(p.name for p in folder.iterdir()) == sorted(names)


def test_export_refusals(runs: dict[str, Run], tmp_path: Path) -> None:
    bikes, scan = runs["bikes"], runs["scan"]
    done = run_cli("export", str(bikes.lines), "--video", str(bikes.video), "--to", "cvat",
                   "-o", str(tmp_path / "x.xml"))  # the command's own process, once  # fmt: skip
    _refused(done, "unknown export format")
    out = tmp_path / "x.xml"
    _refused(_export(bikes, "--to", "cvat", "-o", str(out)), "unknown export format")
    _refused(_export(scan, "--to", "cvat-video", "-o", str(out)), "takes tracks", "cvat-images")
    _refused(_export(scan, "--to", "label-studio", "-o", str(tmp_path / "t.json")), "tracks")
    _refused(_export(bikes, "--to", "cvat-video", "-o", str(tmp_path / "x.cvat")), ".xml")
    _refused(_export(bikes, "--to", "mot", "-o", str(tmp_path / "m"), "--video-url", "u"),
             "Label Studio")  # fmt: skip
    # results of another video: frames past its end, boxes outside its picture
    _refused(_export(bikes, "--to", "cvat-video", "-o", str(out), video=runs["rotated"].video),
             "past the", "another video")  # fmt: skip
    text = tmp_path / "notes.txt"
    text.write_text("not a video\n")
    _refused(_export(bikes, "--to", "cvat-video", "-o", str(out), video=text))
    _nothing_but(tmp_path, "notes.txt")


def test_export_keeps_an_existing_output_unless_told(runs: dict[str, Run],
                                                     tmp_path: Path) -> None:  # fmt: skip
    out = tmp_path / "x.xml"
    out.write_text("mine")
    _refused(_export(runs["bikes"], "--to", "cvat-video", "-o", str(out)), "exists")
    assert out.read_text() == "mine"
    folder = tmp_path / "seq"
    folder.mkdir()
    _refused(_export(runs["bikes"], "--to", "mot", "-o", str(folder)), "exists")
    done = _export(runs["bikes"], "--to", "cvat-video", "-o", str(out), "--overwrite")
    assert done.returncode == 0, done.stderr
    assert out.read_text().startswith("<?xml")
    _nothing_but(tmp_path, "x.xml", "seq")


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ('{"index": 0, "time": 0.0, "detections": [{"box": [1, 2]}]}\n', ["1:", "vidpipe detect"]),
        ("{not json\n", ["not a JSON line"]),
        ("1,2,3\n", ["MOTChallenge"]),
        ("0,1,10,10,5,5,1\n", ["MOTChallenge"]),  # frames count from 1
    ],
)
def test_export_of_bad_results(runs: dict[str, Run], tmp_path: Path, content: str,
                               words: list[str]) -> None:  # fmt: skip
    results = tmp_path / "results.jsonl"
    results.write_text(content)
    done = cli("export", str(results), "--to", "coco-video", "--video",
                   str(runs["bikes"].video), "-o", str(tmp_path / "c.json"))  # fmt: skip
    _refused(done, *words)
    _nothing_but(tmp_path, "results.jsonl")


def test_eval_refusals(runs: dict[str, Run], tmp_path: Path) -> None:
    bikes = runs["bikes"]
    images = tmp_path / "images.xml"
    assert cli("export", str(bikes.lines), "--to", "cvat-images", "--video",
                   str(bikes.video), "-o", str(images)).returncode == 0  # fmt: skip
    _refused(cli("eval", "--mot", "--gt", str(images), "--pred", str(bikes.lines)),
             "no track ids")  # fmt: skip
    coco = tmp_path / "results.json"
    coco.write_text("[]")
    _refused(cli("eval", "--gt", str(images), "--pred", str(coco)), "JSON Lines")
    studio = tmp_path / "studio.json"
    region = {"type": "videorectangle", "value": {"sequence": [
        {"frame": 1, "x": 1, "y": 1, "width": 5, "height": 5, "time": 0}]}}  # fmt: skip
    studio.write_text(json.dumps([{"data": {}, "annotations": [{"result": [region]}]}]))
    _refused(cli("eval", "--gt", str(studio), "--pred", str(bikes.lines)), "--video")
    broken = tmp_path / "broken.xml"
    broken.write_text("<annotations><meta>")
    _refused(cli("eval", "--gt", str(broken), "--pred", str(bikes.lines)), "not XML")
    _nothing_but(tmp_path, "images.xml", "results.json", "studio.json", "broken.xml")
