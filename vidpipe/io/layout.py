"""Whether the data a local file's container records is all in the file: the physical
evidence of truncation for the containers that record where their data lies.

Counting packets against a container's frame count is no such evidence: an AVI index holds
empty entries (dropped or repeated frames) anywhere, first and last included, that the
demuxer never returns, and an MP4 edit list can end before the samples do. So a file is
judged cut by what lies past its last byte:

* AVI (RIFF): a chunk (a RIFF/AVIX list, the `movi` list, `idx1`, ...) whose declared size
  runs past the end of the file; an `idx1` entry or an OpenDML super-index entry (`indx`)
  whose bytes lie past it. Empty index entries hold no bytes and are never missing.
* MP4/MOV (ISO BMFF): a top-level box (`mdat`, `moof`, ...) that runs past the end; a chunk
  of the decoded track's samples (`stco`/`co64`, `stsc`, `stsz`) that does.

`missing_data` reads only the headers and indexes (seeks, no media data) and answers None
wherever the layout is not one it can read: it never makes a file damaged by guessing.
"""

from __future__ import annotations

import functools
import os
import struct
from collections.abc import Iterator
from typing import BinaryIO

import numpy as np

# FFmpeg's demuxer names of the containers read here.
AVI_FORMATS = frozenset({"avi"})
BMFF_FORMATS = frozenset({"mov,mp4,m4a,3gp,3g2,mj2", "mov", "mp4"})
# A box or chunk id is four printable ASCII characters; anything else is not a header (junk
# after the last box, or a misread), and the walk stops there rather than judge it.
_PRINTABLE = frozenset(range(0x20, 0x7F)) | {0xA9}  # 0xA9: QuickTime's "©xyz" atoms
# RIFF sizes that mean "unknown" (a writer that never finished its header).
_UNKNOWN_SIZES = frozenset({0, 0xFFFFFFFF})
_IDX1_ENTRY = np.dtype([("tag", "S4"), ("flags", "<u4"), ("pos", "<u4"), ("size", "<u4")])
_MOOV_LIMIT = 1 << 30  # a moov bigger than this is not read (nothing judged)


def has_layout(format_name: str) -> bool:
    """Whether `missing_data` reads this container (FFmpeg's demuxer name)."""
    return format_name in AVI_FORMATS or format_name in BMFF_FORMATS


def missing_data(path: str, format_name: str, track_id: int = 0) -> str | None:
    """Why data the container of the local file `path` records lies past its end (one line,
    for the error message), or None when it is all there or the layout is not one read here.
    `track_id`: the MP4 track (tkhd track_ID, PyAV's `stream.id`) whose samples are checked."""
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return _missing(path, format_name, track_id, stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=16)
def _missing(path: str, format_name: str, track_id: int, size: int, _mtime_ns: int) -> str | None:
    """`missing_data` for one version of a file (re-read when its size or time changes)."""
    try:
        with open(path, "rb") as f:
            if format_name in AVI_FORMATS:
                return _riff_missing(f, size)
            if format_name in BMFF_FORMATS:
                return _bmff_missing(f, size, track_id)
    except (OSError, struct.error, ValueError):
        return None
    return None


def _name(fourcc: bytes) -> str:
    """A four-character code for a message: anything not printable shown as "?"."""
    return "".join(chr(b) if b in _PRINTABLE else "?" for b in fourcc)


def _is_fourcc(fourcc: bytes) -> bool:
    return len(fourcc) == 4 and all(b in _PRINTABLE for b in fourcc)


def _past_end(what: str, at: int, length: int, size: int) -> str:
    return f"{what} at byte {at} needs {length} bytes, the file ends at byte {size}"


# --- AVI ----------------------------------------------------------------------------------


def _chunks(f: BinaryIO, start: int, end: int) -> Iterator[tuple[bytes, int, int, bytes]]:
    """(id, offset, declared size, list type or b"") of the RIFF chunks from `start` to `end`,
    as long as they look like chunks."""
    at = start
    while at + 8 <= end:
        f.seek(at)
        head = f.read(12)
        if len(head) < 8 or not _is_fourcc(head[:4]):
            return
        fourcc, length = head[:4], struct.unpack_from("<I", head, 4)[0]
        form = head[8:12] if fourcc in (b"RIFF", b"LIST") else b""
        yield fourcc, at, length, form
        at += 8 + length + (length & 1)


