"""vidpipe.io.layout: data a container records that lies past the end of the file (the
physical evidence of truncation), on generated AVI and MP4 files and byte-level edits of them.
Plus, end to end, the MP4 case where counting packets misled too: an edit list that ends
before the samples (ffmpeg plays the edited part, silently) is a whole file.
"""

from __future__ import annotations

import json
import struct
import subprocess
from pathlib import Path

import avi_entries
import pytest
from conftest import cached_media, ffprobe_json, needs_ffmpeg_cli, needs_ffprobe

from vidpipe.cli.main import main
from vidpipe.io.layout import has_layout, missing_data

pytestmark = needs_ffmpeg_cli

MP4 = "mov,mp4,m4a,3gp,3g2,mj2"  # FFmpeg's name of the MOV/MP4 demuxer
BACKENDS = ("av", "ffmpeg")


def _ffmpeg(*args: str) -> None:
    cmd = ["ffmpeg", "-nostdin", "-v", "error", "-y", *args]
    subprocess.run(cmd, check=True, capture_output=True, timeout=60)


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = cached_media(tmp_path_factory.mktemp("layout"), _write_media)
    return {p.stem: p for p in d.iterdir()}


def _write_media(d: Path) -> None:
    src = ["-f", "lavfi", "-i", "testsrc2=size=64x48:rate=25:duration=2"]
    x264 = ["-c:v", "libx264", "-preset", "veryfast", "-g", "10"]
    _ffmpeg(*src, *x264, "-movflags", "+faststart", str(d / "faststart.mp4"))
    _ffmpeg(*src, *x264, "-movflags", "frag_keyframe+empty_moov", str(d / "fragmented.mp4"))
    _ffmpeg(*src, *x264, "-bf", "2", str(d / "edited.mp4"))
    avi = avi_entries.make_avi(d / "base.avi", "mjpeg")
    avi_entries.add_empty_entries(avi, d / "empty.avi", {0: 2, 20: 2}, 2)


def _cut(src: Path, dst: Path, length: int) -> str:
    dst.write_bytes(src.read_bytes()[:length])
    return str(dst)


def _idx1(data: bytes | bytearray) -> tuple[int, int, int]:
    """(offset of the idx1 entries, their count, offset of the 'movi' fourcc)."""
    at = data.rfind(b"idx1")
    return at + 8, struct.unpack_from("<I", data, at + 4)[0] // 16, data.find(b"movi")


def test_containers_read_here():
    assert has_layout("avi") and has_layout(MP4)
    assert not has_layout("matroska,webm") and not has_layout("ivf")
    assert missing_data("/nonexistent/file.avi", "avi") is None


# --- AVI ---------------------------------------------------------------------------------------


def test_avi_whole_with_empty_entries_misses_nothing(media):
    assert missing_data(str(media["empty"]), "avi") is None


def test_avi_cut_is_missing_its_riff_tail(media, tmp_path):
    src = media["empty"]
    for percent in (10, 50, 90, 99):
        length = src.stat().st_size * percent // 100
        found = missing_data(_cut(src, tmp_path / f"cut{percent}.avi", length), "avi")
        assert found == (
            f"the RIFF 'AVI ' list at byte 0 needs {src.stat().st_size} bytes, "
            f"the file ends at byte {length}"
        )


def _entry_sizes(data: bytes | bytearray) -> list[int]:
    start, count, _movi = _idx1(data)
    return [struct.unpack_from("<I", data, start + 16 * i + 12)[0] for i in range(count)]


def _point(data: bytearray, entry: int, pos: int) -> None:
    """Set the offset of idx1 entry `entry`."""
    start, _count, _movi = _idx1(data)
    struct.pack_into("<I", data, start + 16 * entry + 8, pos)


