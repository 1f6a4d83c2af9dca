"""End-to-end: every bridge against a real init and a real event source.

Session mode (`SessionInit`, bridges run with `--user`) for the file,
socket, D-Bus and event bridges; the udev bridge runs under `Pid1Init` in
its own network namespace, where a synthetic udev netlink message reaches
only it. A private `dbus-daemon` (started with `--systemd-activation`)
serves the D-Bus tests. Everything started here is killed at the end.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time

import pytest

from init_harness import BIN, REPO, Pid1Init, SessionInit, request_restart
from procfs import read
from ports import free_port, connect as _connect

PY = sys.executable




def bridge_log(init: SessionInit, job: str) -> str:
    return read(os.path.join(init.log, job + ".log"))


def inotify_watches(init: SessionInit, job: str) -> int:
    """How many inotify watches the job's process holds (its readiness)."""
    pid = init.main_pid(job, running=False)
    count = 0
    try:
        for fd in os.listdir("/proc/%d/fdinfo" % pid):
            count += read("/proc/%d/fdinfo/%s" % (pid, fd)).count("inotify wd:")
    except (OSError, TypeError):
        return 0
    return count


def has_inotify(pid: int) -> bool:
    """Whether the process holds an inotify instance."""
    try:
        return any(os.readlink(f"/proc/{pid}/fd/{fd}") == "anon_inode:inotify"
                   for fd in os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return False


# ---------------------------------------------------------------- file

def test_file_bridge_initial_create_new_file_and_delete(tmp_path):
    watched = tmp_path / "watched"
    watched.mkdir()
    (watched / "early.txt").write_text("x")
    out = tmp_path / "out"
    jobs = {
        "fb": "respawn\nexec upstart-file-bridge --user\n",
        "t": ("start on file FILE=%s/*.txt\ntask\n"
              "exec sh -c 'echo \"$FILE $EVENT $MATCH\" >> %s'\n" % (watched, out)),
    }
    with SessionInit(jobs=jobs) as init:
        assert init.initctl("start", "fb").returncode == 0
        glob = "%s/*.txt" % watched
        # `t` is one task: an event that comes while it still runs starts
        # nothing (as 1.13), so each step waits for it to have finished
        def t_done():
            return "stop/waiting" in init.initctl("status", "t").stdout
        init.wait_for(lambda: "create %s/early.txt" % watched in read(out))
        init.wait_for(t_done)
        (watched / "new.txt").write_text("hello")
        (watched / "ignored.log").write_text("not a match")
        init.wait_for(lambda: "create %s/new.txt" % watched in read(out))
        init.wait_for(t_done)
        (watched / "new.txt").write_text("again")
        init.wait_for(lambda: "modify %s/new.txt" % watched in read(out))
        init.wait_for(t_done)
        (watched / "new.txt").unlink()
        init.wait_for(lambda: "delete %s/new.txt" % watched in read(out))
        lines = read(out).splitlines()
        assert all(line.startswith(glob + " ") for line in lines)
        assert not any("ignored.log" in line for line in lines)
        # the first close of a new file is a create, not also a modify
        assert lines.count("%s modify %s/new.txt" % (glob, watched)) == 1


def test_file_bridge_directory_created_later_and_event_filter(tmp_path):
    """A directory watch (spec 06 §2 row, as 1.13's bridge): the directory appearing is
    `create`; an entry created, written or deleted inside is `EVENT=modify` of the
    directory, `FILE` as written and `MATCH` the entry, only for jobs asking `modify`
    (or any); an `EVENT=create` job sees the directory's creation only."""
    target = tmp_path / "later" / "deeper"
    out, anyout = tmp_path / "out", tmp_path / "any"
    jobs = {
        "fb": "respawn\nexec upstart-file-bridge --user\n",
        "t": ("start on file FILE=%s/ EVENT=create\ntask\n"
              "exec sh -c 'echo \"$FILE $EVENT $MATCH\" >> %s'\n" % (target, out)),
        "m": ("start on file FILE=%s/\ntask\n"
              "exec sh -c 'echo \"$FILE $EVENT $MATCH\" >> %s'\n" % (target, anyout)),
    }
    with SessionInit(jobs=jobs) as init:
        assert init.initctl("start", "fb").returncode == 0
        init.wait_for(lambda: inotify_watches(init, "fb") == 1)
        target.mkdir(parents=True)
        init.wait_for(lambda: "%s/ create \n" % target in read(out))
        init.wait_for(lambda: "%s/ create \n" % target in read(anyout))
        init.wait_for(lambda: "stop/waiting" in init.initctl("status", "m").stdout)
        entry = "%s/ modify %s/inside\n" % (target, target)
        (target / "inside").write_text("x")                       # created
        init.wait_for(lambda: read(anyout).count(entry) == 1)
        init.wait_for(lambda: "stop/waiting" in init.initctl("status", "m").stdout)
        (target / "inside").write_text("y")                       # written again
        init.wait_for(lambda: read(anyout).count(entry) == 2)
        init.wait_for(lambda: "stop/waiting" in init.initctl("status", "m").stdout)
        (target / "inside").unlink()                              # deleted
        init.wait_for(lambda: read(anyout).count(entry) == 3)
        assert read(anyout) == "%s/ create \n" % target + entry * 3
        # the EVENT=create job saw the directory's creation only
        assert read(out) == "%s/ create \n" % target


def test_file_bridge_follows_jobs_added_later(tmp_path):
    flag = tmp_path / "flag"
    out = tmp_path / "out"
    with SessionInit(jobs={"fb": "respawn\nexec upstart-file-bridge --user\n"}) as init:
        assert init.initctl("start", "fb").returncode == 0
        with open(os.path.join(init.conf, "late.conf"), "w") as f:
            f.write("start on file FILE=%s EVENT=create\ntask\n"
                    "exec sh -c 'echo \"$FILE $EVENT\" >> %s'\n" % (flag, out))
        init.wait_for(lambda: inotify_watches(init, "fb") == 1)
        flag.write_text("x")
        init.wait_for(lambda: "%s create" % flag in read(out))


def test_stock_session_file_bridge_job_starts_at_startup(tmp_path):
    flag = tmp_path / "flag"
    out = tmp_path / "out"
    jobs = {
        "upstart-file-bridge": read(os.path.join(REPO, "jobs/session/upstart-file-bridge.conf")),
        "t": ("start on file FILE=%s EVENT=create\ntask\n"
              "exec sh -c 'echo \"$EVENT\" >> %s'\n" % (flag, out)),
    }
    with SessionInit(jobs=jobs, args=()) as init:
        init.wait_for(lambda: inotify_watches(init, "upstart-file-bridge") == 1)
        flag.write_text("x")
        init.wait_for(lambda: read(out) == "create\n")


# -------------------------------------------------------------- socket

SERVER = r"""
import os, socket
with open(os.environ["OUT"], "a") as f:
    f.write("%s|%s|%s|%s|%s\n" % (os.environ.get("UPSTART_EVENTS"), os.environ.get("PROTO"),
                                  os.environ.get("PORT"), os.environ.get("ADDR"),
                                  os.environ.get("UPSTART_FDS")))
fd = int(os.environ["UPSTART_FDS"].split()[0])
listener = socket.socket(fileno=fd)
conn, _ = listener.accept()
conn.sendall(b"hello from the job\n")
conn.close()
"""


def _socket_jobs(tmp_path, port: int) -> dict[str, str]:
    script = tmp_path / "server.py"
    script.write_text(SERVER)
    return {
        "sb": "respawn\nexec upstart-socket-bridge --user\n",
        "srv": ("start on socket PROTO=inet PORT=%d ADDR=127.0.0.1\nenv OUT=%s\n"
                "exec %s %s\n" % (port, tmp_path / "out", PY, script)),
    }


def test_socket_bridge_starts_job_with_socket_event_and_fd(tmp_path):
    port = free_port()
    with SessionInit(jobs=_socket_jobs(tmp_path, port)) as init:
        assert init.initctl("start", "sb").returncode == 0
        client = _connect(port)
        try:
            line = init.wait_for(lambda: read(tmp_path / "out").splitlines()[:1])[0]
        finally:
            client.close()
        events, proto, got_port, addr, fds = line.split("|")
        assert (events, proto, got_port, addr) == ("socket", "inet", str(port), "127.0.0.1")
        assert fds.isdigit()


def test_socket_activated_job_accepts_on_the_passed_fd(tmp_path):
    port = free_port()
    with SessionInit(jobs=_socket_jobs(tmp_path, port)) as init:
        assert init.initctl("start", "sb").returncode == 0
        client = _connect(port)
        client.settimeout(2)
        try:
            assert client.recv(100) == b"hello from the job\n"
        finally:
            client.close()


def test_socket_bridge_unix_socket_path(tmp_path):
    path = tmp_path / "activate.sock"
    out = tmp_path / "out"
    jobs = {
        "sb": "respawn\nexec upstart-socket-bridge --user\n",
        "t": ("start on socket PROTO=unix SOCKET_PATH=%s\ntask\n"
              "exec sh -c 'echo \"$UPSTART_EVENTS $PROTO $SOCKET_PATH\" >> %s'\n"
              % (path, out)),
    }
    with SessionInit(jobs=jobs) as init:
        assert init.initctl("start", "sb").returncode == 0
        init.wait_for(lambda: path.exists())
        c = socket.socket(socket.AF_UNIX)
        try:
            c.connect(str(path))
            init.wait_for(lambda: "socket unix %s" % path in read(out))
        finally:
            c.close()


INETD = r"""
import os, socket
conn = socket.socket(fileno=3)               # LISTEN_FDS: the connected socket
name = conn.recv(100).decode().strip()
conn.sendall(("hello %s from instance %s, you are port %s\n" % (
    name, os.environ["UPSTART_INSTANCE"], os.environ["REMOTE_PORT"])).encode())
conn.close()
"""


def test_inetd_style_job_serves_each_connection_in_its_own_instance(tmp_path):
    port = free_port()
    script = tmp_path / "inetd.py"
    script.write_text(INETD)
    jobs = {
        "sb": "respawn\nexec upstart-socket-bridge --user\n",
        "echo": ("start on socket PROTO=inet PORT=%d ADDR=127.0.0.1 ACCEPT=y\n"
                 "instance $CONNECTION\nexec %s %s\n" % (port, PY, script)),
    }
    with SessionInit(jobs=jobs) as init:
        assert init.initctl("start", "sb").returncode == 0
        first = _connect(port)                   # held open while the second is served
        second = _connect(port)
        ports = (first.getsockname()[1], second.getsockname()[1])
        try:
            for c in (first, second):
                c.settimeout(10)
            second.sendall(b"second\n")
            reply2 = second.recv(200).decode()
            first.sendall(b"first\n")
            reply1 = first.recv(200).decode()
        finally:
            first.close()
            second.close()
        assert reply1.startswith("hello first from instance ")
        assert reply1.endswith(", you are port %d\n" % ports[0])
        assert reply2.startswith("hello second from instance ")
        assert reply2.endswith(", you are port %d\n" % ports[1])
        inst1 = reply1.split("instance ")[1].split(",")[0]
        inst2 = reply2.split("instance ")[1].split(",")[0]
        assert inst1 != inst2 and {inst1, inst2} <= {"1", "2"}


def test_socket_bridge_warns_about_bad_conditions(tmp_path):
    jobs = {
        "sb": "respawn\nexec upstart-socket-bridge --user\n",
        "bad": "start on socket PROTO=ipx PORT=1\nexec true\n",
        "half": "start on socket PROTO=inet\nexec true\n",
    }
    with SessionInit(jobs=jobs) as init:
        assert init.initctl("start", "sb").returncode == 0
        init.wait_for(lambda: "Ignored incomplete socket event in half"
                      in bridge_log(init, "sb"))
        assert "Ignored socket event with unknown PROTO=ipx in bad" in bridge_log(init, "sb")


# ---------------------------------------------------------------- D-Bus

BUS_CONF = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path=%(dir)s/bus</listen>
  <auth>EXTERNAL</auth>
  <servicedir>%(dir)s/services</servicedir>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""

SERVICE = """
import os, time
from upstart.control import client
bus = client.Connection(os.environ["DBUS_SESSION_BUS_ADDRESS"], bus=True)
bus.call("/org/freedesktop/DBus", "org.freedesktop.DBus", "RequestName", "su",
         ("org.example.Svc", 4), destination="org.freedesktop.DBus")
time.sleep(60)
"""


@pytest.fixture
def private_bus(tmp_path):
    if not shutil.which("dbus-daemon"):
        pytest.skip("dbus-daemon is not installed (apt-get install dbus)")
    d = tmp_path / "bus"
    (d / "services").mkdir(parents=True)
    (d / "bus.conf").write_text(BUS_CONF % {"dir": d})
    (d / "services" / "org.example.Svc.service").write_text(
        "[D-BUS Service]\nName=org.example.Svc\nExec=/bin/false\n"
        "SystemdService=org.example.Svc.service\n")
    (d / "services" / "org.example.Nobody.service").write_text(
        "[D-BUS Service]\nName=org.example.Nobody\nExec=/bin/false\n"
        "SystemdService=dbus-org.example.Nobody.service\n")
    proc = subprocess.Popen(["dbus-daemon", "--config-file=%s" % (d / "bus.conf"), "--nofork",
                             "--print-address", "--systemd-activation"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        address = proc.stdout.readline().strip()
        assert address.startswith("unix:")
        yield address
    finally:
        proc.kill()
        proc.wait()


def dbus_send(address: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["dbus-send", "--bus=" + address, *args], capture_output=True,
                          text=True, timeout=30)


def _dbus_jobs(address: str, tmp_path) -> dict[str, str]:
    env = "env DBUS_SESSION_BUS_ADDRESS=%s\n" % address
    (tmp_path / "svc.py").write_text(SERVICE)
    return {
        "db": env + ("respawn\nexec upstart-dbus-bridge --user --session --bus-name session "
                     "--activation\n"),
        "t": ("start on dbus SIGNAL=Ping ARG0=hello\ntask\n"
              "exec sh -c 'echo \"$SIGNAL|$BUS|$INTERFACE|$OBJPATH|$ARG0|$ARG1|$ARG2\" >> %s'\n"
              % (tmp_path / "out")),
        "svc": env + ("start on dbus-activation org.example.Svc\nenv PYTHONPATH=%s\n"
                      "exec %s %s\n" % (os.getcwd(), PY, tmp_path / "svc.py")),
    }


def test_dbus_bridge_turns_a_signal_into_an_event(private_bus, tmp_path):
    out = tmp_path / "out"
    with SessionInit(jobs=_dbus_jobs(private_bus, tmp_path)) as init:
        assert init.initctl("start", "db").returncode == 0

        def sent_and_seen():
            dbus_send(private_bus, "--type=signal", "/org/example", "org.example.Test.Ping",
                      "string:hello", "int32:-42", "boolean:true")
            time.sleep(0.2)
            return read(out)
        init.wait_for(sent_and_seen)
        line = read(out).splitlines()[0]
        assert line == "Ping|session|org.example.Test|/org/example|hello|-42|TRUE"


def test_dbus_activation_starts_the_job(private_bus, tmp_path):
    with SessionInit(jobs=_dbus_jobs(private_bus, tmp_path)) as init:
        assert init.initctl("start", "db").returncode == 0
        init.wait_for(lambda: dbus_send(private_bus, "--print-reply",
                                        "--dest=org.freedesktop.DBus", "/",
                                        "org.freedesktop.DBus.NameHasOwner",
                                        "string:org.freedesktop.systemd1").stdout
                      .rstrip().endswith("true"))
        r = dbus_send(private_bus, "--print-reply", "--dest=org.freedesktop.DBus", "/",
                      "org.freedesktop.DBus.StartServiceByName", "string:org.example.Svc",
                      "uint32:0")
        assert r.returncode == 0, r.stderr
        assert r.stdout.rstrip().endswith("uint32 1")
        # the service owns its name as soon as it runs; init may still be confirming
        # the exec (a main-loop turn) when the activation reply arrives
        init.wait_for(lambda: init.initctl("status", "svc").stdout.startswith(
            "svc start/running"), timeout=5)
        # no job waits for this one: the caller gets an error at once
        started = time.monotonic()
        r = dbus_send(private_bus, "--print-reply", "--dest=org.freedesktop.DBus", "/",
                      "org.freedesktop.DBus.StartServiceByName", "string:org.example.Nobody",
                      "uint32:0")
        assert r.returncode == 1
        assert "No job waits for dbus-activation NAME=org.example.Nobody" in r.stderr
        assert time.monotonic() - started < 10


# ---------------------------------------------------------------- event

def test_event_bridge_forwards_system_events_with_sys_prefix(tmp_path):
    out = tmp_path / "out"
    with SessionInit() as system:
        jobs = {
            "eb": "respawn\nexec upstart-event-bridge --system-address=%s\n" % system.address,
            "t": ("start on :sys:hello X=1\ntask\n"
                  "exec sh -c 'echo \"$UPSTART_EVENTS $X $Y\" >> %s'\n" % out),
        }
        with SessionInit(jobs=jobs) as session:
            assert session.initctl("start", "eb").returncode == 0

            def emitted_and_seen():
                assert system.initctl("emit", "hello", "X=1", "Y=two").returncode == 0
                time.sleep(0.1)
                return read(out)
            session.wait_for(emitted_and_seen)
            assert read(out).splitlines()[0] == ":sys:hello 1 two"


def test_event_bridge_turns_a_system_reexec_into_sys_restarted(tmp_path):
    out = tmp_path / "out"
    with SessionInit() as system:
        jobs = {
            "eb": "respawn\nexec upstart-event-bridge --system-address=%s\n" % system.address,
            "t": ("start on :sys:restarted or :sys:before or :sys:after\ntask\n"
                  "exec sh -c 'echo \"$UPSTART_EVENTS\" >> %s'\n" % out),
        }
        with SessionInit(jobs=jobs) as session:
            assert session.initctl("start", "eb").returncode == 0
            pid = session.main_pid("eb", running=False)

            def emitted_and_seen(name):
                system.initctl("emit", "--no-wait", name)
                time.sleep(0.1)
                return ":sys:" + name in read(out)
            session.wait_for(lambda: emitted_and_seen("before"))      # bridge connected
            request_restart(system.address)
            session.wait_for(lambda: ":sys:restarted" in read(out))
            session.wait_for(lambda: emitted_and_seen("after"))
            assert read(out).splitlines().count(":sys:restarted") == 1
            assert session.main_pid("eb", running=False) == pid          # reconnected, not respawned


# ----------------------------------------------------------------- udev

SEND_UEVENT = r"""
import socket, struct, sys
props = b"".join(p + b"\0" for p in (
    b"ACTION=add", b"DEVPATH=/devices/virtual/upstarttest/ut0", b"SUBSYSTEM=upstarttest",
    b"SEQNUM=" + sys.argv[1].encode(), b"DEVNAME=/dev/ut0", b"ID_FOO=bar\x01baz"))
header = struct.pack("8sIIIIIIII", b"libudev\0", socket.htonl(0xfeedcafe), 40, 40,
                     len(props), 0, 0, 0, 0)
s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 15)
s.bind((0, 0))
s.sendto(header + props, (0, 2))
"""


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("unshare"),
                    reason="needs root and unshare for a private network namespace")
def test_udev_bridge_emits_device_added_with_udev_env(tmp_path):
    out = tmp_path / "out"
    jobs = {
        "udevb": "respawn\nexec %s/upstart-udev-bridge\n" % BIN,
        "t": ("start on upstarttest-device-added\ntask\n"
              "exec sh -c 'env | grep -E \"^(KERNEL|DEVPATH|DEVNAME|SUBSYSTEM|ACTION|ID_FOO|"
              "SEQNUM)=\" | sort > %s'\n" % out),
    }
    with Pid1Init(jobs=jobs) as init:
        assert init.run("initctl", "start", "udevb").returncode == 0
        seq = iter(range(1, 1000))

        def sent_and_seen():
            init.run(PY, "-c", SEND_UEVENT, str(next(seq)))
            time.sleep(0.2)
            return read(out)
        init.wait_for(sent_and_seen)
        lines = read(out).splitlines()
        assert "KERNEL=ut0" in lines
        assert "DEVPATH=/devices/virtual/upstarttest/ut0" in lines
        assert "DEVNAME=/dev/ut0" in lines
        assert "SUBSYSTEM=upstarttest" in lines
        assert "ACTION=add" in lines
        assert "ID_FOO=barbaz" in lines            # \x01 stripped


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("unshare"),
                    reason="needs root and unshare for a private network namespace")
def test_stock_udev_bridge_is_ready_only_once_it_listens(tmp_path):
    """The stock job says `ready on notify`; the bridge says READY=1 once its
    udev monitor is open. A coldplug that starts on its `ready` and sends
    one uevent, once, never loses it (on `started`, the bridge may still be
    importing: the Debian boot lost most of its coldplug that way)."""
    with open(os.path.join(REPO, "jobs", "upstart-udev-bridge.conf")) as f:
        stock = f.read().replace("start on starting udev\n", "").replace(
            "stop on stopped udev\n", "")
    assert "ready on notify" in stock
    out = tmp_path / "out"
    send = tmp_path / "send_uevent.py"
    send.write_text(SEND_UEVENT)
    jobs = {
        "upstart-udev-bridge": stock.replace("exec upstart-udev-bridge",
                                             "exec %s/upstart-udev-bridge" % BIN),
        "coldplug": "start on ready upstart-udev-bridge\ntask\nexec %s %s 7\n" % (PY, send),
        "t": "start on upstarttest-device-added\ntask\nexec sh -c 'echo $SEQNUM >> %s'\n" % out,
    }
    with Pid1Init(jobs=jobs) as init:
        assert init.run("initctl", "start", "upstart-udev-bridge").returncode == 0
        init.wait_for(lambda: "7" in read(out).split(), timeout=60)
        status = init.run("initctl", "status", "upstart-udev-bridge").stdout
        assert "start/running" in status and "ready" in status
        assert read(out).split() == ["7"]                 # sent once, seen once


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("unshare"),
                    reason="needs root and unshare for a private network namespace")
