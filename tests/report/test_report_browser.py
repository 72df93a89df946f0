"""`vidpipe report` pages opened in a real browser: Debian's headless Chromium driven by
Selenium. The page loads without a console error and draws its plots and thumbnails; the
player shows each frame's boxes at their pixels, read back from the overlay canvas, as the
browser presents that frame (its media time is the frame's timestamp, as ffprobe gives it),
VFR and rotated clips included; class toggles and the score floor hide boxes; a video that
cannot be read leaves a page that says so.

Without Chromium and its driver these tests skip, unless VIDPIPE_BROWSER_REQUIRED=1 (CI,
which installs them). Screenshots go to $VIDPIPE_REPORT_SHOTS when set (else the test's
temporary folder).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from batch_fixture import batch_folder  # noqa: F401 (a fixture)
from conftest import NANO_ONNX, SAMPLES, ffprobe_json, needs_ffprobe, needs_nano, run_cli

from vidpipe.draw.paint import PALETTE_RGB

BROWSER = next(filter(None, map(shutil.which, ("chromium", "chromium-browser"))), None)
DRIVER = shutil.which("chromedriver")
LOAD_S = 20.0  # the most a page may take to be ready


@pytest.fixture(scope="module")
def browser() -> Iterator:
    if BROWSER is None or DRIVER is None:
        if os.environ.get("VIDPIPE_BROWSER_REQUIRED") == "1":
            pytest.fail("VIDPIPE_BROWSER_REQUIRED=1 but chromium / chromedriver are missing")
        pytest.skip("no chromium / chromedriver (apt install chromium chromium-driver)")
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    for arg in ("--headless=new", "--no-sandbox", "--window-size=1280,1800",
                "--disable-gpu", "--mute-audio"):  # fmt: skip
        options.add_argument(arg)
    options.binary_location = BROWSER
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(DRIVER))
    driver.set_script_timeout(LOAD_S)
    try:
        yield driver
    finally:
        driver.quit()


def _shots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("VIDPIPE_REPORT_SHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _open(driver, page: Path) -> list[dict]:
    """Load the page, wait until its script is done; its console's errors."""
    driver.get_log("browser")  # what earlier pages said
    driver.get(page.as_uri())
    ready = driver.execute_async_script(
        """const done = arguments[arguments.length - 1], until = Date.now() + arguments[0];
        (function wait() {
          const r = window.vidpipeReport;
          if (r && r.ready) done(true); else if (Date.now() > until) done(false);
          else setTimeout(wait, 20);
        })();""",
        int(LOAD_S * 1000) - 500,
    )
    assert ready, "the page's script did not finish"
    return [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]


def _seek(driver, video: int, t: float) -> tuple[int, float]:
    """Seek the player to time t; (row drawn, media time of the frame shown)."""
    return tuple(driver.execute_async_script(
        """const [vi, t, done] = arguments, h = window.vidpipeReport.videos[vi];
        const go = () => h.seek(t).then((row) => done([row, h.state.mediaTime]));
        if (h.video.readyState >= 1) go();
        else h.video.addEventListener("loadedmetadata", go, { once: true });""",
        video, t,
    ))  # fmt: skip


def _pixels(driver, video: int, points: list[tuple[float, float]]) -> list[list[list[int]]]:
    """The RGBA of the overlay's 3 x 3 pixels around each point given in video pixels (a
    2-pixel line straddles the box's edge)."""
    return driver.execute_script(
        """const [vi, points] = arguments, h = window.vidpipeReport.videos[vi];
        const sx = h.canvas.width / h.video.videoWidth, sy = h.canvas.height / h.video.videoHeight;
        const ctx = h.canvas.getContext("2d");
        return points.map(([x, y]) => {
          const d = ctx.getImageData(Math.round(x * sx) - 1, Math.round(y * sy) - 1, 3, 3).data;
          const around = [];
          for (let i = 0; i < d.length; i += 4) around.push(Array.from(d.slice(i, i + 4)));
          return around;
        });""",
        video, points,
    )  # fmt: skip


def _drawn_in(around: list[list[int]], class_id: int) -> bool:
    """Whether a pixel around is the class's colour, opaque (others may be a crossing line)."""
    colour = PALETTE_RGB[class_id % len(PALETTE_RGB)]
    return any(
        rgba[3] == 255 and all(abs(a - b) <= 2 for a, b in zip(rgba, colour, strict=False))
        for rgba in around
    )


