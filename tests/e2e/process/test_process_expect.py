"""`expect stop|fork|daemon` with real processes: readiness, the main pid
(exit counting, spec 07 §2), absorbed intermediates, early exits, re-exec."""

import os
import signal
import time

import pytest

from upstart.process import tracer
from process_harness import Harness, request
from procfs import pid_file
from upstart.process.notes import Exited, LogLine, Ready

ENV = ("PATH=/usr/bin:/bin",)

DAEMON = """#!/bin/sh
# usage: daemon.sh FORKS PIDFILE -- fork FORKS times (parent exits each time),
# then record the final pid and become a long sleeper
n=$1
if [ "$n" -gt 0 ]; then
    "$0" $((n - 1)) "$2" &
    exit 0
fi
echo $$ > "$2"
exec sleep 30
"""


@pytest.fixture
def h(tmp_path):
    harness = Harness(logdir=str(tmp_path), session_init=True)
    yield harness
    harness.close()


@pytest.fixture
def daemon(tmp_path):
    path = tmp_path / "daemon.sh"
    path.write_text(DAEMON)
    path.chmod(0o755)
    return path


@pytest.mark.parametrize("mode", ["fork", "daemon"])
@pytest.mark.parametrize("forks", [1, 2, 3])
def test_main_pid_is_the_process_that_remains(h, tmp_path, daemon, mode, forks):
    pidfile = tmp_path / "pid"
    pid = h.spawn(request(f"{daemon} {forks} {pidfile}", env=ENV, expect=mode))
    ready = h.ready(pid)
    assert ready.main_pid == pid_file(pidfile)
    assert ready.main_pid != pid
    # no intermediate was reported, nothing before Ready
    assert [n for n in h.notes if isinstance(n, Exited)] == []
    handovers = [n for n in h.notes if isinstance(n, LogLine) and "became new process" in n.message]
    # one per intermediate, fewer when an intermediate exits before its own parent
    assert 1 <= len(handovers) <= forks
    # the main pid is detached and still ours to reap (subreaper)
    h.run(0.05)
    assert h.sup.kill(ready.main_pid, signal.SIGTERM) is None
    assert h.exited(ready.main_pid).signal == signal.SIGTERM


def test_ready_comes_fast_when_forks_match(h, tmp_path, daemon, monkeypatch):
    # with the declared number of hand-overs only the short quiet window applies
    monkeypatch.setattr(tracer, "SETTLE_SHORT_OF", 20.0)
    monkeypatch.setattr(tracer, "SETTLE_CAP", 30.0)
    pidfile = tmp_path / "pid"
    start = time.monotonic()
    pid = h.spawn(request(f"{daemon} 2 {pidfile}", env=ENV, expect="daemon"))
    h.ready(pid, timeout=15)
    assert time.monotonic() - start < 5


def test_expect_fork_parent_that_stays_is_main(h, tmp_path):
    pid = h.spawn(request("sh -c 'sleep 30 & wait'", env=ENV, expect="fork"))
    assert h.ready(pid).main_pid == pid


def test_exit_before_settling_reports_spawned_pid(h):
    pid = h.spawn(request("sh -c 'exit 3'", env=ENV, expect="daemon"))
    assert h.exited(pid) == Exited(pid, 3, None)
    assert not [n for n in h.notes if isinstance(n, Ready)]


def test_forked_child_dying_before_settling_is_reported_as_spawned_pid(h):
    # the child spins (builtins only: no fork) until its parent is gone, then fails
    # (`expect daemon` with one fork: the tree is given 0.5 s to fork again)
    pid = h.spawn(request("sh -c '(while kill -0 $$ 2>/dev/null; do :; done; exit 4) & exit 0'",
                          env=ENV, expect="daemon"))
    assert h.exited(pid) == Exited(pid, 4, None)
    assert not [n for n in h.notes if isinstance(n, Ready)]
    assert len([n for n in h.notes if isinstance(n, Exited)]) == 1


def test_reexec_of_self_then_fork(h, tmp_path, daemon):
    script = tmp_path / "reexec.sh"
    script.write_text('#!/bin/sh\nif [ -z "$AGAIN" ]; then AGAIN=1 exec "$0" "$@"; fi\n'
                      f'exec {daemon} 1 "$1"\n')
    script.chmod(0o755)
    pidfile = tmp_path / "pid"
    pid = h.spawn(request(f"{script} {pidfile}", env=ENV, expect="fork"))
    ready = h.ready(pid)
    assert ready.main_pid == pid_file(pidfile)
    assert any(isinstance(n, LogLine) and n.message == f"j main process ({pid}) executable changed"
               for n in h.notes)


