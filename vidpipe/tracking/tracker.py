"""`Tracker`: stable ids for the detections of consecutive frames (SORT, ByteTrack, BoT-SORT,
OC-SORT), fed one frame at a time with the frame's real time.

One association core, four published recipes (implemented from the papers; the assignment
step is SciPy's `linear_sum_assignment`):

    sort       Kalman prediction + IoU matching of every box (Bewley et al. 2016)
    bytetrack  + a second association of the low-score boxes to the tracks still unmatched,
               which keeps occluded objects (Zhang et al. 2022)
    botsort    ByteTrack with BoT-SORT's IoU x score fusion in the first association and
               its camera-motion compensation: tracks move with the picture when the camera
               pans or shakes (`vidpipe.tracking.motion`; a translation, where BoT-SORT fits
               an affine warp; no ReID model) (Aharon et al. 2022)
    ocsort     ByteTrack's stages plus OC-SORT's velocity-direction consistency (OCM), a
               re-association by each lost track's last observation (OCR) and a velocity
               re-estimated from the observations across a gap (ORU) (Cao et al. 2023)

What differs from the reference code, for real video: the Kalman filter steps by the real
time between frames (VFR, dropped or skipped frames; `vidpipe.tracking.kalman`), the lost-track
buffer is in seconds, association ignores the class (a detector flickering between dog and
cat keeps one track), boxes of several classes on one object (a detector keeping both "dog"
and "cat" there) are one candidate, led by the best score (`one_per_object`), and each track
reports the class it was seen as most (score-weighted votes of all those boxes). A track not
seen keeps its size (ByteTrack's rule), and a box of a very different size (two objects
merged while one passes the other, or a half-hidden one) moves the track but not its
velocity; a track shrinking while it overlaps another (being hidden by it) also keeps its
size. A box that holds a track's prediction whole, much larger than it and touching no
other track, is the object with another one not tracked (passing it): the track stays where
it predicted, its size and velocity kept, and is reported there, while such boxes hold it
(`_holds`). A tracked
object hidden behind another tracked one (or merged with it into one box) is reported where
its track predicts it, on the other's box and score (`_share`). Ids count from 1 in order
of confirmation and are never reused; everything is deterministic, so the same
detections give the same ids however frames were batched.
"""

from __future__ import annotations

import dataclasses
import math
from collections import deque
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment

from vidpipe.tracking import kalman
from vidpipe.tracking.motion import CameraMotion
from vidpipe.tracking.options import TrackOptions
from vidpipe.tracking.overlap import covered, nested, one_per_object
from vidpipe.types import Detections, iou_matrix

MATCH_IOU = 0.2  # first association: least IoU with the predicted box (ByteTrack's 0.8 cost)
LOW_IOU = 0.5  # second association (low-score boxes)
TENTATIVE_IOU = 0.3  # a tentative track's next box
INERTIA = 0.2  # OC-SORT: weight of the velocity-direction term
DIRECTION_S = 3 * kalman.REF_STEP_S  # OC-SORT: velocity from observations this far apart
SIZE_JUMP = 1.4  # a box this much wider / taller (or narrower) than the track: merged or cut
SHARE_COVER = 0.5  # this much of a track's predicted box inside a box another track took: it
SHARE_GAP_S = 0.1  # is behind it (`_share`), if it was seen or sharing this recently
OCCLUDED_RATIO = 0.85  # a box this much narrower or shorter than a track that overlaps
OCCLUDED_SHARE = 0.05  # another (this much of the smaller predicted box): half hidden
HISTORY = 8  # observations kept per track (OC-SORT's direction)


@dataclass(frozen=True)
class _Recipe:
    low_stage: bool  # BYTE: a second association with the low-score boxes
    fuse_score: bool  # BoT-SORT: IoU x score in the first association
    direction: bool  # OC-SORT: OCM direction term and ORU
    recover: bool  # OCR: lost tracks matched by their last observed box
    camera: bool = False  # BoT-SORT: camera-motion compensation from the frames' luma


RECIPES = {
    "sort": _Recipe(low_stage=False, fuse_score=False, direction=False, recover=False),
    "bytetrack": _Recipe(low_stage=True, fuse_score=False, direction=False, recover=True),
    "botsort": _Recipe(True, fuse_score=True, direction=False, recover=True, camera=True),
    "ocsort": _Recipe(low_stage=True, fuse_score=False, direction=True, recover=True),
}


