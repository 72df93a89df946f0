"""Exceptions a user can cause; the CLI turns each into one `error:` line and exit code 2.
Also `number_option`, the type check of a numeric option that raises the InputError."""

from __future__ import annotations

from typing import Any, TypeVar

_Number = TypeVar("_Number", int, float)


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


def number_option(flag: str, value: Any, kind: type[_Number]) -> _Number:
    """`value` as `kind` when it is one: an int for int, an int or a float for float (bool is
    neither); else InputError "--<flag> must be an integer" / "--<flag> must be a number".
    The range is the caller's to check.

    >>> number_option("conf", 1, float), number_option("crf", 23, int)
    (1.0, 23)
    >>> number_option("crf", 23.0, int)
    Traceback (most recent call last):
    ...
    vidpipe.errors.InputError: --crf must be an integer
    """
    if isinstance(value, bool) or not isinstance(value, (int, float) if kind is float else int):
        raise InputError(f"--{flag} must be {'a number' if kind is float else 'an integer'}")
    return kind(value)
