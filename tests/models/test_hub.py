"""vidpipe.models.hub: model names, the model folder, resolve_model and the real download code
against a local HTTP server (127.0.0.1, port 0) serving random bytes the test makes."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import random
import re
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from vidpipe.errors import InputError, VidpipeError
from vidpipe.models import hub

RELEASE = "https://github.com/Megvii-BaseDetection/YOLOX/releases/download/0.1.1rc0/"
EXPECTED = {  # the brief's table, written out independently of hub.py
    "yolox-nano": ("nano", "yolox_nano", 416),
    "yolox-tiny": ("tiny", "yolox_tiny", 416),
    "yolox-s": ("s", "yolox_s", 640),
    "yolox-m": ("m", "yolox_m", 640),
    "yolox-l": ("l", "yolox_l", 640),
    "yolox-x": ("x", "yolox_x", 640),
}


class ModelServer:
    """A local HTTP server: `routes` maps a URL path to (mode, body); it records requests.

    Modes: ok (Content-Length), nolength (no Content-Length, closed at the end), short
    (Content-Length larger than what is sent, then closed), chunked-short (chunked, closed
    mid-body), stall (never answers until released), empty (200 with no body)."""

    def __init__(self) -> None:
        self.routes: dict[str, tuple[str, bytes]] = {}
        self.requests: list[tuple[str, str]] = []  # (path, User-Agent)
        self.release = threading.Event()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.02,), daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/mirror"

    def serve(self, name: str, body: bytes, mode: str = "ok") -> None:
        self.routes[f"/mirror/{name}"] = (mode, body)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.requests.append((self.path, self.headers.get("User-Agent", "")))
                mode, body = server.routes.get(self.path, ("missing", b""))
                if mode == "missing":
                    self.send_error(404)
                elif mode == "stall":
                    server.release.wait(10)
                elif mode == "chunked-short":
                    self.protocol_version = "HTTP/1.1"
                    self.send_response(200)
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(body), body))
                    self.close_connection = True  # no terminating 0-chunk
                else:
                    self.send_response(200)
                    sent = body[: len(body) // 2] if mode == "short" else body
                    if mode != "nolength":
                        extra = 1000 if mode == "short" else 0
                        self.send_header("Content-Length", str(len(body) + extra))
                    self.end_headers()
                    self.wfile.write(sent)

            def log_message(self, *args: object) -> None:
                pass

        return Handler


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ModelServer]:
    """A running ModelServer; VIDPIPE_MODEL_BASE_URL points at it, VIDPIPE_MODEL_DIR at
    tmp_path / "models" (not created)."""
    srv = ModelServer()
    srv.thread.start()
    monkeypatch.setenv("VIDPIPE_MODEL_BASE_URL", srv.base_url)
    monkeypatch.setenv("VIDPIPE_MODEL_DIR", str(tmp_path / "models"))
    try:
        yield srv
    finally:
        srv.release.set()
        srv.httpd.shutdown()
        srv.httpd.server_close()
        srv.thread.join(5)


def random_bytes(size: int, seed: int = 0) -> bytes:
    return random.Random(seed).randbytes(size)


def folder_names(folder: Path) -> list[str]:
    """Every entry in `folder`, hidden ones (temporary files) included."""
    return sorted(os.listdir(folder)) if folder.exists() else []


def closed_port() -> int:
    """A local port nothing listens on (bound, then closed)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def with_digest(monkeypatch: pytest.MonkeyPatch, name: str, digest: str) -> None:
    spec = dataclasses.replace(hub.MODELS[name], sha256=digest)
    monkeypatch.setitem(hub.MODELS, name, spec)


# --- the table and names -----------------------------------------------------------------


def test_table_matches_the_official_release() -> None:
    assert hub.DEFAULT_MODEL == "yolox-nano"
    assert set(hub.MODELS) == set(EXPECTED)
    for name, (variant, stem, size) in EXPECTED.items():
        spec = hub.MODELS[name]
        assert (spec.name, spec.variant, spec.stem, spec.input_size) == (name, variant, stem, size)
        assert spec.url == f"{RELEASE}{stem}.pth"
        assert spec.sha256 is None
        with pytest.raises(dataclasses.FrozenInstanceError):
            spec.sha256 = "0" * 64  # type: ignore[misc]


@pytest.mark.parametrize("text", ["yolox-nano", "YOLOX-NANO", "yolox_nano", "Yolox_Nano"])
def test_names_are_case_insensitive_with_underscores(text: str) -> None:
    assert hub.canonical_name(text) == "yolox-nano"
    assert hub.get_spec(text) is hub.MODELS["yolox-nano"]


