"""The peer of `vidpipe detect` in scripts/bench.py: the loop people write today.

OpenCV `VideoCapture` decodes to BGR, each frame is letterboxed with `cv2.resize`, run
through onnxruntime one frame at a time, decoded and NMS'd (`cv2.dnn.NMSBoxesBatched`), and,
with `-o`, boxes and labels drawn with cv2 and written by `cv2.VideoWriter` (mp4v).
`--layout yolov8` is the loop of Ultralytics' ONNX Runtime example for a YOLOv8 export: the
frame letterboxed centred, RGB 0..1, the `[1, 4 + C, N]` output transposed.

    python scripts/peer_detect.py SRC MODEL.onnx [-o OUT.mp4] [--size 416] [--cuda]
        [--layout yolox|yolov8]

Prints "frames N" at the end.
"""

from __future__ import annotations

import argparse

import cv2
import numpy as np
import onnxruntime as ort


def letterbox(frame: np.ndarray, size: int) -> tuple[np.ndarray, float]:
    h, w = frame.shape[:2]
    r = min(size / h, size / w)
    canvas = np.full((size, size, 3), 114, np.uint8)
    canvas[: int(h * r), : int(w * r)] = cv2.resize(
        frame, (int(w * r), int(h * r)), interpolation=cv2.INTER_LINEAR
    )
    return canvas.transpose(2, 0, 1)[None].astype(np.float32), r


def letterbox_centred(frame: np.ndarray, size: int) -> tuple[np.ndarray, float, int, int]:
    h, w = frame.shape[:2]
    r = min(size / h, size / w)
    new_w, new_h = round(w * r), round(h * r)
    left, top = round((size - new_w) / 2 - 0.1), round((size - new_h) / 2 - 0.1)
    canvas = np.full((size, size, 3), 114, np.uint8)
    resized = cv2.resize(frame, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    canvas[top : top + new_h, left : left + new_w] = cv2.cvtColor(resized, cv2.COLOR_BGR2RGB)
    return canvas.transpose(2, 0, 1)[None].astype(np.float32) / 255.0, r, left, top


def yolov8_boxes(sess, frame: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(x y w h boxes in frame pixels, scores, classes) of a YOLOv8 export, before NMS."""
    image, r, left, top = letterbox_centred(frame, size)
    out = sess.run(None, {sess.get_inputs()[0].name: image})[0][0].T  # [N, 4 + C]
    cls = out[:, 4:].argmax(1)
    score = out[np.arange(len(out)), 4 + cls]
    keep = score >= 0.25
    xy = (out[keep, :2] - out[keep, 2:4] / 2 - [left, top]) / r
    return np.concatenate([xy, out[keep, 2:4] / r], 1), score[keep], cls[keep]


def grids(size: int) -> tuple[np.ndarray, np.ndarray]:
    cells, strides = [], []
    for stride in (8, 16, 32):
        n = size // stride
        ys, xs = np.mgrid[0:n, 0:n]
        cells.append(np.stack([xs, ys], -1).reshape(-1, 2))
        strides.append(np.full((n * n, 1), stride))
    return np.concatenate(cells).astype(np.float32), np.concatenate(strides).astype(np.float32)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("source")
    parser.add_argument("model")
    parser.add_argument("-o", "--output")
    parser.add_argument("--size", type=int, default=416)
    parser.add_argument("--cuda", action="store_true")
    parser.add_argument("--layout", choices=("yolox", "yolov8"), default="yolox")
    args = parser.parse_args()
    providers = ["CUDAExecutionProvider"] if args.cuda else []
    sess = ort.InferenceSession(args.model, providers=[*providers, "CPUExecutionProvider"])
    grid, stride = grids(args.size)
    cap = cv2.VideoCapture(args.source)
    writer = None
    if args.output:
        fps = cap.get(cv2.CAP_PROP_FPS)
        wh = (int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)))
        writer = cv2.VideoWriter(args.output, cv2.VideoWriter_fourcc(*"mp4v"), fps, wh)
    frames = 0
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        if args.layout == "yolov8":
            boxes, scores, classes = yolov8_boxes(sess, frame, args.size)
        else:
            image, r = letterbox(frame, args.size)
            out = sess.run(None, {sess.get_inputs()[0].name: image})[0][0]
            xy = (out[:, :2] + grid) * stride
            wh = np.exp(out[:, 2:4]) * stride
            cls = out[:, 5:].argmax(1)
            score = out[:, 4] * out[np.arange(len(out)), 5 + cls]
            keep = score >= 0.25
            boxes = np.concatenate([xy[keep] - wh[keep] / 2, wh[keep]], 1) / r
            scores, classes = score[keep], cls[keep]
        idx = cv2.dnn.NMSBoxesBatched(boxes.tolist(), scores.tolist(), classes.tolist(), 0.25, 0.45)
        if writer is not None:
            for i in np.asarray(idx).reshape(-1):
                x, y, w, h = boxes[i].astype(int)
                cv2.rectangle(frame, (x, y), (x + w, y + h), (0, 255, 0), 2)
                label = f"{int(classes[i])} {scores[i]:.2f}"
                cv2.putText(frame, label, (x, y - 4), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 255, 0), 1)
            writer.write(frame)
        frames += 1
    cap.release()
    if writer is not None:
        writer.release()
    print(f"frames {frames}")


if __name__ == "__main__":
    main()