def test_avi_empty_entries_have_no_bytes_to_miss_wherever_they_point(media, tmp_path):
    data = bytearray(media["empty"].read_bytes())
    sizes = _entry_sizes(data)
    assert sizes[0] == 0 and sizes[-1] == 0  # empty entries first and last
    for i, size in enumerate(sizes):
        if size == 0:
            _point(data, i, 0xFFFFFFF0)  # nowhere
    path = tmp_path / "nowhere.avi"
    path.write_bytes(bytes(data))
    assert missing_data(str(path), "avi") is None
    last = max(i for i, size in enumerate(sizes) if size)  # a full entry past the end is
    _point(data, last, len(data))  # ... still found
    path.write_bytes(bytes(data))
    found = missing_data(str(path), "avi")
    assert found is not None and found.startswith(f"index entry {last} of {len(sizes)} at byte ")
    assert found.endswith(f"the file ends at byte {len(data)}")


def test_avi_index_with_absolute_offsets(media, tmp_path):
    """idx1 offsets from the file's start (some writers) are read as such."""
    data = bytearray(media["empty"].read_bytes())
    start, count, movi = _idx1(data)
    for i in range(count):
        (pos,) = struct.unpack_from("<I", data, start + 16 * i + 8)
        _point(data, i, pos + movi)
    path = tmp_path / "absolute.avi"
    path.write_bytes(bytes(data))
    assert missing_data(str(path), "avi") is None
    sizes = _entry_sizes(data)
    last = max(i for i, size in enumerate(sizes) if size)
    _point(data, last, len(data))
    path.write_bytes(bytes(data))
    found = missing_data(str(path), "avi")
    assert found is not None and found.startswith(f"index entry {last} of {count} at byte ")
    first = min(i for i, size in enumerate(sizes) if size)
    _point(data, first, 3)  # the first full entry on no chunk: the offsets are unreadable
    path.write_bytes(bytes(data))
    assert missing_data(str(path), "avi") is None  # ... and nothing is judged


def test_avi_unknown_riff_size_and_trailing_bytes(media, tmp_path):
    data = bytearray(media["empty"].read_bytes())
    path = tmp_path / "odd.avi"
    path.write_bytes(bytes(data) + b"\0\0\x01garbage after the RIFF list" * 10)
    assert missing_data(str(path), "avi") is None
    struct.pack_into("<I", data, 4, 0)  # a writer that never finished its header
    path.write_bytes(bytes(data))
    assert missing_data(str(path), "avi") is None


def test_avi_names_in_the_message_are_printable(media, tmp_path):
    """A list type is shown as read, any byte that is not printable as "?": the error
    stays one line."""
    data = bytearray(media["base"].read_bytes())
    movi = data.find(b"movi") - 8
    data[movi + 8 : movi + 12] = b"mo\nv"
    struct.pack_into("<I", data, movi + 4, len(data))  # ... and runs past the end
    path = tmp_path / "named.avi"
    path.write_bytes(bytes(data))
    assert missing_data(str(path), "avi") == (
        f"the 'mo?v' list at byte {movi} needs {len(data) + 8} bytes, "
        f"the file ends at byte {len(data)}"
    )


def test_avi_opendml_super_index_entry_past_the_end(media, tmp_path):
    """The super index (`indx`, in the video stream's header list) names an index chunk
    beyond the end of the file (the rest of an OpenDML file is missing)."""
    data = bytearray(media["base"].read_bytes())
    strl = data.find(b"strl")
    junk = data.find(b"JUNK", strl)  # ffmpeg reserves the super index's room as JUNK
    (room,) = struct.unpack_from("<I", data, junk + 4)
    entry = struct.pack("<QII", len(data) + 1000, 4096, 40)
    indx = struct.pack("<HBBI4s12x", 4, 0, 0, 1, b"00dc") + entry
    data[junk : junk + 8 + room] = b"indx" + struct.pack("<I", room) + indx.ljust(room, b"\0")
    path = tmp_path / "odml.avi"
    path.write_bytes(bytes(data))
    assert missing_data(str(path), "avi") == (
        f"an OpenDML index chunk at byte {len(data) + 1000} needs 4096 bytes, "
        f"the file ends at byte {len(data)}"
    )


