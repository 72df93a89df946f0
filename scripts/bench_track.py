"""`bench.py track`: the tracker's cost per frame and its identity metrics, against Roboflow's
`trackers` (the same family, its defaults) on the same detections, in the same run.

Cost: 20 objects on random walks (600 frames of synthetic detections, a false box now and
then), every `Tracker.update` timed against `trackers`' tracker of the same family, runs
alternating; the target is at least 1000 updates a second (<= 1 ms a frame) for ours.

Quality: the generated scenes of tests/tracking/scenes.py (crossing paths, an occlusion, an
object leaving and coming back, class flicker, false boxes; at 30 fps, VFR, with dropped
frames, every 5th frame only), scored by `vidpipe.tracking.evaluate` (TrackEval's HOTA /
IDF1 / CLEAR through `trackers`). The table is printed; it has no pass marks.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import warnings
from pathlib import Path

import bench as common
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
FAMILIES = ("bytetrack", "botsort", "ocsort", "sort")
COST_TARGET = common.Target(">=", 1000.0)  # updates per second of ours, 20 objects


def _walks(objects: int = 20, frames: int = 600, seed: int = 0) -> list:
    from vidpipe.types import Detections

    rng = np.random.default_rng(seed)
    centre = rng.uniform([100, 100], [1800, 980], (objects, 2))
    velocity = rng.normal(0, 4, (objects, 2))
    size = rng.uniform([30, 60], [90, 180], (objects, 2))
    out = []
    for _ in range(frames):
        velocity += rng.normal(0, 0.5, velocity.shape)
        centre = np.clip(centre + velocity, 0, [1920, 1080])
        xyxy = np.concatenate([centre - size / 2, centre + size / 2], 1)
        xyxy += rng.normal(0, 1.5, xyxy.shape)
        scores = rng.uniform(0.3, 0.95, objects)
        out.append(Detections(xyxy.astype(np.float32), scores.astype(np.float32),
                              rng.integers(0, 3, objects)))  # fmt: skip
    return out


def _peer(family: str):
    import trackers

    return {"bytetrack": trackers.ByteTrackTracker, "botsort": trackers.BoTSORTTracker,
            "ocsort": trackers.OCSORTTracker, "sort": trackers.SORTTracker}[family]()  # fmt: skip


def _run_ours(family: str, times: list[float], dets: list) -> list:
    from vidpipe.tracking.options import TrackOptions
    from vidpipe.tracking.tracker import Tracker

    tracker = Tracker(TrackOptions(tracker=family))
    return [tracker.update(d, t) for t, d in zip(times, dets, strict=True)]


def _run_peer(family: str, times: list[float], dets: list) -> list:
    import supervision as sv

    from vidpipe.types import Detections

    tracker, out = _peer(family), []
    for d in dets:
        r = tracker.update(sv.Detections(d.xyxy, confidence=d.scores, class_id=d.class_ids))
        keep = r.tracker_id >= 0
        out.append(Detections(r.xyxy[keep], r.confidence[keep], r.class_id[keep],
                              r.tracker_id[keep]))  # fmt: skip
    return out


def _cost(family: str, repeat: int) -> list[common.Measurement]:
    dets = _walks()
    times = [i / 30 for i in range(len(dets))]
    ours, peer = [], []
    for _ in range(repeat):
        for run, into in ((_run_peer, peer), (_run_ours, ours)):
            start = time.perf_counter()
            run(family, times, dets)
            into.append(len(dets) / (time.perf_counter() - start))
    rows = [common.Measurement(f"{family} updates/s, 20 objects", "fps", ours, peer)]
    if family == "bytetrack":
        rows.append(
            common.Measurement("bytetrack updates/s (absolute)", "fps", ours, [], COST_TARGET)
        )
    return rows


def _write_mot(path: Path, frames: list) -> Path:
    rows = [
        f"{f},{i},{x1:.2f},{y1:.2f},{x2 - x1:.2f},{y2 - y1:.2f},{s:.3f},-1,-1,-1\n"
        for f, d in enumerate(frames, 1)
        for (x1, y1, x2, y2), s, i in zip(d.xyxy, d.scores, d.tracker_id, strict=True)
    ]
    path.write_text("".join(rows))
    return path


def _quality(folder: Path) -> None:
    sys.path.insert(0, str(ROOT / "tests" / "tracking"))
    from scenes import scene

    from vidpipe.tracking.evaluate import evaluate_mot

    print(
        f"{'scene':<9} {'tracker':<10} {'ours IDF1 HOTA IDSW':>22} {'trackers IDF1 HOTA IDSW':>26}"
    )
    for kind in ("crossing", "vfr", "gaps", "skip"):
        sc = scene(kind)
        gt = sc.write_gt(folder / "gt.txt")
        for family in FAMILIES:
            cells = []
            for run in (_run_ours, _run_peer):
                r = evaluate_mot(
                    gt, _write_mot(folder / "p.txt", run(family, sc.times, sc.detections))
                )
                cells.append(f"{r.idf1:.3f} {r.hota:.3f} {r.id_switches:4d}")
            print(f"{kind:<9} {family:<10} {cells[0]:>22} {cells[1]:>26}")
    print()


def cmd_track(args: argparse.Namespace) -> dict:
    warnings.filterwarnings("ignore")  # trackers' deprecation notices
    with tempfile.TemporaryDirectory() as folder:
        _quality(Path(folder))
    return {"measurements": [row for f in FAMILIES for row in _cost(f, args.repeat)]}


def add_track_parser(sub: argparse._SubParsersAction) -> None:
    """The `track` subcommand's options."""
    parser = sub.add_parser("track", help="tracker cost and IDF1/HOTA vs Roboflow trackers")
    parser.add_argument("--repeat", type=common._positive(int), default=5, help="runs (5)")
    parser.add_argument("--json", dest="json_out", type=Path, default=None, help="figures here")
    parser.set_defaults(func=cmd_track)
