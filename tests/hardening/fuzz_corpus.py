"""Seeded fuzz corpus: byte-mutated and truncated copies of media files.

A case is fixed by (seed, clip name, index): `mutant(data, name, seed, index)` always returns
the same bytes, so a failing case can be rebuilt exactly in a regression test. The random
generator is seeded with a string (hashed with SHA-512 by `random.Random`, independent of
PYTHONHASHSEED).

Kinds of damage (one kind per case, 1..4 edits of it at random places):

* flip      - XOR a run of bytes with random single bits
* overwrite - replace a run with random bytes
* insert    - insert a run of random bytes (shifts everything after it)
* delete    - delete a run (shifts everything after it)
* truncate  - keep a random prefix (the file ends early)

Runs are 1..512 bytes long. Places are uniform over the whole file, except that one case in
three aims its first edit at the first 4 KiB, where the container headers (sizes, codec
parameters) live.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

KINDS = ("flip", "overwrite", "insert", "delete", "truncate")
_RUNS = (1, 2, 4, 8, 16, 64, 512)
_HEADER_BYTES = 4096


@dataclass(frozen=True)
class Mutant:
    """One corpus case: the damaged bytes and how they were made."""

    name: str  # <clip stem>.<index>.<kind><clip suffix>
    kind: str
    edits: tuple[tuple[int, int], ...]  # (offset, run length); truncate: ((length, 0),)
    data: bytes


def _place(rng: random.Random, size: int, header: bool) -> int:
    return rng.randrange(min(size, _HEADER_BYTES) if header else size)


def mutant(data: bytes, name: str, seed: int, index: int) -> Mutant:
    """Case `index` of the corpus for the file `name` (with content `data`) under `seed`."""
    rng = random.Random(f"vidpipe-fuzz/{seed}/{name}/{index}")
    kind = rng.choice(KINDS)
    stem, dot, suffix = name.rpartition(".")
    out_name = f"{stem}.{index:03d}.{kind}{dot}{suffix}"
    if kind == "truncate":
        keep = rng.randrange(1, len(data))
        return Mutant(out_name, kind, ((keep, 0),), data[:keep])
    buf = bytearray(data)
    header = rng.random() < 1 / 3
    edits = []
    for _ in range(rng.randint(1, 4)):
        run = rng.choice(_RUNS)
        at = _place(rng, len(buf), header)
        header = False
        if kind == "flip":
            for i in range(at, min(at + run, len(buf))):
                buf[i] ^= 1 << rng.randrange(8)
        elif kind == "overwrite":
            end = min(at + run, len(buf))
            buf[at:end] = rng.randbytes(end - at)
        elif kind == "insert":
            buf[at:at] = rng.randbytes(run)
        else:  # delete
            del buf[at : at + run]
        edits.append((at, run))
    return Mutant(out_name, kind, tuple(edits), bytes(buf))


def write_corpus(clips: list[Path], out_dir: Path, *, seed: int, per_clip: int) -> list[Path]:
    """Write `per_clip` mutants of each clip into `out_dir`; returns their paths, clip by clip."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for clip in clips:
        data = clip.read_bytes()
        for index in range(per_clip):
            case = mutant(data, clip.name, seed, index)
            path = out_dir / case.name
            path.write_bytes(case.data)
            paths.append(path)
    return paths
