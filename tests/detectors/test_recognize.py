"""Recognising another family's ONNX export (vidpipe.detectors.recognize): by the output's
shape against the input's anchor grid and by the exporters' metadata, so that no foreign
file is run with YOLOX's decoding (it gave wrong boxes, or an internal error, before)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import NANO_ONNX, needs_nano, run_cli

from vidpipe.detectors.recognize import Signature, anchor_cells, candidates, identify, signature
from vidpipe.errors import InputError

COCO80 = str({i: f"class{i}" for i in range(80)})
ULTRALYTICS = {"author": "Ultralytics", "stride": "32", "task": "detect", "imgsz": "[160, 160]"}


def onnx_file(path: Path, output: list[int | None], metadata: dict[str, str] | None = None,
              size: int = 160) -> Path:  # fmt: skip
    """A runnable graph with a [1, 3, size, size] input and an output of the given shape (a
    constant), with `metadata_props`. An output with a dynamic axis (None) is made from the
    input, whose height and width are then dynamic too: that axis is the input's height, as
    an exporter's dynamic axes follow the input, and no reader can know it in advance."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    dynamic = [i for i, d in enumerate(output) if d is None]
    fixed = [1 if d is None else d for d in output]
    nodes, inits, hw = [], [], [size, size]
    if dynamic:
        (axis,) = dynamic  # the row axis or the column axis of a 3-d output
        hw = ["height", "width"]
        inits.append(numpy_helper.from_array(np.array([2], np.int64), "axis2"))
        nodes += [
            helper.make_node("ReduceMean", ["images"], ["rows"], axes=[1, 3], keepdims=0),
            helper.make_node("Unsqueeze", ["rows", "axis2"], ["column"]),  # [1, H, 1]
        ]
        source = "column"
        if axis == 2:
            nodes.append(helper.make_node("Transpose", ["column"], ["row"], perm=[0, 2, 1]))
            source = "row"  # [1, 1, H]
        inits.append(numpy_helper.from_array(np.array(fixed, np.int64), "shape"))
        nodes.append(helper.make_node("Expand", [source, "shape"], ["output"]))
    else:
        inits.append(numpy_helper.from_array(np.zeros(fixed, np.float32), "const"))
        nodes.append(helper.make_node("Identity", ["const"], ["output"]))
    graph = helper.make_graph(
        nodes,
        "fake",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, *hw])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, output)],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    for key, value in (metadata or {}).items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(model, str(path))
    return path


CELLS = anchor_cells(160, 160)  # 525


@pytest.mark.parametrize(
    ("output", "metadata", "expected"),
    [
        ([1, CELLS, 85], {}, ["yolox"]),
        ([1, None, 85], {}, ["yolox", "yolov5", "rtdetr"]),  # dynamic: run once to count
        ([1, CELLS, 6], {}, ["yolox"]),  # a one-class YOLOX, not an end-to-end output
        ([1, 3 * CELLS, 85], {}, ["yolov5"]),
        ([1, 3 * anchor_cells(160, 160, (8, 16, 32, 64)), 85], {}, ["yolov5"]),  # P6
        ([1, None, 85], {"stride": "32", "names": COCO80}, ["yolov5"]),
        ([1, 84, CELLS], {}, ["yolov8"]),
        ([1, 84, None], ULTRALYTICS, ["yolov8"]),
        ([1, 300, 6], {}, ["e2e"]),
        ([1, 300, 6], ULTRALYTICS, ["e2e"]),
        ([1, 300, 84], {**ULTRALYTICS, "names": COCO80}, ["rtdetr"]),
        ([1, 300, 84], {}, ["rtdetr"]),  # fixed rows, not a grid of the input: queries
        ([1, 300, 85], ULTRALYTICS, ["yolov5", "rtdetr"]),  # no names: either
        ([1, 85], {}, []),
    ],
)
def test_layouts(tmp_path: Path, output: list, metadata: dict, expected: list[str]) -> None:
    sig = signature(onnx_file(tmp_path / "m.onnx", output, metadata))
    assert candidates(sig) == expected
    if len(expected) == 1:
        assert identify(tmp_path / "m.onnx") == (expected[0], sig)
    elif not expected:
        with pytest.raises(InputError, match="is not a detector output vidpipe reads"):
            identify(tmp_path / "m.onnx")


