"""`Sink`: frames in, one encoded file out, appearing atomically on a clean close.

    with Sink("out.mp4", like=src) as dst:   # vidpipe.open("out.mp4", "w", like=src)
        for frame in src.frames():
            dst.write(frame)

    with Sink("art.mp4", width=640, height=360, rate=Fraction(30)) as dst:  # no input file
        dst.write(np.zeros((360, 640, 3), np.uint8))                         # RGB arrays

`like=src` takes the source's frame rate (a rate-control hint) and its audio / subtitle
streams, stream-copied as the video advances; frames keep their own size, pts, time base and
rotation. The encoder (`vidpipe.io.encode.write_stream`) runs on a thread behind `write`
(`runtime.threads.Feed`, a few frames of queue), writing a hidden temporary file beside
the target that is renamed over it by `close()`; an exception inside the `with`, `abort()`
or an encoder failure removes it. `encode` is the same for an iterable of frames.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Iterable
from fractions import Fraction
from typing import TYPE_CHECKING, Any

import numpy as np

from vidpipe.errors import VidpipeError
from vidpipe.io.encode import EncodeResult, check_target, write_stream
from vidpipe.io.encode_options import EncodeOptions
from vidpipe.runtime.closing import close_if_closable
from vidpipe.runtime.files import remove_temp, reserve_temp
from vidpipe.runtime.threads import Feed
from vidpipe.types import Frame

if TYPE_CHECKING:
    from vidpipe.io.source import Source

log = logging.getLogger(__name__)

QUEUE_FRAMES = 8  # frames between `write` and the encoder: memory does not grow with length


class Sink:
    """An encoded video file being written. See the module docstring.

    like: a `Source` whose streams and frame rate to take. width / height: the frame size
    every written frame must have (None: the first frame's). rate: frames per second of
    written arrays (their pts count frames in a time base of 1/rate; default the source's
    average rate) and the rate-control hint. options: an `EncodeOptions`, or its fields as
    keywords (`codec="libx264", crf=23`). copy: stream-copy `like`'s audio and subtitles
    (never from a live source: that would be a second connection, out of step).

    Raises VidpipeError (before any frame) for a bad codec, pix_fmt or output path.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        like: Source | None = None,
        width: int | None = None,
        height: int | None = None,
        rate: Fraction | float | int | None = None,
        options: EncodeOptions | None = None,
        copy: bool = True,
        **encoder_options: Any,
    ) -> None:
        if options is not None and encoder_options:
            raise VidpipeError("give encoder options as `options` or as keywords, not both")
        options = options or EncodeOptions(**encoder_options)
        if options.segment_s is not None:
            raise VidpipeError("a Sink writes one file: segments are `open_sink`'s (vp.open)")
        for name, value in (("width", width), ("height", height)):
            if value is not None and (isinstance(value, bool) or int(value) < 1):
                raise VidpipeError(f"{name} must be a positive number of pixels, got {value!r}")
        if rate is None and like is not None:
            rate = like.info.avg_frame_rate or like.info.frame_rate
        self._rate = Fraction(rate).limit_denominator(1001000) if rate else None
        if self._rate is not None and self._rate <= 0:
            raise VidpipeError(f"rate must be positive, got {rate!r}")
        self._size_wh = (width, height)
        copy = copy and like is not None and not like.info.live
        if like is not None and like.info.live and like.info.audio:
            log.warning("%s: the audio of a live source is not copied", like.name)
        target = check_target(
            path, source=like.path if like else None, options=options, rate=self._rate, copy=copy
        )
        self.path = target.path
        self.result: EncodeResult | None = None
        self._written = 0
        self._feed: Feed[Frame, EncodeResult] | None = None
        self._tmp = reserve_temp(target.path)
        try:
            consume = functools.partial(write_stream, tmp=self._tmp, target=target, options=options)
            self._feed = Feed(consume, QUEUE_FRAMES, name="vidpipe-encode")
        except BaseException:  # Ctrl-C while starting: no file left
            remove_temp(self._tmp)
            raise

    def write(self, frame: Frame | np.ndarray) -> None:
        """Add one frame: a `Frame`, or an `H x W x 3` uint8 RGB array (frame n of the
        written ones is shown at n / rate seconds)."""
        if self._feed is None:
            raise VidpipeError(f"{self.path}: the sink is closed")
        if not isinstance(frame, Frame):
            frame = self._from_array(frame)
        w, h = self._size_wh
        if (w is not None and frame.width != w) or (h is not None and frame.height != h):
            raise VidpipeError(
                f"frame {self._written} is {frame.width}x{frame.height}; the sink takes "
                f"{w or frame.width}x{h or frame.height}"
            )
        self._feed.put(frame)
        self._written += 1

    def _from_array(self, array: Any) -> Frame:
        if hasattr(array, "detach"):  # a torch tensor
            array = array.detach().cpu().numpy()
        array = np.asarray(array)
        if array.ndim != 3 or array.shape[2] != 3 or array.dtype != np.uint8:
            raise VidpipeError(
                f"write takes a Frame or an H x W x 3 uint8 RGB array, not {array.dtype} "
                f"{tuple(array.shape)}"
            )
        if self._rate is None:
            raise VidpipeError("writing arrays needs a frame rate: open the sink with rate=")
        return Frame(
            planes=(np.ascontiguousarray(array),),
            pix_fmt="rgb24",
            index=self._written,
            pts=self._written,
            time_base=1 / self._rate,
        )

    def close(self) -> EncodeResult:
        """Finish encoding and move the file into place; what was written (idempotent)."""
        if self.result is not None:
            return self.result
        if self._feed is None:
            raise VidpipeError(f"{self.path}: the sink was aborted")
        try:
            result = self._feed.finish()
            os.replace(self._tmp, self.path)
        except BaseException:
            self.abort()
            raise
        self._feed = None
        self.result = result
        return result

    def abort(self) -> None:
        """Stop encoding and remove the temporary file: no output (idempotent).

        The file goes first, before the encoder thread is waited for: a stop that cannot wait
        (a batch worker is killed a few seconds after SIGTERM) leaves nothing behind; and
        again once the thread has ended, in case it created the file anew meanwhile."""
        feed, self._feed = self._feed, None
        remove_temp(self._tmp)
        try:
            if feed is not None:
                feed.abort()
        finally:
            remove_temp(self._tmp)

    def __enter__(self) -> Sink:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *rest: object) -> None:
        if exc_type is not None:
            self.abort()
        else:
            self.close()

    def __del__(self) -> None:  # never closed: no thread or temporary file outlives it
        if getattr(self, "_feed", None) is not None:
            self.abort()


def encode(
    frames: Iterable[Frame],
    output: str | os.PathLike[str],
    *,
    source: Source | str | os.PathLike[str] | None = None,
    options: EncodeOptions | None = None,
    rate: Fraction | None = None,
) -> EncodeResult:
    """Encode every frame of `frames` into `output` through a `Sink` (`like=source`, a
    `Source` or the path of one); the frames' iterator is closed when this returns or fails.
    Raises as `Sink` does, and VidpipeError when there are no frames."""
    from vidpipe.io.source import Source

    iterator = iter(frames)
    try:
        like = source if source is None or isinstance(source, Source) else Source(source)
        with Sink(output, like=like, rate=rate, options=options) as sink:
            for frame in iterator:
                sink.write(frame)
        return sink.close()
    finally:
        close_if_closable(iterator)
