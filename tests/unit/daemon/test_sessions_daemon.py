"""Chroot sessions in the daemon (docs/design/sessions.md): a session is its
own engine with `<root>/etc/init`, its events stay in it, and its backend
ignores the manager requests that would reach outside. A real Daemon shell
and real engines; the jobs have no processes, so nothing is chrooted here
(tests/e2e/test_chroot_sessions_e2e.py runs real chroot jobs)."""

from __future__ import annotations

import os
import shutil
import tempfile

import pytest

from upstart.control.backend import Caller
from upstart.daemon.daemon import Daemon
from upstart.daemon.options import Options
from upstart.daemon.sessions import Sessions, SessionBackend

ABSTRACT = "start on ping\n"          # no process: running as soon as started


@pytest.fixture
def daemon():
    tmp = tempfile.mkdtemp(prefix="upstart-sessions-")
    conf = os.path.join(tmp, "conf")
    root = os.path.join(tmp, "chroot")
    os.makedirs(conf)
    os.makedirs(os.path.join(root, "etc", "init"))
    for directory, jobs in ((conf, {"ping-job": ABSTRACT, "host-only": "exec true\n"}),
                            (os.path.join(root, "etc", "init"), {"ping-job": ABSTRACT,
                                                                  "inner": "exec true\n"})):
        for name, text in jobs.items():
            with open(os.path.join(directory, name + ".conf"), "w") as f:
                f.write(text)
    opts = Options(confdirs=[conf], no_log=True, no_cgroups=True, chroot_sessions=True,
                   startup_event=None, no_dbus=True)
    d = Daemon(opts, environ={"PATH": "/usr/bin:/bin"}, argv=["init"])
    d._build()
    assert d.sessions is not None       # --chroot-sessions
    d.reload_configuration(full=True)
    d.test_root = root
    try:
        yield d
    finally:
        for world in d.worlds():
            world.close()
        d.supervisor.close()
        d.loop.close()
        shutil.rmtree(tmp)


def me() -> Caller:
    return Caller(uid=os.getuid(), pid=os.getpid())


def goal_state(engine, job):
    insts = engine.instances(job)
    return engine.instance_info(job, insts[0])[:2] if insts else None


def test_a_session_has_the_jobs_of_its_root(daemon):
    session = daemon.sessions.get(daemon.test_root)
    assert isinstance(session.backend, SessionBackend)
    assert sorted(session.backend.get_all_jobs()) == ["inner", "ping-job"]
    assert sorted(daemon.backend.get_all_jobs()) == ["host-only", "ping-job"]
    assert daemon.sessions.get(daemon.test_root) is session       # made once
    assert daemon.sessions.backend_of(daemon.test_root) is session.backend
    assert daemon.sessions.roots() == [daemon.test_root]


def emit(daemon, backend, name):
    """EmitEvent wait=true: None when the engine answered at once, else a future."""
    pending = backend.emit_event(me(), name, [], True)
    if pending is not None:
        daemon.loop.run_until_complete(pending)


def test_events_stay_in_their_world(daemon):
    session = daemon.sessions.get(daemon.test_root)
    run = daemon.loop.run_until_complete
    emit(daemon, session.backend, "ping")
    assert goal_state(session.engine, "ping-job") == ("start", "running")
    assert goal_state(daemon.engine, "ping-job") is None
    run(session.backend.job_stop(me(), "ping-job", [], True))
    emit(daemon, daemon.backend, "ping")
    assert goal_state(daemon.engine, "ping-job") == ("start", "running")
    assert goal_state(session.engine, "ping-job") is None


def test_requests_reaching_outside_are_ignored_with_a_warning(daemon, capsys):
    backend = daemon.sessions.get(daemon.test_root).backend
    global_env = list(daemon.engine.env_list([]))
    assert backend.get_state(me()) == ""
    backend.set_env_list(me(), [], ["FOO=bar"], True)
    backend.unset_env_list(me(), [], ["PATH"])
    backend.reset_env(me(), [])
    assert backend.get_env(me(), [], "PATH") == ""
    backend.set_log_priority(me(), "debug")
    daemon.loop.run_until_complete(backend.restart(me()))
    daemon.loop.run_until_complete(_one_turn())     # a restart would have been called here
    assert daemon.logger.priority == "message"
    assert list(daemon.engine.env_list([])) == global_env
    assert "FOO=bar" not in backend.list_env(me(), [])
    err = capsys.readouterr().err
    for what in ("set env", "unset env", "reset env", "get env", "set log priority",
                 "restart"):
        assert f"init: Ignoring {what} request from chroot session\n" in err
    assert "init: Ignoring state query from chroot session\n" in err


