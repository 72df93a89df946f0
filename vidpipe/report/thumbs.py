"""Thumbnails for a report: chosen frames of the video with their boxes drawn, as JPEG data
URIs (the page carries its pictures inside it).

The frames are decoded by `Source.frames_at` (a seek to each one's key frame, or decoding on
from the one before), so a report of a long video decodes a few GOPs, not the video. Boxes
are drawn by `vidpipe.draw.annotate` (the same drawing as `detect -o`), then the picture is
scaled to `width` pixels wide (Pillow's Lanczos).
"""

from __future__ import annotations

import base64
import io
import logging
from collections.abc import Sequence

from vidpipe.draw.boxes import annotate
from vidpipe.errors import VidpipeError
from vidpipe.io.image import to_rgb
from vidpipe.io.source import Source
from vidpipe.types import Detections

log = logging.getLogger(__name__)

WIDTH = 320  # a thumbnail's width in pixels
QUALITY = 80  # its JPEG quality


def thumbnails(
    source: Source, wanted: dict[int, Detections], names: Sequence[str], width: int = WIDTH
) -> dict[int, str]:
    """display index -> "data:image/jpeg;base64,..." of that frame with `wanted[index]` drawn
    (xyxy in displayed-frame pixels). Frames the file does not give (past its end, or a
    decode error) are left out, with a warning: a report still shows the rest."""
    from PIL import Image

    found: dict[int, str] = {}
    count = source.info.frame_count
    indexes = sorted(i for i in wanted if i >= 0 and (i < count or not count))
    if not indexes:
        return found
    try:
        for frame in source.frames_at(indexes):
            rgb = to_rgb(annotate(frame, wanted[frame.index], names))
            picture = Image.fromarray(rgb)
            height = max(1, round(picture.height * width / picture.width))
            buffer = io.BytesIO()
            picture.resize((width, height), Image.Resampling.LANCZOS).save(
                buffer, format="JPEG", quality=QUALITY
            )
            found[frame.index] = "data:image/jpeg;base64," + base64.b64encode(
                buffer.getvalue()
            ).decode("ascii")
    except VidpipeError as err:
        log.warning("%s: thumbnails stop at frame %d: %s", source.name, len(found), err)
    return found
