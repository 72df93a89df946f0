"""Letterbox pre-processing and the Detector end to end, against independent oracles.

Letterbox oracle: the frame shown by swscale (`vidpipe.io.image.to_rgb`), resized by OpenCV's
INTER_LINEAR and padded top-left with 114 (YOLOX's own `preproc`); a second oracle is the same
OpenCV letterbox of the source picture the frame was made from. Detector oracle: onnxruntime
on the OpenCV letterbox of the picture, with this file's own numpy grid decode and plain greedy
NMS. Frames are made from ../shared/media/dog.jpg with PyAV (swscale) in each pixel format.
"""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
import torch

from vidpipe.detectors.detector import Detector, load_detector, resolve_device
from vidpipe.detectors.device_letterbox import letterbox_on_device
from vidpipe.detectors.preprocess import InputSpec, Letterbox, display_size, letterbox
from vidpipe.errors import InputError
from vidpipe.io.image import to_rgb
from vidpipe.types import ColorInfo, Detections, Frame

_REPO = Path(__file__).resolve().parents[2]
MODEL_DIR = Path(os.environ.get("VIDPIPE_MODEL_DIR") or _REPO / ".." / "shared" / "models")
NANO_ONNX = MODEL_DIR / "yolox_nano.onnx"

SIZE = 416
CPU = torch.device("cpu")
DOG, BICYCLE, CAR, TRUCK = 16, 1, 2, 7
BOX_TOL_PX = 10.0


# --- frames and the letterbox oracle -------------------------------------------------------


def _planes(frame: av.VideoFrame) -> tuple[np.ndarray, ...]:
    """A PyAV frame's planes without line padding (uint8, or little-endian uint16)."""
    dtype = np.dtype("<u2") if frame.format.name.endswith("le") else np.dtype(np.uint8)
    out = []
    for plane in frame.planes:
        rows = np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size)
        out.append(np.ascontiguousarray(rows[:, : plane.width * dtype.itemsize]).view(dtype))
    return tuple(out)


# (pix_fmt, swscale colorspace, swscale range, Frame matrix, Frame range)
FORMATS = {
    "yuv420p-bt601-tv": ("yuv420p", "ITU601", "MPEG", "smpte170m", "tv"),
    "yuv420p-bt709-tv": ("yuv420p", "ITU709", "MPEG", "bt709", "tv"),
    "yuvj420p-pc": ("yuvj420p", "ITU601", "JPEG", "bt470bg", "pc"),
    "yuv444p-bt709-tv": ("yuv444p", "ITU709", "MPEG", "bt709", "tv"),
    "yuv420p10le-bt709-tv": ("yuv420p10le", "ITU709", "MPEG", "bt709", "tv"),
    "gray-pc": ("gray", None, None, "unknown", "pc"),
    "rgb24": ("rgb24", None, None, "unknown", "unknown"),
}


def make_frame(rgb: np.ndarray, fmt: str, rotation: int = 0) -> Frame:
    """A Frame of `rgb` (`[H, W, 3]` uint8) converted by swscale as FORMATS[fmt] says."""
    pix_fmt, sws_matrix, sws_range, matrix, range_ = FORMATS[fmt]
    rgb = np.ascontiguousarray(rgb)
    if pix_fmt == "rgb24":
        planes: tuple[np.ndarray, ...] = (rgb,)
    else:
        options = {}
        if sws_matrix:
            options["dst_colorspace"] = sws_matrix
        if sws_range:
            options["dst_color_range"] = sws_range
        av_frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
        planes = _planes(av_frame.reformat(format=pix_fmt, **options))
    color = ColorInfo(matrix=matrix, range=range_)
    return Frame(planes, pix_fmt, 0, 0, Fraction(1, 25), color=color, rotation=rotation)


def cv2_letterbox(cv2, rgb: np.ndarray, size: int = SIZE) -> tuple[np.ndarray, float]:
    """YOLOX's preproc: `[3, S, S]` float32 0..255 BGR, resized by INTER_LINEAR to
    (int(w r), int(h r)) at the top-left of a 114 canvas; and r."""
    h, w = rgb.shape[:2]
    r = min(size / h, size / w)
    resized = cv2.resize(rgb, (int(w * r), int(h * r)), interpolation=cv2.INTER_LINEAR)
    canvas = np.full((size, size, 3), 114, np.uint8)
    canvas[: resized.shape[0], : resized.shape[1]] = resized[..., ::-1]
    return np.ascontiguousarray(canvas.transpose(2, 0, 1), dtype=np.float32), r


