"""`batched`: group a stream into lists of n (the last one partial, never dropped)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")


def batched(items: Iterable[T], n: int) -> Iterator[list[T]]:
    """Lists of `n` consecutive items; the tail of the stream comes as a shorter list."""
    if n < 1:
        raise ValueError(f"batch size must be >= 1, got {n}")
    batch: list[T] = []
    for item in items:
        batch.append(item)
        if len(batch) == n:
            yield batch
            batch = []
    if batch:
        yield batch
