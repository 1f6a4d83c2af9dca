"""Fault suite: the job log directory read-only or full (issue #14).

Root ignores file modes, so both are real mounts: a read-only tmpfs, and a
tmpfs of 64 KiB. Jobs writing to their logs keep running, init keeps serving,
and (read-only case) the buffered output reaches the disk once it is writable.
"""

from __future__ import annotations

import os
import subprocess
import time

import pytest
from faults_common import can_mount, session, survived, tmpfs
from waiting import wait_for

pytestmark = pytest.mark.skipif(not can_mount(), reason="needs root to mount a tmpfs")

CHATTY = "script\n  i=0\n  while :; do echo line $i; i=$((i+1)); sleep 0.01; done\nend script\n"


def test_log_dir_read_only_then_writable():
    with session({"chatty": CHATTY}) as (init, steady):
        with tmpfs(init.log, size="1m", readonly=True):
            assert init.initctl("start", "chatty").returncode == 0
            chatty = init.main_pid("chatty")
            time.sleep(1.0)
            survived(init, steady)
            assert init.main_pid("chatty") == chatty
            assert not os.path.exists(os.path.join(init.log, "chatty.log"))
            subprocess.run(["mount", "-o", "remount,rw", init.log], check=True)
            assert init.initctl("notify-disk-writeable").returncode == 0
            path = os.path.join(init.log, "chatty.log")
            wait_for(lambda: os.path.exists(path) and os.path.getsize(path) > 0)
            with open(path) as f:
                assert f.readline() == "line 0\n"           # the buffer, not just new output
            assert init.initctl("stop", "chatty").returncode == 0
            survived(init, steady)


def test_log_dir_full():
    with session({"chatty": CHATTY, "other": "exec sleep 100000\n"}) as (init, steady):
        with tmpfs(init.log, size="64k"):
            with open(os.path.join(init.log, "filler"), "wb") as f:
                try:
                    f.write(b"\0" * 64 * 1024)
                except OSError:
                    pass                                  # ENOSPC: the disk is full
            assert init.initctl("start", "chatty").returncode == 0
            chatty = init.main_pid("chatty")
            time.sleep(1.0)
            survived(init, steady)
            assert init.main_pid("chatty") == chatty
            # other jobs still start and stop while every write fails
            assert init.initctl("start", "other").returncode == 0
            assert init.state("other").startswith("other start/running")
            assert init.initctl("stop", "other").returncode == 0
            assert init.initctl("stop", "chatty").returncode == 0
            survived(init, steady)
