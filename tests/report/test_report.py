"""`vidpipe report` without a browser: what it reads back from a run (against the lines
themselves, counted plainly, and against `--scan --intervals` of the same samples), and the
bad inputs a user gives it. tests/report/test_report_browser.py opens the pages."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from batch_fixture import batch_folder  # noqa: F401 (a fixture)
from conftest import NANO_ONNX, SAMPLES, ffprobe_frames, needs_ffprobe, needs_nano, run_cli
from hypothesis import given, settings
from hypothesis import strategies as st

from vidpipe.errors import InputError
from vidpipe.formats.run import read_detections
from vidpipe.report.runs import decimate, intervals, per_frame, tracks_alive

CLIP = SAMPLES / "street_bikes.mp4"  # real footage (CC BY, sample_media/LICENSE...)


@pytest.fixture(scope="module")
def tracked_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A tracked, counted run of YOLOX-Nano over the real clip: its JSON Lines and events."""
    if not NANO_ONNX.is_file():
        pytest.skip(f"no {NANO_ONNX}")
    folder = tmp_path_factory.mktemp("run")
    dets, events = folder / "dets.jsonl", folder / "events.jsonl"
    done = run_cli("detect", str(CLIP), "--model", str(NANO_ONNX), "--json", str(dets),
                   "--track", "bytetrack", "--count-line", "gate=320,0,320,272",
                   "--zone", "left=0,0,320,0,320,272,0,272", "--events", str(events),
                   timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    return dets, events


@needs_nano
def test_boxes_and_counts_read_back_as_the_lines_say(tracked_run) -> None:
    dets, _ = tracked_run
    lines = [json.loads(line) for line in dets.read_text().splitlines()]
    boxes = read_detections(dets)
    assert len(boxes.times) == len(lines) == 110
    assert boxes.tracked
    counts = per_frame(boxes)
    for row, line in enumerate(lines):
        plain = Counter(d["class_id"] for d in line["detections"])
        assert {c: int(n[row]) for c, n in counts.items() if n[row]} == dict(plain)
        got = boxes.of_frame(row)
        want = np.array([d["box"] for d in line["detections"]], np.float32).reshape(-1, 4)
        np.testing.assert_allclose(got.xyxy, want)
        ids = [] if got.tracker_id is None else got.tracker_id.tolist()
        assert ids == [d["track_id"] for d in line["detections"]]
    seen: dict[int, list[int]] = {}
    for row, line in enumerate(lines):
        for d in line["detections"]:
            seen.setdefault(d["track_id"], []).append(row)
    alive = [sum(min(r) <= row <= max(r) for r in seen.values()) for row in range(len(lines))]
    assert tracks_alive(boxes).tolist() == alive


@needs_nano
def test_intervals_are_those_of_scan_intervals(tmp_path: Path) -> None:
    """A scan's JSON Lines hold its samples; read back, they give the intervals the scan
    itself wrote (`--intervals`), bounds, best frame and score."""
    dets, found = tmp_path / "scan.jsonl", tmp_path / "intervals.jsonl"
    done = run_cli("detect", str(CLIP), "--model", str(NANO_ONNX), "--scan", "--sample",
                   "every:3", "--json", str(dets), "--intervals", str(found),
                   timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    want = [json.loads(line) for line in found.read_text().splitlines()]
    got = [i.record() for i in intervals(read_detections(dets))]
    key = lambda r: (r["start_index"], r["class_id"])  # noqa: E731
    assert sorted(got, key=key) == sorted(want, key=key)
    assert len(want) > 3


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 50), min_size=1, max_size=400), st.integers(1, 50))
def test_decimation_keeps_every_peak(values: list[int], points: int) -> None:
    x = np.arange(len(values), dtype=np.float64)
    y = np.array(values)
    xs, ys = decimate(x, y, points)
    assert len(xs) == min(points, len(values))
    assert ys.max() == y.max()
    assert np.all(np.diff(xs) > 0)
    assert all(y[int(i)] == v for i, v in zip(xs, ys, strict=True))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"index": 0, "time": 0.0, "detections": []}\nnot json\n', ":2: not a JSON line"),
        ('{"index": 0, "time": 0.0, "detections": [{"box": [1, 2]}]}\n', ":1: not a line of"),
        ("[1, 2]\n", ":1: not a JSON object"),
        ("\n", "no frames"),
    ],
)
def test_a_file_that_is_not_detect_json_lines_is_refused(tmp_path: Path, text: str,
                                                         message: str) -> None:  # fmt: skip
    path = tmp_path / "bad.jsonl"
    path.write_text(text)
    with pytest.raises(InputError, match=message):
        read_detections(path)