def _empty(around: list[list[int]]) -> bool:
    return all(rgba[3] == 0 for rgba in around)


def _not_blank(driver, path: Path) -> None:
    from PIL import Image

    driver.save_screenshot(str(path))
    picture = np.asarray(Image.open(path).convert("L"), np.float32)
    assert picture.std() > 10, f"{path} is blank"


@pytest.fixture(scope="module")
def tracked_page(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The report of a tracked YOLOX-Nano run over the real sample clip, counted on a line
    and in a zone."""
    if not NANO_ONNX.is_file():
        pytest.skip(f"no {NANO_ONNX}")
    folder = tmp_path_factory.mktemp("tracked")
    clip = folder / "street_bikes.mp4"
    shutil.copy(SAMPLES / "street_bikes.mp4", clip)  # the page plays it from beside itself
    dets, events, page = folder / "d.jsonl", folder / "e.jsonl", folder / "report.html"
    done = run_cli("detect", str(clip), "--model", str(NANO_ONNX), "--json", str(dets),
                   "--track", "bytetrack", "--count-line", "gate=320,0,320,272",
                   "--zone", "left=0,0,320,0,320,272,0,272", "--events", str(events),
                   timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    done = run_cli("report", str(clip), "--json", str(dets), "--events", str(events),
                   "-o", str(page))  # fmt: skip
    assert done.returncode == 0, done.stderr
    return page, dets


def test_a_tracked_run_s_page(browser, tracked_page, tmp_path: Path) -> None:
    page, dets = tracked_page
    assert _open(browser, page) == []
    section = browser.find_element("id", "video-0")
    assert len(section.find_elements("css selector", ".plot .main-svg")) >= 5  # 5 plots
    assert len(section.find_elements("css selector", ".thumbs img")) > 3
    _not_blank(browser, _shots(tmp_path) / "report-tracked.png")

    lines = [json.loads(line) for line in dets.read_text().splitlines()]
    frame = 45
    row, media_time = _seek(browser, 0, lines[frame]["time"])
    assert row == frame
    assert media_time == pytest.approx(lines[frame]["time"], abs=1e-3)
    boxes = lines[frame]["detections"]
    state = browser.execute_script("return window.vidpipeReport.videos[0].state")
    assert state["drawn"] == len(boxes) > 1
    # each box's left edge, half-way down, is drawn in its class's colour
    edges = [(b["box"][0], (b["box"][1] + b["box"][3]) / 2) for b in boxes]
    for rgba, b in zip(_pixels(browser, 0, edges), boxes, strict=True):
        assert _drawn_in(rgba, b["class_id"]), (b, rgba)
    _not_blank(browser, _shots(tmp_path) / "report-player.png")

    # a thumbnail seeks the player to its frame
    figure = browser.find_elements("css selector", "#video-0 .thumbs figure")[-1]
    best = int(figure.get_attribute("data-frame"))
    figure.click()
    shown = browser.execute_async_script(
        """const [frame, done] = arguments, h = window.vidpipeReport.videos[0];
        const until = Date.now() + 5000;
        (function wait() {
          if (h.state.row === frame || Date.now() > until) done(h.state.row);
          else setTimeout(wait, 20);
        })();""",
        best,
    )
    assert shown == best
    _seek(browser, 0, lines[frame]["time"])

    # a class switched off: its boxes go; the others stay
    hidden = boxes[0]["class_id"]
    browser.find_element("css selector", f'#video-0 input[data-class="{hidden}"]').click()
    left = [b for b in boxes if b["class_id"] != hidden]
    assert browser.execute_script("return window.vidpipeReport.videos[0].state.drawn") == len(left)
    browser.find_element("css selector", f'#video-0 input[data-class="{hidden}"]').click()
    # the score floor above every box: none drawn
    browser.execute_script(
        """const s = document.querySelector("#video-0 input.score");
        s.value = "1"; s.dispatchEvent(new Event("input"));"""
    )
    assert browser.execute_script("return window.vidpipeReport.videos[0].state.drawn") == 0


def _marked_run(clip: Path, folder: Path,
                first: int = 0) -> tuple[Path, list[float], list[list[float]]]:  # fmt: skip
    """JSON Lines for `clip` from frame `first` on: one box a frame, each at its own place (so
    the overlay tells which frame's box it draws), at ffprobe's frame times; every frame's
    time and box (displayed pixels)."""
    frames = ffprobe_json(clip, "-select_streams", "v:0", "-show_frames", "-show_entries",
                          "frame=pts_time")["frames"]  # fmt: skip
    times = [float(f["pts_time"]) for f in frames]
    info = json.loads(run_cli("probe", str(clip), "--json").stdout)
    width, height = info["width"], info["height"]
    if info["rotation"] % 180:
        width, height = height, width
    boxes, rows = [], []
    for i, t in enumerate(times):
        x = 4 + (i * 7) % (width - 40)
        box = [x, 0.2 * height, x + 30, 0.8 * height]
        boxes.append(box)
        rows.append({"index": i, "pts": None, "time": t, "detections": [
            {"label": "dog", "class_id": 16, "score": 0.9, "box": box}]})  # fmt: skip
    path = folder / f"{clip.stem}.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows[first:]))
    return path, times, boxes


@needs_ffprobe
@pytest.mark.parametrize("name", ["vfr.mp4", "rotated.mp4", "vp9.webm"])
def test_the_player_draws_the_shown_frame_s_boxes(browser, tmp_path: Path, name: str) -> None:
    """Frames of varying duration (VFR), a 90° display rotation, another codec: seeking to a
    frame shows its box, at its pixels, and not the next frame's."""
    clip = tmp_path / name
    shutil.copy(SAMPLES / name, clip)
    dets, times, boxes = _marked_run(clip, tmp_path)
    page = tmp_path / "report.html"
    done = run_cli("report", str(clip), "--json", str(dets), "-o", str(page))
    assert done.returncode == 0, done.stderr
    assert _open(browser, page) == []
    for frame in (1, len(times) // 2, len(times) - 2):
        row, media_time = _seek(browser, 0, times[frame])
        assert row == frame, (name, frame, row)
        assert media_time == pytest.approx(times[frame], abs=1e-3)
        mine, next_one = boxes[frame], boxes[frame + 1]
        ymid = (mine[1] + mine[3]) / 2
        here, there = _pixels(browser, 0, [(mine[0], ymid), (next_one[0], ymid)])
        assert _drawn_in(here, 16), (name, frame, here)
        if abs(next_one[0] - mine[0]) > 35:  # apart from this frame's box
            assert _empty(there), (name, frame, there)
    _not_blank(browser, _shots(tmp_path) / f"report-{Path(name).stem}.png")


@needs_ffprobe
def test_results_from_a_later_frame_keep_in_step(browser, tmp_path: Path) -> None:
    """Results that begin at frame 5 (a run started later, a scan's samples): the page's
    clock starts at the video's first frame, not at the first line."""
    clip = tmp_path / "vfr.mp4"
    shutil.copy(SAMPLES / "vfr.mp4", clip)
    dets, times, boxes = _marked_run(clip, tmp_path, first=5)
    page = tmp_path / "report.html"
    done = run_cli("report", str(clip), "--json", str(dets), "-o", str(page))
    assert done.returncode == 0, done.stderr
    assert _open(browser, page) == []
    for frame in (6, 20):
        row, media_time = _seek(browser, 0, times[frame])
        assert row == frame - 5
        assert media_time == pytest.approx(times[frame], abs=1e-3)
        mine = boxes[frame]
        (here,) = _pixels(browser, 0, [(mine[0], (mine[1] + mine[3]) / 2)])
        assert _drawn_in(here, 16), (frame, here)


def test_a_video_that_cannot_be_read_leaves_a_page_that_says_so(browser, tmp_path: Path) -> None:
    broken = tmp_path / "broken.mp4"
    broken.write_bytes((SAMPLES / "vfr.mp4").read_bytes()[:1500])
    dets, _, _ = _marked_run(SAMPLES / "vfr.mp4", tmp_path)
    page = tmp_path / "report.html"
    done = run_cli("report", str(broken), "--json", str(dets), "-o", str(page))
    assert done.returncode == 0, done.stderr
    assert _open(browser, page) == []
    problem = browser.find_element("css selector", "#video-0 .problem")
    assert "broken.mp4" in problem.text
    assert len(browser.find_elements("css selector", "#video-0 .plot .main-svg")) >= 2
    assert "No player" in browser.find_element("css selector", "#video-0 .player-block").text
    _not_blank(browser, _shots(tmp_path) / "report-broken.png")


def test_a_batch_s_page(browser, batch_folder: Path, tmp_path: Path) -> None:  # noqa: F811
    """The jobs table filters by status and text and sorts by a heading; a row opens its
    video's section, whose player then draws its boxes."""
    page = tmp_path / "batch.html"
    done = run_cli("report", str(batch_folder), "-o", str(page))
    assert done.returncode == 0, done.stderr
    assert _open(browser, page) == []
    assert browser.execute_script("return Object.keys(window.vidpipeReport.videos).length") == 0

    def rows() -> list[str]:
        cells = browser.find_elements("css selector", "table.jobs tbody tr td:first-child")
        return [Path(c.text).name for c in cells]

    assert rows() == ["broken.webm", "street_bikes.mp4", "vfr.mp4"]
    status = browser.find_element("css selector", "select.job-status")
    status.find_element("css selector", "option[value=''] ~ option").click()  # "done"
    assert rows() == ["street_bikes.mp4", "vfr.mp4"]
    status.find_element("css selector", "option[value='']").click()
    browser.find_element("css selector", "input.job-filter").send_keys("decodable")
    assert rows() == ["broken.webm"]  # its error says "no decodable video frame"
    browser.find_element("css selector", "input.job-filter").clear()
    browser.execute_script(
        "document.querySelector('input.job-filter').dispatchEvent(new Event('input'))"
    )
    fps = browser.find_element("css selector", 'table.jobs th[data-key="fps"]')
    fps.click()
    fps.click()  # fastest first; the failed job (no fps) last
    assert rows()[-1] == "broken.webm"
    _not_blank(browser, _shots(tmp_path) / "report-batch.png")

    link = browser.find_element("link text", next(
        c.text for c in browser.find_elements("css selector", "table.jobs tbody a")
        if c.text.endswith("street_bikes.mp4")
    ))  # fmt: skip
    link.click()
    vi = int(link.get_attribute("href").rsplit("-", 1)[1])
    assert browser.execute_script(f"return document.getElementById('video-{vi}').open")
    lines = (batch_folder / "street_bikes.jsonl").read_text().splitlines()
    times = [json.loads(line)["time"] for line in lines]
    row, _ = _seek(browser, vi, times[30])
    assert row == 30
    drawn = browser.execute_script(f"return window.vidpipeReport.videos[{vi}].state.drawn")
    assert drawn == len(json.loads(lines[30])["detections"]) > 0


@needs_nano
def test_a_segmented_run_s_page(browser, tmp_path: Path) -> None:
    """`--segment` files and the run's one JSON Lines: a section per file with the lines of
    its stretch; each file keeps the stream's clock (the second starts at 1 s), and the
    player draws a frame's boxes there as in one file."""
    clip = tmp_path / "street_bikes.mp4"
    shutil.copy(SAMPLES / "street_bikes.mp4", clip)
    dets, page = tmp_path / "d.jsonl", tmp_path / "r.html"
    done = run_cli("detect", str(clip), "--model", str(NANO_ONNX), "--json", str(dets),
                   "-o", str(tmp_path / "seg.mp4"), "--segment", "1s", timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    segments = sorted(tmp_path.glob("seg_t*.mp4"))
    assert len(segments) == 5
    done = run_cli("report", *map(str, segments), "--json", str(dets), "-o", str(page))
    assert done.returncode == 0, done.stderr
    assert _open(browser, page) == []
    lines = [json.loads(line) for line in dets.read_text().splitlines()]
    handle = "window.vidpipeReport.videos[1]"
    frames = browser.execute_script(f"return {handle}.frames")
    assert frames == [line["time"] for line in lines if 1.0 <= line["time"] < 2.0]
    frame = 37  # the 13th frame of the second file
    row, media_time = _seek(browser, 1, lines[frame]["time"])
    assert frames[row] == lines[frame]["time"]
    assert media_time == pytest.approx(lines[frame]["time"], abs=1e-3)
    boxes = lines[frame]["detections"]
    assert browser.execute_script(f"return {handle}.state.drawn") == len(boxes) > 0
    edges = [(b["box"][0], (b["box"][1] + b["box"][3]) / 2) for b in boxes]
    for rgba, b in zip(_pixels(browser, 1, edges), boxes, strict=True):
        assert _drawn_in(rgba, b["class_id"]), (b, rgba)
