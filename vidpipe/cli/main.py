"""The `vidpipe` console script: the Typer app, logging to stderr, and error -> exit code.

Every error a user can cause ends as one `error: ...` line on stderr and exit code 2, a
failed write (a full disk, a file-size limit) or a failing encoder included; SIGINT (Ctrl-C)
and SIGTERM end as `error: interrupted` and exit code 130, a bug as `error: internal error:
...` and 1. `--debug` shows tracebacks and debug logs instead.

The global options `--debug` and `-q/--quiet` may come anywhere on the command line, before or
after the command's name (`vidpipe detect clip.mp4 -q`), as pip's general options do.
"""

from __future__ import annotations

import importlib
import logging
import os
import signal
import sys
from collections.abc import Sequence
from typing import Any

import typer
from typer.core import TyperGroup

from vidpipe.errors import VidpipeError
from vidpipe.runtime.signals import interrupt, uncancel

# The options of `_root` that every command and sub-group also takes (declared once, there).
GLOBAL_OPTIONS = ("debug", "quiet")


class _Root(TyperGroup):
    """The `vidpipe` group, which gives its global options to every command and sub-group
    under it, so that they may come after the command's name too.

    They become options of each command, so click's own parser finds them: after `--` a `-q`
    is an argument (a file named `-q`), the value of an option that takes one is that value
    (`--json -q` writes to a file named `-q`), `-qj4` is `-q -j 4`. (Moving the flags to the
    front of argv instead would have to know every option's arity to get these right.) Built
    with the click tree, so it also holds for `CliRunner` and for commands added later."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        _share_options(self, [p for p in self.params if p.name in GLOBAL_OPTIONS])


def _share_options(group: TyperGroup, options: list[Any]) -> None:
    """Append `options` (click parameters, not exposed as values) to every command under
    `group`, recursively; a command that defines one of their flags itself is a bug."""
    flags = {flag for option in options for flag in (*option.opts, *option.secondary_opts)}
    for name, command in group.commands.items():
        own = {flag for p in command.params for flag in (*p.opts, *p.secondary_opts)}
        if flags & own:
            raise RuntimeError(f"`vidpipe {name}` redefines the global {sorted(flags & own)}")
        command.params.extend(options)
        if isinstance(command, TyperGroup):
            _share_options(command, options)


app = typer.Typer(
    name="vidpipe",
    cls=_Root,
    help="Streaming video pipeline: probe, inspect frames, process and detect.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

_debug = False  # the global options given (anywhere) in this run of `main`
_quiet = False
# Typer may vendor its own click: take the classes from Typer's exceptions, not `import click`.
_ClickException = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException")


def _set_debug(value: bool) -> None:
    global _debug
    if value:
        _debug = True
        _configure_logging()


def _set_quiet(value: bool) -> None:
    global _quiet
    if value:
        _quiet = True
        _configure_logging()


@app.callback()
def _root(
    # Global options: their values reach `_debug` / `_quiet` through the callbacks, from
    # wherever they are given (the root's callback runs before a command's options are read).
    debug: bool = typer.Option(
        False,
        "--debug",
        help="Show tracebacks and debug logs.",
        callback=_set_debug,
        expose_value=False,
    ),
    quiet: bool = typer.Option(
        False,
        "--quiet",
        "-q",
        help="Only errors on stderr.",
        callback=_set_quiet,
        expose_value=False,
    ),
    version: bool = typer.Option(
        False,
        "--version",
        is_eager=True,
        callback=lambda shown: _show_versions() if shown else None,
        help="Show the versions of vidpipe and of the FFmpeg each backend uses, and exit.",
    ),
) -> None:
    _configure_logging()


def _configure_logging() -> None:
    """The "vidpipe" logger to stderr, at the level the global options given so far ask for."""
    level = logging.DEBUG if _debug else logging.ERROR if _quiet else logging.WARNING
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_LevelPrefix())
    root = logging.getLogger("vidpipe")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False


def _show_versions() -> None:
    typer.echo(_versions())
    raise typer.Exit(0)


def _versions() -> str:
    """vidpipe's version, PyAV's bundled FFmpeg (`--backend av`, probing, the av writer), the
    ffmpeg binary (`--backend ffmpeg`, the ffmpeg writer): they may differ; and what
    `--precision auto` is on this CPU."""
    from importlib.metadata import version

    import av

    from vidpipe.io.ffmpeg_cmd import binary_version, find_ffmpeg

    lines = [
        f"vidpipe {version('vidpipe')}",
        f"PyAV {av.__version__} with FFmpeg {av.ffmpeg_version_info} (--backend av, probe)",
    ]
    try:
        binary = find_ffmpeg()
        lines.append(f"ffmpeg {binary_version(binary)} at {binary} (--backend ffmpeg)")
    except VidpipeError as exc:
        lines.append(f"ffmpeg binary: none ({exc})")
    from vidpipe.detectors.runtimes import installed, precision_for

    if installed("openvino"):
        auto = precision_for("auto")
        why = "native bf16" if auto == "bf16" else "no native bf16"
        lines.append(f"OpenVINO --precision auto: {auto} (this CPU: {why})")
    else:
        lines.append("OpenVINO: not installed (--precision auto: f32)")
    return "\n".join(lines)


class _LevelPrefix(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return f"{record.levelname.lower()}: {record.getMessage()}"


# Each command and the module of vidpipe.cli that registers it, in `vidpipe --help` order.
_COMMANDS = {
    "probe": "probe", "frames": "frames", "gamma": "process", "chroma": "process",
    "detect": "detect", "models": "models", "eval": "eval", "report": "report",
    "export": "export", "batch": "batch", "serve": "serve",
}  # fmt: skip
_registered: set[str] = set()  # modules whose commands are on `app`


def _register(argv: Sequence[str]) -> None:
    """Add to `app` the module of the command `argv` names, else (help, a typo) all of them.

    Only what the command needs is imported: `vidpipe batch` re-run over finished work is
    mostly start-up, and PyAV, numpy and the other commands' modules are a third of it.
    `main` may be called many times in one process: each module is added once."""
    word = next((arg for arg in argv if not arg.startswith("-")), None)
    wanted = [_COMMANDS[word]] if word in _COMMANDS else dict.fromkeys(_COMMANDS.values())
    for module in wanted:
        if module not in _registered:
            importlib.import_module(f"vidpipe.cli.{module}").register(app)
            _registered.add(module)


def examples(*lines: str) -> str:
    """A command's `--help` epilog, as a man page's EXAMPLES: each line a runnable command,
    optionally with a ` # comment` (the comments aligned). `\\b` keeps click from rewrapping
    the lines into one paragraph."""
    rows = [(cmd.rstrip(), note) for cmd, _, note in (line.partition(" # ") for line in lines)]
    width = max((len(cmd) for cmd, note in rows if note), default=0)
    body = [f"  {cmd:<{width}}  # {note}" if note else f"  {cmd}" for cmd, note in rows]
    return "\b\nExamples:\n" + "\n".join(body)


def quiet_progress() -> bool | None:
    """tqdm's `disable`: off with --quiet, else only on a terminal (None: tqdm checks)."""
    return True if logging.getLogger("vidpipe").level >= logging.ERROR else None


