"""ffmpeg's `showinfo` filter, read: the per-frame metadata `vidpipe.io.decode_ffmpeg` pairs
with the raw pixels ffmpeg writes to its stdout.

`ShowinfoParser` turns ffmpeg's stderr lines (FFmpeg 5.1 and 9.0 forms) into `ShowinfoFrame`s
(display-order index, pts and time base, picture type, key flag, decoded size, colour names)
and counts the damage ffmpeg reports in its other lines (`DecodeStats`); `frame_color` turns
a frame's colour names into a `ColorInfo`. Pure text parsing: no process, no thread.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction

from vidpipe.io.avnames import CHROMA_LOCATIONS, MATRIX, PRIMARIES, RANGE, TRANSFER
from vidpipe.io.damage import BAD_PACKET_MARKERS, CORRUPT_FRAME_MARKERS, DecodeStats
from vidpipe.types import ColorInfo, PictureType

_UNKNOWN = frozenset({"unknown", "unspecified"})
# "[Parsed_showinfo_0 @ 0x560f2b303140] message"
_SHOWINFO_PREFIX = re.compile(r"\[Parsed_showinfo_\d+ @ (?:0x)?[0-9A-Fa-f]+\] ?")
_KEY_VALUE = re.compile(r"(\w+):\s*(\S+)")
_FRAME_LINE = re.compile(r"n:\s*\d+\s")
_CONFIG_IN = re.compile(r"config in time_base:\s*(\d+)/(\d+)")
_SIZE = re.compile(r"(\d+)x(\d+)")


@dataclass(frozen=True, slots=True)
class ShowinfoFrame:
    """Metadata of one frame as showinfo prints it (FFmpeg names, None when not printed).

    index: showinfo's `n` (0-based, display order); pts in `time_base` units (None for
    NOPTS); time_base from the last `config in time_base:` line; size_wh from `s:`;
    chroma_location from `cl:` (FFmpeg >= 6); the colour fields from the line after it.
    """

    index: int
    pts: int | None
    time_base: Fraction | None
    pict_type: PictureType
    key_frame: bool
    size_wh: tuple[int, int] | None = None
    chroma_location: str | None = None
    color_range: str | None = None
    color_space: str | None = None
    color_primaries: str | None = None
    color_trc: str | None = None


def showinfo_message(line: str) -> str | None:
    """The text after the `[Parsed_showinfo_N @ 0x...]` prefix, None for other lines."""
    match = _SHOWINFO_PREFIX.search(line)
    return None if match is None else line[match.end() :].strip()


def parse_key_values(message: str) -> dict[str, str]:
    """`key:value` pairs of a showinfo message (first occurrence of each key wins)."""
    fields: dict[str, str] = {}
    for key, value in _KEY_VALUE.findall(message):
        fields.setdefault(key, value)
    return fields


def parse_frame_message(message: str, time_base: Fraction | None) -> ShowinfoFrame:
    """Parse showinfo's per-frame message (`n: ... pts: ... type:B ...`), 5.1 or 9.0 form."""
    f = parse_key_values(message)
    pts_text = f.get("pts", "NOPTS")
    size = _SIZE.fullmatch(f.get("s", ""))
    return ShowinfoFrame(
        index=int(f["n"]),
        pts=int(pts_text) if re.fullmatch(r"-?\d+", pts_text) else None,
        time_base=time_base,
        pict_type=PictureType.from_letter(f.get("type", "?")),
        key_frame=f.get("iskey") == "1",
        size_wh=(int(size[1]), int(size[2])) if size else None,
        chroma_location=f.get("cl"),
    )


class ShowinfoParser:
    """Stateful parser of ffmpeg's stderr lines into `ShowinfoFrame`s (for `LineDrain`).

    A frame is complete when its colour line arrives; one still pending is emitted when the
    next frame line comes, or by `finish()` at EOF. Unrelated lines are ignored. `path` is
    the input as given to ffmpeg (its line breaks, if any, continue the `Input #0` line).
    """

    def __init__(self, stats: DecodeStats | None = None, *, path: str = "") -> None:
        self.time_base: Fraction | None = None
        self.stats = stats if stats is not None else DecodeStats()
        self._pending: ShowinfoFrame | None = None
        self._name_lines = path.count("\n")  # lines the file name adds to `Input #0, ...`
        self._skip = 0

    def feed(self, line: str) -> list[ShowinfoFrame]:
        """Parse one stderr line; returns the frames it completes (0, 1 or 2).

        Other lines are only read for damage: undecodable packets, frames decoded with errors.
        """
        message = showinfo_message(line)
        if message is None:
            self._note_damage(line)
            return []
        config = _CONFIG_IN.search(message)
        if config is not None:
            if int(config[2]) != 0:
                self.time_base = Fraction(int(config[1]), int(config[2]))
            return []
        if _FRAME_LINE.match(message):
            done = self.finish()
            self._pending = parse_frame_message(message, self.time_base)
            return done
        if message.startswith("color_range:") and self._pending is not None:
            f = parse_key_values(message)
            frame = dataclasses.replace(
                self._pending,
                color_range=f.get("color_range"),
                color_space=f.get("color_space"),
                color_primaries=f.get("color_primaries"),
                color_trc=f.get("color_trc"),
            )
            self._pending = None
            return [frame]
        return []

    def _note_damage(self, line: str) -> None:
        if self._in_format_dump(line):
            return
        if any(marker in line for marker in BAD_PACKET_MARKERS):
            self.stats.bad_packets += 1
        elif any(marker in line for marker in CORRUPT_FRAME_MARKERS):
            self.stats.corrupt_frames += 1

    def _in_format_dump(self, line: str) -> bool:
        """True for the lines of FFmpeg's format dump: `Input #0, mov, from 'NAME':` (with the
        lines NAME's own line breaks make), `Output #0, ...`, `Stream mapping:` and the indented
        stream and metadata lines under them. They quote the file name and the file's metadata,
        which may hold any words ("truncated.mp4"), so no damage marker is read from them."""
        if self._skip:
            self._skip -= 1
            return True
        if line.startswith("Input #"):
            self._skip = self._name_lines
            return True
        return line.startswith(("Output #", "Stream mapping:", " ", "\t"))

    def finish(self) -> list[ShowinfoFrame]:
        """The pending frame, if any (call at EOF)."""
        done = [] if self._pending is None else [self._pending]
        self._pending = None
        return done


def frame_color(meta: ShowinfoFrame, given: ColorInfo | None) -> ColorInfo:
    """ColorInfo from showinfo's names; an unknown field takes `given`'s value, if given.

    A name FFmpeg does not have counts as unknown: ffmpeg's threads write stderr unlocked, so
    a decoder's message can land inside showinfo's line ("color_range:unknownReference")."""
    base = given if given is not None else ColorInfo()

    def pick(value: str | None, known: Iterable[str], fallback: str) -> str:
        return value if value in known and value not in _UNKNOWN else fallback

    return ColorInfo(
        matrix=pick(meta.color_space, MATRIX.values(), base.matrix),
        range=pick(meta.color_range, RANGE.values(), base.range),
        primaries=pick(meta.color_primaries, PRIMARIES.values(), base.primaries),
        transfer=pick(meta.color_trc, TRANSFER.values(), base.transfer),
        chroma_location=pick(meta.chroma_location, CHROMA_LOCATIONS, base.chroma_location),
    )
