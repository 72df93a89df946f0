"""Command-line options that more than one command takes, declared once: the detector's, the
tracker's and the counting ones (`vidpipe detect` and `vidpipe batch --task detect`), the
scan's, the decoder's (--backend), the per-frame ops' (`gamma`, `chroma`, detect's ops and
batch's tasks) and the encoder's (`gamma`, `chroma`, `detect` through
`cli.process.with_encoder_options`; `batch` takes those that are no per-file output).

Each is a `typer.Option` whose default is None (a flag: False) or the options dataclass's
own, meaning the library's default: the options dataclasses (`DetectOptions`,
`TrackOptions`, `OpOptions`, `ScanOptions`, `EncodeOptions`) hold the only defaults, and the
help says what they are; lists of names in the help come from the registries (`FORMATS`,
`TRACKERS`, `WRITERS`, `BACKENDS`, `CHROMAS`, ...). A command that cannot do without one
takes it through `required`. Light to import: `vidpipe batch` takes them without loading
numpy or the encoders. Options that are per-file outputs in detect (`-o`, `--json`,
`--coco`, `--mot`, `--events`, `--intervals`, `--thumbs`, `--overwrite`, `--segment`) are
each command's own or absent from batch (`tests/cli/test_option_rules.py` lists why).
"""

from __future__ import annotations

import copy

import typer
from typer.models import OptionInfo

from vidpipe.detectors.options import PRECISIONS, DetectOptions
from vidpipe.detectors.recognize import FORMATS, KNOWN_AS
from vidpipe.io.encode_options import CRF_RANGE, WRITERS, EncodeOptions
from vidpipe.io.inputs import BACKENDS
from vidpipe.models.hub import MODELS
from vidpipe.ops.params import CHROMAS, DOWN_FILTERS, UP_FILTERS
from vidpipe.pipeline.options import GAMMA_ON, OpOptions, ScanOptions
from vidpipe.tracking.options import TRACK_CONF, TRACKERS, TrackOptions

_D, _T, _E = DetectOptions(), TrackOptions(), EncodeOptions()
_O, _S = OpOptions(), ScanOptions()
_CHROMAS = f"{', '.join(CHROMAS[:-1])} or {CHROMAS[-1]}"
_NAMED = list(MODELS)  # yolox-nano .. yolox-x
_EXPORTS = [KNOWN_AS[f] for f in FORMATS if f != "yolox"]


def required(option: OptionInfo) -> OptionInfo:
    """`option` for a command that cannot do without it: the same flags and help, no
    default (click says it is missing)."""
    info = copy.copy(option)
    info.default = ...
    return info


# --- the detector -------------------------------------------------------------------------
MODEL = typer.Option(
    None,
    "--model",
    "-m",
    help=f"{_NAMED[0]} .. {_NAMED[-1]}, a YOLOX .pth/.safetensors/.onnx, or an ONNX or OpenVINO "
    f"(.xml) export of {', '.join(_EXPORTS[:-1])} or {_EXPORTS[-1]} ({_D.model}).",
)
PRECISION = typer.Option(
    None,
    "--precision",
    help=f"CPU arithmetic: {', '.join(PRECISIONS)}. bf16 runs OpenVINO (--engine openvino) "
    "in bf16 on a CPU with it natively (AVX-512 BF16, AMX); auto does where it can, else f32 "
    f"({_D.precision}).",
)
MODEL_FORMAT = typer.Option(
    None,
    "--model-format",
    help=f"The export's layout where the file does not tell: {', '.join(FORMATS)}; auto reads "
    f"it from its output and metadata ({_D.model_format}).",
)
NAMES = typer.Option(
    None, "--names", help="Class names: a file, one per line (or a YAML names: list)."
)
BATCH = typer.Option(
    None,
    "--batch",
    help="Frames per forward pass (default: 1 on a CPU, a frame per core at once; 16 on CUDA).",
)
DEVICE = typer.Option(None, "--device", help=f"auto, cpu or cuda[:N] ({_D.device}).")
ENGINE = typer.Option(
    None,
    "--engine",
    help="onnxruntime or openvino (CPU runtimes; a .pth is exported to ONNX once, into the "
    "cache), torch, or auto: the fastest CPU runtime installed on a CPU, torch on CUDA "
    f"({_D.engine}).",
)
SIZE = typer.Option(
    None, "--size", help="Model input size, a multiple of 32 (default: the model's own)."
)
CONF = typer.Option(
    None,
    "--conf",
    help=f"Minimum score (objectness x class); default {_D.conf}, {TRACK_CONF} with --track.",
)
IOU = typer.Option(None, "--iou", help=f"NMS IoU threshold, per class ({_D.iou}).")
MAX_DET = typer.Option(None, "--max-det", help=f"Most detections kept per frame ({_D.max_det}).")
CLASSES = typer.Option(
    None, "--classes", help="Classes to keep: names or ids, repeatable or comma-separated."
)
COMPILE = typer.Option(
    _D.compile, "--compile", help="torch.compile the model (torch engine; slow start)."
)

