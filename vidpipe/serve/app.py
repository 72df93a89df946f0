"""The HTTP face of `vidpipe serve` (FastAPI): batches submitted, listed, inspected,
cancelled and retried; their files and `vidpipe report` page served; `/metrics` for
Prometheus, `/healthz` and `/readyz` for whoever watches the service.

A batch takes the options of `vidpipe batch` as `vidpipe.batch.tasks` declares them
(`DEFAULTS`: one model per task, so the OpenAPI schema lists them) and checks them as the
CLI does (`check_options`). Inputs are absolute paths under the service's roots (symlinks
resolved), or URLs where the service allows them. Errors are one JSON line:
`{"error": "..."}` with a 4xx status.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import os
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, Union

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, create_model

from vidpipe.batch.jobs import LEDGER_NAME, inside_outdir, is_stream_input
from vidpipe.batch.ledger import read_rows
from vidpipe.batch.tasks import DEFAULTS, TASKS, check_options
from vidpipe.errors import InputError
from vidpipe.io.inputs import redact
from vidpipe.serve.alerts import Mqtt, Tail, Webhook
from vidpipe.serve.cameras import Cameras
from vidpipe.serve.manager import Manager
from vidpipe.serve.metrics import metrics_text
from vidpipe.serve.store import STATES, Store, confined

MAX_BODY_BYTES = 1 << 20  # a request body larger than this is refused (413)


@dataclass(frozen=True)
class ServeSettings:
    """How the service runs: its data folder, the roots inputs must lie under, whether URLs
    may be inputs, each batch's worker processes and retries, the bearer token it asks for
    (None: none, for a loopback bind only), the largest request body."""

    data: Path
    roots: tuple[Path, ...]
    allow_url: bool = False
    jobs: int = 1
    retries: int = 2
    token: str | None = None
    max_body: int = MAX_BODY_BYTES
    webhooks: tuple[str, ...] = ()  # alerts POSTed here
    webhook_secret: str | None = None  # their HMAC-SHA256 signature's key
    mqtt: tuple[str, ...] = ()  # brokers the alerts are published to (mqtt://host:port)


def _python_type(default: Any) -> Any:
    """The JSON type of an option, from its default (None: any; `check_options` judges)."""
    if isinstance(default, (bool, int, float, str)):
        return type(default)
    if isinstance(default, list):
        return list[str]
    return Any


def _options_model(task: str) -> type[BaseModel]:
    """The options of `task`'s jobs, from their declaration (every one optional: left out,
    the task's default)."""
    fields: dict[str, Any] = {
        name: (_python_type(default) | None, Field(None, description=f"default {default!r}"))
        for name, default in DEFAULTS[task].items()
    }
    config = ConfigDict(extra="forbid")
    return create_model(f"{task.capitalize()}Options", __config__=config, **fields)


def _batch_model(task: str) -> type[BaseModel]:
    options = _options_model(task)
    return create_model(
        f"{task.capitalize()}Batch", __config__=ConfigDict(extra="forbid"),
        task=(Literal[task], ...),  # type: ignore[valid-type]
        inputs=(list[str], Field(..., min_length=1, description="absolute paths or URLs")),
        options=(options, Field(default_factory=options)),
    )  # fmt: skip


BatchRequest = Annotated[
    Union[tuple(_batch_model(task) for task in TASKS)],  # type: ignore[valid-type]  # noqa: UP007
    Field(discriminator="task"),
]