def _raise_interrupt(signum: int, _frame: object) -> None:
    """SIGINT and SIGTERM end a run: stages close, temporary output is removed, ffmpeg
    children are killed and reaped, exit 130.

    `interrupt` also sets the flag that makes the pipeline stop at its next frame, and holds
    the KeyboardInterrupt off while a child process is being started or PyAV is inside a
    Python I/O callback (which would swallow it)."""
    interrupt(signum)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit code (also used by tests in-process).

    The "vidpipe" logger's set-up is restored afterwards, so an in-process call leaves the
    caller's logging as it was."""
    logger = logging.getLogger("vidpipe")
    saved = (logger.handlers[:], logger.level, logger.propagate)
    try:
        return _main(argv)
    finally:
        logger.handlers[:], logger.level, logger.propagate = saved


def _main(argv: list[str] | None) -> int:
    global _debug, _quiet
    _debug = _quiet = False  # an earlier in-process run may have set them
    uncancel()  # an earlier in-process run may have been interrupted
    try:
        _register(sys.argv[1:] if argv is None else argv)
        command = typer.main.get_command(app)
        # Typer turns Ctrl-C into Exit(130) and returns exit codes instead of raising them.
        code = command.main(args=argv, prog_name="vidpipe", standalone_mode=False)
    except VidpipeError as exc:
        if _debug:
            raise
        _error(str(exc))
        return exc.exit_code
    except typer.Exit as exc:
        return exc.exit_code
    except _ClickException as exc:
        if type(exc).__name__ == "NoArgsIsHelpError":  # bare `vidpipe`: the help, as usual
            sys.stderr.write(exc.format_message() + "\n")
        else:
            _error(exc.format_message())
        return 2
    except (typer.Abort, KeyboardInterrupt):
        _error("interrupted")
        return 130
    except BrokenPipeError:
        _quiet_stdout()
        return 0
    except Exception as exc:
        if _debug:
            raise
        _error(f"internal error: {type(exc).__name__}: {exc} (run with --debug for details)")
        return 1
    if code == 130:
        _error("interrupted")
    return code if isinstance(code, int) else 0


def _error(message: str) -> None:
    first = " ".join(message.strip().splitlines()) or "failed"
    sys.stderr.write(f"error: {first}\n")
    sys.stderr.flush()


def _quiet_stdout() -> None:
    """After a closed pipe (`vidpipe frames x | head`), silence the interpreter's final flush."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


def _cap_malloc_arenas(arenas: int = 2) -> None:
    """glibc gives each thread that allocates its own malloc arena (up to 8 per core), and
    freed frames stay mapped in them: with the decode, letterbox, inference and encoder
    threads, two arenas hold `detect --json`'s peak RSS 4% lower at the same speed. Only the
    CLI process does this (a library call leaves malloc alone); nothing where it is not glibc."""
    if not sys.platform.startswith("linux"):
        return
    import contextlib
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").mallopt(-8, arenas)  # -8: M_ARENA_MAX


def run() -> None:
    """Console-script entry point."""
    # OpenMP threads (torch's) that spin while waiting steal the cores the decoder and encoder
    # threads need: measured 5x slower `detect` on 2 busy cores. Must be set before torch loads.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    _cap_malloc_arenas()
    signal.signal(signal.SIGINT, _raise_interrupt)
    signal.signal(signal.SIGTERM, _raise_interrupt)
    sys.exit(main())
