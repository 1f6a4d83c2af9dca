"""Run a command with one prctl option refused by the kernel (a seccomp filter).

    python seccomp_deny.py OPTION COMMAND [ARG...]

`prctl(OPTION, ...)` then fails with EPERM in COMMAND and everything it
execs (a seccomp filter is inherited and cannot be removed); every other
system call is untouched. The tests use it to make
`prctl(PR_SET_CHILD_SUBREAPER)` genuinely fail in a real init, the way a
confined container does, with nothing in init knowing it is tested.

`supported()` says whether this machine's architecture is known here.
"""

from __future__ import annotations

import ctypes
import errno
import os
import platform
import struct
import sys

# architecture: (AUDIT_ARCH_*, __NR_prctl)
_ARCH = {"x86_64": (0xC000003E, 157), "aarch64": (0xC00000B7, 167)}
_LD_W_ABS, _JEQ_K, _RET_K = 0x20, 0x15, 0x06
_RET_ALLOW, _RET_ERRNO = 0x7FFF0000, 0x00050000
PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 22, 2


def supported() -> bool:
    return platform.machine() in _ARCH


def _insn(code: int, jt: int, jf: int, k: int) -> bytes:
    return struct.pack("HBBI", code, jt, jf, k)


def deny_prctl(option: int) -> None:
    arch, nr = _ARCH[platform.machine()]
    program = b"".join([
        _insn(_LD_W_ABS, 0, 0, 4),              # seccomp_data.arch
        _insn(_JEQ_K, 0, 5, arch),              # another arch: allow
        _insn(_LD_W_ABS, 0, 0, 0),              # seccomp_data.nr
        _insn(_JEQ_K, 0, 3, nr),                # not prctl: allow
        _insn(_LD_W_ABS, 0, 0, 16),             # args[0], low 32 bits
        _insn(_JEQ_K, 0, 1, option),            # another option: allow
        _insn(_RET_K, 0, 0, _RET_ERRNO | errno.EPERM),
        _insn(_RET_K, 0, 0, _RET_ALLOW),
    ])
    buf = ctypes.create_string_buffer(program, len(program))

    class SockFprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    prog = SockFprog(len(program) // 8, ctypes.addressof(buf))
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(prog), 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "seccomp filter refused")


if __name__ == "__main__":
    deny_prctl(int(sys.argv[1]))
    os.execv(sys.argv[2], sys.argv[2:])
