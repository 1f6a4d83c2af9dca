"""Idle means asleep (issue #23 item 6): a Session Init with a few jobs
running and nothing happening makes no voluntary context switch over a window,
with its log directory and without one (at boot before /var/log is mounted:
no polling tick, the directory's appearance is an inotify event on its
parent). The window is short here (`UPSTART_IDLE_WINDOW`, 5 s by default);
`make bench` measures 20 s (bench/idle.py)."""

from __future__ import annotations

import os

import pytest
from idle import JOBS, idle_wakeups
from init_harness import SessionInit

WINDOW = float(os.environ.get("UPSTART_IDLE_WINDOW", "5"))

@pytest.mark.parametrize("logdir", ["present", "missing"])
def test_idle_init_does_not_wake_up(tmp_path, logdir):
    args = ("--no-startup-event",)
    if logdir == "missing":
        args += ("--logdir", str(tmp_path / "not-yet" / "upstart"))
    with SessionInit(JOBS, args=args) as init:
        assert idle_wakeups(init, WINDOW) == 0


def test_a_log_directory_that_appears_later_gets_the_logs(tmp_path):
    """No polling, yet nothing lost: when the directory is made, the buffered
    job output is written (an inotify event on the parent)."""
    logdir = tmp_path / "not-yet" / "upstart"
    with SessionInit(JOBS, args=("--no-startup-event", "--logdir", str(logdir))) as init:
        assert init.initctl("start", "chatty").returncode == 0
        init.wait_for(lambda: "running" in init.status("chatty"))
        os.makedirs(logdir)
        init.wait_for(lambda: (logdir / "chatty.log").exists()
                      and "hello from chatty" in (logdir / "chatty.log").read_text())
