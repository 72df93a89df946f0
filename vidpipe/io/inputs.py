"""Input resolution: what counts as a local video file, and refusal of URLs and protocols.

Every decoder and prober calls `resolve_input` first, so a user's path is never handed to
FFmpeg as a URL (`http://...`), a protocol (`concat:a|b`, `pipe:`) or an option (`-i`), and
opens it with `LITERAL_NAME_OPTIONS`, so a `%` in its name is never read as a pattern.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from vidpipe.errors import InputError

# "scheme:" at the start, as FFmpeg's protocol detection sees it (letters, digits, + - .),
# and its one exception: "subfile,,start,N,end,M,,:URL".
_PROTOCOL = re.compile(r"^(?:[A-Za-z][A-Za-z0-9+.\-]*|subfile,[^:]*):")

# Demuxer options for opening a resolved input. FFmpeg's image2 demuxer (still images: .png,
# .jpg, ...) reads `%d` (`%03d`, ...) in a file name as a frame-number pattern and `%*` as a
# glob, so `shot%d.png` would open `shot1.png`, another file; "none" takes the name as it is.
# Other demuxers ignore the option. (The ffmpeg CLI refuses an option its demuxer does not
# use: there it goes with `-f image2` only, see `ffmpeg_cmd.decode_argv`.)
LITERAL_NAME_OPTIONS = {"pattern_type": "none"}


def looks_like_url(text: str) -> bool:
    """True when FFmpeg would take `text` as a URL or protocol rather than a plain file name.

    A Windows drive letter ("C:\\clip.mp4") is not a protocol.
    """
    return bool(_PROTOCOL.match(text)) and not re.match(r"^[A-Za-z]:[\\/]", text)


def resolve_input(path: str | os.PathLike[str], *, allow_urls: bool = False) -> str:
    """Check an input and return the string to give FFmpeg.

    Local files come back as absolute paths, so a name starting with "-" or containing ":"
    can never be read as an option or a protocol. URLs and protocols are refused with an
    `InputError` unless `allow_urls` is set, in which case they are passed through unchanged.
    """
    text = os.fspath(path)
    if not text:
        raise InputError("empty input path")
    if looks_like_url(text) and not Path(text).exists():
        if allow_urls:
            return text
        raise InputError(f"{text}: URLs and FFmpeg protocols are refused (only local files)")
    p = Path(text)
    if not p.exists():
        raise InputError(f"{text}: no such file")
    if p.is_dir():
        raise InputError(f"{text}: is a directory, not a video file")
    if not p.is_file():
        raise InputError(f"{text}: not a regular file")
    if p.stat().st_size == 0:
        raise InputError(f"{text}: empty file (0 bytes)")
    if not os.access(p, os.R_OK):
        raise InputError(f"{text}: permission denied")
    return str(p.resolve())