# --- the tracker --------------------------------------------------------------------------
TRACK = typer.Option(
    None, "--track", help=f"Track objects: {', '.join(TRACKERS)} (adds track ids)."
)
TRACK_BUFFER = typer.Option(
    None,
    "--track-buffer",
    help=f"Seconds a lost track waits for its object to return ({_T.lost_s}).",
)
TRACK_HIGH = typer.Option(
    None,
    "--track-high",
    help=f"Score from which a box leads the first association ({_T.high}).",
)
TRACK_NEW = typer.Option(
    None, "--track-new", help=f"Score a box needs to start a track ({_T.new_track})."
)
TRACK_MIN_HITS = typer.Option(
    None,
    "--track-min-hits",
    help=f"Boxes in a row before a new track gets its id ({_T.min_hits}).",
)
EXPORT = typer.Option(
    None,
    "--export",
    help="Also the run in an annotation tool's format (repeatable): cvat-video, cvat-images, "
    "mot, datumaro, label-studio, fiftyone, coco-video (`vidpipe export`).",
)
TRAILS = typer.Option(None, "--trails", help="With a video out: draw each track's last N centres.")

# --- counting -----------------------------------------------------------------------------
COUNT_LINE = typer.Option(
    None,
    "--count-line",
    help="Count tracks crossing [NAME=]x1,y1,x2,y2 per direction (repeatable; left to right "
    "of the line, looking from its first end, is 'in'). A video out draws it with its counts.",
)
ZONE = typer.Option(
    None,
    "--zone",
    help="Entries, exits and dwell time in polygon [NAME=]x1,y1,x2,y2,x3,y3,... (repeatable). "
    "A video out draws it with its counts.",
)
ANCHOR = typer.Option(
    None,
    "--anchor",
    help=f"The point of a box lines and zones count: center or bottom ({_T.anchor}).",
)

# --- the encoder --------------------------------------------------------------------------
CODEC = typer.Option(
    None,
    "--codec",
    help="Any FFmpeg video encoder; auto: H.264 where the container takes it (h264_nvenc "
    f"when detecting on a GPU and it opens), else the container's default ({_E.codec}).",
)
CRF = typer.Option(
    None,
    "--crf",
    help=f"Constant rate factor, {CRF_RANGE[0]}..{CRF_RANGE[1]}, lower is better "
    "(default: the encoder's).",
)
PRESET = typer.Option(
    None, "--preset", help="Encoder preset, e.g. veryfast (default: the encoder's)."
)
PIX_FMT = typer.Option(None, "--pix-fmt", help="Output pix_fmt (default: the frames').")
OVERWRITE = typer.Option(_E.overwrite, "--overwrite", help="Replace an existing output.")
BAKE_ROTATION = typer.Option(
    _E.rotation == "bake", "--bake-rotation", help="Rotate pixels instead of keeping metadata."
)
WRITER = typer.Option(
    None,
    "--writer",
    help=f"Encoder: {' or '.join(WRITERS)}; av encodes in-process (PyAV), ffmpeg in a "
    f"subprocess ({_E.writer}).",
)
SEGMENT = typer.Option(
    None,
    "--segment",
    help="Cut the video into files this long (10m, 30s, 1h), each named with its start time, "
    "each playable when closed.",
)

# --- the input's decoder ------------------------------------------------------------------
BACKEND = typer.Option(
    BACKENDS[0],
    "--backend",
    help=f"Decoder: {' or '.join(BACKENDS)}; av decodes in-process (PyAV), ffmpeg in a subprocess.",
)

# --- the per-frame ops --------------------------------------------------------------------
GAMMA = typer.Option(
    None,
    "--gamma",
    "-g",
    help="Gamma G in (0, 10], 1 = identity: out = max * (in / max) ** (1 / G). What gamma "
    "(and batch --task gamma) does; detect (and batch --task detect) does it to luma before "
    "detecting.",
)
GAMMA_ON = typer.Option(
    _O.gamma_on,
    "--on",
    help=f"Gamma on {' or '.join(GAMMA_ON)}: luma the Y plane only, rgb per R, G, B (with "
    "--gamma).",
)
CHROMA = typer.Option(
    None,
    "--chroma",
    "--to",
    help=f"Resample the chroma planes to {_CHROMAS}. What chroma (and batch --task chroma) "
    "does; detect (and batch --task detect) does it before detecting.",
)
CHROMA_FILTER = typer.Option(
    _O.chroma_down, "--filter", help=f"Chroma downsampling: {' or '.join(DOWN_FILTERS)}."
)
CHROMA_UP = typer.Option(
    _O.chroma_up, "--up", help=f"Chroma upsampling: {' or '.join(UP_FILTERS)}."
)

# --- the scan -----------------------------------------------------------------------------
SCAN = typer.Option(
    False,
    "--scan",
    help="Detect on sampled frames only (--sample), decoded alone: where each class appears, "
    "fast. Writes no video.",
)
SAMPLE = typer.Option(
    _S.sample,
    "--sample",
    help="--scan: I (the I frames, and frames between any more than 4 s apart), key "
    "(the same with key frames), a duration (2s, 500ms: a frame each) or every:N.",
)
REFINE = typer.Option(
    _S.refine,
    "--refine",
    help="--scan: look closer between two samples that differ: every 16th frame, "
    "then 4th, then every frame where detections change (interval bounds exact to the "
    "frame); with --track every frame there.",
)
