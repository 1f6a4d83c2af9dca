"""A file descriptor that becomes readable when someone sets the wall clock.

A CLOCK_REALTIME timerfd armed far in the future with
TFD_TIMER_CANCEL_ON_SET: the kernel cancels it (read fails with ECANCELED)
whenever the realtime clock is set discontinuously (settimeofday,
clock_settime, NTP steps), which wakes the loop at once instead of at its
next planned tick. Python 3.11 has no timerfd API, hence ctypes. Optional:
`ClockWatch.open()` returns None where the call is unavailable, and the
planner's own wall/monotonic comparison still catches every jump on the next
tick. Never interprets the jump (the planner does).
"""

from __future__ import annotations

import ctypes
import os

CLOCK_REALTIME = 0
TFD_CLOEXEC = 0o2000000
TFD_NONBLOCK = 0o4000
TFD_TIMER_ABSTIME = 1
TFD_TIMER_CANCEL_ON_SET = 2


class _Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


class _Itimerspec(ctypes.Structure):
    _fields_ = [("it_interval", _Timespec), ("it_value", _Timespec)]


class ClockWatch:
    def __init__(self, libc, fd: int):
        self._libc = libc
        self.fd = fd

    @classmethod
    def open(cls) -> "ClockWatch | None":
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            fd = libc.timerfd_create(CLOCK_REALTIME, TFD_CLOEXEC | TFD_NONBLOCK)
        except (OSError, AttributeError):
            return None
        if fd < 0:
            return None
        watch = cls(libc, fd)
        if not watch.arm():
            os.close(fd)
            return None
        return watch

    def arm(self) -> bool:
        spec = _Itimerspec()
        spec.it_value.tv_sec = 2 ** 31 - 1          # far future: never expires
        rc = self._libc.timerfd_settime(self.fd, TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET,
                                        ctypes.byref(spec), None)
        return rc == 0

    def fileno(self) -> int:
        return self.fd

    def acknowledge(self) -> bool:
        """Call when readable: True if the clock was set; re-arms the watch."""
        try:
            os.read(self.fd, 8)
        except BlockingIOError:
            return False
        except OSError:
            self.arm()
            return True
        return False

    def close(self) -> None:
        os.close(self.fd)
