"""How closely YOLOX-Nano wrapped into other families' export layouts finds what
yolox_nano.onnx finds, on the real-footage corpus: mean per-frame F1 at IoU 0.5.

    python scripts/foreign_f1.py [--frames 120] [--model-dir ../shared/models]

Each layout is decoded by its own family (yolov5, yolov8, e2e; the v8 one also as an
OpenVINO IR). "centred" is the family's own input (Ultralytics' centred letterbox); "as
YOLOX" feeds the v8 layout YOLOX's top-left letterbox on the same square canvas, so any
difference there would be the decoding's (it should be 1.000). The wrapped models are made
by tests/foreign_models.py into a temporary folder.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "scripts"))


def main() -> None:
    from fetch_corpus import fetch_corpus
    from foreign_models import COCO80, f1_at, ultralytics_metadata, wrap_nano, yolov5_metadata

    import vidpipe as vp
    from vidpipe.detectors.preprocess import InputSpec

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=120)
    default_dir = os.environ.get("VIDPIPE_MODEL_DIR") or ROOT.parent / "shared" / "models"
    parser.add_argument("--model-dir", type=Path, default=Path(default_dir))
    args = parser.parse_args()
    nano = args.model_dir / "yolox_nano.onnx"
    clips = [p for p in fetch_corpus() if p.suffix == ".mp4"]
    with tempfile.TemporaryDirectory(prefix="vidpipe-foreign-") as tmp:
        folder = Path(tmp)
        v8 = wrap_nano(nano, folder / "v8.onnx", "yolov8", metadata=ultralytics_metadata(COCO80))
        models = {
            "yolov5": wrap_nano(nano, folder / "v5.onnx", "yolov5",
                                metadata=yolov5_metadata(COCO80)),
            "yolov5 (3 anchors, no metadata)": wrap_nano(nano, folder / "v5b.onnx", "yolov5",
                                                         anchors=3),
            "yolov8": v8,
            "e2e": wrap_nano(nano, folder / "e2e.onnx", "e2e",
                             metadata=ultralytics_metadata(COCO80, end2end=True)),
        }  # fmt: skip
        print(f"{'clip':<44} {'frames':>6} {'dets':>5}  " + "  ".join(models) + "  v8 as YOLOX")
        for clip in clips:
            with vp.open(clip) as source:
                frames = [f for _, f in zip(range(args.frames), source.frames(), strict=False)]
            reference = rows(vp.load_detector(str(nano), device="cpu"), frames)
            scores = []
            for model in models.values():
                got = rows(vp.load_detector(str(model), device="cpu"), frames)
                scores.append(np.mean([f1_at(g, r) for g, r in zip(got, reference, strict=True)]))
            det = vp.load_detector(str(v8), device="cpu")
            det.input_spec = dataclasses.replace(det.input_spec, placement="top-left")
            square = vp.load_detector(str(nano), device="cpu")
            square.input_spec = InputSpec.square(416)
            same = np.mean([f1_at(g, r) for g, r in zip(rows(det, frames), rows(square, frames),
                                                         strict=True)])  # fmt: skip
            name = f"{clip.parent.name}/{clip.name}"
            counts = sum(map(len, reference))
            cells = "  ".join(f"{s:>{len(k)}.3f}" for s, k in zip(scores, models, strict=True))
            print(f"{name:<44} {len(frames):>6} {counts:>5}  {cells}  {same:>11.3f}")


def rows(detector, frames) -> list[np.ndarray]:
    """[K, 6] rows (x1 y1 x2 y2 score class) per frame."""
    out = []
    for start in range(0, len(frames), 8):
        for d in detector(frames[start : start + 8]):
            out.append(np.concatenate([d.xyxy, d.scores[:, None], d.class_ids[:, None]], 1))
    return out


if __name__ == "__main__":
    main()
