"""Other projects' exports as detector families (vidpipe.detectors.foreign): YOLOv5-style,
YOLOv8/11-style, end-to-end and RT-DETR-style ONNX files and OpenVINO IRs.

Oracles: a plain decode written here (Ultralytics' letterbox and box scaling formulas, a
reference NMS) against graphs of known output built with the onnx helper API; graphs that
report the pixels they were given (channel order, scale, centring, padding); and the shared
YOLOX-Nano wrapped into the v5, v8 and end-to-end layouts (tests/foreign_models.py), which on
real footage must find what yolox_nano.onnx finds.
"""

from __future__ import annotations

import dataclasses
import json
from fractions import Fraction
from pathlib import Path

import numpy as np
import onnx
import pytest
from conftest import NANO_ONNX, needs_nano, run_cli
from foreign_models import (
    COCO80,
    f1_at,
    nms_reference,
    ultralytics_metadata,
    wrap_nano,
    yolov5_metadata,
)
from onnx import TensorProto, helper, numpy_helper

import vidpipe as vp
from vidpipe.detectors.preprocess import InputSpec
from vidpipe.errors import InputError, VidpipeError
from vidpipe.types import Frame

SIZE = 320  # the small graphs' input
NAMES = ["ant", "bee", "cat"]
META = ultralytics_metadata(NAMES, imgsz=SIZE)


def graph_file(path: Path, raw: np.ndarray, *, metadata: dict[str, str] | None = None,
               size: int = SIZE, batch: int | None = 1, half: bool = False) -> Path:  # fmt: skip
    """An ONNX model `images` [batch, 3, size, size] -> `output0` = `raw` (a constant of
    shape [1, R, C], repeated per image), with `metadata_props`; float16 in and out where
    `half` (what an export with half=True takes and gives)."""
    dtype = np.float16 if half else np.float32
    const = numpy_helper.from_array(raw.astype(dtype), "raw")
    nodes = [  # output = raw + 0 * mean(images): the input is used, the output known
        helper.make_node("ReduceMean", ["images"], ["mean"], axes=[1, 2, 3], keepdims=1),
        helper.make_node("Reshape", ["mean", "b11"], ["mean3"]),  # [B, 1, 1]
        helper.make_node("Mul", ["mean3", "zero"], ["nothing"]),
        helper.make_node("Add", ["raw", "nothing"], ["output0"]),
    ]
    kind = TensorProto.FLOAT16 if half else TensorProto.FLOAT
    graph = helper.make_graph(
        nodes, "known",
        [helper.make_tensor_value_info("images", kind, [batch, 3, size, size])],
        [helper.make_tensor_value_info("output0", kind, [batch, *raw.shape[1:]])],
        [const, numpy_helper.from_array(np.zeros((1, 1), dtype), "zero"),
         numpy_helper.from_array(np.array([-1, 1, 1], np.int64), "b11")],
    )  # fmt: skip
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    if metadata:
        helper.set_model_props(model, dict(metadata))
    onnx.save(model, str(path))
    return path


def rgb_frame(width: int, height: int, rgb: tuple[int, int, int] = (40, 90, 140)) -> Frame:
    """A flat rgb24 frame of one colour."""
    plane = np.empty((height, width, 3), np.uint8)
    plane[...] = rgb
    return Frame((plane,), "rgb24", 0, 0, Fraction(1, 25))


def rows_of(dets) -> np.ndarray:
    """Detections as rows [K, 6]: x1 y1 x2 y2 score class."""
    return np.concatenate([dets.xyxy, dets.scores[:, None], dets.class_ids[:, None]], axis=1)


# --- the plain reference decode -----------------------------------------------------------------


def letterbox_geometry(width: int, height: int, size: int) -> tuple[float, int, int]:
    """(scale, left, top) of Ultralytics' centred letterbox of a width x height picture."""
    r = min(size / height, size / width)
    new_w, new_h = round(width * r), round(height * r)
    left, top = round((size - new_w) / 2 - 0.1), round((size - new_h) / 2 - 0.1)
    return r, left, top


