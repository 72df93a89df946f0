"""The demuxer's facts about one video stream, shared by both decoding backends.

`StreamPackets` demuxes a stream with PyAV and remembers what the container says of each
packet: its display rank (from the pts), size and key flag. The PyAV backend feeds these
packets to its decoder; the FFmpeg-subprocess backend demuxes the same file alongside its
ffmpeg child and looks its frames up here. So both backends take indexes, key flags, packet
counts and the truncation judgement from the container, not from one FFmpeg version's
decoder or log.

`BestEffort` is FFmpeg's best-effort timestamp (libavcodec's `guess_correct_pts`), which
both the ffmpeg CLI and ffprobe use: a frame's pts while pts is the less faulty clock, else
the dts of the packet that completed it.
"""

from __future__ import annotations

import heapq
import os
from collections.abc import Iterator
from fractions import Fraction
from typing import NamedTuple

import av
import av.error

from vidpipe.io.damage import DecodeStats
from vidpipe.io.layout import has_layout, missing_data

# Packets read ahead of a decoder; must exceed any stream's reorder depth (H.264: <= 16).
LOOKAHEAD = 32
# Demuxers whose container stores no presentation timestamps, only a decode-order clock
# (AVI's frame counter). FFmpeg invents their pts from the dts, in decode order, so on a
# stream with B-frames those pts are faulty; the best-effort timestamp is then the dts.
DTS_ONLY_FORMATS = frozenset({"avi"})
# Matroska data ending this much before its declared duration means the file was cut.
_DURATION_SLACK_S = 0.5


class PacketFacts(NamedTuple):
    """What the container records of one packet: display rank, bytes, key flag."""

    index: int
    size: int
    key: bool


class _DisplayOrder:
    """Assigns display-order indexes from packet pts seen in decode order.

    A pts is given its index once more than `window` later packets are known, which is final
    as long as no frame is reordered further than `window` packets. Streams whose packets
    lack pts (or repeat one) fall back to counting decoded frames (`ordinal_mode`).
    """

    def __init__(self, window: int) -> None:
        self._window = window
        self._heap: list[int] = []
        self._facts: dict[int, tuple[int, bool]] = {}
        self._assigned: dict[int, PacketFacts] = {}
        self._next = 0
        self.last_assigned: int | None = None
        self.ordinal_mode = False

    def add(self, pts: int | None, size: int, key: bool = False) -> None:
        if self.ordinal_mode:
            return
        if pts is None or pts in self._facts or pts in self._assigned:
            self.ordinal_mode = True  # no usable pts: indexes count decoded frames instead
            self._heap.clear()
            self._facts.clear()
            self._assigned.clear()
            return
        heapq.heappush(self._heap, pts)
        self._facts[pts] = (size, key)
        while len(self._heap) > self._window:
            self._pop()

    def finish(self) -> None:
        while self._heap:
            self._pop()

    def _pop(self) -> None:
        pts = heapq.heappop(self._heap)
        size, key = self._facts.pop(pts)
        self._assigned[pts] = PacketFacts(self._next, size, key)
        self.last_assigned = pts
        self._next += 1

    def take(self, pts: int | None) -> PacketFacts | None:
        """The facts of the packet with this pts (once), None when unknown or not final."""
        return None if pts is None else self._assigned.pop(pts, None)

    def pending(self, pts: int | None) -> bool:
        """True while the packet with this pts is known but its index is not final."""
        return pts is not None and pts in self._facts

    def decided(self, pts: int) -> bool:
        """True once it is final whether (and where) a packet with this pts exists."""
        return pts in self._assigned or (
            self.last_assigned is not None and self.last_assigned >= pts
        )


