"""cgroupfs discovery (pure parsers) and operations on the real hierarchies.

Every cgroup is made below a unique test parent and removed at the end,
after any process left in it is killed; processes started here are killed
and reaped by the test that started them.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
import uuid

import pytest

from waiting import wait_for
from upstart.cgroups import fs
from upstart.cgroups.model import V1, V2, Write
import cgroup_fixtures

MOUNTINFO = """\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
36 31 0:33 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw,nsdelegate
50 31 0:32 /lxc/c1 /mnt/mem\\040x rw - cgroup cgroup rw,memory
"""

PROC_CGROUP = """\
4:memory:/user/1
3:cpu,cpuacct:/
9:name=systemd:/init.scope
0::/user.slice/init
"""


def test_parse_mountinfo_finds_v1_and_v2_and_skips_named_hierarchies():
    mounts = fs.parse_mountinfo(MOUNTINFO)
    assert [(m.kind, m.mountpoint, sorted(m.controllers)) for m in mounts] == [
        (V1, "/sys/fs/cgroup/memory", ["memory"]),
        (V1, "/sys/fs/cgroup/cpu,cpuacct", ["cpu", "cpuacct"]),
        (V2, "/sys/fs/cgroup/unified", []),
        (V1, "/mnt/mem x", ["memory"]),
    ]
    assert mounts[3].root == "/lxc/c1"


def test_parse_proc_cgroup():
    own = fs.parse_proc_cgroup(PROC_CGROUP)
    assert own == {frozenset({"memory"}): "/user/1", frozenset({"cpu", "cpuacct"}): "/",
                   frozenset(): "/user.slice/init"}


def test_hierarchies_default_to_inits_own_cgroup_or_a_given_base():
    mounts = fs.parse_mountinfo(MOUNTINFO)
    own = fs.parse_proc_cgroup(PROC_CGROUP)
    bases = {h.mountpoint: h.base for h in fs.hierarchies(mounts, own)}
    assert bases == {"/sys/fs/cgroup/memory": "/sys/fs/cgroup/memory/user/1",
                     "/sys/fs/cgroup/cpu,cpuacct": "/sys/fs/cgroup/cpu,cpuacct",
                     "/sys/fs/cgroup/unified": "/sys/fs/cgroup/unified/user.slice/init"}
    bases = {h.mountpoint: h.base for h in fs.hierarchies(mounts, own, "/t")}
    assert bases["/sys/fs/cgroup/unified"] == "/sys/fs/cgroup/unified/t"


def test_hierarchy_mounted_from_a_subtree_maps_paths_inside_it():
    mounts = [m for m in fs.parse_mountinfo(MOUNTINFO) if m.mountpoint == "/mnt/mem x"]
    hs = fs.hierarchies(mounts, {frozenset({"memory"}): "/lxc/c1/sub"})
    assert hs[0].base == "/mnt/mem x/sub"
    assert fs.hierarchies(mounts, {frozenset({"memory"}): "/elsewhere"}) == []


# ------------------------------------------------------------ real cgroupfs

REAL = fs.discover("/")


def _real(kind: str, controller: str | None = None) -> fs.Hierarchy:
    for h in REAL:
        if h.kind == kind and (controller is None or controller in h.controllers):
            if fs.writable(h):
                return h
    pytest.skip(f"no writable {kind} {controller or ''} hierarchy on this machine")


@pytest.fixture
def scratch():
    """(hierarchy, name) factory: a unique parent per hierarchy, removed afterwards."""
    made = []

    def make(h: fs.Hierarchy) -> fs.Hierarchy:
        name = f"upstart-unit-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        path = os.path.join(h.mountpoint, name)
        os.mkdir(path)
        made.append(path)
        return fs.Hierarchy(h.kind, h.controllers, h.mountpoint, path)

    yield make
    for path in made:
        cgroup_fixtures.remove(path)


def _sleeper(cgroup_dir: str, *, sessions: int = 0) -> subprocess.Popen:
    """A shell placed into `cgroup_dir` that starts `sessions` extra sleepers in
    new sessions and then sleeps itself."""
    script = f"echo $$ > {cgroup_dir}/cgroup.procs; "
    script += "setsid sleep 1000 & " * sessions
    script += "exec sleep 1000"
    return subprocess.Popen(["sh", "-c", script])


def _wait_members(path: str, n: int) -> set[int]:
    def enough():
        got = fs.members(path)
        return got if len(got) >= n else None
    return wait_for(enough, context=lambda: f"{path}: {fs.members(path)}")


def test_v1_settings_go_through_cgroupspy(scratch):
    h = scratch(_real(V1, "memory"))
    path = fs.make(h, "upstart/j")
    fs.apply_write(V1, "memory", path, Write("memory.limit_in_bytes", str(32 << 20)))
    assert fs.read_value(V1, "memory", path, "memory.limit_in_bytes") == str(32 << 20)
    with pytest.raises(OSError):
        fs.apply_write(V1, "memory", path, Write("memory.limit_in_bytes", "lots"))


def test_v1_pids_max_on_a_controller_cgroupspy_does_not_know(scratch):
    h = scratch(_real(V1, "pids"))
    path = fs.make(h, "upstart/j")
    fs.apply_write(V1, "pids", path, Write("pids.max", "7"))
    assert fs.read(os.path.join(path, "pids.max")).strip() == "7"


def test_v2_plain_file_writes_and_subtree_control(scratch):
    h = scratch(_real(V2))
    path = fs.make(h, "upstart/j")
    assert os.path.isdir(path)
    fs.enable_v2(h, "upstart/j", set())         # nothing asked: nothing written
    with pytest.raises(OSError):
        fs.enable_v2(h, "upstart/j", {"nosuchcontroller"})
    fs.apply_write(V2, "", path, Write("cgroup.max.descendants", "3"))
    assert fs.read(os.path.join(path, "cgroup.max.descendants")).strip() == "3"


def test_cgroup_kill_takes_every_member_including_other_sessions(scratch):
    h = scratch(_real(V2))
    path = fs.make(h, "upstart/j")
    proc = _sleeper(path, sessions=2)
    try:
        members = _wait_members(path, 3)
        # the sleepers are members as soon as they are forked, and in their own
        # sessions only once `setsid` has run in them: wait for that
        for _ in range(200):
            try:
                sids = {os.getsid(p) for p in members}
            except ProcessLookupError:
                sids = set()
            if len(sids) == 3:
                break
            time.sleep(0.01)
        assert len(sids) == 3
        assert fs.kill_v2(path, signal.SIGKILL)
        proc.wait(timeout=5)
        for _ in range(200):
            if not fs.populated(path):
                break
            time.sleep(0.01)
        assert not fs.populated(path)
        assert fs.remove_tree(path)
    finally:
        proc.kill()
        proc.wait()


def test_v2_term_freezes_signals_and_thaws(scratch):
    h = scratch(_real(V2))
    path = fs.make(h, "upstart/j")
    proc = _sleeper(path, sessions=1)
    try:
        _wait_members(path, 2)
        assert fs.kill_v2(path, signal.SIGTERM)
        assert proc.wait(timeout=5) == -signal.SIGTERM
        assert fs.read(os.path.join(path, "cgroup.freeze")).strip() == "0"
        for _ in range(200):
            if not fs.populated(path):
                break
            time.sleep(0.01)
        assert not fs.populated(path)
    finally:
        proc.kill()
        proc.wait()


def test_v1_freezer_kill(scratch):
    h = scratch(_real(V1, "freezer"))
    path = fs.make(h, "upstart/j")
    proc = _sleeper(path, sessions=1)
    try:
        _wait_members(path, 2)
        assert fs.kill_v1_freezer(path, signal.SIGTERM)
        assert proc.wait(timeout=5) == -signal.SIGTERM
        assert fs.read(os.path.join(path, "freezer.state")).strip() == "THAWED"
    finally:
        proc.kill()
        proc.wait()


def test_remove_tree_refuses_while_busy_and_prune_keeps_the_base(scratch):
    h = scratch(_real(V2))
    path = fs.make(h, "upstart/j/sub")
    proc = _sleeper(path)
    try:
        _wait_members(path, 1)
        assert not fs.remove_tree(os.path.join(h.base, "upstart/j"))
    finally:
        proc.kill()
        proc.wait()
    for _ in range(200):
        if fs.remove_tree(os.path.join(h.base, "upstart/j")):
            break
        time.sleep(0.01)
    assert not os.path.exists(os.path.join(h.base, "upstart/j"))
    fs.prune(h, "upstart/j")
    assert not os.path.exists(os.path.join(h.base, "upstart"))
    assert os.path.isdir(h.base)
    assert fs.remove_tree(os.path.join(h.base, "never-made"))