def reference_decode(kind: str, raw: np.ndarray, width: int, height: int, size: int,
                     conf: float = 0.25, iou: float = 0.45) -> np.ndarray:  # fmt: skip
    """Rows [K, 6] in picture pixels from one image's raw output, as each exporter's own
    predictor decodes it."""
    out = raw[0].astype(np.float64)
    if kind == "yolov8":
        out = out.T
    if kind == "e2e":
        dets = out[out[:, 4] >= conf]
    else:
        classes = out[:, 5:] if kind == "yolov5" else out[:, 4:]
        score = classes.max(axis=1) * (out[:, 4] if kind == "yolov5" else 1.0)
        box = out[:, :4] * (size if kind == "rtdetr" else 1.0)
        xyxy = np.concatenate([box[:, :2] - box[:, 2:] / 2, box[:, :2] + box[:, 2:] / 2], 1)
        dets = np.concatenate([xyxy, score[:, None], classes.argmax(1)[:, None]], 1)
        dets = dets[score >= conf]
        if kind != "rtdetr":
            dets = nms_reference(dets, iou)
    dets = dets[np.argsort(-dets[:, 4], kind="stable")]
    if kind == "rtdetr":  # stretched: per axis
        gain = np.array([size / width, size / height] * 2)
        dets[:, :4] /= gain
    else:
        r, left, top = letterbox_geometry(width, height, size)
        dets[:, :4] = (dets[:, :4] - [left, top, left, top]) / r
    dets[:, [0, 2]] = dets[:, [0, 2]].clip(0, width)
    dets[:, [1, 3]] = dets[:, [1, 3]].clip(0, height)
    return dets


def random_raw(kind: str, seed: int, n: int = 60) -> np.ndarray:
    """A raw output of `kind` with n predictions in a SIZE input (3 classes)."""
    rng = np.random.default_rng(seed)
    centre = rng.uniform(20, SIZE - 20, (n, 2))
    wh = rng.uniform(8, 120, (n, 2))
    scores = rng.uniform(0, 1, (n, 3)) ** 2
    if kind == "yolov5":
        return np.concatenate([centre, wh, rng.uniform(0.2, 1, (n, 1)), scores], 1)[None]
    if kind == "yolov8":
        return np.concatenate([centre, wh, scores], 1).T[None]
    if kind == "rtdetr":
        return np.concatenate([centre / SIZE, wh / SIZE, scores], 1)[None]
    xyxy = np.concatenate([centre - wh / 2, centre + wh / 2], 1)
    return np.concatenate([xyxy, scores[:, :1], rng.integers(0, 3, (n, 1))], 1)[None]


@pytest.mark.parametrize("kind", ["yolov5", "yolov8", "e2e", "rtdetr"])
@pytest.mark.parametrize(("width", "height"), [(640, 360), (300, 500), (320, 320)])
def test_decoding_matches_the_reference(tmp_path: Path, kind: str, width: int, height: int
                                        ) -> None:  # fmt: skip
    """Every family's boxes, scores and classes, mapped back through its letterbox, equal the
    plain decode (wide, tall and square pictures; the metadata's names are the labels)."""
    for seed in range(3):
        raw = random_raw(kind, seed)
        metadata = yolov5_metadata(NAMES) if kind == "yolov5" else META
        if kind == "rtdetr":
            metadata = {**META, "description": "Ultralytics RT-DETR model"}
        model = graph_file(tmp_path / f"{kind}{seed}.onnx", raw, metadata=metadata)
        det = vp.load_detector(str(model), device="cpu", max_det=1000)
        assert det.names == tuple(NAMES)
        (got,) = det([rgb_frame(width, height)])
        want = reference_decode(kind, raw, width, height, SIZE)
        assert len(want) > 3
        np.testing.assert_allclose(rows_of(got), want, atol=2e-3)
        assert got.names == tuple(NAMES)