class CameraRequest(BaseModel):
    """A live source: `vidpipe detect` of `url` with `options` (detect's, as `vidpipe batch`
    declares them), cut into `segment_s`-second video segments when given."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(..., description="letters, digits, - and _")
    url: str
    options: _options_model("detect") = Field(default_factory=_options_model("detect"))  # type: ignore[valid-type]
    segment_s: float | None = Field(None, gt=0)
    reconnect: int = Field(10, ge=0, description="reconnections in a row before it is lost")
    timeout_s: float = Field(10.0, gt=0)


POLL_S = 0.2  # how often the service looks at its batches, cameras and their files


def create_app(settings: ServeSettings) -> FastAPI:
    """The service's ASGI app over `settings.data`."""
    store, cameras, tail = Store(settings.data), Cameras(settings.data), Tail()
    manager = Manager(store)
    hooks = [Webhook(url, settings.webhook_secret) for url in settings.webhooks]
    brokers = [Mqtt(url) for url in settings.mqtt]
    sinks: list[Webhook | Mqtt] = [*hooks, *brokers]

    async def supervise() -> None:
        """Batches, cameras and their alerts, stepped on the loop until the service stops."""
        try:
            while True:
                manager.step()
                cameras.step()
                for camera in list(cameras.cameras.values()):
                    run = camera.run_folder() if camera.starts else None
                    for event in tail.poll(camera.name, camera.folder, run):
                        for sink in sinks:
                            sink.put(event)
                for broker in brokers:
                    broker.step()
                await asyncio.sleep(POLL_S)
        finally:
            manager.stop()
            cameras.stop()
            for broker in brokers:
                broker.close()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        manager.resume()
        cameras.load()
        tasks = [asyncio.create_task(supervise()), *(asyncio.create_task(h.run()) for h in hooks)]
        app.state.runner = tasks[0]
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    app = FastAPI(title="vidpipe serve", lifespan=lifespan)

    async def authorized(request: Request) -> None:
        if settings.token is None:
            return
        given = request.headers.get("authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {settings.token}".encode()):
            raise _Refused(401, "a bearer token is required (Authorization: Bearer ...)")

    guard = [Depends(authorized)]

    @app.middleware("http")
    async def bounded_body(request: Request, call_next: Any) -> Response:
        length = request.headers.get("content-length")
        if length is None and "transfer-encoding" in request.headers:
            return _error(411, "give the body's Content-Length (no chunked bodies)")
        if length is not None and (not length.isdigit() or int(length) > settings.max_body):
            return _error(413, f"request body over {settings.max_body} bytes")
        return await call_next(request)

    @app.exception_handler(_Refused)
    async def refused(_: Request, exc: _Refused) -> Response:
        return _error(exc.status, exc.message)

    @app.exception_handler(InputError)
    async def bad_input(_: Request, exc: InputError) -> Response:
        return _error(404 if str(exc).startswith(("no batch", "no camera")) else 400, str(exc))

    @app.exception_handler(RequestValidationError)
    async def bad_request(_: Request, exc: RequestValidationError) -> Response:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
        message = str(first.get("msg", "invalid request"))
        return _error(422, f"{where}: {message}" if where else message)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", dependencies=guard)
    async def readyz() -> Response:
        running = not app.state.runner.done()
        writable = os.access(store.root, os.W_OK)
        ok = running and writable
        return JSONResponse({"ready": ok, "runner": running, "data_writable": writable},
                            status_code=200 if ok else 503)  # fmt: skip

    @app.get("/metrics", dependencies=guard)
    async def metrics() -> Response:
        body, kind = metrics_text(store, cameras, sinks, tail)
        return Response(body, media_type=kind)

    @app.post("/cameras", status_code=201, dependencies=guard)
    async def add_camera(request: CameraRequest) -> dict[str, Any]:
        if not settings.allow_url:
            raise _Refused(400, "cameras are URLs: start the service with --allow-url")
        if not is_stream_input(request.url):
            raise _Refused(400, f"{redact(request.url)}: not a stream URL or capture device")
        options = _checked("detect", request.options)
        camera = cameras.add(request.name, {
            "url": request.url, "options": options, "segment_s": request.segment_s,
            "reconnect": request.reconnect, "timeout_s": request.timeout_s,
        })  # fmt: skip
        return _camera(cameras, camera.name)

    @app.get("/cameras", dependencies=guard)
    async def list_cameras() -> list[dict[str, Any]]:
        return [_camera(cameras, name) for name in sorted(cameras.cameras)]

    @app.get("/cameras/{name}", dependencies=guard)
    async def camera(name: str) -> dict[str, Any]:
        return _camera(cameras, name)

    @app.delete("/cameras/{name}", dependencies=guard)
    async def remove_camera(name: str) -> dict[str, Any]:
        cameras.remove(name)
        return {"name": name, "state": "removed"}

    @app.post("/batches", status_code=201, dependencies=guard)
    async def submit(request: BatchRequest) -> dict[str, Any]:  # type: ignore[valid-type]
        options = _checked(request.task, request.options)
        inputs = [_input(text, settings) for text in request.inputs]
        batch = store.create({"task": request.task, "inputs": inputs, "options": options,
                              "allow_url": settings.allow_url, "jobs": settings.jobs,
                              "retries": settings.retries})  # fmt: skip
        return _describe(store, batch)

    @app.get("/batches", dependencies=guard)
    async def batches(state: str | None = None) -> list[dict[str, Any]]:
        if state is not None and state not in STATES:
            raise _Refused(400, f"state must be one of {', '.join(STATES)}")
        found = [_describe(store, b, jobs=False) for b in store.ids()]
        return [b for b in found if state is None or b["state"] == state]

    @app.get("/batches/{batch}", dependencies=guard)
    async def batch(batch: str) -> dict[str, Any]:
        return _describe(store, batch)

    @app.post("/batches/{batch}/cancel", dependencies=guard)
    async def cancel(batch: str) -> dict[str, Any]:
        manager.cancel(batch)
        return _describe(store, batch, jobs=False)

    @app.post("/batches/{batch}/retry", dependencies=guard)
    async def retry(batch: str) -> dict[str, Any]:
        manager.retry(batch)
        return _describe(store, batch, jobs=False)

    @app.get("/batches/{batch}/files/{path:path}", dependencies=guard)
    async def files(batch: str, path: str) -> Response:
        target = inside_outdir(store.outdir(batch), path)
        if target.name == LEDGER_NAME or not target.is_file():
            raise _Refused(404, f"batch {batch} has no file {path}")
        return FileResponse(target)

    @app.get("/batches/{batch}/report", dependencies=guard)
    async def report(batch: str) -> Response:
        from vidpipe.report.batch import write_batch_report

        page = store.folder(batch) / "report.html"
        page.unlink(missing_ok=True)
        write_batch_report(store.outdir(batch), page)  # (on the loop: no thread of ours)
        return FileResponse(page, media_type="text/html")

    return app


