"""Recipes: a Source, stages and Sinks composed from validated options, for the CLI, `vidpipe
batch` and Python callers alike (one definition of each run).

    Source ─► prefetch ─► stage(s) ─► Sink (encoder thread; audio copied)     process_file
    Source ─► prefetch ─► [ops] ─► detect ─► [track] ─► JSON Lines / COCO / MOT / events
                                                    ─► annotate [+ trails] ─► Sink
                                                                             detect_file
    Source (sampled: I / key frames) ─► ... ─► detect ─► JSON Lines, intervals [+ thumbs]
                                                             detect_file(scan=ScanOptions())

Decoding runs on a prefetch thread ahead of the stages, encoding on the Sink's thread behind
them. Whatever ends a run (the end, an error in any stage, Ctrl-C), the chain is closed from
its end, which stops and joins the threads, closes the decoder (or kills its ffmpeg) and
removes the temporary output files: outputs appear only when the whole run succeeded.
"""

from __future__ import annotations

import contextlib
import dataclasses
import heapq
import logging
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vidpipe.detectors.options import DetectOptions
from vidpipe.errors import InputError
from vidpipe.io.decode import Backend
from vidpipe.io.encode import EncodeResult
from vidpipe.io.encode_options import EncodeOptions
from vidpipe.io.segments import open_sink
from vidpipe.io.source import Source
from vidpipe.pipeline.detect import FrameDetector, detect
from vidpipe.pipeline.options import OpOptions, ScanOptions, Stage, check_scan_flags
from vidpipe.runtime.closing import close_if_closable
from vidpipe.runtime.signals import stop_gracefully
from vidpipe.runtime.threads import prefetch
from vidpipe.tracking.options import Line, TrackOptions, check_tracked_outputs
from vidpipe.types import Detections, Frame, VideoInfo

if TYPE_CHECKING:
    from vidpipe.tracking.counting import Counter

log = logging.getLogger(__name__)

QUEUE_FRAMES = 8  # frames held by the decode queue: memory does not grow with length
# x264/x265 preset of a detect run's annotated video unless asked otherwise: a preview should
# not spend more on the encoder than on detection. Measured (720p real footage, 2 cores):
# libx264 medium needs more time than the whole OpenCV + mp4v script; veryfast at its default
# CRF is ~3x faster and still a fraction of mp4v's size.
PREVIEW_PRESET = "ultrafast"

# Wraps the processed stream before the encoder (a progress bar); gets the source's info.
Observe = Callable[[Iterator[Frame], VideoInfo], Iterator[Frame]]


def process_file(
    source: str | os.PathLike[str] | Source,
    output: str | os.PathLike[str],
    stages: Sequence[Stage] | OpOptions,
    *,
    encode: EncodeOptions = EncodeOptions(),
    backend: Backend = "av",
    observe: Observe | None = None,
) -> EncodeResult:
    """Run `stages` (or the stages of an `OpOptions`) over every frame of `source` and encode
    the result to `output`, the source's audio and subtitles copied."""
    if isinstance(stages, OpOptions):
        stages = stages.stages()
    with _opened(source, backend) as src, open_sink(output, like=src, options=encode) as sink:
        _drain(src, stages, observe, sink.write)
    src.check_lost()
    return sink.close()


@dataclass(frozen=True)
class DetectResult:
    """What `detect_file` did: frames detected, the video written (None: no video), and for a
    run counting lines or zones the totals (`vidpipe.tracking.counting.Counter.totals`)."""

    frames: int
    video: EncodeResult | None
    counts: dict[str, Any] | None = None
    scan: list[dict[str, Any]] | None = None  # a scan's summary (`ScanSummary.table`)


