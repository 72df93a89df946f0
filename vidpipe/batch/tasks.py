"""What one `vidpipe batch` job runs: the tasks (detect, gamma, chroma, frames), their
options (checked before any job starts), their output names, and the call into the library.

A job's options are a flat JSON object (recorded in the ledger, so a re-run with another
value is another job), keyed by the CLI flag ("pix_fmt" for --pix-fmt); they are checked by
the library's own options dataclasses (`DetectOptions`, `TrackOptions`, `OpOptions`,
`ScanOptions`, `EncodeOptions`) and `check_open_options`, whose defaults are the only
defaults, and the job runs the same recipes as the CLI (`process_file`, `detect_file`).
Every output is written atomically (a scan's thumbnail folder whole). `run_task` runs
inside a worker process; a loaded detector is cached per worker. Importing this module and
checking options loads neither numpy nor PyAV (a re-run over finished work is mostly
start-up).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from vidpipe.detectors.options import DetectOptions
from vidpipe.errors import InputError, number_option
from vidpipe.io.encode_options import EncodeOptions
from vidpipe.io.inputs import BACKENDS, check_open_options, is_stream
from vidpipe.pipeline.options import OpOptions, ScanOptions, check_scan_flags
from vidpipe.tracking.options import (
    TrackOptions,
    check_tracked_outputs,
    detect_conf,
    tracking_of,
)

TASKS = ("detect", "gamma", "chroma", "frames")
_E, _O, _S = EncodeOptions(), OpOptions(), ScanOptions()
# The encoder options a job takes (those of the CLI's that are no per-file output: not
# --overwrite, always on, nor --segment), by option name.
_ENCODE_DEFAULTS = {
    "codec": _E.codec, "crf": _E.crf, "preset": _E.preset, "pix_fmt": _E.pix_fmt,
    "bake_rotation": _E.rotation == "bake", "writer": _E.writer,
}  # fmt: skip
_READ_DEFAULTS = {"backend": BACKENDS[0]}  # every task's input
FLAGS = ("video", "coco", "mot", "scan", "refine", "thumbs", "bake_rotation")
DEFAULTS: dict[str, dict[str, Any]] = {
    "detect": {
        **_READ_DEFAULTS,
        **DetectOptions().to_dict(),
        "gamma": None,  # the ops before detection (`vidpipe detect --gamma --on / --chroma`)
        "on": _O.gamma_on,
        "chroma": None,
        "video": False,
        "coco": False,
        **_ENCODE_DEFAULTS,
        "track": None,
        "track_buffer": TrackOptions().lost_s,
        "track_high": TrackOptions().high,
        "track_new": TrackOptions().new_track,
        "track_min_hits": TrackOptions().min_hits,
        "trails": 0,
        "count_line": [],
        "zone": [],
        "mot": False,
        "anchor": TrackOptions().anchor,
        "scan": False,
        "sample": _S.sample,
        "refine": _S.refine,
        "thumbs": False,
        "export": [],  # formats of `vidpipe export`, each written beside the JSON Lines
    },
    "gamma": {**_READ_DEFAULTS, "gamma": None, "on": _O.gamma_on, **_ENCODE_DEFAULTS},
    "chroma": {
        **_READ_DEFAULTS,
        "to": None,
        "up": _O.chroma_up,
        "filter": _O.chroma_down,
        **_ENCODE_DEFAULTS,
    },
    "frames": {**_READ_DEFAULTS},
}
_detectors: dict[DetectOptions, Any] = {}  # per worker process: loaded once, reused


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
    for flag in FLAGS:
        if flag in merged and not isinstance(merged[flag], bool):
            raise InputError(f"option {flag} must be true or false")
    check_open_options(merged["backend"])
    if task == "frames":
        return merged
    if merged.get("gamma") is not None:
        number_option("gamma", merged["gamma"], float)
    ops = ops_options(task, merged)  # raises for a bad one; normalised values recorded
    if task == "chroma":
        merged["to"] = ops.chroma
    else:
        merged["gamma"] = ops.gamma
    if task == "detect":
        merged["chroma"] = ops.chroma
        if ops.gamma is None:
            del merged["on"]  # an op's option, recorded with the op (ledgers stay as they were)
        if isinstance(merged["classes"], str):
            merged["classes"] = [merged["classes"]]
        if merged["classes"] is not None and not isinstance(merged["classes"], list):
            raise InputError("--classes must be class names or ids")
        for flag in ("count_line", "zone", "export"):
            if isinstance(merged[flag], str):
                merged[flag] = [merged[flag]]
        tracking = track_options(merged)  # raises for a bad one
        merged["conf"] = detect_conf(options.get("conf"), tracking, DetectOptions().conf)
        detect_options(merged)
        check_tracked_outputs(tracking, mot=merged["mot"], events=False)
        _check_exports(merged, tracking is not None)
        _check_scan(merged, tracking)
    _check_encoder(merged)
    return merged


def _check_exports(merged: dict[str, Any], tracked: bool) -> None:
    """The --export formats: a list of known names (each once), tracked where they must be."""
    from vidpipe.formats.export import check_format

    formats = merged["export"]
    if not isinstance(formats, list) or not all(isinstance(f, str) for f in formats):
        raise InputError("--export must be format names")
    for name in formats:
        check_format(name, tracked)
    merged["export"] = list(dict.fromkeys(formats))


def _check_scan(merged: Mapping[str, Any], tracking: TrackOptions | None) -> None:
    """InputError for a bad scan (see `scan_options`) or one asked for what it cannot do."""
    check_scan_flags(merged["scan"], refine=merged["refine"], thumbs=merged["thumbs"])
    scanning = scan_options(merged)
    if scanning is None:
        return
    counting = tracking is not None and bool(tracking.lines or tracking.zones)
    scanning.check(video=bool(merged["video"]), track=tracking is not None, counting=counting)


def scan_options(options: Mapping[str, Any]) -> ScanOptions | None:
    """The `ScanOptions` of a detect job's options; None for a full pass."""
    if not options.get("scan"):
        return None
    return ScanOptions(options.get("sample", _S.sample), bool(options.get("refine")))


