"""Box/label drawing checked through swscale (`vidpipe.io.image.to_rgb`, display RGB with the
rotation applied) as the independent oracle: outline colour and position, untouched pixels,
labels, rotations, every pixel-format family, bad boxes, immutability of the input."""

from __future__ import annotations

import dataclasses
from fractions import Fraction

import numpy as np
import pytest

from vidpipe.draw.boxes import annotate
from vidpipe.draw.paint import PALETTE_RGB, class_color
from vidpipe.io.image import to_rgb
from vidpipe.pixfmt import LAYOUTS, plane_shapes
from vidpipe.types import ColorInfo, Detections, Frame

NAMES = ["person", "car", "truck"]
RED = PALETTE_RGB[1]  # class 1: (255, 64, 64), white text


def grey_frame(
    pix_fmt: str,
    size_wh: tuple[int, int],
    *,
    matrix: str = "bt709",
    range_: str = "tv",
    rotation: int = 0,
    level: float = 0.5,
) -> Frame:
    """A flat mid-grey frame (Y at `level` of the code range, neutral chroma), read-only
    planes so any write into the input raises."""
    lay = LAYOUTS[pix_fmt]
    peak = (1 << lay.bits) - 1
    planes = []
    for i, shape in enumerate(plane_shapes(pix_fmt, *size_wh)):
        value = round(level * peak) if i == 0 else 1 << (lay.bits - 1)
        plane = np.full(shape, value, lay.dtype)
        plane.flags.writeable = False
        planes.append(plane)
    color = ColorInfo(matrix=matrix, range=range_, chroma_location="left")
    return Frame(tuple(planes), pix_fmt, 0, 0, Fraction(1, 25), color=color, rotation=rotation)


def dets(*boxes: tuple, scores: tuple = (), classes: tuple = ()) -> Detections:
    n = len(boxes)
    return Detections(
        np.array(boxes, np.float32).reshape(n, 4),
        np.array(scores or [0.9] * n, np.float32),
        np.array(classes or [1] * n, np.int64),
    )