def detect_file(
    source: str | os.PathLike[str] | Source,
    *,
    video: str | os.PathLike[str] | None = None,
    jsonl: str | os.PathLike[str] | None = None,
    coco: str | os.PathLike[str] | None = None,
    mot: str | os.PathLike[str] | None = None,
    events: str | os.PathLike[str] | None = None,
    detect_options: DetectOptions = DetectOptions(),
    track: TrackOptions | None = None,
    ops: OpOptions = OpOptions(),
    encode: EncodeOptions = EncodeOptions(),
    backend: Backend = "av",
    detector: FrameDetector | None = None,
    observe: Observe | None = None,
    scan: ScanOptions | None = None,
    intervals: str | os.PathLike[str] | None = None,
    thumbs: str | os.PathLike[str] | None = None,
) -> DetectResult:
    """Detect objects in every frame of `source` (after `ops`), track them when `track` is
    given; write the detections as JSON Lines (`jsonl`, "-": stdout), COCO results (`coco`),
    MOTChallenge text (`mot`, tracked runs), the line and zone events with the totals last
    (`events`, JSON Lines), and / or a re-encoded `video` with boxes (and trails) drawn. At
    least one output is needed.

    `detector`: one already loaded (a worker's cache, a model server's client); None loads
    `detect_options`' model once the input and outputs are checked. Codec "auto" picks
    h264_nvenc on a CUDA detector when it opens. Raises InputError for a bad input or output
    (before the model loads).

    `scan`: detect on the sampled frames only (`vidpipe.pipeline.scan`); their intervals per
    class go to `intervals` (JSON Lines), the best frame of each, boxes drawn, to the folder
    `thumbs`; the summary comes back in `DetectResult.scan`. A scan writes no video."""
    targets = [video, jsonl, coco, mot, events, intervals]
    if all(t is None for t in targets) and thumbs is None:
        raise InputError("nothing to write: give a video, JSON Lines, COCO, MOT or events output")
    check_tracked_outputs(track, mot=mot is not None, events=events is not None)
    _check_scan(scan, video, intervals, thumbs, track)
    with contextlib.ExitStack() as stack:
        src = stack.enter_context(_opened(source, backend))
        _check_targets(src, targets, encode.overwrite)
        if detector is None:
            from vidpipe.detectors.detector import load_detector

            detector = load_detector(detect_options)
        # Entered before the Sink, so closed after it: the video is complete before any file
        # appears (an ExitStack closes last-in first).
        write = _result_writers(stack, jsonl, coco, mot, detector.names, src)
        counter = _counter(track)
        count_events = _event_writer(stack, events, counter, detector.names, src.info.live)
        scanned = _scan_writer(stack, scan, intervals, thumbs, detector.names)
        sink = None
        if video is not None:
            if encode.codec == "auto":
                from vidpipe.io.output import auto_codec

                cuda = str(getattr(detector, "device", "cpu")).startswith("cuda")
                encode = _with_codec(encode, auto_codec(video, gpu=cuda))
            if encode.preset is None and encode.codec in ("libx264", "libx265"):
                encode = dataclasses.replace(encode, preset=PREVIEW_PRESET)
            sink = stack.enter_context(open_sink(video, like=src, options=encode))
        batch = detect_options.batch or detector.batch
        draw = _drawer(detector.names, track, counter) if sink is not None else None

        def stage(frames: Iterator[Frame]) -> Iterator[Frame]:
            pairs = detect(frames, detector, batch=batch)
            if scan is not None and scan.refine:
                pairs = _refined(pairs, src, ops, detector, batch, every=track is not None)
            if track is not None:
                from vidpipe.pipeline.track import track as track_stage

                pairs = track_stage(pairs, track)
            try:
                for frame, dets in pairs:
                    write(frame, dets)
                    count_events(frame, dets)
                    scanned(frame, dets)
                    yield draw(frame, dets) if draw is not None else frame
            finally:
                pairs.close()

        stages = [*ops.stages(), stage]
        frames = src.frames() if scan is None else _sampled(src, scan)
        count = _drain(src, stages, observe, sink.write if sink else None, frames)
        totals = count_events(None, None)
        summary = scanned(None, None)
    src.check_lost()
    return DetectResult(count, sink.close() if sink is not None else None, totals, summary)


def _sampled(src: Source, scan: ScanOptions) -> Iterator[Frame]:
    """A scan's frames: by the decoder's skip mode (I / key) merged with the ones `scan.plan`
    wants by seeks (time sampling; I / key: fills in long GOPs and the last frame)."""
    from vidpipe.pipeline.scan import plan

    if src.info.live and (scan.skip is None or scan.refine):
        raise InputError("--scan seeks (--refine, --sample DURATION|every:N): not in a live stream")
    if src.info.live:
        return src.frames(scan.skip)  # type: ignore[arg-type]
    try:
        index = src.frame_index()
    except InputError:
        if scan.skip is None:
            raise
        return src.frames(scan.skip)  # type: ignore[arg-type]  # no times: the skip mode
    indexes, note = plan(index, scan)
    if note is not None:
        log.warning("%s: %s", src.name, note)
    if scan.skip is None:
        return src.frames_at(indexes)
    return _merged(src.frames(scan.skip), src.frames_at(indexes))  # type: ignore[arg-type]


def _merged(*streams: Iterator[Frame]) -> Iterator[Frame]:
    """Frames of several decodes of one video in display order, each index once."""
    seen = -1
    try:
        for frame in heapq.merge(*streams, key=lambda f: f.index):
            if frame.index > seen:
                seen = frame.index
                yield frame
    finally:
        for stream in streams:
            stream.close()  # type: ignore[attr-defined]