def test_a_half_precision_export(tmp_path: Path) -> None:
    """An export made with half=True takes and gives float16: fed float16, decoded as the
    reference decodes its float16 output."""
    raw = random_raw("yolov8", 7).astype(np.float16).astype(np.float32)
    model = graph_file(tmp_path / "half.onnx", raw, metadata=META, half=True)
    (got,) = vp.load_detector(str(model), device="cpu")([rgb_frame(640, 360)])
    np.testing.assert_allclose(rows_of(got), reference_decode("yolov8", raw, 640, 360, SIZE),
                               atol=2e-3)  # fmt: skip


def test_two_sizes_in_one_batch_keep_their_own_geometry(tmp_path: Path) -> None:
    raw = random_raw("yolov8", 5)
    det = vp.load_detector(str(graph_file(tmp_path / "m.onnx", raw, metadata=META)), device="cpu")
    got = det([rgb_frame(640, 360), rgb_frame(200, 400), rgb_frame(640, 360)])
    np.testing.assert_allclose(rows_of(got[0]), reference_decode("yolov8", raw, 640, 360, SIZE),
                               atol=2e-3)  # fmt: skip
    np.testing.assert_allclose(rows_of(got[1]), reference_decode("yolov8", raw, 200, 400, SIZE),
                               atol=2e-3)  # fmt: skip
    np.testing.assert_allclose(rows_of(got[2]), rows_of(got[0]))


# --- the input each family takes ------------------------------------------------------------------


def pixel_graph(path: Path, kind: str, points: list[tuple[int, int]],
                metadata: dict[str, str]) -> Path:  # fmt: skip
    """A model that predicts one box per (x, y) point whose 3 class scores are the input's
    channel values at that point (so the class is the channel with the largest value and
    the score is that value as the model received it)."""
    nodes, inits, columns = [], [], []
    for i, (x, y) in enumerate(points):
        for name, value in (("s", [0, 0, y, x]), ("e", [1, 3, y + 1, x + 1])):
            inits.append(numpy_helper.from_array(np.array(value, np.int64), f"{name}{i}"))
        nodes.append(helper.make_node("Slice", ["images", f"s{i}", f"e{i}"], [f"px{i}"]))
        nodes.append(helper.make_node("Reshape", [f"px{i}", "shape"], [f"col{i}"]))  # [1,3,1]
        columns.append(f"col{i}")
    nodes.append(helper.make_node("Concat", columns, ["classes"], axis=2))  # [1, 3, P]
    boxes = np.array([[[x, y, 20, 20] for x, y in points]], np.float32).transpose(0, 2, 1)
    inits += [numpy_helper.from_array(np.array([1, 3, 1], np.int64), "shape"),
              numpy_helper.from_array(boxes, "boxes")]  # fmt: skip
    if kind == "rtdetr":
        inits.append(numpy_helper.from_array(np.float32(1 / SIZE), "norm"))
        nodes.append(helper.make_node("Mul", ["boxes", "norm"], ["box_in"]))
    else:
        nodes.append(helper.make_node("Identity", ["boxes"], ["box_in"]))
    nodes.append(helper.make_node("Concat", ["box_in", "classes"], ["v8"], axis=1))  # [1,7,P]
    out_shape = [1, 7, len(points)]
    if kind == "rtdetr":
        nodes.append(helper.make_node("Transpose", ["v8"], ["output0"], perm=[0, 2, 1]))
        out_shape = [1, len(points), 7]
    else:
        nodes[-1].output[0] = "output0"
    graph = helper.make_graph(
        nodes, "pixels",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, SIZE, SIZE])],
        [helper.make_tensor_value_info("output0", TensorProto.FLOAT, out_shape)], inits,
    )  # fmt: skip
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    helper.set_model_props(model, metadata)
    onnx.save(model, str(path))
    return path


