"""Run many vidpipe CLI cases in ONE Python process (fuzzing at speed).

    python fuzz_harness.py [--timeout S] CMD FILE... [-- ARG...]
    python fuzz_harness.py [--timeout S] --cases CASES.json

The first form calls `vidpipe.cli.main.main([CMD, FILE, *ARGS])` for each FILE; in ARGS,
"{stem}" becomes FILE's path without its suffix (e.g. `-o {stem}.out.mkv`). The second runs
the cases of a JSON list of {"file": FILE, "argv": [...]} (any commands, one start-up).
Each case runs in-process (the start-up and imports are paid once); one JSON object per case
is printed on stdout as soon as it ends (a harness killed from outside has still reported
every case before the one that hung):

    file, argv, code (None after a timeout), timed_out, seconds, stderr (what the command
    wrote on stderr: Python's sys.stderr and file descriptor 2), stdout_bytes, stdout (its
    last 2000 characters),
    threads (names of threads started by the case and still alive after it),
    children (child processes left after it: "pid state cmdline"),
    open_files (files under FILE's folder still open after it)

Each case runs under SIGALRM (`--timeout`, default 30 s): the alarm raises `CaseTimeout`, a
BaseException the CLI does not catch, so the stages still close on the way out.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path

_STDOUT_TAIL = 2000  # characters of a case's stdout kept in its result
_THREAD_GRACE_S = 2.0  # threads a case started may take this long to finish after it
# Threads that live for the rest of the process by design, not leaks: tqdm's monitor.
_LONG_LIVED_THREADS = frozenset({"tqdm_monitor"})


class CaseTimeout(BaseException):
    """Raised in the main thread by SIGALRM when a case runs past its time limit."""


def _on_alarm(signum: int, frame: object) -> None:
    raise CaseTimeout()


def _children() -> list[str]:
    """Child processes of this process (any thread's), live or zombie."""
    found = []
    for task in Path("/proc/self/task").iterdir():
        try:
            pids = (task / "children").read_text().split()
        except OSError:
            continue
        for pid in pids:
            try:
                stat = Path(f"/proc/{pid}/stat").read_text()
                cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            state = stat.rsplit(")", 1)[-1].split()[0]
            found.append(f"{pid} {state} {cmd.strip()}")
    return found


def _open_files(folder: Path) -> list[str]:
    """Paths under `folder` that this process holds open."""
    found = []
    prefix = str(folder.resolve())
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith(prefix + os.sep):
            found.append(target)
    return found


def _new_threads(before: set[int]) -> list[str]:
    deadline = time.monotonic() + _THREAD_GRACE_S
    while True:
        alive = [
            t
            for t in threading.enumerate()
            if t.ident not in before and t.name not in _LONG_LIVED_THREADS
        ]
        if not alive or time.monotonic() > deadline:
            return [t.name for t in alive]
        time.sleep(0.05)


def run_case(argv: list[str], timeout: float) -> dict[str, object]:
    """Run `main(argv)` with stdout discarded and stderr captured (Python and fd 2)."""
    from vidpipe.cli.main import main

    threads_before = {t.ident for t in threading.enumerate()}
    saved_stdout, saved_stderr = sys.stdout, sys.stderr
    saved_fd1, saved_fd2 = os.dup(1), os.dup(2)
    out, err = io.StringIO(), io.StringIO()
    code: int | None = None
    timed_out = False
    start = time.monotonic()
    with tempfile.TemporaryFile() as native_err, open(os.devnull, "wb") as devnull:
        os.dup2(devnull.fileno(), 1)
        os.dup2(native_err.fileno(), 2)
        sys.stdout, sys.stderr = out, err
        signal.setitimer(signal.ITIMER_REAL, timeout)
        try:
            code = main(argv)
        except CaseTimeout:
            timed_out = True
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            sys.stdout, sys.stderr = saved_stdout, saved_stderr
            os.dup2(saved_fd1, 1)
            os.dup2(saved_fd2, 2)
            os.close(saved_fd1)
            os.close(saved_fd2)
        native_err.seek(0)
        native = native_err.read().decode(errors="replace")
    return {
        "argv": argv,
        "code": code,
        "timed_out": timed_out,
        "seconds": round(time.monotonic() - start, 3),
        "stderr": err.getvalue() + native,
        "stdout_bytes": len(out.getvalue()),
        "stdout": out.getvalue()[-_STDOUT_TAIL:],
        "threads": _new_threads(threads_before),
        "children": _children(),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per case")
    parser.add_argument("--cases", type=Path, help="JSON list of {file, argv} cases")
    parser.add_argument("command", nargs="?")
    parser.add_argument("files", nargs="*")
    argv = sys.argv[1:]
    extra: list[str] = []
    if "--" in argv:
        cut = argv.index("--")
        argv, extra = argv[:cut], argv[cut + 1 :]
    args = parser.parse_args(argv)
    if args.cases is not None:
        cases = json.loads(args.cases.read_text())
    elif args.command and args.files:
        cases = [
            {
                "file": name,
                "argv": [
                    args.command,
                    name,
                    *(a.replace("{stem}", str(Path(name).with_suffix(""))) for a in extra),
                ],
            }
            for name in args.files
        ]
    else:
        parser.error("give CMD FILE... or --cases")
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as the console script does
    signal.signal(signal.SIGALRM, _on_alarm)
    for case in cases:
        result = {**case, **run_case(case["argv"], args.timeout)}
        result["open_files"] = _open_files(Path(case["file"]).parent)
        sys.stdout.write(json.dumps(result) + "\n")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
