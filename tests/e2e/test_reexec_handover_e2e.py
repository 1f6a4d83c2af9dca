"""No client is refused while init re-execs (issue #22 item 4), and `Restart`
behaves as 1.13's (issue #22 item 3): against the real daemon.

The old init stops accepting and reading, answers what it was answering, and
hands its listening control socket (and its idle connections) to the new init
across the exec (docs/design/dbus.md, "Re-exec"): clients that arrive
meanwhile wait in the socket's backlog and are served by the new process.
Measured as a user would: 300 `initctl emit --no-wait ping` back to back while
init re-execs, with 50 services running: every emit answered, in order, every
event delivered, every service kept with its pid.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap

import pytest

from init_harness import BIN, Pid1Init, SessionInit

SERVICES = 50
EMITS = 300
# 300 initctl processes one after the other: about 15 s on an idle machine,
# minutes on a loaded one; the suite's 120 s default is not this test's bound
pytestmark = pytest.mark.timeout(420)
RESTART_AT = 30       # the re-exec starts while emit 30 is sent; 270 follow at once


def _jobs(marks: str) -> dict[str, str]:
    jobs = {f"svc{i:02d}": "start on go\nexec sleep 100000\n" for i in range(SERVICES)}
    # one task per ping, writing its number: every event reached the engine
    jobs["ping"] = f"start on ping\ninstance $N\ntask\nexec sh -c 'echo $N >> {marks}'\n"
    return jobs


@pytest.fixture
def marks():
    """The file the ping tasks write their numbers to."""
    tmp = tempfile.mkdtemp(prefix="upstart-marks-")
    os.chmod(tmp, 0o755)
    yield os.path.join(tmp, "marks")
    shutil.rmtree(tmp, ignore_errors=True)


def _pids(init) -> dict[str, str]:
    out = {}
    for i in range(SERVICES):
        line = init.state(f"svc{i:02d}")
        assert "start/running, process " in line, line
        out[f"svc{i:02d}"] = line
    return out


def _marks(path: str) -> list[int]:
    try:
        with open(path) as f:
            return sorted(int(x) for x in f.read().split())
    except FileNotFoundError:
        return []


# The client side, run as its own process: EMITS `initctl emit --no-wait` back
# to back; at RESTART_AT a thread calls the manager's Restart over the private
# socket, as 1.13's tooling does with dbus-python. One JSON line out.
_DRIVER = textwrap.dedent("""
    import json, os, subprocess, sys, threading
    from upstart.control.client import CallError, Connection
    address, initctl, emits, restart_at = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    restart = {}
    def call_restart():
        conn = Connection(address)
        try:
            conn.call("/com/ubuntu/Upstart", "com.ubuntu.Upstart0_6", "Restart")
            restart["answer"] = "reply"
        except CallError as exc:
            restart["answer"] = exc.name
    results = []
    thread = None
    for i in range(1, emits + 1):
        if i == restart_at:
            thread = threading.Thread(target=call_restart)
            thread.start()
        out = subprocess.run([initctl, "emit", "--no-wait", "ping", "N=%d" % i],
                             capture_output=True, text=True)
        results.append([i, out.returncode, out.stderr.strip()])
    thread.join()
    print(json.dumps({"results": results, "restart": restart}))
""")


def test_session_init_serves_every_client_through_a_restart(marks):
    with SessionInit(_jobs(marks), args=("--no-startup-event", "--verbose")) as init:
        assert init.initctl("emit", "go").returncode == 0
        before = _pids(init)
        pid = init.proc.pid
        out = subprocess.run(
            [sys.executable, "-c", _DRIVER, init.address, os.path.join(BIN, "initctl"),
             str(EMITS), str(RESTART_AT)],
            env=init.command_env(), capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, out.stderr
        report = json.loads(out.stdout)
        failed = [r for r in report["results"] if r[1] != 0]
        assert failed == [], failed[:5]
        assert [r[0] for r in report["results"]] == list(range(1, EMITS + 1))
        # 1.13: Restart is never answered; the caller sees the connection close
        assert report["restart"] == {"answer": "org.freedesktop.DBus.Error.NoReply"}
        assert init.proc.poll() is None
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            assert b"--state-fd" in f.read().split(b"\0")
        assert "Stateful re-exec completed" in init.init_log()
        assert _pids(init) == before
        init.wait_for(lambda: _marks(marks) == list(range(1, EMITS + 1)), timeout=60)


def test_restart_closes_the_callers_connection_with_the_exec():
    """The caller's connection closes when the exec happens, not before: by then
    the new init's command line carries --state-fd."""
    from upstart.control.client import CallError, Connection

    with SessionInit({"svc": "exec sleep 100000\n"}) as init:
        assert init.initctl("start", "svc").returncode == 0
        before = init.state("svc")
        conn = Connection(init.address)
        try:
            conn.call("/com/ubuntu/Upstart", "com.ubuntu.Upstart0_6", "Restart")
            answer = "reply"
        except CallError as exc:
            answer = exc.name
        with open(f"/proc/{init.proc.pid}/cmdline", "rb") as f:
            argv = f.read().split(b"\0")
        conn.close()
        assert answer == "org.freedesktop.DBus.Error.NoReply"
        assert b"--state-fd" in argv and b"--restart" in argv
        assert init.state("svc") == before


def test_telinit_u_as_pid1_refuses_no_client(marks):
    with Pid1Init(_jobs(marks), args=("--no-startup-event", "--verbose")) as init:
        assert init.run("initctl", "emit", "go").returncode == 0
        before = _pids(init)
        # telinit u runs beside the emits (it returns once init answers again)
        script = (f"for i in $(seq 1 {EMITS}); do "
                  f"if [ $i = {RESTART_AT} ]; then telinit u & fi; "
                  f"initctl emit --no-wait ping N=$i || echo FAILED $i; done; wait; echo done")
        out = init.run("sh", "-c", script, timeout=300)
        assert out.stdout.split() == ["done"], out.stdout + out.stderr
        assert out.stderr == ""
        init.wait_for(lambda: "Stateful re-exec completed" in init.kmsg())
        with open(f"/proc/{init.pid}/cmdline", "rb") as f:
            assert b"--state-fd" in f.read().split(b"\0")
        assert _pids(init) == before
        init.wait_for(lambda: _marks(marks) == list(range(1, EMITS + 1)), timeout=60)
