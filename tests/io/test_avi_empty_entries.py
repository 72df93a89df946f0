"""Issue 27 (part 2): an AVI whose index holds empty entries is whole, not truncated.

Capture tools record a dropped or repeated frame as an index entry of size 0 (and count it in
the header's frame count); FFmpeg's demuxer returns no packet for it, so the packets read
never reach the header's count. Generated AVIs (tests/io/avi_entries.py) with empty entries
at the start, in the middle, at the end, and every other one ending in one (the real file of
the issue), in H.264 + AAC and MPEG-4 with B-frames (AVI stores no pts: best-effort times from
the dts, the decoder's flush gives frames none) and MJPEG (intra: pts = dts). Oracle: Debian's
ffprobe. `frames --json`, `gamma -o` and `detect -o` give ffprobe's frames, both backends;
the same files cut at 10..90 % (and at a chunk boundary) are still refused: one `error:` line
and exit 2.
"""

from __future__ import annotations

import itertools
import json
import subprocess
from fractions import Fraction
from pathlib import Path

import avi_entries
import pytest
from avi_entries import CODECS, FRAMES, PATTERNS
from conftest import (
    MODEL_DIR,
    cached_media,
    ffprobe_json,
    needs_ffmpeg_cli,
    needs_ffprobe,
    needs_nano,
)

from vidpipe.cli.main import main

pytestmark = [needs_ffprobe, needs_ffmpeg_cli]

BACKENDS = ("av", "ffmpeg")
FILES = [f"{codec}-{pattern}" for codec in CODECS for pattern in PATTERNS]
CUTS = (10, 30, 50, 70, 90)  # percent of the file kept


