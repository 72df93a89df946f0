"""Where YOLOX weight files live and how they get there: names, the model folder, downloads.

Owns the table of known models (`MODELS`: name -> `ModelSpec`), the model folder
(`model_dir`), finding a model's file there (`find_local`), turning what a user typed into a
weight file (`resolve_model`: a path or a name) and downloading the official `.pth`
checkpoint into the folder (`pull`: streamed, sha256 computed on the way, Content-Length
checked, atomic rename, no temporary file left behind on any failure or Ctrl-C).

Loading the files (`.pth`, `.onnx`, `.safetensors`) is `vidpipe.detectors.yolox.weights`' job.
"""

from __future__ import annotations

import hashlib
import logging
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import IO, BinaryIO

from tqdm import tqdm

from vidpipe import __version__
from vidpipe.errors import InputError, VidpipeError
from vidpipe.runtime.files import remove_temp, reserve_temp

log = logging.getLogger(__name__)

RELEASE_URL = "https://github.com/Megvii-BaseDetection/YOLOX/releases/download/0.1.1rc0"
SUFFIXES: tuple[str, ...] = (".safetensors", ".pth", ".onnx")  # find_local's order
FILE_SUFFIXES = (*SUFFIXES, ".xml")  # a file may also be an OpenVINO IR (.xml + .bin)
DEFAULT_MODEL = "yolox-nano"
MODEL_DIR_ENV = "VIDPIPE_MODEL_DIR"
BASE_URL_ENV = "VIDPIPE_MODEL_BASE_URL"
TIMEOUT_S = 30.0  # per blocking socket operation (connect, each read), not the whole transfer
CHUNK_BYTES = 1 << 20
USER_AGENT = f"vidpipe/{__version__}"


@dataclass(frozen=True)
class ModelSpec:
    """One downloadable YOLOX model.

    name: the CLI name ("yolox-nano"). variant: the YOLOX depth/width key ("nano", "tiny",
    "s", "m", "l", "x"). stem: file name without suffix in the model folder ("yolox_nano").
    url: the official `.pth` checkpoint. sha256: hex digest checked after download (None:
    not recorded, not checked). input_size: default square network input, pixels.
    """

    name: str
    variant: str
    stem: str
    url: str
    sha256: str | None
    input_size: int

    @property
    def filename(self) -> str:
        """Name of the downloaded checkpoint in the model folder ("yolox_nano.pth")."""
        return f"{self.stem}.pth"


def _spec(variant: str, input_size: int) -> ModelSpec:
    stem = f"yolox_{variant}"
    url = f"{RELEASE_URL}/{stem}.pth"
    return ModelSpec(f"yolox-{variant}", variant, stem, url, None, input_size)


# A dict so that a digest can be recorded (or monkeypatched in by a test) per model.
MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        _spec("nano", 416),
        _spec("tiny", 416),
        _spec("s", 640),
        _spec("m", 640),
        _spec("l", 640),
        _spec("x", 640),
    )
}


def canonical_name(name: str) -> str | None:
    """The MODELS key `name` means (case-insensitive, `_` for `-`), or None."""
    key = name.strip().lower().replace("_", "-")
    return key if key in MODELS else None


def get_spec(name: str) -> ModelSpec:
    """The ModelSpec called `name`; raises InputError listing the known names."""
    key = canonical_name(name)
    if key is None:
        raise InputError(f"unknown model {name!r}; known models: {', '.join(MODELS)}")
    return MODELS[key]


def cache_dir() -> Path:
    """vidpipe's cache: $XDG_CACHE_HOME/vidpipe, else ~/.cache/vidpipe (an empty or relative
    XDG_CACHE_HOME is ignored). It may not exist yet."""
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    cache = Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".cache"
    return cache / "vidpipe"


def model_dir() -> Path:
    """The model folder: $VIDPIPE_MODEL_DIR, else cache_dir()/models (an empty variable is
    ignored). The folder may not exist yet."""
    explicit = os.environ.get(MODEL_DIR_ENV, "")
    if explicit:
        return Path(explicit).expanduser()
    return cache_dir() / "models"