def test_threads_are_not_counted_as_forks(h, tmp_path):
    prog = tmp_path / "threads.py"
    prog.write_text("import os, sys, threading, time\n"
                    "ts = [threading.Thread(target=time.sleep, args=(0.05,)) for _ in range(3)]\n"
                    "[t.start() for t in ts]; [t.join() for t in ts]\n"
                    "if os.fork(): os._exit(0)\n"
                    f"open({str(tmp_path / 'pid')!r}, 'w').write('%d\\n' % os.getpid())\n"
                    "time.sleep(30)\n")
    pid = h.spawn(request(f"/usr/bin/python3 -S {prog}", env=ENV, expect="fork"))
    assert h.ready(pid).main_pid == pid_file(tmp_path / "pid")


def test_signals_to_traced_process_are_delivered(h, tmp_path):
    out, armed = tmp_path / "got", tmp_path / "armed"
    pid = h.spawn(request(f"sh -c 'trap \"echo usr1 > {out}\" USR1; : > {armed}; "
                          f"while ! [ -e {out} ]; do sleep 0.01; done; sleep 30 & exit 0'",
                          env=ENV, expect="fork"))
    deadline = time.monotonic() + 5
    while not armed.exists() and time.monotonic() < deadline:
        h.run(0.005)
    os.kill(pid, signal.SIGUSR1)
    ready = h.ready(pid)
    assert out.read_text() == "usr1\n"
    assert ready.main_pid != pid


def test_expect_stop_continues_and_reports_ready(h, tmp_path):
    out = tmp_path / "resumed"
    pid = h.spawn(request(f"sh -c 'kill -STOP $$; echo yes > {out}; exec sleep 30'",
                          env=ENV, expect="stop"))
    assert h.ready(pid) == Ready(pid, pid)
    h.run(0.1)
    assert out.read_text() == "yes\n"


def test_stops_of_other_processes_are_logged_not_ready(h):
    pid = h.spawn(request("sleep 30", env=ENV))
    os.kill(pid, signal.SIGSTOP)
    h.wait(lambda n: isinstance(n, LogLine) and "stopped by STOP signal" in n.message)
    assert not [n for n in h.notes if isinstance(n, Ready)]
    os.kill(pid, signal.SIGCONT)
    h.wait(lambda n: isinstance(n, LogLine) and "continued by CONT signal" in n.message)


def test_log_follows_the_daemon(tmp_path):
    h = Harness(logdir=str(tmp_path), session_init=True)
    try:
        pid = h.spawn(request("sh -c 'echo parent; (sleep 0.1; echo child; sleep 30) & exit 0'",
                              env=ENV, expect="fork"))
        ready = h.ready(pid)
        h.run(0.2)
        h.sup.kill(ready.main_pid, signal.SIGKILL)
        h.exited(ready.main_pid)
        h.run(0.05)
    finally:
        h.close()
    assert (tmp_path / "j.log").read_bytes() == b"parent\r\nchild\r\n"


def test_dbus_daemon_expect_fork_main_pid_is_the_server(tmp_path):
    import shutil
    import subprocess
    if not shutil.which("dbus-daemon") or not shutil.which("dbus-send"):
        pytest.skip("dbus-daemon/dbus-send not installed (apt-get install dbus)")
    h = Harness(logdir=str(tmp_path), session_init=True)
    address = f"unix:path={tmp_path}/bus"
    try:
        pid = h.spawn(request(f"dbus-daemon --fork --session --nopidfile --print-pid "
                              f"--address {address}", env=ENV, expect="fork"))
        ready = h.ready(pid)
        printed = int((tmp_path / "j.log").read_text().strip())
        assert ready.main_pid == printed != pid
        reply = subprocess.run(
            ["dbus-send", f"--bus={address}", "--print-reply", "--dest=org.freedesktop.DBus",
             "/org/freedesktop/DBus", "org.freedesktop.DBus.GetConnectionUnixProcessID",
             "string:org.freedesktop.DBus"], capture_output=True, text=True, timeout=10)
        assert reply.stdout.split()[-1] == str(ready.main_pid)
        assert h.sup.kill(ready.main_pid, signal.SIGTERM) is None
        assert h.exited(ready.main_pid) == Exited(ready.main_pid, 0, None)   # clean shutdown
    finally:
        h.close()


def test_vfork_helpers_are_absorbed(h, tmp_path):
    # the daemon runs a helper with posix_spawn (CLONE_VFORK) before and after forking
    prog = tmp_path / "helpers.py"
    prog.write_text("import os, time\n"
                    "os.waitpid(os.posix_spawn('/bin/true', ['true'], {}), 0)\n"
                    "if os.fork(): os._exit(0)\n"
                    "os.setsid()\n"
                    "os.waitpid(os.posix_spawn('/bin/true', ['true'], {}), 0)\n"
                    f"open({str(tmp_path / 'pid')!r}, 'w').write('%d\\n' % os.getpid())\n"
                    "time.sleep(30)\n")
    pid = h.spawn(request(f"/usr/bin/python3 -S {prog}", env=ENV, expect="fork"))
    ready = h.ready(pid)
    assert ready.main_pid == pid_file(tmp_path / "pid")
    assert [n for n in h.notes if isinstance(n, Exited)] == []