@pytest.mark.parametrize("kind", ["yolov8", "rtdetr"])
def test_the_input_is_rgb_0_to_1_placed_as_the_family_says(tmp_path: Path, kind: str) -> None:
    """A 640 x 320 picture of R'G'B' (230, 120, 20): a YOLOv8 export sees it centred (rows
    80..239 of 320) on 114 grey, R first, in 0..1; an RT-DETR export sees it stretched over
    the whole input."""
    points = [(160, 160), (160, 10), (5, 300)]  # the centre, the top band, the bottom band
    meta = META if kind == "yolov8" else {**META, "names": str(dict(enumerate(NAMES)))}
    model = pixel_graph(tmp_path / f"{kind}.onnx", kind, points, meta)
    det = vp.load_detector(str(model), device="cpu", conf=0.3, model_format=kind)
    (got,) = det([rgb_frame(640, 320, (230, 120, 20))])
    found = sorted(zip(got.xyxy[:, 1].round(), got.scores, got.class_ids, strict=True))
    picture = (230 / 255, 0)  # R is class 0, scaled to 0..1
    pad = (114 / 255, 0)  # grey: every channel equal, the first wins
    # by box top: the top band, the centre, the bottom band
    want = [pad, picture, pad] if kind == "yolov8" else [picture, picture, picture]
    assert [(round(float(s), 3), int(c)) for _, s, c in found] == [
        (round(s, 3), c) for s, c in want
    ]


def test_centred_letterbox_matches_ultralytics_rounding() -> None:
    from vidpipe.detectors.preprocess import letterbox

    spec = InputSpec((SIZE, SIZE), "rgb", 1 / 255, placement="center")
    for width, height in [(640, 360), (641, 359), (333, 500), (1920, 1080), (100, 100)]:
        batch = letterbox([rgb_frame(width, height, (255, 0, 0))], spec)
        r, left, top = letterbox_geometry(width, height, SIZE)
        assert batch.scales == (pytest.approx(r),) and batch.offsets == ((left, top),)
        red = batch.images[0, 0] > 0.9  # R at 1.0 where the picture is, 114/255 elsewhere
        rows, cols = np.nonzero(red)
        assert (cols.min(), rows.min()) == (left, top)
        assert (cols.max() + 1, rows.max() + 1) == (
            left + round(width * r),
            top + round(height * r),
        )


def test_stretched_input_fills_the_canvas() -> None:
    from vidpipe.detectors.preprocess import letterbox

    spec = InputSpec((SIZE, SIZE), "rgb", 1 / 255, placement="stretch", stride=32)
    batch = letterbox([rgb_frame(640, 200, (255, 0, 0))], spec)
    assert batch.images.shape == (1, 3, SIZE, SIZE) and (batch.images[0, 0] > 0.99).all()
    assert batch.scales == ((SIZE / 640, SIZE / 200),)


# --- recognition, choices and errors --------------------------------------------------------------


def test_an_ambiguous_export_names_the_candidates_and_model_format_decides(
    tmp_path: Path,
) -> None:
    """Ultralytics metadata without names and an output [1, 300, 7]: a YOLOv5 layout of two
    classes or an RT-DETR one of three. No guess: the error names both."""
    raw = random_raw("rtdetr", 1)
    meta = {k: v for k, v in META.items() if k != "names"}
    model = graph_file(tmp_path / "amb.onnx", raw, metadata=meta)
    with pytest.raises(InputError, match=r"fits yolov5 or rtdetr; say which with --model-format"):
        vp.load_detector(str(model), device="cpu")
    det = vp.load_detector(str(model), device="cpu", model_format="rtdetr", max_det=1000)
    (got,) = det([rgb_frame(640, 360)])
    np.testing.assert_allclose(rows_of(got), reference_decode("rtdetr", raw, 640, 360, SIZE),
                               atol=2e-3)  # fmt: skip
    assert det.names == ("0", "1", "2")  # no names recorded: the ids