def test_udev_bridge_never_imports_asyncio(tmp_path):
    """The udev bridge is on the boot's critical path (the coldplug waits for
    its READY=1) and runs on the project's reactor (docs/design/reactor.md):
    started with `PYTHONPROFILEIMPORTTIME=1`, CPython lists every module the
    process imports. By the time it is ready, has followed the jobs and opened
    its link watch (a job waits for net-device-up), none is asyncio's (nor
    what asyncio drags in), and its own modules are there, so the check
    cannot pass because nothing was recorded."""
    with open(os.path.join(REPO, "jobs", "upstart-udev-bridge.conf")) as f:
        stock = f.read().replace("start on starting udev\n", "").replace(
            "stop on stopped udev\n", "")
    imports = tmp_path / "imports"
    jobs = {
        "upstart-udev-bridge": stock.replace(
            "exec upstart-udev-bridge",
            "env PYTHONPROFILEIMPORTTIME=1\nexec sh -c 'exec \"$0\" --debug 2>\"$1\"' "
            "%s/upstart-udev-bridge %s" % (BIN, imports)),
        "waits-for-links": "start on net-device-up\nexec true\n",
    }
    with Pid1Init(jobs=jobs) as init:
        assert init.run("initctl", "start", "upstart-udev-bridge").returncode == 0
        status = init.run("initctl", "status", "upstart-udev-bridge").stdout
        assert "start/running" in status and "ready" in status
        init.wait_for(lambda: "Watching network links" in read(imports), timeout=30)
        text = read(imports)
    modules = set(re.findall(r"^import time:[^|]*\|[^|]*\|\s*(\S+)\s*$", text, re.M))
    assert {"upstart.bridges.udev", "upstart.bridges.link", "upstart.bridges.jobs",
            "upstart.bridges.netlink", "upstart.reactor.loop", "pyudev"} <= modules, text
    assert sorted(m for m in modules if m.split(".")[0] in (
        "asyncio", "concurrent", "logging", "ssl")) == []


