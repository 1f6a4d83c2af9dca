"""Stateful re-exec, the restoring half, in process: the engine rebuilt from
the memfd has the same construction arguments as a fresh one (a real Daemon
shell, a real memfd; nothing is exec'd)."""

from __future__ import annotations

import os
import shutil
import tempfile

import pytest

from upstart.daemon.clock import CONFIRM_DELAY
from upstart.daemon.daemon import Daemon
from upstart.daemon.options import Options


def _daemon(conf: str, state_fd: int | None = None) -> Daemon:
    opts = Options(confdirs=[conf], no_log=True, no_cgroups=True, startup_event=None,
                   no_dbus=True, state_fd=state_fd, restart=state_fd is not None)
    d = Daemon(opts, environ={"PATH": "/usr/bin:/bin"}, argv=["init"])
    d._build()
    return d


def test_restored_engine_is_built_like_a_fresh_one():
    tmp = tempfile.mkdtemp(prefix="upstart-reexec-")
    old = new = None
    try:
        with open(os.path.join(tmp, "idle.conf"), "w") as f:
            f.write("start on ping\n")
        old = _daemon(tmp)
        old.reload_configuration(full=True)
        fd = os.memfd_create("upstart-state", 0)
        os.write(fd, old.serialise())
        os.lseek(fd, 0, os.SEEK_SET)
        new = _daemon(tmp, state_fd=fd)
        assert new.restore_state(fd)
        assert new.engine.job_names() == ["idle"]
        assert new.engine.confirm_delay == CONFIRM_DELAY == old.engine.confirm_delay
        assert new.engine.log_enabled == new.logger.enabled
    finally:
        for d in (old, new):
            if d is not None:
                d.supervisor.close()
                d.loop.close()
        shutil.rmtree(tmp)


def test_state_wait_secs_reads_the_variable_as_1_13():
    from upstart.daemon.reexec import state_wait_secs

    assert state_wait_secs({}) == 3.0                       # the default
    assert state_wait_secs({"UPSTART_STATE_WAIT_SECS": "10"}) == 10.0
    assert state_wait_secs({"UPSTART_STATE_WAIT_SECS": "0"}) == 0.0
    assert state_wait_secs({"UPSTART_STATE_WAIT_SECS": "-1"}) is None     # forever
    assert state_wait_secs({"UPSTART_STATE_WAIT_SECS": "-7"}) is None
    # atoi: the leading number, else 0
    assert state_wait_secs({"UPSTART_STATE_WAIT_SECS": "5s"}) == 5.0
    assert state_wait_secs({"UPSTART_STATE_WAIT_SECS": "soon"}) == 0.0


def test_read_state_gives_up_on_a_silent_pipe():
    from upstart.daemon.reexec import read_state

    r, w = os.pipe()
    try:
        with pytest.raises(TimeoutError, match="within 0.1 s"):
            read_state(r, 0.1)
    finally:
        os.close(w)
