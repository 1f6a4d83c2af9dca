"""Supervisor behaviour beyond spawning: debug pauses, unknown children,
disk-writeable buffering, logs drained at exit, no fd left behind."""

import os
import signal
import time

import pytest

from upstart.core.effects import SpawnError

from process_harness import Harness, request
from upstart.process.notes import Exited, LogLine, Ready

ENV = ("PATH=/usr/bin:/bin",)


def _state(pid):
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[0]


def test_debug_stanza_pauses_before_exec_when_init_debugs(tmp_path):
    h = Harness(logdir=str(tmp_path), session_init=True, debug=True)
    try:
        pid = h.spawn(request("echo resumed", env=ENV, debug=True, expect="stop"))
        # produced during spawn(), announced by a SIGCHLD so that reap() returns it
        h.wait(lambda n: n == LogLine("info", f"Pausing j ({pid}) [pre-exec] for debug",
                                      paused=pid, job="j"))
        h.run(0.1)
        assert _state(pid) == "T"
        assert not [n for n in h.notes if isinstance(n, Ready)]   # the pause is not readiness
        os.kill(pid, signal.SIGCONT)
        assert h.exited(pid).code == 0
    finally:
        h.close()
    assert (tmp_path / "j.log").read_bytes() == b"resumed\r\n"


def test_debug_stanza_ignored_without_init_debug(tmp_path):
    h = Harness(logdir=str(tmp_path), session_init=True)
    try:
        pid = h.spawn(request("true", env=ENV, debug=True))
        assert h.exited(pid).code == 0
        assert not [n for n in h.notes if isinstance(n, LogLine) and "Pausing" in n.message]
    finally:
        h.close()


def test_unknown_children_are_reaped_and_reported(tmp_path):
    h = Harness(logdir=None, session_init=True)
    try:
        stranger = os.posix_spawn("/bin/sh", ["sh", "-c", "exit 7"], {})
        assert h.exited(stranger) == Exited(stranger, 7, None)
    finally:
        h.close()


def test_orphans_of_a_job_come_back_to_init(tmp_path):
    h = Harness(logdir=None, session_init=True)
    try:
        pid = h.spawn(request(f"sh -c 'sleep 0.2 & echo $! > {tmp_path}/orphan'", env=ENV))
        h.exited(pid)
        orphan = int((tmp_path / "orphan").read_text())
        assert h.exited(orphan).code == 0       # subreaper: the orphan is ours to reap
    finally:
        h.close()


def test_log_kept_in_memory_until_disk_writeable(tmp_path):
    logdir = tmp_path / "log"
    logdir.mkdir()
    if os.system(f"mount -t tmpfs -o ro none {logdir} 2>/dev/null") != 0:
        pytest.skip("cannot mount a read-only tmpfs here")
    h = Harness(logdir=str(logdir), session_init=True)
    try:
        pid = h.spawn(request("echo early", env=ENV))
        h.exited(pid)
        assert os.listdir(logdir) == []
        assert os.system(f"mount -o remount,rw {logdir}") == 0
        h.sup.notify_disk_writeable()
        assert (logdir / "j.log").read_bytes() == b"early\r\n"
        pid = h.spawn(request("echo late", env=ENV))   # from now on, straight to disk
        h.exited(pid)
        assert (logdir / "j.log").read_bytes() == b"early\r\nlate\r\n"
    finally:
        h.close()
        os.system(f"umount {logdir}")


def test_exited_comes_after_the_last_output(tmp_path):
    h = Harness(logdir=str(tmp_path), session_init=True)
    try:
        pid = h.spawn(request("sh -c 'for i in $(seq 2000); do echo line $i; done'", env=ENV))
        h.wait(lambda n: isinstance(n, Exited) and n.pid == pid)
        # by the time the core hears of the exit, everything is in the file
        text = (tmp_path / "j.log").read_bytes()
        assert text.endswith(b"line 2000\r\n") and text.count(b"\r\n") == 2000
    finally:
        h.close()


def test_leaked_pty_is_reported_and_still_read(tmp_path):
    h = Harness(logdir=str(tmp_path), session_init=True)
    try:
        pid = h.spawn(request("sh -c '(sleep 0.2; echo from orphan) & echo from main'",
                              env=ENV))
        h.exited(pid)
        assert any(isinstance(n, LogLine) and n.priority == "debug"
                   and "leaked a file descriptor" in n.message for n in h.notes)
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            h.run(0.02)
            if (tmp_path / "j.log").read_bytes().endswith(b"orphan\r\n"):
                break
        assert (tmp_path / "j.log").read_bytes() == b"from main\r\nfrom orphan\r\n"
    finally:
        h.close()


def test_no_fd_left_open_in_init(tmp_path):
    before = set(os.listdir("/proc/self/fd"))
    h = Harness(logdir=str(tmp_path), session_init=True)
    try:
        for cmd, kw in (("echo a", {}), ("echo b\necho c\n", {"script": True}),
                        ("echo d", {"nice": 1}), ("true", {"console": "none"})):
            h.exited(h.spawn(request(cmd, env=ENV, **kw)))
        with pytest.raises(SpawnError):
            h.spawn(request("/nonexistent", env=ENV, nice=1))
        with pytest.raises(SpawnError):
            h.spawn(request("/nonexistent", env=ENV))
    finally:
        h.close()
    assert set(os.listdir("/proc/self/fd")) == before


def test_state_survives_a_reexec_handover(tmp_path):
    """export_state() in one supervisor, adopt_state() in a fresh one: running
    job logs keep flowing and an unfinished `expect daemon` trace completes."""
    import json

    from upstart.process import ptrace
    from upstart.process.notes import Ready

    daemon = tmp_path / "daemon.sh"
    daemon.write_text('#!/bin/sh\nn=$1\nif [ "$n" -gt 0 ]; then "$0" $((n - 1)) "$2" & exit 0; fi\n'
                      'echo $$ > "$2"\nexec sleep 30\n')
    daemon.chmod(0o755)
    a = Harness(logdir=str(tmp_path), session_init=True)
    logged = a.spawn(request("sh -c 'echo before; sleep 0.4; echo after'", job="l", env=ENV))
    traced = a.spawn(request(f"sh -c 'sleep 0.4; exec {daemon} 2 {tmp_path}/pid'", job="d",
                             env=ENV, expect="daemon"))
    a.run(0.15)
    state = json.loads(json.dumps(a.sup.export_state()))
    a.sup.prepare_exec()
    # the old init disappears without closing anything (as exec does)
    a.loop.remove_signal_handler(signal.SIGCHLD)
    for log in a.sup._logs.values():
        a.loop.remove_reader(log.master)
    a.sup._tracer.close()
    a.loop.close()

    b = Harness(logdir=str(tmp_path), session_init=True)
    b.pids |= {logged, traced}
    try:
        b.sup.adopt_state(state)
        assert b.exited(logged).code == 0
        ready = b.ready(traced)
        assert ready == Ready(traced, int((tmp_path / "pid").read_text()))
        assert not [n for n in b.notes if isinstance(n, Exited) and n.pid != logged]
    finally:
        b.close()
        ptrace.set_child_subreaper(False)
    assert (tmp_path / "l.log").read_bytes() == b"before\r\nafter\r\n"
