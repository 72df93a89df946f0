"""What a `vidpipe batch` run is made of: its inputs, manifests and output paths.

Owns the discovery of inputs (files, folders walked recursively by video extension,
manifests in JSON Lines or CSV, and with `allow_url` network URLs and capture devices, named
on the command line or in a manifest), the output *stem* of each input (the relative path under
OUTDIR, without a suffix: each task adds its own), the deterministic disambiguation of
colliding stems, and the rule that nothing is ever written outside OUTDIR
(`inside_outdir`). Nothing here writes a file.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import os
import re
import urllib.parse
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from vidpipe.errors import InputError
from vidpipe.io.inputs import check_url, is_device, looks_like_url, redact

log = logging.getLogger(__name__)

VIDEO_EXTENSIONS = frozenset(
    {".mp4", ".mkv", ".mov", ".avi", ".webm", ".m4v", ".ts", ".mts", ".mpg", ".mpeg", ".flv",
     ".wmv"}
)  # fmt: skip
MANIFEST_EXTENSIONS = frozenset({".jsonl", ".csv"})
LEDGER_NAME = ".vidpipe-batch.sqlite"
HASH_CHARS = 8  # hex digits of the disambiguating suffix


@dataclass(frozen=True)
class JobSpec:
    """One input to process.

    input: absolute path of the video, or a stream as text (a URL, a capture device). stem:
    POSIX path relative to OUTDIR without a suffix ("sub/clip"); the task adds ".jsonl",
    ".mp4", ... options: per-row overrides of the task
    options (from a manifest; {} otherwise). error: why the job is refused before it runs
    (an output escaping OUTDIR, a bad manifest row), else None.
    """

    input: Path | str
    stem: str
    options: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    @property
    def key(self) -> str:
        """The job's identity in the ledger (unique per OUTDIR after disambiguation)."""
        return self.stem


def is_video(path: Path) -> bool:
    """True when the name has one of VIDEO_EXTENSIONS (case-insensitive)."""
    return path.suffix.lower() in VIDEO_EXTENSIONS


def inside_outdir(outdir: Path, relative: str) -> Path:
    """The absolute path of `relative` under `outdir`; InputError when it is absolute, has
    a `..` part or (symlinks resolved) lies outside `outdir`'s real path."""
    if not relative or relative.startswith(("/", "\\")) or os.path.isabs(relative):
        raise InputError(f"output {relative!r} is not a path relative to the output folder")
    parts = PurePosixPath(relative.replace("\\", "/")).parts
    if ".." in parts:
        raise InputError(f"output {relative!r} escapes the output folder ('..')")
    root = os.path.realpath(outdir)
    target = os.path.realpath(os.path.join(root, *parts))
    if os.path.commonpath([root, target]) != root or target == root:
        raise InputError(f"output {relative!r} resolves outside the output folder")
    return Path(target)


def discover(inputs: Sequence[str], outdir: Path, *, allow_url: bool = False) -> list[JobSpec]:
    """The jobs named by `inputs` (files, folders, manifests; with `allow_url` also URLs and
    capture devices), deduplicated by input path and stem (first wins) and with colliding
    stems disambiguated. Files inside `outdir` and hidden files are never inputs of a folder
    walk. InputError for a missing input, an unreadable manifest, a file named neither as a
    video nor as a manifest, or a URL refused."""
    specs: list[JobSpec] = []
    for text in inputs:
        path = Path(text)
        if is_stream_input(text):
            if not allow_url:
                raise InputError(f"{redact(text)}: a URL or device; --allow-url reads them")
            specs.append(JobSpec(_stream(text), stream_stem(text)))
        elif path.is_dir():
            specs.extend(_walk(path, outdir))
        elif path.is_file() and path.suffix.lower() in MANIFEST_EXTENSIONS:
            specs.extend(read_manifest(path, outdir, allow_url=allow_url))
        elif path.is_file() and not is_video(path):
            raise InputError(
                f"{text}: neither a video (by extension) nor a manifest (.jsonl or .csv)"
            )
        elif path.is_file():
            specs.append(JobSpec(Path(os.path.abspath(path)), _strip(path.name)))
        elif path.exists():
            raise InputError(f"{text}: not a file or folder")
        else:
            raise InputError(f"{text}: no such file or folder")
    seen: set[tuple[Path | str, str]] = set()
    unique = []
    for spec in specs:
        if (spec.input, spec.stem) not in seen:
            seen.add((spec.input, spec.stem))
            unique.append(spec)
    return disambiguate(unique)


def is_stream_input(text: str) -> bool:
    """Whether an input names a stream rather than a local file: a URL (no such file) or a
    V4L2 capture device."""
    return is_device(text) or (looks_like_url(text) and not Path(text).exists())


def _stream(text: str) -> str:
    """A stream input as given; a URL of a refused scheme raises InputError."""
    return text if is_device(text) else check_url(text)


def stream_stem(text: str) -> str:
    """The output stem of a stream: its host, port and path, credentials and query left out
    ("rtsp://u:p@cam:8554/live/1" -> "cam_8554_live_1"; "/dev/video0" -> "video0")."""
    if is_device(text):
        return Path(text).name
    parts = urllib.parse.urlsplit(text)
    place = (parts.netloc.rpartition("@")[2] + parts.path).strip("/")
    return _strip(re.sub(r"[^A-Za-z0-9.\-]+", "_", place).strip("_.") or "stream")