@pytest.fixture(scope="module")
def avis(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """name ("codec-pattern") -> the AVI with its empty entries."""
    d = cached_media(tmp_path_factory.mktemp("avi_empty"), _write_avis)
    return {name: d / f"{name}.avi" for name in FILES}


def _write_avis(d: Path) -> None:
    for codec in CODECS:
        base = avi_entries.make_avi(d / f"{codec}.avi", codec)
        for pattern, (before, after_last) in PATTERNS.items():
            avi_entries.add_empty_entries(base, d / f"{codec}-{pattern}.avi", before, after_last)


def _empty_positions(pattern: str) -> list[int]:
    """Where in the video index the pattern puts its empty entries."""
    before, after_last = PATTERNS[pattern]
    sizes: list[bool] = []
    for k in range(FRAMES):
        sizes += [True] * before.get(k, 0) + [False]
    sizes += [True] * after_last
    return [i for i, empty in enumerate(sizes) if empty]


def _oracle(path: Path) -> tuple[list[dict], Fraction]:
    """ffprobe's frames of the video stream (display order) and its time base."""
    data = ffprobe_json(
        path, "-select_streams", "v:0", "-show_streams", "-show_frames", "-show_entries",
        "stream=time_base:frame=best_effort_timestamp,pict_type",
    )  # fmt: skip
    return data["frames"], Fraction(data["streams"][0]["time_base"])


def _assert_ffprobes_frames(records: list[dict], path: Path) -> None:
    """Records (index, pts, time[, type]) are ffprobe's frames: as many, index 0..N-1, the
    same pts and type; where ffprobe has no pts (frames the decoder's flush gave) a later
    one than the frame before (the ffmpeg CLI's: the previous plus the frame's duration)."""
    frames, time_base = _oracle(path)
    assert len(records) == len(frames) == FRAMES
    assert [r["index"] for r in records] == list(range(FRAMES))
    for record, frame in zip(records, frames, strict=True):
        if "best_effort_timestamp" in frame:
            assert record["pts"] == frame["best_effort_timestamp"], (record, frame)
        if "type" in record:
            assert record["type"] == frame["pict_type"], (record, frame)
    pts = [r["pts"] for r in records]
    assert all(b > a for a, b in itertools.pairwise(pts)), pts
    assert [r["time"] for r in records] == pytest.approx([float(p * time_base) for p in pts])


def _output_times(path: Path) -> list[int]:
    """Display times of the video frames of an output file, in ms."""
    frames = ffprobe_json(
        path, "-select_streams", "v:0", "-show_frames", "-show_entries",
        "frame=best_effort_timestamp_time",
    )["frames"]  # fmt: skip
    return [round(float(f["best_effort_timestamp_time"]) * 1000) for f in frames]


def _input_times(path: Path) -> list[int | None]:
    frames, time_base = _oracle(path)
    return [
        round(f["best_effort_timestamp"] * time_base * 1000) if "best_effort_timestamp" in f
        else None
        for f in frames
    ]  # fmt: skip


def _assert_same_times(out: Path, src: Path) -> None:
    got, want = _output_times(out), _input_times(src)
    assert len(got) == len(want) == FRAMES
    assert all(w is None or g == w for g, w in zip(got, want, strict=True)), (got, want)
    assert all(b > a for a, b in itertools.pairwise(got)), got


# --- the files are what they claim ----------------------------------------------------------


@pytest.mark.parametrize("name", FILES)
def test_the_index_holds_empty_entries_ffmpeg_plays_it(avis, name):
    path, pattern = avis[name], name.rsplit("-", 1)[1]
    sizes = avi_entries.video_index_sizes(path)
    assert [i for i, size in enumerate(sizes) if size == 0] == _empty_positions(pattern)
    assert avi_entries.header_frames(path) == (len(sizes), len(sizes))  # empties counted
    packets = ffprobe_json(path, "-select_streams", "v:0", "-show_packets")["packets"]
    assert len(packets) == FRAMES  # ... and never returned as packets
    stream = ffprobe_json(path, "-select_streams", "v:0", "-show_streams")["streams"][0]
    assert int(stream["nb_frames"]) == len(sizes) > FRAMES
    proc = subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-i", str(path), "-f", "null", "-"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr


# --- whole files: every command gives ffprobe's frames ----------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", FILES)
def test_frames_lists_ffprobes_frames(avis, name, backend, capsys):
    path = avis[name]
    code = main(["frames", "--json", "--backend", backend, str(path)])
    out, err = capsys.readouterr()
    assert (code, err) == (0, "")
    _assert_ffprobes_frames([json.loads(line) for line in out.splitlines()], path)


GAMMA = [(f"h264_aac-{p}", b) for p in PATTERNS for b in BACKENDS] + [
    ("mpeg4_bf-alternate", "av"), ("mjpeg-alternate", "ffmpeg"), ("mjpeg-end", "av"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "backend"), GAMMA)
def test_gamma_writes_every_frame_at_its_time(avis, tmp_path, name, backend, capsys):
    path, out = avis[name], tmp_path / "out.mkv"
    code = main(["gamma", str(path), "-g", "1.4", "--preset", "veryfast", "--backend", backend,
                 "-o", str(out)])  # fmt: skip
    stdout, err = capsys.readouterr()
    assert (code, err) == (0, "")
    assert stdout.startswith(f"wrote {out} ({FRAMES} frames")
    _assert_same_times(out, path)


@needs_nano
@pytest.mark.parametrize("backend", BACKENDS)
def test_detect_reads_every_frame(avis, tmp_path, backend, capsys, monkeypatch):
    """detect -o / --json on the issue's shape (every other entry empty, the last one too)."""
    monkeypatch.setenv("VIDPIPE_MODEL_DIR", str(MODEL_DIR))
    path, video, lines = avis["h264_aac-alternate"], tmp_path / "boxes.mp4", tmp_path / "d.jsonl"
    code = main(["-q", "detect", str(path), "--backend", backend, "-o", str(video),
                 "--json", str(lines)])  # fmt: skip
    _stdout, err = capsys.readouterr()
    assert (code, err) == (0, "")
    _assert_ffprobes_frames([json.loads(line) for line in lines.read_text().splitlines()], path)
    _assert_same_times(video, path)


# --- cut files: still refused ----------------------------------------------------------------


def _cut(src: Path, dst: Path, length: int) -> Path:
    dst.write_bytes(src.read_bytes()[:length])
    return dst


def _assert_refused(code: int, err: str, path: Path) -> None:
    """Exit 2 and one `error:` line, the last: the file is cut (or, cut inside its header,
    not readable at all); a warning line may come before it (a frame decoded with errors)."""
    lines = err.splitlines()
    assert code == 2 and "Traceback" not in err, err
    assert [line for line in lines if line.startswith("error:")] == lines[-1:], err
    reasons = ("truncated or damaged file (", "not a readable video file")
    assert lines[-1].startswith(tuple(f"error: {path}: {r}" for r in reasons)), err
    assert all(line.startswith(("error:", "warning:")) for line in lines), err


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("percent", CUTS)
@pytest.mark.parametrize("name", ["h264_aac-alternate", "mpeg4_bf-end", "mjpeg-start"])
def test_a_cut_file_is_refused(avis, tmp_path, name, percent, backend, capsys):
    src = avis[name]
    path = _cut(src, tmp_path / f"cut{percent}.avi", src.stat().st_size * percent // 100)
    code = main(["frames", "--json", "--backend", backend, str(path)])
    out, err = capsys.readouterr()
    _assert_refused(code, err, path)
    assert len(out.splitlines()) < FRAMES


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_file_cut_between_chunks_is_refused_from_its_riff_size(avis, tmp_path, backend, capsys):
    """Cut just after a whole video chunk: no packet is short, the demuxer reports nothing;
    the RIFF list's declared size is what says the rest is missing. gamma writes nothing."""
    src = avis["mjpeg-alternate"]
    ends = avi_entries.video_chunk_ends(src)
    path = _cut(src, tmp_path / "cut.avi", ends[len(ends) // 2])  # just after frame 20
    code = main(["frames", "--json", "--backend", backend, str(path)])
    out, err = capsys.readouterr()
    _assert_refused(code, err, path)
    assert err.endswith(f"the file ends at byte {path.stat().st_size})\n"), err
    assert "RIFF 'AVI ' list at byte 0 needs" in err
    assert 0 < len(out.splitlines()) < FRAMES
    gamma_out = tmp_path / "out.mkv"
    code = main(["gamma", str(path), "-g", "1.4", "--backend", backend, "-o", str(gamma_out)])
    _stdout, err = capsys.readouterr()
    _assert_refused(code, err, path)
    assert not gamma_out.exists() and list(tmp_path.glob(".out.mkv.part*")) == []
