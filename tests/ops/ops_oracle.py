"""FFmpeg as the oracle for the ops tests: raw frames in and out of the ffmpeg CLI.

Everything goes through `-f rawvideo` pipes so the oracle sees exactly the codes we feed our ops
(no codec, no container guesses). Helpers only; the tests skip when ffmpeg is missing.
"""

from __future__ import annotations

import functools
import shutil
import subprocess
from collections.abc import Sequence

import numpy as np

from vidpipe.pixfmt import frame_nbytes, split_planes

FFMPEG = shutil.which("ffmpeg")


def run_ffmpeg(args: Sequence[str], data: bytes | None = None) -> bytes:
    """Run ffmpeg with `args` (after the global options), stdin `data`; return stdout bytes."""
    assert FFMPEG is not None
    stdin_opts = ["-nostdin"] if data is None else []
    cmd = [FFMPEG, "-hide_banner", *stdin_opts, "-v", "error", *args]
    done = subprocess.run(cmd, input=data, capture_output=True, check=False, timeout=60)
    if done.returncode != 0:
        raise RuntimeError(f"ffmpeg failed: {' '.join(cmd)}\n{done.stderr.decode()[-2000:]}")
    return done.stdout


def _raw_out(pix_fmt: str) -> list[str]:
    return ["-pix_fmt", pix_fmt, "-f", "rawvideo", "-"]


@functools.lru_cache(maxsize=32)
def lavfi_frame(source: str, size_wh: tuple[int, int], pix_fmt: str) -> tuple[np.ndarray, ...]:
    """One frame of a lavfi source ("testsrc2", "mandelbrot") as planes of `pix_fmt`.

    The source renders in rgb24 first: testsrc2 would otherwise round odd sizes to even.
    Cached: the planes are read-only views, shared between callers.
    """
    width, height = size_wh
    graph = f"{source}=s={width}x{height},format=rgb24"
    raw = run_ffmpeg(["-f", "lavfi", "-i", graph, "-frames:v", "1", *_raw_out(pix_fmt)])
    assert len(raw) == frame_nbytes(pix_fmt, width, height)
    return split_planes(raw, pix_fmt, width, height)


def filter_planes(
    planes: Sequence[np.ndarray],
    pix_fmt: str,
    size_wh: tuple[int, int],
    vf: str,
    out_pix_fmt: str,
) -> tuple[np.ndarray, ...]:
    """Feed raw `planes` (`pix_fmt`, `size_wh`) through `-vf vf`; planes of `out_pix_fmt`."""
    width, height = size_wh
    data = b"".join(np.ascontiguousarray(p).tobytes() for p in planes)
    raw_in = ["-f", "rawvideo", "-pix_fmt", pix_fmt, "-s", f"{width}x{height}", "-i", "-"]
    raw = run_ffmpeg([*raw_in, "-vf", vf, *_raw_out(out_pix_fmt)], data)
    return _split(raw, out_pix_fmt, width, height)


def _split(raw: bytes, pix_fmt: str, width: int, height: int) -> tuple[np.ndarray, ...]:
    """vidpipe's plane split, plus rgb48le (not a vidpipe frame format) for the oracle."""
    if pix_fmt == "rgb48le":
        assert len(raw) == width * height * 6, "unexpected output size"
        return (np.frombuffer(raw, "<u2").reshape(height, width, 3),)
    assert len(raw) == frame_nbytes(pix_fmt, width, height), "unexpected output size"
    return split_planes(raw, pix_fmt, width, height)


def psnr(ours: np.ndarray, ref: np.ndarray, peak: float) -> float:
    """PSNR in dB of `ours` against `ref` (same shape), 99.0 when identical."""
    assert ours.shape == ref.shape, (ours.shape, ref.shape)
    mse = float(np.mean((np.asarray(ours, np.float64) - np.asarray(ref, np.float64)) ** 2))
    return 99.0 if mse == 0 else 10.0 * float(np.log10(peak * peak / mse))


def max_abs_diff(a: np.ndarray, b: np.ndarray) -> int:
    return int(np.abs(np.asarray(a, np.int64) - np.asarray(b, np.int64)).max())


def make_ffv1_clip(path: str, size_wh: tuple[int, int], pix_fmt: str, seconds: float) -> str:
    """Lossless (FFV1) clip of lavfi testsrc2 in `pix_fmt`, written to `path`."""
    width, height = size_wh
    graph = f"testsrc2=s={width}x{height}:d={seconds},format=rgb24"
    run_ffmpeg(["-f", "lavfi", "-i", graph, "-pix_fmt", pix_fmt, "-c:v", "ffv1", "-y", path])
    return path


def decode_frames(
    path: str, pix_fmt: str, size_wh: tuple[int, int], vf: str | None = None
) -> list[tuple[np.ndarray, ...]]:
    """All frames of `path` (optionally through `-vf vf`) as planes of `pix_fmt`."""
    width, height = size_wh
    filters = ["-vf", vf] if vf else []
    raw = run_ffmpeg(["-i", path, *filters, "-pix_fmt", pix_fmt, "-f", "rawvideo", "-"])
    size = frame_nbytes(pix_fmt, width, height)
    assert len(raw) % size == 0 and raw
    return [
        split_planes(raw[i : i + size], pix_fmt, width, height) for i in range(0, len(raw), size)
    ]
