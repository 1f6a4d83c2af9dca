"""PID 1's early set-up: what a kernel leaves undone before init runs.

Only as PID 1 of a system: a new session, `/` as working directory, the
default PATH, and the kernel filesystems `/proc`, `/sys`, `/dev` (+`/dev/pts`)
and `/run` mounted where they are missing (a container or an initramfs
usually did it already; we never mount over something). stdio goes to
/dev/console, or /dev/null if there is none. Every failure is logged and
boot goes on.
"""

from __future__ import annotations

import ctypes
import os

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/bin:/usr/sbin:/sbin:/bin"
MS_NOSUID, MS_NODEV, MS_NOEXEC = 2, 4, 8

_MOUNTS = (
    # target, fstype, flags, data, needed when
    ("/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, "", "/proc/self"),
    ("/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "", "/sys/kernel"),
    ("/dev", "devtmpfs", MS_NOSUID | MS_NOEXEC, "mode=0755", "/dev/null"),
    ("/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "gid=5,mode=0620", "/dev/pts/ptmx"),
    ("/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755", None),
)


def _mount(source: str, target: str, fstype: str, flags: int, data: str) -> str | None:
    libc = ctypes.CDLL(None, use_errno=True)
    rc = libc.mount(source.encode(), target.encode(), fstype.encode(), flags,
                    data.encode() if data else None)
    if rc != 0:
        return os.strerror(ctypes.get_errno())
    return None


def early_setup(log) -> None:
    """`log(priority, message)` receives every problem."""
    try:
        os.setsid()
    except OSError:
        pass
    try:
        os.chdir("/")
    except OSError:
        pass
    os.environ["PATH"] = DEFAULT_PATH
    for target, fstype, flags, data, probe in _MOUNTS:
        if probe is not None and os.path.exists(probe):
            continue
        if probe is None and (not os.path.isdir(target) or os.path.ismount(target)):
            continue
        try:
            os.makedirs(target, exist_ok=True)
        except OSError:
            pass
        err = _mount("none", target, fstype, flags, data)
        if err:
            log("warn", f"Unable to mount {target} filesystem: {err}")
    _stdio()


def _stdio() -> None:
    for path in ("/dev/console", "/dev/null"):
        try:
            fd = os.open(path, os.O_RDWR | os.O_NOCTTY)
        except OSError:
            continue
        for target in (0, 1, 2):
            try:
                os.dup2(fd, target)
            except OSError:
                pass
        if fd > 2:
            os.close(fd)
        return