# ------------------------------------------------- udev: link events

needs_netns = pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("unshare")
                                 or not shutil.which("ip"),
                                 reason="needs root, unshare and ip for a private network "
                                        "namespace")

LINK_JOB = ("start on %s IFACE=%s\ntask\n"
            "exec sh -c 'echo \"$UPSTART_EVENTS $IFACE $LOGICAL $ADDRFAM $METHOD\" >> %s'\n")


def _bridge_host_pid(init: Pid1Init) -> int | None:
    """The udev bridge's pid as this (host) process sees it."""
    from init_harness import descendants
    for pid in descendants(init.pid):
        if "upstart-udev-bridge" in read("/proc/%d/cmdline" % pid):
            return pid
    return None


def _route_watches(pid: int | None) -> int:
    """How many NETLINK_ROUTE sockets in the link group the process holds."""
    if pid is None:
        return 0
    try:
        inodes = {os.readlink("/proc/%d/fd/%s" % (pid, fd))
                  for fd in os.listdir("/proc/%d/fd" % pid)}
    except OSError:
        return 0
    count = 0
    for line in read("/proc/%d/net/netlink" % pid).splitlines()[1:]:
        fields = line.split()     # sk Eth Pid Groups Rmem Wmem Dump Locks Drops Inode
        if fields[1] == "0" and int(fields[3], 16) & 1 and "socket:[%s]" % fields[9] in inodes:
            count += 1
    return count