def test_bad_choices_are_one_clear_error(tmp_path: Path) -> None:
    v8 = graph_file(tmp_path / "v8.onnx", random_raw("yolov8", 0), metadata=META)
    with pytest.raises(InputError, match="cannot be end-to-end"):
        vp.load_detector(str(v8), device="cpu", model_format="e2e")
    with pytest.raises(InputError, match="--model-format must be one of"):
        vp.load_detector(str(v8), device="cpu", model_format="yolo")
    with pytest.raises(InputError, match="the export takes 320x320 inputs"):
        vp.load_detector(str(v8), device="cpu", size=640)
    with pytest.raises(InputError, match="--engine torch and --compile run YOLOX models"):
        vp.load_detector(str(v8), device="cpu", engine="torch")
    seg = graph_file(
        tmp_path / "seg.onnx", random_raw("yolov8", 0), metadata={**META, "task": "segment"}
    )
    with pytest.raises(InputError, match="a segment model; vidpipe runs detection models"):
        vp.load_detector(str(seg), device="cpu")


def test_names_from_a_file_or_yaml(tmp_path: Path) -> None:
    raw = random_raw("e2e", 2)
    model = graph_file(tmp_path / "e2e.onnx", raw, metadata={})  # no metadata: rows not a grid
    det = vp.load_detector(str(model), device="cpu")
    assert det.names == () and det.num_classes == 0  # the output does not tell: ids
    (tmp_path / "n.txt").write_text("ant\n\nbee\ncat\n")
    (tmp_path / "n.yaml").write_text("path: x\nnames:\n  0: ant\n  1: bee\n  2: cat\n")
    for names in ("n.txt", "n.yaml"):
        det = vp.load_detector(str(model), device="cpu", names=str(tmp_path / names))
        assert det.names == tuple(NAMES)
    v8 = graph_file(tmp_path / "v8.onnx", random_raw("yolov8", 0), metadata=META)
    with pytest.raises(InputError, match="--names gives 2 names for a model of 3 classes"):
        vp.load_detector(str(v8), device="cpu", names=("a", "b"))
    (tmp_path / "empty.txt").write_text("\n")
    with pytest.raises(InputError, match="no names in it"):
        vp.load_detector(str(v8), device="cpu", names=str(tmp_path / "empty.txt"))


def test_a_gpu_without_onnxruntime_gpu_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import onnxruntime

    from vidpipe.detectors.runtimes import gpu_providers

    monkeypatch.setattr(onnxruntime, "get_available_providers", lambda: ["CPUExecutionProvider"])
    with pytest.raises(VidpipeError, match="through onnxruntime-gpu"):
        gpu_providers("cuda:0")
    monkeypatch.setattr(
        onnxruntime, "get_available_providers",
        lambda: ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"],
    )  # fmt: skip
    assert gpu_providers("cuda:1")[0] == ("CUDAExecutionProvider", {"device_id": 1})


# --- OpenVINO IR and fixed batch sizes --------------------------------------------------------


def to_ir(onnx_path: Path, xml: Path) -> Path:
    """The OpenVINO IR (.xml + .bin, f32) of an ONNX file, as `ovc` converts it."""
    ov = pytest.importorskip("openvino")
    ov.save_model(ov.convert_model(str(onnx_path)), str(xml), compress_to_fp16=False)
    return xml


@pytest.mark.parametrize("kind", ["yolov5", "yolov8", "e2e", "rtdetr"])
def test_openvino_ir_of_every_family(tmp_path: Path, kind: str) -> None:
    """The IR of an export decodes as the export does; its metadata survives the conversion
    (the `framework` section)."""
    raw = random_raw(kind, 3)
    metadata = yolov5_metadata(NAMES) if kind == "yolov5" else META
    model = graph_file(tmp_path / f"{kind}.onnx", raw, metadata=metadata)
    xml = to_ir(model, tmp_path / f"{kind}.xml")
    det = vp.load_detector(str(xml), device="cpu", max_det=1000, model_format=kind)
    assert det.engine == "openvino" and det.names == tuple(NAMES)
    (got,) = det([rgb_frame(500, 300)])
    np.testing.assert_allclose(rows_of(got), reference_decode(kind, raw, 500, 300, SIZE),
                               atol=2e-3)  # fmt: skip


