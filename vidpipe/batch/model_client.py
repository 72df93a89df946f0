"""The worker's side of a `vidpipe batch --gpus` model server (see `model_server.py`):
`RemoteDetector`, a `FrameDetector` whose model runs in the server, and the wire protocol
both sides speak.

Wire protocol: a Unix socket per server; one connection per job; `multiprocessing.connection`
framing (pickled messages, the images as one raw bytes message). Requests and answers:

    ("open", options)                  ─► ("ready", {names, num_classes, input, device})
    ("run", frames, scales, sizes_wh, offsets, (W, H))
      + the letterboxed images:           ─► ("result", [Detections, one per frame])
        uint8 frames x 3 x H x W, 0..255 (input: the model's `InputSpec` but its scale,
        `wire_spec`: size, channel order, pad value, placement, stride and margin; W x H is
        the canvas the client cut down to its pictures, as a worker's own model would; a
        quarter of float32, half of fp16; the server applies the scale; scales and offsets
        map the boxes back)
    any request may be answered ("error", reason) instead: that job fails.

Answers come in request order, so several "run" requests may be in flight on a connection.
This module does not import torch.
"""

from __future__ import annotations

import dataclasses
import multiprocessing.connection
from collections.abc import Mapping, Sequence
from typing import Any

from vidpipe.errors import VidpipeError


class RemoteDetector:
    """A `FrameDetector` whose model runs in a model server: `prepare` letterboxes the frames
    on this process's CPU and sends them; `infer` waits for their detections (answers come
    in request order, so several batches can be in flight). Close it when the job ends."""

    def __init__(self, address: str, options: Mapping[str, Any]) -> None:
        try:
            self._conn = multiprocessing.connection.Client(address, family="AF_UNIX")
        except OSError as exc:
            raise VidpipeError(f"the model server is not running ({exc.strerror})") from None
        self._conn.send(("open", dict(options)))
        info = self._reply()
        self.names: tuple[str, ...] = tuple(info["names"])
        self.num_classes: int = info["num_classes"]
        self.input_spec = spec_from_wire(info["input"])  # 0..255 on the wire: scale 1
        self.device: str = info["device"]
        from vidpipe.detectors.options import DEFAULT_BATCH

        self.batch: int = DEFAULT_BATCH["cpu" if self.device == "cpu" else "cuda"]

    def prepare(self, frames: Sequence[Any]) -> int:
        from vidpipe.detectors.preprocess import letterbox

        batch = letterbox(frames, self.input_spec, dtype="uint8")
        try:
            canvas_wh = (batch.images.shape[3], batch.images.shape[2])
            self._conn.send(("run", len(frames), batch.scales, batch.sizes_wh, batch.offsets,
                             canvas_wh))  # fmt: skip
            self._conn.send_bytes(batch.images.reshape(-1))  # flat: send_bytes takes len()
        except OSError:
            raise VidpipeError("the model server stopped") from None
        return len(frames)

    def infer(self, prepared: int) -> list[Any]:
        detections = self._reply()
        if len(detections) != prepared:
            raise VidpipeError(f"the model server answered {len(detections)} of {prepared}")
        return [dataclasses.replace(dets, names=self.names) for dets in detections]

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> RemoteDetector:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _reply(self) -> Any:
        try:
            kind, payload = self._conn.recv()
        except (EOFError, OSError):
            raise VidpipeError("the model server stopped") from None
        if kind == "error":
            raise VidpipeError(f"model server: {payload}")
        return payload


def wire_spec(spec: Any) -> dict[str, Any]:
    """An `InputSpec` as the server announces it: the letterbox the client makes, in uint8
    0..255 (the server applies the spec's scale after the upload)."""
    return {"size_wh": list(spec.size_wh), "channels": spec.channels, "pad": spec.pad_value,
            "placement": spec.placement, "stride": spec.stride, "margin": spec.margin}  # fmt: skip


def spec_from_wire(values: dict[str, Any]) -> Any:
    """The client's `InputSpec` from the server's announcement (scale 1: uint8 on the wire)."""
    from vidpipe.detectors.preprocess import InputSpec

    return InputSpec(tuple(values["size_wh"]), values["channels"], 1.0, values["pad"],
                     values["stride"], values["margin"], values["placement"])  # fmt: skip
