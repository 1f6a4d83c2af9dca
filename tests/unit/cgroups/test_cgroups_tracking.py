"""Automatic tracking cgroups (issue #26, docs/design/tracking.md): the
default policy, and the manager's half on this machine's real hierarchies
below a unique test parent."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest

from upstart.cgroups import fs
from upstart.cgroups.lazy import tracking_default
from upstart.cgroups.manager import CGroupManager
from upstart.core.effects import SpawnRequest
from upstart.daemon.options import parse_options
from upstart.jobfile.model import Process
from upstart.jobfile.parser import parse_job
import cgroup_fixtures

INIT_PID_NS = 0xEFFFFFFC


def test_default_is_on_only_for_the_machines_own_init():
    def ns(inode):
        return lambda kind: inode if kind == "pid" else 1
    assert tracking_default(session_init=False, pid=1, ns_inode=ns(INIT_PID_NS))
    assert not tracking_default(session_init=False, pid=1, ns_inode=ns(12345))  # a pid ns
    assert not tracking_default(session_init=True, pid=1, ns_inode=ns(INIT_PID_NS))
    assert not tracking_default(session_init=False, pid=77, ns_inode=ns(INIT_PID_NS))


def test_options():
    assert parse_options([]).job_tracking is None
    assert parse_options(["--job-tracking"]).job_tracking is True
    assert parse_options(["--no-job-tracking"]).job_tracking is False


@pytest.fixture
def base():
    if os.geteuid() != 0:
        pytest.skip("needs root to write cgroupfs")
    name = cgroup_fixtures.unique_name("upstart-unit-track")
    made = cgroup_fixtures.make_everywhere(name, fs.discover("/"))
    yield name
    for path in made:
        cgroup_fixtures.remove(path)


def _request(job="j", slot="main", text="exec sleep 1000\n") -> SpawnRequest:
    return SpawnRequest(job, "", slot, Process(command="sleep 1000", script=False), (),
                        parse_job(text, job))


def test_a_job_without_stanza_gets_only_its_tracking_cgroup(base):
    logs = []
    m = CGroupManager(fs.discover("/" + base), track_all=True,
                      log=lambda p, t: logs.append(t))
    if not m.can_track():
        pytest.skip("no writable unified or freezer hierarchy")
    files = m.prepare(_request("web"))
    assert len(files) == 1 and files[0].endswith(f"/{base}/upstart/web/cgroup.procs")
    assert m.home_procs(files[0]) is not None
    child = subprocess.Popen(["sh", "-c", f"echo $$ > {files[0]}; exec sleep 1000"])
    try:
        deadline = time.monotonic() + 5
        while m.owner(child.pid) is None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert m.owner(child.pid) == ("web", "")
        assert m.kill(child.pid, signal.SIGKILL)
        assert child.wait(5) == -signal.SIGKILL
    finally:
        child.kill()
        child.wait()
    m.state_changed("web", "", "waiting")        # was signalled: nothing left, removed
    assert not os.path.exists(os.path.dirname(files[0]))
    assert logs == []


def test_without_track_all_a_job_without_stanza_gets_nothing(base):
    m = CGroupManager(fs.discover("/" + base))
    assert m.prepare(_request("web")) == ()


def test_kill_mode_group_with_a_stanza_kills_the_group_and_releases_the_rest(base):
    m = CGroupManager(fs.discover("/" + base), log=lambda p, t: None)
    if not m.can_track():
        pytest.skip("no writable unified or freezer hierarchy")
    files = m.prepare(_request("g", text="cgroup pids\nkill mode group\nexec sleep 1000\n"))
    assert files
    child = subprocess.Popen(["sh", "-c", "".join(f"echo $$ > {f}; " for f in files)
                              + "exec sleep 1000"])
    try:
        deadline = time.monotonic() + 5
        while m.owner(child.pid) is None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert m.owner(child.pid) == ("g", "")
        assert not m.kill(child.pid, signal.SIGTERM)      # the caller kills the group
        m.state_changed("g", "", "waiting")                # survivors moved out, not killed
        assert child.poll() is None
        assert all(not os.path.exists(os.path.dirname(f)) for f in files)
    finally:
        child.kill()
        child.wait()