def _riff_missing(f: BinaryIO, size: int) -> str | None:
    """The first chunk or index entry of an AVI that lies past the end of the file."""
    for fourcc, at, length, form in _chunks(f, 0, size):
        if fourcc != b"RIFF":
            return None  # after the last RIFF list: not AVI data
        if length in _UNKNOWN_SIZES:
            return _riff_body_missing(f, at + 12, size, size)
        if at + 8 + length > size:
            return _past_end(f"the RIFF '{_name(form)}' list", at, 8 + length, size)
        found = _riff_body_missing(f, at + 12, at + 8 + length, size)
        if found:
            return found
    return None


def _riff_body_missing(f: BinaryIO, start: int, end: int, size: int) -> str | None:
    """Inside one RIFF list: a chunk past the end, then the entries of its indexes."""
    movi = idx1 = None
    supers: list[tuple[int, int]] = []
    for fourcc, at, length, form in _chunks(f, start, end):
        what = f"the '{_name(form)}' list" if form else f"the '{_name(fourcc)}' chunk"
        if length in _UNKNOWN_SIZES and form == b"movi":
            movi = at
            break  # a movi list of unknown length runs to the end: no index after it
        if at + 8 + length > size:
            return _past_end(what, at, 8 + length, size)
        if form == b"movi":
            movi = at
        elif fourcc == b"idx1":
            idx1 = (at + 8, length)
        elif form == b"hdrl":
            supers += _super_index(f, at + 12, at + 8 + length)
    for offset, length in supers:
        if offset + length > size:
            return _past_end("an OpenDML index chunk", offset, length, size)
    if movi is not None and idx1 is not None:
        return _idx1_missing(f, movi, idx1, size)
    return None


