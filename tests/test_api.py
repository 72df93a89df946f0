"""The flat public API (`import vidpipe as vp`): the README's example run as written, a Sink
fed numpy frames with no input file, Python composition with `vp.detect` and a custom
stage, and the options the CLI and `vidpipe batch` share. ffprobe is the oracle for what was
written; the detections are compared with the detector called directly."""

from __future__ import annotations

import dataclasses
import inspect
import os
import re
import shutil
import threading
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from conftest import (
    NANO_ONNX,
    ROOT,
    SAMPLES,
    ffprobe_json,
    needs_ffprobe,
    needs_nano,
    processes_mentioning,
)

import vidpipe as vp
from vidpipe.types import Frame

AAC = SAMPLES / "h264_bframes_aac.mp4"


def _readme_example() -> str:
    """The first ```python block of the README's "Python API" section."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Python API", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def _stream_counts(path: Path) -> dict[str, int]:
    streams = ffprobe_json(path, "-count_frames", "-show_entries",
                           "stream=codec_type,nb_read_frames")["streams"]  # fmt: skip
    return {s["codec_type"]: int(s["nb_read_frames"]) for s in streams}


def _no_vidpipe_threads() -> bool:
    return not [t.name for t in threading.enumerate() if t.name.startswith("vidpipe")]


@needs_nano
@needs_ffprobe
def test_the_readme_example_runs_as_written(
    dog_clip: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code = _readme_example()
    assert 'vp.load_detector("yolox-nano")' in code and "vp.annotate(frame, dets)" in code
    shutil.copy(dog_clip, tmp_path / "in.mp4")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("VIDPIPE_MODEL_DIR", str(NANO_ONNX.parent))
    exec(compile(code, "README.md", "exec"), {})
    first_run = (tmp_path / "out.mp4").read_bytes()
    exec(compile(code, "README.md", "exec"), {})  # again, as a user re-runs it: it overwrites
    assert (tmp_path / "out.mp4").read_bytes() == first_run
    counts = _stream_counts(tmp_path / "out.mp4")
    assert counts == _stream_counts(tmp_path / "in.mp4")  # every frame, the audio copied
    assert sorted(os.listdir(tmp_path)) == ["in.mp4", "out.mp4"]  # no temporary file left
    assert _no_vidpipe_threads()
    # The boxes are drawn: the output differs from the gamma-corrected input where the dog is.
    with vp.open(tmp_path / "out.mp4") as drawn, vp.open(tmp_path / "in.mp4") as src:
        first = next(drawn.frames())
        plain = next(vp.gamma(src.frames(), 2.2))
        assert np.abs(first.planes[0].astype(int) - plain.planes[0].astype(int)).max() > 100


@needs_ffprobe
def test_a_sink_takes_numpy_frames_without_any_input_file(tmp_path: Path) -> None:
    out = tmp_path / "art.mkv"
    rate = Fraction(30000, 1001)
    yy, xx = np.mgrid[0:36, 0:64]
    pictures = [
        np.stack([(xx * 4 + i * 9) % 256, (yy * 7) % 256, np.full_like(xx, 40 * i)], -1).astype(
            np.uint8
        )
        for i in range(6)
    ]
    with vp.open(out, "w", width=64, height=36, rate=rate, codec="ffv1", pix_fmt="bgr0") as dst:
        for picture in pictures:
            dst.write(picture)
    assert dst.result is not None and dst.result.frames == 6
    stream = ffprobe_json(out, "-show_streams", "-select_streams", "v:0")["streams"][0]
    assert (stream["width"], stream["height"]) == (64, 36)
    assert Fraction(stream["r_frame_rate"]) == rate
    with av.open(str(out)) as container:
        decoded = [f for f in container.decode(video=0)]
    assert [round(f.time * rate) for f in decoded] == list(range(6))  # frame n at n / rate
    for frame, picture in zip(decoded, pictures, strict=True):  # ffv1 rgb: lossless
        np.testing.assert_array_equal(frame.to_ndarray(format="rgb24"), picture)


def test_a_sink_refuses_what_it_cannot_write(tmp_path: Path) -> None:
    bad = [
        ("needs a frame rate", {}, np.zeros((16, 16, 3), np.uint8)),
        ("H x W x 3 uint8", {"rate": 25}, np.zeros((16, 16), np.uint8)),
        ("the sink takes 32x16", {"rate": 25, "width": 32, "height": 16},
         np.zeros((16, 16, 3), np.uint8)),
        ("no frames", {"rate": 25}, None),
    ]  # fmt: skip
    for message, options, picture in bad:
        with (
            pytest.raises(vp.VidpipeError, match=message),
            vp.open(tmp_path / "a.mp4", "w", **options) as dst,
        ):
            if picture is not None:
                dst.write(picture)
    with pytest.raises(vp.VidpipeError, match="unknown codec"):
        vp.open(tmp_path / "e.mp4", "w", codec="no-such-codec")
    with pytest.raises(vp.VidpipeError, match="mode"):
        vp.open(tmp_path / "f.mp4", "x")
    assert os.listdir(tmp_path) == []  # nothing written, no temporary file left
    assert _no_vidpipe_threads()


def test_an_exception_inside_the_with_leaves_nothing(tmp_path: Path) -> None:
    out = tmp_path / "out.mp4"
    with (
        pytest.raises(RuntimeError, match="stop"),
        vp.open(AAC) as src,
        vp.open(out, "w", like=src) as dst,
    ):
        for frame in src.frames():
            dst.write(frame)
            if frame.index == 20:
                raise RuntimeError("stop")
    assert os.listdir(tmp_path) == []
    assert _no_vidpipe_threads()


def test_an_encoder_failure_reaches_write_or_close(tmp_path: Path) -> None:
    """The encoder runs behind `write`: its error comes back to the caller, and no file."""
    out = tmp_path / "out.mp4"
    with (
        pytest.raises(vp.VidpipeError, match="is 48x48; the stream is 64x48"),
        vp.open(out, "w", rate=25) as dst,
    ):
        dst.write(np.zeros((48, 64, 3), np.uint8))
        dst.write(np.zeros((48, 48, 3), np.uint8))
        for _ in range(50):  # the error arrives at a later write, or at close
            dst.write(np.zeros((48, 64, 3), np.uint8))
    assert os.listdir(tmp_path) == []
    assert _no_vidpipe_threads()


@needs_ffprobe
def test_a_source_is_probed_once_and_closes_what_it_handed_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import vidpipe.io.source as source_mod

    calls = []
    real = source_mod.probe
    monkeypatch.setattr(source_mod, "probe", lambda *a, **k: calls.append(a) or real(*a, **k))
    with vp.open(AAC, backend="ffmpeg") as src:
        assert src.info.frame_count == 100 and src.info.width == 320
        frames = src.frames()
        assert next(frames).index == 0
        assert len(list(src.frames(skip="nonkey"))) == sum(
            f["key_frame"] for f in ffprobe_json(AAC, "-show_frames", "-select_streams", "v:0",
                                                 "-show_entries", "frame=key_frame")["frames"]
        )  # fmt: skip
        assert processes_mentioning(str(AAC.resolve()))  # the first iterator's ffmpeg
    assert processes_mentioning(str(AAC.resolve())) == []  # closed with the Source
    assert len(calls) == 1
    with pytest.raises(vp.VidpipeError, match="closed"):
        src.frames()
    with pytest.raises(vp.InputError, match="no such file"):
        vp.open(tmp_path / "missing.mp4")


@needs_nano
def test_python_composition_with_detect_and_a_custom_stage(dog_clip: Path) -> None:
    """A user's own stage (a horizontal mirror) before `vp.detect`, and a filter after it:
    the same detections as calling the detector on the mirrored frames directly."""

    def mirror(frames: Iterator[Frame]) -> Iterator[Frame]:
        for frame in frames:
            planes = tuple(np.ascontiguousarray(p[:, ::-1]) for p in frame.planes)
            yield dataclasses.replace(frame, planes=planes)

    detector = vp.load_detector(str(NANO_ONNX), device="cpu", batch=3)
    with vp.open(dog_clip) as src:
        pairs = list(vp.detect(mirror(src.frames()), detector))
        frames = list(mirror(src.frames()))
    assert [f.index for f, _ in pairs] == list(range(len(frames)))  # order, tail kept (16 = 3*5+1)
    direct = detector(frames)
    for (_, dets), expected in zip(pairs, direct, strict=True):
        np.testing.assert_allclose(dets.xyxy, expected.xyxy, atol=1e-3)
        confident = dets[dets.scores > 0.5]
        assert len(confident) == int((expected.scores > 0.5).sum())
        assert confident.names == detector.names and "dog" in [
            detector.names[c] for c in confident.class_ids
        ]
    width = frames[0].width
    with vp.open(dog_clip) as src:
        _, original = next(vp.detect(src.frames(), detector))
    dog = original[original.class_ids == detector.names.index("dog")].xyxy[0]
    mirrored = pairs[0][1][pairs[0][1].class_ids == detector.names.index("dog")].xyxy[0]
    # the dog found in the mirror where the mirror puts it (the model is not exactly symmetric)
    np.testing.assert_allclose([width - dog[2], width - dog[0]], mirrored[[0, 2]], atol=width / 20)


@needs_nano
def test_a_scan_from_python(dog_clip: Path, tmp_path: Path) -> None:
    """`vp.detect_file(..., scan=vp.ScanOptions(...))`: the sampled frames' detections and
    the intervals are written, the summary comes back, no thread is left."""
    detector = vp.load_detector(str(NANO_ONNX), device="cpu")
    jsonl, intervals = tmp_path / "dets.jsonl", tmp_path / "iv.jsonl"
    result = vp.detect_file(dog_clip, jsonl=jsonl, intervals=intervals, detector=detector,
                            scan=vp.ScanOptions("every:5", refine=True))  # fmt: skip
    with vp.open(dog_clip) as src:
        last = src.info.frame_count - 1
    seen = [int(line.split(",", 1)[0].split(":")[1]) for line in jsonl.read_text().splitlines()]
    assert seen == sorted(set(seen)) and {0, 5, 10, last} <= set(seen)
    assert result.frames == len(seen) and result.video is None
    assert "dog" in [row["label"] for row in result.scan]
    assert '"label": "dog"' in intervals.read_text()
    assert _no_vidpipe_threads()
    with pytest.raises(vp.InputError, match="--scan writes no video"):
        vp.detect_file(dog_clip, video=tmp_path / "x.mp4", detector=detector,
                       scan=vp.ScanOptions())  # fmt: skip


def test_cli_and_batch_share_the_library_defaults() -> None:
    """One definition of each default: the CLI's options and batch's job options are the
    options dataclasses' own."""
    from vidpipe.batch.tasks import DEFAULTS
    from vidpipe.cli.detect import detect_command
    from vidpipe.cli.options import CODEC, CRF, PRESET, WRITER
    from vidpipe.cli.process import chroma_command, gamma_command

    cli = {
        name: param.default
        for name, param in inspect.signature(detect_command).parameters.items()
        if hasattr(param.default, "default")
    }
    detect = vp.DetectOptions()
    # The options detect and batch share are declared once (vidpipe.cli.options), unset
    # (None) meaning the dataclass's default, which their help states.
    for field in dataclasses.fields(vp.DetectOptions):
        name = "compile_" if field.name == "compile" else field.name
        option = cli[name]
        assert option.default in (None, getattr(detect, field.name)), field.name
        if option.default is None and getattr(detect, field.name) not in (None, detect.conf):
            assert f"({getattr(detect, field.name)})" in option.help, field.name
    unset = {f.name: None for f in dataclasses.fields(vp.DetectOptions)}
    assert vp.DetectOptions.from_dict(unset) == detect
    # --conf unset is the library's default, or TRACK_CONF for a tracked run
    from vidpipe.tracking.options import TRACK_CONF, detect_conf, tracking_of

    assert f"default {detect.conf}, {TRACK_CONF} with --track" in cli["conf"].help
    assert detect_conf(None, None, detect.conf) == detect.conf
    assert detect_conf(None, vp.TrackOptions(), detect.conf) == TRACK_CONF
    assert {k: DEFAULTS["detect"][k] for k in detect.to_dict()} == detect.to_dict()
    track = vp.TrackOptions()
    names = ("track_buffer", "track_high", "track_new", "track_min_hits", "trails", "anchor")
    assert all(cli[n].default is None for n in names)
    for name, value in (("track_buffer", track.lost_s), ("track_high", track.high),
                        ("track_new", track.new_track), ("track_min_hits", track.min_hits),
                        ("anchor", track.anchor)):  # fmt: skip
        assert f"({value})" in cli[name].help, name
    assert tracking_of(track.tracker, lost_s=None, high=None, new_track=None, min_hits=None,
                       anchor=None) == track  # fmt: skip
    assert (DEFAULTS["detect"]["track_buffer"], DEFAULTS["detect"]["trails"]) == (
        track.lost_s, track.trails,
    )  # fmt: skip
    # The encoder options (vidpipe.cli.options, every command that encodes) likewise.
    encode = vp.EncodeOptions()
    assert (CODEC.default, CRF.default, PRESET.default, WRITER.default) == (None,) * 4
    assert f"({encode.codec})" in CODEC.help and f"({encode.writer})" in WRITER.help
    assert DEFAULTS["gamma"]["codec"] == encode.codec == "auto"
    for task in ("detect", "gamma", "chroma"):
        assert (DEFAULTS[task]["crf"], DEFAULTS[task]["preset"]) == (encode.crf, encode.preset)
    ops = vp.OpOptions()
    gamma_on = inspect.signature(gamma_command).parameters["on"].default.default
    chroma = inspect.signature(chroma_command).parameters
    assert gamma_on == ops.gamma_on
    assert (chroma["up"].default.default, chroma["filter_"].default.default) == (
        ops.chroma_up,
        ops.chroma_down,
    )


