"""Readiness sources end to end (issue #8, sources half), each with a real
producer, against our real `init --user`:

* a server that starts listening two seconds after it starts (`socket`);
* a file written later by the test (`file`);
* `systemd-notify --ready` from Debian and a Python sender (`notify`);
* a name claimed on a private dbus-daemon by the job itself (`dbus`);
* a newline written on an inherited fd (`notify-fd`);
* a udev-style event emitted as the udev bridge would (`net-device-added`).

In each the dependent jobs (`start on ready X`, `while ready X`) start only
after the readiness signal. The producer writes the wall time just before
its signal; the time from there to the `ready` event (from init's event
log) is printed, not asserted. The harness kills init and every process
it started.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time

import pytest
from init_harness import SessionInit, request_restart
from ports import free_port

PY = sys.executable
SVC = "exec sleep 1000\n"


def dependents(job: str, stamp: str) -> dict[str, str]:
    """`start on ready JOB` (records when it started) and `while ready JOB`."""
    return {
        f"after-{job}": f"start on ready {job}\n"
                        f"exec sh -c 'date +%s.%N > {stamp}; exec sleep 1000'\n",
        f"while-{job}": f"while ready {job}\n" + SVC,
    }


def ready_event_wall(init: SessionInit, job: str) -> float:
    """Wall time at which init queued `ready JOB=job` (its event log)."""
    path = init.events

    def find():
        queued: dict[int, float] = {}
        try:
            with open(path) as f:
                for line in f:
                    rec = json.loads(line)
                    if rec.get("name") != "ready":
                        continue
                    if rec["kind"] == "event-queued":
                        queued[rec["id"]] = rec["wall"]
                    elif rec["kind"] == "event-finished" and f"JOB={job}" in rec["env"]:
                        return queued.get(rec["id"])
        except (OSError, ValueError):
            return None
        return None
    return init.wait_for(find, timeout=10)


def check_order(init: SessionInit, job: str, signal_file, stamp, label: str) -> None:
    """The dependents run, started after the signal; print the latency."""
    init.wait_for(lambda: init.running(f"after-{job}") and init.running(f"while-{job}"))
    init.wait_for(lambda: os.path.exists(stamp) and open(stamp).read().strip())
    signal_at = float(open(signal_file).read())
    started_at = float(open(stamp).read())
    assert started_at >= signal_at, (signal_at, started_at)
    ready_at = ready_event_wall(init, job)
    print(f"\n[readiness e2e] {label}: signal -> ready event "
          f"{(ready_at - signal_at) * 1000:.2f} ms")
    assert init.status(job).splitlines()[-1] == "\tready"


def wait_running_not_ready(init: SessionInit, job: str) -> None:
    init.wait_for(lambda: init.running(job))
    assert "waiting for ready" in init.status(job)
    assert init.status(f"after-{job}") == f"after-{job} stop/waiting"
    assert init.status(f"while-{job}") == f"while-{job} stop/waiting"


def gate(path) -> str:
    """Shell words that wait until the test creates `path` (so the test sees
    the job waiting before the producer signals, however loaded the host)."""
    return f"while [ ! -e {path} ]; do sleep 0.02; done; "


# ---------------------------------------------------------------- socket

SERVER = """\
import os, socket, sys, time
while not os.path.exists(sys.argv[3]):      # listens only once the test says so
    time.sleep(0.02)
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
open(sys.argv[2], "w").write(repr(time.time()))
s.listen()
time.sleep(1000)
"""


def test_socket_server_listening_two_seconds_after_start(tmp_path):
    port = free_port()
    (tmp_path / "server.py").write_text(SERVER)
    sig, stamp = tmp_path / "signal", tmp_path / "stamp"
    jobs = {"srv": f"ready on socket PROTO=inet PORT={port} ADDR=127.0.0.1\n"
                   f"exec {PY} {tmp_path}/server.py {port} {sig} {tmp_path}/go\n",
            **dependents("srv", str(stamp))}
    with SessionInit(jobs) as init:
        init.ok("start", "srv")
        wait_running_not_ready(init, "srv")
        time.sleep(1.0)                         # the probes find nothing listening meanwhile
        assert init.status("after-srv") == "after-srv stop/waiting"
        (tmp_path / "go").touch()
        check_order(init, "srv", sig, stamp, "socket (inet, bound when the test says)")


def test_socket_of_another_process_does_not_count(tmp_path):
    port = free_port()
    squatter = socket.socket()
    squatter.bind(("127.0.0.1", port))
    squatter.listen()
    try:
        jobs = {"srv": f"ready on socket PROTO=inet PORT={port}\n" + SVC,
                **dependents("srv", str(tmp_path / "stamp"))}
        with SessionInit(jobs) as init:
            init.ok("start", "srv")
            wait_running_not_ready(init, "srv")
            time.sleep(0.5)
            assert "waiting for ready" in init.status("srv")
            assert init.status("after-srv") == "after-srv stop/waiting"
    finally:
        squatter.close()


UNIX_SERVER = """\
import os, socket, sys, time
while not os.path.exists(sys.argv[3]):
    time.sleep(0.02)
