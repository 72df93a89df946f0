"""`vidpipe serve --data DIR --root DIR`: the service (`vidpipe.serve`) on uvicorn."""

from __future__ import annotations

import ipaddress
import socket
from pathlib import Path

import typer

from vidpipe.cli.inputs import ALLOW_URL
from vidpipe.errors import InputError


def serve_command(
    data: Path = typer.Option(..., "--data", help="The service's folder: its batches, ledgers."),
    root: list[Path] = typer.Option(
        [], "--root", help="A folder inputs may lie under (repeatable; default: DATA/inputs)."
    ),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to bind (loopback)."),
    port: int = typer.Option(8080, "--port", help="Port (0: any free one, printed)."),
    jobs: int = typer.Option(1, "--jobs", "-j", help="Worker processes of each batch."),
    retries: int = typer.Option(2, "--retries", help="Attempts a failed job gets."),
    allow_url: bool = ALLOW_URL,
    webhook: list[str] = typer.Option(
        [], "--webhook", help="POST each camera event here, as JSON (repeatable)."
    ),
    webhook_secret: str | None = typer.Option(
        None,
        "--webhook-secret",
        envvar="VIDPIPE_WEBHOOK_SECRET",
        help="Sign webhook bodies: X-Vidpipe-Signature: sha256=HMAC ($VIDPIPE_WEBHOOK_SECRET).",
    ),
    mqtt: list[str] = typer.Option(
        [],
        "--mqtt",
        help="Publish each camera event to this broker (mqtt://HOST[:PORT]), on "
        "vidpipe/CAMERA/EVENT (repeatable).",
    ),
    token: str | None = typer.Option(
        None,
        "--token",
        envvar="VIDPIPE_SERVE_TOKEN",
        help="Bearer token every request needs ($VIDPIPE_SERVE_TOKEN); required off loopback.",
    ),
) -> None:
    """Run batches submitted over HTTP (POST /batches, the options of `vidpipe batch`) and
    live cameras (POST /cameras: detect, track, count, segments; restarted when they fail),
    serve their files and report pages, send camera events to webhooks, and expose /metrics
    (Prometheus), /healthz and /readyz. The API's schema is at /docs. A restart resumes what
    was running."""
    import uvicorn

    from vidpipe.serve.app import ServeSettings, create_app

    if jobs < 1 or retries < 1:
        raise InputError("--jobs and --retries must be at least 1")
    if not _loopback(host) and not token:
        raise InputError(f"--host {host} is not loopback: give --token (or $VIDPIPE_SERVE_TOKEN)")
    data.mkdir(parents=True, exist_ok=True)
    roots = tuple(root) or (data / "inputs",)
    for folder in roots:
        folder.mkdir(parents=True, exist_ok=True)
    from vidpipe.serve.alerts import Mqtt, Webhook

    try:  # each sink's address checked before the service starts
        for url in webhook:
            Webhook(url, None)
        for url in mqtt:
            Mqtt(url)
    except ValueError as err:
        raise InputError(str(err)) from None
    settings = ServeSettings(
        data.resolve(), tuple(r.resolve() for r in roots), allow_url=allow_url, jobs=jobs,
        retries=retries, token=token, webhooks=tuple(webhook), webhook_secret=webhook_secret,
        mqtt=tuple(mqtt),
    )  # fmt: skip
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError as err:
        sock.close()
        raise InputError(f"cannot listen on {host}:{port}: {err.strerror}") from None
    bound = sock.getsockname()[1]
    typer.echo(f"vidpipe serve: listening on http://{host}:{bound} (data {data})", err=True)
    config = uvicorn.Config(create_app(settings), log_level="warning", access_log=False,
                            timeout_graceful_shutdown=10)  # fmt: skip
    try:
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        sock.close()


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def register(app: typer.Typer) -> None:
    from vidpipe.cli.main import examples

    app.command(
        "serve",
        epilog=examples(
            "vidpipe serve --data /srv/vidpipe --root /videos --jobs 4",
            "vidpipe serve --data d/ --host 0.0.0.0 --token $TOKEN  # off loopback",
        ),
    )(serve_command)