def image_region(rgb_hw: tuple[int, int], size: int = SIZE) -> tuple[int, int]:
    """(rows, cols) the picture covers in the letterbox (YOLOX's int truncation)."""
    h, w = rgb_hw
    r = min(size / h, size / w)
    return int(h * r), int(w * r)


def assert_like(got: np.ndarray, want: np.ndarray, region: tuple[int, int], *, mean: float,
                p999: float, maximum: float, bias: float | None = None) -> None:  # fmt: skip
    """Compare `[3, S, S]` letterboxes: the picture region within tolerances (mean abs,
    99.9th percentile, max, optionally |mean signed|), the padding exactly equal."""
    rows, cols = region
    diff = got[:, :rows, :cols].astype(np.float64) - want[:, :rows, :cols]
    err = np.abs(diff)
    stats = f"mean {err.mean():.2f} p99.9 {np.quantile(err, 0.999):.1f} max {err.max():.1f}"
    assert err.mean() < mean, stats
    assert np.quantile(err, 0.999) < p999, stats
    assert err.max() < maximum, stats
    if bias is not None:
        assert abs(diff.mean()) < bias, f"bias {diff.mean():.2f}"
    pad = np.ones(got.shape, bool)
    pad[:, :rows, :cols] = False
    np.testing.assert_array_equal(got[pad], want[pad])


# --- letterbox vs swscale + OpenCV ---------------------------------------------------------
# Both letterboxes: the host one (swscale, numpy; the CPU's) and the device one (torch, CUDA's,
# run here on the CPU), against the same oracles.


def _torch_letterbox(frames, spec) -> Letterbox:
    batch = letterbox_on_device(frames, spec, CPU)
    return Letterbox(batch.images.numpy(), batch.scales, batch.sizes_wh, batch.offsets)


@pytest.fixture(params=["swscale", "torch"])
def lb(request):
    """letterbox(frames, spec) -> Letterbox with numpy float32 images, either implementation."""
    return letterbox if request.param == "swscale" else _torch_letterbox


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_letterbox_matches_swscale_and_opencv(cv2, lb, dog_rgb: np.ndarray, fmt: str) -> None:
    frame = make_frame(dog_rgb, fmt)
    batch = lb([frame], SIZE)
    assert batch.images.shape == (1, 3, SIZE, SIZE) and batch.images.dtype == np.float32
    assert batch.sizes_wh == ((768, 576),)
    assert batch.scales == pytest.approx((SIZE / 768,))
    got = batch.images[0]
    region = image_region(dog_rgb.shape[:2])
    # swscale's own 4:2:0 -> RGB path is biased by +1..2 codes (its round trip of the picture
    # is 1.2 / 1.9 codes darker at 8 / 10 bit), so the mean allows for that ...
    want, _ = cv2_letterbox(cv2, to_rgb(frame))
    assert_like(got, want, region, mean=2.5, p999=12.0, maximum=32.0)
    # ... and the picture the frame was made from pins it down: no bias, small mean error.
    if fmt != "gray-pc":
        source, _ = cv2_letterbox(cv2, dog_rgb)
        assert_like(got, source, region, mean=1.5, p999=16.0, maximum=48.0, bias=0.5)


def test_rgb24_letterbox_is_opencvs_to_rounding(cv2, lb, dog_rgb: np.ndarray) -> None:
    got = lb([make_frame(dog_rgb, "rgb24")], SIZE).images[0]
    want, _ = cv2_letterbox(cv2, dog_rgb)
    # OpenCV rounds in fixed point, the host letterbox in float: integer codes 1 apart at most
    assert_like(got, want, image_region(dog_rgb.shape[:2]), mean=0.5, p999=1.01, maximum=1.01)


def test_gray_of_unknown_range_is_shown_as_swscale_shows_it(cv2, lb, dog_rgb: np.ndarray) -> None:
    full = make_frame(dog_rgb, "gray-pc")
    frame = Frame(full.planes, "gray", 0, 0, Fraction(1, 25), color=ColorInfo())
    got = lb([frame], SIZE).images[0]
    want, _ = cv2_letterbox(cv2, to_rgb(frame))
    assert_like(got, want, image_region(dog_rgb.shape[:2]), mean=1.0, p999=2.0, maximum=2.0)