def detect_options(options: Mapping[str, Any]) -> DetectOptions:
    """The `DetectOptions` of a detect job's options."""
    fields = {f.name for f in dataclasses.fields(DetectOptions)}
    return DetectOptions.from_dict({k: v for k, v in options.items() if k in fields})


def track_options(options: Mapping[str, Any]) -> TrackOptions | None:
    """The `TrackOptions` of a detect job's options; None for an untracked job."""
    return tracking_of(
        options.get("track"), lines=options.get("count_line") or (),
        zones=options.get("zone") or (), trails=options.get("trails") or 0,
        lost_s=options.get("track_buffer"), high=options.get("track_high"),
        new_track=options.get("track_new"), min_hits=options.get("track_min_hits"),
        anchor=options.get("anchor"),
    )  # fmt: skip


def ops_options(task: str, options: Mapping[str, Any]) -> OpOptions:
    """The `OpOptions` of a job's options: a gamma or chroma job's op, a detect job's ops
    before detection (none for frames)."""
    if task == "gamma":
        if options.get("gamma") is None:
            raise InputError("task gamma needs --gamma")
        return OpOptions(gamma=options["gamma"], gamma_on=options.get("on", _O.gamma_on))
    if task == "chroma":
        if options.get("to") is None:
            raise InputError("task chroma needs --chroma (420, 422 or 444)")
        return OpOptions(
            chroma=str(options["to"]), chroma_up=options.get("up", _O.chroma_up),
            chroma_down=options.get("filter", _O.chroma_down),
        )  # fmt: skip
    if task == "detect":
        chroma = options.get("chroma")
        return OpOptions(gamma=options.get("gamma"), gamma_on=options.get("on", _O.gamma_on),
                         chroma=None if chroma is None else str(chroma))  # fmt: skip
    return OpOptions()


def encode_options(options: Mapping[str, Any], threads: int = 0) -> EncodeOptions:
    """The `EncodeOptions` of a job's options (outputs are always replaced)."""
    values = {**_ENCODE_DEFAULTS, **{k: v for k, v in options.items() if k in _ENCODE_DEFAULTS}}
    bake = values.pop("bake_rotation")
    return EncodeOptions(**values, rotation="bake" if bake else "keep", overwrite=True,
                         threads=threads)  # fmt: skip


def _check_encoder(merged: dict[str, Any]) -> None:
    """InputError for a bad encoder option, as `EncodeOptions` says (and an unknown codec or
    a pixel format it cannot take)."""
    options = encode_options(merged)
    if options.codec != "auto":
        from vidpipe.io.output import check_codec, check_pix_fmt  # PyAV (but not numpy)

        check_pix_fmt(check_codec(options.codec), options.pix_fmt)


def check_model(options: Mapping[str, Any]) -> None:
    """InputError when a detect job's model is neither a local file nor a known name, when
    its family cannot be told (an ambiguous export without --model-format) or its --names
    file is unreadable (checked once in the driver, before any worker starts; nothing is
    downloaded)."""
    from vidpipe.detectors.detector import read_names
    from vidpipe.detectors.families import family_for
    from vidpipe.models.hub import MODELS, canonical_name, resolve_model

    model = str(options["model"])
    if canonical_name(model) not in MODELS:  # a name: found locally or pulled by the worker
        model_format = options.get("model_format", "auto")
        family_for(
            resolve_model(model, download=False), None if model_format == "auto" else model_format
        )
    if isinstance(options.get("names"), str):
        read_names(Path(options["names"]))


def output_names(task: str, stem: str, input_suffix: str, options: Mapping[str, Any]) -> list[str]:
    """The outputs of a job, relative to OUTDIR (POSIX), the main one first."""
    if task == "frames":
        return [f"{stem}.frames.jsonl"]
    if task in ("gamma", "chroma"):
        return [f"{stem}{input_suffix.lower()}"]
    return list(_detect_outputs(stem, options).values())


