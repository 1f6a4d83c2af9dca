"""init's process name, kept `init` across a re-exec (as 1.13: `pgrep -x init`).

`name_process()` sets the kernel's name for the process (comm, what `pgrep -x`
and `ps -o comm` see) to `init`, however the interpreter was started.
`exec_argv(argv0)` is what a re-exec runs: the same `init` program it was
started as when that is an executable file (so comm is `init` from the exec
on and `sys.argv[0]` stays init's path), else the interpreter on our module.
"""

from __future__ import annotations

import ctypes
import os
import sys

PR_SET_NAME = 15
NAME = b"init"


def name_process() -> None:
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_NAME, ctypes.c_char_p(NAME), 0, 0, 0)
    except (OSError, AttributeError):
        pass


def exec_argv(argv0: str) -> list[str]:
    """argv (program first) that runs init again, for `os.execv(argv[0], argv)`."""
    path = os.path.abspath(argv0) if argv0 else ""
    if os.path.basename(path) in ("init", "upstart") and os.access(path, os.X_OK) \
            and os.path.isfile(path):
        return [path]
    return [sys.executable, "-m", "upstart.cli.init"]
