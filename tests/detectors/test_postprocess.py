"""Batched NMS against a plain-Python greedy reference, and YOLOX post-processing on hand-built
predictions (conf / class filters, class-aware suppression, max_det, letterbox mapping, fp16)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vidpipe.detectors import postprocess as pp
from vidpipe.detectors.postprocess import batched_nms, batched_nms_torch, postprocess
from vidpipe.types import Detections


@pytest.fixture
def no_torchvision(monkeypatch: pytest.MonkeyPatch) -> None:
    """Force vidpipe's own NMS even where torchvision is installed."""
    monkeypatch.setattr(pp, "_torchvision_batched_nms", lambda: None)


# --- the oracle: greedy NMS as written in the papers, plain Python floats ------------------------


def _iou(a: list[float], b: list[float]) -> float:
    inter_w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    inter_h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = inter_w * inter_h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def reference_nms(boxes: list, scores: list, classes: list, thr: float) -> list[int]:
    order = sorted(range(len(scores)), key=lambda i: -scores[i])
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


def random_case(seed: int, n_max: int = 120, n_classes: int = 4):
    """Boxes in clusters (many overlaps) on a quarter-pixel grid inside 0..100, so areas and
    unions are exact in float32 and the IoU comparison cannot flip between float widths."""
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
    scores = (rng.permutation(n) + 1) / (n + 1)  # distinct
    classes = rng.integers(0, n_classes, n)
    thr = float(rng.choice([0.3, 0.45, 0.5, 0.65, 0.8]))
    return xyxy, scores, classes, thr


def _run(xyxy, scores, classes, thr, fn=batched_nms) -> list[int]:
    keep = fn(
        torch.tensor(xyxy, dtype=torch.float32),
        torch.tensor(scores, dtype=torch.float32),
        torch.tensor(classes, dtype=torch.int64),
        thr,
    )
    assert keep.dtype == torch.int64
    return keep.tolist()


@pytest.mark.parametrize("block", [256, 4096, 24])
def test_nms_matches_reference_over_seeds(
    no_torchvision: None, monkeypatch: pytest.MonkeyPatch, block: int
) -> None:
    # 256: the CPU default; 4096: one block, as on a GPU; 24: many blocks, big classes alone
    monkeypatch.setattr(pp, "_BLOCK", {"cpu": block})
    monkeypatch.setattr(pp, "_IOU_ROWS", 7)  # IoU rows in chunks
    suppressed_any = 0
    seeds = 200 if block == 256 else 60
    for seed in range(seeds):
        xyxy, scores, classes, thr = random_case(seed)
        expected = reference_nms(xyxy.tolist(), scores.tolist(), classes.tolist(), thr)
        got = _run(xyxy, scores, classes, thr)
        assert got == expected, f"seed {seed}"
        suppressed_any += len(got) < len(scores)
    assert suppressed_any > 0.6 * seeds  # the cases really overlap


def test_nms_sweeps_equal_scan() -> None:
    """The accelerator path (parallel sweeps) agrees with the sequential scan (run on CPU)."""
    for seed in range(40):
        xyxy, _, classes, thr = random_case(seed, n_max=160, n_classes=2)
        if len(xyxy) == 0:
            continue
        overlap = pp._overlap_matrix(
            torch.tensor(xyxy, dtype=torch.float32), torch.tensor(classes), thr
        )
        sweeps = pp._greedy_keep_sweeps(overlap, max_sweeps=len(xyxy) + 1)
        assert sweeps is not None
        assert sweeps.tolist() == pp._greedy_keep_scan(overlap).tolist()


def test_nms_sweeps_give_up_on_long_chains() -> None:
    # each box overlaps only its neighbours: greedy keeps every other one, depth = N
    n = 40
    x = torch.arange(n, dtype=torch.float32) * 5
    boxes = torch.stack([x, torch.zeros(n), x + 10, torch.ones(n) * 10], 1)
    overlap = pp._overlap_matrix(boxes, torch.zeros(n, dtype=torch.int64), 0.3)
    assert pp._greedy_keep_sweeps(overlap, max_sweeps=5) is None
    assert pp._greedy_keep_scan(overlap).tolist() == list(range(0, n, 2))