def test_an_openvino_export_folder_with_metadata_yaml(tmp_path: Path) -> None:
    """Ultralytics' OpenVINO export: a folder with the .xml, .bin and metadata.yaml; the
    folder is a --model, the names come from the YAML."""
    folder = tmp_path / "m_openvino_model"
    folder.mkdir()
    raw = random_raw("yolov8", 4)
    to_ir(graph_file(tmp_path / "m.onnx", raw), folder / "m.xml")  # no ONNX metadata
    (folder / "metadata.yaml").write_text(
        "author: Ultralytics\nstride: 32\ntask: detect\nimgsz:\n- 320\n- 320\n"
        "names:\n  0: ant\n  1: bee\n  2: cat\n"
    )
    det = vp.load_detector(str(folder), device="cpu", max_det=1000)
    assert det.names == tuple(NAMES)
    (got,) = det([rgb_frame(320, 240)])
    np.testing.assert_allclose(rows_of(got), reference_decode("yolov8", raw, 320, 240, SIZE),
                               atol=2e-3)  # fmt: skip


@pytest.mark.parametrize("engine", ["onnxruntime", "openvino"])
def test_a_fixed_batch_export_runs_any_batch(tmp_path: Path, engine: str) -> None:
    """Batch-1 and batch-2 exports take 5 frames at once (one or two at a time, the last
    group padded) and give what one frame at a time gives."""
    pytest.importorskip(engine)
    raw = random_raw("yolov8", 6)
    frames = [rgb_frame(320 + 40 * i, 240) for i in range(5)]
    for batch in (1, 2):
        model = graph_file(tmp_path / f"b{batch}.onnx", np.repeat(raw, batch, 0), metadata=META,
                           batch=batch)  # fmt: skip
        det = vp.load_detector(str(model), device="cpu", engine=engine, batch=5)
        together = det(frames)
        for frame, got in zip(frames, together, strict=True):
            (alone,) = det([frame])
            np.testing.assert_allclose(rows_of(got), rows_of(alone))


# --- a real detector in foreign layouts, on real footage ----------------------------------------


