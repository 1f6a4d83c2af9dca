"""The cgroup manager on the real hierarchies of this machine, below a unique
test parent (created and removed here); processes are killed and reaped."""

from __future__ import annotations

import os
import signal
import subprocess

import pytest

from waiting import wait_for
from upstart.cgroups import fs
from upstart.cgroups.manager import CGroupManager
from upstart.core.effects import SpawnRequest
from upstart.jobfile.model import Process
from upstart.jobfile.parser import parse_job
import cgroup_fixtures

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to write cgroupfs")


@pytest.fixture
def base():
    name = cgroup_fixtures.unique_name("upstart-unit")
    made = cgroup_fixtures.make_everywhere(name, fs.discover("/"))
    yield name
    for path in made:
        cgroup_fixtures.remove(path)


def _request(text: str, job: str = "j", instance: str = "", env=()) -> SpawnRequest:
    cls = parse_job(text, job)
    return SpawnRequest(job, instance, "main", Process(command="sleep 1000", script=False), tuple(env), cls)


def _manager(base: str, logs: list) -> CGroupManager:
    return CGroupManager(fs.discover("/" + base), log=lambda p, m: logs.append((p, m)))


def _join(procs_files) -> subprocess.Popen:
    """What the child does before exec: write itself into every cgroup.procs."""
    script = "".join(f"echo $$ > {p}; " for p in procs_files) + "exec sleep 1000"
    return subprocess.Popen(["sh", "-c", script])


def test_prepare_creates_configures_and_names_the_files_to_join(base):
    logs = []
    m = _manager(base, logs)
    if "memory" not in m.v1 or m.v2 is None:
        pytest.skip("needs a v1 memory hierarchy and the unified hierarchy")
    files = m.prepare(_request("cgroup memory $UPSTART_CGROUP limit_in_bytes 8M\n", "web", "x"))
    mem_dir = os.path.join(m.v1["memory"].base, "upstart/web-x")
    v2_dir = os.path.join(m.v2.base, "upstart/web-x")
    assert set(files) == {os.path.join(mem_dir, "cgroup.procs"),
                          os.path.join(v2_dir, "cgroup.procs")}
    assert fs.read(os.path.join(mem_dir, "memory.limit_in_bytes")).strip() == str(8 << 20)
    assert logs == []
    assert m.cleanup("web", "x")
    assert not os.path.exists(mem_dir) and not os.path.exists(v2_dir)
    assert not os.path.exists(os.path.join(m.v1["memory"].base, "upstart"))


def test_kill_signals_the_whole_instance_and_cleanup_removes_it(base):
    logs = []
    m = _manager(base, logs)
    if m.v2 is None:
        pytest.skip("needs the unified hierarchy")
    files = m.prepare(_request("cgroup pids\n"))
    proc = _join(files)
    try:
        track = os.path.join(m.v2.base, "upstart/j")
        assert wait_for(lambda: proc.pid in fs.members(track))
        assert m.owner(proc.pid) == ("j", "")
        assert m.owner(os.getpid()) is None
        assert not m.kill(os.getpid(), signal.SIGTERM)     # not a job process: caller's job
        assert m.kill(proc.pid, signal.SIGTERM)
        assert proc.wait(timeout=5) == -signal.SIGTERM
    finally:
        proc.kill()
        proc.wait()
    assert wait_for(lambda: m.cleanup("j", ""))
    assert not os.path.exists(os.path.join(m.v2.base, "upstart"))
    assert m.status("j") == []


def test_cleanup_at_waiting_kills_leftovers(base):
    m = _manager(base, [])
    if m.v2 is None:
        pytest.skip("needs the unified hierarchy")
    proc = _join(m.prepare(_request("cgroup pids\n")))
    try:
        track = os.path.join(m.v2.base, "upstart/j")
        assert wait_for(lambda: proc.pid in fs.members(track))
        m.state_changed("j", "", "stopping")      # not yet: nothing happens
        assert proc.poll() is None
        m.state_changed("j", "", "waiting")
        assert proc.wait(timeout=5) == -signal.SIGKILL
    finally:
        proc.kill()
        proc.wait()
    assert wait_for(lambda: m.cleanup("j", ""))