def test_options_are_validated_once_in_the_library() -> None:
    with pytest.raises(vp.InputError, match=r"--conf must be in 0\.\.1"):
        vp.DetectOptions(conf=1.5)
    with pytest.raises(vp.InputError, match="--device"):
        vp.DetectOptions(device="tpu")
    with pytest.raises(vp.InputError, match="multiple of 32"):
        vp.DetectOptions(size=100)
    with pytest.raises(vp.InputError, match="gamma must be in"):
        vp.OpOptions(gamma=0)
    with pytest.raises(vp.InputError, match="420, 422 or 444"):
        vp.OpOptions(chroma="411")
    with pytest.raises(vp.InputError, match=r"--crf must be in 0\.\.63, got 99"):
        vp.EncodeOptions(crf=99)
    with pytest.raises(vp.InputError, match="--crf must be an integer"):
        vp.EncodeOptions(crf=23.5)  # type: ignore[arg-type]
    with pytest.raises(vp.InputError, match="--preset must be an encoder preset name"):
        vp.EncodeOptions(preset="-x264-params")
    with pytest.raises(vp.InputError, match="--writer must be av or ffmpeg"):
        vp.EncodeOptions(writer="gst")  # type: ignore[arg-type]
    assert vp.EncodeOptions(preset="8").preset == "8"  # SVT-AV1's presets are numbers
    assert vp.OpOptions(chroma="4:2:2").chroma == "422"
    assert vp.DetectOptions(classes="person").classes == ("person",)
    assert vp.DetectOptions.from_dict(vp.DetectOptions(conf=0.5).to_dict()) == vp.DetectOptions(
        conf=0.5
    )


def test_every_public_name_resolves_and_reading_needs_no_torch() -> None:
    """`vp.<name>` loads only its own module: decoding, the ops and the Sink without torch."""
    import subprocess
    import sys

    code = (
        "import sys, vidpipe as vp\n"
        f"with vp.open({str(AAC)!r}) as src:\n"
        "    frames = list(vp.chroma(vp.gamma(src.frames(), 2.0), '444'))\n"
        "assert len(frames) == 100 and frames[0].pix_fmt == 'yuv444p'\n"
        "assert 'torch' not in sys.modules, 'torch loaded'\n"
        "missing = [n for n in vp.__all__ if getattr(vp, n, None) is None]\n"
        "assert not missing, missing\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=300)