def test_odd_and_portrait_sizes_in_one_batch(cv2, lb, dog_rgb: np.ndarray) -> None:
    odd = dog_rgb[100:461, 60:701]  # 641 x 361
    portrait = dog_rgb[:, 100:460]  # 360 x 576
    frames = [make_frame(odd, "yuv420p-bt709-tv"), make_frame(portrait, "yuv420p-bt601-tv")]
    batch = lb(frames, SIZE)
    assert batch.sizes_wh == ((641, 361), (360, 576))
    assert batch.scales == pytest.approx((SIZE / 641, SIZE / 576))
    for i, (frame, rgb) in enumerate(zip(frames, (odd, portrait), strict=True)):
        got = batch.images[i]
        region = image_region(rgb.shape[:2])
        want, _ = cv2_letterbox(cv2, to_rgb(frame))
        assert_like(got, want, region, mean=2.5, p999=12.0, maximum=32.0)
        source, _ = cv2_letterbox(cv2, rgb)
        assert_like(got, source, region, mean=1.5, p999=16.0, maximum=48.0, bias=0.5)
    assert image_region(portrait.shape[:2]) == (416, 260)  # portrait: padded on the right


@pytest.mark.parametrize("rotation", [90, 270])
@pytest.mark.parametrize("fmt", ["rgb24", "yuv420p-bt709-tv"])
def test_rotated_frames_are_letterboxed_upright(
    cv2, lb, dog_rgb: np.ndarray, rotation: int, fmt: str
) -> None:
    """Pixels stored turned the other way (as a phone records them), display matrix turning
    them back: the letterbox shows the upright picture, display size swapped."""
    turns = rotation // 90
    stored = np.rot90(dog_rgb, -turns)  # numpy: positive k turns counter-clockwise
    frame = make_frame(stored, fmt, rotation=rotation)
    assert (frame.width, frame.height) == (576, 768)
    assert display_size(frame) == (768, 576)
    batch = lb([frame], SIZE)
    assert batch.sizes_wh == ((768, 576),)
    assert batch.scales == pytest.approx((SIZE / 768,))
    got = batch.images[0]
    source, _ = cv2_letterbox(cv2, dog_rgb)
    region = image_region(dog_rgb.shape[:2])
    if fmt == "rgb24":
        assert_like(got, source, region, mean=0.5, p999=1.01, maximum=1.01)
    else:
        assert_like(got, source, region, mean=1.5, p999=16.0, maximum=48.0, bias=0.5)
        want, _ = cv2_letterbox(cv2, to_rgb(frame))
        assert_like(got, want, region, mean=2.5, p999=12.0, maximum=32.0)


def test_pad_and_input_untouched(lb, dog_rgb: np.ndarray) -> None:
    # 640 x 363 at 320: 181.5 rows, truncated to 181 as YOLOX does (not rounded)
    frames = [make_frame(dog_rgb[:363, :640], "yuv420p-bt709-tv"), make_frame(dog_rgb, "rgb24")]
    before = [[p.copy() for p in f.planes] for f in frames]
    batch = lb(frames, 320)
    assert batch.images.shape == (2, 3, 320, 320)
    for i, (w, h) in enumerate(((640, 363), (768, 576))):
        rows, cols = image_region((h, w), 320)
        image = batch.images[i]
        assert (image[:, rows:, :] == 114).all() and (image[:, :, cols:] == 114).all()
        assert (image[:, rows - 1, :cols] != 114).any(), "picture ends early (bottom)"
        assert (image[:, :rows, cols - 1] != 114).any(), "picture ends early (right)"
        assert float(image.min()) >= 0.0 and float(image.max()) <= 255.0
    for frame, planes in zip(frames, before, strict=True):
        for plane, copy in zip(frame.planes, planes, strict=True):
            np.testing.assert_array_equal(plane, copy)


def test_device_letterbox_dtype_and_device(dog_rgb: np.ndarray) -> None:
    frames = [make_frame(dog_rgb[:363, :640], "yuv420p-bt709-tv"), make_frame(dog_rgb, "rgb24")]
    half = letterbox_on_device(frames, 320, CPU, torch.float16).images
    assert half.dtype == torch.float16 and half.device == CPU
    full = letterbox_on_device(frames, 320, CPU).images
    assert float((half.float() - full).abs().max()) <= 0.13  # fp16 steps are 0.125 near 255