def find_local(name: str) -> Path | None:
    """The first existing stem + .safetensors, .pth, .onnx of model `name` in model_dir()."""
    spec = get_spec(name)
    folder = model_dir()
    for suffix in SUFFIXES:
        path = folder / f"{spec.stem}{suffix}"
        if path.is_file():
            return path
    return None


def list_models() -> list[tuple[ModelSpec, Path | None]]:
    """Every known model with its local file (None: not in model_dir())."""
    return [(spec, find_local(name)) for name, spec in MODELS.items()]


def resolve_model(spec: str | os.PathLike[str], *, download: bool = True) -> Path:
    """The weight file `spec` means: an existing file, an OpenVINO export's folder (its one
    .xml), or a model name (found locally, else pulled when `download`). Raises InputError
    for another directory, an unsupported suffix, a missing file, a name not present locally
    (download False) or an unknown name."""
    text = os.fspath(spec)
    if not text.strip():
        raise InputError("empty model name or path")
    looks_like_path = any(sep in text for sep in ("/", os.sep, os.altsep) if sep)
    key = None if looks_like_path else canonical_name(text)
    if key is not None:
        return _resolve_name(key, download)
    path = Path(text).expanduser()
    if path.is_dir():
        found = sorted(path.glob("*.xml"))
        if len(found) != 1:
            raise InputError(f"{text}: is a directory, not a model file (nor an OpenVINO "
                             "export's folder with one .xml)")  # fmt: skip
        return found[0]
    suffix = path.suffix.lower()
    if path.exists():
        if suffix not in FILE_SUFFIXES:
            raise InputError(f"{text}: unsupported model file; use {', '.join(FILE_SUFFIXES)}")
        return path
    if looks_like_path or suffix in FILE_SUFFIXES:
        raise InputError(f"model file not found: {text}")
    raise InputError(
        f"unknown model {text!r}; known models: {', '.join(MODELS)} "
        f"(or a {' / '.join(FILE_SUFFIXES)} file)"
    )


def _resolve_name(key: str, download: bool) -> Path:
    local = find_local(key)
    if local is not None:
        return local
    if download:
        return pull(key, progress=None)
    raise InputError(
        f"model {key} is not in {model_dir()}; run `vidpipe models pull {key}` "
        f"or put {MODELS[key].stem}.pth (or .onnx / .safetensors) there"
    )


def model_url(spec: ModelSpec) -> str:
    """The checkpoint's URL: $VIDPIPE_MODEL_BASE_URL + "/" + file name when set (a
    mirror), else the official release URL."""
    base = os.environ.get(BASE_URL_ENV, "")
    return f"{base.rstrip('/')}/{spec.filename}" if base else spec.url


class _TransferError(Exception):
    """The download did not happen or did not complete; the message is the reason."""


def pull(name: str, *, force: bool = False, progress: bool | None = True) -> Path:
    """Download model `name`'s `.pth` checkpoint into model_dir() and return its path.

    An existing checkpoint is returned without any network access unless `force`. The
    bytes go to a hidden temporary file beside the target, hashed on the way (sha256,
    checked when the spec records one), and are renamed into place only when complete;
    on any failure or interruption the temporary file is removed. progress: a tqdm bar on
    stderr (None: only when stderr is a terminal and the "vidpipe" logger shows warnings,
    i.e. not under --quiet). Raises InputError when the download fails (offline, refused,
    timed out, HTTP error, truncated, digest mismatch) and VidpipeError when the folder is
    not writable.
    """
    spec = get_spec(name)
    folder = model_dir()
    target = folder / spec.filename
    if target.is_file() and not force:
        log.debug("%s already in %s", spec.name, target)
        return target
    url = model_url(spec)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise VidpipeError(f"cannot create model folder {folder}: {exc.strerror}") from exc
    tmp = reserve_temp(target)
    done = False
    try:
        try:
            digest = _download(url, tmp, progress=progress, label=spec.filename)
        except _TransferError as exc:
            raise InputError(_offline_message(spec, url, folder, str(exc))) from None
        if spec.sha256 is not None and digest != spec.sha256.lower():
            raise InputError(
                f"sha256 mismatch for {spec.name} from {url}: expected {spec.sha256.lower()}, "
                f"got {digest}; the download was deleted"
            )
        try:
            os.replace(tmp, target)
        except OSError as exc:  # e.g. a directory in the way
            raise VidpipeError(f"cannot write {target}: {exc.strerror}") from exc
        done = True
    finally:
        if not done:
            remove_temp(tmp)
    log.info("downloaded %s to %s (sha256 %s)", spec.name, target, digest)
    return target