def _strip(name: str) -> str:
    """`name` without its video suffix (other suffixes are kept: "a.b.mp4" -> "a.b")."""
    path = PurePosixPath(name)
    return str(path.with_suffix("")) if path.suffix.lower() in VIDEO_EXTENSIONS else name


def _walk(folder: Path, outdir: Path) -> Iterator[JobSpec]:
    """Videos under `folder` (sorted), each with its path relative to `folder` as stem."""
    root = Path(os.path.abspath(folder))
    out_real = os.path.realpath(outdir)
    for dirpath, dirnames, filenames in os.walk(root):
        if os.path.realpath(dirpath) == out_real:
            dirnames[:] = []
            continue
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            path = Path(dirpath) / name
            if name.startswith(".") or not is_video(path) or not path.is_file():
                continue
            rel = path.relative_to(root).as_posix()
            yield JobSpec(path, _strip(rel))


def read_manifest(path: Path, outdir: Path, *, allow_url: bool = False) -> list[JobSpec]:
    """Rows of a manifest: `.jsonl` (one object per line) or `.csv` (header line) with
    `input` (relative paths are relative to the manifest's folder; a URL or capture device
    is a job only with `allow_url`, else a refused one), optional `output`
    (relative to OUTDIR; a video suffix is dropped to form the stem) and optional `options`
    (a JSON object; in CSV, a JSON string). A row with a bad output or options becomes a
    job with `error` set; InputError when the file cannot be read at all or a row has no
    input."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read manifest: {exc}") from None
    rows = _jsonl_rows(path, text) if path.suffix.lower() == ".jsonl" else _csv_rows(path, text)
    base = Path(os.path.abspath(path)).parent
    return [_manifest_job(path, number, row, base, outdir, allow_url) for number, row in rows]


def _jsonl_rows(path: Path, text: str) -> list[tuple[int, dict[str, Any]]]:
    rows = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"{path}:{number}: not JSON: {exc.msg}") from None
        if not isinstance(row, dict):
            raise InputError(f"{path}:{number}: each line must be a JSON object")
        rows.append((number, row))
    return rows


def _csv_rows(path: Path, text: str) -> list[tuple[int, dict[str, Any]]]:
    reader = csv.DictReader(text.splitlines())
    if reader.fieldnames is None or "input" not in reader.fieldnames:
        raise InputError(f"{path}: a CSV manifest needs a header line with an 'input' column")
    rows = []
    for number, row in enumerate(reader, 2):
        clean = {k: v for k, v in row.items() if k is not None and v not in (None, "")}
        if "options" in clean:
            try:
                clean["options"] = json.loads(clean["options"])
            except json.JSONDecodeError as exc:
                clean["options"] = f"<not JSON: {exc.msg}>"
        rows.append((number, clean))
    return rows


def _manifest_job(
    path: Path, number: int, row: dict[str, Any], base: Path, outdir: Path, allow_url: bool
) -> JobSpec:
    source = row.get("input")
    if not isinstance(source, str) or not source:
        raise InputError(f"{path}:{number}: row has no 'input'")
    input_path: Path | str
    refused = None
    if is_stream_input(source):
        input_path = source
        default_stem = stream_stem(source)
        try:
            _stream(source)
            if not allow_url:
                raise InputError(f"{redact(source)}: a URL or device; --allow-url reads them")
        except InputError as exc:
            refused = f"manifest row {number}: {exc}"
    else:
        input_path = Path(os.path.abspath(base / source))
        default_stem = _strip(input_path.name)
    options = row.get("options", {})
    output = row.get("output")
    stem = default_stem if output is None else str(output)
    if refused is not None:
        return JobSpec(input_path, stem, {}, refused)
    if not isinstance(options, dict):
        return JobSpec(input_path, stem, {}, f"manifest row {number}: options must be an object")
    if output is None:
        return JobSpec(input_path, stem, options)
    if not isinstance(output, str):
        return JobSpec(input_path, stem, options, f"manifest row {number}: output must be text")
    try:
        inside_outdir(outdir, output)
    except InputError as exc:
        return JobSpec(input_path, stem, options, f"refused: {exc}")
    return JobSpec(input_path, _strip(PurePosixPath(output.replace("\\", "/")).as_posix()), options)


def disambiguate(specs: Sequence[JobSpec]) -> list[JobSpec]:
    """Stems made unique (case-insensitively): the first of each colliding group (by input
    path) keeps its stem, the others get `-<8 hex of sha256(input path)>` appended."""
    groups: dict[str, list[JobSpec]] = {}
    for spec in specs:
        groups.setdefault(spec.stem.lower(), []).append(spec)
    renamed: dict[int, str] = {}
    taken = set(groups)
    for group in groups.values():
        for spec in sorted(group, key=lambda s: str(s.input))[1:]:
            digest = hashlib.sha256(str(spec.input).encode()).hexdigest()[:HASH_CHARS]
            stem = f"{spec.stem}-{digest}"
            while stem.lower() in taken:
                stem += "x"
            taken.add(stem.lower())
            renamed[id(spec)] = stem
            log.info("%s: output renamed to %s (name collision)", spec.input, stem)
    return [
        JobSpec(s.input, renamed[id(s)], s.options, s.error) if id(s) in renamed else s
        for s in specs
    ]
