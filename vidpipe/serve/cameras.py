"""`Cameras`: the service's live sources, each a `vidpipe detect` of its URL in a process of
its own (`vidpipe.serve.camera_child`), supervised on the event loop: a worker that ends (the
camera lost for good, a crash) is started again after a backoff (1 s, doubling up to
BACKOFF_MAX_S; back to 1 s after a worker that ran a minute), and the outage is a gap event
in `gaps.jsonl`. Each start writes into a folder of its own (`run-0001/`, ...): detections,
events, segments, stats. Cameras live in `DATA/cameras/<name>/camera.json`: a restarted
service starts them again.
"""

from __future__ import annotations

import json
import logging
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vidpipe.errors import InputError
from vidpipe.runtime.files import atomic_path
from vidpipe.serve.child import end

log = logging.getLogger(__name__)

BACKOFF_FIRST_S = 1.0
BACKOFF_MAX_S = 60.0
STEADY_S = 60.0  # a worker that ran this long resets the backoff
STOP_GRACE_S = 10.0  # a removed camera's time to close its segment before it is killed
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")


@dataclass
class Camera:
    """A supervised camera: its worker, when it (re)started, and its outages."""

    name: str
    folder: Path
    process: subprocess.Popen[bytes] | None = None
    started: float = 0.0  # monotonic time of its worker's start
    starts: int = 0  # workers started (the runs' folders)
    restarts: int = 0  # of them, after one ended
    next_start: float = 0.0  # monotonic time its next worker may start
    backoff_s: float = BACKOFF_FIRST_S
    down_since: float | None = None  # wall time its last worker ended
    last_error: str = ""
    removing: bool = field(default=False)

    @property
    def state(self) -> str:
        if self.process is not None and self.process.poll() is None:
            return "running"
        return "stopped" if self.removing else "restarting"

    def run_folder(self) -> Path:
        return self.folder / f"run-{self.starts:04d}"


class Cameras:
    """The cameras under `data`/cameras."""

    def __init__(self, data: Path) -> None:
        self.root = data / "cameras"
        self.root.mkdir(parents=True, exist_ok=True)
        self.cameras: dict[str, Camera] = {}

    def load(self) -> int:
        """Supervise every camera on disk (a restarted service); returns how many."""
        for config in sorted(self.root.glob("*/camera.json")):
            folder = config.parent
            starts = len(list(folder.glob("run-*")))
            self.cameras[folder.name] = Camera(folder.name, folder, starts=starts)
        return len(self.cameras)

    def add(self, name: str, config: dict[str, Any]) -> Camera:
        """A new camera `name` with its checked `config` (url, options, segment_s, ...)."""
        if not NAME.match(name):
            raise InputError(f"camera name {name!r}: letters, digits, - and _ (up to 64)")
        if name in self.cameras or (self.root / name / "camera.json").exists():
            raise InputError(f"camera {name} exists")
        folder = self.root / name
        folder.mkdir()
        with atomic_path(folder / "camera.json") as tmp:
            tmp.write_text(json.dumps(config, indent=1))
        camera = self.cameras[name] = Camera(name, folder)
        return camera

    def get(self, name: str) -> Camera:
        if name not in self.cameras:
            raise InputError(f"no camera {name!r}")
        return self.cameras[name]

    def remove(self, name: str) -> None:
        """Stop camera `name` (its segment closed) and forget it; its files stay, its
        folder renamed `<name>.removed-<time>` so the name can be used again."""
        camera = self.get(name)
        camera.removing = True
        _stop(camera)
        del self.cameras[name]
        (camera.folder / "camera.json").rename(camera.folder / "camera.removed.json")
        camera.folder.rename(camera.folder.with_name(f"{name}.removed-{int(time.time())}"))

    def step(self) -> None:
        """Start what should run, and note what ended."""
        now = time.monotonic()
        for camera in self.cameras.values():
            if camera.process is not None:
                code = camera.process.poll()
                if code is None:
                    continue
                self._ended(camera, code, now)
            if now >= camera.next_start:
                self._start(camera, now)

    def _start(self, camera: Camera, now: float) -> None:
        camera.starts += 1
        run = camera.run_folder()
        run.mkdir(parents=True, exist_ok=True)
        with open(run / "log.txt", "ab") as log_file:
            camera.process = subprocess.Popen(
                [sys.executable, "-m", "vidpipe.serve.camera_child", str(camera.folder),
                 run.name],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log_file,
                start_new_session=True,
            )  # fmt: skip
        camera.started = now
        if camera.down_since is not None:
            self._gap(camera, "worker started again")
        log.info("camera %s: worker %d started (pid %d)", camera.name, camera.starts,
                 camera.process.pid)  # fmt: skip

    def _ended(self, camera: Camera, code: int, now: float) -> None:
        camera.process = None
        lines = (camera.run_folder() / "log.txt").read_text(errors="replace").splitlines()
        errors = [line for line in lines if line.startswith("error: ")]
        camera.last_error = errors[-1] if errors else f"worker ended (exit code {code})"
        camera.restarts += 1
        camera.down_since = time.time()
        if now - camera.started >= STEADY_S:
            camera.backoff_s = BACKOFF_FIRST_S
        camera.next_start = now + camera.backoff_s
        camera.backoff_s = min(camera.backoff_s * 2, BACKOFF_MAX_S)
        log.warning("camera %s: %s; again in %.0f s", camera.name, camera.last_error,
                    camera.next_start - now)  # fmt: skip

    def _gap(self, camera: Camera, reason: str) -> None:
        """The outage between its last worker's end and now, as a gap event."""
        assert camera.down_since is not None
        now = time.time()
        event = {"event": "gap", "camera": camera.name, "from_wall": camera.down_since,
                 "to_wall": now, "seconds": round(now - camera.down_since, 3),
                 "reason": camera.last_error, "then": reason}  # fmt: skip
        with open(camera.folder / "gaps.jsonl", "a", encoding="utf-8") as out:
            out.write(json.dumps(event) + "\n")
        camera.down_since = None

    def stop(self) -> None:
        """End every worker (the service stops); the cameras start again with it."""
        for camera in self.cameras.values():
            _stop(camera)

    def stats(self, camera: Camera) -> dict[str, Any]:
        """Its worker's last `stats.json` ({} before the first), its outages and state."""
        path = camera.run_folder() / "stats.json"
        try:
            stats = json.loads(path.read_text()) if camera.starts else {}
        except (OSError, json.JSONDecodeError):
            stats = {}
        gaps = camera.folder / "gaps.jsonl"
        return {"name": camera.name, "state": camera.state, "starts": camera.starts,
                "restarts": camera.restarts, "last_error": camera.last_error,
                "gaps": len(gaps.read_text().splitlines()) if gaps.exists() else 0,
                "run": camera.run_folder().name if camera.starts else None, **stats}  # fmt: skip


def _stop(camera: Camera) -> None:
    process, camera.process = camera.process, None
    if process is not None:
        end(process, STOP_GRACE_S)  # a live run's first signal: it closes its segment
