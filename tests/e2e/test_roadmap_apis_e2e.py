"""The small roadmap APIs of issue #26 item 5, end to end against a real init:
the override message at --verbose (RM-10), `UPSTART_FD` (RM-05), the seed's
variant form of start on/stop on (RM-09), resuming `debug` jobs (RM-15),
`initctl --global` (CT-27) and PID-1-managed user sessions (RM-07)."""

from __future__ import annotations

import socket
import sys
import time

from init_harness import SessionInit

from upstart.control import client

PY = sys.executable


def read(path) -> str:
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def connect(port: int, timeout: float = 10) -> socket.socket:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return socket.create_connection(("127.0.0.1", port), timeout=timeout)
        except ConnectionRefusedError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def test_verbose_init_says_a_run_was_modified_by_an_override():
    jobs = {"svc": "exec sleep 30\n", "svc.override": "env FROM_OVERRIDE=1\n",
            "plain": "exec sleep 30\n"}
    with SessionInit(jobs, args=("--no-startup-event", "--verbose")) as s:
        s.ok("start", "svc")
        s.ok("start", "plain")
        override = f"{s.conf}/svc.override"
        s.wait_for(lambda: f"svc job modified by override {override}" in s.init_log())
        log = s.init_log()
        assert "plain job modified" not in log
        # said once per run, as it enters `starting`
        assert log.count("svc job modified by override") == 1
        s.ok("restart", "svc")
        s.wait_for(lambda: s.init_log().count("svc job modified by override") == 2)


def test_override_message_is_not_logged_at_the_default_priority():
    jobs = {"svc": "exec sleep 30\n", "svc.override": "env FROM_OVERRIDE=1\n"}
    with SessionInit(jobs) as s:
        s.ok("start", "svc")
        assert "modified by override" not in s.init_log()


# ------------------------------------------------------------ RM-05 UPSTART_FD

FD_SERVER = r"""
import os, socket
e = os.environ
with open(e["OUT"], "w") as f:
    f.write("%s|%s\n" % (e.get("UPSTART_FD"), e.get("UPSTART_FDS")))
listener = socket.socket(fileno=int(e["UPSTART_FD"]))
conn, _ = listener.accept()
conn.sendall(b"served on UPSTART_FD\n")
conn.close()
"""


def test_socket_activated_job_reads_its_one_socket_from_upstart_fd(tmp_path):
    port = free_port()
    script = tmp_path / "server.py"
    script.write_text(FD_SERVER)
    jobs = {
        "sb": "respawn\nexec upstart-socket-bridge --user\n",
        "srv": (f"start on socket PROTO=inet PORT={port} ADDR=127.0.0.1\n"
                f"env OUT={tmp_path / 'out'}\nexec {PY} {script}\n"),
    }
    with SessionInit(jobs) as s:
        s.ok("start", "sb")
        client = connect(port)
        client.settimeout(5)
        try:
            assert client.recv(100) == b"served on UPSTART_FD\n"
        finally:
            client.close()
        fd, fds = read(tmp_path / "out").strip().split("|")
        assert fd.isdigit() and fds == fd          # one socket: the same number in both
        assert int(fd) > 2


# ------------------------------------------------- RM-09 the seed's variant form

