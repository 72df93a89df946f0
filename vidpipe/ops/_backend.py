"""Array-backend detection for the ops, without importing torch.

torch is optional at run time and slow to import (~2 s, ~190 MiB), so the ops modules never
import it at module level: they ask `is_tensor` which kind of array they hold, and
`import torch` only inside their torch code paths. A tensor can only exist once some other
code has imported torch, so checking `sys.modules` first is exact.
"""

from __future__ import annotations

import sys
from typing import Any

__all__ = ["is_tensor"]


def is_tensor(x: Any) -> bool:
    """True if `x` is a `torch.Tensor` (or a subclass); never imports torch."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(x, torch.Tensor)
