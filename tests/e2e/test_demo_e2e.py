"""`make demo` as a user runs it: init as PID 1 with the stock jobs, a few
commands, a clean power-off, and no stock job failing on the way."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("unshare"),
                    reason="the demo needs root and unshare (PID, mount, network namespaces)")
def test_demo_boots_runs_the_stock_jobs_and_powers_off_clean():
    env = {k: v for k, v in os.environ.items() if k != "UPSTART_DEMO_INNER"}
    out = subprocess.run([sys.executable, "-m", "upstart.demo"], capture_output=True,
                         text=True, timeout=300, env=env)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    log = out.stdout.split("init's log (/dev/kmsg):", 1)[1]
    assert "Will now power off" in log
    # every program a stock job runs is there: nothing fails to execute or flaps
    assert "status 127" not in log and "respawning too fast" not in log, log