async def _one_turn():
    return None


def test_reload_from_inside_rereads_the_chroot(daemon):
    session = daemon.sessions.get(daemon.test_root)
    with open(os.path.join(daemon.test_root, "etc", "init", "late.conf"), "w") as f:
        f.write("exec true\n")
    daemon.loop.run_until_complete(session.backend.reload_configuration(me()))
    assert "late" in session.backend.get_all_jobs()
    assert "late" not in daemon.backend.get_all_jobs()


def test_a_stateful_reexec_keeps_sessions(daemon):
    session = daemon.sessions.get(daemon.test_root)
    emit(daemon, session.backend, "ping")
    state = daemon.sessions.export_state()
    s = daemon.sessions
    fresh = Sessions(global_world=daemon.world, supervisor=daemon.supervisor,
                     make_world=s.make_world, load=s.load, watch=s.watch, apply=s.apply,
                     log=s.log)
    fresh.adopt_state(state)
    again = fresh.by_root[daemon.test_root]
    assert again is not session
    assert goal_state(again.engine, "ping-job") == ("start", "running")
    assert sorted(again.backend.get_all_jobs()) == ["inner", "ping-job"]
    fresh.close()


def _wanted(opts: Options, environ: dict[str, str]) -> bool:
    return Sessions.wanted(opts, environ)


def test_off_unless_asked_and_never_in_user_mode():
    assert _wanted(Options(chroot_sessions=True), {})
    assert not _wanted(Options(), {})
    assert not _wanted(Options(chroot_sessions=True), {"UPSTART_NO_SESSIONS": ""})
    assert not _wanted(Options(chroot_sessions=True, user=True), {})


@pytest.mark.skipif(os.geteuid() != 0, reason="chroot needs root")
def test_only_a_privileged_caller_makes_a_session(daemon):
    from test_sessions_lookup import Chrooted

    root = os.path.realpath(daemon.test_root)
    with Chrooted(root) as child:
        # another user in that chroot: no session is made for them, they are global
        assert daemon.sessions.scope(Caller(uid=4242, pid=child.pid)) == (daemon.backend, None)
        assert daemon.sessions.roots() == []
        backend, got = daemon.sessions.scope(Caller(uid=os.getuid(), pid=child.pid))
        assert got == root and backend is daemon.sessions.backend_of(root)
        # once it exists, everyone in that chroot is in it (and may look)
        assert daemon.sessions.scope(Caller(uid=4242, pid=child.pid)) == (backend, root)


def test_ready_on_a_file_is_watched_under_the_session_root(daemon):
    """`ready on file` of a session job: the path is the job's (inside the
    chroot); the watch is on `<root><path>`; the event names the inside path."""
    from upstart.reactor.futures import sleep

    session = daemon.sessions.get(daemon.test_root)
    os.makedirs(os.path.join(daemon.test_root, "run"))
    with open(os.path.join(daemon.test_root, "etc", "init", "gated.conf"), "w") as f:
        f.write("ready on file FPATH=/run/gated.ready\n")
    run = daemon.loop.run_until_complete
    run(session.backend.reload_configuration(me()))
    run(session.backend.job_start(me(), "gated", [], False))
    assert session.backend.instance_props("gated", "").ready is False
    assert session.readiness is not None and session.readiness.active()
    with open(os.path.join(daemon.test_root, "run", "gated.ready"), "w"):
        pass

    async def until_ready():
        for _ in range(200):
            if session.backend.instance_props("gated", "").ready:
                return True
            await sleep(daemon.loop, 0.01)
        return False

    assert run(until_ready())
    assert session.readiness.emitted[-1] == ("file", ["FPATH=/run/gated.ready"])
    assert daemon.world.readiness is None or not daemon.world.readiness.active()  # not global


def test_the_event_record_is_refused_clearly_inside_a_session(daemon):
    from upstart.core.effects import ControlFailure

    backend = daemon.sessions.get(daemon.test_root).backend
    with pytest.raises(ControlFailure) as err:
        backend.observe(me(), "why", ["inner"])
    assert err.value.error.name.endswith(".NotAvailable")
    assert err.value.error.message == "No event record for the jobs of a chroot session"