def test_status_reports_cgroups_memory_and_pids(base):
    m = _manager(base, [])
    if "memory" not in m.v1 or "pids" not in m.v1:
        pytest.skip("needs v1 memory and pids hierarchies")
    proc = _join(m.prepare(_request("cgroup memory\ncgroup pids\n")))
    try:
        assert wait_for(lambda: (m.status("j") or [{}])[0].get("pids") == 1)
        st = m.status("j")[0]
        assert st["instance"] == ""
        assert any(g.startswith("memory:") for g in st["cgroups"])
        assert st["memory"] > 0
    finally:
        proc.kill()
        proc.wait()
    assert wait_for(lambda: m.cleanup("j", ""))


def test_problems_are_one_warning_per_job_and_never_an_error(base):
    logs = []
    m = _manager(base, logs)
    req = _request("cgroup nosuch\ncgroup nosuch2 x\n")
    for _ in range(3):
        m.prepare(req)
    assert len(logs) == 1
    assert logs[0][0] == "warn"
    assert "nosuch is not available" in logs[0][1] and "nosuch2" in logs[0][1]
    m.close()


def test_disabled_or_without_cgroupfs_the_stanza_is_a_no_op():
    logs = []
    off = CGroupManager(fs.discover("/"), log=lambda p, m: logs.append(m), enabled=False)
    assert off.prepare(_request("cgroup memory\n")) == ()
    none = CGroupManager([], log=lambda p, m: logs.append(m))
    assert none.prepare(_request("cgroup memory\n")) == ()
    assert none.prepare(_request("exec true\n")) == ()
    assert len(logs) == 1 and "no cgroup file system" in logs[0]


def test_unwritable_hierarchy_is_a_warning(tmp_path):
    fake = fs.Hierarchy("v1", frozenset({"memory"}), str(tmp_path), str(tmp_path / "missing"))
    logs = []
    m = CGroupManager([fake], log=lambda p, msg: logs.append(msg))
    assert m.prepare(_request("cgroup memory\n")) == ()
    assert "memory is not available" in logs[0]


def test_state_survives_a_reexec_handover(base):
    import json

    old = _manager(base, [])
    if old.v2 is None:
        pytest.skip("needs the unified hierarchy")
    proc = _join(old.prepare(_request("cgroup pids\n", "svc")))
    try:
        track = os.path.join(old.v2.base, "upstart/svc")
        assert wait_for(lambda: proc.pid in fs.members(track))
        new = _manager(base, [])
        new.adopt_state(json.loads(json.dumps(old.export_state())))
        assert new.owner(proc.pid) == ("svc", "")
        assert new.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(timeout=5) == -signal.SIGKILL
    finally:
        proc.kill()
        proc.wait()
    assert wait_for(lambda: new.cleanup("svc", ""))
    assert not os.path.exists(track)


def test_a_chroot_sessions_job_has_cgroups_of_its_own(base):
    """The host's `j` and a chroot session's `j` (docs/design/sessions.md): two
    instances, two cgroups, and a session's state change cleans up only its own."""
    m = _manager(base, [])
    if m.v2 is None:
        pytest.skip("needs the unified hierarchy")
    host = _join(m.prepare(_request("cgroup pids\n")))
    inner = _join(m.prepare(_request("cgroup pids\n"), scope="/srv/c"))
    try:
        host_dir = os.path.join(m.v2.base, "upstart/j")
        inner_dir = os.path.join(m.v2.base, "chroot/%2Fsrv%2Fc/upstart/j")
        assert wait_for(lambda: host.pid in fs.members(host_dir))
        assert wait_for(lambda: inner.pid in fs.members(inner_dir))
        assert m.owner(inner.pid) == ("/srv/c:j", "")
        m.state_changed("j", "", "waiting", scope="/srv/c")
        assert inner.wait(timeout=5) == -signal.SIGKILL
        assert host.poll() is None                 # the host's j is untouched
    finally:
        for proc in (host, inner):
            proc.kill()
            proc.wait()
    assert wait_for(lambda: m.cleanup("j", "") and m.cleanup("/srv/c:j", ""))
    assert not os.path.exists(os.path.join(m.v2.base, "chroot/%2Fsrv%2Fc/upstart"))
