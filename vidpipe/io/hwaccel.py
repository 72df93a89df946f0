"""Which decoder reads the frames (`--hwaccel auto|none|cuda`): the CPU or NVIDIA's NVDEC.

"none": the CPU. "cuda": NVDEC; an InputError when no CUDA device can be opened. "auto" (the
default): NVDEC when PyAV's FFmpeg offers the "cuda" device type and a CUDA device opens,
else the CPU (said at debug level). Whether one opens is tried once per process
(`cuda_error`). On NVDEC, as with `ffmpeg -hwaccel cuda`, a stream it cannot take (its codec,
profile or size) is decoded on the CPU; its frames are downloaded to system memory and
delivered as the CPU decoder's (`decode_av`). Only the frame decode loop uses the device:
probing, indexing and the containers opened to copy streams stay on the CPU.
"""

from __future__ import annotations

import functools
import logging
import os
import sys
from typing import TYPE_CHECKING

from vidpipe.errors import InputError
from vidpipe.io.inputs import check_open_options

if TYPE_CHECKING:
    from av.codec.hwaccel import HWAccel

log = logging.getLogger(__name__)
_DRIVER_NODES = ("/dev/nvidiactl", "/dev/dxg")  # NVIDIA's Linux driver; WSL's GPU


@functools.cache
def cuda_error() -> str | None:
    """Why this process cannot decode on a CUDA device (None: it can), found once by opening
    a CUDA device context the way PyAV's decoders do (`HWAccel.create`). `hwdevices_available`
    only lists what FFmpeg was built with, not the devices there are; on Linux, no NVIDIA
    driver's device node (WSL's /dev/dxg counts) spares the try."""
    import av
    from av.codec.hwaccel import HWAccel, hwdevices_available

    if "cuda" not in hwdevices_available():
        return "PyAV's FFmpeg was built without CUDA"
    if sys.platform == "linux" and not any(map(os.path.exists, _DRIVER_NODES)):
        return "no NVIDIA driver: /dev/nvidiactl is missing"
    try:
        HWAccel("cuda").create(av.Codec("h264", "r"))  # the context is freed with it
    except (av.error.FFmpegError, NotImplementedError, OSError) as exc:
        return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return None


def use_cuda(hwaccel: str) -> bool:
    """Whether to decode on CUDA for this `--hwaccel` value (checked: InputError for an
    unknown one, and for "cuda" without a device)."""
    check_open_options(hwaccel=hwaccel)
    if hwaccel == "none":
        return False
    error = cuda_error()
    if error is not None and hwaccel == "cuda":
        raise InputError(f"--hwaccel cuda: no CUDA device could be opened ({error})")
    where = "CUDA" if error is None else f"the CPU ({error})"
    log.debug("--hwaccel %s: decoding on %s", hwaccel, where)
    return error is None


def hwaccel_for(hwaccel: str) -> HWAccel | None:
    """The PyAV `HWAccel` to open the frame decode loop's container with (None: the CPU)."""
    if not use_cuda(hwaccel):
        return None
    from av.codec.hwaccel import HWAccel

    return HWAccel("cuda", allow_software_fallback=True)
