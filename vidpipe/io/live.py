"""Live sources: a network stream read for as long as it runs, stamped with wall-clock time,
reconnected when it drops, its gaps reported and never filled.

`live_frames` wraps the decoder of one live input (`VideoInfo.live`: rtsp, rtmp, srt, udp,
tcp, or http(s) without a duration):

* each frame gets `wall_time` (seconds since the epoch when it arrived); `pts` stays the
  stream's own, and `index` counts on across reconnections;
* when the stream fails (timed out, connection lost, damaged) or ends (`reconnect_at_end`:
  a camera's server closing the link looks like an end; an http stream's end is its end),
  and `reconnect` allows, it is opened again after a backoff (0.5 s, doubling, at most
  `BACKOFF_MAX_S`), up to `reconnect` times in a row (frames flowing again resets the
  count); the gap becomes one event, `{"event": "gap", ...}`, handed to `on_event` when the
  frames resume;
* when the stream is lost for good (the reconnections spent), it ends like a stream that
  ended, and the error goes to `on_lost`: the run closes its outputs normally (what was
  recorded is kept) and reports the error after (`Source.lost`);
* `runtime.signals.finish()` (the first Ctrl-C of a live run) ends it at the next frame
  as if the stream had ended, so the run closes its outputs normally.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

from vidpipe.errors import InputError
from vidpipe.io.inputs import BACKOFF_FIRST_S, BACKOFF_MAX_S
from vidpipe.runtime.closing import close_if_closable
from vidpipe.runtime.signals import finishing, wait_finishing
from vidpipe.types import Frame

log = logging.getLogger(__name__)


Event = dict[str, Any]


def backoff_s(attempt: int) -> float:
    """Seconds to wait before reconnection `attempt` (1, 2, ...): 0.5, 1, 2, 4, 8, 8, ..."""
    return min(BACKOFF_FIRST_S * 2 ** (attempt - 1), BACKOFF_MAX_S)


def live_frames(
    open_frames: Callable[[], Iterator[Frame]],
    *,
    name: str,
    reconnect: int = 0,
    on_event: Callable[[Event], None] = lambda event: None,
    on_lost: Callable[[InputError], None] | None = None,
    reconnect_at_end: bool = True,
) -> Iterator[Frame]:
    """The frames of a live input for as long as it runs (see the module's docstring).

    open_frames: opens the input and returns its decoder (called again to reconnect).
    name: the input as shown (credentials hidden). Once `reconnect` reconnections in a row
    have failed, the decoder's InputError goes to `on_lost` and the frames end (without
    `on_lost`, it is raised).
    """
    offset, last, attempts = 0, None, 0
    lost: tuple[float, str] | None = None  # (wall time, reason) of the failure being bridged
    while True:
        error: InputError | None = None
        frames: Iterator[Frame] | None = None
        try:
            frames = open_frames()
            for frame in frames:
                if finishing():
                    log.warning("%s: stopping at the user's request", name)
                    return
                now = time.time()
                if lost is not None:
                    on_event(_gap(lost, now, last, frame, attempts))
                    log.warning("%s: reconnected after %.1f s", name, now - lost[0])
                    lost, attempts = None, 0
                frame = dataclasses.replace(frame, index=offset + frame.index, wall_time=now)
                last = frame
                yield frame
        except InputError as err:
            error = err
        finally:
            if frames is not None:
                close_if_closable(frames)
        if finishing() or attempts >= reconnect or (error is None and not reconnect_at_end):
            if error is not None and not finishing():
                if on_lost is None:
                    raise error
                on_lost(error)
            return
        attempts += 1
        reason = str(error).removeprefix(f"{name}: ") if error else "the stream ended"
        if lost is None:  # the gap began with the last frame that came (or now)
            began = last.wall_time if last is not None and last.wall_time else time.time()
            lost = (began, reason)
        offset = 0 if last is None else last.index + 1
        wait = backoff_s(attempts)
        log.warning("%s: %s; reconnecting in %g s (%d of %d)", name, reason, wait, attempts,
                    reconnect)  # fmt: skip
        if wait_finishing(wait):
            return


def _gap(lost: tuple[float, str], now: float, last: Frame | None, frame: Frame,
         attempts: int) -> Event:  # fmt: skip
    """The event of a gap: when it began (the last frame's arrival) and ended (the next
    frame's), on the wall clock, and the stream times around it (those of the last frame
    before and the first after; None when unknown)."""
    return {
        "event": "gap",
        "reason": lost[1],
        "wall_time": round(lost[0], 6),
        "resumed_wall_time": round(now, 6),
        "duration": round(now - lost[0], 6),
        "reconnections": attempts,
        "last_index": None if last is None else last.index,
        "last_pts": None if last is None else last.pts,
        "last_time": None if last is None else last.time,
        "next_pts": frame.pts,
        "next_time": frame.time,
    }