def _detect_outputs(stem: str, options: Mapping[str, Any]) -> dict[str, str]:
    """A detect job's outputs by `detect_file` argument, the video first when there is one."""
    names = {"video": f"{stem}.mp4"} if options.get("video") else {}
    names["jsonl"] = f"{stem}.jsonl"
    if options.get("scan"):
        names["intervals"] = f"{stem}.intervals.jsonl"
        if options.get("thumbs"):
            names["thumbs"] = f"{stem}.thumbs"  # a folder, as `detect --thumbs` writes
    if options.get("coco"):
        names["coco"] = f"{stem}.coco.json"
    if options.get("mot"):
        names["mot"] = f"{stem}.mot.txt"
    if options.get("count_line") or options.get("zone"):
        names["events"] = f"{stem}.events.jsonl"
    if options.get("export"):
        from vidpipe.formats.export import export_path, outputs_of

        for name in options["export"]:
            paths = outputs_of(name, export_path(names["jsonl"], name))
            names.update({f"export:{name}:{i}": p.as_posix() for i, p in enumerate(paths)})
    return names


def run_task(
    task: str, source: str, outputs: list[str], options: Mapping[str, Any], *,
    threads: int = 0, server: str | None = None, timeout: float | None = None,
    reconnect: int = 0, hwaccel: str = "auto",
) -> None:  # fmt: skip
    """Run one job: read `source`, write every path of `outputs` (absolute, from
    `output_names`, in that order; their folders exist) atomically, replacing old ones.
    threads: encoder threads (0: the encoder's own choice); server: the address of a model
    server that runs the detect model (None: the model is loaded in this process). A stream
    `source` (a URL, a capture device: the driver checked it was allowed) is read with
    `timeout` and `reconnect`; any with `hwaccel` (see `Source`)."""
    from vidpipe.io.source import Source

    encode = encode_options(options, threads)
    stream = is_stream(source)
    backend = options.get("backend", BACKENDS[0])
    with Source(source, backend=backend, allow_url=stream, timeout=timeout,
                reconnect=reconnect, hwaccel=hwaccel) as src:  # fmt: skip
        if task == "frames":
            _run_frames(src, Path(outputs[0]))
            src.check_lost()  # a live stream lost for good: after its listing is in place
        elif task == "detect":
            _run_detect(src, outputs, options, encode, server)
        else:
            from vidpipe.pipeline.recipes import process_file

            process_file(src, outputs[0], ops_options(task, options), encode=encode)


def _run_frames(src: Any, target: Path) -> None:
    """The listing of `vidpipe frames --json`, one JSON object per frame."""
    from vidpipe.runtime.files import atomic_path
    from vidpipe.types import frame_record

    with atomic_path(target) as tmp, open(tmp, "w", encoding="utf-8") as file:
        for frame in src.frames():
            file.write(json.dumps(frame_record(frame)) + "\n")


def detector_key(options: Mapping[str, Any]) -> DetectOptions:
    """What makes two jobs' detectors the same: their DetectOptions but the batch size."""
    return dataclasses.replace(detect_options(options), batch=None)


def load_task_detector(options: Mapping[str, Any]) -> Any:
    """A Detector for a detect job's (checked) options."""
    from vidpipe.detectors.detector import load_detector

    return load_detector(detect_options(options))


def detector_for(options: Mapping[str, Any]) -> Any:
    """The worker's detector for these options, loaded on first use and then reused."""
    key = detector_key(options)
    if key not in _detectors:
        _detectors[key] = load_task_detector(options)
    return _detectors[key]


def _run_detect(
    src: Any, outputs: list[str], options: Mapping[str, Any], encode: Any, server: str | None
) -> None:
    import contextlib

    from vidpipe.pipeline.recipes import detect_file
    from vidpipe.runtime.files import atomic_folder

    with contextlib.ExitStack() as stack:
        if server is None:
            detector = detector_for(options)
        else:
            from vidpipe.batch.model_client import RemoteDetector

            detector = stack.enter_context(RemoteDetector(server, options))
        targets = dict(zip(_detect_outputs("", options), outputs, strict=True))
        written = {k: targets.pop(k) for k in list(targets) if k.startswith("export:")}
        exports = {k.split(":")[1]: p for k, p in written.items() if k.endswith(":0")}
        if "thumbs" in targets:  # a folder: filled beside, then put in place whole
            targets["thumbs"] = stack.enter_context(atomic_folder(targets["thumbs"]))
        detect_file(
            src, **targets, detect_options=detect_options(options),
            track=track_options(options), ops=ops_options("detect", options), encode=encode,
            detector=detector, scan=scan_options(options),
        )  # fmt: skip
    if exports:  # from the lines now in place, each written whole or not at all
        from vidpipe.formats.export import export
        from vidpipe.formats.facts import facts_of

        for name, path in exports.items():  # (Label Studio's interface: its second path)
            export(targets["jsonl"], name, path, facts_of(src.info), overwrite=True)