def _super_index(f: BinaryIO, start: int, end: int) -> list[tuple[int, int]]:
    """(offset, size) of the index chunks the OpenDML super indexes (`indx`) of a header
    list name, in every stream list (`strl`)."""
    found: list[tuple[int, int]] = []
    for fourcc, at, length, form in _chunks(f, start, end):
        if form == b"strl":
            found += _super_index(f, at + 12, at + 8 + length)
        elif fourcc == b"indx" and length >= 24:
            f.seek(at + 8)
            data = f.read(length)
            longs, _sub, kind, in_use = struct.unpack_from("<HBBI", data)
            if kind != 0 or longs != 4:  # AVI_INDEX_OF_INDEXES, 16-byte entries
                continue
            for i in range(min(in_use, (len(data) - 24) // 16)):
                offset, chunk_size, _duration = struct.unpack_from("<QII", data, 24 + 16 * i)
                if offset:
                    found.append((offset, chunk_size))
    return found


def _idx1_missing(f: BinaryIO, movi: int, idx1: tuple[int, int], size: int) -> str | None:
    """The first non-empty idx1 entry whose data lies past the end of the file. Entry
    offsets count from the `movi` fourcc or from the file's start: the one that puts the
    first non-empty entry on a chunk of its id is taken (neither: nothing judged)."""
    start, length = idx1
    f.seek(start)
    raw = f.read(length - length % 16)
    entries = np.frombuffer(raw, _IDX1_ENTRY)
    filled = np.flatnonzero(entries["size"])
    if not len(filled):
        return None
    first = int(filled[0])  # an empty entry may point anywhere: a full one is a chunk
    for base in (movi + 8, 0):
        f.seek(base + int(entries[first]["pos"]))
        if f.read(4) == raw[16 * first : 16 * first + 4]:
            break
    else:
        return None
    sizes = entries["size"].astype(np.int64)
    ends = base + entries["pos"].astype(np.int64) + 8 + sizes
    past = np.flatnonzero((sizes > 0) & (ends > size))
    if not len(past):
        return None
    i = int(past[0])
    return _past_end(
        f"index entry {i} of {len(entries)}", int(ends[i] - sizes[i]), int(sizes[i]), size
    )


# --- MP4 / MOV ------------------------------------------------------------------------------


def _bmff_missing(f: BinaryIO, size: int, track_id: int) -> str | None:
    """The first top-level box that runs past the end of the file, else the first chunk of
    the track's samples that does."""
    at, moov = 0, None
    while at + 8 <= size:
        f.seek(at)
        head = f.read(16)
        length, kind = struct.unpack_from(">I4s", head)
        header = 8
        if length == 1 and len(head) == 16:
            length, header = struct.unpack_from(">Q", head, 8)[0], 16
        elif length == 0:
            length = size - at  # "to the end of the file"
        if length < header or not _is_fourcc(kind):
            return None  # not a box: the layout is unknown from here on
        if at + length > size:
            return _past_end(f"the '{_name(kind)}' box", at, length, size)
        if kind == b"moov" and length - header <= _MOOV_LIMIT:
            f.seek(at + header)
            moov = f.read(length - header)
        at += length
    return None if moov is None else _samples_missing(moov, track_id, size)


def _boxes(data: bytes, start: int, end: int) -> Iterator[tuple[bytes, int, int]]:
    """(type, payload start, payload end) of the boxes in data[start:end]."""
    at = start
    while at + 8 <= end:
        length, kind = struct.unpack_from(">I4s", data, at)
        header = 8
        if length == 1 and at + 16 <= end:
            length, header = struct.unpack_from(">Q", data, at + 8)[0], 16
        elif length == 0:
            length = end - at
        if length < header or at + length > end:
            return
        yield kind, at + header, at + length
        at += length


def _child(data: bytes, start: int, end: int, *path: bytes) -> tuple[int, int] | None:
    """(start, end) of the payload of the first box along `path` below data[start:end]."""
    for kind in path:
        found = next(((s, e) for k, s, e in _boxes(data, start, end) if k == kind), None)
        if found is None:
            return None
        start, end = found
    return start, end


def _samples_missing(moov: bytes, track_id: int, size: int) -> str | None:
    for kind, start, end in _boxes(moov, 0, len(moov)):
        if kind != b"trak":
            continue
        tkhd = _child(moov, start, end, b"tkhd")
        if tkhd is None:
            continue
        version = moov[tkhd[0]]
        (tid,) = struct.unpack_from(">I", moov, tkhd[0] + (20 if version == 1 else 12))
        if tid != track_id:
            continue
        stbl = _child(moov, start, end, b"mdia", b"minf", b"stbl")
        return None if stbl is None else _chunks_missing(moov, stbl, size)
    return None


def _chunks_missing(moov: bytes, stbl: tuple[int, int], size: int) -> str | None:
    """The first chunk of a sample table whose samples' bytes lie past the end of the file."""
    boxes = {k: (s, e) for k, s, e in _boxes(moov, *stbl)}
    offsets = _chunk_offsets(moov, boxes)
    sizes = _sample_sizes(moov, boxes)
    if offsets is None or sizes is None or b"stsc" not in boxes or not len(offsets):
        return None
    s, _e = boxes[b"stsc"]
    (count,) = struct.unpack_from(">I", moov, s + 4)
    runs = np.frombuffer(moov, ">u4", count * 3, s + 8).reshape(-1, 3).astype(np.int64)
    if not count or runs[0, 0] != 1:
        return None
    starts = np.append(runs[:, 0] - 1, len(offsets)).clip(0, len(offsets))
    per_chunk = np.repeat(runs[:, 1], np.diff(starts).clip(0))
    if len(per_chunk) != len(offsets):
        return None
    first = np.concatenate(([0], np.cumsum(per_chunk)))
    if first[-1] > len(sizes):
        return None
    cumulative = np.concatenate(([0], np.cumsum(sizes)))
    chunk_bytes = cumulative[first[1:]] - cumulative[first[:-1]]
    ends = offsets + chunk_bytes
    past = np.flatnonzero((chunk_bytes > 0) & (ends > size))
    if not len(past):
        return None
    i = int(past[0])
    what = f"chunk {i} of {len(offsets)} of the track's samples"
    return _past_end(what, int(offsets[i]), int(chunk_bytes[i]), size)


def _chunk_offsets(moov: bytes, boxes: dict[bytes, tuple[int, int]]) -> np.ndarray | None:
    """int64[chunks]: the file offset of each chunk (stco or co64)."""
    for kind, dtype in ((b"stco", ">u4"), (b"co64", ">u8")):
        if kind in boxes:
            s, e = boxes[kind]
            (count,) = struct.unpack_from(">I", moov, s + 4)
            if s + 8 + count * np.dtype(dtype).itemsize > e:
                return None
            return np.frombuffer(moov, dtype, count, s + 8).astype(np.int64)
    return None


def _sample_sizes(moov: bytes, boxes: dict[bytes, tuple[int, int]]) -> np.ndarray | None:
    """int64[samples]: each sample's size in bytes (stsz; None for stz2 or a bad table)."""
    if b"stsz" not in boxes:
        return None
    s, e = boxes[b"stsz"]
    uniform, count = struct.unpack_from(">II", moov, s + 4)
    if uniform:
        return np.full(count, uniform, np.int64)
    if s + 12 + 4 * count > e:
        return None
    return np.frombuffer(moov, ">u4", count, s + 12).astype(np.int64)