def test_host_letterbox_in_uint8_is_the_wire_form(dog_rgb: np.ndarray) -> None:
    """uint8 0..255 before the spec's scale (what a model server client sends); the float32
    form is it times the scale."""
    frames = [make_frame(dog_rgb, "yuv420p-bt601-tv")]
    spec = InputSpec((320, 256), channels="rgb", scale=1 / 255, pad_value=0.0)
    wire = letterbox(frames, spec, dtype="uint8").images
    assert wire.dtype == np.uint8 and wire.shape == (1, 3, 256, 320) and wire.flags.c_contiguous
    np.testing.assert_allclose(letterbox(frames, spec).images, wire / 255, atol=1e-6)


def test_an_input_spec_sets_size_channel_order_scale_and_pad(lb, dog_rgb: np.ndarray) -> None:
    """A non-square RGB 0..1 input (as Ultralytics exports take) is YOLOX's BGR 0..255
    letterbox with the channels swapped and scaled, on a W x H canvas."""
    frames = [make_frame(dog_rgb, "rgb24")]  # 768 x 576: the width limits at 640 x 384
    spec = InputSpec((640, 384), channels="rgb", scale=1 / 255, pad_value=0.0)
    got = lb(frames, spec)
    assert got.images.shape == (1, 3, 384, 640) and got.scales == (0.6666666666666666,)
    bgr = lb(frames, InputSpec((640, 384), pad_value=0.0)).images
    np.testing.assert_allclose(got.images, bgr[:, ::-1] / 255, rtol=0, atol=1e-6)
    padded = lb(frames, InputSpec((640, 640))).images  # 640 x 480 picture
    assert (padded[:, :, 480:, :] == 114).all() and (padded[:, :, 479, :] != 114).any()
    assert lb(frames, SIZE).images.shape == (1, 3, SIZE, SIZE)  # an int: square
    with pytest.raises(ValueError, match="channels"):
        InputSpec((64, 64), channels="yuv")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="positive"):
        InputSpec((0, 64))


def test_a_strided_spec_cuts_the_canvas_down_to_the_picture(lb, dog_rgb: np.ndarray) -> None:
    """stride 32, margin 128: the canvas is the picture plus 128 rows, in multiples of 32 —
    exactly the top of the full canvas; a frame that fills the square keeps it; a batch shares
    the largest canvas; portrait frames are cut in width."""
    spec = InputSpec((416, 416), stride=32, margin=128)
    wide = [make_frame(np.ascontiguousarray(dog_rgb[:272]), "yuv420p-bt709-tv")]  # 768 x 272
    cut, full = lb(wide, spec), lb(wide, InputSpec.square(416))
    assert cut.images.shape == (1, 3, 288, 416)  # 416 x 147 picture + 128 -> 288
    np.testing.assert_array_equal(cut.images, full.images[:, :, :288])
    assert cut.scales == full.scales and cut.sizes_wh == full.sizes_wh
    square = [make_frame(dog_rgb, "rgb24")]  # 416 x 312 + 128 > 416
    assert lb(square, spec).images.shape == (1, 3, 416, 416)
    assert lb(wide + square, spec).images.shape == (2, 3, 416, 416)
    tall = [make_frame(np.ascontiguousarray(dog_rgb[:, :200]), "rgb24")]  # 200 x 576
    assert lb(tall, spec).images.shape == (1, 3, 416, 288)  # 144 + 128 -> 288 wide
    with pytest.raises(ValueError, match="margin"):
        InputSpec((64, 64), stride=32, margin=-1)


def test_a_centred_canvas_holds_the_top_left_picture_at_its_offset(lb, dog_rgb: np.ndarray) -> None:
    """Ultralytics' placement: the same picture as at the top-left, moved by the offset
    (half the padding, rounded as its letterbox rounds), the rest the pad value."""
    frames = [make_frame(dog_rgb, "rgb24"), make_frame(dog_rgb[:300], "rgb24")]
    corner = lb(frames, InputSpec((320, 320), "rgb", 1 / 255))
    centred = lb(frames, InputSpec((320, 320), "rgb", 1 / 255, placement="center"))
    assert centred.offsets == ((0, 40), (0, 97)) and centred.scales == corner.scales
    for i, (width, height) in enumerate([(320, 240), (320, 125)]):
        x, y = centred.offsets[i]
        picture = centred.images[i, :, y : y + height, x : x + width]
        np.testing.assert_array_equal(picture, corner.images[i, :, :height, :width])
        pad = np.ones((320, 320), bool)
        pad[y : y + height, x : x + width] = False
        np.testing.assert_allclose(centred.images[i][:, pad], 114 / 255, rtol=1e-6)


