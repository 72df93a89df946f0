"""torch is imported lazily: the numpy path of vidpipe.ops never pays torch's start-up cost."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np

import vidpipe
from vidpipe.ops._backend import is_tensor

ROOT = Path(vidpipe.__file__).resolve().parent.parent  # the checkout under test


def _run(code: str) -> None:
    """Run `code` in a fresh interpreter, so other tests' imports do not count; from the root
    of the vidpipe under test, so it imports that copy (not another editable install)."""
    argv = [sys.executable, "-c", code]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]


def test_importing_ops_and_stages_does_not_import_torch() -> None:
    _run(
        "import sys\n"
        "import vidpipe.ops, vidpipe.ops.gamma, vidpipe.ops.color, vidpipe.ops.chroma\n"
        "import vidpipe.pipeline.stages\n"
        "assert 'torch' not in sys.modules, 'torch imported at module level'\n"
    )


def test_numpy_path_does_not_import_torch() -> None:
    _run(
        "import sys\n"
        "import numpy as np\n"
        "from vidpipe.ops import apply_lut, gamma_lut, resample_chroma, rgb_to_yuv, yuv_to_rgb\n"
        "y = np.full((4, 6), 100, np.uint8)\n"
        "u = resample_chroma(np.full((2, 3), 128, np.uint8), src='420', dst='444',\n"
        "                    luma_size_wh=(6, 4))\n"
        "apply_lut(y, gamma_lut(2.2, bits=8, full_range=False))\n"
        "rgb = yuv_to_rgb(y, u, u, matrix='bt709', full_range=False, bits=8)\n"
        "rgb_to_yuv(rgb, matrix='bt709', full_range=False, bits=8)\n"
        "assert 'torch' not in sys.modules, 'torch imported on the numpy path'\n"
    )


def test_is_tensor() -> None:
    import torch

    assert is_tensor(torch.zeros(2))
    assert is_tensor(torch.nn.Parameter(torch.zeros(2)))  # subclasses count
    assert not is_tensor(np.zeros(2))
    assert not is_tensor([0, 1])
    assert not is_tensor(None)
