"""Hostile names and paths (issue 6): spaces, unicode, a leading `-`, names that look like FFmpeg
protocols (`concat:a|b`, `http://...`, `pipe:0`), patterns (`%d`) or FFmpeg's own damage
messages. An existing file is read as the local file it names, with both decoders and both
writers; a protocol name that is no file is refused with one error line. Never is a name
handed to ffmpeg as an option, a URL or a pattern.

Oracles: ffprobe on `file:ABSOLUTE-PATH` (the file protocol, the name taken literally) for the
frames each name holds; decoys beside them (`a.mp4`, `b.mp4`, `shot1.png`, ...) hold other
frame counts or sizes, so reading what FFmpeg's protocol or pattern would mean shows; the
ffmpeg command lines vidpipe starts are recorded and checked.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import FFMPEG, ffprobe_json, make_clip, needs_ffmpeg_cli, needs_ffprobe

from vidpipe.cli.main import main

CLIP_FRAMES = 12
DECOY_FRAMES = 5
# Names as a user types them (relative to the folder the test works in); each is a copy of
# the 12-frame clip. "http://host/clip.mp4" is the local file http:/host/clip.mp4.
NAMES = [
    "with space.mp4",
    "ünïcødé 名前.mp4",
    "-dash.mp4",
    "concat:a.mp4|b.mp4",
    "http://host/clip.mp4",
    "file:a.mp4",
    "pipe:0",
    "clip%d.mp4",
    "truncated.mp4",
    "Error while decoding stream #0:0.mp4",
    "corrupt decoded frame.mp4",
    "line\nbreak partial file truncated.mp4",
]
IMAGE = "shot%d.png"  # 64x48; the decoys shot0.png .. shot4.png are 32x16
BACKENDS = ["av", "ffmpeg"]


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("names")
    clip = make_clip(d / "clip.mp4", frames=CLIP_FRAMES)
    decoy = make_clip(d / "a.mp4", frames=DECOY_FRAMES, size_wh=(32, 16))
    shutil.copy(decoy, d / "b.mp4")
    shutil.copy(decoy, d / "clip1.mp4")
    shutil.copy(decoy, d / "clip0.mp4")
    for name in NAMES:
        (d / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(clip, d / name)
    _png(d / IMAGE, (64, 48))
    for i in range(5):
        _png(d / f"shot{i}.png", (32, 16))
    return d


def _png(path: Path, size_wh: tuple[int, int]) -> None:
    from PIL import Image

    Image.new("RGB", size_wh, (200, 40, 90)).save(path, format="PNG")


@pytest.fixture
def ffmpeg_argvs(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """Every ffmpeg command line started through subprocess.Popen while the test runs."""
    started: list[list[str]] = []
    real = subprocess.Popen

    def recording(args, *a, **kw):  # type: ignore[no-untyped-def]
        if Path(str(args[0])).name.startswith("ffmpeg"):
            started.append([str(x) for x in args])
        return real(args, *a, **kw)

    monkeypatch.setattr(subprocess, "Popen", recording)
    return started


def _literal_pts(path: Path, *input_args: str) -> list[int]:
    """pts of the video frames of `path` as ffprobe reads the file itself (file: protocol)."""
    entries = ["-select_streams", "v:0", "-show_entries", "frame=pts", *input_args]
    frames = ffprobe_json(f"file:{path.resolve()}", *entries)["frames"]
    return [f["pts"] for f in frames]


def _only_as_input(argv: list[str], path: Path) -> None:
    """`path` appears once in the ffmpeg command, absolute, as the value of `-i`."""
    absolute = str(path.resolve())
    assert argv.count(absolute) == 1
    assert argv[argv.index(absolute) - 1] == "-i"


@needs_ffprobe
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", NAMES, ids=[n.replace("\n", "\\n") for n in NAMES])
def test_existing_file_is_read_as_that_local_file(
    folder, name, backend, ffmpeg_argvs, monkeypatch, capsys
):
    monkeypatch.chdir(folder)
    code = main(["frames", "--json", "--backend", backend, "--", name])
    out, err = capsys.readouterr()
    assert (code, err) == (0, "")
    pts = [json.loads(line)["pts"] for line in out.splitlines()]
    assert pts == _literal_pts(folder / name)
    assert len(pts) == CLIP_FRAMES  # not the decoys: concat (10), file:a.mp4 (5), clip1.mp4 (5)
    if backend == "ffmpeg":
        (argv,) = ffmpeg_argvs
        _only_as_input(argv, folder / name)
    else:
        assert ffmpeg_argvs == []


@pytest.mark.parametrize("backend", BACKENDS)
def test_percent_in_an_image_name_is_not_a_pattern(
    folder, backend, ffmpeg_argvs, monkeypatch, capsys
):
    """FFmpeg's image2 demuxer reads shot%d.png as shot0.png .. shot4.png unless told not to
    (vidpipe read shot1.png, another file, until it was)."""
    monkeypatch.chdir(folder)
    assert main(["probe", "--json", IMAGE]) == 0
    info = json.loads(capsys.readouterr().out)
    assert (info["width"], info["height"]) == (64, 48)
    assert main(["frames", "--json", "--backend", backend, IMAGE]) == 0  # ffmpeg: size checked
    assert len(capsys.readouterr().out.splitlines()) == 1
    if backend == "ffmpeg":
        (argv,) = ffmpeg_argvs
        _only_as_input(argv, folder / IMAGE)
        assert argv[argv.index("-pattern_type") + 1] == "none"


@needs_ffmpeg_cli
def test_damage_words_in_metadata_are_not_damage(folder, tmp_path, capsys):
    """ffmpeg prints the file's metadata in its log; the ffmpeg decoder reads damage from that
    log, and took a title saying "truncated" for a truncated file (exit 2)."""
    titled = tmp_path / "titled.mp4"
    title = "Error while decoding stream #0:0: partial file, truncated; corrupt decoded frame"
    subprocess.run(
        [FFMPEG, "-v", "error", "-nostdin", "-i", str(folder / "clip.mp4"), "-c", "copy",
         "-metadata", f"title={title}", "-metadata:s:v:0", f"handler_name={title}", str(titled)],
        check=True,
    )  # fmt: skip
    assert ffprobe_json(titled, "-show_entries", "format_tags=title")["format"]["tags"] == {
        "title": title
    }
    assert main(["frames", "--json", "--backend", "ffmpeg", str(titled)]) == 0
    out, err = capsys.readouterr()
    assert err == "" and len(out.splitlines()) == CLIP_FRAMES


@pytest.mark.parametrize(
    "name",
    [
        "http://example.invalid/a.mp4",
        "https://example.invalid/a.mp4",
        "concat:x.mp4|y.mp4",
        "file:missing.mp4",
        "pipe:1",
        "tcp://127.0.0.1:9",
        "subfile,,start,0,end,100,,:clip.mp4",
    ],
)
@pytest.mark.parametrize("backend", BACKENDS)
def test_protocol_that_is_no_file_is_refused(
    folder, name, backend, ffmpeg_argvs, monkeypatch, capsys
):
    monkeypatch.chdir(folder)
    assert main(["frames", "--backend", backend, name]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err == (
        f"error: {name}: URLs and FFmpeg protocols are refused (only local files; "
        "--allow-url opens network inputs)\n"
    )
    assert ffmpeg_argvs == []


def test_leading_dash_without_double_dash_is_an_unknown_option(folder, monkeypatch, capsys):
    monkeypatch.chdir(folder)
    assert main(["frames", "-dash.mp4"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "-d" in err and err.count("\n") == 1


# --- output names ----------------------------------------------------------------------------

OUTPUTS = ["out put ünï.mkv", "-out.mkv", "concat:o.mkv|p.mkv", "http://host/out.mkv", "out%d.mkv"]


@needs_ffprobe
@pytest.mark.parametrize("writer", ["av", "ffmpeg"])
@pytest.mark.parametrize("output", OUTPUTS)
def test_output_name_is_written_literally(
    folder, output, writer, ffmpeg_argvs, monkeypatch, capsys
):
    monkeypatch.chdir(folder)
    target = (folder / output).resolve()
    before = {p for p in folder.rglob("*")}
    code = main(["gamma", "clip.mp4", "-g", "1.5", "--writer", writer, "-o", output])
    assert (code, capsys.readouterr().err) == (0, "")
    try:
        assert {p for p in folder.rglob("*")} - before == {target}  # nothing else written
        assert len(_literal_pts(target)) == CLIP_FRAMES
        if writer == "ffmpeg":
            (argv,) = [a for a in ffmpeg_argvs if "pipe:0" in a]  # the encoder's
            assert str(target) not in argv  # ffmpeg writes a temporary file, renamed after
            (temp,) = [a for a in argv if a.startswith(f"{target.parent}/.")]
            assert "%" not in temp
    finally:
        target.unlink()


@needs_ffprobe
@pytest.mark.parametrize("writer", ["av", "ffmpeg"])
def test_percent_in_an_image_output_is_not_a_pattern(folder, writer, monkeypatch, capsys):
    """FFmpeg's image2 muxer writes out%d.png as out1.png: the output was an empty file and
    the image was left in a hidden `.out1.png.part-*` file."""
    monkeypatch.chdir(folder)
    before = {p for p in folder.rglob("*")}
    code = main(
        ["gamma", IMAGE, "-g", "1.5", "--codec", "png", "--writer", writer, "-o", "out%d.png"]
    )
    assert (code, capsys.readouterr().err) == (0, "")
    target = folder / "out%d.png"
    try:
        assert {p for p in folder.rglob("*")} - before == {target}
        literal = ["-f", "image2", "-pattern_type", "none"]
        streams = ffprobe_json(target, *literal, "-show_entries", "stream=width,height")
        assert streams["streams"] == [{"width": 64, "height": 48}]
    finally:
        target.unlink()
