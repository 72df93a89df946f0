"""The annotation tools' own libraries, pinned, in a virtual environment of their own: the
independent readers `tests/formats` checks `vidpipe export` against.

    datumaro          CVAT's format engine: reads CVAT XML, MOT sequences, Datumaro
    label-studio-sdk  Label Studio's labelling-interface validation and region types
    fiftyone          FiftyOne's importer of video labels datasets

They cannot share vidpipe's environment (label-studio-sdk pins numpy below vidpipe's), so
they get their own: ``DEST/clients-<pins' hash>/``, DEST being ``$VIDPIPE_CLIENTS_DIR``, else
``~/.cache/vidpipe``. The first call installs them from the package registry (about a
minute); later calls find it. FiftyOne's database (MongoDB) is not fetched: it downloads
from outside the registries, and its dataset importer reads a folder without it.

Usage::

    python scripts/annotation_clients.py     # make it (if needed), print its python
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

PINS = ("datumaro==1.13.12", "label-studio-sdk==2.1.2", "fiftyone==1.22.1")
ENV_DIR = "VIDPIPE_CLIENTS_DIR"
DONE = ".installed"  # written last: a half-made environment is made again


class ClientsUnavailable(RuntimeError):
    """pip could not install the pinned clients (no registry access, typically)."""


def default_dest() -> Path:
    env = os.environ.get(ENV_DIR)
    if env:
        return Path(env)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "vidpipe"


def clients_python(dest: Path | None = None, *, timeout: float = 600) -> Path:
    """The python of the clients' environment, made first if it is not there."""
    key = hashlib.sha256("\n".join(PINS).encode()).hexdigest()[:12]
    folder = (dest or default_dest()) / f"clients-{key}"
    python = folder / "bin" / "python"
    if (folder / DONE).is_file():
        return python
    shutil.rmtree(folder, ignore_errors=True)
    venv.EnvBuilder(with_pip=True).create(folder)
    try:
        done = subprocess.run(
            [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", *PINS],
            capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        shutil.rmtree(folder, ignore_errors=True)
        raise ClientsUnavailable(f"pip install: no answer in {timeout:.0f} s") from None
    if done.returncode != 0:
        shutil.rmtree(folder, ignore_errors=True)
        tail = done.stderr.strip().splitlines()[-1:] or ["(no output)"]
        raise ClientsUnavailable(f"pip install {' '.join(PINS)} failed: {tail[0]}")
    (folder / DONE).write_text("\n".join(PINS) + "\n")
    return python


if __name__ == "__main__":
    try:
        print(clients_python())
    except ClientsUnavailable as exc:
        sys.exit(f"error: {exc}")