@pytest.fixture(scope="module")
def wrapped(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """yolox_nano.onnx wrapped into the v5 (with and without metadata: three anchors per
    cell), v8 and end-to-end layouts, and the v8 one as an OpenVINO IR."""
    if not NANO_ONNX.is_file():
        pytest.skip(f"{NANO_ONNX} not found")
    folder = tmp_path_factory.mktemp("wrapped")
    models = {
        "yolov5": wrap_nano(NANO_ONNX, folder / "v5.onnx", "yolov5",
                            metadata=yolov5_metadata(COCO80)),
        "yolov5-bare": wrap_nano(NANO_ONNX, folder / "v5b.onnx", "yolov5", anchors=3),
        "yolov8": wrap_nano(NANO_ONNX, folder / "v8.onnx", "yolov8",
                            metadata=ultralytics_metadata(COCO80)),
        "e2e": wrap_nano(NANO_ONNX, folder / "e2e.onnx", "e2e",
                         metadata=ultralytics_metadata(COCO80, end2end=True)),
    }  # fmt: skip
    if vp_openvino():
        models["yolov8-ir"] = to_ir(models["yolov8"], folder / "v8.xml")
    return models


def vp_openvino() -> bool:
    from vidpipe.detectors.runtimes import installed

    return installed("openvino")


@pytest.fixture(scope="module")
def footage(real_corpus: list[Path]) -> list[Frame]:
    """The 23 frames of pymediainfo's sample.mp4 (1080p H.264, people outdoors)."""
    clip = next(p for p in real_corpus if p.parent.name.startswith("pymediainfo"))
    with vp.open(clip) as source:
        return list(source.frames())


def detections(model: str, frames: list[Frame], **options) -> list[np.ndarray]:
    det = vp.load_detector(model, device="cpu", **options)
    return [rows_of(d) for d in det(frames)]


@needs_nano
@pytest.mark.parametrize("kind", ["yolov5", "yolov5-bare", "yolov8", "e2e", "yolov8-ir"])
def test_wrapped_yolox_nano_finds_what_yolox_nano_finds(
    wrapped: dict[str, Path], footage: list[Frame], kind: str
) -> None:
    """Per-frame F1 at IoU 0.5 against yolox_nano.onnx on real footage >= 0.9 (the centred
    letterbox moves the picture, which shifts scores a little), each family decoding its
    layout; with YOLOX's own placement, the v8 layout gives exactly YOLOX's boxes."""
    if kind not in wrapped:
        pytest.skip("openvino is not installed")
    reference = detections(str(NANO_ONNX), footage)
    assert sum(map(len, reference)) >= 40  # people and cars in every frame: a real check
    got = detections(str(wrapped[kind]), footage)
    f1 = [f1_at(g, r) for g, r in zip(got, reference, strict=True)]
    assert np.mean(f1) >= 0.9, f1
    assert np.all(np.asarray(f1) >= 0.6), f1
    if kind == "yolov8":
        det = vp.load_detector(str(wrapped[kind]), device="cpu")
        yolox = vp.load_detector(str(NANO_ONNX), device="cpu")
        det.input_spec = dataclasses.replace(det.input_spec, placement="top-left")
        yolox.input_spec = InputSpec.square(416)
        for a, b in zip(det(footage[:6]), yolox(footage[:6]), strict=True):
            assert f1_at(rows_of(a), rows_of(b)) == 1.0
            np.testing.assert_allclose(a.xyxy, b.xyxy, atol=0.05)


@needs_nano
def test_detect_cli_runs_a_foreign_export(
    wrapped: dict[str, Path], dog_clip: Path, tmp_path: Path
) -> None:
    """`vidpipe detect clip --model their_export.onnx` just works: labels from the metadata,
    --names overrides them, and a video with boxes is written."""
    out, video = tmp_path / "dets.jsonl", tmp_path / "boxed.mp4"
    done = run_cli("detect", str(dog_clip), "--model", str(wrapped["yolov8"]), "--json",
                   str(out), "-o", str(video), "--device", "cpu")  # fmt: skip
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    labels = {d["label"] for row in rows for d in row["detections"]}
    assert {"dog", "bicycle"} <= labels and video.stat().st_size > 0
    names = tmp_path / "names.txt"
    names.write_text("\n".join(f"thing{i}" for i in range(80)))
    done = run_cli("detect", str(dog_clip), "--model", str(wrapped["e2e"]), "--json", "-",
                   "--names", str(names), "--device", "cpu")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert '"label": "thing16"' in done.stdout  # the dog, by the file's names


@needs_nano
def test_cli_errors_for_foreign_exports(wrapped: dict[str, Path], dog_clip: Path,
                                        tmp_path: Path) -> None:  # fmt: skip
    """One line, exit 2, nothing written: an ambiguous file, a wrong --model-format, a names
    file of the wrong length."""
    out = tmp_path / "dets.jsonl"
    meta = {k: v for k, v in META.items() if k != "names"}
    ambiguous = graph_file(tmp_path / "amb.onnx", random_raw("rtdetr", 1), metadata=meta)
    bad_names = tmp_path / "names.txt"
    bad_names.write_text("a\nb\n")
    cases = [
        (["--model", str(ambiguous)], "--model-format yolov5|rtdetr"),
        (["--model", str(wrapped["yolov8"]), "--model-format", "e2e"], "cannot be end-to-end"),
        (["--model", str(wrapped["yolov8"]), "--names", str(bad_names)], "2 names for a model"),
        (["--model", str(wrapped["yolov8"]), "--model-format", "v9"], "--model-format must be"),
    ]
    for args, message in cases:
        done = run_cli("detect", str(dog_clip), *args, "--json", str(out), "--device", "cpu")
        lines = done.stderr.strip().splitlines()
        assert done.returncode == 2, done.stderr
        assert len(lines) == 1 and lines[0].startswith("error:") and message in lines[0], lines
        assert not out.exists()


@needs_nano
def test_batch_runs_a_foreign_export_and_checks_it_first(
    wrapped: dict[str, Path], dog_clip: Path, tmp_path: Path
) -> None:
    """`batch --task detect` with an export and --names: the ledger's options, the names in
    every row; an ambiguous export is refused before any job starts (exit 2, no OUTDIR)."""
    names = tmp_path / "names.yaml"
    names.write_text("names: [" + ", ".join(f"c{i}" for i in range(80)) + "]\n")
    out = tmp_path / "out"
    done = run_cli("-q", "batch", str(dog_clip), "-o", str(out), "--task", "detect", "--model",
                   str(wrapped["yolov5"]), "--names", str(names), "--device", "cpu",
                   timeout=240)  # fmt: skip
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in (out / "dog.jsonl").read_text().splitlines()]
    assert {"c16", "c1"} <= {d["label"] for row in rows for d in row["detections"]}
    meta = {k: v for k, v in META.items() if k != "names"}
    ambiguous = graph_file(tmp_path / "amb.onnx", random_raw("rtdetr", 1), metadata=meta)
    done = run_cli("batch", str(dog_clip), "-o", str(tmp_path / "out2"), "--task", "detect",
                   "--model", str(ambiguous))  # fmt: skip
    assert done.returncode == 2 and "--model-format yolov5|rtdetr" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and not (tmp_path / "out2").exists()
    done = run_cli("batch", str(dog_clip), "-o", str(tmp_path / "out3"), "--task", "detect",
                   "--model", str(ambiguous), "--model-format", "rtdetr", "--names",
                   str(tmp_path / "missing.txt"))  # fmt: skip
    assert done.returncode == 2 and "missing.txt: cannot read it" in done.stderr


