"""Shared helpers of the fault suite: a session init with a steady bystander
job, the three checks every fault test ends with, and bounded mounts.

Every fault test starts a real `init --user` (tests/support/init_harness.py), starts
`steady` (a plain service) before the fault, and ends with `survived()`:
init is alive, `initctl status` answers, and steady's pid did not change.
Everything started is killed and every mount undone, even on failure.
"""

from __future__ import annotations

import contextlib
import os
import subprocess

from init_harness import SessionInit

STEADY = "exec sleep 100000\n"


@contextlib.contextmanager
def session(jobs: dict[str, str], **kw):
    """A session init with `steady` running; yields (init, steady's pid)."""
    jobs = {"steady": STEADY, **jobs}
    with SessionInit(jobs=jobs, **kw) as init:
        assert init.initctl("start", "steady").returncode == 0
        yield init, init.main_pid("steady")


def survived(init: SessionInit, steady_pid: int) -> None:
    """The three checks: init alive, responsive, bystander untouched."""
    assert init.proc.poll() is None, "init died:\n" + init.init_log()
    assert init.state("steady") == f"steady start/running, process {steady_pid}"
    assert os.path.exists(f"/proc/{steady_pid}")


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


@contextlib.contextmanager
def tmpfs(path: str, size: str = "1m", readonly: bool = False):
    """A small tmpfs mounted on `path` (root only), always unmounted."""
    os.makedirs(path, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", path],
                   check=True)
    try:
        if readonly:
            subprocess.run(["mount", "-o", "remount,ro", path], check=True)
        yield path
    finally:
        subprocess.run(["umount", "-l", path], check=False)


def can_mount() -> bool:
    return os.geteuid() == 0
