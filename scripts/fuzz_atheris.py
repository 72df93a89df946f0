"""Coverage-guided fuzzing of vidpipe's decode entry point with atheris (libFuzzer), by hand:

    pip install atheris
    mkdir -p fuzz-corpus
    python scripts/fuzz_atheris.py -max_total_time=600 -timeout=20 fuzz-corpus sample_media

libFuzzer writes new inputs to the first folder and starts from the files of the others (the
sample clips). Each input is written to a file in a private temporary folder and goes through
`vidpipe.io.probe.probe` and every frame of `vidpipe.io.decode.decode` (the PyAV backend;
`VIDPIPE_FUZZ_BACKEND=ffmpeg` for the subprocess one, much slower). A `VidpipeError` (what
the CLI reports as one `error:` line, exit 2) and a warning are expected outcomes; any other
exception is a finding, saved by libFuzzer as `crash-*`; `-timeout` catches hangs. Only
vidpipe's Python code is instrumented (FFmpeg's C code is not), so the search is guided by
vidpipe's branches, starting from real clips. The CI fuzzing is tests/hardening/test_fuzz.py.
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile

import atheris

with atheris.instrument_imports(include=["vidpipe"]):
    from vidpipe.errors import VidpipeError
    from vidpipe.io.decode import decode
    from vidpipe.io.probe import probe

BACKEND = os.environ.get("VIDPIPE_FUZZ_BACKEND", "av")
WORKDIR = tempfile.mkdtemp(prefix="vidpipe-atheris-")
INPUT = os.path.join(WORKDIR, "input")


def one_input(data: bytes) -> None:
    """probe + decode of one input; anything but a VidpipeError propagates (a finding)."""
    with open(INPUT, "wb") as f:
        f.write(data)
    try:
        info = probe(INPUT)
        for _frame in decode(INPUT, backend=BACKEND, info=info):  # type: ignore[arg-type]
            pass
    except VidpipeError:
        pass


def main() -> None:
    logging.getLogger("vidpipe").setLevel(logging.ERROR)  # damage warnings are expected
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