s = socket.socket(socket.AF_UNIX)
s.bind(sys.argv[1])
while not os.path.exists(sys.argv[4]):   # bound (the path exists), not listening yet
    time.sleep(0.02)
open(sys.argv[2], "w").write(repr(time.time()))
s.listen()
time.sleep(1000)
"""


def test_unix_socket_server(tmp_path):
    (tmp_path / "userver.py").write_text(UNIX_SERVER)
    path = tmp_path / "app.sock"
    sig, stamp, go = tmp_path / "signal", tmp_path / "stamp", tmp_path / "go"
    listen = tmp_path / "listen"
    jobs = {"usrv": f"ready on socket PROTO=unix PATH={path}\n"
                    f"exec {PY} {tmp_path}/userver.py {path} {sig} {go} {listen}\n",
            **dependents("usrv", str(stamp))}
    with SessionInit(jobs) as init:
        init.ok("start", "usrv")
        wait_running_not_ready(init, "usrv")
        go.write_text("")
        init.wait_for(lambda: path.exists())
        time.sleep(0.3)                # time enough for a wrong "ready" to show
        assert "waiting for ready" in init.status("usrv")      # bound is not listening
        listen.write_text("")
        check_order(init, "usrv", sig, stamp, "socket (unix path, listen after bind)")


# ---------------------------------------------------------------- file

def test_file_written_later(tmp_path):
    target = tmp_path / "run" / "app" / "ready"
    sig, stamp = tmp_path / "signal", tmp_path / "stamp"
    jobs = {"app": f"ready on file FPATH={target}\n" + SVC, **dependents("app", str(stamp))}
    with SessionInit(jobs) as init:
        init.ok("start", "app")
        wait_running_not_ready(init, "app")
        os.makedirs(target.parent)
        time.sleep(0.3)
        assert "waiting for ready" in init.status("app")
        sig.write_text(repr(time.time()))
        target.write_text("ok")
        check_order(init, "app", sig, stamp, "file")


# ---------------------------------------------------------------- notify

@pytest.mark.skipif(shutil.which("systemd-notify") is None,
                    reason="systemd-notify not installed (apt-get install systemd)")
def test_systemd_notify_ready(tmp_path):
    sig, stamp = tmp_path / "signal", tmp_path / "stamp"
    jobs = {"sd": "ready on notify\n"
                  f"exec sh -c '{gate(tmp_path / 'go')}date +%s.%N > {sig}; "
                  "systemd-notify --ready --status=serving; exec sleep 1000'\n",
            **dependents("sd", str(stamp))}
    with SessionInit(jobs) as init:
        init.ok("start", "sd")
        wait_running_not_ready(init, "sd")
        (tmp_path / "go").write_text("")
        check_order(init, "sd", sig, stamp, "notify (systemd-notify --ready)")


SENDER = """\
import os, socket, sys, time
while not os.path.exists(sys.argv[2]):
    time.sleep(0.02)
addr = os.environ["NOTIFY_SOCKET"]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
open(sys.argv[1], "w").write(repr(time.time()))
s.sendto(b"STATUS=accepting\\nREADY=1", "\\0" + addr[1:] if addr[0] == "@" else addr)
time.sleep(1000)
"""


def test_python_sender_on_notify_socket(tmp_path):
    (tmp_path / "sender.py").write_text(SENDER)
    sig, stamp = tmp_path / "signal", tmp_path / "stamp"
    jobs = {"py": f"ready on notify\nexec {PY} {tmp_path}/sender.py {sig} {tmp_path}/go\n",
            **dependents("py", str(stamp))}
    with SessionInit(jobs) as init:
        init.ok("start", "py")
        wait_running_not_ready(init, "py")
        (tmp_path / "go").write_text("")
        check_order(init, "py", sig, stamp, "notify (python sender)")


def test_notify_fd_writer(tmp_path):
    sig, stamp = tmp_path / "signal", tmp_path / "stamp"
    jobs = {"s6": "ready on notify-fd 3\n"
                  f"exec sh -c '{gate(tmp_path / 'go')}date +%s.%N > {sig}; echo >&3; "
                  "exec sleep 1000'\n",
            **dependents("s6", str(stamp))}
    with SessionInit(jobs) as init:
        init.ok("start", "s6")
        wait_running_not_ready(init, "s6")
        (tmp_path / "go").write_text("")
        check_order(init, "s6", sig, stamp, "notify-fd (s6 style)")


# ---------------------------------------------------------------- dbus

CLAIMER = """\
import os, sys, time
from upstart.control.client import connect
while not os.path.exists(sys.argv[4]):
    time.sleep(0.02)
conn = connect(sys.argv[1], bus=True)
open(sys.argv[3], "w").write(repr(time.time()))
conn.call("/org/freedesktop/DBus", "org.freedesktop.DBus", "RequestName", "su",
          (sys.argv[2], 4), destination="org.freedesktop.DBus")
