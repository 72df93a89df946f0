"""Input resolution: what counts as a local video file, which network URLs may be opened (only
when asked), and the options every open of an input gets.

Every decoder and prober calls `resolve_input` first, so a user's path is never handed to
FFmpeg as a URL (`http://...`), a protocol (`concat:a|b`, `pipe:`) or an option (`-i`)
unless the caller opted in (`allow_urls`, the CLI's `--allow-url`); even then only the
network schemes of `NETWORK_SCHEMES`, each opened with FFmpeg's `protocol_whitelist` limited
to the protocols it needs, so a redirect or a playlist cannot reach `file:`, `concat:`,
`pipe:` or `subfile:`. `check_open_options` holds the rules of how an input is read
(--backend, --timeout, --reconnect, --hwaccel). `open_options` gives every open its options: a local
file's name is taken literally (`LITERAL_NAME_OPTIONS`); a URL gets the whitelist and FFmpeg's I/O
timeouts. `redact` hides credentials (`rtsp://user:pass@host`, `?token=...`) wherever an
input is named: messages, logs, reports.
"""

from __future__ import annotations

import os
import re
import urllib.parse
from pathlib import Path

from vidpipe.errors import InputError

BACKOFF_FIRST_S = 0.5  # a live stream's wait before its first reconnection (`vidpipe.io.live`)
BACKOFF_MAX_S = 8.0  # the wait doubles up to this


def backoff_waits() -> list[float]:
    """The waits before the reconnections in a row, first to longest (0.5, 1, .. 8 s)."""
    waits = [BACKOFF_FIRST_S]
    while waits[-1] * 2 <= BACKOFF_MAX_S:
        waits.append(waits[-1] * 2)
    return waits


# "scheme:" at the start, as FFmpeg's protocol detection sees it (letters, digits, + - .),
# and its one exception: "subfile,,start,N,end,M,,:URL".
_PROTOCOL = re.compile(r"^(?:[A-Za-z][A-Za-z0-9+.\-]*|subfile,[^:]*):")

# Demuxer options for opening a resolved input. FFmpeg's image2 demuxer (still images: .png,
# .jpg, ...) reads `%d` (`%03d`, ...) in a file name as a frame-number pattern and `%*` as a
# glob, so `shot%d.png` would open `shot1.png`, another file; "none" takes the name as it is.
# Other demuxers ignore the option. (The ffmpeg CLI refuses an option its demuxer does not
# use: there it goes with `-f image2` only, see `ffmpeg_cmd.decode_argv`.)
LITERAL_NAME_OPTIONS = {"pattern_type": "none"}

# scheme -> FFmpeg's protocol_whitelist for it: what the scheme's own protocol opens below it
# (TLS, TCP, RTP over UDP, ...). Nothing else is ever opened for a URL, redirects included.
NETWORK_SCHEMES = {
    "http": "http,https,tcp,tls,crypto",
    "https": "http,https,tcp,tls,crypto",
    "rtsp": "rtsp,rtsps,rtp,srtp,udp,tcp,tls",
    "rtsps": "rtsp,rtsps,rtp,srtp,udp,tcp,tls",
    "rtmp": "rtmp,rtmps,tcp,tls",
    "srt": "srt,udp",
    "udp": "udp,rtp",
    "tcp": "tcp",
}
# Video4Linux capture devices (webcams, capture cards), opened with --allow-url too.
_DEVICE = re.compile(r"^/dev/video\d+$")
NETWORK_TIMEOUT_S = 30.0  # a URL's open and each read, unless the caller says (--timeout)
BACKENDS: tuple[str, ...] = ("av", "ffmpeg")  # the decoders, the default first
HWACCELS: tuple[str, ...] = ("auto", "none", "cuda")  # --hwaccel (`vidpipe.io.hwaccel`)
_SECRET_KEYS = re.compile(r"pass|pwd|token|secret|key|auth|sig|credential", re.IGNORECASE)


def looks_like_url(text: str) -> bool:
    """True when FFmpeg would take `text` as a URL or protocol rather than a plain file name.

    A Windows drive letter ("C:\\clip.mp4") is not a protocol.
    """
    return bool(_PROTOCOL.match(text)) and not re.match(r"^[A-Za-z]:[\\/]", text)


def is_url(text: str) -> bool:
    """Whether a resolved input is a network URL (a local file resolves to an absolute path)."""
    return looks_like_url(text) and not os.path.isabs(text)


def is_device(text: str) -> bool:
    """Whether a resolved input is a V4L2 capture device (`/dev/video0`)."""
    return bool(_DEVICE.match(text))


def is_stream(text: str) -> bool:
    """Whether a resolved input is read as it comes, never through to count or seek: a
    network URL or a capture device."""
    return is_url(text) or is_device(text)


