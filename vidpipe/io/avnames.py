"""FFmpeg enum values -> the names ffprobe prints (PyAV hands out bare integers)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from vidpipe.types import ColorInfo

MATRIX = {
    0: "gbr",
    1: "bt709",
    2: "unknown",
    3: "reserved",
    4: "fcc",
    5: "bt470bg",
    6: "smpte170m",
    7: "smpte240m",
    8: "ycgco",
    9: "bt2020nc",
    10: "bt2020c",
    11: "smpte2085",
    12: "chroma-derived-nc",
    13: "chroma-derived-c",
    14: "ictcp",
}
RANGE = {0: "unknown", 1: "tv", 2: "pc"}
PRIMARIES = {
    1: "bt709",
    2: "unknown",
    4: "bt470m",
    5: "bt470bg",
    6: "smpte170m",
    7: "smpte240m",
    8: "film",
    9: "bt2020",
    10: "smpte428",
    11: "smpte431",
    12: "smpte432",
    22: "ebu3213",
}
TRANSFER = {
    1: "bt709",
    2: "unknown",
    4: "bt470m",
    5: "bt470bg",
    6: "smpte170m",
    7: "smpte240m",
    8: "linear",
    9: "log100",
    10: "log316",
    11: "iec61966-2-4",
    12: "bt1361e",
    13: "iec61966-2-1",
    14: "bt2020-10",
    15: "bt2020-12",
    16: "smpte2084",
    17: "smpte428",
    18: "arib-std-b67",
}
# FFmpeg's chroma location names (av_chroma_location_name), "unspecified" aside.
CHROMA_LOCATIONS = frozenset({"left", "center", "topleft", "top", "bottomleft", "bottom"})
FIELD_ORDER = {0: "unknown", 1: "progressive", 2: "tt", 3: "bb", 4: "tb", 5: "bt"}


def color_info(obj: object, chroma_location: str = "unspecified") -> ColorInfo:
    """ColorInfo from anything with PyAV's colour attributes (a VideoFrame or codec context)."""
    from vidpipe.types import ColorInfo

    def name(table: dict[int, str], attr: str) -> str:
        value = getattr(obj, attr, None)
        return table.get(int(value), "unknown") if value is not None else "unknown"

    return ColorInfo(
        matrix=name(MATRIX, "colorspace"),
        range=name(RANGE, "color_range"),
        primaries=name(PRIMARIES, "color_primaries"),
        transfer=name(TRANSFER, "color_trc"),
        chroma_location=chroma_location,
    )
