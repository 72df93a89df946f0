"""What one `vidpipe batch` job runs: the tasks (detect, gamma, chroma, frames), their
options (checked before any job starts), their output names, and the call into the library.

Every output is written atomically (temporary file beside the target, renamed on success):
`encode` and the detection sinks do it themselves, `frames` listings use `reserve_temp`.
`run_task` runs inside a worker process; a loaded detector is cached per worker.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vidpipe.errors import InputError

if TYPE_CHECKING:
    from vidpipe.types import VideoInfo

TASKS = ("detect", "gamma", "chroma", "frames")
ENCODE_KEYS = ("codec", "crf", "preset")
DEFAULTS: dict[str, dict[str, Any]] = {
    "detect": {"model": "yolox-nano", "conf": 0.25, "iou": 0.45, "batch": None,
               "device": "cpu", "classes": None, "size": None, "video": False, "coco": False,
               "codec": "auto", "crf": None, "preset": None},
    "gamma": {"gamma": None, "codec": "auto", "crf": None, "preset": None},
    "chroma": {"to": None, "codec": "auto", "crf": None, "preset": None},
    "frames": {},
}  # fmt: skip
_detectors: dict[tuple[Any, ...], Any] = {}  # per worker process: loaded once, reused


def check_options(task: str, options: Mapping[str, Any]) -> dict[str, Any]:
    """`options` completed with the task's defaults and checked; InputError names the bad
    option (unknown key, wrong type, out of range). None values mean the default."""
    if task not in TASKS:
        raise InputError(f"unknown task {task!r}; choose from {', '.join(TASKS)}")
    allowed = DEFAULTS[task]
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise InputError(f"task {task} takes no option {', '.join(unknown)}")
    merged = {**allowed, **{k: v for k, v in options.items() if v is not None}}
    if task == "gamma":
        _check_gamma(merged["gamma"])
    elif task == "chroma":
        to = str(merged["to"] or "").replace(":", "")
        if to not in ("420", "422", "444"):
            raise InputError(f"--to must be 420, 422 or 444, not {merged['to']!r}")
        merged["to"] = to
    elif task == "detect":
        _check_detect(merged)
    if task != "frames":
        _check_encoder(merged)
    return merged


def _number(name: str, value: Any, kind: type) -> Any:
    if isinstance(value, bool) or not isinstance(value, (int, float) if kind is float else int):
        raise InputError(f"--{name} must be {'a number' if kind is float else 'an integer'}")
    return kind(value)


def _check_gamma(value: Any) -> None:
    if value is None:
        raise InputError("task gamma needs --gamma")
    gamma = _number("gamma", value, float)
    if not 0.0 < gamma <= 10.0:
        raise InputError(f"--gamma must be in (0, 10], got {gamma:g}")


def _check_detect(merged: dict[str, Any]) -> None:
    conf, iou = _number("conf", merged["conf"], float), _number("iou", merged["iou"], float)
    if not 0.0 <= conf <= 1.0:
        raise InputError(f"--conf must be in 0..1, got {conf:g}")
    if not 0.0 < iou <= 1.0:
        raise InputError(f"--iou must be in (0, 1], got {iou:g}")
    if merged["batch"] is not None and _number("batch", merged["batch"], int) < 1:
        raise InputError(f"--batch must be >= 1, got {merged['batch']}")
    size = merged["size"]
    if size is not None and (_number("size", size, int) <= 0 or size % 32):
        raise InputError(f"--size must be a positive multiple of 32, got {size}")
    device = merged["device"]
    if not isinstance(device, str) or not (
        device in ("auto", "cpu", "cuda") or device.startswith("cuda:")
    ):
        raise InputError(f"--device must be auto, cpu or cuda[:N], not {device!r}")
    classes = merged["classes"]
    if isinstance(classes, str):
        merged["classes"] = [classes]
    elif classes is not None and not (
        isinstance(classes, list) and all(isinstance(c, str) for c in classes)
    ):
        raise InputError("--classes must be class names or ids")
    if not isinstance(merged["model"], str) or not merged["model"].strip():
        raise InputError("--model must name a model or a model file")
    for flag in ("video", "coco"):
        if not isinstance(merged[flag], bool):
            raise InputError(f"option {flag} must be true or false")


def _check_encoder(merged: dict[str, Any]) -> None:
    crf, preset, codec = merged["crf"], merged["preset"], merged["codec"]
    if crf is not None and not 0 <= _number("crf", crf, int) <= 63:
        raise InputError(f"--crf must be in 0..63, got {crf}")
    if preset is not None and (not isinstance(preset, str) or not preset.isidentifier()):
        raise InputError(f"--preset must be an encoder preset name, not {preset!r}")
    if not isinstance(codec, str) or not codec:
        raise InputError("--codec must name an FFmpeg video encoder")
    if codec != "auto":
        from vidpipe.io.output import check_codec  # imports PyAV (but not numpy)

        try:
            check_codec(codec)
        except Exception as exc:  # VidpipeError
            raise InputError(str(exc)) from None


def check_model(options: Mapping[str, Any]) -> None:
    """InputError when a detect job's model is neither a local file nor a known name
    (checked once in the driver, before any worker starts; nothing is downloaded)."""
    from vidpipe.detect.hub import MODELS, canonical_name, resolve_model

    model = str(options["model"])
    if canonical_name(model) in MODELS:
        return  # found locally or pulled by the worker
    resolve_model(model, download=False)


def output_names(task: str, stem: str, input_suffix: str, options: Mapping[str, Any]) -> list[str]:
    """The outputs of a job, relative to OUTDIR (POSIX), the main one first."""
    if task == "frames":
        return [f"{stem}.frames.jsonl"]
    if task in ("gamma", "chroma"):
        return [f"{stem}{input_suffix.lower()}"]
    names = [f"{stem}.mp4"] if options.get("video") else []
    names.append(f"{stem}.jsonl")
    if options.get("coco"):
        names.append(f"{stem}.coco.json")
    return names


def run_task(
    task: str, source: str, outputs: list[str], options: Mapping[str, Any], *,
    threads: int = 0, server: str | None = None,
) -> None:  # fmt: skip
    """Run one job: read `source`, write every path of `outputs` (absolute, from
    `output_names`, in that order; their folders exist) atomically, replacing old ones.
    threads: encoder threads (0: the encoder's own choice); server: the address of a model
    server that runs the detect model (None: the model is loaded in this process)."""
    from vidpipe.io.probe import probe

    info = probe(source)  # InputError for a file that is not a video
    if task == "frames":
        _run_frames(source, Path(outputs[0]), info)
    elif task == "detect":
        _run_detect(source, outputs, options, info, threads, server)
    else:
        _run_process(task, source, outputs[0], options, info, threads)


def encode_options(options: Mapping[str, Any], output: str, threads: int = 0) -> Any:
    """The EncodeOptions of a job ("auto" codec: by the output's container)."""
    from vidpipe.io.encode import EncodeOptions
    from vidpipe.io.output import auto_codec

    codec = options["codec"]
    if codec == "auto":
        codec = auto_codec(output, gpu=False)
    return EncodeOptions(
        codec=codec, crf=options["crf"], preset=options["preset"], overwrite=True, threads=threads
    )


def _run_process(
    task: str, source: str, output: str, options: Mapping[str, Any], info: VideoInfo, threads: int
) -> None:
    from vidpipe.pipeline.process import process_file
    from vidpipe.pipeline.stages import chroma_stage, gamma_stage

    if task == "gamma":
        stage = functools.partial(gamma_stage, gamma=float(options["gamma"]), on="luma")
    else:
        stage = functools.partial(chroma_stage, to=options["to"])
    opts = encode_options(options, output, threads)
    process_file(source, output, [stage], options=opts, info=info)


def _run_frames(source: str, target: Path, info: VideoInfo) -> None:
    """The listing of `vidpipe frames --json`, one JSON object per frame."""
    from vidpipe.io.decode import decode
    from vidpipe.runtime.files import atomic_path
    from vidpipe.types import frame_record

    with atomic_path(target) as tmp, open(tmp, "w", encoding="utf-8") as file:
        for frame in decode(source, info=info):
            file.write(json.dumps(frame_record(frame)) + "\n")


def detector_key(options: Mapping[str, Any]) -> tuple[Any, ...]:
    """What makes two jobs' detectors the same (model, device, size, classes, thresholds)."""
    classes = tuple(options["classes"] or ())
    return (options["model"], options["device"], options["size"], classes, options["conf"],
            options["iou"])  # fmt: skip


def load_task_detector(options: Mapping[str, Any]) -> Any:
    """A Detector for a detect job's (checked) options."""
    from vidpipe.detect.detector import load_detector

    return load_detector(
        options["model"], device=options["device"], size=options["size"],
        classes=list(options["classes"] or ()) or None, conf=options["conf"], iou=options["iou"],
    )  # fmt: skip


def detector_for(options: Mapping[str, Any]) -> Any:
    """The worker's detector for these options, loaded on first use and then reused."""
    key = detector_key(options)
    if key not in _detectors:
        _detectors[key] = load_task_detector(options)
    return _detectors[key]


def _run_detect(
    source: str, outputs: list[str], options: Mapping[str, Any], info: VideoInfo, threads: int,
    server: str | None,
) -> None:  # fmt: skip
    import contextlib

    from vidpipe.detect.detector import DEFAULT_BATCH
    from vidpipe.detect.results import CocoResults, DetectionsJsonl
    from vidpipe.pipeline.detect import detect_stage
    from vidpipe.pipeline.process import process_file, run_file

    with contextlib.ExitStack() as stack:
        if server is None:
            detector = detector_for(options)
        else:
            from vidpipe.batch.model_server import RemoteDetector

            detector = stack.enter_context(RemoteDetector(server, options))
        batch = options["batch"] or DEFAULT_BATCH[detector.device.type]
        video = outputs[0] if options.get("video") else None
        rest = outputs[1:] if video else outputs
        jsonl = stack.enter_context(DetectionsJsonl(rest[0], detector.names))
        coco = (
            stack.enter_context(CocoResults(rest[1], detector.num_classes))
            if len(rest) > 1
            else None
        )

        def on_result(frame, dets) -> None:
            jsonl.write(frame.index, frame.pts, frame.time, dets)
            if coco is not None:
                coco.write(frame.index, dets)

        stage = functools.partial(
            detect_stage, detector=detector, batch=batch, on_result=on_result, draw=bool(video)
        )
        if video is None:
            run_file(source, [stage], info=info)
        else:
            opts = encode_options(options, video, threads)
            process_file(source, video, [stage], options=opts, info=info)