def test_a_stretched_canvas_is_opencvs_resize(cv2, lb, dog_rgb: np.ndarray) -> None:
    """RT-DETR's placement: the whole canvas is the picture, scaled per axis (INTER_LINEAR)."""
    spec = InputSpec((320, 256), "rgb", 1.0, placement="stretch", stride=32)
    batch = lb([make_frame(dog_rgb, "rgb24")], spec)
    assert batch.images.shape == (1, 3, 256, 320)
    assert batch.scales == ((320 / 768, 256 / 576),) and batch.offsets == ((0, 0),)
    want = cv2.resize(dog_rgb, (320, 256), interpolation=cv2.INTER_LINEAR).transpose(2, 0, 1)
    assert np.abs(batch.images[0] - want).max() <= 1.0


def test_a_new_family_plugs_into_load_detector(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, dog_rgb: np.ndarray
) -> None:
    """A family is a module with `load(path, request) -> Loaded`: registered in FAMILIES, its
    model runs behind the same Detector (letterbox by its spec, NMS, boxes in frame pixels)."""
    import sys
    import types

    from vidpipe.detectors import families

    seen: list[np.ndarray] = []

    def forward(images: np.ndarray) -> np.ndarray:  # one box, 100x50 input px, class 1
        seen.append(images)
        row = np.array([60.0, 35.0, 100.0, 50.0, 0.9, 0.1, 0.8], np.float32)
        return np.tile(row, (len(images), 1, 1))

    def load(path: Path, request: families.Request) -> families.Loaded:
        spec = InputSpec((320, 160), channels="rgb", scale=1 / 255)
        return families.Loaded(forward, 2, spec, "float32", engine="fake", device="cpu")

    module = types.ModuleType("fake_family")
    module.load = load  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "fake_family", module)
    monkeypatch.setattr(families, "FAMILIES", {"fake": "fake_family"})
    from vidpipe.detectors import detector as detector_module

    monkeypatch.setattr(detector_module, "family_for", lambda path, fmt: ("fake", None))
    weights = tmp_path / "fake.onnx"
    weights.write_bytes(b"not read by the fake family")
    detector = load_detector(str(weights), device="cpu")
    assert detector.names == ("0", "1") and detector.input_spec.size_wh == (320, 160)
    (dets,) = detector([make_frame(dog_rgb, "rgb24")])  # 768 x 576 -> scale 160 / 576
    # on the CPU a forward takes the uint8 letterbox and applies its spec's scale itself
    assert seen[0].shape == (1, 3, 160, 320) and seen[0].dtype == np.uint8
    scale = 160 / 576
    np.testing.assert_allclose(dets.xyxy, [[10 / scale, 10 / scale, 110 / scale, 60 / scale]],
                               rtol=1e-5)  # fmt: skip
    assert dets.class_ids.tolist() == [1] and dets.names == ("0", "1")
    with pytest.raises(InputError, match="unknown detector family"):
        families.load_family("nope", weights, None)  # type: ignore[arg-type]


def test_empty_batch_of_frames(lb) -> None:
    batch = lb([], SIZE)
    assert batch.images.shape == (0, 3, SIZE, SIZE)
    assert batch.scales == () and batch.sizes_wh == ()


# --- the detector against onnxruntime + a plain decode and NMS -----------------------------


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def plain_nms(boxes: np.ndarray, scores: np.ndarray, classes: np.ndarray, iou: float) -> list:
    """Greedy class-aware NMS with loops: indexes kept, best first."""
    keep: list[int] = []
    for i in np.argsort(-scores, kind="stable"):
        if all(classes[j] != classes[i] or _iou(boxes[i], boxes[j]) <= iou for j in keep):
            keep.append(int(i))
    return keep


def oracle_detections(cv2, session, rgb: np.ndarray, conf: float = 0.25, iou: float = 0.45):
    """onnxruntime on YOLOX's preproc of `rgb`, decoded and NMS'd here: (xyxy in picture
    pixels `[K, 4]`, scores `[K]`, class ids `[K]`)."""
    images, r = cv2_letterbox(cv2, rgb)
    raw = session.run(None, {"images": images[None]})[0][0].astype(np.float64)
    grids, strides = [], []
    for stride in (8, 16, 32):
        n = SIZE // stride
        ys, xs = np.mgrid[0:n, 0:n]
        grids.append(np.stack([xs.ravel(), ys.ravel()], 1))
        strides.append(np.full(n * n, stride))
    grid, stride = np.concatenate(grids), np.concatenate(strides)[:, None]
    centre = (raw[:, :2] + grid) * stride
    size = np.exp(raw[:, 2:4]) * stride
    xyxy = np.concatenate([centre - size / 2, centre + size / 2], 1)
    classes = raw[:, 5:].argmax(1)
    scores = raw[:, 4] * raw[:, 5:].max(1)
    cand = np.nonzero(scores >= conf)[0]
    keep = cand[plain_nms(xyxy[cand], scores[cand], classes[cand], iou)]
    h, w = rgb.shape[:2]
    boxes = np.clip(xyxy[keep] / r, 0, [w, h, w, h])
    return boxes, scores[keep], classes[keep]