def test_a_dynamic_graph_is_counted_at_a_probe_size() -> None:
    """[1, ?, 85] without metadata: 84 predictions at 64 x 64 are YOLOX's (one per cell),
    252 YOLOv5's (three), 300 a DETR's queries."""
    sig = Signature((1, 3, None, None), (1, None, 85))
    assert candidates(sig, 84, (64, 64)) == ["yolox"]
    assert candidates(sig, 252, (64, 64)) == ["yolov5"]
    assert candidates(sig, 300, (64, 64)) == ["rtdetr"]


def test_names_from_metadata() -> None:
    sig = Signature((1, 3, 640, 640), (1, 84, 8400), {"names": "{0: 'person', 1: 'bicycle'}"})
    assert sig.names == ["person", "bicycle"]
    assert Signature((1,), (1,), {"names": "not python"}).names is None


@needs_nano
def test_the_reference_yolox_export_is_yolox() -> None:
    sig = signature(NANO_ONNX)
    assert (sig.input, sig.output) == ((1, 3, 416, 416), (1, 3549, 85))
    assert identify(NANO_ONNX) == ("yolox", sig)


def test_the_signature_is_read_without_importing_onnx() -> None:
    """onnxruntime reads it: importing the `onnx` package costs 0.4 s here (ml_dtypes),
    a quarter of a short detect run."""
    code = ("import sys; from vidpipe.detectors.recognize import identify; "
            f"print(identify(__import__('pathlib').Path({str(NANO_ONNX)!r}))[0], "
            "'onnx' in sys.modules)")  # fmt: skip
    if not NANO_ONNX.is_file():
        pytest.skip(f"reference model not found: {NANO_ONNX}")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["yolox", "False"]


def test_a_graph_onnxruntime_cannot_load_is_read_by_onnx(tmp_path: Path) -> None:
    """An operator onnxruntime lacks (a custom domain's): the `onnx` package reads the
    signature and the metadata as onnxruntime would have."""
    import onnx

    path = onnx_file(tmp_path / "m.onnx", [1, 84, CELLS], ULTRALYTICS)
    model = onnx.load(str(path))
    model.graph.node[0].domain = "com.example"
    model.opset_import.append(onnx.helper.make_opsetid("com.example", 1))
    onnx.save(model, str(tmp_path / "custom.onnx"))
    assert signature(tmp_path / "custom.onnx") == signature(path)
    assert signature(path).metadata == ULTRALYTICS


def test_unreadable_file(tmp_path: Path) -> None:
    (tmp_path / "junk.onnx").write_bytes(b"\x00garbage")
    with pytest.raises(InputError, match="not a readable ONNX model"):
        signature(tmp_path / "junk.onnx")


def test_detect_refuses_an_export_it_cannot_read(tmp_path: Path, dog_clip: Path) -> None:
    """One error line naming what is wrong, exit 2, nothing written."""
    cases = [
        (onnx_file(tmp_path / "a.onnx", [1, 85]), "is not a detector output"),
        (onnx_file(tmp_path / "b.onnx", [1, 300, 85], ULTRALYTICS), "fits yolov5 or rtdetr"),
        (onnx_file(tmp_path / "c.onnx", [1, 84, CELLS], {**ULTRALYTICS, "task": "pose"}),
         "a pose model"),
    ]  # fmt: skip
    out = tmp_path / "dets.jsonl"
    for model, message in cases:
        done = run_cli("detect", str(dog_clip), "--model", str(model), "--json", str(out))
        assert done.returncode == 2, done.stderr
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error:") and message in lines[0]
        assert not out.exists()