def _refined(
    pairs: Iterator[tuple[Frame, Detections]], src: Source, ops: OpOptions,
    detector: FrameDetector, batch: int, *, every: bool,
) -> Iterator[tuple[Frame, Detections]]:  # fmt: skip
    """A scan's pairs with the frames between changed samples detected too, through the
    same ops as the samples; with `every` (a tracked scan) every frame of such a stretch,
    so that the tracker follows its objects frame by frame there."""
    from vidpipe.pipeline.scan import STRIDES, refine

    def frames_from(sample: Frame) -> Iterator[Frame]:
        frames: Iterator[Frame] = src.frames(start=sample)
        for op in ops.stages():
            frames = op(frames)
        return frames

    def detect_all(frames: list[Frame]) -> list[Detections]:
        return [dets for _, dets in detect(frames, detector, batch=batch)] if frames else []

    return refine(pairs, frames_from, detect_all, strides=() if every else STRIDES)


def _check_scan(
    scan: ScanOptions | None, video: Any, intervals: Any, thumbs: Any, track: TrackOptions | None
) -> None:
    """InputError for a scan asked what it cannot do (`ScanOptions.check`), or scan outputs
    without a scan."""
    if scan is not None:
        counting = track is not None and bool(track.lines or track.zones)
        scan.check(video=video is not None, track=track is not None, counting=counting)
    check_scan_flags(scan is not None, intervals=intervals is not None, thumbs=thumbs is not None)


def _scan_writer(
    stack: contextlib.ExitStack, scan: ScanOptions | None, intervals: Any, thumbs: Any,
    names: Sequence[str],
) -> Callable[[Frame | None, Detections | None], list[dict[str, Any]] | None]:  # fmt: skip
    """One call per sampled frame; a last call with (None, None) closes the intervals still
    open and returns the summary table. Without a scan it does nothing and returns None."""
    if scan is None:
        return lambda frame, dets: None
    from vidpipe.pipeline.results import EventsJsonl
    from vidpipe.pipeline.scan import interval_writer

    lines = None if intervals is None else stack.enter_context(
        EventsJsonl(os.fspath(intervals), names))  # fmt: skip
    update, finish = interval_writer(
        (lambda record: lines.write([record])) if lines is not None else None, thumbs, names
    )

    def step(frame: Frame | None, dets: Detections | None) -> list[dict[str, Any]] | None:
        if frame is None or dets is None:
            return finish().table()
        update(frame, dets)
        return None

    return step


def _drawer(
    names: Sequence[str], track: TrackOptions | None, counter: Counter | None = None
) -> Callable[[Frame, Detections], Frame]:
    """Boxes and labels, with `track.trails` each track's recent path, and with a `counter`
    its lines and zones under them, captioned on top with the totals counted so far (the
    frame's own count already made: the caller counts it first)."""
    from vidpipe.draw.boxes import annotate
    from vidpipe.draw.regions import Region, draw_captions, draw_regions
    from vidpipe.draw.trails import draw_trails
    from vidpipe.pipeline.track import frame_time
    from vidpipe.tracking.counting import Trails

    trails = Trails(track.trails, track.lost_s) if track is not None and track.trails else None
    shapes = [] if counter is None else [
        (g.name, (g.xyxy[:2], g.xyxy[2:]) if isinstance(g, Line) else g.points)
        for g in (*counter.lines, *counter.zones)
    ]  # fmt: skip

    def draw(frame: Frame, dets: Detections) -> Frame:
        captions = counter.captions() if counter is not None else {}
        regions = [Region(tuple(points), captions[name]) for name, points in shapes]
        frame = draw_regions(frame, regions)
        if trails is not None:
            frame = draw_trails(frame, trails.update(dets, frame_time(frame)))
        return draw_captions(annotate(frame, dets, names), regions)

    return draw


def _counter(track: TrackOptions | None) -> Counter | None:
    """The line and zone counter of a tracked run (None: no lines nor zones)."""
    if track is None or not (track.lines or track.zones):
        return None
    from vidpipe.tracking.counting import Counter

    return Counter(track.line_geometry(), track.zone_geometry(), track.lost_s, track.anchor)


