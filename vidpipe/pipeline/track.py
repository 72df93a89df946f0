"""`track`: the tracking stage of the frame stream.

    detect ─► (Frame, Detections) ─► track ─► (Frame, Detections with tracker_id) ─► annotate

Each frame's detections go to one `vidpipe.tracking.tracker.Tracker` in display order with the
frame's own time (its pts in seconds), so the motion model sees the real time between frames
(VFR, dropped or skipped frames), whatever batch size produced the detections; a tracker
that follows the camera (botsort) also gets the frame's luma as displayed.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator

import numpy as np

from vidpipe.runtime.closing import close_if_closable
from vidpipe.tracking.kalman import REF_STEP_S
from vidpipe.tracking.options import TrackOptions
from vidpipe.tracking.tracker import Tracker
from vidpipe.types import Detections, Frame

log = logging.getLogger(__name__)


def frame_time(frame: Frame) -> float:
    """The frame's time in seconds; a frame without a timestamp is placed at its index
    times 1/30 s (the tracker's reference step)."""
    if frame.time is not None:
        return frame.time
    log.debug("frame %d has no timestamp: tracking it at index / 30", frame.index)
    return frame.index * REF_STEP_S


def display_luma(frame: Frame) -> np.ndarray | None:
    """`[H, W]` the frame's luma as displayed (a view; rotation applied), the mean of the
    channels for packed RGB; None for planes that are not host numpy arrays."""
    plane = frame.planes[0]
    if not isinstance(plane, np.ndarray):
        return None
    if plane.ndim == 3:
        plane = plane.mean(axis=2)
    return np.rot90(plane, round(frame.rotation / 90) % 4)


def track(
    pairs: Iterable[tuple[Frame, Detections]],
    tracker: str | TrackOptions | Tracker = "bytetrack",
) -> Iterator[tuple[Frame, Detections]]:
    """Each frame with its tracked detections: those on a confirmed track, `tracker_id` set
    and `class_ids` the track's majority class (see `Tracker.update`).

    tracker: a name ("bytetrack", "botsort", "ocsort", "sort"), `TrackOptions`, or a
    `Tracker` to continue. Closing it early closes `pairs`.

    >>> import vidpipe as vp
    >>> with vp.open("clip.mp4") as src:  # doctest: +SKIP
    ...     detector = vp.load_detector("yolox-nano")
    ...     for frame, dets in vp.track(vp.detect(src.frames(), detector), "bytetrack"):
    ...         print(frame.index, dets.tracker_id.tolist())
    """
    if isinstance(tracker, str):
        tracker = TrackOptions(tracker=tracker)
    if isinstance(tracker, TrackOptions):
        tracker = Tracker(tracker)
    try:
        for frame, dets in pairs:
            luma = display_luma(frame) if tracker.uses_pictures else None
            yield frame, tracker.update(dets, frame_time(frame), luma)
    finally:
        close_if_closable(pairs)