def test_nms_large_n(no_torchvision: None) -> None:
    rng = np.random.default_rng(11)
    n = 1200
    cxy = rng.uniform(0, 100, (n, 2))
    wh = rng.uniform(1, 12, (n, 2))
    xyxy = np.round(np.concatenate([cxy - wh / 2, cxy + wh / 2], 1).clip(0, 100) * 4) / 4
    scores = (rng.permutation(n) + 1) / (n + 1)
    classes = np.zeros(n, np.int64)
    classes[n // 2 :] = rng.integers(1, 80, n - n // 2)
    expected = reference_nms(xyxy.tolist(), scores.tolist(), classes.tolist(), 0.5)
    assert _run(xyxy, scores, classes, 0.5) == expected


def test_nms_empty(no_torchvision: None) -> None:
    keep = batched_nms(torch.zeros(0, 4), torch.zeros(0), torch.zeros(0, dtype=torch.int64), 0.5)
    assert keep.shape == (0,) and keep.dtype == torch.int64


def test_nms_same_class_and_class_awareness(no_torchvision: None) -> None:
    boxes = [[0, 0, 10, 10], [1, 1, 11, 11], [0, 0, 10, 9], [50, 50, 60, 60]]
    scores = [0.9, 0.8, 0.7, 0.6]
    assert _run(boxes, scores, [0, 0, 0, 0], 0.5) == [0, 3]
    assert _run(boxes, scores, [0, 1, 2, 0], 0.5) == [0, 1, 2, 3]
    assert _run(boxes, scores, [0, 1, 1, 0], 0.5) == [0, 1, 3]


def test_nms_iou_one_keeps_everything_in_score_order(no_torchvision: None) -> None:
    boxes = [[0, 0, 10, 10]] * 4
    assert _run(boxes, [0.2, 0.9, 0.5, 0.7], [0] * 4, 1.0) == [1, 3, 2, 0]
    assert _run(boxes, [0.2, 0.9, 0.5, 0.7], [0] * 4, 0.99) == [1]


def test_nms_does_not_modify_inputs(no_torchvision: None) -> None:
    xyxy, scores, classes, thr = random_case(5)
    b, s, c = (torch.tensor(a) for a in (xyxy, scores, classes))
    copies = [t.clone() for t in (b, s, c)]
    batched_nms_torch(b, s, c, thr)
    assert all(torch.equal(t, u) for t, u in zip((b, s, c), copies, strict=True))


@pytest.mark.parametrize(
    "shapes", [((3, 4), (2,), (3,)), ((3, 5), (3,), (3,)), ((3, 4), (3,), (3, 1))]
)
def test_nms_bad_shapes(shapes) -> None:
    b, s, c = shapes
    with pytest.raises(ValueError, match="batched_nms needs"):
        batched_nms(torch.zeros(b), torch.zeros(s), torch.zeros(c, dtype=torch.int64), 0.5)


# --- postprocess ------------------------------------------------------------------------------

NC = 4  # classes in the hand-built predictions


def make_pred(images: list[list[tuple]], n_anchors: int = 12) -> torch.Tensor:
    """[B, n_anchors, 5 + NC]; each row (cx, cy, w, h, objectness, class, class_prob); the other
    classes get 0.01 and unused anchors objectness 0."""
    pred = torch.zeros(len(images), n_anchors, 5 + NC)
    pred[..., 5:] = 0.01
    for b, rows in enumerate(images):
        for a, (cx, cy, w, h, obj, cls, prob) in enumerate(rows):
            pred[b, a, :5] = torch.tensor([cx, cy, w, h, obj])
            pred[b, a, 5 + cls] = prob
    return pred


def _post(pred: torch.Tensor, **kw) -> list[Detections]:
    b = pred.shape[0]
    kw.setdefault("scales", [1.0] * b)
    kw.setdefault("sizes_wh", [(640, 640)] * b)
    return postprocess(pred, **kw)


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
    half = _post(pred.half())[0]
    assert half.class_ids.tolist() == ref.class_ids.tolist()
    np.testing.assert_allclose(half.scores, ref.scores, rtol=2e-3)
    np.testing.assert_allclose(half.xyxy, ref.xyxy, atol=0.5)
    assert half.xyxy.dtype == np.float32


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
    dets = _post(torch.zeros(2, 5, 5 + NC))
    assert [len(d) for d in dets] == [0, 0]


def test_input_unchanged() -> None:
    pred = make_pred([[(50, 50, 20, 20, 0.9, 0, 0.9), (52, 50, 20, 20, 0.9, 0, 0.8)]]).half()
    before = pred.clone()
    _post(pred, scales=[0.25], sizes_wh=[(100, 100)])
    assert torch.equal(pred, before)


def reference_postprocess(pred, scales, sizes_wh, conf, iou, max_det) -> list:
    """Plain numpy / Python: the rule as YOLOX states it."""
    out = []
    for b in range(pred.shape[0]):
        p = pred[b].astype(np.float64)
        cls = p[:, 5:].argmax(1)
        score = p[:, 4] * p[np.arange(len(p)), 5 + cls]
        idx = np.nonzero(score >= conf)[0]
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


def test_postprocess_matches_reference_on_random_predictions() -> None:
    for seed in range(10):
        rng = np.random.default_rng(seed)
        b, n = 2, 150
        pred = np.zeros((b, n, 5 + NC))
        pred[..., :2] = np.round(rng.normal(200, 40, (b, n, 2)).clip(0, 400) * 4) / 4
        pred[..., 2:4] = np.round(rng.uniform(8, 120, (b, n, 2)) * 2) / 2
        pred[..., 4] = rng.random((b, n))
        pred[..., 5:] = rng.random((b, n, NC))
        pred = pred.astype(np.float32)
        scales, sizes = [0.5, 0.8], [(600, 500), (500, 480)]
        got = postprocess(
            torch.from_numpy(pred), scales=scales, sizes_wh=sizes, conf=0.3, iou=0.5, max_det=25
        )
        ref = reference_postprocess(pred, scales, sizes, 0.3, 0.5, 25)
        for det, (xyxy, score, cls) in zip(got, ref, strict=True):
            assert det.class_ids.tolist() == cls.tolist(), f"seed {seed}"
            np.testing.assert_allclose(det.scores, score, rtol=1e-6)
            np.testing.assert_allclose(det.xyxy, xyxy, atol=1e-3)


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"conf": 1.5}, "conf"),
        ({"conf": -0.1}, "conf"),
        ({"iou": 0.0}, "iou"),
        ({"iou": 1.01}, "iou"),
        ({"max_det": 0}, "max_det"),
        ({"max_det": 2.5}, "max_det"),
        ({"scales": [1.0]}, "one scale"),
        ({"sizes_wh": [(640, 640)] * 3}, "one scale"),
        ({"scales": [1.0, 0.0]}, "scales"),
        ({"sizes_wh": [(640, 640), (0, 5)]}, "sizes_wh"),
    ],
)
def test_postprocess_bad_arguments(kw: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        _post(torch.zeros(2, 5, 5 + NC), **kw)


@pytest.mark.parametrize("shape", [(5, 9), (1, 5, 5), (1, 5, 9, 1)])
def test_postprocess_bad_pred(shape: tuple) -> None:
    with pytest.raises(ValueError, match="pred"):
        postprocess(torch.zeros(shape), scales=[1.0], sizes_wh=[(64, 64)])
    with pytest.raises(ValueError, match="floating"):
        postprocess(torch.zeros(1, 5, 9, dtype=torch.int64), scales=[1.0], sizes_wh=[(64, 64)])


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs an NVIDIA GPU")
def test_cuda_matches_cpu(no_torchvision: None) -> None:
    for seed in range(30):
        xyxy, scores, classes, thr = random_case(seed)
        expected = reference_nms(xyxy.tolist(), scores.tolist(), classes.tolist(), thr)
        boxes, conf, ids = (torch.tensor(a).cuda() for a in (xyxy, scores, classes))
        keep = batched_nms(boxes, conf, ids, thr)
        assert keep.is_cuda and keep.cpu().tolist() == expected
    pred = make_pred([[(50, 50, 20, 20, 0.9, 0, 0.9), (52, 50, 20, 20, 0.9, 0, 0.8)], []])
    cpu = _post(pred)
    gpu = _post(pred.cuda().half())
    for a, b in zip(cpu, gpu, strict=True):
        np.testing.assert_allclose(a.xyxy, b.xyxy, atol=0.1)
        assert a.class_ids.tolist() == b.class_ids.tolist()