def _has_match(
    box: np.ndarray, cls: int, score: float | None, among: tuple, min_score: float, tol_px: float
) -> bool:
    """Whether `among` = (xyxy, scores, class ids) holds a box of class `cls` scoring above
    `min_score` (and within 0.05 of `score` unless None) whose corners are within tol_px."""
    xyxy, scores, ids = among
    return any(
        ids[j] == cls
        and scores[j] > min_score
        and np.abs(xyxy[j] - box).max() <= tol_px
        and (score is None or abs(scores[j] - score) < 0.05)
        for j in range(len(ids))
    )


def assert_same_detections(got: Detections, want: tuple, tol_px: float = BOX_TOL_PX) -> None:
    """Every confident oracle box (> 0.5) has a detection of its class within tol_px and
    0.05 score; every confident detection (> 0.55) has an oracle box (> 0.4)."""
    ours = (got.xyxy, got.scores, got.class_ids)
    for box, score, cls in zip(*want, strict=True):
        if score > 0.5:
            assert _has_match(box, cls, score, ours, 0.0, tol_px), ("missed", cls, box, score)
    for box, score, cls in zip(*ours, strict=True):
        if score > 0.55:
            assert _has_match(box, cls, None, want, 0.4, tol_px), ("extra", cls, box, score)


def assert_finds_dog_bicycle_and_car(det: Detections) -> None:
    confident = {int(c) for c, s in zip(det.class_ids, det.scores, strict=True) if s > 0.5}
    assert {DOG, BICYCLE} <= confident and confident & {CAR, TRUCK}, confident


@pytest.fixture(scope="module")
def session():
    ort = pytest.importorskip("onnxruntime")
    if not NANO_ONNX.is_file():
        pytest.skip(f"reference model not found: {NANO_ONNX}")
    return ort.InferenceSession(str(NANO_ONNX), providers=["CPUExecutionProvider"])


@pytest.fixture(scope="module")
def detector() -> Detector:
    if not NANO_ONNX.is_file():
        pytest.skip(f"reference model not found: {NANO_ONNX}")
    found = load_detector(str(NANO_ONNX), device="cpu", engine="torch")
    found.input_spec = InputSpec.square(416)  # the oracle's canvas (the cut-down one: its
    return found  # own test, tests/detectors/test_runtimes.py)


@pytest.fixture(scope="module")
def upright_oracle(cv2, session, dog_rgb: np.ndarray) -> tuple:
    return oracle_detections(cv2, session, dog_rgb)


@pytest.fixture(scope="module")
def dog_batch(detector: Detector, dog_rgb: np.ndarray) -> list[Detections]:
    """Detections of [yuv420p, rgb24, rgb24 stored turned (rotation 90), yuv420p stored
    turned (rotation 270)] dog frames, in one call."""
    frames = [
        make_frame(dog_rgb, "yuv420p-bt601-tv"),
        make_frame(dog_rgb, "rgb24"),
        make_frame(np.rot90(dog_rgb, -1), "rgb24", rotation=90),
        make_frame(np.rot90(dog_rgb, -3), "yuv420p-bt709-tv", rotation=270),
    ]
    return detector(frames)


def test_oracle_itself_finds_the_objects(upright_oracle: tuple) -> None:
    boxes, scores, classes = upright_oracle
    assert_finds_dog_bicycle_and_car(Detections(boxes.astype(np.float32),
                                                scores.astype(np.float32), classes))  # fmt: skip


