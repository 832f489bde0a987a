"""Quiet TensorFlow start-up lines for the ``keras-t2i`` command (not for library users).

On a CPU machine every command used to print, before doing anything, lines such as
``failed call to cuInit: … UNKNOWN ERROR (303)`` and ``oneDNN supports DT_BOOL only on
platforms with AVX-512``: harmless (TensorFlow looks for a GPU that is not there; oneDNN falls
back to Eigen for boolean ops), but a user reads "ERROR". ``TF_CPP_MIN_LOG_LEVEL`` cannot hide
them: in TF 2.21 the INFO lines of ``import tensorflow`` are written by absl before TensorFlow
reads the variable, and those two lines are ERROR-level, which only level 3 would hide, along
with real errors. So the command line filters its own standard error: file descriptor 2 goes
through a pipe, and a thread forwards every line except TensorFlow's INFO and WARNING lines
(what level 2 would hide) and the known-benign lines below. Real errors, Python warnings and
tracebacks pass unchanged. ``--verbose`` or a ``TF_CPP_MIN_LOG_LEVEL`` of the user's own turns
the filter off.
"""

from __future__ import annotations

import atexit
import os
import re
import sys
import threading

# TensorFlow/absl C++ log lines: "I0000 00:00:1796192263.105248    4097 port.cc:153] …".
_CPP_LINE = re.compile(rb"^([IWEF])\d{4} \d\d:\d\d:\d+\.\d+\s+\d+ \S+:\d+\] (.*)")
_BENIGN_ERRORS = (
    re.compile(rb"failed call to cuInit"),  # no GPU on this machine
    re.compile(rb"oneDNN supports DT_BOOL only on platforms with AVX-512"),  # Eigen fallback
)
_BENIGN_LINES = (
    re.compile(rb"^WARNING: All log messages before absl::InitializeLog\(\) is called"),
    # The second line of cpu_feature_guard's INFO message.
    re.compile(rb"^To enable the following instructions: .* rebuild TensorFlow"),
)


def is_benign(line: bytes) -> bool:
    """Whether the command line hides this standard-error line (see the module docstring)."""
    cpp = _CPP_LINE.match(line)
    if cpp:
        level, message = cpp.groups()
        return level in (b"I", b"W") or any(p.search(message) for p in _BENIGN_ERRORS)
    return any(p.search(line) for p in _BENIGN_LINES)


def launched_as_cli() -> bool:
    """Whether this process is the ``keras-t2i`` command (its console script)."""
    return bool(sys.argv) and os.path.basename(sys.argv[0]) in ("keras-t2i", "keras-t2i.exe")


def install(argv) -> bool:
    """Filters file descriptor 2 for the rest of the process, unless ``--verbose`` is in
    ``argv`` or the user set ``TF_CPP_MIN_LOG_LEVEL``. Returns whether it did."""
    if "TF_CPP_MIN_LOG_LEVEL" in os.environ:
        return False
    if "--verbose" in argv:
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "0"
        return False
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
    try:
        original = os.dup(2)
        read_end, write_end = os.pipe()
    except OSError:  # no usable standard error: nothing to filter
        return False
    os.dup2(write_end, 2)
    os.close(write_end)
    thread = threading.Thread(target=_forward, args=(read_end, original), daemon=True,
                              name="keras-t2i-stderr")
    thread.start()

    def restore():
        # Our end of the pipe closes with fd 2; the thread then sees end of file and finishes.
        try:
            sys.stderr.flush()
        except (OSError, ValueError):
            pass
        os.dup2(original, 2)
        thread.join(timeout=2.0)

    atexit.register(restore)
    return True


def _forward(read_end: int, target: int):
    with os.fdopen(read_end, "rb", buffering=0) as pipe:
        pending = b""
        while True:
            chunk = pipe.read(65536)
            if not chunk:
                break
            pending += chunk
            *lines, pending = pending.split(b"\n")
            out = b"".join(line + b"\n" for line in lines if not is_benign(line))
            if out:
                os.write(target, out)
        if pending and not is_benign(pending):
            os.write(target, pending)
