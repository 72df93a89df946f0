"""Atomic output files: every file vidpipe writes appears whole or not at all.

A file is written under a hidden temporary name beside its target (`.NAME.part-<8 hex>`,
`TEMP_NAME` matches them: `vidpipe batch` removes those a killed run left) and renamed over
the target only when complete. `atomic_path` is the one way to do it; `reserve_temp` /
`remove_temp` are its parts, for writers whose success is decided elsewhere. A folder of
outputs (`vidpipe batch`'s scan thumbnails) is the same with `atomic_folder`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import secrets
import shutil
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


@contextlib.contextmanager
def atomic_folder(target: str | os.PathLike[str]) -> Iterator[Path]:
    """A temporary folder beside `target` (named as `reserve_temp` names files) for the body
    to fill; put in the place of `target` (a folder there before is replaced) when the body
    succeeds, removed with what it holds whatever else happens."""
    final = Path(os.path.abspath(target))
    tmp = _temp_folder(final)
    try:
        yield tmp
        old = None
        if final.is_dir() and not final.is_symlink():
            old = _temp_folder(final)
            os.replace(final, old)  # out of the way (an empty folder is replaced), then gone
        try:
            os.replace(tmp, final)
        except OSError as exc:  # e.g. a file in the way
            raise VidpipeError(f"cannot write {target}: {exc.strerror}") from exc
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@contextlib.contextmanager
def scratch_folder(target: str | os.PathLike[str]) -> Iterator[Path]:
    """A temporary folder beside `target` (named as `reserve_temp` names files) for files a
    command needs only while it runs; removed with what it holds when the body ends."""
    tmp = _temp_folder(Path(os.path.abspath(target)))
    try:
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _temp_folder(target: Path) -> Path:
    """A new empty folder beside `target`, named as `reserve_temp` names files."""
    tmp = reserve_temp(target)
    tmp.unlink()
    tmp.mkdir()
    return tmp
