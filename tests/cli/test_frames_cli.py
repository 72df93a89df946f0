"""`vidpipe frames` and `vidpipe probe` output, run in-process through `main()`."""

from __future__ import annotations

import csv
import io
import json
import subprocess

import numpy as np
import pytest
from conftest import FFMPEG, SAMPLE_CLIPS, needs_ffmpeg_cli
from PIL import Image

from vidpipe.cli.main import main

H264 = next(p for p in SAMPLE_CLIPS if "bframes_aac" in p.name)
SCENECUT = next(p for p in SAMPLE_CLIPS if "scenecut" in p.name)
ROTATED = next(p for p in SAMPLE_CLIPS if "rotated" in p.name)


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_json_lines_have_exactly_the_keys(capsys):
    code, out, _ = run(capsys, "frames", str(H264), "--json")
    rows = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and len(rows) == 100
    assert all(list(r) == ["index", "pts", "time", "type", "key", "size"] for r in rows)
    assert [r["index"] for r in rows] == list(range(100))
    assert rows[0]["type"] == "I" and rows[0]["key"] is True and rows[0]["size"] > 0
    assert "".join(r["type"] for r in rows[:7]) == "IBBPBBP"


@pytest.mark.parametrize("backend", ["av", "ffmpeg"])
def test_filtered_indexes_are_positions_among_all_frames(capsys, backend):
    _, out_all, _ = run(capsys, "frames", str(SCENECUT), "--json", "--backend", backend)
    everything = [json.loads(line) for line in out_all.splitlines()]
    _, out_i, _ = run(capsys, "frames", str(SCENECUT), "--json", "-t", "I", "--backend", backend)
    only_i = [json.loads(line) for line in out_i.splitlines()]
    assert only_i == [r for r in everything if r["type"] == "I"]
    assert [r["index"] for r in only_i] == [0, 40, 80]  # scene cuts: I frames, not key
    _, out_k, _ = run(capsys, "frames", str(SCENECUT), "--json", "--keyframes")
    assert [json.loads(line)["index"] for line in out_k.splitlines()] == [0]
    _, out_pb, _ = run(capsys, "frames", str(SCENECUT), "--json", "-t", "P", "-t", "b")
    types = {json.loads(line)["type"] for line in out_pb.splitlines()}
    assert types == {"P", "B"}


def test_csv_and_text(capsys):
    _, out, _ = run(capsys, "frames", str(H264), "--csv", "--type", "I")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [r["index"] for r in rows] == ["0", "25", "50", "75"]
    assert rows[1]["type"] == "I" and rows[1]["key"] == "true" and float(rows[1]["time"]) == 1.0
    _, text, _ = run(capsys, "frames", str(H264))
    assert len(text.splitlines()) == 101 and text.splitlines()[1].split()[3] == "I"


def test_extract_images_named_by_index_time_type(capsys, tmp_path):
    code, _, _ = run(capsys, "frames", str(H264), "-t", "I", "-o", str(tmp_path / "imgs"))
    names = sorted(p.name for p in (tmp_path / "imgs").iterdir())
    assert code == 0
    assert names == [
        "000000_0.000s_I.png",
        "000025_1.000s_I.png",
        "000050_2.000s_I.png",
        "000075_3.000s_I.png",
    ]
    assert Image.open(tmp_path / "imgs" / names[1]).size == (320, 240)


@needs_ffmpeg_cli
def test_extracted_image_is_rotated_like_ffmpeg(capsys, tmp_path):
    run(capsys, "frames", str(ROTATED), "--keyframes", "-o", str(tmp_path))
    ours = np.asarray(Image.open(tmp_path / "000000_0.000s_I.png"), dtype=np.float64)
    ref_png = tmp_path / "ref.png"
    subprocess.run(
        [FFMPEG, "-v", "error", "-i", str(ROTATED), "-frames:v", "1", str(ref_png)], check=True
    )  # the ffmpeg CLI applies the display matrix (autorotate)
    ref = np.asarray(Image.open(ref_png).convert("RGB"), dtype=np.float64)
    assert ours.shape == ref.shape == (320, 240, 3)
    mse = np.mean((ours - ref) ** 2)
    assert mse < 255**2 / 10**3  # PSNR > 30 dB (identical here: both are swscale)


def test_probe_json(capsys):
    code, out, _ = run(capsys, "probe", str(H264), "--json", "--gop")
    info = json.loads(out)
    assert code == 0
    assert info["codec"] == "h264" and info["frame_rate"] == "25/1"
    assert info["gop"]["i_frames"] == 4 and info["gop"]["keyframe_interval_max"] == 25
    assert info["audio"][0]["codec"] == "aac"
    code, table, _ = run(capsys, "probe", str(ROTATED))
    assert "rotation" in table and "90" in table
