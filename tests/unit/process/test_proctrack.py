"""The proc connector fallback of job tracking (issue #26, tracking.md) with
real processes and the real kernel connector; skipped where the kernel does
not serve this namespace (it answers only the initial user and pid ones)."""

from __future__ import annotations

import signal
import subprocess
import time

import pytest

from upstart.reactor.futures import sleep
from upstart.reactor.loop import Reactor
from upstart.process.proctrack import open_connector
from procfs import alive as _alive, pid_file

def escape(pidfile, then: str = "exec sleep 100") -> list[str]:
    """sh: after 0.2 s leave a TERM-ignoring process in a session of its own
    (its pid in `pidfile`), then `then`."""
    return ["sh", "-c", f"sleep 0.2; (setsid sh -c 'trap \"\" TERM; echo $$ > {pidfile}; "
            f"exec sleep 100' &); {then}"]


@pytest.fixture
def tracker():
    loop = Reactor()
    logs: list[str] = []
    got = open_connector(loop, lambda p, m: logs.append(m))
    if isinstance(got, str):
        loop.close()
        pytest.skip(got)
    got.logs = logs
    yield got, loop
    got.close()
    loop.close()


def _spin(loop, seconds: float) -> None:
    loop.run_until_complete(sleep(loop, seconds))




def test_forks_are_followed_and_kill_reaches_the_escaped_process(tracker, tmp_path):
    t, loop = tracker
    p = subprocess.Popen(escape(tmp_path / "esc"))
    try:
        t.follow(p.pid, ("j", ""), "main", 15, 1)
        esc = pid_file(tmp_path / "esc")
        _spin(loop, 0.05)
        assert esc in t.members(("j", ""))
        assert t.kill(p.pid, signal.SIGTERM)          # main dies; escaper ignores TERM
        p.wait(5)
        assert _alive(esc)
        began = time.monotonic()
        t.ended(("j", ""))                            # SIGKILL after kill timeout (1 s)
        deadline = time.monotonic() + 10
        while _alive(esc) and time.monotonic() < deadline:
            _spin(loop, 0.05)
        assert not _alive(esc) and time.monotonic() - began >= 0.9
        assert t.members(("j", "")) == [] and ("j", "") not in t.runs
    finally:
        p.kill()
        p.wait()


def test_a_natural_end_releases_the_leftovers(tracker, tmp_path):
    t, loop = tracker
    p = subprocess.Popen(escape(tmp_path / "esc", "exit 0"))
    t.follow(p.pid, ("t", ""), "main")
    esc = pid_file(tmp_path / "esc")
    try:
        p.wait(5)
        _spin(loop, 0.1)
        assert t.members(("t", "")) == [esc]
        t.ended(("t", ""))
        assert _alive(esc) and t.members(("t", "")) == []
        assert any("1 process(es) left by its main process released" in m for m in t.logs)
    finally:
        subprocess.run(["kill", "-9", str(esc)])


def test_the_abi_numbers_are_pyroute2s():
    from pyroute2.netlink import NETLINK_CONNECTOR
    from pyroute2.netlink.connector import cn_proc

    from upstart.process.proctrack import CnProc
    assert CnProc.NETLINK_CONNECTOR == NETLINK_CONNECTOR
    for name in ("CN_IDX_PROC", "CN_VAL_PROC", "PROC_CN_MCAST_LISTEN", "PROC_EVENT_NONE",
                 "PROC_EVENT_FORK", "PROC_EVENT_EXIT"):
        assert getattr(CnProc, name) == getattr(cn_proc, name), name


def test_retire_closes_once_nothing_is_followed(tracker, tmp_path):
    t, loop = tracker
    p = subprocess.Popen(["sleep", "0.3"])
    t.follow(p.pid, ("r", ""), "main")
    assert not t.retire() and not t.closed        # still following sleep
    p.wait(5)
    t.ended(("r", ""))                            # its exit read: nothing left, run gone
    assert not t.pids and not t.runs and t.closed
