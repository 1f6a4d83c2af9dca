"""Inotify for init's own watches (the configuration directories, a log
directory that does not exist yet), through the libc the process already has.

Footprint (issue #23): inotify-simple costs PID 1's start `ctypes.util`
(and with it `tempfile`, `shutil`, `random`) and its enum flag classes; what
init needs of it is four system calls and one record format. Bridges and
readiness sources, which are not on the start path, keep inotify-simple.
"""

from __future__ import annotations

import ctypes
import os
import struct

ATTRIB, CLOSE_WRITE, MOVED_FROM, MOVED_TO = 0x4, 0x8, 0x40, 0x80
CREATE, DELETE, DELETE_SELF, MOVE_SELF = 0x100, 0x200, 0x400, 0x800
ONLYDIR = 0x01000000
_CLOEXEC, _NONBLOCK = os.O_CLOEXEC, os.O_NONBLOCK
_HEAD = struct.Struct("iIII")        # wd, mask, cookie, length of the name
_libc = None


def _os_error() -> OSError:
    err = ctypes.get_errno()
    return OSError(err, os.strerror(err))


class INotify:
    """One non-blocking inotify descriptor (close-on-exec)."""

    def __init__(self):
        global _libc
        if _libc is None:
            _libc = ctypes.CDLL(None, use_errno=True)
        fd = _libc.inotify_init1(_CLOEXEC | _NONBLOCK)
        if fd < 0:
            raise _os_error()
        self._fd = fd

    def fileno(self) -> int:
        return self._fd

    def add_watch(self, path: str, mask: int) -> int:
        wd = _libc.inotify_add_watch(self._fd, os.fsencode(path), mask)
        if wd < 0:
            raise _os_error()
        return wd

    def rm_watch(self, wd: int) -> None:
        if _libc.inotify_rm_watch(self._fd, wd) < 0:
            raise _os_error()

    def read(self) -> list[tuple[int, int, int, str]]:
        """The events waiting, as (wd, mask, cookie, name); [] when none."""
        try:
            data = os.read(self._fd, 65536)
        except (BlockingIOError, InterruptedError):
            return []
        out, pos = [], 0
        while pos + _HEAD.size <= len(data):
            wd, mask, cookie, size = _HEAD.unpack_from(data, pos)
            pos += _HEAD.size
            name = os.fsdecode(data[pos:pos + size].rstrip(b"\0"))
            pos += size
            out.append((wd, mask, cookie, name))
        return out

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