def redact(text: str) -> str:
    """`text` with a URL's credentials hidden: the user and password (`user:pass@`) and the
    values of query parameters named like secrets (password, token, key, auth, sig)."""
    if not looks_like_url(text):
        return text
    try:
        parts = urllib.parse.urlsplit(text)
    except ValueError:
        return text.split("@")[-1] if "@" in text else text
    netloc = parts.netloc
    if "@" in netloc:
        netloc = "***@" + netloc.rpartition("@")[2]
    query = "&".join(
        f"{key}=***" if _SECRET_KEYS.search(key) else f"{key}={value}" if sep else key
        for key, sep, value in (item.partition("=") for item in parts.query.split("&") if item)
    )
    if (netloc, query) == (parts.netloc, parts.query):
        return text  # nothing hidden: as given, character for character
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def check_url(text: str) -> str:
    """`text` when it is a URL of a scheme in NETWORK_SCHEMES with a host; else InputError."""
    scheme = text.partition(":")[0].lower()
    if scheme not in NETWORK_SCHEMES:
        raise InputError(
            f"{redact(text)}: the {scheme.split(',')[0]}: protocol is refused; "
            f"--allow-url opens {', '.join(NETWORK_SCHEMES)} URLs"
        )
    try:
        host = urllib.parse.urlsplit(text).hostname
    except ValueError:
        host = None
    if not host:
        raise InputError(f"{redact(text)}: not a {scheme} URL (no host)")
    return text


def open_options(resolved: str, timeout_s: float | None = None) -> dict[str, str]:
    """FFmpeg's options for opening a resolved input: a file's name taken literally; a URL's
    protocol whitelist and I/O timeout (`timeout_s`, else NETWORK_TIMEOUT_S: every blocking
    read or write of its connection); RTSP over TCP."""
    if is_device(resolved):
        return {}
    if not is_url(resolved):
        return dict(LITERAL_NAME_OPTIONS)
    scheme = resolved.partition(":")[0].lower()
    micros = str(round((timeout_s or NETWORK_TIMEOUT_S) * 1e6))
    options = {"protocol_whitelist": NETWORK_SCHEMES[scheme], "rw_timeout": micros}
    if scheme in ("rtsp", "rtsps"):
        options["timeout"] = micros  # the RTSP demuxer's own socket timeout
        # RTP interleaved in the RTSP connection: nothing lost on the way (lost UDP packets
        # would be concealed into damaged frames), and through NAT and firewalls.
        options["rtsp_transport"] = "tcp"
    return options


def resolve_input(path: str | os.PathLike[str], *, allow_urls: bool = False) -> str:
    """Check an input and return the string to give FFmpeg.

    Local files come back as absolute paths, so a name starting with "-" or containing ":"
    can never be read as an option or a protocol. URLs and protocols are refused with an
    `InputError` unless `allow_urls` is set; then a URL of NETWORK_SCHEMES comes back
    unchanged and any other protocol is still refused; so does a V4L2 capture device
    (`/dev/video0`).
    """
    text = os.fspath(path)
    if not text:
        raise InputError("empty input path")
    if looks_like_url(text) and not Path(text).exists():
        if allow_urls:
            return check_url(text)
        raise InputError(
            f"{redact(text)}: URLs and FFmpeg protocols are refused (only local files; "
            "--allow-url opens network inputs)"
        )
    p = Path(text)
    if not p.exists():
        raise InputError(f"{text}: no such file")
    if is_device(text) and p.is_char_device():
        if allow_urls:
            return text
        raise InputError(f"{text}: a capture device; --allow-url opens V4L2 devices")
    if p.is_dir():
        raise InputError(f"{text}: is a directory, not a video file")
    if not p.is_file():
        raise InputError(f"{text}: not a regular file")
    if p.stat().st_size == 0:
        raise InputError(f"{text}: empty file (0 bytes)")
    if not os.access(p, os.R_OK):
        raise InputError(f"{text}: permission denied")
    return str(p.resolve())


def check_open_options(
    backend: str = "av", timeout: float | None = None, reconnect: int = 0, hwaccel: str = "auto"
) -> None:
    """InputError naming the bad option of how an input is read: --backend (one of
    `BACKENDS`), --timeout (> 0 seconds), --reconnect (>= 0) or --hwaccel (one of
    `HWACCELS`). `Source` checks with it, and `vidpipe batch` before any job starts."""
    if backend not in BACKENDS:
        raise InputError(f"--backend must be {' or '.join(BACKENDS)}, not {backend!r}")
    if hwaccel not in HWACCELS:
        names = f"{', '.join(HWACCELS[:-1])} or {HWACCELS[-1]}"
        raise InputError(f"--hwaccel must be {names}, not {hwaccel!r}")
    if timeout is not None and not timeout > 0:
        raise InputError(f"--timeout must be > 0 seconds, got {timeout}")
    if reconnect < 0:
        raise InputError(f"--reconnect must be >= 0, got {reconnect}")