def assert_outline(
    rgb: np.ndarray, base: np.ndarray, box: tuple, color: tuple, t: int, tol: int, clear: int = 3
) -> None:
    """Display RGB: the middle of each outline band (inside the box) is `color`; the box
    interior and the frame below / right of the box (`clear` px off the outline) equal `base`
    (swscale interpolates chroma, so a coloured chroma sample tints a few neighbours)."""
    x0, y0, x1, y1 = box
    want = np.array(color, np.int16)
    for d in range(t // 3, t - t // 3):  # band middles: clear of the chroma edges
        for band in (
            rgb[y0 + d, x0 + t : x1 - t],
            rgb[y1 - 1 - d, x0 + t : x1 - t],
            rgb[y0 + t : y1 - t, x0 + d],
            rgb[y0 + t : y1 - t, x1 - 1 - d],
        ):
            assert band.size and np.abs(band.astype(np.int16) - want).max() <= tol, (box, d)
    inner = np.s_[y0 + t + clear : y1 - t - clear, x0 + t + clear : x1 - t - clear]
    np.testing.assert_array_equal(rgb[inner], base[inner])
    np.testing.assert_array_equal(rgb[y1 + clear :], base[y1 + clear :])
    np.testing.assert_array_equal(rgb[:, x1 + clear :], base[:, x1 + clear :])


def assert_label(rgb: np.ndarray, box: tuple, color: tuple, tol: int) -> None:
    """Above the box: a patch in the class colour with white text on it."""
    x0, y0 = box[:2]
    region = rgb[max(0, y0 - 30) : y0, x0 : x0 + 120].astype(np.int16)
    background = np.abs(region - np.array(color)).max(axis=-1) <= tol
    text = region.min(axis=-1) >= 200
    assert background.sum() > 200 and text.sum() > 10, (background.sum(), text.sum())


@pytest.mark.parametrize("size_wh", [(160, 120), (163, 117)])
@pytest.mark.parametrize("pix_fmt", ["yuv420p", "yuv420p10le"])
@pytest.mark.parametrize(("matrix", "range_"), [("bt709", "tv"), ("bt470bg", "pc")])
def test_outline_and_label_on_grey_420(size_wh, pix_fmt, matrix, range_) -> None:
    frame = grey_frame(pix_fmt, size_wh, matrix=matrix, range_=range_)
    before = [p.copy() for p in frame.planes]
    box = (31, 45, 120, 101)  # odd corners: outline edges fall between chroma samples
    out = annotate(frame, dets(box), NAMES, thickness=6)
    rgb, base = to_rgb(out), to_rgb(frame)
    assert_outline(rgb, base, box, RED, t=6, tol=6)
    assert_label(rgb, box, RED, tol=6)
    np.testing.assert_array_equal(rgb[:, :25], base[:, :25])  # left of the box
    for plane, copy in zip(frame.planes, before, strict=True):
        np.testing.assert_array_equal(plane, copy)
    assert out.planes[0] is not frame.planes[0]
    assert (out.pix_fmt, out.index, out.rotation, out.color) == (
        frame.pix_fmt,
        frame.index,
        frame.rotation,
        frame.color,
    )


def test_box_at_frame_edges_and_default_thickness() -> None:
    frame = grey_frame("yuv420p", (161, 121))
    out = annotate(frame, dets((0, 0, 161, 121), classes=(2,)), NAMES)  # whole frame
    rgb = to_rgb(out)
    want = np.array(class_color(2))
    # default thickness at this size is 2: the outermost ring is the class colour
    for edge in (rgb[0, 40:], rgb[-1], rgb[:, 0], rgb[:, -1], rgb[-2], rgb[:, -2]):
        assert np.abs(edge.astype(int) - want).max() <= 6
    center = to_rgb(frame)[40:100, 60:140]
    np.testing.assert_array_equal(rgb[40:100, 60:140], center)
    # at the top edge the label goes inside the box
    label = rgb[2:14, 2:60].astype(int)
    assert (np.abs(label - want).max(axis=-1) <= 6).sum() > 100


@pytest.mark.parametrize("rotation", [90, 180, 270, -90])
def test_rotation_draws_in_display_space(rotation: int) -> None:
    storage_wh = (176, 144)
    frame = grey_frame("yuv420p", storage_wh, rotation=rotation)
    disp_w, disp_h = storage_wh[::-1] if rotation % 180 else storage_wh
    box = (21, 53, disp_w - 30, disp_h - 25)
    out = annotate(frame, dets(box), NAMES, thickness=6)
    assert out.rotation == rotation and out.planes[0].shape == frame.planes[0].shape
    rgb = to_rgb(out)
    assert rgb.shape[:2] == (disp_h, disp_w)
    assert_outline(rgb, to_rgb(frame), box, RED, t=6, tol=6)
    assert_label(rgb, box, RED, tol=6)


@pytest.mark.parametrize("rotation", [90, 180, 270])
def test_rotated_444_equals_drawing_the_displayed_picture(rotation: int) -> None:
    """Without subsampling, drawing on rotated storage and then rotating for display must give
    exactly the picture drawn on an upright frame: geometry and text orientation."""
    storage = grey_frame("yuv444p", (150, 110), rotation=rotation)
    disp_wh = (110, 150) if rotation % 180 else (150, 110)
    upright = grey_frame("yuv444p", disp_wh)
    boxes = dets((7, 40, 90, 99), (50, 3, 108, 60), scores=(0.87, 0.5), classes=(0, 2))
    got = to_rgb(annotate(storage, boxes, NAMES))
    want = to_rgb(annotate(upright, boxes, NAMES))
    np.testing.assert_array_equal(got, want)
    assert not np.array_equal(want, to_rgb(upright))


@pytest.mark.parametrize(
    "pix_fmt",
    ["yuv422p", "yuv444p", "yuv440p", "yuv411p", "yuv422p10le", "yuv444p12le", "yuvj420p"],
)
def test_other_subsamplings(pix_fmt: str) -> None:
    frame = grey_frame(pix_fmt, (161, 119), range_="unknown", matrix="unknown")
    box = (29, 43, 130, 100)
    out = annotate(frame, dets(box), NAMES, thickness=6)
    rgb = to_rgb(out)
    clear = 8 if pix_fmt == "yuv411p" else 3  # 4-pixel-wide chroma samples
    assert_outline(rgb, to_rgb(frame), box, RED, t=6, tol=6, clear=clear)
    assert_label(rgb, box, RED, tol=6)


@pytest.mark.parametrize("pix_fmt", ["gray", "gray10le"])
def test_gray_gets_the_luma_of_the_colour(pix_fmt: str) -> None:
    frame = grey_frame(pix_fmt, (120, 90), matrix="unknown", range_="unknown")
    box = (21, 33, 100, 80)
    rgb = to_rgb(annotate(frame, dets(box), NAMES, thickness=4))
    luma = 0.299 * RED[0] + 0.587 * RED[1] + 0.114 * RED[2]  # BT.601 (matrix unknown), full
    assert_outline(rgb, to_rgb(frame), box, (round(luma),) * 3, t=4, tol=2)
    assert len(frame.planes) == 1 and rgb[27, 40].min() == rgb[27, 40].max()
    marked_tv = dataclasses.replace(frame, color=ColorInfo(range="tv"))
    rgb = to_rgb(annotate(marked_tv, dets(box), NAMES, thickness=4))  # swscale shows codes
    assert_outline(rgb, to_rgb(frame), box, (round(16 + luma * 219 / 255),) * 3, t=4, tol=2)


@pytest.mark.parametrize("pix_fmt", ["rgb24", "bgr24"])
def test_packed_rgb(pix_fmt: str) -> None:
    plane = np.full((90, 120, 3), 128, np.uint8)
    plane[..., 0] = 30  # not neutral: a channel swap would show
    plane.flags.writeable = False
    frame = Frame((plane,), pix_fmt, 0, 0, Fraction(1, 25))
    box = (21, 33, 100, 80)
    out = annotate(frame, dets(box), NAMES, thickness=3)
    rgb = to_rgb(out)
    assert_outline(rgb, to_rgb(frame), box, RED, t=3, tol=0)
    assert_label(rgb, box, RED, tol=0)


def test_outline_geometry_is_exact_on_rgb24() -> None:
    """Rounded corners, bands of `thickness` inside the box, nothing else but the label."""
    base = np.full((120, 200, 3), 90, np.uint8)
    frame = Frame((base,), "rgb24", 0, 0, Fraction(1, 25))
    x0, y0, x1, y1, t = 21, 33, 180, 100, 3
    out = annotate(frame, dets((20.6, 32.7, 180.4, 99.5)), NAMES, thickness=t)
    want = base.copy()
    for band in (
        np.s_[y0 : y0 + t, x0:x1],
        np.s_[y1 - t : y1, x0:x1],
        np.s_[y0:y1, x0 : x0 + t],
        np.s_[y0:y1, x1 - t : x1],
    ):
        want[band] = RED
    got = out.planes[0].copy()
    label = np.s_[:y0, x0 : x0 + 100]
    assert (got[label] != base[label]).any()
    got[label] = want[label] = 0
    np.testing.assert_array_equal(got, want)


def test_bad_boxes_do_not_crash() -> None:
    frame = grey_frame("yuv420p", (97, 71))
    boxes = dets(
        (-50, -40, 30, 20),  # partly outside (top-left)
        (80, 60, 300, 200),  # partly outside (bottom-right)
        (40, 30, 40, 30),  # zero area
        (60, 20, 50, 10),  # corners swapped
        (-1e9, -1e9, 1e9, 1e9),  # huge
        (500, 500, 600, 600),  # entirely outside
        (np.nan, 0, 10, 10),  # not finite
        (0, 0, np.inf, 10),
        scores=(0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2),
        classes=(0, 1, 2, 3, 25, 1000, 1, 1),
    )
    out = annotate(frame, boxes, NAMES)
    assert [p.shape for p in out.planes] == [p.shape for p in frame.planes]
    for rot in (90, 270):
        annotate(dataclasses.replace(frame, rotation=rot), boxes, NAMES)
    tiny = grey_frame("yuv420p", (5, 3))  # the label is bigger than the frame
    annotate(tiny, dets((1, 1, 4, 2)), NAMES)
    annotate(dataclasses.replace(tiny, rotation=90), dets((1, 1, 2, 4)), NAMES)


def test_only_the_drawn_area_changes() -> None:
    """Cost and effect are local: on a noisy 10-bit frame every sample away from the box and
    its label keeps its exact value (no full-frame conversion)."""
    rng = np.random.default_rng(1)
    shapes = plane_shapes("yuv420p10le", 320, 240)
    planes = tuple(rng.integers(0, 1024, s).astype(np.uint16) for s in shapes)
    frame = Frame(planes, "yuv420p10le", 0, 0, Fraction(1, 25), color=ColorInfo("bt709", "tv"))
    out = annotate(frame, dets((101, 121, 200, 180)), NAMES, thickness=3)
    changed = np.argwhere(out.planes[0] != frame.planes[0])
    assert changed.size
    assert changed[:, 1].min() >= 100 and changed[:, 1].max() <= 200
    assert changed[:, 0].min() >= 121 - 40 and changed[:, 0].max() <= 180
    chroma = np.argwhere(out.planes[1] != frame.planes[1])
    assert chroma[:, 1].min() >= 50 and chroma[:, 1].max() <= 100


def test_empty_detections_return_the_frame() -> None:
    frame = grey_frame("yuv420p", (64, 48))
    out = annotate(frame, Detections.empty(), NAMES)
    assert all(a is b for a, b in zip(out.planes, frame.planes, strict=True))


def test_unknown_class_gets_its_number_and_palette_wraps() -> None:
    frame = grey_frame("yuv444p", (200, 120))
    a = to_rgb(annotate(frame, dets((20, 50, 150, 100), classes=(21,)), NAMES))
    b = to_rgb(annotate(frame, dets((20, 50, 150, 100), classes=(1,)), NAMES))
    assert class_color(21) == class_color(1) == RED
    np.testing.assert_array_equal(a[60:], b[60:])  # same colour outline
    assert not np.array_equal(a[:50], b[:50])  # "21 0.90" vs "car 0.90"


def test_bad_arguments() -> None:
    frame = grey_frame("yuv420p", (64, 48))
    with pytest.raises(ValueError, match="thickness"):
        annotate(frame, dets((1, 1, 20, 20)), NAMES, thickness=0)
    with pytest.raises(ValueError, match="pix_fmt"):
        annotate(dataclasses.replace(frame, pix_fmt="nv12"), dets((1, 1, 20, 20)), NAMES)
    torch = pytest.importorskip("torch")
    on_device = dataclasses.replace(
        frame, planes=tuple(torch.from_numpy(p.copy()) for p in frame.planes)
    )
    with pytest.raises(TypeError, match="numpy"):
        annotate(on_device, dets((1, 1, 20, 20)), NAMES)


def tracked(d: Detections, *ids: int) -> Detections:
    return dataclasses.replace(d, tracker_id=np.array(ids, np.int64))


def label_ink(rgb: np.ndarray, base: np.ndarray, box: tuple) -> int:
    """Pixels changed by the label: the band above the box."""
    band = np.s_[: box[1], :]
    return int(np.any(rgb[band] != base[band], axis=-1).sum())


@pytest.mark.parametrize("pix_fmt", ["rgb24", "yuv420p"])
def test_tracked_boxes_are_labelled_with_their_tracker_id(pix_fmt: str) -> None:
    """'#7 car 0.90' is exactly the label an untracked box of a class named '#7 car' gets."""
    frame = grey_frame(pix_fmt, (200, 120))
    box = (20, 50, 150, 100)
    plain = dets(box)
    with_id = to_rgb(annotate(frame, tracked(plain, 7), NAMES))
    renamed = to_rgb(annotate(frame, plain, ["person", "#7 car"]))
    without = to_rgb(annotate(frame, plain, NAMES))
    np.testing.assert_array_equal(with_id, renamed)
    np.testing.assert_array_equal(with_id[box[1] :], without[box[1] :])  # same outline
    base = to_rgb(frame)
    assert label_ink(with_id, base, box) > label_ink(without, base, box) > 0  # a longer label
    assert_label(with_id, box, RED, tol=6)


def test_each_tracked_box_gets_its_own_id() -> None:
    frame = grey_frame("yuv444p", (240, 160))
    two = dets((10, 40, 100, 90), (120, 110, 230, 150), scores=(0.8, 0.6), classes=(0, 2))
    got = to_rgb(annotate(frame, tracked(two, 3, 12), NAMES))
    first = to_rgb(annotate(frame, tracked(two[[0]], 3), NAMES))
    second = to_rgb(annotate(frame, tracked(two[[1]], 12), NAMES))
    renamed = to_rgb(annotate(frame, two, ["#3 person", "car", "#12 truck"]))
    np.testing.assert_array_equal(got, renamed)
    np.testing.assert_array_equal(got[:90], first[:90])  # the first box and its label
    np.testing.assert_array_equal(got[95:, 115:], second[95:, 115:])  # the second box's label


def test_without_names_labels_are_class_ids() -> None:
    frame = grey_frame("rgb24", (200, 120))
    d = dets((20, 50, 150, 100))  # class 1
    no_names = to_rgb(annotate(frame, d))
    np.testing.assert_array_equal(no_names, to_rgb(annotate(frame, d, None)))
    np.testing.assert_array_equal(no_names, to_rgb(annotate(frame, d, ["a", "1"])))
    np.testing.assert_array_equal(no_names, to_rgb(annotate(frame, d, [])))
    assert not np.array_equal(no_names, to_rgb(annotate(frame, d, NAMES)))  # "car 0.90"
    assert_label(no_names, (20, 50), RED, tol=0)
