"""`close_if_closable`: end an iterator that may own a resource, whatever kind it is.

Stages close their input in `finally` so that stopping early releases what the upstream
generators hold (a container, a subprocess, a thread); plain iterators have nothing to close.
"""

from __future__ import annotations


def close_if_closable(obj: object) -> None:
    """Call `obj.close()` when it has one (a generator runs its `finally` blocks); nothing
    otherwise. An exception from `close` propagates: the caller decides whether to keep it.

    >>> def gen():
    ...     try:
    ...         yield 1
    ...     finally:
    ...         print("released")
    >>> frames = gen(); next(frames)
    1
    >>> close_if_closable(frames); close_if_closable(iter([1, 2]))
    released
    """
    close = getattr(obj, "close", None)
    if close is not None:
        close()