time.sleep(1000)
"""


@pytest.mark.skipif(shutil.which("dbus-daemon") is None, reason="dbus-daemon not installed")
def test_dbus_name_claimed_on_a_private_bus(tmp_path):
    busdir = tmp_path / "bus"
    busdir.mkdir()
    address = f"unix:path={busdir}/socket"
    bus = subprocess.Popen(["dbus-daemon", "--session", "--nofork", "--nopidfile",
                            "--print-address=1", f"--address={address}"],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert bus.stdout.readline()
        (tmp_path / "claim.py").write_text(CLAIMER)
        sig, stamp = tmp_path / "signal", tmp_path / "stamp"
        jobs = {"busy": "ready on dbus NAME=org.example.Busy\n"
                        f"exec {PY} {tmp_path}/claim.py {address} org.example.Busy {sig} "
                        f"{tmp_path}/go\n",
                **dependents("busy", str(stamp))}
        with SessionInit(jobs, env={"DBUS_SESSION_BUS_ADDRESS": address,
                                    "PYTHONPATH": os.path.dirname(os.path.dirname(
                                        os.path.dirname(os.path.abspath(__file__))))}) as init:
            init.ok("start", "busy")
            wait_running_not_ready(init, "busy")
            (tmp_path / "go").write_text("")
            check_order(init, "busy", sig, stamp, "dbus (name claimed on private bus)")
    finally:
        bus.kill()
        bus.wait()
        bus.stdout.close()


# ---------------------------------------------------------------- udev-style

def test_udev_style_event_is_an_ordinary_event(tmp_path):
    """The udev bridge's events need nothing from the adapter: `ready on
    net-device-added INTERFACE=eth9` is satisfied by the event itself."""
    sig, stamp = tmp_path / "signal", tmp_path / "stamp"
    jobs = {"net": "ready on net-device-added INTERFACE=eth9\n" + SVC,
            **dependents("net", str(stamp))}
    with SessionInit(jobs) as init:
        init.ok("start", "net")
        wait_running_not_ready(init, "net")
        init.ok("emit", "net-device-added", "INTERFACE=eth8")   # returns once handled
        assert "waiting for ready" in init.status("net")
        sig.write_text(repr(time.time()))
        init.ok("emit", "--no-wait", "net-device-added", "INTERFACE=eth9", "ID_NET_NAME=eth9")
        check_order(init, "net", sig, stamp, "udev-style event")


# ---------------------------------------------------------------- re-exec

def test_file_watch_is_rearmed_after_a_stateful_reexec(tmp_path):
    """After `Restart` the new init re-sends WatchReady; the new adapter watches."""

    target = tmp_path / "later"
    sig, stamp = tmp_path / "signal", tmp_path / "stamp"
    jobs = {"app": f"ready on file FPATH={target}\n" + SVC, **dependents("app", str(stamp))}
    with SessionInit(jobs, args=("--no-startup-event", "--verbose")) as init:
        init.ok("start", "app")
        wait_running_not_ready(init, "app")
        request_restart(init.address)
        init.wait_for(lambda: "Stateful re-exec completed" in init.init_log())
        assert "waiting for ready" in init.status("app")
        sig.write_text(repr(time.time()))
        target.write_text("")
        check_order(init, "app", sig, stamp, "file after re-exec")


def _restart(init: SessionInit) -> None:

    request_restart(init.address)
    init.wait_for(lambda: "Stateful re-exec completed" in init.init_log())


def test_notify_socket_survives_a_stateful_reexec(tmp_path):
    """The process keeps sending to the NOTIFY_SOCKET it was given; the new
    init adopted the socket, so READY=1 still counts."""
    (tmp_path / "sender.py").write_text(SENDER)
    sig, stamp = tmp_path / "signal", tmp_path / "stamp"
    jobs = {"py": f"ready on notify\nexec {PY} {tmp_path}/sender.py {sig} {tmp_path}/go\n",
            **dependents("py", str(stamp))}
    with SessionInit(jobs, args=("--no-startup-event", "--verbose")) as init:
        init.ok("start", "py")
        wait_running_not_ready(init, "py")
        _restart(init)
        assert "waiting for ready" in init.status("py")
        (tmp_path / "go").write_text("")
        check_order(init, "py", sig, stamp, "notify after re-exec")


def test_notify_fd_survives_a_stateful_reexec(tmp_path):
    sig, stamp = tmp_path / "signal", tmp_path / "stamp"
    jobs = {"s6": "ready on notify-fd 3\n"
                  f"exec sh -c '{gate(tmp_path / 'go')}date +%s.%N > {sig}; echo >&3; "
                  "exec sleep 1000'\n",
            **dependents("s6", str(stamp))}
    with SessionInit(jobs, args=("--no-startup-event", "--verbose")) as init:
        init.ok("start", "s6")
        wait_running_not_ready(init, "s6")
        _restart(init)
        assert "waiting for ready" in init.status("s6")
        (tmp_path / "go").write_text("")
        check_order(init, "s6", sig, stamp, "notify-fd after re-exec")