def test_seed_variant_form_of_start_on_beside_the_113_property():
    jobs = {"web": "start on started dbus and started apache\n"
                   "stop on stopping dbus or runlevel [016]\nexec sleep 30\n",
            "plain": "exec sleep 30\n"}
    with SessionInit(jobs) as s, client.Connection(s.address) as conn:
        path = conn.call(client.MANAGER_PATH, client.MANAGER_IFACE, "GetJobByName", "s",
                         ("web",))[0]
        get = lambda name: conn.get_property(path, client.JOB_IFACE, name)  # noqa: E731
        # the seed's example, exactly: [["started", "dbus"], ["started", "apache"], "AND"]
        assert get("start_on_variant") == [("(sas)", ("started", ["dbus"])),
                                           ("(sas)", ("started", ["apache"])), ("s", "AND")]
        assert get("stop_on_variant") == [("(sas)", ("stopping", ["dbus"])),
                                          ("(sas)", ("runlevel", ["[016]"])), ("s", "OR")]
        # 1.13's property is unchanged
        assert get("start_on") == [["started", "dbus"], ["started", "apache"], ["/AND"]]
        plain = conn.call(client.MANAGER_PATH, client.MANAGER_IFACE, "GetJobByName", "s",
                          ("plain",))[0]
        assert conn.get_property(plain, client.JOB_IFACE, "start_on_variant") == []
        xml = conn.call(path, "org.freedesktop.DBus.Introspectable", "Introspect")[0]
        assert '<property name="start_on_variant" type="av" access="read"/>' in xml
        assert '<property name="start_on" type="aas" access="read"/>' in xml


# ------------------------------------------------------- RM-15 resuming `debug` jobs

def _proc_state(pid: int) -> str:
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rpartition(")")[2].split()[0]


def _cmdline(pid: int) -> bytes:
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        return f.read()


DEBUG_JOBS = {"dbg": "debug\nexec sleep 31\n",
              "inst": "debug\ninstance $N\nexec sleep 32\n",
              "plain": "exec sleep 33\n"}


def test_debug_stanza_without_debug_logging_and_initctl_resume():
    # --debug-stanza: the stanza pauses, yet init does not log at debug priority
    with SessionInit(DEBUG_JOBS, args=("--no-startup-event", "--debug-stanza")) as s:
        assert s.ok("log-priority").strip() == "message"
        s.ok("start", "--no-wait", "dbg")
        pid = s.wait_for(lambda: s.main_pid("dbg", running=False))
        s.wait_for(lambda: _proc_state(pid) == "T")
        assert b"sleep" not in _cmdline(pid)           # paused before exec
        assert "initctl resume dbg" in s.ok("status", "--verbose", "dbg")
        out = s.ok("resume", "dbg")
        assert out == f"dbg start/running, process {pid}\n"
        s.wait_for(lambda: _cmdline(pid).startswith(b"sleep\x0031"))
        assert _proc_state(pid) in ("S", "R")
        # nothing is paused now: resuming again says so
        again = s.initctl("resume", "dbg")
        assert again.returncode == 1
        assert again.stderr == "initctl: Job is not paused: dbg\n"


def test_resume_names_an_instance_by_its_environment_and_refuses_unknown_ones():
    with SessionInit(DEBUG_JOBS, args=("--no-startup-event", "--debug-stanza")) as s:
        s.ok("start", "--no-wait", "inst", "N=a")
        s.ok("start", "--no-wait", "inst", "N=b")
        pids = {}
        for n in "ab":
            line = s.wait_for(lambda n=n: [x for x in s.ok("list").splitlines()
                                           if x.startswith(f"inst ({n}) ") and "process" in x])
            pids[n] = int(line[0].rsplit(" ", 1)[1])
            s.wait_for(lambda n=n: _proc_state(pids[n]) == "T")
        s.ok("resume", "inst", "N=b")
        s.wait_for(lambda: _cmdline(pids["b"]).startswith(b"sleep\x0032"))
        assert _proc_state(pids["a"]) == "T"                # the other instance stays paused
        missing = s.initctl("resume", "inst", "N=c")
        assert missing.returncode == 1 and "Unknown instance" in missing.stderr
        s.ok("start", "plain")
        assert s.initctl("resume", "plain").stderr == "initctl: Job is not paused: plain\n"
        s.ok("resume", "inst", "N=a")
        s.wait_for(lambda: _cmdline(pids["a"]).startswith(b"sleep\x0032"))


def test_without_either_option_the_debug_stanza_does_not_pause():
    with SessionInit(DEBUG_JOBS) as s:
        s.ok("start", "dbg")             # waits for running: it would hang if paused
        pid = s.main_pid("dbg")
        s.wait_for(lambda: _cmdline(pid).startswith(b"sleep\x0031"))
