"""Exceptions a user can cause; the CLI turns each into one `error:` line and exit code 2."""

from __future__ import annotations


class VidpipeError(Exception):
    """Base class for errors that are reported to the user without a traceback."""

    exit_code = 2


class InputError(VidpipeError):
    """The input is missing, not a file, not a video, or refused (a URL or protocol)."""


class FFmpegError(VidpipeError):
    """An ffmpeg subprocess failed; the message carries the tail of its stderr."""

    def __init__(self, message: str, stderr_tail: str = "") -> None:
        self.stderr_tail = stderr_tail
        full = message if not stderr_tail else f"{message}: {stderr_tail.strip().splitlines()[-1]}"
        super().__init__(full)
