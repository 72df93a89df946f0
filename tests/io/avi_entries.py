"""AVIs whose index holds empty entries at chosen places, as capture tools write them for
dropped or repeated frames (issue 27): an ffmpeg-made AVI rewritten with zero-length video
chunks in its `movi` list, an `idx1` entry of size 0 for each, and the header's frame counts
(avih dwTotalFrames, the video strh dwLength) raised to count them, as such writers do.
"""

from __future__ import annotations

import struct
import subprocess
from collections.abc import Iterator, Mapping
from pathlib import Path

FRAMES = 40
SIZE = "160x120"
# codec name -> ffmpeg output arguments (no pts in the AVI where there are B-frames)
CODECS = {
    "h264_aac": ["-c:v", "libx264", "-bf", "3", "-g", "12", "-preset", "veryfast",
                 "-x264-params", "b-pyramid=none", "-c:a", "aac"],
    "mpeg4_bf": ["-c:v", "mpeg4", "-bf", "2", "-vtag", "DIVX", "-q:v", "5", "-an"],
    "mjpeg": ["-c:v", "mjpeg", "-q:v", "5", "-an"],
}  # fmt: skip
# pattern -> (empty entries before video chunk k, empty entries after the last one)
PATTERNS: dict[str, tuple[dict[int, int], int]] = {
    "start": ({0: 3}, 0),
    "middle": ({17: 4}, 0),
    "end": ({}, 3),
    # every other entry empty, the last one too: the shape of the real file of issue 27
    "alternate": ({k: 1 for k in range(1, FRAMES)}, 1),
}
_VIDEO_IDS = (b"00dc", b"00db")


def make_avi(path: Path, codec: str) -> Path:
    """A FRAMES-frame testsrc2 clip (with a sine tone for h264_aac) in AVI, by the ffmpeg CLI."""
    inputs = ["-f", "lavfi", "-i", f"testsrc2=size={SIZE}:rate=25:duration={FRAMES / 25}"]
    if codec == "h264_aac":
        inputs += ["-f", "lavfi", "-i", f"sine=frequency=440:duration={FRAMES / 25}"]
    cmd = ["ffmpeg", "-nostdin", "-v", "error", "-y", *inputs, *CODECS[codec], str(path)]
    subprocess.run(cmd, check=True, capture_output=True, timeout=60)
    return path


def _chunks(data: bytes, start: int, end: int) -> Iterator[tuple[bytes, int, int]]:
    at = start
    while at + 8 <= end:
        fourcc, size = struct.unpack_from("<4sI", data, at)
        yield fourcc, at, size
        at += 8 + size + (size & 1)


def add_empty_entries(src: Path, dst: Path, before: Mapping[int, int], after_last: int) -> int:
    """Write `src` to `dst` with empty video entries: `before[k]` of them just before video
    chunk k, `after_last` after the last one. Returns how many were added."""
    data = src.read_bytes()
    found = {fourcc + (data[at + 8 : at + 12] if fourcc == b"LIST" else b""): (at, size)
             for fourcc, at, size in _chunks(data, 12, len(data))}  # fmt: skip
    movi, movi_size = found[b"LISTmovi"]
    idx1, idx1_size = found[b"idx1"]
    flags = {}
    for at in range(idx1 + 8, idx1 + 8 + idx1_size, 16):
        _id, flag, pos, _size = struct.unpack_from("<4sIII", data, at)
        flags[pos] = flag
    base = movi + 8  # idx1 offsets count from the "movi" fourcc
    body, index = bytearray(), bytearray()

    def empty() -> None:
        index.extend(struct.pack("<4sIII", b"00dc", 0, 4 + len(body), 0))
        body.extend(b"00dc" + struct.pack("<I", 0))

    video = 0
    for fourcc, at, size in _chunks(data, movi + 12, movi + 8 + movi_size):
        if fourcc in _VIDEO_IDS:
            for _ in range(before.get(video, 0)):
                empty()
            video += 1
        index.extend(struct.pack("<4sIII", fourcc, flags.get(at - base, 0), 4 + len(body), size))
        body.extend(data[at : at + 8 + size + (size & 1)])
    for _ in range(after_last):
        empty()
    added = sum(before.values()) + after_last
    out = bytearray(data[:movi])
    out += b"LIST" + struct.pack("<I", 4 + len(body)) + b"movi" + body
    out += b"idx1" + struct.pack("<I", len(index)) + index
    out += data[idx1 + 8 + idx1_size :]
    struct.pack_into("<I", out, 4, len(out) - 8)  # the RIFF size
    avih, strh = _headers(out)
    _raise(out, avih + 8 + 16, added)  # dwTotalFrames
    _raise(out, strh + 8 + 32, added)  # the video stream's dwLength
    dst.write_bytes(bytes(out))
    return added


def _raise(data: bytearray, at: int, by: int) -> None:
    (value,) = struct.unpack_from("<I", data, at)
    struct.pack_into("<I", data, at, value + by)


def video_index_sizes(path: Path) -> list[int]:
    """Sizes of the video entries of the AVI's idx1 index, in order."""
    data = path.read_bytes()
    at = data.rfind(b"idx1")
    (length,) = struct.unpack_from("<I", data, at + 4)
    entries = (struct.unpack_from("<4sIII", data, i) for i in range(at + 8, at + 8 + length, 16))
    return [size for fourcc, _f, _p, size in entries if fourcc in _VIDEO_IDS]


def video_chunk_ends(path: Path) -> list[int]:
    """The byte just after each video chunk of the movi list (its padding included)."""
    data = path.read_bytes()
    movi = data.find(b"movi") - 8
    (length,) = struct.unpack_from("<I", data, movi + 4)
    return [at + 8 + size + (size & 1) for fourcc, at, size in _chunks(data, movi + 12,
            movi + 8 + length) if fourcc in _VIDEO_IDS]  # fmt: skip


def _headers(data: bytes | bytearray) -> tuple[int, int]:
    """Offsets of the avih chunk and of the video stream's strh chunk."""
    strh = data.find(b"strh")
    while data[strh + 8 : strh + 12] != b"vids":
        strh = data.find(b"strh", strh + 4)
    return data.find(b"avih"), strh


def header_frames(path: Path) -> tuple[int, int]:
    """(avih dwTotalFrames, the video strh dwLength): the frames the header counts."""
    data = path.read_bytes()
    avih, strh = _headers(data)
    return struct.unpack_from("<I", data, avih + 24)[0], struct.unpack_from("<I", data, strh + 40)[
        0
    ]
