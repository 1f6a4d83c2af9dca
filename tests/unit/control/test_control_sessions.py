"""Chroot sessions in the control server (docs/design/sessions.md): the scope
of each caller decides which backend answers and which object paths it sees.
A real server, a real client in a process the test chroots itself, the real
root lookup of upstart.daemon.sessions; the two backends are the in-memory
test double of the daemon."""

from __future__ import annotations

import json
import os
import tempfile

import pytest

from upstart.control import api, paths
from upstart.control.client import CallError, Connection
from control_harness import ServerThread
from membackend import MemoryBackend, ToyJob
from control_fixtures import sample_jobs
from upstart.control.signals import signal_for
from upstart.core import effects as fx
from upstart.daemon.sessions import caller_root

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="chroot needs root")

M = "/com/ubuntu/Upstart"
MI = "com.ubuntu.Upstart0_6"
JI = "com.ubuntu.Upstart0_6.Job"
II = "com.ubuntu.Upstart0_6.Instance"
PI = "org.freedesktop.DBus.Properties"
DENIED = "com.ubuntu.Upstart0_6.Error.PermissionDenied"


class Scopes:
    """The server's `sessions` hook, as the daemon's Sessions answers it."""

    def __init__(self, global_backend, sessions: dict):
        self.global_backend = global_backend
        self.sessions = sessions

    def scope(self, caller):
        root = caller_root(caller.pid)
        if root is None:
            return self.global_backend, None
        return self.sessions[root], root

    def backend_of(self, root):
        return self.sessions.get(root)

    def roots(self):
        return sorted(self.sessions)


@pytest.fixture
def world():
    root = os.path.realpath(tempfile.mkdtemp(prefix="upstart-chroot-"))
    inner = MemoryBackend([ToyJob("inner"), ToyJob("svc", description="the chroot's svc")])
    outer = MemoryBackend(sample_jobs())
    with ServerThread(outer) as st:
        st.call(setattr, st.server, "sessions", Scopes(outer, {root: inner}))
        yield st, root, inner, outer
    os.rmdir(root)


def in_chroot(root: str, address: str, calls: list[tuple]) -> list:
    """Make `calls` from a child process chrooted to `root`; their results."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:   # pragma: no cover - the child
        try:
            os.close(r)
            os.chroot(root)
            os.chdir("/")
            conn = Connection(address)
            out = []
            for call in calls:
                try:
                    out.append(["ok", conn.call(*call)])
                except CallError as exc:
                    out.append(["error", exc.name, exc.message])
            data = json.dumps(out).encode()
        except BaseException as exc:
            data = json.dumps([["crash", repr(exc)]]).encode()
        os.write(w, data)
        os._exit(0)
    os.close(w)
    chunks = []
    while chunk := os.read(r, 65536):
        chunks.append(chunk)
    os.close(r)
    os.waitpid(pid, 0)
    return json.loads(b"".join(chunks))


def test_a_chroot_caller_sees_only_its_sessions_jobs(world):
    st, root, inner, outer = world
    got = in_chroot(root, st.address, [
        (M, MI, "GetAllJobs"),
        (M, MI, "GetJobByName", "s", ("inner",)),
        (M, MI, "GetJobByName", "s", ("rc-sysinit",)),          # a global job only
        (paths.job_path("svc", root), PI, "Get", "ss", (JI, "description")),
    ])
    assert got[0][0] == "ok"
    assert sorted(got[0][1][0]) == sorted(paths.job_path(j, root) for j in ("inner", "svc"))
    assert got[1] == ["ok", ["/com/ubuntu/Upstart/jobs/" + paths.escape(root) + "/inner"]]
    assert got[2] == ["error", "com.ubuntu.Upstart0_6.Error.UnknownJob",
                      "Unknown job: rc-sysinit"]
    assert got[3] == ["ok", [["s", "the chroot's svc"]]]


def test_a_chroot_caller_controls_its_jobs_and_not_global_ones(world):
    st, root, inner, outer = world
    got = in_chroot(root, st.address, [
        (paths.job_path("inner", root), JI, "Start", "asb", ([], True)),
        (paths.job_path("svc"), JI, "Start", "asb", ([], True)),          # global path
        (paths.job_path("svc"), PI, "Get", "ss", (JI, "description")),   # looking is fine
        (M, MI, "EmitEvent", "sasb", ("ping", ["A=1"], True)),
    ])
    assert got[0] == ["ok", [paths.instance_path("inner", "", root)]]
    assert got[1] == ["error", DENIED, "You do not have permission to modify job: svc"]
    assert got[2] == ["ok", [["s", "a service"]]]
    assert got[3] == ["ok", []]
    assert inner.emitted == [("ping", ["A=1"], None)]
    assert outer.emitted == []
    assert "svc" not in outer.instances or outer.instances["svc"] == {}


def test_a_global_caller_does_not_see_or_touch_session_jobs(world):
    st, root, inner, outer = world
    conn = Connection(st.address)
    try:
        jobs = conn.call(M, MI, "GetAllJobs")[0]
        assert sorted(jobs) == sorted(paths.job_path(j.name) for j in sample_jobs())
        session_job = paths.job_path("inner", root)
        with pytest.raises(CallError) as info:
            conn.call(session_job, JI, "Start", "asb", ([], True))
        assert (info.value.name, info.value.message) == (
            DENIED, "You do not have permission to modify job: inner")
        assert conn.get_property(session_job, JI, "name") == "inner"
        # introspection shows the session's element, and under it its jobs
        xml = conn.call(paths.JOBS_PATH, api.INTROSPECTABLE_IFACE, "Introspect")[0]
        assert f'<node name="{paths.escape(root)}"/>' in xml
        xml = conn.call(paths.JOBS_PATH + "/" + paths.escape(root),
                        api.INTROSPECTABLE_IFACE, "Introspect")[0]
        assert '<node name="inner"/>' in xml and '<node name="svc"/>' in xml
    finally:
        conn.close()


def test_session_signals_carry_the_session_path():
    root = "/srv/chroot"
    path, iface, member, sig, body = signal_for(fx.StateChanged("svc", "", "running"), root)
    assert path == "/com/ubuntu/Upstart/jobs/_2fsrv_2fchroot/svc/_"
    assert (iface, member, body) == (II, "StateChanged", ("running",))
    assert signal_for(fx.JobAdded("svc"), root)[4] == (
        "/com/ubuntu/Upstart/jobs/_2fsrv_2fchroot/svc",)
    assert signal_for(fx.JobAdded("svc"))[4] == ("/com/ubuntu/Upstart/jobs/svc",)


def test_session_signals_are_broadcast_with_their_paths(world):
    st, root, inner, outer = world
    conn = Connection(st.address)
    try:
        conn.call(M, MI, "GetAllJobs")         # authenticated: signals reach us
        st.call(st.server.broadcast, fx.JobAdded("svc"), root)
        st.call(st.server.broadcast, fx.JobAdded("svc"))
        first = conn.next_signal()
        second = conn.next_signal()
        assert list(first.body) == [paths.job_path("svc", root)]
        assert list(second.body) == [paths.job_path("svc")]
    finally:
        conn.close()