@pytest.mark.parametrize(("index", "what"), [(0, "yuv420p"), (1, "rgb24")])
def test_detector_matches_the_oracle(dog_batch, upright_oracle, index: int, what: str) -> None:
    det = dog_batch[index]
    assert det.xyxy.dtype == np.float32 and det.class_ids.dtype == np.int64
    assert_finds_dog_bicycle_and_car(det)
    assert_same_detections(det, upright_oracle)
    assert (det.xyxy >= 0).all() and (det.xyxy[:, [0, 2]] <= 768).all()
    assert (det.xyxy[:, [1, 3]] <= 576).all()
    assert np.all(np.diff(det.scores) <= 0), "not sorted by score"


def _turn_boxes_ccw(xyxy: np.ndarray, size_wh: tuple[int, int], turns: int) -> np.ndarray:
    """Boxes of a W x H picture -> the same boxes after turning the picture counter-clockwise
    by `turns` quarter turns (the test's own geometry: (x, y) -> (y, W - x) per turn)."""
    w, h = size_wh
    out = xyxy.astype(np.float64)
    for _ in range(turns % 4):
        x0, y0, x1, y1 = out.T
        out = np.stack([y0, w - x1, y1, w - x0], 1)
        w, h = h, w
    return out


@pytest.mark.parametrize(("index", "turns"), [(2, 1), (3, 3)])
def test_rotated_frame_boxes_are_in_display_coordinates(
    dog_batch, upright_oracle, dog_rgb: np.ndarray, index: int, turns: int
) -> None:
    """The stored pixels are the picture turned by -turns; the display matrix turns them back.
    Boxes come out in display (upright) coordinates: the oracle's upright boxes, which,
    turned by the test's geometry to the stored orientation, frame the same pixels."""
    det = dog_batch[index]
    assert_finds_dog_bicycle_and_car(det)
    assert_same_detections(det, upright_oracle)
    assert (det.xyxy[:, [0, 2]] <= 768).all() and (det.xyxy[:, [1, 3]] <= 576).all()
    # check the geometry helper on pixels: a box of the upright picture, turned with the
    # storage, frames the same content in the stored array
    stored = np.rot90(dog_rgb, -turns)
    dog_box = det.xyxy[(det.class_ids == DOG).argmax()].round().astype(int)
    in_stored = _turn_boxes_ccw(dog_box[None], (768, 576), -turns % 4)[0].round().astype(int)
    crop_upright = dog_rgb[dog_box[1] : dog_box[3], dog_box[0] : dog_box[2]]
    crop_stored = stored[in_stored[1] : in_stored[3], in_stored[0] : in_stored[2]]
    np.testing.assert_array_equal(np.rot90(crop_stored, turns), crop_upright)
    # and the boxes in storage coordinates would be different: not what the detector returns
    stored_boxes = _turn_boxes_ccw(det.xyxy, (768, 576), -turns % 4)
    assert np.abs(stored_boxes - det.xyxy).max() > 50


def test_classes_filter(cv2, session, dog_rgb: np.ndarray, upright_oracle: tuple) -> None:
    if not NANO_ONNX.is_file():
        pytest.skip(f"reference model not found: {NANO_ONNX}")
    only_dogs = load_detector(str(NANO_ONNX), device="cpu", engine="torch", classes=["dog"])
    det = only_dogs([make_frame(dog_rgb, "rgb24")])[0]
    assert len(det) >= 1 and set(det.class_ids.tolist()) == {DOG}
    boxes, scores, classes = upright_oracle
    dogs = classes == DOG
    assert_same_detections(det, (boxes[dogs], scores[dogs], classes[dogs]))


def test_confidence_099_finds_nothing(dog_rgb: np.ndarray) -> None:
    if not NANO_ONNX.is_file():
        pytest.skip(f"reference model not found: {NANO_ONNX}")
    picky = load_detector(str(NANO_ONNX), device="cpu", engine="torch", conf=0.99)
    results = picky([make_frame(dog_rgb, "rgb24"), make_frame(dog_rgb, "yuv420p-bt601-tv")])
    assert len(results) == 2
    for det in results:
        assert len(det) == 0 and det.xyxy.shape == (0, 4)


def test_detector_on_no_frames(detector: Detector) -> None:
    assert detector([]) == []


def test_detector_size_must_be_a_multiple_of_32() -> None:
    for size in (400, -32):
        with pytest.raises(InputError, match="multiple of 32"):
            load_detector(str(NANO_ONNX), device="cpu", size=size)


