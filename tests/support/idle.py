"""Idle means asleep (issue #23 item 6): how many times an init woke up while
nothing happened. Shared by tests/e2e/test_idle_e2e.py (a short window) and
bench/idle.py (20 s)."""

from __future__ import annotations

import time

JOBS = {
    "quiet": "exec sleep 100000\n",
    "chatty": "console log\nexec sh -c 'echo hello from chatty; exec sleep 100000'\n",
    "abstract": "start on go\n",
    "done": "task\nconsole log\nexec echo a task that has finished\n",
}


def switches(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("voluntary_ctxt_switches:"):
                return int(line.split()[1])
    raise AssertionError("no voluntary_ctxt_switches")


def settled(pid: int, quiet: float = 0.5, timeout: float = 15) -> None:
    """Until init has been asleep for `quiet` seconds (what the starts left
    behind is done): a witness, not a measurement."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        before = switches(pid)
        time.sleep(quiet)
        if switches(pid) == before:
            return
    raise AssertionError(f"init never slept for {quiet} s")


def idle_wakeups(init, window: float) -> int:
    """Start a few jobs, wait until init sleeps, then count its voluntary
    context switches over `window` seconds."""
    for job in ("quiet", "chatty", "done"):
        assert init.initctl("start", job).returncode == 0
    assert init.initctl("emit", "go").returncode == 0
    init.wait_for(lambda: "running" in init.status("chatty") and "running" in init.status("quiet")
                  and "running" in init.status("abstract") and "waiting" in init.status("done"))
    pid = init.proc.pid
    settled(pid)
    before = switches(pid)
    time.sleep(window)
    return switches(pid) - before