# --- MP4 -------------------------------------------------------------------------------------


def _video_id(path: Path) -> int:
    return int(
        ffprobe_json(path, "-select_streams", "v:0", "-show_streams")["streams"][0]["id"], 16
    )


@needs_ffprobe
def test_mp4_whole_misses_nothing(media):
    for name in ("faststart", "fragmented", "edited"):
        assert missing_data(str(media[name]), MP4, _video_id(media[name])) is None


@needs_ffprobe
@pytest.mark.parametrize("name", ["faststart", "fragmented"])
def test_mp4_cut_is_missing_a_box(media, tmp_path, name):
    src = media[name]
    for percent in (30, 60, 90):
        length = src.stat().st_size * percent // 100
        found = missing_data(_cut(src, tmp_path / f"cut{percent}.mp4", length), MP4, 1)
        assert found is not None and found.startswith(("the 'mdat' box", "the 'moof' box"))
        assert found.endswith(f"the file ends at byte {length}")


@needs_ffprobe
def test_mp4_samples_past_the_end_of_an_open_ended_mdat(media, tmp_path):
    """An mdat of size 0 runs to the end of the file, whatever it is: the sample table
    (chunk offsets and sample sizes) says what is missing."""
    data = bytearray(media["faststart"].read_bytes())
    mdat = data.find(b"mdat") - 4
    struct.pack_into(">I", data, mdat, 0)
    length = mdat + (len(data) - mdat) // 2
    path = tmp_path / "open.mp4"
    path.write_bytes(bytes(data[:length]))
    found = missing_data(str(path), MP4, _video_id(media["faststart"]))
    assert found is not None and found.startswith("chunk ")
    assert " of the track's samples at byte " in found
    assert found.endswith(f"the file ends at byte {length}")
    assert missing_data(str(path), MP4, 99) is None  # no such track: nothing judged


def _shorten_edit_list(src: Path, dst: Path) -> None:
    """The edit list plays the first half of the media only."""
    data = bytearray(src.read_bytes())
    elst = data.find(b"elst")
    assert elst > 0 and data[elst + 4] == 0, "a version 0 edit list"
    (duration,) = struct.unpack_from(">I", data, elst + 12)
    struct.pack_into(">I", data, elst + 12, duration // 2)
    dst.write_bytes(bytes(data))


@needs_ffprobe
@pytest.mark.parametrize("backend", BACKENDS)
def test_mp4_edit_list_ending_before_its_samples_is_whole(media, tmp_path, backend, capsys):
    """The demuxer returns fewer packets than the sample table counts; that is no damage."""
    path = tmp_path / "half.mp4"
    _shorten_edit_list(media["edited"], path)
    frames = ffprobe_json(
        path,
        "-select_streams",
        "v:0",
        "-show_frames",
        "-show_entries",
        "frame=best_effort_timestamp",
    )["frames"]
    stream = ffprobe_json(path, "-select_streams", "v:0", "-show_streams")["streams"][0]
    assert len(frames) < int(stream["nb_frames"])  # the count differs, the file is whole
    code = main(["frames", "--json", "--backend", backend, str(path)])
    out, err = capsys.readouterr()
    assert (code, err) == (0, "")
    records = [json.loads(line) for line in out.splitlines()]
    assert [r["pts"] for r in records] == [f["best_effort_timestamp"] for f in frames]


@pytest.mark.parametrize("backend", BACKENDS)
def test_mp4_cut_is_still_refused(media, tmp_path, backend, capsys):
    src = media["faststart"]
    path = _cut(src, tmp_path / "cut.mp4", src.stat().st_size * 6 // 10)
    code = main(["frames", "--json", "--backend", backend, path])
    _out, err = capsys.readouterr()
    assert code == 2 and err.splitlines()[-1].startswith(f"error: {path}: truncated or damaged")