class StreamPackets:
    """Demuxes one video stream, counting packets and remembering their facts by pts.

    Iterate it for the stream's non-empty packets (in decode order); `lookup` pulls packets
    itself when a consumer that does not decode them (the ffmpeg backend) needs a frame's
    facts. Empty packets (AVI index entries of dropped or repeated frames) are counted apart:
    they hold no frame. At the end the file is judged cut or whole (`stats.truncated`).
    """

    def __init__(
        self,
        container: av.container.InputContainer,
        stream: av.VideoStream,
        stats: DecodeStats,
        *,
        window: int = LOOKAHEAD,
    ) -> None:
        self.stats = stats
        self.dts_only = container.format.name in DTS_ONLY_FORMATS
        self.order = _DisplayOrder(window)
        self.all_key = True  # every packet so far flagged key (intra-only streams)
        self._container = container
        self._stream = stream
        self._packets: Iterator[av.Packet] | None = None

    def __iter__(self) -> Iterator[av.Packet]:
        if self._packets is None:
            self._packets = self._demux()
        return self._packets

    def facts(self, pts: int | None) -> PacketFacts | None:
        """The facts of the packet whose pts is `pts` (FFmpeg gives a frame its own packet's
        pts, real or invented), taken once; None when no such packet is known."""
        return self.order.take(pts)

    def lookup(self, pts: int | None) -> PacketFacts | None:
        """`facts(pts)`, demuxing on until it is known (for a consumer that decodes elsewhere).
        Never used in ordinal mode or on a DTS-only container: there pts name no packet."""
        if pts is None:
            return None
        packets = iter(self)
        while not self.order.ordinal_mode and not self.order.decided(pts):
            if next(packets, None) is None:
                break
        return self.order.take(pts)

    def keep_ahead(self, frames: int) -> None:
        """Demux until LOOKAHEAD packets past `frames` are known (as a decoder fed from here
        would be), so `all_key` says the same to both backends."""
        packets = iter(self)
        while self.stats.packets <= frames + LOOKAHEAD and next(packets, None) is not None:
            pass

    def close(self) -> None:
        """Stop demuxing (early), dropping the generator that refers back to this object, so
        the container and its decoder are freed at once rather than by the cycle collector."""
        if self._packets is not None:
            self._packets.close()
            self._packets = None

    def drain(self) -> None:
        """Demux to the end (counts and the truncation judgement)."""
        for _packet in self:
            pass

    def _demux(self) -> Iterator[av.Packet]:
        """The stream's non-empty packets; a demuxer error ends the stream. FFmpeg's log is
        never enabled here: its callback from a frame-threaded decoder can deadlock against
        the GIL when the decoder is closed."""
        container, stream, stats = self._container, self._stream, self.stats
        # AVI's count is of index entries, the empty ones too: no count of packets.
        stats.expected_packets = 0 if self.dts_only else stream.frames
        declared = container.duration / av.time_base if container.duration else None
        end_time = 0.0
        packets = container.demux(stream)
        while True:
            try:
                packet = next(packets)
            except StopIteration:
                break
            except av.error.FFmpegError as exc:
                # PyAV's read timeout interrupts FFmpeg (ExitError); FFmpeg's own is ETIMEDOUT
                stats.timed_out = isinstance(exc, (av.error.ExitError, TimeoutError))
                stats.demux_error = "timed out waiting for data" if stats.timed_out else str(
                    exc.strerror or exc)  # fmt: skip
                break
            if not packet.size:
                if packet.dts is not None or packet.pts is not None:
                    stats.empty_packets += 1  # an index entry without data: no frame
                continue
            stats.packets += 1
            if packet.is_corrupt:
                stats.demux_error = f"corrupt packet at byte {packet.pos}"
            if packet.pts is not None and packet.time_base:
                end = float((packet.pts + packet.duration) * packet.time_base)
                end_time = max(end_time, end)
            self.all_key = self.all_key and packet.is_keyframe
            self.order.add(packet.pts, packet.size, packet.is_keyframe)
            yield packet
        self.order.finish()
        self._judge_truncation(declared, end_time)

    def _judge_truncation(self, declared: float | None, end_time: float) -> None:
        """A file is truncated when data it records is missing: the demuxer failed or read a
        packet short; a chunk, box or index entry of an AVI or MP4/MOV lies past the end of
        the file (`layout.missing_data`); Matroska/WebM data stops well before the duration
        its header declares (its only record of the length). Packet counts are not compared
        where the layout is read: they differ in whole files (an AVI's empty index entries,
        anywhere; an MP4 edit list that ends before its samples). A container read nowhere
        here is cut when it delivered fewer packets than the frames it records."""
        stats, name = self.stats, self._container.format.name
        if stats.demux_error is None:
            stats.demux_error = self._missing_data()
        if "matroska" in name and declared is not None and end_time < declared - _DURATION_SLACK_S:
            stats.demux_error = f"data ends at {end_time:.2f} s of a declared {declared:.2f} s"
        stats.truncated = stats.demux_error is not None

    def _missing_data(self) -> str | None:
        """Why the container's data is incomplete: from its layout where it is a local file
        `layout` reads, else from its count of frames (None: complete, or no count)."""
        container, stats = self._container, self.stats
        name = container.format.name
        if has_layout(name) and os.path.isfile(container.name):
            return missing_data(container.name, name, self._stream.id)
        if stats.packets + stats.empty_packets < stats.expected_packets:
            return "file ends before the frames its index records"
        return None


class BestEffort:
    """FFmpeg's best-effort timestamps of decoded frames, fed in decoder output order.

    `next(pts, dts, duration)`: pts is the frame's own (None when the container stores none),
    dts the dts of the packet that completed it. As libavcodec's `guess_correct_pts`: pts
    unless pts has gone backwards more often than dts (or is missing), else dts. A frame with
    neither (one the final flush produced) follows the previous frame by its duration, or by
    `default_step` ticks, as the ffmpeg CLI times it.
    """

    def __init__(self, default_step: int = 1) -> None:
        self._default_step = max(1, default_step)
        self._faulty_pts = self._faulty_dts = 0
        self._last_pts: int | None = None
        self._last_dts: int | None = None
        self._last: int | None = None
        self._step = self._default_step

    def next(self, pts: int | None, dts: int | None, duration: int = 0) -> int | None:
        if dts is not None:
            self._faulty_dts += self._last_dts is not None and dts <= self._last_dts
            self._last_dts = dts
        if pts is not None:
            self._faulty_pts += self._last_pts is not None and pts <= self._last_pts
            self._last_pts = pts
        if pts is not None and (self._faulty_pts <= self._faulty_dts or dts is None):
            best: int | None = pts
        else:
            best = dts
        if best is None:
            if self._last is None:
                return None
            best = self._last + self._step
        elif self._last is not None and best > self._last:
            self._step = best - self._last
        if duration > 0:
            self._step = duration
        self._last = best
        return best


def default_step(stream: av.VideoStream) -> int:
    """One frame's duration in the stream's time base from its frame rate (at least 1)."""
    rate = stream.guessed_rate or stream.base_rate or stream.average_rate
    if not rate or not stream.time_base:
        return 1
    return max(1, round(1 / (Fraction(rate) * Fraction(stream.time_base))))