class _Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


def _error(status: int, message: str) -> Response:
    return JSONResponse({"error": message}, status_code=status)


def _checked(task: str, options: BaseModel) -> dict[str, Any]:
    """The options given (those left out: the task's defaults), checked as the CLI checks
    them (`check_options`)."""
    return check_options(task, {k: v for k, v in options.model_dump().items() if v is not None})


def _input(text: str, settings: ServeSettings) -> str:
    """An input of a request: a path under the roots, or a URL the service allows."""
    if is_stream_input(text):
        if not settings.allow_url:
            raise InputError(f"{redact(text)}: URLs are not inputs here (serve --allow-url)")
        return text
    return confined(text, list(settings.roots))


def _camera(cameras: Cameras, name: str) -> dict[str, Any]:
    camera = cameras.get(name)
    config = json.loads((camera.folder / "camera.json").read_text())
    return {**cameras.stats(camera), "url": redact(config["url"]),
            "segment_s": config["segment_s"], "options": config["options"]}  # fmt: skip


def _describe(store: Store, batch: str, *, jobs: bool = True) -> dict[str, Any]:
    """A batch as the API shows it: its request, state, job counts (and jobs)."""
    request, state = store.request(batch), store.state(batch)
    rows = read_rows(store.outdir(batch) / LEDGER_NAME)
    counts = {s: sum(r.status == s for r in rows) for s in ("pending", "running", "done",
                                                            "failed")}  # fmt: skip
    out: dict[str, Any] = {
        "id": batch, "task": request["task"], "inputs": [redact(i) for i in request["inputs"]],
        "options": request["options"], **asdict(state), "jobs": counts,
    }  # fmt: skip
    if jobs:
        out["job_list"] = [{"key": r.key, "input": redact(r.input), "status": r.status,
                            "error": r.error, "seconds": r.seconds, "outputs": r.outputs}
                           for r in rows]  # fmt: skip
    return out