@dataclass(eq=False)
class _Track:
    """What a track remembers besides its filter state."""

    id: int  # 0 while tentative
    hits: int  # detections in consecutive frames
    last_seen: float  # time of its last detection, seconds
    last_obs: np.ndarray  # `[4]` cx cy w h of that detection
    shared: float = -math.inf  # time it last shared another track's box (`_share`)
    merged: bool = False  # its last box held it with an untracked object (`_holds`)
    votes: dict[int, float] = field(default_factory=dict)  # class id -> summed scores
    history: deque[tuple[float, float, float]] = field(
        default_factory=lambda: deque(maxlen=HISTORY)
    )  # (time, cx, cy) of its last detections

    def vote(self, class_id: int, score: float, others: list[tuple[int, float]]) -> None:
        """Count a detection's class, and those of the other boxes on its object, by score."""
        for cid, s in [(class_id, score), *others]:
            self.votes[cid] = self.votes.get(cid, 0.0) + s

    def label(self) -> int:
        """The class it was seen as most (ties: the lowest id)."""
        return min(self.votes, key=lambda c: (-self.votes[c], c))


class Tracker:
    """Assigns track ids to each frame's detections, frame after frame.

    >>> tracker = Tracker(TrackOptions(tracker="bytetrack", min_hits=1))
    >>> box = np.array([[10, 10, 50, 50]], np.float32)
    >>> dets = Detections(box, np.array([0.9], np.float32), np.array([16]))
    >>> [tracker.update(dets, t).tracker_id.tolist() for t in (0.0, 0.04, 0.08)]
    [[1], [1], [1]]
    """

    def __init__(self, options: TrackOptions | None = None) -> None:
        self.options = options or TrackOptions()
        self.recipe = RECIPES[self.options.tracker]
        self.reset()

    def reset(self) -> None:
        """Forget every track (a new video); ids start again from 1."""
        self._mean = np.zeros((0, 8))
        self._cov = np.zeros((0, 8, 8))
        self._tracks: list[_Track] = []
        self._time: float | None = None
        self._next_id = 1
        self._camera = CameraMotion() if self.recipe.camera else None

    @property
    def uses_pictures(self) -> bool:
        """Whether `update` wants each frame's luma (camera-motion compensation)."""
        return self._camera is not None

    def update(self, dets: Detections, time: float, luma: np.ndarray | None = None) -> Detections:
        """The detections that belong to a confirmed track, in their input order, with
        `tracker_id` set and `class_ids` replaced by each track's majority class. Boxes of
        other classes on one object (`one_per_object`) are reported once, by the best-scoring
        of them; the others only vote for the track's class. A box another object is hidden
        behind (`_share`) is reported for it too, as that track's predicted box.

        dets: one frame's detections (xyxy in displayed pixels, scores 0..1). time: the
        frame's time in seconds; it should not decrease (a frame earlier than the last one
        is treated as simultaneous with it). luma: `[H, W]` the frame's luma as displayed,
        for a tracker that `uses_pictures` (botsort); without it the camera is taken as still.
        """
        first = self._time is None
        prev = self._time
        dt = 0.0 if prev is None else max(time - prev, 0.0)
        now = time if prev is None else prev + dt
        self._time = now
        lost = np.array([t.last_seen != prev for t in self._tracks], bool)
        self._mean[lost, 6:] = 0.0  # a track not seen does not grow or shrink (ByteTrack)
        self._mean, self._cov = kalman.predict(self._mean, self._cov, dt)
        if self._camera is not None and luma is not None:
            self._follow_camera(*self._camera.shift(luma, dets.xyxy))
        self._keep([now - t.last_seen <= self.options.lost_s for t in self._tracks])
        lead, seconds = one_per_object(dets, self.options.merge_iou)
        dets = dets[lead]
        matches, stale = self._associate(dets)
        held = [t for t, _ in matches if self._tracks[t].id]
        held_xyxy = kalman.xywh_to_xyxy(self._mean[held, :4])  # predicted, before correction
        estimated = self._apply(matches, dets, now, prev, seconds)
        shared = self._share(matches, dets, now, prev)
        fresh = self._start(dets, {d for _, d in matches}, now, seconds, held_xyxy)
        own = {self._tracks[t]: kalman.xywh_to_xyxy(self._mean[t, None, :4])[0]
               for t in [*estimated, *(t for t, _ in shared)]}  # fmt: skip
        pairs = [(d, self._tracks[t]) for t, d in [*matches, *fresh, *shared]]
        for _, track in pairs:
            if track.id == 0 and (first or track.hits >= self.options.min_hits):
                track.id, self._next_id = self._next_id, self._next_id + 1
        self._keep([i not in stale for i in range(len(self._tracks))])
        pairs = sorted(((d, t) for d, t in pairs if t.id), key=lambda p: (p[0], p[1].id))
        result = dets[np.array([d for d, _ in pairs], np.int64)]
        xyxy = result.xyxy.copy()
        for k, (_, track) in enumerate(pairs):
            if track in own:
                xyxy[k] = own[track]
        return dataclasses.replace(
            result,
            xyxy=xyxy,
            class_ids=np.array([t.label() for _, t in pairs], np.int64),
            tracker_id=np.array([t.id for _, t in pairs], np.int64),
        )

    # --- association ---------------------------------------------------------------------

    def _associate(self, dets: Detections) -> tuple[list[tuple[int, int]], set[int]]:
        """(track, detection) pairs, stage after stage, and the tentative tracks left
        unmatched (they end)."""
        o, recipe = self.options, self.recipe
        scores = dets.scores.astype(np.float64)
        boxes = dets.xyxy.astype(np.float64)
        # SORT associates every box it is given in one stage; the BYTE recipes lead with the
        # confident ones and offer the rest to the tracks left over.
        split = o.high if recipe.low_stage else -math.inf
        high = [d for d in range(len(dets)) if scores[d] >= split]
        low = [d for d in range(len(dets)) if scores[d] < split]
        predicted = kalman.xywh_to_xyxy(self._mean[:, :4])
        confirmed = [t for t, track in enumerate(self._tracks) if track.id]
        tentative = [t for t, track in enumerate(self._tracks) if not track.id]
        matches: list[tuple[int, int]] = []

        def stage(rows: list[int], cols: list[int], score: np.ndarray, gate: np.ndarray) -> None:
            for r, c in _assign(score, gate):
                matches.append((rows[r], cols[c]))
            taken_rows = {t for t, _ in matches}
            taken_cols = {d for _, d in matches}
            rows[:] = [t for t in rows if t not in taken_rows]
            cols[:] = [d for d in cols if d not in taken_cols]

        iou = iou_matrix(predicted[confirmed], boxes[high])
        score = iou * scores[high] if recipe.fuse_score else iou.copy()
        if recipe.direction:
            score += INERTIA * self._direction(confirmed, boxes[high]) * scores[high]
        stage(confirmed, high, score, iou >= MATCH_IOU)
        if low:  # lost tracks too (unlike the paper): an occluded object's faint box
            iou = iou_matrix(predicted[confirmed], boxes[low])  # re-links its track
            stage(confirmed, low, iou, iou >= LOW_IOU)
        if recipe.recover and confirmed and high:
            last = kalman.xywh_to_xyxy(np.array([self._tracks[t].last_obs for t in confirmed]))
            iou = iou_matrix(last, boxes[high])
            stage(confirmed, high, iou, iou >= MATCH_IOU)
        # A tentative track takes its next box whatever the score, as SORT does (ByteTrack's
        # reference offers it the high boxes only): on a real detector an object's score often
        # drops below `high` in the frame after its first confident box, and then it would
        # never be tracked. A track is still born only from a box of `new_track` or more.
        rest = sorted(high + low)
        iou = iou_matrix(predicted[tentative], boxes[rest])
        stage(tentative, rest, iou, iou >= TENTATIVE_IOU)
        return matches, set(tentative)

    def _direction(self, rows: list[int], boxes: np.ndarray) -> np.ndarray:
        """OC-SORT's direction consistency `[R, N]` in -0.5..0.5: how well the direction from
        each track's last observation to each box agrees with the track's recent motion
        (0 for a track without enough history)."""
        origin, unit = np.zeros((len(rows), 2)), np.zeros((len(rows), 2))
        moving = np.zeros(len(rows), bool)
        for r, t in enumerate(rows):
            history = self._tracks[t].history
            if len(history) < 2:
                continue
            t1, x1, y1 = history[-1]
            _, x0, y0 = next((h for h in reversed(history) if h[0] <= t1 - DIRECTION_S), history[0])
            norm = math.hypot(x1 - x0, y1 - y0)
            if norm > 0:
                origin[r], unit[r], moving[r] = (x1, y1), ((x1 - x0) / norm, (y1 - y0) / norm), True
        toward = (boxes[None, :, :2] + boxes[None, :, 2:]) / 2 - origin[:, None, :]
        lengths = np.maximum(np.hypot(toward[..., 0], toward[..., 1]), 1e-6)
        cos = np.clip(np.einsum("rnk,rk->rn", toward, unit) / lengths, -1.0, 1.0)
        return np.where(moving[:, None], (np.pi / 2 - np.arccos(cos)) / np.pi, 0.0)

    # --- state ---------------------------------------------------------------------------

    def _follow_camera(self, dx: float, dy: float) -> None:
        """Move every track (its prediction and last observation) with the picture."""
        if dx == 0.0 and dy == 0.0:
            return
        self._mean[:, 0] += dx
        self._mean[:, 1] += dy
        for track in self._tracks:
            track.last_obs = track.last_obs + np.array([dx, dy, 0.0, 0.0])

    def _apply(self, matches: list[tuple[int, int]], dets: Detections, now: float,
               prev: float | None,
               seconds: list[list[tuple[int, float]]]) -> list[int]:  # fmt: skip
        """Correct the matched tracks' filters by their detections; count hits and votes
        (`seconds[d]`: the (class, score) of the other boxes on detection d's object).
        Returns the tracks whose box held them with an untracked object (`_holds`): they
        are reported by their own box, not the pair's."""
        if not matches:
            return []
        rows = np.array([t for t, _ in matches])
        z = kalman.xyxy_to_xywh(dets.xyxy[[d for _, d in matches]])
        ratio = z[:, 2:4] / np.maximum(self._mean[rows, 2:4], 1e-6)
        # A box much larger than a confirmed track that holds its predicted box whole, near
        # no other track, is its object with another one not tracked (passing it): the
        # object is there as predicted. The track takes its prediction for the box, and
        # goes on doing so while boxes hold it (the pair's box narrows as they pass).
        merged = np.zeros(len(matches), bool)
        for i, (t, d) in enumerate(matches):
            track = self._tracks[t]
            if track.id and (track.merged or np.any(ratio[i] > SIZE_JUMP)):
                merged[i] = self._holds(t, dets.xyxy[d].astype(np.float64))
            track.merged = bool(merged[i])
        z[merged] = self._mean[rows[merged], :4]
        mean, cov = kalman.update(self._mean[rows], self._cov[rows], z)
        # A box much larger or smaller than the track's is two objects merged, or one half
        # hidden: its centre moves for that reason, not the object, so the track keeps the
        # velocity it had (else it would leave the crossing in the other object's direction).
        jump = np.any((ratio > SIZE_JUMP) | (ratio < 1 / SIZE_JUMP), axis=1)
        mean[jump, 4:6] = self._mean[rows][jump, 4:6]
        mean[jump, 6:] = 0.0
        # A track overlapping another's whose box shrinks is being hidden by it: what shows
        # is a part, whose centre lags the object, and whose size is not the object's. The
        # track follows the part but keeps its size and velocity, so that when the object
        # comes out on the other side, the track is where the whole object is.
        hidden = np.any(ratio < OCCLUDED_RATIO, axis=1)
        if hidden.any():
            hidden[hidden] = self._overlapping(rows[hidden])
        mean[hidden, 2:6] = self._mean[rows][hidden, 2:6]
        mean[hidden, 6:] = 0.0
        for i, (t, d) in enumerate(matches):
            track = self._tracks[t]
            gap = now - track.last_seen
            if self.recipe.direction and track.last_seen != prev and gap > 0 and not merged[i]:
                # ORU: the velocity the gap's two observations imply, not the filter's drift.
                mean[i, 4:] = (z[i] - track.last_obs) * (kalman.REF_STEP_S / gap)
            track.hits = track.hits + 1 if track.last_seen == prev else 1
            track.last_seen, track.last_obs = now, z[i]
            track.vote(int(dets.class_ids[d]), float(dets.scores[d]), seconds[d])
            track.history.append((now, z[i][0], z[i][1]))
        self._mean[rows], self._cov[rows] = mean, cov
        return [int(t) for t in rows[merged]]

    def _holds(self, t: int, box: np.ndarray) -> bool:
        """Whether `box` (x1 y1 x2 y2) holds track t's predicted box whole (NESTED of it),
        is no smaller, and touches no other confirmed track's prediction."""
        own = kalman.xywh_to_xyxy(self._mean[t : t + 1, :4])
        if np.prod(box[2:] - box[:2]) < np.prod(own[0, 2:] - own[0, :2]):
            return False
        if not nested(own, box[None])[0, 0]:
            return False
        others = [o for o, track in enumerate(self._tracks) if track.id and o != t]
        near = nested(box[None], kalman.xywh_to_xyxy(self._mean[others, :4]), OCCLUDED_SHARE)
        return not near.any()

    def _overlapping(self, rows: np.ndarray) -> np.ndarray:
        """`[R]` bool: whether each track's predicted box overlaps that of another confirmed
        track by OCCLUDED_SHARE of the smaller one."""
        others = np.array([t for t, track in enumerate(self._tracks) if track.id], np.int64)
        predicted = kalman.xywh_to_xyxy(self._mean[:, :4])
        touching = nested(predicted[rows], predicted[others], OCCLUDED_SHARE)
        return (touching & (rows[:, None] != others[None, :])).any(axis=1)

    def _share(self, matches: list[tuple[int, int]], dets: Detections, now: float,
               prev: float | None) -> list[tuple[int, int]]:  # fmt: skip
        """(track, detection) pairs of the confirmed tracks that found no box of their own but
        are behind one another track took: two objects merged into one box, or one hidden by
        the other.

        While one object passes in front of another, the detector gives one box around both
        (or around the nearer), and often nothing of the hidden one: both objects are there.
        A track seen (or sharing) within the last SHARE_GAP_S whose predicted box lies
        SHARE_COVER or more inside that box shares it, one sharer per box, and is reported
        where it predicts its object to be (its own box, with the shared box's score). The
        sharer is not corrected by it (it coasts on its own velocity, its size held) and its
        last sighting stays where it was, so it still ends `lost_s` after its own last box.
        Without this, the merged box goes to one track in one frame and to the other in the
        next, and the object it is counted for changes with it (an ID switch each way)."""
        matched = {t for t, _ in matches}
        rows = [
            t for t, track in enumerate(self._tracks)
            if track.id and t not in matched
            and now - max(track.last_seen, track.shared) <= SHARE_GAP_S * (1 + 1e-9)
        ]  # fmt: skip
        cols = [d for t, d in matches if self._tracks[t].id]
        if not rows or not cols:
            return []
        predicted = kalman.xywh_to_xyxy(self._mean[rows, :4])
        cover = covered(predicted, dets.xyxy[cols].astype(np.float64))
        pairs = []
        for r, c in _assign(cover, cover >= SHARE_COVER):
            self._tracks[rows[r]].shared = now
            self._mean[rows[r], 6:] = 0.0
            pairs.append((rows[r], cols[c]))
        return pairs

    def _start(self, dets: Detections, taken: set[int], now: float,
               seconds: list[list[tuple[int, float]]],
               held_xyxy: np.ndarray) -> list[tuple[int, int]]:  # fmt: skip
        """Tentative tracks for the unmatched boxes scoring at least `new_track`:
        (track index, detection index) pairs.

        A box nested in the predicted box of a confirmed track that found its own box this
        frame, or holding it (NESTED of the smaller box inside the other), starts nothing:
        it is a part of that object (half of a person, the head of a dog looking over a car)
        or that object with its neighbour (a parked car with the dog behind it), and a track
        born from it would take its object's boxes now and then (an ID switch each time).
        held_xyxy: `[H, 4]` those predicted boxes, x1 y1 x2 y2."""
        new = [
            d for d in range(len(dets))
            if d not in taken and dets.scores[d] >= self.options.new_track
        ]  # fmt: skip
        if new and len(held_xyxy):
            inside = nested(dets.xyxy[new].astype(np.float64), held_xyxy).any(axis=1)
            new = [d for d, part in zip(new, inside, strict=True) if not part]
        if not new:
            return []
        z = kalman.xyxy_to_xywh(dets.xyxy[new])
        mean, cov = kalman.initiate(z)
        start = len(self._tracks)
        self._mean = np.concatenate([self._mean, mean])
        self._cov = np.concatenate([self._cov, cov])
        for i, d in enumerate(new):
            track = _Track(0, 1, now, z[i])
            track.vote(int(dets.class_ids[d]), float(dets.scores[d]), seconds[d])
            track.history.append((now, z[i][0], z[i][1]))
            self._tracks.append(track)
        return [(start + i, d) for i, d in enumerate(new)]

    def _keep(self, keep: list[bool]) -> None:
        if all(keep):
            return
        mask = np.array(keep, bool)
        self._mean, self._cov = self._mean[mask], self._cov[mask]
        self._tracks = [t for t, k in zip(self._tracks, keep, strict=True) if k]


def _assign(score: np.ndarray, gate: np.ndarray) -> list[tuple[int, int]]:
    """The (row, col) pairs of the assignment maximising the summed score among the pairs
    `gate` allows: as many pairs as possible first, then the best total."""
    if score.size == 0 or not gate.any():
        return []
    rows, cols = linear_sum_assignment(np.where(gate, score, -1e6), maximize=True)
    return [(int(r), int(c)) for r, c in zip(rows, cols, strict=True) if gate[r, c]]
