"""Raw ptrace(2) and prctl(2) calls through ctypes.

Owns only the thin wrappers and the constants; the policy of what to trace
lives in `tracer`. Every call raises `OSError` with the real errno on
failure. Linux only; must never be called for a pid we do not trace.
"""

from __future__ import annotations

import ctypes
import os

PTRACE_TRACEME = 0
PTRACE_CONT = 7
PTRACE_DETACH = 17
PTRACE_SETOPTIONS = 0x4200
PTRACE_GETEVENTMSG = 0x4201
PTRACE_GETSIGINFO = 0x4202

O_TRACEFORK = 0x02
O_TRACEVFORK = 0x04
O_TRACECLONE = 0x08
O_TRACEEXEC = 0x10

EVENT_FORK = 1
EVENT_VFORK = 2
EVENT_CLONE = 3
EVENT_EXEC = 4

PR_SET_CHILD_SUBREAPER = 36
PR_GET_CHILD_SUBREAPER = 37

# Options set on every traced process: forks (fork and vfork, including
# posix_spawn) and exec are reported; clone() of threads is not followed.
TRACE_OPTIONS = O_TRACEFORK | O_TRACEVFORK | O_TRACEEXEC

_libc = ctypes.CDLL(None, use_errno=True)
_libc.ptrace.restype = ctypes.c_long
_libc.ptrace.argtypes = (ctypes.c_long, ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p)
_libc.prctl.restype = ctypes.c_int
_libc.prctl.argtypes = (ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong,
                        ctypes.c_ulong, ctypes.c_ulong)


def _call(request: int, pid: int, addr: int | None, data) -> int:
    ctypes.set_errno(0)
    ret = _libc.ptrace(request, pid, addr, data)
    if ret == -1:
        err = ctypes.get_errno()
        if err:
            raise OSError(err, os.strerror(err))
    return ret


def traceme() -> None:
    _call(PTRACE_TRACEME, 0, None, None)


def setoptions(pid: int, options: int = TRACE_OPTIONS) -> None:
    _call(PTRACE_SETOPTIONS, pid, None, options)


def cont(pid: int, sig: int = 0) -> None:
    _call(PTRACE_CONT, pid, None, sig)


def detach(pid: int, sig: int = 0) -> None:
    _call(PTRACE_DETACH, pid, None, sig)


def geteventmsg(pid: int) -> int:
    msg = ctypes.c_ulong(0)
    _call(PTRACE_GETEVENTMSG, pid, None, ctypes.addressof(msg))
    return msg.value


def is_group_stop(pid: int) -> bool:
    """True when the tracee's current stop is a group-stop (no siginfo)."""
    buf = ctypes.create_string_buffer(128)
    try:
        _call(PTRACE_GETSIGINFO, pid, None, ctypes.addressof(buf))
    except OSError as err:
        return err.errno == 22  # EINVAL
    return False


_libc.syscall.restype = ctypes.c_long
SYS_TGKILL = {"x86_64": 234, "aarch64": 131, "i686": 270, "i386": 270,
              "armv7l": 268, "ppc64le": 250, "s390x": 241, "riscv64": 131}


def tgkill(pid: int, sig: int) -> None:
    """Send `sig` to the thread `pid` of process `pid` only (not to any thread:
    a process-directed SIGSTOP could land on an untraced thread)."""
    number = SYS_TGKILL.get(os.uname().machine)
    if number is None:
        os.kill(pid, sig)
        return
    ctypes.set_errno(0)
    if _libc.syscall(ctypes.c_long(number), ctypes.c_int(pid), ctypes.c_int(pid),
                     ctypes.c_int(sig)) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


def set_child_subreaper(on: bool) -> None:
    if _libc.prctl(PR_SET_CHILD_SUBREAPER, 1 if on else 0, 0, 0, 0) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


def is_child_subreaper() -> bool:
    val = ctypes.c_int(0)
    if _libc.prctl(PR_GET_CHILD_SUBREAPER, ctypes.addressof(val), 0, 0, 0) != 0:
        return False
    return bool(val.value)
