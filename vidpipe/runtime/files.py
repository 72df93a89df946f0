"""Atomic output files: every file vidpipe writes appears whole or not at all.

A file is written under a hidden temporary name beside its target (`.NAME.part-<8 hex>`,
`TEMP_NAME` matches them: `vidpipe batch` removes those a killed run left) and renamed over
the target only when complete. `atomic_path` is the one way to do it; `reserve_temp` /
`remove_temp` are its parts, for writers whose success is decided elsewhere.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import secrets
from collections.abc import Iterator
from pathlib import Path

from vidpipe.errors import VidpipeError

log = logging.getLogger(__name__)

TEMP_NAME = re.compile(r"^\..+\.part-[0-9a-f]{8}$")  # the names `reserve_temp` makes


def reserve_temp(target: Path) -> Path:
    """Create an empty, hidden, unique file beside `target` (mode 0666 less the umask).

    Its name has no `%`: FFmpeg's image2 muxer (a .png / .jpg output) would read `%d` in it
    as a frame-number pattern and write another file (`.shot1.png.part-...`)."""
    name = target.name.replace("%", "_")
    while True:
        tmp = target.with_name(f".{name}.part-{secrets.token_hex(4)}")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue
        except OSError as exc:
            raise VidpipeError(f"cannot write in {target.parent}: {exc.strerror}") from exc
        os.close(fd)
        return tmp


def remove_temp(path: Path) -> None:
    """Remove a temporary file, logging (not raising) when that fails."""
    try:
        path.unlink(missing_ok=True)
    except OSError as exc:
        log.warning("could not remove temporary file %s: %s", path, exc)


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str]) -> Iterator[Path]:
    """A temporary path beside `target` for the body to write; renamed over `target` when
    the body succeeds, removed whatever else happens (an exception, Ctrl-C).

        with atomic_path("out.json") as tmp:
            tmp.write_text(text)
    """
    final = Path(os.path.abspath(target))
    tmp = reserve_temp(final)
    try:
        yield tmp
        try:
            os.replace(tmp, final)
        except OSError as exc:  # e.g. a directory in the way
            raise VidpipeError(f"cannot write {target}: {exc.strerror}") from exc
    finally:
        remove_temp(tmp)