def _make_link(init: Pid1Init) -> tuple[str, list[str]]:
    """A link to play with: dummy0, else a veth pair (veth0 runs once veth1 is up)."""
    if init.run("ip", "link", "add", "dummy0", "type", "dummy").returncode == 0:
        return "dummy0", []
    r = init.run("ip", "link", "add", "veth0", "type", "veth", "peer", "name", "veth1")
    if r.returncode != 0:
        pytest.skip("neither dummy nor veth links can be created here: " + r.stderr.strip())
    return "veth0", ["veth1"]


@needs_netns
def test_udev_bridge_emits_net_device_up_and_down_for_a_real_link(tmp_path):
    out = tmp_path / "out"
    jobs = {
        "udevb": "respawn\nexec upstart-udev-bridge --debug\n",
        "lo-up": LINK_JOB % ("net-device-up", "lo", out),
        "up": LINK_JOB % ("net-device-up", "dummy0", out),
        "vup": LINK_JOB % ("net-device-up", "veth0", out),
        "down": LINK_JOB % ("net-device-down", "dummy0", out),
        "vdown": LINK_JOB % ("net-device-down", "veth0", out),
    }
    with Pid1Init(jobs=jobs) as init:
        # lo is up before the bridge starts: announced by the initial dump
        assert init.run("ip", "link", "set", "lo", "up").returncode == 0
        assert init.run("initctl", "start", "udevb").returncode == 0
        log = os.path.join(init.logdir, "udevb.log")
        init.wait_for(lambda: "Watching network links" in read(log))
        init.wait_for(lambda: "net-device-up lo lo link none" in read(out))
        name, peers = _make_link(init)
        for peer in peers:
            assert init.run("ip", "link", "set", peer, "up").returncode == 0
        assert init.run("ip", "link", "set", name, "up").returncode == 0
        init.wait_for(lambda: "net-device-up %s %s link none" % (name, name) in read(out))
        assert init.run("ip", "link", "set", name, "mtu", "1400").returncode == 0
        assert init.run("ip", "link", "set", name, "down").returncode == 0
        init.wait_for(lambda: "net-device-down %s %s link none" % (name, name) in read(out))
        lines = read(out).splitlines()
        # one event per transition: the mtu change said nothing
        assert lines.count("net-device-up %s %s link none" % (name, name)) == 1
        assert lines.count("net-device-down %s %s link none" % (name, name)) == 1
        assert lines.count("net-device-up lo lo link none") == 1
        assert "Cannot watch" not in read(log)