def _event_writer(
    stack: contextlib.ExitStack,
    events: Any,
    counter: Counter | None,
    names: Sequence[str],
    live: bool = False,
) -> Callable[[Frame | None, Detections | None], dict[str, Any] | None]:
    """One call per tracked frame that counts it and writes its events (to `events`, when
    given) in time order, as `counter` hands them out; a last call with (None, None) writes
    the events still held and the exits at the end, then the totals, and returns the totals.
    Without a counter (no lines nor zones) it does nothing and returns None."""
    if counter is None:
        return lambda frame, dets: None
    from vidpipe.pipeline.results import EventsJsonl
    from vidpipe.pipeline.track import frame_time

    out = None
    if events is not None:
        out = stack.enter_context(EventsJsonl(os.fspath(events), names, in_place=live))

    def count(frame: Frame | None, dets: Detections | None) -> dict[str, Any] | None:
        if frame is None or dets is None:
            found = counter.finish()
            if out is not None:
                out.write([*found, {"event": "totals", **counter.totals}])
            return counter.totals
        found = counter.update(dets, frame.index, frame.pts, frame_time(frame))
        if out is not None:
            out.write(found)
        return None

    return count


def _with_codec(options: EncodeOptions, codec: str) -> EncodeOptions:
    return dataclasses.replace(options, codec=codec)


@contextlib.contextmanager
def _opened(source: str | os.PathLike[str] | Source, backend: Backend) -> Iterator[Source]:
    """`source` itself (the caller closes it), or the file it names, opened and closed here."""
    if isinstance(source, Source):
        yield source
        return
    with Source(source, backend=backend) as src:
        yield src


def _drain(
    src: Source,
    stages: Sequence[Stage],
    observe: Observe | None,
    write: Callable[[Frame], None] | None,
    frames: Iterator[Frame] | None = None,
) -> int:
    """Decode (on a prefetch thread), run the stages, hand each frame to `write`; the
    frames that came out (`frames`: those of `src` to take, default all). The chain is
    closed outermost first: once a prefetch thread is
    joined nothing iterates the generators inside it, which are then closed here. A live
    source's run ends at the first Ctrl-C as at the end of its stream (`stop_gracefully`)."""
    frames = src.frames() if frames is None else frames
    chain: list[Iterator[Frame]] = [prefetch(frames, QUEUE_FRAMES, name="vidpipe-decode")]
    with stop_gracefully() if src.info.live else contextlib.nullcontext():
        return _run_chain(src, chain, stages, observe, write)


def _run_chain(
    src: Source,
    chain: list[Iterator[Frame]],
    stages: Sequence[Stage],
    observe: Observe | None,
    write: Callable[[Frame], None] | None,
) -> int:
    try:
        for stage in stages:
            chain.append(stage(chain[-1]))
        if observe is not None:
            chain.append(observe(chain[-1], src.info))
        count = 0
        for frame in chain[-1]:
            if write is not None:
                write(frame)
            count += 1
        return count
    finally:
        for frames in reversed(chain):
            close_if_closable(frames)


def _check_targets(src: Source, targets: list[Any], overwrite: bool) -> None:
    """Output files: distinct, never the input, not replaced without `overwrite` (the video
    output is checked by its Sink)."""
    paths = [os.fspath(t) for t in targets if t is not None and os.fspath(t) != "-"]
    if len({os.path.abspath(p) for p in paths}) != len(paths):
        raise InputError("the video, JSON Lines, COCO, MOT and events outputs must differ")
    for target in paths[1:] if targets[0] is not None else paths:
        path = Path(target)
        if path.exists() and path.resolve() == Path(src.path).resolve():
            raise InputError(f"{target}: refusing to overwrite the input")
        if path.exists() and not overwrite:
            raise InputError(f"{target} exists (use --overwrite to replace it)")


def _result_writers(
    stack: contextlib.ExitStack,
    jsonl: Any,
    coco: Any,
    mot: Any,
    names: Sequence[str],
    src: Source,
) -> Callable[[Frame, Detections], None]:
    """The JSON Lines / COCO / MOT writers as one call per frame; their files appear only when
    the whole run succeeds (entered on `stack`). A live source's JSON Lines are written in
    place as they come, its events (gaps) among them."""
    from vidpipe.pipeline.results import CocoResults, DetectionsJsonl, MotResults

    enter = stack.enter_context
    live = src.info.live
    lines = None
    if jsonl is not None:
        lines = enter(DetectionsJsonl(os.fspath(jsonl), names, in_place=live))
    results = None if coco is None else enter(CocoResults(os.fspath(coco), len(names)))
    tracks = None if mot is None else enter(MotResults(os.fspath(mot)))

    def write(frame: Frame, dets: Detections) -> None:
        if lines is not None:
            for event in src.events() if live else ():
                lines.write_event(event)
            lines.write(frame.index, frame.pts, frame.time, dets, frame.wall_time)
        if results is not None:
            results.write(frame.index, dets)
        if tracks is not None:
            tracks.write(frame.index, dets)

    return write
