"""The real daemon's D-Bus API, driven by clients we did not write (issue #5).

`dbus-send --peer` speaks to init's private socket as upstream's own tools do
(no Hello); `busctl` only talks through a bus, so for it a private
`dbus-daemon` is started and a Session Init takes `com.ubuntu.Upstart` there.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile

import pytest
from init_harness import BIN, DEFAULT_PATH, Pid1Init, SessionInit, kill_family
from waiting import wait_for

pytestmark = pytest.mark.skipif(not shutil.which("dbus-send"), reason="dbus-send not installed")

M = "/com/ubuntu/Upstart"
MI = "com.ubuntu.Upstart0_6"


def peer(address: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["dbus-send", f"--peer={address}", "--print-reply", *args],
                          capture_output=True, text=True, timeout=20)


def test_dbus_send_against_session_init():
    with SessionInit(jobs={"svc": "exec sleep 100000\n", "t": "start on go\ntask\n"
                                                              "exec true\n"}) as init:
        a = init.address
        jobs = peer(a, M, f"{MI}.GetAllJobs")
        assert jobs.returncode == 0, jobs.stderr
        assert 'object path "/com/ubuntu/Upstart/jobs/svc"' in jobs.stdout
        assert 'object path "/com/ubuntu/Upstart/jobs/t"' in jobs.stdout
        byname = peer(a, M, f"{MI}.GetJobByName", "string:svc")
        assert 'object path "/com/ubuntu/Upstart/jobs/svc"' in byname.stdout
        unknown = peer(a, M, f"{MI}.GetJobByName", "string:nosuch")
        assert unknown.returncode != 0
        assert "com.ubuntu.Upstart0_6.Error.UnknownJob: Unknown job: nosuch" in unknown.stderr
        started = peer(a, "/com/ubuntu/Upstart/jobs/svc", f"{MI}.Job.Start",
                       "array:string:", "boolean:true")
        assert 'object path "/com/ubuntu/Upstart/jobs/svc/_"' in started.stdout
        procs = peer(a, "/com/ubuntu/Upstart/jobs/svc/_", "org.freedesktop.DBus.Properties.Get",
                     "string:com.ubuntu.Upstart0_6.Instance", "string:processes")
        assert 'string "main"' in procs.stdout
        pid = int(procs.stdout.split("int32")[1].split()[0])
        assert init.initctl("status", "svc").stdout == f"svc start/running, process {pid}\n"
        stopped = peer(a, "/com/ubuntu/Upstart/jobs/svc", f"{MI}.Job.Stop",
                       "array:string:", "boolean:true")
        assert stopped.returncode == 0, stopped.stderr
        assert init.initctl("status", "svc").stdout == "svc stop/waiting\n"
        emitted = peer(a, M, f"{MI}.EmitEvent", "string:go", "array:string:X=1", "boolean:true")
        assert emitted.returncode == 0, emitted.stderr
        intro = peer(a, M, "org.freedesktop.DBus.Introspectable.Introspect")
        assert '<interface name="com.ubuntu.Upstart0_6">' in intro.stdout
        assert '<node name="jobs"/>' in intro.stdout or 'node name="jobs"' in intro.stdout


def test_dbus_send_against_pid1():
    with Pid1Init(jobs={"svc": "exec sleep 100000\n"}) as init:
        a = "unix:abstract=/com/ubuntu/upstart"
        res = init.run("dbus-send", f"--peer={a}", "--print-reply", M,
                       f"{MI}.GetJobByName", "string:svc")
        assert 'object path "/com/ubuntu/Upstart/jobs/svc"' in res.stdout, res.stderr
        res = init.run("dbus-send", f"--peer={a}", "--print-reply",
                       "/com/ubuntu/Upstart/jobs/svc", f"{MI}.Job.Start",
                       "array:string:", "boolean:true")
        assert res.returncode == 0, res.stderr
        assert init.run("initctl", "status", "svc").stdout.startswith(
            "svc start/running, process ")


@pytest.mark.skipif(not shutil.which("busctl") or not shutil.which("dbus-daemon"),
                    reason="needs busctl and dbus-daemon")
def test_busctl_through_a_bus():
    tmp = tempfile.mkdtemp(prefix="upstart-bus-")
    bus = None
    init = None
    try:
        bus = subprocess.Popen(["dbus-daemon", "--session", "--nofork", "--print-address",
                                f"--address=unix:path={tmp}/bus"],
                               stdout=subprocess.PIPE, text=True)
        address = bus.stdout.readline().strip()
        os.makedirs(f"{tmp}/xdg", mode=0o700)
        os.makedirs(f"{tmp}/conf")
        os.makedirs(f"{tmp}/home")
        with open(f"{tmp}/conf/svc.conf", "w") as f:
            f.write("exec sleep 100000\n")
        env = {"PATH": BIN + ":" + DEFAULT_PATH, "HOME": f"{tmp}/home",
               "XDG_RUNTIME_DIR": f"{tmp}/xdg", "DBUS_SESSION_BUS_ADDRESS": address}
        init = subprocess.Popen([os.path.join(BIN, "init"), "--user", "--confdir",
                                 f"{tmp}/conf", "--no-startup-event"], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        benv = {"PATH": DEFAULT_PATH, "DBUS_SESSION_BUS_ADDRESS": address}

        def busctl(*args):
            return subprocess.run(["busctl", "--user", *args], env=benv, capture_output=True,
                                  text=True, timeout=20)

        wait_for(lambda: "com.ubuntu.Upstart" in busctl("list", "--no-legend").stdout, timeout=15)
        res = busctl("call", "com.ubuntu.Upstart", M, MI, "GetAllJobs")
        assert res.returncode == 0, res.stderr
        assert res.stdout.strip() == 'ao 1 "/com/ubuntu/Upstart/jobs/svc"'
        res = busctl("call", "com.ubuntu.Upstart", "/com/ubuntu/Upstart/jobs/svc",
                     f"{MI}.Job", "Start", "asb", "0", "true")
        assert res.returncode == 0, res.stderr
        assert res.stdout.strip() == 'o "/com/ubuntu/Upstart/jobs/svc/_"'
        res = busctl("get-property", "com.ubuntu.Upstart", "/com/ubuntu/Upstart/jobs/svc/_",
                     f"{MI}.Instance", "state")
        assert res.stdout.strip() == 's "running"'
        res = busctl("call", "com.ubuntu.Upstart", M, MI, "EmitEvent", "sasb", "hello", "1",
                     "A=1", "false")
        assert res.returncode == 0, res.stderr
    finally:
        for proc in (init, bus):
            kill_family(proc)
        shutil.rmtree(tmp, ignore_errors=True)


def test_client_keeps_replies_that_arrive_out_of_order():
    """Two calls in flight, answered in the opposite order: our client must
    hand each caller its own reply (it once dropped the early one)."""
    from upstart.control import client

    jobs = {"slow": "pre-start exec sleep 0.5\nexec sleep 100000\n",
            "quick": "exec sleep 100000\n"}
    with SessionInit(jobs=jobs) as init:
        conn = client.Connection(init.address)
        conn.sock.settimeout(10)
        try:
            first = conn.send("/com/ubuntu/Upstart/jobs/slow", client.JOB_IFACE, "Start",
                              "asb", ([], True))
            second = conn.send("/com/ubuntu/Upstart/jobs/quick", client.JOB_IFACE, "Start",
                               "asb", ([], True))
            assert conn.wait_reply(first) == ["/com/ubuntu/Upstart/jobs/slow/_"]
            assert conn.wait_reply(second) == ["/com/ubuntu/Upstart/jobs/quick/_"]
        finally:
            conn.close()