@needs_netns
def test_udev_bridge_watches_links_only_once_a_job_waits(tmp_path):
    out = tmp_path / "out"
    with Pid1Init(jobs={"udevb": "respawn\nexec upstart-udev-bridge --debug\n"}) as init:
        assert init.run("initctl", "start", "udevb").returncode == 0
        log = os.path.join(init.logdir, "udevb.log")
        init.wait_for(lambda: "Not watching network links until a job waits" in read(log))
        pid = init.wait_for(lambda: _bridge_host_pid(init))
        assert _route_watches(pid) == 0
        with open(os.path.join(init.conf, "late.conf"), "w") as f:
            f.write(LINK_JOB % ("net-device-up", "lo", out))
        init.wait_for(lambda: "Watching network links" in read(log))
        init.wait_for(lambda: _route_watches(pid) == 1)
        assert init.run("ip", "link", "set", "lo", "up").returncode == 0
        init.wait_for(lambda: read(out) == "net-device-up lo lo link none\n")
        assert _bridge_host_pid(init) == pid              # the same process throughout


@needs_netns
def test_udev_bridge_no_link_events_option(tmp_path):
    out = tmp_path / "out"
    jobs = {
        "udevb": "respawn\nexec upstart-udev-bridge --debug --no-link-events\n",
        "lo-up": LINK_JOB % ("net-device-up", "lo", out),
        "t": "start on upstarttest-device-added\ntask\nexec sh -c 'echo udev >> %s'\n" % out,
    }
    with Pid1Init(jobs=jobs) as init:
        assert init.run("ip", "link", "set", "lo", "up").returncode == 0
        assert init.run("initctl", "start", "udevb").returncode == 0
        seq = iter(range(1, 1000))

        def sent_and_seen():
            init.run(PY, "-c", SEND_UEVENT, str(next(seq)))
            time.sleep(0.2)
            return read(out)
        init.wait_for(sent_and_seen)                 # the bridge is up and emitting
        assert "net-device-up" not in read(out)
        assert _route_watches(_bridge_host_pid(init)) == 0
        assert "network links" not in read(os.path.join(init.logdir, "udevb.log"))