@pytest.mark.parametrize("text", ["nano", "yolox", "yolox-n", "yolox-nano.pth", "", "yoloxnano"])
def test_aliases_and_unknown_names_are_refused(text: str) -> None:
    assert hub.canonical_name(text) is None
    with pytest.raises(InputError, match="known models: yolox-nano, yolox-tiny"):
        hub.get_spec(text)


# --- model_dir ---------------------------------------------------------------------------


def test_model_dir_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("VIDPIPE_MODEL_DIR", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    assert hub.model_dir() == tmp_path / "home" / ".cache" / "vidpipe" / "models"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/cache")  # not absolute: ignored (XDG spec)
    assert hub.model_dir() == tmp_path / "home" / ".cache" / "vidpipe" / "models"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert hub.model_dir() == tmp_path / "xdg" / "vidpipe" / "models"
    monkeypatch.setenv("VIDPIPE_MODEL_DIR", "")  # empty: unset
    assert hub.model_dir() == tmp_path / "xdg" / "vidpipe" / "models"
    monkeypatch.setenv("VIDPIPE_MODEL_DIR", str(tmp_path / "mine"))
    assert hub.model_dir() == tmp_path / "mine"
    monkeypatch.setenv("VIDPIPE_MODEL_DIR", "~/models")
    assert hub.model_dir() == tmp_path / "home" / "models"
    assert not (tmp_path / "mine").exists()  # asking does not create it


# --- find_local / resolve_model ----------------------------------------------------------


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An existing, empty model folder (VIDPIPE_MODEL_DIR); downloads are refused."""
    path = tmp_path / "models"
    path.mkdir()
    monkeypatch.setenv("VIDPIPE_MODEL_DIR", str(path))
    monkeypatch.setenv("VIDPIPE_MODEL_BASE_URL", f"http://127.0.0.1:{closed_port()}")
    return path


def test_find_local_prefers_safetensors_then_pth_then_onnx(folder: Path) -> None:
    assert hub.find_local("yolox-s") is None
    for suffix in (".onnx", ".pth", ".safetensors"):
        (folder / f"yolox_s{suffix}").write_bytes(b"w")
        assert hub.find_local("YOLOX_S") == folder / f"yolox_s{suffix}"
    assert hub.find_local("yolox-m") is None  # other models' files are not this one's
    (folder / "yolox_m.pth").mkdir()  # a directory is not a file
    assert hub.find_local("yolox-m") is None
    listed = dict((spec.name, path) for spec, path in hub.list_models())
    assert list(listed) == list(EXPECTED)
    assert listed["yolox-s"] == folder / "yolox_s.safetensors"
    assert listed["yolox-nano"] is None


@pytest.mark.parametrize("suffix", [".pth", ".onnx", ".safetensors", ".PTH"])
def test_resolve_existing_file(tmp_path: Path, folder: Path, suffix: str) -> None:
    weights = tmp_path / f"my weights{suffix}"
    weights.write_bytes(b"w")
    assert hub.resolve_model(weights) == weights
    assert hub.resolve_model(str(weights)) == weights


def test_resolve_name_finds_the_local_file(folder: Path) -> None:
    (folder / "yolox_tiny.onnx").write_bytes(b"w")
    assert hub.resolve_model("yolox-tiny") == folder / "yolox_tiny.onnx"
    assert hub.resolve_model("YOLOX_TINY", download=False) == folder / "yolox_tiny.onnx"


def test_resolve_missing_name_without_download(folder: Path) -> None:
    with pytest.raises(InputError, match=r"yolox-l is not in .*vidpipe models pull yolox-l"):
        hub.resolve_model("yolox-l", download=False)
    assert folder_names(folder) == []


def test_resolve_missing_name_downloads(server: ModelServer, tmp_path: Path) -> None:
    body = random_bytes(5000)
    server.serve("yolox_m.pth", body)
    path = hub.resolve_model("yolox_m")
    assert path == tmp_path / "models" / "yolox_m.pth"
    assert path.read_bytes() == body
    assert hub.resolve_model("yolox-m") == path  # second time: local, no request
    assert len(server.requests) == 1


def test_resolve_refuses_directories_and_other_suffixes(tmp_path: Path, folder: Path) -> None:
    with pytest.raises(InputError, match="is a directory"):
        hub.resolve_model(tmp_path)
    text = tmp_path / "weights.txt"
    text.write_text("w")
    with pytest.raises(InputError, match=r"unsupported model file; use \.safetensors, \.pth"):
        hub.resolve_model(text)


@pytest.mark.parametrize("spec", ["missing/yolox_s.pth", "yolox_nano.pth", "x.onnx", "./yolox-s"])
def test_resolve_missing_path(folder: Path, spec: str) -> None:
    with pytest.raises(InputError, match=f"^model file not found: {spec}$"):
        hub.resolve_model(spec)


@pytest.mark.parametrize("spec", ["nano", "yolov8n", "resnet50", " "])
def test_resolve_unknown_name_lists_the_known_ones(folder: Path, spec: str) -> None:
    with pytest.raises(InputError) as info:
        hub.resolve_model(spec)
    message = str(info.value)
    assert "\n" not in message
    if spec.strip():
        assert all(name in message for name in EXPECTED)


# --- pull: the real download code against the local server ------------------------------


def test_pull_downloads_streams_and_renames(
    server: ModelServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(hub, "CHUNK_BYTES", 4096)  # many chunks
    body = random_bytes(100_003, seed=1)
    server.serve("yolox_nano.pth", body)
    path = hub.pull("yolox-nano", progress=False)
    assert path == tmp_path / "models" / "yolox_nano.pth"
    assert path.read_bytes() == body
    assert folder_names(tmp_path / "models") == ["yolox_nano.pth"]  # no temporary file left
    assert [p for p, _ in server.requests] == ["/mirror/yolox_nano.pth"]
    assert server.requests[0][1].startswith("vidpipe")


def test_pull_without_content_length(server: ModelServer, tmp_path: Path) -> None:
    body = random_bytes(30_000, seed=2)
    server.serve("yolox_s.pth", body, mode="nolength")
    assert hub.pull("yolox-s", progress=True).read_bytes() == body


def test_pull_checks_a_recorded_sha256(
    server: ModelServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = random_bytes(20_000, seed=3)
    server.serve("yolox_tiny.pth", body)
    good = hashlib.sha256(body).hexdigest()
    with_digest(monkeypatch, "yolox-tiny", good.upper())
    assert hub.pull("yolox-tiny", progress=False).read_bytes() == body

    server.serve("yolox_x.pth", body)
    bad = hashlib.sha256(body + b"!").hexdigest()
    with_digest(monkeypatch, "yolox-x", bad)
    with pytest.raises(InputError) as info:
        hub.pull("yolox-x", progress=False)
    assert f"expected {bad}, got {good}" in str(info.value)
    assert folder_names(tmp_path / "models") == ["yolox_tiny.pth"]  # mismatch deleted


def test_pull_present_file_makes_no_request(server: ModelServer, tmp_path: Path) -> None:
    folder = tmp_path / "models"
    folder.mkdir()
    (folder / "yolox_l.pth").write_bytes(b"old")
    server.serve("yolox_l.pth", b"new weights")
    assert hub.pull("yolox-l").read_bytes() == b"old"
    assert server.requests == []
    assert hub.pull("yolox-l", force=True, progress=False).read_bytes() == b"new weights"
    assert len(server.requests) == 1
    assert folder_names(folder) == ["yolox_l.pth"]


def _pull_error(name: str) -> str:
    with pytest.raises(InputError) as info:
        hub.pull(name, progress=False)
    message = str(info.value)
    assert "\n" not in message
    return message


def offline_line(name: str, url: str, folder: Path, reason_pattern: str) -> str:
    """The regular expression of the one-line download error the brief specifies."""
    stem = hub.MODELS[name].stem
    return (
        f"^could not download {name} from {url} \\({reason_pattern}\\); put {stem}\\.pth "
        f"\\(or \\.onnx / \\.safetensors\\) in {folder}, set VIDPIPE_MODEL_DIR, "
        "or pass --model PATH$"
    )


def test_pull_http_404_is_an_error(server: ModelServer, tmp_path: Path) -> None:
    url = f"{server.base_url}/yolox_s.pth"
    message = _pull_error("yolox-s")
    pattern = offline_line("yolox-s", url, tmp_path / "models", "HTTP 404 Not Found")
    assert re.match(pattern, message), message
    assert folder_names(tmp_path / "models") == []


@pytest.mark.parametrize(
    ("mode", "reason"),
    [
        ("short", "transfer ended after 10000 of 21000 bytes"),
        ("chunked-short", "transfer ended after 20000 bytes"),
        ("empty", "the server sent an empty file"),
    ],
)
def test_pull_truncated_transfer_leaves_no_file(
    server: ModelServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str, reason: str
) -> None:
    monkeypatch.setattr(hub, "CHUNK_BYTES", 4096)  # the cut comes after a few chunks
    server.serve("yolox_m.pth", random_bytes(20_000) if mode != "empty" else b"", mode=mode)
    url = f"{server.base_url}/yolox_m.pth"
    message = _pull_error("yolox-m")
    assert re.match(offline_line("yolox-m", url, tmp_path / "models", reason), message), message
    assert folder_names(tmp_path / "models") == []


def test_pull_connection_refused_is_the_offline_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = f"http://127.0.0.1:{closed_port()}/m"
    monkeypatch.setenv("VIDPIPE_MODEL_BASE_URL", base)
    monkeypatch.setenv("VIDPIPE_MODEL_DIR", str(tmp_path / "models"))
    message = _pull_error("yolox-nano")
    pattern = offline_line("yolox-nano", f"{base}/yolox_nano.pth", tmp_path / "models", ".+")
    assert re.match(pattern, message), message
    assert "refused" in message.lower()
    assert folder_names(tmp_path / "models") == []


def test_pull_timeout(server: ModelServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hub, "TIMEOUT_S", 0.3)
    server.serve("yolox_x.pth", b"never sent", mode="stall")
    assert "(timed out)" in _pull_error("yolox-x")
    assert folder_names(tmp_path / "models") == []


def test_failed_forced_pull_keeps_the_old_file(server: ModelServer, tmp_path: Path) -> None:
    folder = tmp_path / "models"
    folder.mkdir()
    (folder / "yolox_s.pth").write_bytes(b"old")
    with pytest.raises(InputError, match="HTTP 404"):
        hub.pull("yolox-s", force=True, progress=False)
    assert folder_names(folder) == ["yolox_s.pth"]
    assert (folder / "yolox_s.pth").read_bytes() == b"old"


def test_ctrl_c_mid_download_leaves_no_temp_file(
    server: ModelServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "models"
    seen_mid_transfer: list[list[str]] = []

    class InterruptingBar:
        """Stands in for tqdm: Ctrl-C after the second chunk is written."""

        def __init__(self, **_: object) -> None:
            self.updates = 0

        def __enter__(self) -> InterruptingBar:
            return self

        def __exit__(self, *exc: object) -> None:
            pass

        def update(self, _n: int) -> None:
            self.updates += 1
            if self.updates == 2:
                seen_mid_transfer.append(folder_names(folder))
                raise KeyboardInterrupt

    monkeypatch.setattr(hub, "tqdm", InterruptingBar)
    monkeypatch.setattr(hub, "CHUNK_BYTES", 1000)
    server.serve("yolox_nano.pth", random_bytes(10_000))
    with pytest.raises(KeyboardInterrupt):
        hub.pull("yolox-nano")
    [names] = seen_mid_transfer
    assert len(names) == 1 and names[0].startswith(".yolox_nano.pth.part-")  # temp existed
    assert folder_names(folder) == []


def test_pull_from_a_file_mirror(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    body = random_bytes(12_345, seed=4)
    (mirror / "yolox_s.pth").write_bytes(body)
    monkeypatch.setenv("VIDPIPE_MODEL_BASE_URL", mirror.as_uri() + "/")
    monkeypatch.setenv("VIDPIPE_MODEL_DIR", str(tmp_path / "models"))
    assert hub.pull("yolox-s", progress=False).read_bytes() == body
    with pytest.raises(InputError, match=r"could not download yolox-m from .*\(.+\); put"):
        hub.pull("yolox-m", progress=False)  # not in the mirror


def test_pull_bad_base_url_and_unknown_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VIDPIPE_MODEL_DIR", str(tmp_path / "models"))
    monkeypatch.setenv("VIDPIPE_MODEL_BASE_URL", "not a url")
    with pytest.raises(InputError, match=r"^could not download yolox-s from not a url/yolox_s"):
        hub.pull("yolox-s", progress=False)
    with pytest.raises(InputError, match="unknown model 'yolo'"):
        hub.pull("yolo")
    assert folder_names(tmp_path / "models") == []


def test_pull_into_an_unwritable_place(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("VIDPIPE_MODEL_DIR", str(blocker / "models"))
    monkeypatch.setenv("VIDPIPE_MODEL_BASE_URL", f"http://127.0.0.1:{closed_port()}")
    with pytest.raises(VidpipeError, match="cannot create model folder"):
        hub.pull("yolox-s", progress=False)


def test_pull_with_a_directory_in_the_way(server: ModelServer, tmp_path: Path) -> None:
    (tmp_path / "models" / "yolox_s.pth").mkdir(parents=True)
    server.serve("yolox_s.pth", b"weights")
    with pytest.raises(VidpipeError, match=r"cannot write .*yolox_s\.pth"):
        hub.pull("yolox-s", progress=False)
    assert folder_names(tmp_path / "models") == ["yolox_s.pth"]  # temp removed