def _lines_for(tmp_path: Path) -> Path:
    path = tmp_path / "d.jsonl"
    rows = [{"index": i, "pts": i * 512, "time": i / 25, "detections": [
        {"label": "dog", "class_id": 16, "score": 0.9, "box": [10, 10, 60, 60]}]}
        for i in range(5)]  # fmt: skip
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["VIDEO", "--json", "DETS", "--json", "DETS"], "give one --json per video"),
        (
            ["VIDEO", "--json", "DETS", "--events", "DETS", "--events", "DETS"],
            "give one --events per video",
        ),
        (["VIDEO", "--json", "MISSING"], "no such file"),
        (["VIDEO", "--json", "DETS", "-o", "{tmp}/r.txt"], "a report is an .html file"),
        (["VIDEO", "--json", "DETS", "-o", "{tmp}/nowhere/r.html"], "does not exist"),
        (["VIDEO", "--json", "DETS", "--events", "DETS"], "not an event of"),
        (["VIDEO", "--json", "{tmp}"], "is a directory"),
    ],
)
def test_bad_arguments_get_one_line_and_no_page(tmp_path: Path, args: list[str],
                                                message: str) -> None:  # fmt: skip
    dets = _lines_for(tmp_path)
    fill = {"VIDEO": str(CLIP), "DETS": str(dets), "MISSING": str(tmp_path / "none.jsonl")}
    argv = [fill.get(a, a.format(tmp=tmp_path)) for a in args]
    if "-o" not in argv:
        argv += ["-o", str(tmp_path / "r.html")]
    done = run_cli("report", *argv)
    assert done.returncode == 2, done.stderr
    assert message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert not list(tmp_path.glob("*.html")), list(tmp_path.iterdir())


def test_an_existing_page_is_kept_without_overwrite(tmp_path: Path) -> None:
    dets, page = _lines_for(tmp_path), tmp_path / "r.html"
    page.write_text("mine")
    done = run_cli("report", str(CLIP), "--json", str(dets), "-o", str(page))
    assert done.returncode == 2 and "already exists" in done.stderr
    assert page.read_text() == "mine"
    done = run_cli("report", str(CLIP), "--json", str(dets), "-o", str(page), "--overwrite")
    assert done.returncode == 0, done.stderr
    assert "street_bikes.mp4" in page.read_text()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp left


def test_a_video_that_cannot_be_read_is_said_so_on_the_page(tmp_path: Path) -> None:
    """The results still make their plots; the section says what is wrong with the video."""
    dets, page, broken = _lines_for(tmp_path), tmp_path / "r.html", tmp_path / "broken.mp4"
    broken.write_bytes(CLIP.read_bytes()[:2000])
    done = run_cli("report", str(broken), "--json", str(dets), "-o", str(page))
    assert done.returncode == 0, done.stderr
    assert "warning:" in done.stderr and "broken.mp4" in done.stderr
    text = page.read_text()
    assert 'class="problem"' in text and "broken.mp4" in text


def _payload(page: Path) -> dict:
    """The page's data: its own, and each section's as "videos" (less the time it was made)."""
    text = page.read_text()

    def script(tag: str, start: int = 0) -> tuple[dict, int]:
        begin = text.index(tag, start) + len(tag)
        end = text.index("</script>", begin)
        return json.loads(text[begin:end]), end

    data, _ = script('<script type="application/json" id="report-data">')
    data.pop("generated")
    data["videos"], at = [], 0
    while f'id="video-data-{len(data["videos"])}">' in text:
        section, at = script(f'id="video-data-{len(data["videos"])}">', at)
        data["videos"].append(section)
    return data