def _offline_message(spec: ModelSpec, url: str, folder: Path, reason: str) -> str:
    return (
        f"could not download {spec.name} from {url} ({reason}); put {spec.stem}.pth "
        f"(or .onnx / .safetensors) in {folder}, set {MODEL_DIR_ENV}, or pass --model PATH"
    )


def _download(url: str, tmp: Path, *, progress: bool | None, label: str) -> str:
    """Stream `url` into `tmp`; returns the sha256 hex digest of the bytes written.
    Raises _TransferError (network, HTTP status, short transfer) or VidpipeError (writing)."""
    import http.client  # the network modules load when a download happens, not at start-up
    import urllib.request

    try:
        request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
        response = urllib.request.urlopen(request, timeout=TIMEOUT_S)
    except ValueError as exc:  # not a URL urllib can open
        raise _TransferError(f"bad URL: {exc}") from None
    except (OSError, http.client.HTTPException) as exc:
        raise _TransferError(_reason(exc)) from None
    with response:
        length = _content_length(response)
        with tmp.open("wb") as out:
            size, digest = _copy(response, out, length, progress=progress, label=label)
    if length is not None and size != length:
        raise _TransferError(f"transfer ended after {size} of {length} bytes")
    if size == 0:
        raise _TransferError("the server sent an empty file")
    return digest


def _copy(
    response: IO[bytes], out: BinaryIO, length: int | None, *, progress: bool | None, label: str
) -> tuple[int, str]:
    """Copy the response body into `out` in chunks: (bytes copied, sha256 hex digest);
    a tqdm bar named `label` on stderr when `progress` (None: see `pull`)."""
    import http.client

    hasher = hashlib.sha256()
    size = 0
    if progress is None:
        progress = sys.stderr.isatty() and log.getEffectiveLevel() <= logging.WARNING
    bar = tqdm(total=length, unit="B", unit_scale=True, unit_divisor=1024, desc=label,
               file=sys.stderr, disable=not progress, leave=False)  # fmt: skip
    with bar:
        while True:
            try:
                chunk = response.read(CHUNK_BYTES)
            except http.client.IncompleteRead as exc:  # chunked body cut short
                raise _TransferError(
                    f"transfer ended after {size + len(exc.partial)} bytes"
                ) from None
            except (OSError, http.client.HTTPException) as exc:
                raise _TransferError(_reason(exc)) from None
            if not chunk:
                return size, hasher.hexdigest()
            try:
                out.write(chunk)
            except OSError as exc:
                raise VidpipeError(f"cannot write {out.name}: {exc.strerror}") from exc
            hasher.update(chunk)
            size += len(chunk)
            bar.update(len(chunk))


def _content_length(response: object) -> int | None:
    headers = getattr(response, "headers", None)
    value = headers.get("Content-Length") if headers is not None else None
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _reason(exc: BaseException) -> str:
    """A short one-line reason for a network failure ("HTTP 404 Not Found", "timed out")."""
    import http.client
    import socket
    import urllib.error

    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code} {exc.reason}".strip()
    if isinstance(exc, urllib.error.URLError):
        inner = exc.reason
        return _reason(inner) if isinstance(inner, BaseException) else str(inner)
    if isinstance(exc, TimeoutError | socket.timeout):
        return "timed out"
    if isinstance(exc, socket.gaierror):
        return f"name lookup failed: {exc.strerror or exc}"
    if isinstance(exc, http.client.IncompleteRead):
        return f"transfer ended after {len(exc.partial)} bytes"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return " ".join(f"{type(exc).__name__}: {exc}".split())
