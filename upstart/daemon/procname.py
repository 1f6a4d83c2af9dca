"""init's process name, kept `init` across a re-exec (as 1.13: `pgrep -x init`).

`name_process()` sets the kernel's name for the process (comm, what `pgrep -x`
and `ps -o comm` see) to `init`, however the interpreter was started, and
makes the command line (`/proc/PID/cmdline`, `ps -f`, `pidof init`) read
`init ARGS` rather than `python3 /sbin/init ARGS` (the kernel starts a
script as its interpreter): with CAP_SYS_RESOURCE (PID 1 on a real machine)
the kernel's argv bounds are pointed at a copy (exact); without it the
original argv memory is rewritten in place, as setproctitle(3) does, and the
kernel shows the shorter line followed by NULs (empty arguments at the end;
the setproctitle library cannot help here: it makes one string, and
`pidof` needs argv[0] on its own).
`exec_argv(argv0)` is what a re-exec runs: the same `init` program it was
started as when that is an executable file (so comm is `init` from the exec
on and `sys.argv[0]` stays init's path), else the interpreter on our module.
"""

from __future__ import annotations

import ctypes
import os
import sys

PR_SET_NAME = 15
PR_SET_MM, PR_SET_MM_ARG_START, PR_SET_MM_ARG_END = 35, 8, 9
NAME = b"init"
_cmdline = None        # the new command line's memory: must live as long as init


def name_process(argv: list[str] | None = None) -> None:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_NAME, ctypes.c_char_p(NAME), 0, 0, 0)
    except (OSError, AttributeError):
        return
    _name_command_line(libc, sys.argv if argv is None else argv)


def command_line(argv: list[str]) -> bytes:
    """What `/proc/PID/cmdline` should hold: init's program (`init` when we
    run as `python -m`) and its arguments, each NUL-terminated."""
    prog = argv[0] if argv and os.path.basename(argv[0]) in ("init", "upstart") else "init"
    return b"".join(os.fsencode(a) + b"\0" for a in [prog, *argv[1:]])


def _name_command_line(libc, argv: list[str]) -> bool:
    global _cmdline
    try:
        with open("/proc/self/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
        old_start, old_end = int(fields[45]), int(fields[46])   # stat fields 48, 49
    except (OSError, IndexError, ValueError):
        return False
    buf = ctypes.create_string_buffer(command_line(argv))
    start = ctypes.addressof(buf)
    end = start + len(buf.raw) - 1              # create_string_buffer adds one NUL
    # the kernel wants arg_start <= arg_end after each call: move the side first
    # that keeps it so
    order = ((PR_SET_MM_ARG_END, end), (PR_SET_MM_ARG_START, start)) if start > old_end \
        else ((PR_SET_MM_ARG_START, start), (PR_SET_MM_ARG_END, end))
    prctl = libc.prctl
    prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong,
                      ctypes.c_ulong]
    for what, addr in order:
        if prctl(PR_SET_MM, what, addr, 0, 0) != 0:
            if what == order[1][0]:              # half moved: put the first one back
                prctl(PR_SET_MM, order[0][0],
                      old_end if order[0][0] == PR_SET_MM_ARG_END else old_start, 0, 0)
            return _rewrite_in_place(old_start, old_end, buf.raw[:-1])
    _cmdline = buf
    return True


def _rewrite_in_place(start: int, end: int, line: bytes) -> bool:
    """No capability: write `line` over the original argv, NULs after it. Only
    when the memory there is what the kernel says our command line is."""
    size = end - start
    if len(line) > size:
        return False
    try:
        with open("/proc/self/cmdline", "rb") as f:
            current = f.read()
    except OSError:
        return False
    if len(current) != size or ctypes.string_at(start, size) != current:
        return False
    ctypes.memmove(start, line + b"\0" * (size - len(line)), size)
    return True


def exec_argv(argv0: str) -> list[str]:
    """argv (program first) that runs init again, for `os.execv(argv[0], argv)`."""
    path = os.path.abspath(argv0) if argv0 else ""
    if os.path.basename(path) in ("init", "upstart") and os.access(path, os.X_OK) \
            and os.path.isfile(path):
        return [path]
    return [sys.executable, "-m", "upstart.cli.init"]