@pytest.mark.parametrize("engine", ["openvino", "onnxruntime"])
def test_cpu_runtimes_agree_with_torch(
    detector: Detector, dog_rgb: np.ndarray, engine: str
) -> None:
    """OpenVINO and onnxruntime run the .onnx export (numpy in and out) in f32 and find what
    our torch modules find."""
    pytest.importorskip(engine)
    runtime = load_detector(str(NANO_ONNX), device="cpu", engine=engine, precision="f32")
    assert runtime.engine == engine and runtime.device == "cpu"
    runtime.input_spec = detector.input_spec  # the same canvas (the fixture's square)
    frames = [make_frame(dog_rgb, "yuv420p-bt601-tv"), make_frame(dog_rgb, "rgb24")] * 3
    for got, want in zip(runtime(frames), detector(frames), strict=True):
        assert_finds_dog_bicycle_and_car(got)
        assert_same_detections(got, (want.xyxy, want.scores, want.class_ids), tol_px=0.5)
    wide = load_detector(str(NANO_ONNX), device="cpu", engine=engine, size=640, precision="f32")
    assert wide.input_spec.size_wh == (640, 640)
    assert_finds_dog_bicycle_and_car(wide(frames[:1])[0])


def test_auto_engine_is_the_fastest_runtime_installed() -> None:
    from vidpipe.detectors.runtimes import pick

    auto = load_detector(str(NANO_ONNX), device="cpu")
    assert auto.engine == pick() == "onnxruntime"  # a dependency, and the faster here
    with pytest.raises(InputError, match="--engine"):
        load_detector(str(NANO_ONNX), device="cpu", engine="tensorrt")


# --- devices -------------------------------------------------------------------------------


def test_resolve_device() -> None:
    assert resolve_device("cpu") == "cpu"
    assert resolve_device("auto") == ("cuda:0" if torch.cuda.is_available() else "cpu")
    for bad in ("tpu", "gpu0", "cuda:x", "", "cuda:-1"):
        with pytest.raises(InputError) as info:
            resolve_device(bad)
        assert "\n" not in str(info.value) and "--device" in str(info.value)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the refusal without CUDA")
@pytest.mark.parametrize("name", ["cuda", "cuda:0"])
def test_resolve_cuda_without_cuda(name: str) -> None:
    with pytest.raises(InputError, match="no CUDA device"):
        resolve_device(name)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs an NVIDIA GPU")
def test_cuda_fp16_detector_agrees_with_cpu(dog_batch, dog_rgb: np.ndarray) -> None:
    gpu = load_detector(str(NANO_ONNX), device="cuda")
    assert gpu.dtype == "float16" and gpu.engine == "torch" and gpu.device == "cuda:0"
    frames = [make_frame(dog_rgb, "yuv420p-bt601-tv"), make_frame(dog_rgb, "rgb24")]
    for det, cpu_det in zip(gpu(frames), dog_batch[:2], strict=True):
        assert_finds_dog_bicycle_and_car(det)
        cpu = (cpu_det.xyxy, cpu_det.scores, cpu_det.class_ids)
        assert_same_detections(det, cpu, tol_px=4.0)
    with pytest.raises(InputError):
        resolve_device(f"cuda:{torch.cuda.device_count()}")


@pytest.mark.parametrize(
    ("shape", "out_hw"),
    [((720, 1280), (234, 416)), ((1080, 1920), (234, 416)), ((360, 640), (234, 416)),
     ((576, 768, 3), (312, 416)), ((40, 1001), (7, 33)), ((50, 60), (80, 90))],
)  # fmt: skip
def test_plane_resize_is_bilinear_either_way_round(shape: tuple, out_hw: tuple) -> None:
    """The plane resize (columns gathered first where the width shrinks by more than half,
    else rows then columns) is the textbook bilinear of the same taps, to float rounding."""
    from vidpipe.detectors.preprocess import _resize, _taps

    plane = np.random.default_rng(len(shape) + shape[1]).integers(0, 256, shape, np.uint8)
    r0, r1, wy = _taps(shape[0], out_hw[0])
    c0, c1, wx = _taps(shape[1], out_hw[1])
    p = plane.astype(np.float64)
    wy, wx = wy.astype(np.float64)[:, None], wx.astype(np.float64)[None, :]
    if p.ndim == 3:
        wy, wx = wy[..., None], wx[..., None]
    want = ((1 - wy) * ((1 - wx) * p[r0][:, c0] + wx * p[r0][:, c1])
            + wy * ((1 - wx) * p[r1][:, c0] + wx * p[r1][:, c1]))  # fmt: skip
    got = _resize(plane, out_hw)
    assert got.shape == want.shape and got.dtype == np.float32
    np.testing.assert_allclose(got, want, atol=1e-3)
