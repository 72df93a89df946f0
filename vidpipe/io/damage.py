"""Damaged input: what both decoding backends count, and how it is reported at the end.

Bad packets are survivable (a warning with the counts, the good frames are kept); a file
that ends early is not (an InputError after the frames that were there).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from vidpipe.errors import InputError

log = logging.getLogger(__name__)

# What FFmpeg logs for a packet its decoder rejected (no frame came of it) ...
BAD_PACKET_MARKERS = ("Error while decoding stream",)
# ... and for a frame decoded with errors (concealed, and kept: PyAV's `frame.is_corrupt`).
CORRUPT_FRAME_MARKERS = ("corrupt decoded frame",)


@dataclass
class DecodeStats:
    """What went wrong while decoding one stream (filled in as the generator runs)."""

    packets: int = 0
    bad_packets: int = 0
    corrupt_frames: int = 0
    demux_error: str | None = None
    truncated: bool = False
    # the container's frame count (for the message), 0 when it records none or counts
    # more than packets (AVI: its empty index entries too)
    expected_packets: int = 0
    empty_packets: int = 0  # index entries without data (AVI: dropped/repeated frames)
    timed_out: bool = False  # a network input stopped sending (its read timeout)


def check_damage(path: str, stats: DecodeStats) -> None:
    """Log one warning for undecodable packets; raise InputError for a truncated file."""
    if stats.bad_packets or stats.corrupt_frames:
        of = f" of {stats.packets}" if stats.packets else ""
        log.warning(
            "%s: %d%s packets could not be decoded, %d frames decoded with errors",
            path,
            stats.bad_packets,
            of,
            stats.corrupt_frames,
        )
    if stats.timed_out:
        raise InputError(f"{path}: timed out waiting for data ({stats.packets} packets read)")
    if stats.truncated:
        expected = f" of {stats.expected_packets}" if stats.expected_packets else ""
        reason = stats.demux_error or "ended early"
        raise InputError(
            f"{path}: truncated or damaged file ({stats.packets}{expected} packets read: {reason})"
        )
