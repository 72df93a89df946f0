"""`vidpipe batch` runs a task with its command's options and gets its command's output: a
detect job with ops before detection and another decoder writes the JSON Lines
`vidpipe detect` writes with them, the gamma and chroma tasks with --on / --up / --filter
the video `vidpipe gamma` / `vidpipe chroma` write (lossless, compared frame by frame), a
scan with --thumbs the folder `detect --scan --thumbs` fills; each such option is part of
the job's identity in the ledger (another value: the job runs again)."""

from __future__ import annotations

import json
from pathlib import Path

import av
import numpy as np
import pytest
from conftest import NANO_ONNX, make_clip, needs_nano, run_cli

LOSSLESS = ["--codec", "ffv1", "-q"]


def _frames(path: Path) -> list[np.ndarray]:
    """Every frame's planes, decoded (the oracle: PyAV, not vidpipe)."""
    with av.open(str(path)) as container:
        return [
            np.concatenate([np.frombuffer(bytes(p), np.uint8) for p in frame.planes])
            for frame in container.decode(video=0)
        ]


def _same_frames(a: Path, b: Path) -> bool:
    one, two = _frames(a), _frames(b)
    if not len(one) == len(two) > 0:
        return False
    return all(np.array_equal(x, y) for x, y in zip(one, two, strict=True))


def _batch(inputs: Path, out: Path, *args: str, timeout: float = 120) -> dict:
    """Run batch with a report; the report's totals."""
    report = out.parent / f"{out.name}.report.json"
    done = run_cli("batch", str(inputs), "-o", str(out), *args, "--report", str(report), "-q",
                   timeout=timeout)  # fmt: skip
    assert done.returncode == 0, done.stderr
    return json.loads(report.read_text())["totals"]


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Lossless Matroska clips of 12 frames of moving gradients, 4:4:4 (chroma to
    downsample) and 4:2:0 (to upsample), by pix_fmt."""
    return {
        pix_fmt: make_clip(tmp_path_factory.mktemp(pix_fmt) / "c.mkv", frames=12, codec="ffv1",
                           pix_fmt=pix_fmt)
        for pix_fmt in ("yuv444p", "yuv420p")
    }  # fmt: skip


@pytest.mark.parametrize(
    ("command", "pix_fmt", "args", "default"),
    [
        ("gamma", "yuv420p", ["--gamma", "2.2", "--on", "rgb"], ["--gamma", "2.2"]),
        ("chroma", "yuv444p", ["--to", "420", "--filter", "bilinear"], ["--to", "420"]),
        ("chroma", "yuv420p", ["--to", "444", "--up", "nearest", "--pix-fmt", "yuv444p"],
         ["--to", "444"]),
    ],
)  # fmt: skip
def test_gamma_and_chroma_tasks_write_what_their_command_writes(
    tmp_path: Path, clips: dict[str, Path], command: str, pix_fmt: str, args: list[str],
    default: list[str],
) -> None:  # fmt: skip
    """The task with --on / --filter / --up gives the command's frames with them, not the
    default's; changing the option runs the job again (it is part of its identity)."""
    clip = clips[pix_fmt]
    single = tmp_path / "single.mkv"
    done = run_cli(command, str(clip), "-o", str(single), *args, *LOSSLESS)
    assert done.returncode == 0, done.stderr
    out = tmp_path / "out"
    assert _batch(clip, out, "--task", command, *default, *LOSSLESS)["done"] == 1
    assert not _same_frames(out / "c.mkv", single)  # the option matters on this clip
    assert _batch(clip, out, "--task", command, *args, *LOSSLESS)["done"] == 1
    assert _same_frames(out / "c.mkv", single)
    assert _batch(clip, out, "--task", command, *args, *LOSSLESS)["skipped"] == 1


@needs_nano
def test_a_detect_job_with_ops_and_the_ffmpeg_decoder_is_detect(
    tmp_path: Path, dog_clip: Path
) -> None:
    """batch --task detect --gamma 2 --on rgb --chroma 444 --backend ffmpeg writes the JSON
    Lines `vidpipe detect` writes with the same options, and not those of a plain run."""
    opts = ["--model", str(NANO_ONNX), "--gamma", "2", "--on", "rgb", "--chroma", "444",
            "--backend", "ffmpeg"]  # fmt: skip
    single = run_cli("detect", str(dog_clip), *opts, "--json", "-", "-q", timeout=120)
    assert single.returncode == 0, single.stderr
    out = tmp_path / "out"
    assert _batch(dog_clip, out, "--task", "detect", *opts)["done"] == 1
    ours = (out / "dog.jsonl").read_text()
    assert ours == single.stdout and ours.count("\n") == 16
    plain = tmp_path / "plain"
    _batch(dog_clip, plain, "--task", "detect", "--model", str(NANO_ONNX))
    assert (plain / "dog.jsonl").read_text() != ours


@needs_nano
def test_a_batch_scan_with_thumbs_fills_the_folder_detect_fills(
    tmp_path: Path, dog_clip: Path
) -> None:
    """--scan --sample every:4 --thumbs: <stem>.scan.thumbs/ holds the images
    `detect --scan --thumbs DIR` writes; a re-run skips the job (the folder is checked), one
    without --thumbs is another job."""
    opts = ["--model", str(NANO_ONNX), "--scan", "--sample", "every:4"]
    thumbs = tmp_path / "thumbs"
    single = run_cli("detect", str(dog_clip), *opts, "--thumbs", str(thumbs), "--json", "-",
                     "-q", timeout=120)  # fmt: skip
    assert single.returncode == 0, single.stderr
    out = tmp_path / "out"
    assert _batch(dog_clip, out, "--task", "detect", *opts, "--thumbs")["done"] == 1
    folder = out / "dog.scan.thumbs"
    names = sorted(p.name for p in thumbs.iterdir())
    assert names and sorted(p.name for p in folder.iterdir()) == names
    assert (out / "dog.scan.jsonl").read_text() == single.stdout
    assert _batch(dog_clip, out, "--task", "detect", *opts, "--thumbs")["skipped"] == 1
    (folder / names[0]).write_bytes(b"changed")  # a damaged output: the job is redone
    assert _batch(dog_clip, out, "--task", "detect", *opts, "--thumbs")["done"] == 1
    assert sorted(p.name for p in folder.iterdir()) == names
    assert not [p for p in out.iterdir() if p.name.startswith(".dog")]  # no temporary left
    assert _batch(dog_clip, out, "--task", "detect", *opts)["done"] == 1
