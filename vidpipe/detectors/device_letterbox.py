"""The letterbox on a torch device (CUDA): Y'CbCr planes uploaded as they are (4:2:0 is half
the bytes of RGB), resized on the device straight to the letterbox size (luma and chroma
alike, bilinear with pixel centres aligned as OpenCV's INTER_LINEAR), converted to R'G'B' there
with the stream's own matrix and range (vidpipe.ops.color), turned upright by the display
rotation, and placed on the input canvas as the model's `InputSpec` says. Resizing before the
colour conversion is exact up to clipping: both are linear. (Chroma siting is not modelled:
after a 2..5x downscale its quarter-sample offset is below a tenth of an input pixel.)

On the CPU, `vidpipe.detectors.preprocess.letterbox` (swscale, one pass in C) is used instead.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from vidpipe.detectors.preprocess import InputSpec, Letterbox, canvas_wh, fit, offset
from vidpipe.ops.color import resolve_matrix, resolve_range, yuv_to_rgb
from vidpipe.pixfmt import LAYOUTS
from vidpipe.types import Frame


def letterbox_on_device(
    frames: Sequence[Frame],
    spec: InputSpec | int,
    device: torch.device,
    dtype: torch.dtype = torch.float32,
) -> Letterbox:
    """Letterbox `frames` (any supported pix_fmt, sizes may differ) as `spec` says (an int:
    YOLOX's square input of that size): `Tensor[B, 3, H, W]` of `dtype` on `device`."""
    spec = InputSpec.square(spec) if isinstance(spec, int) else spec
    width, height = canvas_wh(frames, spec)
    images = torch.full((len(frames), 3, height, width), spec.pad_value, dtype=dtype, device=device)
    scales, sizes, offsets = [], [], []
    for i, frame in enumerate(frames):
        scale, (out_w, out_h), shown = fit(frame, spec)
        x, y = offset(spec, (width, height), (out_w, out_h))
        rgb = _resized_rgb(frame, device, (out_w, out_h))  # [h', w', 3] 0..1, upright
        planes = rgb.flip(-1) if spec.channels == "bgr" else rgb
        picture = (planes.permute(2, 0, 1) * 255.0).clamp_(0, 255)
        images[i, :, y : y + out_h, x : x + out_w] = picture
        scales.append(scale)
        sizes.append(shown)
        offsets.append((x, y))
    if spec.scale != 1.0:
        images.mul_(spec.scale)
    return Letterbox(images, tuple(scales), tuple(sizes), tuple(offsets))


def _resized_rgb(frame: Frame, device: torch.device, out_wh: tuple[int, int]) -> torch.Tensor:
    """`Tensor[h', w', 3]` float32 R'G'B' 0..1 of the displayed frame at `out_wh`."""
    turns = round(frame.rotation / 90) % 4
    # Resize in storage orientation to the size that becomes out_wh once rotated.
    size_hw = (out_wh[0], out_wh[1]) if turns % 2 else (out_wh[1], out_wh[0])
    layout = LAYOUTS[frame.pix_fmt]
    if layout.channels == 3:  # packed rgb24 / bgr24
        packed = _resize(_upload(frame.planes[0], device).permute(2, 0, 1), size_hw)
        rgb = packed.permute(1, 2, 0) / 255.0
        if frame.pix_fmt == "bgr24":
            rgb = rgb.flip(-1)
    else:
        planes = [_resize(_upload(p, device)[None], size_hw)[0] for p in frame.planes]
        if layout.planes == 1:  # gray: neutral chroma
            mid = float(1 << (layout.bits - 1))
            planes += [torch.full_like(planes[0], mid)] * 2
        if layout.planes == 1:  # gray is full range unless marked "tv", as swscale shows it
            full_range = frame.color.range != "tv"
        else:
            full_range = resolve_range(frame.color.range, pix_fmt=frame.pix_fmt)
        rgb = yuv_to_rgb(
            *planes,
            matrix=resolve_matrix(frame.color.matrix),
            full_range=full_range,
            bits=layout.bits,
        )
    return torch.rot90(rgb, turns, dims=(0, 1)) if turns else rgb


def _upload(plane: np.ndarray | torch.Tensor, device: torch.device) -> torch.Tensor:
    """A host plane on `device` (pinned and asynchronous for CUDA); uint16 via int32."""
    if isinstance(plane, torch.Tensor):
        return plane.to(device, non_blocking=True)
    if plane.dtype == np.uint16:
        plane = plane.astype(np.int32)
    plane = np.ascontiguousarray(plane)
    with warnings.catch_warnings():  # read-only planes are fine: nothing writes to them
        warnings.simplefilter("ignore", UserWarning)
        tensor = torch.from_numpy(plane)
    if device.type == "cuda":
        return tensor.pin_memory().to(device, non_blocking=True)
    return tensor


def _resize(planes: torch.Tensor, size_hw: tuple[int, int]) -> torch.Tensor:
    """`[C, H, W]` codes -> `[C, h, w]` float32, bilinear, half-pixel centres, no antialias."""
    x = planes.to(torch.float32)[None]
    if tuple(x.shape[-2:]) != size_hw:
        x = F.interpolate(x, size=size_hw, mode="bilinear", align_corners=False)
    return x[0]