@needs_nano
def test_detect_report_is_the_page_of_its_run(tmp_path: Path) -> None:
    """`detect --report` gives the page `vidpipe report` makes of the run's own JSON Lines;
    without --json it runs on a scratch file beside the page, which does not outlive it."""
    dets, first, second = tmp_path / "d.jsonl", tmp_path / "a.html", tmp_path / "b.html"
    done = run_cli("detect", str(CLIP), "--model", str(NANO_ONNX), "--json", str(dets),
                   "--report", str(first), timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    done = run_cli("report", str(CLIP), "--json", str(dets), "-o", str(second))
    assert done.returncode == 0, done.stderr
    assert _payload(first) == _payload(second)
    alone = tmp_path / "alone"
    alone.mkdir()
    done = run_cli("detect", str(CLIP), "--model", str(NANO_ONNX), "--report",
                   str(alone / "r.html"), timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""  # the page is the output asked for: no JSON on stdout
    assert [p.name for p in alone.iterdir()] == ["r.html"]
    assert _payload(alone / "r.html")["videos"][0]["boxes"] == _payload(first)["videos"][0]["boxes"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--report", "{tmp}/r.txt"], "a report is an .html file"),
        (["--report", "{tmp}/missing/r.html"], "does not exist"),
        (["--json", "-", "--report", "{tmp}/r.html"], "give --json a file"),
    ],
)
def test_detect_report_is_checked_before_the_run(tmp_path: Path, args: list[str],
                                                 message: str) -> None:  # fmt: skip
    done = run_cli("detect", str(CLIP), "--model", "nowhere.onnx",
                   *[a.format(tmp=tmp_path) for a in args])  # fmt: skip
    assert done.returncode == 2 and message in done.stderr, done.stderr
    assert list(tmp_path.iterdir()) == []


@needs_nano
def test_a_batch_folder_s_page_has_its_jobs_and_a_section_per_finished_job(
    batch_folder: Path,  # noqa: F811 (the fixture)
    tmp_path: Path,
) -> None:
    import sqlite3

    page = tmp_path / "batch.html"
    done = run_cli("report", str(batch_folder), "-o", str(page))
    assert done.returncode == 0, done.stderr
    data = _payload(page)
    with sqlite3.connect(batch_folder / ".vidpipe-batch.sqlite") as db:
        rows = db.execute("SELECT input, status, error, seconds FROM jobs ORDER BY key").fetchall()
    jobs = data["jobs"]
    assert [(j["input"], j["status"], j["error"]) for j in jobs] == [r[:3] for r in rows]
    assert [j["status"] for j in jobs].count("failed") == 1
    finished = [j for j in jobs if j["status"] == "done"]
    for job in finished:
        stem = Path(job["input"]).stem
        lines = (batch_folder / f"{stem}.jsonl").read_text().splitlines()
        assert job["frames"] == len(lines)
        assert job["fps"] == pytest.approx(len(lines) / job["seconds"], rel=0.01)
    assert sorted(j["section"] for j in finished) == [0, 1]
    text = page.read_text()
    assert text.count('class="video-data"') == 2 and "broken.webm" in text
    boxes = {}
    for job in finished:
        for line in (batch_folder / f"{Path(job['input']).stem}.jsonl").read_text().splitlines():
            for d in json.loads(line)["detections"]:
                boxes[d["label"]] = boxes.get(d["label"], 0) + 1
    assert {t["label"]: t["boxes"] for t in data["totals"]} == boxes


def test_a_folder_that_is_not_a_batch_is_refused(tmp_path: Path) -> None:
    done = run_cli("report", str(tmp_path), "-o", str(tmp_path / "r.html"))
    assert done.returncode == 2 and "not a `vidpipe batch` output folder" in done.stderr
    assert list(tmp_path.iterdir()) == []


@needs_nano
def test_batch_report_html_is_the_folder_s_page(batch_folder: Path, tmp_path: Path) -> None:  # noqa: F811
    """`batch --report F.html` over finished work writes the page `vidpipe report OUTDIR`
    makes (the re-run skips every job, and the failed one fails again)."""
    page, again = tmp_path / "a.html", tmp_path / "b.html"
    inputs = Path(_payload_input(batch_folder)).parent
    done = run_cli("batch", str(inputs), "-o", str(batch_folder), "--task", "detect", "--model",
                   str(NANO_ONNX), "--track", "bytetrack", "--count-line",
                   "gate=100,0,100,240", "-q", "--report", str(page), timeout=240)  # fmt: skip
    assert done.returncode == 1, done.stderr
    done = run_cli("report", str(batch_folder), "-o", str(again))
    assert done.returncode == 0, done.stderr
    mine, theirs = _payload(page), _payload(again)
    mine.pop("title"), theirs.pop("title")
    assert mine == theirs


def _payload_input(folder: Path) -> str:
    import sqlite3

    with sqlite3.connect(folder / ".vidpipe-batch.sqlite") as db:
        return db.execute("SELECT input FROM jobs LIMIT 1").fetchone()[0]


@needs_ffprobe
def test_gop_facts_are_ffprobe_s_frame_types(tmp_path: Path) -> None:
    clip = SAMPLES / "h264_bframes_aac.mp4"
    frames = ffprobe_frames(clip)
    rows = [{"index": i, "pts": None, "time": None, "detections": []} for i in range(len(frames))]
    dets, page = tmp_path / "d.jsonl", tmp_path / "r.html"
    dets.write_text("".join(json.dumps(r) + "\n" for r in rows))
    done = run_cli("report", str(clip), "--json", str(dets), "-o", str(page), "--gop")
    assert done.returncode == 0, done.stderr
    facts = dict(_payload(page)["videos"][0]["facts"])
    types = Counter(f["pict_type"] for f in frames)
    assert facts["frame types"] == f"I {types['I']}, P {types['P']}, B {types['B']}"
    assert types["B"] > 0


@needs_nano
def test_zones_inside_and_dwell_are_the_events(tracked_run, tmp_path: Path) -> None:
    dets, events = tracked_run
    page = tmp_path / "r.html"
    done = run_cli("report", str(CLIP), "--json", str(dets), "--events", str(events),
                   "-o", str(page))  # fmt: skip
    assert done.returncode == 0, done.stderr
    got = _payload(page)["videos"][0]["events"]
    t0 = json.loads(dets.read_text().splitlines()[0])["time"]
    rows = [json.loads(line) for line in events.read_text().splitlines()]
    moves = sorted((r["time"], 1 if r["event"] == "enter" else -1) for r in rows
                   if r.get("zone") == "left")  # fmt: skip
    assert moves, "the zone saw no one"
    inside = np.cumsum([m for _, m in moves]).tolist()
    assert got["inside"]["left"]["y"] == inside
    assert got["inside"]["left"]["x"] == [round(t - t0, 3) for t, _ in moves]
    dwell = [r["dwell"] for r in rows if r.get("event") == "exit" and r["zone"] == "left"]
    assert got["dwell"].get("left", []) == pytest.approx(dwell, abs=1e-3)


@needs_nano
def test_a_live_run_s_segments_take_the_lines_of_their_wall_clock(tmp_path: Path) -> None:
    """Segments named by the UTC wall clock (a live source's) take the lines whose
    `wall_time` falls in their stretch; the stream-time names of a file's run split the
    same lines the same way."""
    import datetime

    dets = tmp_path / "d.jsonl"
    done = run_cli("detect", str(CLIP), "--model", str(NANO_ONNX), "--json", str(dets),
                   "-o", str(tmp_path / "seg.mp4"), "--segment", "1s", timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    by_time = sorted(tmp_path.glob("seg_t*.mp4"))
    epoch = 1_796_000_000.0
    live = tmp_path / "live"
    live.mkdir()
    rows = [json.loads(line) for line in dets.read_text().splitlines()]
    with open(live / "cam.jsonl", "w") as out:
        for row in rows:
            out.write(json.dumps({**row, "wall_time": epoch + row["time"]}) + "\n")
    for seg in by_time:
        start = float(seg.stem.split("_t")[1])
        moment = datetime.datetime.fromtimestamp(epoch + start, datetime.UTC)
        name = moment.strftime("cam_%Y%m%dT%H%M%S.") + f"{moment.microsecond // 1000:03d}Z.mp4"
        (live / name).write_bytes(seg.read_bytes())
    pages = []
    for videos, lines in ((by_time, dets), (sorted(live.glob("cam_*.mp4")), live / "cam.jsonl")):
        page = tmp_path / f"{len(pages)}.html"
        done = run_cli("report", *map(str, videos), "--json", str(lines), "-o", str(page))
        assert done.returncode == 0, done.stderr
        pages.append([v["frame_index"] for v in _payload(page)["videos"]])
    assert pages[0] == pages[1]
    assert [len(p) for p in pages[0]] == [25, 25, 25, 25, 10]
    assert [i for p in pages[0] for i in p] == list(range(110))
