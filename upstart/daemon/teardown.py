"""PID 1's last steps before reboot(2): no process left, no file system dirty.

After the final stage has stopped every job, init (as PID 1 of a machine,
not of a container) kills what is left, reaps it, turns swap off and
unmounts what it can, then remounts the rest read-only (`/` last), so the
journal is clean and `e2fsck` has nothing to replay at the next boot. This
is what sysvinit's `sendsigs`, `umountfs` and `umountroot` scripts and
systemd-shutdown do; Upstart 1.13 left it to those scripts. Each step is
best effort: an error is logged and the next step runs.
"""

from __future__ import annotations

import ctypes
import errno
import os
import signal
import time

MS_RDONLY = 1
MS_REMOUNT = 32
MNT_DETACH = 2
# file systems with no backing store: nothing to write back
VIRTUAL = frozenset({"proc", "sysfs", "devtmpfs", "devpts", "tmpfs", "cgroup", "cgroup2",
                     "securityfs", "debugfs", "tracefs", "pstore", "bpf", "mqueue",
                     "hugetlbfs", "configfs", "fusectl", "efivarfs", "autofs", "binfmt_misc",
                     "rpc_pipefs", "nsfs", "ramfs", "rootfs", "overlay", "squashfs"})


def mounts(path: str = "/proc/self/mountinfo") -> list[tuple[str, str]]:
    """(mount point, type) of every mount, in mount order."""
    out = []
    try:
        with open(path) as f:
            for line in f:
                left, _, right = line.partition(" - ")
                fields = left.split()
                if len(fields) < 5 or not right:
                    continue
                point = fields[4].encode().decode("unicode_escape")
                out.append((point, right.split()[0]))
    except OSError:
        pass
    return out


def kill_all(deadline: float = 3.0) -> int:
    """SIGKILL every process but us, and reap them; how many were left."""
    try:
        os.kill(-1, signal.SIGKILL)
    except OSError:
        pass
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        try:
            pid, _status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return 0
        if pid == 0:
            time.sleep(0.01)
    return len([p for p in os.listdir("/proc") if p.isdigit() and p != "1" and _user(p)])


def _user(pid: str) -> bool:
    """A user-space process (kernel threads have an empty command line)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return bool(f.read(1))
    except OSError:
        return False


def release_filesystems(log) -> None:
    """Swap off; unmount the real file systems; remount what stays read-only."""
    libc = ctypes.CDLL(None, use_errno=True)
    try:
        with open("/proc/swaps") as f:
            swaps = [line.split()[0] for line in f.read().splitlines()[1:] if line.strip()]
    except OSError:
        swaps = []
    for dev in swaps:
        if libc.swapoff(dev.encode()) != 0:
            log("warn", f"swapoff {dev}: {os.strerror(ctypes.get_errno())}")
    for point, fstype in reversed(mounts()):
        if fstype in VIRTUAL:
            continue
        if point != "/" and libc.umount2(point.encode(), 0) == 0:
            continue
        if libc.mount(None, point.encode(), None, MS_REMOUNT | MS_RDONLY, None) != 0:
            err = ctypes.get_errno()
            if err not in (errno.EINVAL, errno.ENOENT):  # EINVAL: gone meanwhile
                log("warn", f"remounting {point} read-only: {os.strerror(err)}")
    os.sync()


def teardown(log) -> None:
    """kill_all, then release_filesystems; `log(priority, text)`."""
    left = kill_all()
    if left:
        log("warn", f"{left} processes still there before unmounting")
    release_filesystems(log)
