"""Batched NMS (numpy) against a plain-Python greedy reference, and YOLOX post-processing on
hand-built predictions (conf / class filters, class-aware suppression, max_det, letterbox
mapping, fp16), for numpy arrays and torch tensors alike."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from vidpipe.detectors import nms
from vidpipe.detectors import postprocess as pp
from vidpipe.detectors.postprocess import batched_nms, postprocess
from vidpipe.types import Detections

# --- the oracle: greedy NMS as written in the papers, plain Python floats ------------------------


def _iou(a: list[float], b: list[float]) -> float:
    inter_w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    inter_h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = inter_w * inter_h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def reference_nms(boxes: list, scores: list, classes: list, thr: float) -> list[int]:
    order = sorted(range(len(scores)), key=lambda i: -scores[i])  # stable: ties by index
    suppressed = [False] * len(scores)
    keep = []
    for pos, i in enumerate(order):
        if suppressed[i]:
            continue
        keep.append(i)
        for j in order[pos + 1 :]:
            if classes[j] == classes[i] and _iou(boxes[i], boxes[j]) > thr:
                suppressed[j] = True
    return keep


def random_case(seed: int, n_max: int = 120, n_classes: int = 4, ties: bool = False):
    """Boxes in clusters (many overlaps) on a quarter-pixel grid inside 0..100, so areas and
    unions are exact in float32 and the IoU comparison cannot flip between float widths.
    ties: scores from a few levels (many equal scores) instead of distinct ones."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(0, n_max + 1))
    centres = rng.uniform(15, 85, (max(1, n // 8), 2))
    pick = centres[rng.integers(0, len(centres), n)]
    cxy = pick + rng.normal(0, 3, (n, 2))
    wh = rng.uniform(2, 25, (n, 2))
    xyxy = np.concatenate([cxy - wh / 2, cxy + wh / 2], 1).clip(0, 100)
    xyxy = np.round(xyxy * 4) / 4
    flat = rng.random(n) < 0.03  # a few zero-area boxes (they suppress nothing)
    xyxy[flat, 2] = xyxy[flat, 0]
    # ties: 0.2 .. 0.8 (distinct in float32); else all distinct
    scores = rng.integers(1, 5, n) / 5 if ties else (rng.permutation(n) + 1) / (n + 1)
    classes = rng.integers(0, n_classes, n)
    thr = float(rng.choice([0.3, 0.45, 0.5, 0.65, 0.8]))
    return xyxy, scores, classes, thr


def _run(xyxy, scores, classes, thr) -> list[int]:
    keep = batched_nms(
        np.asarray(xyxy, dtype=np.float32),
        np.asarray(scores, dtype=np.float32),
        np.asarray(classes, dtype=np.int64),
        thr,
    )
    assert isinstance(keep, np.ndarray) and keep.dtype == np.int64 and keep.ndim == 1
    return keep.tolist()


def _spy_blocks(monkeypatch: pytest.MonkeyPatch) -> list[list[tuple[int, int]]]:
    """Record the spans of every `_pack_blocks` call."""
    calls: list[list[tuple[int, int]]] = []
    real = nms._pack_blocks

    def spy(counts, block):
        spans = real(counts, block)
        calls.append(spans)
        return spans

    monkeypatch.setattr(nms, "_pack_blocks", spy)
    return calls


@pytest.mark.parametrize("block", [256, 4096, 24])
def test_nms_matches_reference_over_seeds(monkeypatch: pytest.MonkeyPatch, block: int) -> None:
    # 256: the default; 4096: one block; 24: many blocks, big classes alone
    monkeypatch.setattr(nms, "_BLOCK", block)
    calls = _spy_blocks(monkeypatch)
    suppressed_any = 0
    seeds = 200 if block == 256 else 60
    for seed in range(seeds):
        xyxy, scores, classes, thr = random_case(seed)
        expected = reference_nms(xyxy.tolist(), scores.tolist(), classes.tolist(), thr)
        got = _run(xyxy, scores, classes, thr)
        assert got == expected, f"seed {seed}"
        suppressed_any += len(got) < len(scores)
    assert suppressed_any > 0.6 * seeds  # the cases really overlap
    spans = [s for call in calls for s in call]
    if block == 24:  # packing really happened: several blocks, some class bigger than a block
        assert max(len(call) for call in calls) > 1
        assert any(stop - start > block for start, stop in spans)
    else:  # n <= 120: always one block
        assert all(len(call) == 1 for call in calls)


@pytest.mark.parametrize("block", [256, 5])
def test_nms_ties_match_reference(monkeypatch: pytest.MonkeyPatch, block: int) -> None:
    """Equal scores: the lower index wins (kept first, suppresses the other)."""
    monkeypatch.setattr(nms, "_BLOCK", block)
    for seed in range(60):
        xyxy, scores, classes, thr = random_case(seed, ties=True)
        expected = reference_nms(xyxy.tolist(), scores.tolist(), classes.tolist(), thr)
        assert _run(xyxy, scores, classes, thr) == expected, f"seed {seed}"


def test_nms_ties_by_index() -> None:
    boxes = [[0, 0, 10, 10], [1, 0, 11, 10], [50, 50, 60, 60], [0, 1, 10, 11]]
    assert _run(boxes, [0.5] * 4, [0] * 4, 0.5) == [0, 2]
    assert _run(boxes, [0.5] * 4, [0] * 4, 1.0) == [0, 1, 2, 3]
    assert _run(boxes, [0.5, 0.7, 0.5, 0.7], [0] * 4, 0.5) == [1, 2]
    assert _run(boxes, [0.5, 0.7, 0.5, 0.7], [0] * 4, 1.0) == [1, 3, 0, 2]


_BOX = st.tuples(
    st.integers(0, 60), st.integers(0, 60), st.integers(0, 30), st.integers(0, 30)
).map(lambda b: [b[0], b[1], b[0] + b[2], b[1] + b[3]])  # w or h 0: zero-area boxes


@settings(max_examples=150, deadline=None, derandomize=True)
@given(
    rows=st.lists(
        st.tuples(_BOX, st.sampled_from([0.1, 0.25, 0.5, 0.75, 0.9]), st.integers(0, 2)),
        max_size=40,
    ),
    thr=st.sampled_from([0.0, 0.3, 0.5, 0.7, 1.0]),
    block=st.sampled_from([256, 1, 4]),
)
def test_nms_matches_reference_hypothesis(rows: list, thr: float, block: int) -> None:
    """Integer boxes (exact in float32), tied scores, zero-area boxes, tiny blocks."""
    boxes = [r[0] for r in rows]
    scores = [r[1] for r in rows]
    classes = [r[2] for r in rows]
    expected = reference_nms(boxes, scores, classes, thr)
    with pytest.MonkeyPatch.context() as m:
        m.setattr(nms, "_BLOCK", block)
        got = _run(np.asarray(boxes, dtype=np.float32).reshape(-1, 4), scores, classes, thr)
    assert got == expected


def test_nms_long_chain() -> None:
    # each box overlaps only its neighbours: greedy keeps every other one
    n = 40
    x = np.arange(n, dtype=np.float32) * 5
    boxes = np.stack([x, np.zeros(n), x + 10, np.full(n, 10.0)], 1)
    scores = np.linspace(1.0, 0.1, n)
    assert _run(boxes, scores, np.zeros(n), 0.3) == list(range(0, n, 2))


def test_nms_large_n(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(11)
    n = 1200
    cxy = rng.uniform(0, 100, (n, 2))
    wh = rng.uniform(1, 12, (n, 2))
    xyxy = np.round(np.concatenate([cxy - wh / 2, cxy + wh / 2], 1).clip(0, 100) * 4) / 4
    scores = (rng.permutation(n) + 1) / (n + 1)
    classes = np.zeros(n, np.int64)  # class 0: 600 boxes, more than a block
    classes[n // 2 :] = rng.integers(1, 80, n - n // 2)
    calls = _spy_blocks(monkeypatch)
    expected = reference_nms(xyxy.tolist(), scores.tolist(), classes.tolist(), 0.5)
    assert _run(xyxy, scores, classes, 0.5) == expected
    (spans,) = calls
    assert len(spans) > 1 and max(stop - start for start, stop in spans) == n // 2


def test_nms_many_and_odd_class_ids() -> None:
    """Ids only group boxes: negative and huge ids work like small ones (no coordinate offset)."""
    xyxy, scores, classes, thr = random_case(3, n_max=300, n_classes=6)
    expected = reference_nms(xyxy.tolist(), scores.tolist(), classes.tolist(), thr)
    odd = np.array([-7, 0, 2**40, 3, -(2**50), 2**62])[classes]
    assert _run(xyxy, scores, odd, thr) == expected
    ids = np.arange(len(scores))  # every box its own class: nothing is suppressed
    assert _run(xyxy, scores, ids, 0.0) == np.argsort(-scores, kind="stable").tolist()


def test_pack_blocks() -> None:
    assert nms._pack_blocks([3, 5, 30, 2, 2, 4], 8) == [(0, 8), (8, 38), (38, 46)]
    assert nms._pack_blocks([9], 8) == [(0, 9)]
    assert nms._pack_blocks([1, 1, 1], 256) == [(0, 3)]
    assert nms._pack_blocks([1, 1, 1], 1) == [(0, 1), (1, 2), (2, 3)]


def test_nms_empty() -> None:
    keep = batched_nms(np.zeros((0, 4)), np.zeros(0), np.zeros(0, dtype=np.int64), 0.5)
    assert keep.shape == (0,) and keep.dtype == np.int64


def test_nms_same_class_and_class_awareness() -> None:
    boxes = [[0, 0, 10, 10], [1, 1, 11, 11], [0, 0, 10, 9], [50, 50, 60, 60]]
    scores = [0.9, 0.8, 0.7, 0.6]
    assert _run(boxes, scores, [0, 0, 0, 0], 0.5) == [0, 3]
    assert _run(boxes, scores, [0, 1, 2, 0], 0.5) == [0, 1, 2, 3]
    assert _run(boxes, scores, [0, 1, 1, 0], 0.5) == [0, 1, 3]


def test_nms_iou_one_keeps_everything_in_score_order() -> None:
    boxes = [[0, 0, 10, 10]] * 4
    assert _run(boxes, [0.2, 0.9, 0.5, 0.7], [0] * 4, 1.0) == [1, 3, 2, 0]
    assert _run(boxes, [0.2, 0.9, 0.5, 0.7], [0] * 4, 0.99) == [1]


def test_nms_zero_area_boxes_suppress_nothing() -> None:
    boxes = [
        [5, 5, 5, 15],  # zero width, best score, inside box 1
        [0, 0, 10, 10],
        [5, 5, 5, 15],  # identical to box 0
        [3, 3, 3, 3],  # a point
        [3, 3, 3, 3],  # the same point
        [1, 1, 11, 11],  # suppressed by box 1 (IoU ~0.68)
    ]
    scores = [0.9, 0.8, 0.7, 0.6, 0.5, 0.4]
    for thr in (0.0, 0.5):
        assert _run(boxes, scores, [0] * 6, thr) == [0, 1, 2, 3, 4]


def test_nms_accepts_other_dtypes() -> None:
    xyxy, scores, classes, thr = random_case(7)
    expected = reference_nms(xyxy.tolist(), scores.tolist(), classes.tolist(), thr)
    keep = batched_nms(xyxy, scores, classes.astype(np.int32), thr)  # float64, int32
    assert keep.dtype == np.int64 and keep.tolist() == expected
    keep = batched_nms(xyxy.tolist(), scores.tolist(), classes.tolist(), thr)  # plain lists
    assert keep.tolist() == expected


def test_nms_does_not_modify_inputs() -> None:
    xyxy, scores, classes, thr = random_case(5)
    arrays = (xyxy, scores, classes)
    copies = [a.copy() for a in arrays]
    for a in arrays:
        a.setflags(write=False)  # an in-place write would raise
    batched_nms(*arrays, thr)
    assert all(np.array_equal(a, c) for a, c in zip(arrays, copies, strict=True))


@pytest.mark.parametrize(
    "shapes", [((3, 4), (2,), (3,)), ((3, 5), (3,), (3,)), ((3, 4), (3,), (3, 1))]
)
def test_nms_bad_shapes(shapes) -> None:
    b, s, c = shapes
    with pytest.raises(ValueError, match="batched_nms needs"):
        batched_nms(np.zeros(b), np.zeros(s), np.zeros(c, dtype=np.int64), 0.5)


# --- postprocess ------------------------------------------------------------------------------

NC = 4  # classes in the hand-built predictions


def make_pred(images: list[list[tuple]], n_anchors: int = 12, nc: int = NC) -> np.ndarray:
    """[B, n_anchors, 5 + nc] float32; each row (cx, cy, w, h, objectness, class, class_prob);
    the other classes get 0.01 and unused anchors objectness 0."""
    pred = np.zeros((len(images), n_anchors, 5 + nc), dtype=np.float32)
    pred[..., 5:] = 0.01
    for b, rows in enumerate(images):
        for a, (cx, cy, w, h, obj, cls, prob) in enumerate(rows):
            pred[b, a, :5] = [cx, cy, w, h, obj]
            pred[b, a, 5 + cls] = prob
    return pred


def random_pred(seed: int, b: int = 2, n: int = 150, nc: int = NC) -> np.ndarray:
    """[b, n, 5 + nc] float32: clustered boxes on a quarter / half-pixel grid, random scores."""
    rng = np.random.default_rng(seed)
    pred = np.zeros((b, n, 5 + nc))
    pred[..., :2] = np.round(rng.normal(200, 40, (b, n, 2)).clip(0, 400) * 4) / 4
    pred[..., 2:4] = np.round(rng.uniform(8, 120, (b, n, 2)) * 2) / 2
    pred[..., 4] = rng.random((b, n))
    pred[..., 5:] = rng.random((b, n, nc))
    return pred.astype(np.float32)


def _post(pred, **kw) -> list[Detections]:
    b = pred.shape[0]
    kw.setdefault("scales", [1.0] * b)
    kw.setdefault("sizes_wh", [(640, 640)] * b)
    return postprocess(pred, **kw)


def assert_same(a: list[Detections], b: list[Detections]) -> None:
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        for field in ("xyxy", "scores", "class_ids"):
            u, v = getattr(x, field), getattr(y, field)
            assert u.dtype == v.dtype and u.shape == v.shape, field
            np.testing.assert_array_equal(u, v, err_msg=field)


def test_conf_filter_uses_objectness_times_class_prob() -> None:
    rows = [
        (50, 50, 20, 20, 0.9, 0, 0.5),  # 0.45
        (150, 50, 20, 20, 0.5, 1, 0.5),  # 0.25: kept at conf=0.25 (>=)
        (250, 50, 20, 20, 0.9, 2, 0.2),  # 0.18
        (350, 50, 20, 20, 0.2, 3, 0.99),  # 0.198
    ]
    (det,) = _post(make_pred([rows]), conf=0.25)
    np.testing.assert_allclose(det.scores, [0.45, 0.25], rtol=1e-6)
    assert det.class_ids.tolist() == [0, 1]
    np.testing.assert_allclose(det.xyxy[0], [40, 40, 60, 60])
    assert det.xyxy.dtype == np.float32 and det.scores.dtype == np.float32
    assert det.class_ids.dtype == np.int64
    assert len(_post(make_pred([rows]), conf=0.5)[0]) == 0


def test_class_filter() -> None:
    rows = [(50 + 100 * i, 50, 20, 20, 0.9, i, 0.9) for i in range(4)]
    (det,) = _post(make_pred([rows]), classes=[1, 3])
    assert sorted(det.class_ids.tolist()) == [1, 3]
    (det,) = _post(make_pred([rows]), classes=np.array([2]))
    assert det.class_ids.tolist() == [2]
    assert len(_post(make_pred([rows]), classes=[])[0]) == 0


def test_class_aware_suppression() -> None:
    rows = [
        (50, 50, 40, 40, 0.9, 0, 0.9),
        (52, 51, 40, 40, 0.9, 0, 0.8),  # same class, IoU ~0.9: suppressed
        (51, 52, 40, 40, 0.9, 1, 0.7),  # other class: kept
        (200, 200, 40, 40, 0.9, 0, 0.6),  # far away: kept
    ]
    (det,) = _post(make_pred([rows]))
    np.testing.assert_allclose(det.scores, [0.81, 0.63, 0.54], rtol=1e-6)
    assert det.class_ids.tolist() == [0, 1, 0]


def test_max_det_keeps_highest() -> None:
    rows = [(30 + 60 * i, 30, 20, 20, 0.9, i % NC, 0.3 + 0.05 * i) for i in range(10)]
    (det,) = _post(make_pred([rows]), max_det=3)
    np.testing.assert_allclose(det.scores, [0.9 * 0.75, 0.9 * 0.70, 0.9 * 0.65], rtol=1e-6)
    assert np.all(np.diff(det.scores) < 0)


def test_max_det_is_per_image() -> None:
    low = [(30 + 60 * i, 30, 20, 20, 0.5, i % NC, 0.5) for i in range(6)]  # scores 0.25
    high = [(30 + 60 * i, 90, 20, 20, 0.9, i % NC, 0.9) for i in range(6)]  # scores 0.81
    dets = _post(make_pred([high, low, high[:1]]), max_det=2, conf=0.2)
    assert [len(d) for d in dets] == [2, 2, 1]
    np.testing.assert_allclose(dets[1].scores, [0.25, 0.25], rtol=1e-6)
    np.testing.assert_allclose(dets[1].xyxy[:, 0], [20, 80])  # equal scores: anchor order


def test_mapping_by_scale_and_clipping() -> None:
    rows = [
        (100, 60, 40, 20, 0.9, 2, 0.9),  # letterbox 80..120 x 50..70 -> /0.5 -> 160..240 x 100..140
        (10, 10, 40, 40, 0.9, 1, 0.8),  # -10..30 -> clipped at 0
        (300, 150, 100, 40, 0.9, 0, 0.7),  # 250..350 x 130..170 -> /0.5 -> clipped to 620 x 300
    ]
    (det,) = _post(make_pred([rows]), scales=[0.5], sizes_wh=[(620, 300)])
    np.testing.assert_allclose(
        det.xyxy, [[160, 100, 240, 140], [0, 0, 60, 60], [500, 260, 620, 300]], atol=1e-4
    )


def test_fp16_input_matches_fp32() -> None:
    rng = np.random.default_rng(0)
    rows = [
        (*rng.uniform(20, 600, 2), *rng.uniform(10, 80, 2), rng.uniform(0.3, 1), i % NC, 0.9)
        for i in range(12)
    ]
    pred = make_pred([rows])
    ref = _post(pred)[0]
    half = _post(pred.astype(np.float16))[0]
    assert len(ref) > 3
    assert half.class_ids.tolist() == ref.class_ids.tolist()
    np.testing.assert_allclose(half.scores, ref.scores, rtol=2e-3)
    np.testing.assert_allclose(half.xyxy, ref.xyxy, atol=0.5)
    assert half.xyxy.dtype == np.float32 and half.scores.dtype == np.float32


def test_batch_with_empty_image_and_no_cross_image_suppression() -> None:
    box = (100, 100, 50, 50, 0.9, 1, 0.9)
    pred = make_pred([[box], [], [box, (300, 300, 50, 50, 0.9, 0, 0.5)]])
    dets = _post(pred, scales=[1.0, 2.0, 0.5], sizes_wh=[(640, 640), (320, 320), (1280, 1280)])
    assert len(dets) == 3
    np.testing.assert_allclose(dets[0].xyxy, [[75, 75, 125, 125]])
    assert len(dets[1]) == 0 and dets[1].xyxy.shape == (0, 4)
    np.testing.assert_allclose(dets[2].xyxy, [[150, 150, 250, 250], [550, 550, 650, 650]])
    assert dets[2].class_ids.tolist() == [1, 0]


def test_nothing_at_all() -> None:
    dets = _post(np.zeros((2, 5, 5 + NC), np.float32))
    assert [len(d) for d in dets] == [0, 0]
    assert all(d.xyxy.shape == (0, 4) and d.class_ids.dtype == np.int64 for d in dets)
    assert [len(d) for d in _post(np.zeros((2, 0, 5 + NC), np.float32))] == [0, 0]
    assert _post(np.zeros((0, 5, 5 + NC), np.float32)) == []


def test_input_unchanged() -> None:
    pred = make_pred([[(50, 50, 20, 20, 0.9, 0, 0.9), (52, 50, 20, 20, 0.9, 0, 0.8)]])
    pred = pred.astype(np.float16)
    before = pred.copy()
    pred.setflags(write=False)  # an in-place write would raise
    (det,) = _post(pred, scales=[0.25], sizes_wh=[(100, 100)])
    assert len(det) == 1
    np.testing.assert_array_equal(pred, before)


def reference_postprocess(pred, scales, sizes_wh, conf, iou, max_det, classes=None) -> list:
    """Plain numpy / Python: the rule as YOLOX states it."""
    out = []
    for b in range(pred.shape[0]):
        p = pred[b].astype(np.float64)
        cls = p[:, 5:].argmax(1)
        score = p[:, 4] * p[np.arange(len(p)), 5 + cls]
        ok = score >= conf
        if classes is not None:
            ok &= np.isin(cls, classes)
        idx = np.nonzero(ok)[0]
        boxes = [
            [
                p[i, 0] - p[i, 2] / 2,
                p[i, 1] - p[i, 3] / 2,
                p[i, 0] + p[i, 2] / 2,
                p[i, 1] + p[i, 3] / 2,
            ]
            for i in idx
        ]
        keep = reference_nms(boxes, score[idx].tolist(), cls[idx].tolist(), iou)[:max_det]
        w, h = sizes_wh[b]
        xyxy = np.array([boxes[k] for k in keep]).reshape(-1, 4) / scales[b]
        xyxy = np.clip(xyxy, 0, [w, h, w, h])
        out.append((xyxy, score[idx][keep], cls[idx][keep]))
    return out


@pytest.mark.parametrize("block", [256, 16])
@pytest.mark.parametrize("as_torch", [False, True])
def test_postprocess_matches_reference_on_random_predictions(
    monkeypatch: pytest.MonkeyPatch, block: int, as_torch: bool
) -> None:
    monkeypatch.setattr(nms, "_BLOCK", block)
    capped = 0
    for seed in range(10):
        pred = random_pred(seed)
        scales, sizes = [0.5, 0.8], [(600, 500), (500, 480)]
        arg = torch.from_numpy(pred) if as_torch else pred
        got = postprocess(arg, scales=scales, sizes_wh=sizes, conf=0.3, iou=0.5, max_det=25)
        ref = reference_postprocess(pred, scales, sizes, 0.3, 0.5, 25)
        for det, (xyxy, score, cls) in zip(got, ref, strict=True):
            assert det.class_ids.tolist() == cls.tolist(), f"seed {seed}"
            np.testing.assert_allclose(det.scores, score, rtol=1e-6)
            np.testing.assert_allclose(det.xyxy, xyxy, atol=1e-3)
            capped += len(det) == 25
    assert capped > 0  # max_det did cut


def test_postprocess_many_classes_matches_reference(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(nms, "_BLOCK", 32)
    calls = _spy_blocks(monkeypatch)
    for seed in range(4):
        pred = random_pred(100 + seed, b=3, n=400, nc=80)
        pred[..., 5:] **= 4  # spread the class probabilities: a clear best class
        scales, sizes = [1.0, 0.5, 2.0], [(400, 400), (800, 800), (200, 200)]
        wanted = list(range(0, 80, 3))
        for classes in (None, wanted):
            got = postprocess(
                pred, scales=scales, sizes_wh=sizes, conf=0.05, iou=0.45, classes=classes
            )
            ref = reference_postprocess(pred, scales, sizes, 0.05, 0.45, 300, classes)
            for det, (xyxy, score, cls) in zip(got, ref, strict=True):
                assert len(det) > 10
                assert det.class_ids.tolist() == cls.tolist(), f"seed {seed}"
                np.testing.assert_allclose(det.scores, score, rtol=1e-6)
                np.testing.assert_allclose(det.xyxy, xyxy, atol=1e-3)
    assert all(len(spans) > 1 for spans in calls)  # packed: classes of all images, in blocks


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
@pytest.mark.parametrize(
    "kw",
    [
        {},
        {"conf": 0.0, "iou": 0.3},
        {"conf": 0.2, "classes": [1, 2], "max_det": 7},
        {"conf": 0.5, "classes": []},
    ],
)
def test_torch_input_matches_numpy(dtype, kw: dict) -> None:
    pred = random_pred(42, b=3).astype(dtype)
    pred[1, :, 4] = 0  # an image without candidates
    scales, sizes = [0.5, 1.0, 1.5], [(700, 600), (400, 400), (300, 250)]
    want = postprocess(pred, scales=scales, sizes_wh=sizes, **kw)
    tensor = torch.from_numpy(pred.copy())
    before = tensor.clone()
    got = postprocess(tensor, scales=scales, sizes_wh=sizes, **kw)
    assert_same(got, want)
    assert torch.equal(tensor, before)
    if kw.get("classes") != []:
        assert sum(len(d) for d in want) > 0
    # a non-contiguous view, and an output that still tracks gradients
    view = torch.from_numpy(np.ascontiguousarray(pred.transpose(1, 0, 2))).transpose(0, 1)
    assert_same(postprocess(view, scales=scales, sizes_wh=sizes, **kw), want)
    if dtype == np.float32:
        grad = torch.from_numpy(pred.copy()).requires_grad_()
        assert_same(postprocess(grad, scales=scales, sizes_wh=sizes, **kw), want)


def test_torch_input_ties_in_class_probs() -> None:
    """All class probabilities equal: numpy and torch both pick the first class."""
    pred = np.full((1, 6, 5 + NC), 0.25, np.float32)
    pred[0, :, :4] = [[20 + 30 * i, 20, 10, 10] for i in range(6)]
    pred[0, :, 4] = 0.9
    for arg in (pred, torch.from_numpy(pred), torch.from_numpy(pred).half()):
        (det,) = _post(arg, conf=0.1)
        assert det.class_ids.tolist() == [0] * 6


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"conf": 1.5}, "conf"),
        ({"conf": -0.1}, "conf"),
        ({"iou": 0.0}, "iou"),
        ({"iou": 1.01}, "iou"),
        ({"max_det": 0}, "max_det"),
        ({"max_det": 2.5}, "max_det"),
        ({"max_det": True}, "max_det"),
        ({"scales": [1.0]}, "one scale"),
        ({"sizes_wh": [(640, 640)] * 3}, "one scale"),
        ({"scales": [1.0, 0.0]}, "scales"),
        ({"scales": [1.0, float("inf")]}, "scales"),
        ({"sizes_wh": [(640, 640), (0, 5)]}, "sizes_wh"),
    ],
)
@pytest.mark.parametrize("as_torch", [False, True])
def test_postprocess_bad_arguments(kw: dict, match: str, as_torch: bool) -> None:
    pred = np.zeros((2, 5, 5 + NC), np.float32)
    with pytest.raises(ValueError, match=match):
        _post(torch.from_numpy(pred) if as_torch else pred, **kw)


@pytest.mark.parametrize("shape", [(5, 9), (1, 5, 5), (1, 5, 9, 1)])
def test_postprocess_bad_pred(shape: tuple) -> None:
    for bad in (np.zeros(shape, np.float32), torch.zeros(shape)):
        with pytest.raises(ValueError, match="pred must be an array"):
            postprocess(bad, scales=[1.0], sizes_wh=[(64, 64)])
    with pytest.raises(ValueError, match="pred must be an array"):
        postprocess(np.zeros(shape).tolist(), scales=[1.0], sizes_wh=[(64, 64)])
    for bad in (
        np.zeros((1, 5, 9), np.int64),
        np.zeros((1, 5, 9), bool),
        torch.zeros(1, 5, 9, dtype=torch.int64),
    ):
        with pytest.raises(ValueError, match="floating"):
            postprocess(bad, scales=[1.0], sizes_wh=[(64, 64)])


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs an NVIDIA GPU")
def test_cuda_matches_numpy() -> None:
    for dtype in (np.float32, np.float16):
        pred = random_pred(7, b=3).astype(dtype)
        scales, sizes = [0.5, 1.0, 1.5], [(700, 600), (400, 400), (300, 250)]
        want = postprocess(pred, scales=scales, sizes_wh=sizes, conf=0.2, max_det=50)
        got = postprocess(
            torch.from_numpy(pred).cuda(), scales=scales, sizes_wh=sizes, conf=0.2, max_det=50
        )
        assert sum(len(d) for d in want) > 0
        for a, b in zip(got, want, strict=True):
            assert a.class_ids.tolist() == b.class_ids.tolist()
            np.testing.assert_allclose(a.scores, b.scores, rtol=1e-6)
            np.testing.assert_allclose(a.xyxy, b.xyxy, atol=1e-3)


# --- NMS on a torch device (nms_torch), run here on CPU tensors ----------------------------


@pytest.mark.parametrize("block", [4096, 24])
def test_device_nms_matches_reference(monkeypatch: pytest.MonkeyPatch, block: int) -> None:
    """The torch NMS (torchvision's when it imports, else vidpipe's own) keeps what the plain
    reference keeps; vidpipe's own one with small blocks too."""
    from vidpipe.detectors import nms_torch

    monkeypatch.setattr(nms_torch, "_BLOCK", block)
    for seed in range(40):
        xyxy, scores, classes, thr = random_case(seed)
        args = (torch.tensor(xyxy, dtype=torch.float32), torch.tensor(scores, dtype=torch.float32),
                torch.tensor(classes, dtype=torch.int64), thr)  # fmt: skip
        want = reference_nms(xyxy.tolist(), scores.tolist(), classes.tolist(), thr)
        assert nms_torch.batched_nms_torch(*args).tolist() == want, seed
        assert nms_torch.batched_nms(*args).tolist() == want, seed


def test_device_nms_sweeps_equal_the_scan() -> None:
    """The parallel sweeps (used on accelerators) reach the exact greedy scan's answer, and
    give up (None) when a suppression chain is longer than the sweeps allowed."""
    from vidpipe.detectors import nms_torch

    rng = np.random.default_rng(3)
    for _ in range(20):
        m = int(rng.integers(1, 60))
        overlap = torch.from_numpy(rng.random((m, m)) < 0.15)
        overlap = overlap | overlap.T
        want = nms_torch._greedy_keep_scan(overlap)
        assert torch.equal(nms_torch._greedy_keep_sweeps(overlap), want)
    chain = torch.zeros(10, 10, dtype=torch.bool)
    idx = torch.arange(9)
    chain[idx, idx + 1] = chain[idx + 1, idx] = True  # 0-1-2-...-9: keeps 0, 2, 4, 6, 8
    assert nms_torch._greedy_keep_sweeps(chain).tolist() == [0, 2, 4, 6, 8]
    assert nms_torch._greedy_keep_sweeps(chain, max_sweeps=3) is None


@pytest.mark.parametrize("seed", range(6))
def test_kept_on_device_matches_the_host_path(seed: int) -> None:
    """The accelerator path (candidates and NMS in torch, only kept boxes copied), run on a CPU
    tensor, gives the host path's Detections."""
    pred = random_pred(seed, b=3)
    host = _post(pred, conf=0.3, iou=0.5, max_det=20)
    image, xyxy, score, cls = pp._kept_on_device(torch.from_numpy(pred), 0.3, 0.5, None)
    top = pp._rank_in_image(image, 3) < 20
    boxes = np.minimum(np.maximum(xyxy[top], 0), 640)
    columns = [boxes, score[top, None], cls[top, None], image[top, None]]
    table = np.concatenate(columns, axis=1, dtype=np.float32)
    assert_same(pp._split_by_image(table, 3), host)


@pytest.mark.parametrize("output", ["scores", "boxes"])
def test_other_layouts_and_offsets_from_a_tensor_equal_numpy(output: str) -> None:
    """The "scores" and "boxes" layouts (foreign exports) from a torch tensor give what the
    numpy array gives; offsets and (x, y) scales map the boxes back per image."""
    rng = np.random.default_rng(3)
    pred = rng.uniform(0, 1, (2, 50, 7 if output == "scores" else 6)).astype(np.float32)
    pred[..., :4] = rng.uniform(10, 300, (2, 50, 4))
    if output == "boxes":
        pred[..., 2:4] = pred[..., :2] + rng.uniform(5, 60, (2, 50, 2))
        pred[..., 5] = rng.integers(0, 3, (2, 50))
    kw = {"scales": [0.5, (0.25, 0.75)], "sizes_wh": [(800, 700), (1300, 500)],
          "offsets": [(10, 30), (0, 0)], "output": output, "nms": output == "scores"}  # fmt: skip
    want = postprocess(pred, **kw)
    assert_same(postprocess(torch.from_numpy(pred), **kw), want)
    big = [(9999, 9999)] * 2  # the boxes in input pixels, unclipped
    plain = postprocess(pred, **{**kw, "offsets": (), "scales": [1.0, 1.0], "sizes_wh": big})
    images = [((0.5, 0.5), (10, 30), (800, 700)), ((0.25, 0.75), (0, 0), (1300, 500))]
    for got, base, ((sx, sy), (dx, dy), (w, h)) in zip(want, plain, images, strict=True):
        expect = (base.xyxy - [dx, dy, dx, dy]) / [sx, sy, sx, sy]
        np.testing.assert_allclose(got.xyxy, np.clip(expect, 0, [w, h, w, h]), rtol=1e-5)
