"""`python -m vidpipe.serve.camera_child FOLDER RUN`: one camera of `vidpipe serve`, run in
a process of its own for as long as it streams: `vidpipe detect` on the camera's URL with its
options (`camera.json`), writing into FOLDER/RUN/ the detections (`detections.jsonl`, with
the stream's gap events), the line and zone events (`events.jsonl`) and, with a segment
length, the video in segments (`segments/`). Every second it writes `stats.json` (frames,
fps, when the last frame came) for the service's metrics. It ends with the service.
"""

from __future__ import annotations

import dataclasses
import json
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from vidpipe.serve.child import die_with_parent

STATS_EVERY_S = 1.0


def _stats(path: Path) -> Any:
    """A recipe's `observe` that counts frames and writes `path` about once a second."""
    from vidpipe.runtime.files import atomic_path

    def observe(frames: Iterator[Any], info: Any) -> Iterator[Any]:
        start, last_write, window = time.monotonic(), 0.0, (time.monotonic(), 0)
        for count, frame in enumerate(frames, 1):
            now = time.monotonic()
            if now - last_write >= STATS_EVERY_S:
                fps = (count - window[1]) / max(now - window[0], 1e-9)
                window, last_write = (now, count), now
                with atomic_path(path) as tmp:
                    tmp.write_text(json.dumps({"frames": count, "fps": round(fps, 3),
                                               "seconds": round(now - start, 3),
                                               "last_frame_wall": time.time()}))  # fmt: skip
            yield frame

    return observe


def main(folder: Path, run: str) -> int:
    from vidpipe.batch.tasks import detect_options, encode_options, ops_options, track_options
    from vidpipe.errors import VidpipeError
    from vidpipe.io.source import Source
    from vidpipe.pipeline.recipes import detect_file

    die_with_parent()
    camera = json.loads((folder / "camera.json").read_text())
    options = camera["options"]
    out = folder / run
    (out / "segments").mkdir(parents=True, exist_ok=True)
    encode = encode_options(options)
    if camera.get("segment_s"):
        encode = dataclasses.replace(encode, segment_s=float(camera["segment_s"]))
    tracking = track_options(options)
    try:
        with Source(camera["url"], allow_url=True, timeout=camera["timeout_s"],
                    reconnect=camera["reconnect"]) as src:  # fmt: skip
            detect_file(
                src, jsonl=out / "detections.jsonl",
                events=out / "events.jsonl" if tracking and (tracking.lines or tracking.zones)
                else None,
                video=out / "segments" / "camera.mp4" if camera.get("segment_s") else None,
                detect_options=detect_options(options), track=tracking,
                ops=ops_options("detect", options), encode=encode,
                observe=_stats(out / "stats.json"),
            )  # fmt: skip
            src.check_lost()
    except VidpipeError as err:
        print(f"error: {err}", file=sys.stderr, flush=True)
        return 2
    return 0


if __name__ == "__main__":
    from vidpipe.runtime.signals import interrupt

    for signum in (signal.SIGINT, signal.SIGTERM):  # as the CLI stops (a live run: gracefully)
        signal.signal(signum, lambda number, _frame: interrupt(number))
    try:
        sys.exit(main(Path(sys.argv[1]), sys.argv[2]))
    except KeyboardInterrupt:
        sys.exit(130)
