"""`vidpipe.types.Detections`: validation, supervision-style indexing (every field, tracker_id
included, against a plain per-field numpy oracle and against supervision's own indexing) and
the converters to and from the real `supervision` package."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from vidpipe.types import Detections


def random_dets(n: int, seed: int = 0, *, tracked: bool = True) -> Detections:
    """n random boxes in a 1920x1080 displayed frame, scores 0..1, 80 classes, track ids."""
    rng = np.random.default_rng(seed)
    x0y0 = rng.uniform(0, 1800, (n, 2))
    wh = rng.uniform(1, 120, (n, 2))
    return Detections(
        np.concatenate([x0y0, x0y0 + wh], axis=1).astype(np.float32),
        rng.uniform(0, 1, n).astype(np.float32),
        rng.integers(0, 80, n, dtype=np.int64),
        rng.integers(1, 10_000, n, dtype=np.int64) if tracked else None,
    )


def assert_rows(got: Detections, dets: Detections, rows: np.ndarray) -> None:
    """`got` holds exactly `rows` of every field of `dets`, dtypes and shapes kept."""
    np.testing.assert_array_equal(got.xyxy, dets.xyxy[rows])
    np.testing.assert_array_equal(got.scores, dets.scores[rows])
    np.testing.assert_array_equal(got.class_ids, dets.class_ids[rows])
    assert got.xyxy.shape == (len(rows), 4) and got.scores.shape == got.class_ids.shape
    assert (got.xyxy.dtype, got.scores.dtype, got.class_ids.dtype) == (
        dets.xyxy.dtype,
        dets.scores.dtype,
        dets.class_ids.dtype,
    )
    if dets.tracker_id is None:
        assert got.tracker_id is None
    else:
        assert got.tracker_id is not None and got.tracker_id.dtype == dets.tracker_id.dtype
        np.testing.assert_array_equal(got.tracker_id, dets.tracker_id[rows])
    assert len(got) == len(rows)


# --- validation ----------------------------------------------------------------------------


def test_positional_construction_and_empty_stay_as_they_were() -> None:
    d = Detections(np.zeros((2, 4), np.float32), np.ones(2, np.float32), np.arange(2))
    assert d.tracker_id is None and len(d) == 2
    e = Detections.empty()
    assert len(e) == 0 and e.tracker_id is None
    assert (e.xyxy.shape, e.xyxy.dtype, e.scores.dtype, e.class_ids.dtype) == (
        (0, 4),
        np.float32,
        np.float32,
        np.int64,
    )


def test_tracker_id_validation() -> None:
    xyxy, scores, cls = np.zeros((3, 4), np.float32), np.ones(3, np.float32), np.zeros(3, int)
    assert Detections(xyxy, scores, cls, np.arange(3, dtype=np.int32)).tracker_id is not None
    with pytest.raises(ValueError, match=r"tracker_id must have shape \(3,\)"):
        Detections(xyxy, scores, cls, np.arange(2))
    with pytest.raises(ValueError, match=r"tracker_id must have shape \(3,\)"):
        Detections(xyxy, scores, cls, np.arange(3).reshape(3, 1))
    with pytest.raises(ValueError, match="tracker_id must be integers"):
        Detections(xyxy, scores, cls, np.arange(3, dtype=np.float64))
    with pytest.raises(ValueError, match="tracker_id must be integers"):
        Detections(xyxy, scores, cls, np.ones(3, bool))
    with pytest.raises(TypeError, match="tracker_id must be a numpy array"):
        Detections(xyxy, scores, cls, [1, 2, 3])  # type: ignore[arg-type]


def test_other_fields_validation() -> None:
    xyxy, scores, cls = np.zeros((3, 4), np.float32), np.ones(3, np.float32), np.zeros(3, int)
    with pytest.raises(ValueError, match="xyxy must have shape"):
        Detections(np.zeros((3, 5), np.float32), scores, cls)
    with pytest.raises(ValueError, match="xyxy must have shape"):
        Detections(np.zeros(4, np.float32), scores, cls)
    with pytest.raises(ValueError, match=r"scores must have shape \(3,\)"):
        Detections(xyxy, np.ones(4, np.float32), cls)
    with pytest.raises(ValueError, match=r"class_ids must have shape \(3,\)"):
        Detections(xyxy, scores, np.zeros(2, int))
    with pytest.raises(ValueError, match="class_ids must be integers"):
        Detections(xyxy, scores, np.zeros(3, np.float32))
    with pytest.raises(TypeError, match="scores must be a numpy array"):
        Detections(xyxy, [1.0, 1.0, 1.0], cls)  # type: ignore[arg-type]


# --- indexing ------------------------------------------------------------------------------


@pytest.mark.parametrize("tracked", [True, False])
@pytest.mark.parametrize("seed", range(3))
def test_boolean_mask(seed: int, tracked: bool) -> None:
    dets = random_dets(20, seed, tracked=tracked)
    mask = dets.scores > 0.5
    assert_rows(dets[mask], dets, np.flatnonzero(mask))
    assert_rows(dets[list(mask)], dets, np.flatnonzero(mask))  # a list of bools is a mask
    assert_rows(dets[np.zeros(20, bool)], dets, np.zeros(0, int))
    assert_rows(dets[np.ones(20, bool)], dets, np.arange(20))


@pytest.mark.parametrize("tracked", [True, False])
def test_integer_indices(tracked: bool) -> None:
    dets = random_dets(6, 1, tracked=tracked)
    assert_rows(dets[[0, 2]], dets, np.array([0, 2]))
    assert_rows(dets[np.array([5, 0, 0, -1], np.int32)], dets, np.array([5, 0, 0, 5]))
    assert_rows(dets[[]], dets, np.zeros(0, int))
    assert_rows(dets[np.array([], np.int64)], dets, np.zeros(0, int))


@pytest.mark.parametrize("tracked", [True, False])
def test_slices(tracked: bool) -> None:
    dets = random_dets(6, 2, tracked=tracked)
    assert_rows(dets[1:3], dets, np.array([1, 2]))
    assert_rows(dets[::-2], dets, np.array([5, 3, 1]))
    assert_rows(dets[4:100], dets, np.array([4, 5]))
    assert_rows(dets[3:3], dets, np.zeros(0, int))


@pytest.mark.parametrize("tracked", [True, False])
def test_an_int_gives_one_row(tracked: bool) -> None:
    dets = random_dets(4, 3, tracked=tracked)
    assert_rows(dets[0], dets, np.array([0]))
    assert_rows(dets[-1], dets, np.array([3]))
    assert_rows(dets[np.int64(2)], dets, np.array([2]))
    assert [len(d) for d in dets] == [1, 1, 1, 1]  # iteration ends at the IndexError


def test_indexing_copies_and_leaves_the_original_alone() -> None:
    dets = random_dets(5, 4)
    before = [dets.xyxy.copy(), dets.scores.copy(), dets.class_ids.copy(), dets.tracker_id.copy()]
    for index in (slice(0, 3), [0, 1], dets.scores >= 0, 0):
        sub = dets[index]
        for got, orig in zip(
            (sub.xyxy, sub.scores, sub.class_ids, sub.tracker_id),
            (dets.xyxy, dets.scores, dets.class_ids, dets.tracker_id),
            strict=True,
        ):
            assert not np.shares_memory(got, orig)
            got[...] = 0
    for got, want in zip(
        (dets.xyxy, dets.scores, dets.class_ids, dets.tracker_id), before, strict=True
    ):
        np.testing.assert_array_equal(got, want)


def test_empty_detections_index() -> None:
    empty = Detections.empty()
    assert len(empty[np.zeros(0, bool)]) == len(empty[:]) == len(empty[[]]) == 0
    with pytest.raises(IndexError, match="out of range for 0"):
        empty[0]


def test_bad_indices_are_refused_clearly() -> None:
    dets = random_dets(3, 5)
    with pytest.raises(IndexError, match="mask has 2 entries, expected 3"):
        dets[np.array([True, False])]
    with pytest.raises(IndexError, match="mask has 0 entries, expected 3"):
        dets[np.zeros(0, bool)]
    with pytest.raises(IndexError, match="index 3 out of range for 3"):
        dets[3]
    with pytest.raises(IndexError, match="index -4 out of range"):
        dets[-4]
    with pytest.raises(IndexError, match="indices out of range for 3"):
        dets[[0, 3]]
    with pytest.raises(TypeError, match="dtype float64"):
        dets[np.array([0.0, 1.0])]
    with pytest.raises(TypeError, match=r"shape \(3, 1\)"):
        dets[np.ones((3, 1), bool)]
    for bad in (True, 1.0, (0, 1), "scores", None):
        with pytest.raises(TypeError, match="Detections index must be"):
            dets[bad]  # type: ignore[index]


# --- supervision ---------------------------------------------------------------------------


@pytest.fixture
def sv():
    return pytest.importorskip("supervision")


def test_types_imports_neither_supervision_nor_torch() -> None:
    code = (
        "import sys, vidpipe.types\n"
        "bad = {'supervision', 'torch'} & set(sys.modules)\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


@pytest.mark.parametrize("n", [0, 1, 17])
@pytest.mark.parametrize("tracked", [True, False])
def test_round_trip_through_supervision(sv, n: int, tracked: bool) -> None:
    dets = random_dets(n, n, tracked=tracked)
    sv_dets = dets.to_supervision()
    assert isinstance(sv_dets, sv.Detections) and len(sv_dets) == n
    np.testing.assert_array_equal(sv_dets.xyxy, dets.xyxy)
    np.testing.assert_array_equal(sv_dets.confidence, dets.scores)
    np.testing.assert_array_equal(sv_dets.class_id, dets.class_ids)
    if tracked:
        np.testing.assert_array_equal(sv_dets.tracker_id, dets.tracker_id)
    else:
        assert sv_dets.tracker_id is None
    assert sv_dets.mask is None and sv_dets.data == {}
    assert not np.shares_memory(sv_dets.xyxy, dets.xyxy)
    back = Detections.from_supervision(sv_dets)
    assert_rows(back, dets, np.arange(n))


@pytest.mark.parametrize("tracked", [True, False])
def test_from_supervision_converts_dtypes(sv, tracked: bool) -> None:
    rng = np.random.default_rng(7)
    xyxy = rng.uniform(0, 500, (9, 4))  # float64, as supervision users often have
    xyxy[:, 2:] += xyxy[:, :2]
    sv_dets = sv.Detections(
        xyxy=xyxy,
        confidence=rng.uniform(0, 1, 9),
        class_id=rng.integers(0, 5, 9).astype(np.int32),
        tracker_id=rng.integers(0, 99, 9) if tracked else None,
        data={"class_name": np.array(["x"] * 9)},
    )
    dets = Detections.from_supervision(sv_dets)
    assert (dets.xyxy.dtype, dets.scores.dtype, dets.class_ids.dtype) == (
        np.float32,
        np.float32,
        np.int64,
    )
    np.testing.assert_allclose(dets.xyxy, xyxy, rtol=1e-6)
    np.testing.assert_allclose(dets.scores, sv_dets.confidence, rtol=1e-6)
    np.testing.assert_array_equal(dets.class_ids, sv_dets.class_id)
    if tracked:
        assert dets.tracker_id is not None and dets.tracker_id.dtype == np.int64
        np.testing.assert_array_equal(dets.tracker_id, sv_dets.tracker_id)
    else:
        assert dets.tracker_id is None
    again = Detections.from_supervision(dets.to_supervision())
    assert_rows(again, dets, np.arange(9))


def test_indexing_matches_supervision(sv) -> None:
    """Every index kind selects the same rows here as in supervision."""
    dets = random_dets(12, 11)
    sv_dets = dets.to_supervision()
    for index in (dets.scores > 0.4, [0, 2, 2, -1], np.array([3, 1]), slice(1, 3), 0, 5, -2):
        got = dets[index].to_supervision()
        want = sv_dets[index]
        for field in ("xyxy", "confidence", "class_id", "tracker_id"):
            np.testing.assert_array_equal(getattr(got, field), getattr(want, field), field)


def test_missing_confidence_or_class_id(sv) -> None:
    xyxy = np.array([[1, 2, 30, 40], [5, 6, 7, 8]], np.float64)
    bare = sv.Detections(xyxy=xyxy)  # e.g. ground truth or a language-model detector
    with pytest.raises(ValueError, match="no confidence: pass default_score"):
        Detections.from_supervision(bare)
    no_class = sv.Detections(xyxy=xyxy, confidence=np.array([0.5, 0.25]))
    with pytest.raises(ValueError, match="no class_id: pass default_class_id"):
        Detections.from_supervision(no_class)
    filled = Detections.from_supervision(bare, default_score=1.0, default_class_id=3)
    assert filled.scores.tolist() == [1.0, 1.0] and filled.scores.dtype == np.float32
    assert filled.class_ids.tolist() == [3, 3] and filled.class_ids.dtype == np.int64
    assert filled.tracker_id is None
    empty = Detections.from_supervision(sv.Detections.empty())
    assert len(empty) == 0 and empty.xyxy.shape == (0, 4)


def test_from_supervision_refuses_ids_that_are_not_integers(sv) -> None:
    xyxy = np.zeros((2, 4))
    conf = np.ones(2)
    whole = sv.Detections(xyxy=xyxy, confidence=conf, class_id=np.array([1.0, 2.0]))
    assert Detections.from_supervision(whole).class_ids.tolist() == [1, 2]
    half = sv.Detections(
        xyxy=xyxy, confidence=conf, class_id=np.zeros(2, int), tracker_id=np.array([1.5, 2.0])
    )
    with pytest.raises(ValueError, match="tracker_id holds non-integer values"):
        Detections.from_supervision(half)
    with pytest.raises(TypeError, match=r"needs a supervision\.Detections"):
        Detections.from_supervision(object())


def test_to_supervision_without_supervision_says_what_to_install(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "supervision", None)  # import supervision -> ImportError
    with pytest.raises(ImportError, match=r"vidpipe\[supervision\]"):
        random_dets(2).to_supervision()