@needs_nano
def test_models_info_says_what_a_file_is(wrapped: dict[str, Path], tmp_path: Path) -> None:
    done = run_cli("models", "info", str(wrapped["yolov8"]), "--json")
    assert done.returncode == 0, done.stderr
    info = json.loads(done.stdout)
    assert (info["family"], info["output"], info["nms"], info["classes"]) == (
        "yolov8", "scores", True, 80)  # fmt: skip
    assert info["input"] == {"size_wh": [416, 416], "channels": "rgb", "scale": 1 / 255,
                             "pad": 114.0, "placement": "center", "stride": 0}  # fmt: skip
    assert info["names"][:2] == ["person", "bicycle"]
    done = run_cli("models", "info", str(wrapped["e2e"]))
    assert done.returncode == 0 and "family   e2e" in done.stdout and "no NMS" in done.stdout


def _cuda_onnxruntime() -> bool:
    import onnxruntime

    from vidpipe.detectors.detector import _cuda_count, _may_have_cuda

    gpu = _may_have_cuda() and _cuda_count() > 0
    return gpu and "CUDAExecutionProvider" in onnxruntime.get_available_providers()


@needs_nano
@pytest.mark.cuda
@pytest.mark.skipif(not _cuda_onnxruntime(), reason="needs a GPU and onnxruntime-gpu")
def test_a_foreign_export_on_cuda_matches_the_cpu(wrapped: dict[str, Path], dog_clip: Path
                                                  ) -> None:  # fmt: skip
    with vp.open(dog_clip) as source:
        frames = list(source.frames())[:8]
    gpu = vp.load_detector(str(wrapped["yolov8"]), device="cuda", batch=8)
    assert gpu.engine == "onnxruntime-cuda"
    cpu = vp.load_detector(str(wrapped["yolov8"]), device="cpu")
    for a, b in zip(gpu(frames), cpu(frames), strict=True):
        assert f1_at(rows_of(a), rows_of(b)) == 1.0