# ------------------------------------------------------- life cycle

def test_bridge_exits_when_init_goes_away():
    with SessionInit() as init:
        bridge = subprocess.Popen([os.path.join(BIN, "upstart-file-bridge"), "--user"],
                                  env=init.command_env(), stderr=subprocess.PIPE, text=True)
        try:
            # connected and authenticated: its inotify instance is made only then
            init.wait_for(lambda: bridge.poll() is not None or has_inotify(bridge.pid))
            assert bridge.poll() is None
            init.proc.send_signal(signal.SIGKILL)
            init.proc.wait()
            assert bridge.wait(timeout=10) == 1
            assert "Disconnected from Upstart" in bridge.stderr.read()
        finally:
            if bridge.poll() is None:
                bridge.kill()
                bridge.wait()


def test_user_mode_without_upstart_session_is_fatal():
    env = {k: v for k, v in os.environ.items() if k != "UPSTART_SESSION"}
    r = subprocess.run([os.path.join(BIN, "upstart-socket-bridge"), "--user"], env=env,
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 1
    assert r.stderr == "upstart-socket-bridge: UPSTART_SESSION isn't set in environment\n"


def test_daemon_mode_detaches_and_writes_the_session_pid_file(tmp_path):
    with SessionInit() as init:
        env = init.command_env({"XDG_RUNTIME_DIR": str(tmp_path)})
        r = subprocess.run([os.path.join(BIN, "upstart-file-bridge"), "--daemon", "--user"],
                           env=env, capture_output=True, text=True, timeout=30)
        assert r.returncode == 0
        pidfile = tmp_path / ("upstart-file-bridge.%d.pid" % init.proc.pid)
        pid = int(init.wait_for(lambda: read(pidfile).strip()))
        try:
            assert os.path.exists("/proc/%d" % pid)
            assert pid not in (init.proc.pid, os.getpid())
        finally:
            os.kill(pid, signal.SIGTERM)
