"""The control server over a real socket, driven by our client, against the
in-memory test double of the daemon: every method, property and signal,
the error mapping, permission checks and robustness against bad clients."""

import os
import socket
import struct
import threading
import time
import xml.etree.ElementTree as ET

import pytest

from upstart.control import api, paths, wire
from upstart.control.backend import NoSuchMethod
from upstart.control.client import CallError, ConnectError, Connection
from control_harness import ServerThread, unique_address
from membackend import MemoryBackend, ToyJob
from upstart.control.signals import Restarted
from upstart.core import effects as fx

M = "/com/ubuntu/Upstart"
MI = "com.ubuntu.Upstart0_6"
JI = "com.ubuntu.Upstart0_6.Job"
II = "com.ubuntu.Upstart0_6.Instance"
PI = "org.freedesktop.DBus.Properties"


def job(name):
    return paths.job_path(name)


def err(conn, *call):
    with pytest.raises(CallError) as info:
        conn.call(*call)
    return info.value.name, info.value.message


# ------------------------------------------------------------------ manager

def test_get_job_by_name_and_all_jobs(conn):
    assert conn.call(M, MI, "GetJobByName", "s", ("svc",)) == [job("svc")]
    assert conn.call(M, MI, "GetJobByName", "s", ("net/apache",)) == [
        "/com/ubuntu/Upstart/jobs/net_2fapache"]
    jobs = conn.call(M, MI, "GetAllJobs")[0]
    assert sorted(jobs) == sorted(job(n) for n in
                                  ["svc", "rc-sysinit", "net/apache", "inst", "abstract", "cond"])
    assert "/com/ubuntu/Upstart/jobs/rc_2dsysinit" in jobs


def test_get_job_by_name_errors(conn):
    assert err(conn, M, MI, "GetJobByName", "s", ("nosuch",)) == (
        "com.ubuntu.Upstart0_6.Error.UnknownJob", "Unknown job: nosuch")
    assert err(conn, M, MI, "GetJobByName", "s", ("",)) == (
        api.ERR_INVALID_ARGS, "Name may not be empty string")


def test_manager_properties(conn, backend):
    assert conn.get_property(M, MI, "version") == "init (upstart 1.13.2)"
    assert conn.get_all(M, MI) == {"version": "init (upstart 1.13.2)",
                                   "log_priority": "message"}
    assert conn.get_all(M, "") == conn.get_all(M, MI)
    assert conn.get_all(M, "no.such.Interface") == {}
    conn.call(M, PI, "Set", "ssv", (MI, "log_priority", ("s", "debug")))
    assert backend.log_priority == "debug"
    assert conn.get_property(M, "", "log_priority") == "debug"
    assert err(conn, M, PI, "Set", "ssv", (MI, "log_priority", ("s", "loud"))) == (
        api.ERR_INVALID_ARGS, "The log priority given was not recognised")


def test_properties_errors(conn):
    assert err(conn, M, PI, "Set", "ssv", (MI, "version", ("s", "x"))) == (
        api.ERR_UNKNOWN_METHOD,
        'Method "Set" with signature "ssv" on interface '
        '"org.freedesktop.DBus.Properties" doesn\'t exist\n')
    assert err(conn, M, PI, "Get", "ss", (MI, "nosuch"))[0] == api.ERR_UNKNOWN_METHOD
    assert err(conn, M, PI, "Get", "s", (MI,)) == (
        api.ERR_INVALID_ARGS, "Invalid arguments to Get method")
    assert err(conn, M, PI, "Set", "ssv", (MI, "log_priority", ("i", 3))) == (
        api.ERR_INVALID_ARGS, "Invalid arguments to log_priority property")


def test_emit_event_and_signal(conn, backend):
    conn.call(M, MI, "EmitEvent", "sasb", ("hello", ["A=1", "B=2"], True))
    assert backend.emitted == [("hello", ["A=1", "B=2"], None)]
    sig = conn.next_signal()
    assert (sig.fields[wire.F_PATH], sig.fields[wire.F_INTERFACE],
            sig.fields[wire.F_MEMBER], sig.body) == (M, MI, "EventEmitted",
                                                     ["hello", ["A=1", "B=2"]])
    assert err(conn, M, MI, "EmitEvent", "sasb", ("ev", ["NOTKV"], True)) == (
        api.ERR_INVALID_ARGS, "Env must be KEY=VALUE pairs")
    backend.failing_events.add("bad")
    assert err(conn, M, MI, "EmitEvent", "sasb", ("bad", [], True)) == (
        "com.ubuntu.Upstart0_6.Error.EventFailed", "Event failed")


def test_emit_event_with_file_passes_the_fd(server, backend):
    conn = Connection(server.address, unix_fd=True)
    r, w = os.pipe()
    try:
        conn.call(M, MI, "EmitEventWithFile", "sasbh", ("withfd", ["A=1"], False, 0), fds=[r])
        name, env, fd = backend.emitted[-1]
        assert (name, env) == ("withfd", ["A=1"])
        assert fd is not None and fd != r      # a new descriptor in the server
        os.write(w, b"ping")
        assert os.read(fd, 4) == b"ping"       # ... for the same pipe
        os.close(fd)
    finally:
        os.close(r)
        os.close(w)
        conn.close()


def test_env_methods(conn, backend):
    conn.call(M, MI, "SetEnvList", "asasb", ([], ["FOO=bar", "EMPTY"], True))
    assert conn.call(M, MI, "GetEnv", "ass", ([], "FOO")) == ["bar"]
    assert conn.call(M, MI, "GetEnv", "ass", ([], "EMPTY")) == [""]
    conn.call(M, MI, "SetEnv", "assb", ([], "FOO=keep", False))
    assert conn.call(M, MI, "GetEnv", "ass", ([], "FOO")) == ["bar"]
    conn.call(M, MI, "UnsetEnv", "ass", ([], "FOO"))
    conn.call(M, MI, "UnsetEnvList", "asas", ([], ["EMPTY", "NEVER"]))
    assert sorted(conn.call(M, MI, "ListEnv", "as", ([],))[0]) == [
        "PATH=/usr/bin:/bin", "TERM=linux"]
    assert err(conn, M, MI, "GetEnv", "ass", ([], "FOO")) == (
        api.ERR_INVALID_ARGS, "No such variable: FOO")
    assert err(conn, M, MI, "ListEnv", "as", (["nosuch", ""],)) == (
        "com.ubuntu.Upstart0_6.Error.UnknownJob", "Unknown job: nosuch")
    conn.call(M, MI, "SetEnvList", "asasb", ([], ["X=1"], True))
    conn.call(M, MI, "ResetEnv", "as", ([],))
    assert "X" not in backend.env


def test_misc_manager_methods(conn, backend):
    conn.call(M, MI, "ReloadConfiguration")
    assert backend.reloads == 1
    conn.call(M, MI, "NotifyDiskWriteable")
    conn.call(M, MI, "NotifyDBusAddress", "s", ("unix:path=/x",))
    conn.call(M, MI, "NotifyCGroupManagerAddress", "s", ("unix:path=/y",))
    conn.call(M, MI, "EndSession")
    conn.call(M, MI, "Restart")
    assert backend.calls == [("notify_disk_writeable",), ("notify_dbus_address", "unix:path=/x"),
                             ("notify_cgroup_manager_address", "unix:path=/y"),
                             ("end_session",), ("restart",)]
    assert conn.call(M, MI, "GetState") == ['{"jobs": 6}']


def test_states(conn, backend):
    conn.call(M, MI, "SetState", "sas", ("net-up", ["IFACE=eth0"]))
    conn.call(M, MI, "SetState", "sas", ("disk", []))
    assert conn.call(M, MI, "ListStates") == [[("disk", []), ("net-up", ["IFACE=eth0"])]]
    conn.call(M, MI, "ClearState", "s", ("disk",))
    assert backend.states == {"net-up": ["IFACE=eth0"]}


def test_states_unknown_when_backend_lacks_them():
    class NoStates(MemoryBackend):
        def list_states(self, caller=None):
            raise NoSuchMethod("ListStates")

    with ServerThread(NoStates([])) as st, Connection(st.address) as conn:
        assert err(conn, M, MI, "ListStates") == (
            api.ERR_UNKNOWN_METHOD,
            'Method "ListStates" with signature "" on interface '
            '"com.ubuntu.Upstart0_6" doesn\'t exist\n')


# ---------------------------------------------------------------------- jobs

def test_job_properties(conn):
    assert conn.get_all(job("svc"), JI) == {
        "name": "svc", "description": "a service", "author": "me", "version": "1.0",
        "usage": "", "start_on": [], "stop_on": [], "emits": [],
        "while": [], "ready_on": [], "start_on_variant": [], "stop_on_variant": [],
        "while_variant": [], "ready_on_variant": []}
    props = conn.get_all(job("cond"), "")
    assert props["start_on"] == [["a"], ["b", "X=1"], ["/OR"]]
    assert props["start_on_variant"] == [("(sas)", ("a", [])), ("(sas)", ("b", ["X=1"])),
                                         ("s", "OR")]
    assert props["stop_on"] == [["stopping", "svc"]]
    assert props["emits"] == ["thing-*"]
    assert conn.get_property(job("inst"), JI, "usage") == "inst N=<name>"


def test_job_start_stop_cycle(conn):
    inst = conn.call(job("svc"), JI, "Start", "asb", ([], True))[0]
    assert inst == "/com/ubuntu/Upstart/jobs/svc/_"
    assert conn.get_all(inst, II) == {"name": "", "goal": "start", "state": "running",
                                      "processes": [("main", 1001)], "ready": "",
                                      "respawn": ""}
    assert conn.call(job("svc"), JI, "GetAllInstances") == [[inst]]
    assert conn.call(job("svc"), JI, "GetInstance", "as", ([],)) == [inst]
    assert conn.call(job("svc"), JI, "GetInstanceByName", "s", ("",)) == [inst]
    assert err(conn, job("svc"), JI, "Start", "asb", ([], True)) == (
        "com.ubuntu.Upstart0_6.Error.AlreadyStarted", "Job is already running: svc")
    assert conn.call(job("svc"), JI, "Restart", "asb", ([], True)) == [inst]
    conn.call(job("svc"), JI, "Stop", "asb", ([], True))
    assert conn.call(job("svc"), JI, "GetAllInstances") == [[]]
    # the instance object is gone: libdbus's unknown-method answer
    assert err(conn, inst, PI, "GetAll", "s", (II,)) == (
        api.ERR_UNKNOWN_METHOD,
        'Method "GetAll" with signature "s" on interface '
        '"org.freedesktop.DBus.Properties" doesn\'t exist\n')
    assert err(conn, job("svc"), JI, "GetInstance", "as", ([],)) == (
        "com.ubuntu.Upstart0_6.Error.UnknownInstance", "Unknown instance: ")


def test_instance_job(conn):
    inst = conn.call(job("inst"), JI, "Start", "asb", (["N=eth0"], True))[0]
    assert inst == "/com/ubuntu/Upstart/jobs/inst/eth0"
    assert conn.get_property(inst, II, "name") == "eth0"
    assert err(conn, job("inst"), JI, "Start", "asb", ([], True)) == (
        api.ERR_INVALID_ARGS, "Unknown parameter: N\nUsage: inst N=<name>")
    assert err(conn, job("inst"), JI, "GetInstanceByName", "s", ("eth1",)) == (
        "com.ubuntu.Upstart0_6.Error.UnknownInstance", "Unknown instance: eth1")


def test_instance_methods(conn, backend):
    inst = conn.call(job("svc"), JI, "Start", "asb", ([], False))[0]
    assert conn.get_property(inst, II, "state") == "starting"
    assert err(conn, inst, II, "Start", "b", (False,))[0] == \
        "com.ubuntu.Upstart0_6.Error.AlreadyStarted"
    conn.call(inst, II, "Stop", "b", (False,))
    assert conn.get_property(inst, II, "goal") == "stop"
    conn.call(inst, II, "Start", "b", (True,))
    assert conn.get_property(inst, II, "state") == "running"
    conn.call(inst, II, "Restart", "b", (True,))
    conn.call(inst, II, "Reload")
    assert backend.calls[-1] == ("reload", "svc", "")
    abstract = conn.call(job("abstract"), JI, "Start", "asb", ([], True))[0]
    assert err(conn, abstract, II, "Reload") == (
        "com.ubuntu.Upstart0_6.Error.NotRunning", "Job is not running: abstract")


def test_task_start_returns_destroyed_instance(conn):
    inst = conn.call(job("rc-sysinit"), JI, "Start", "asb", ([], True))[0]
    assert inst == "/com/ubuntu/Upstart/jobs/rc_2dsysinit/_"
    assert err(conn, inst, PI, "GetAll", "s", (II,))[0] == api.ERR_UNKNOWN_METHOD


def test_method_without_interface_field(conn):
    assert conn.call(M, None, "GetJobByName", "s", ("svc",)) == [job("svc")]
    assert conn.call(job("svc"), None, "Get", "ss", ("", "name")) == [("s", "svc")]


# ------------------------------------------------------------------ signals

def _signals(conn, n):
    return [(s.fields[wire.F_PATH], s.fields[wire.F_INTERFACE], s.fields[wire.F_MEMBER],
             s.body) for s in (conn.next_signal() for _ in range(n))]


def test_signals_reach_every_connection(server, conn, backend):
    other = Connection(server.address)
    try:
        conn.call(job("svc"), JI, "Start", "asb", ([], True))
        inst = "/com/ubuntu/Upstart/jobs/svc/_"
        expected = [(job("svc"), JI, "InstanceAdded", [inst]),
                     (inst, II, "GoalChanged", ["start"]),
                     (inst, II, "StateChanged", ["starting"]),
                     (inst, II, "GoalChanged", ["start"]),
                     (inst, II, "StateChanged", ["running"])]
        assert _signals(conn, 5) == expected
        assert _signals(other, 5) == expected
    finally:
        other.close()


def test_broadcast_of_every_effect(server, conn):
    for effect in (fx.JobAdded("new-job"), fx.JobRemoved("new-job"),
                   fx.InstanceRemoved("svc", ""), fx.JobFailed("svc", "", 256),
                   Restarted(), fx.Log("info", "not a signal")):
        server.call(server.server.broadcast, effect)
    conn.call(M, MI, "GetAllJobs")   # flush: the signals were sent before this reply
    assert _signals(conn, 5) == [
        (M, MI, "JobAdded", ["/com/ubuntu/Upstart/jobs/new_2djob"]),
        (M, MI, "JobRemoved", ["/com/ubuntu/Upstart/jobs/new_2djob"]),
        (job("svc"), JI, "InstanceRemoved", ["/com/ubuntu/Upstart/jobs/svc/_"]),
        ("/com/ubuntu/Upstart/jobs/svc/_", II, "Failed", [256]),
        (M, MI, "Restarted", []),
    ]
    assert conn.signals == []


# ---------------------------------------------------------- errors, routing

def test_unknown_method_and_object(conn):
    assert err(conn, M, MI, "Frobnicate", "s", ("x",)) == (
        api.ERR_UNKNOWN_METHOD,
        'Method "Frobnicate" with signature "s" on interface "com.ubuntu.Upstart0_6" '
        'doesn\'t exist\n')
    assert err(conn, "/com/ubuntu/Upstart/jobs/nosuch", JI, "GetAllInstances")[0] == \
        api.ERR_UNKNOWN_METHOD
    assert err(conn, "/com/ubuntu/Upstart/jobs/svc/nosuch", II, "Start", "b", (True,))[0] \
        == api.ERR_UNKNOWN_METHOD
    assert err(conn, "/org/freedesktop/DBus", "org.freedesktop.DBus", "AddMatch", "s",
               ("type='signal'",)) == (
        api.ERR_UNKNOWN_METHOD,
        'Method "AddMatch" with signature "s" on interface "org.freedesktop.DBus" '
        'doesn\'t exist\n')


def test_wrong_signature_is_invalid_args(conn):
    assert err(conn, M, MI, "GetJobByName", "i", (3,)) == (
        api.ERR_INVALID_ARGS, "Invalid arguments to GetJobByName method")
    assert err(conn, job("svc"), JI, "Start", "as", ([],)) == (
        api.ERR_INVALID_ARGS, "Invalid arguments to Start method")
    assert err(conn, M, "org.freedesktop.DBus.Introspectable", "Introspect", "s", ("x",)) == (
        api.ERR_INVALID_ARGS, "Invalid arguments to Introspect method")


def test_peer_hello_and_no_reply(conn):
    assert conn.call("/", "org.freedesktop.DBus.Peer", "Ping") == []
    assert len(conn.call("/", "org.freedesktop.DBus.Peer", "GetMachineId")[0]) >= 16
    assert conn.call("/org/freedesktop/DBus", "org.freedesktop.DBus", "Hello",
                     destination="org.freedesktop.DBus")[0].startswith(":1.")
    # a call flagged NO_REPLY_EXPECTED gets no answer; the next call still does
    conn.sock.sendall(wire.encode_message(wire.METHOD_CALL, 900, {
        wire.F_PATH: M, wire.F_INTERFACE: MI, wire.F_MEMBER: "ReloadConfiguration"},
        flags=wire.NO_REPLY_EXPECTED))
    assert conn.call(M, MI, "GetJobByName", "s", ("svc",)) == [job("svc")]


def test_backend_bug_becomes_failed_error(server, backend, conn):
    def broken(name):
        raise RuntimeError("boom")
    backend.get_job_by_name = broken
    assert err(conn, M, MI, "GetJobByName", "s", ("svc",)) == (api.ERR_FAILED, "boom")
    assert conn.call(M, MI, "GetAllJobs")     # still serving


# ---------------------------------------------------------------- introspect

def _introspect(conn, path):
    xml = conn.call(path, "org.freedesktop.DBus.Introspectable", "Introspect")[0]
    assert xml.startswith("<!DOCTYPE node PUBLIC")
    return ET.fromstring(xml.split("\n", 2)[2])


def test_introspect_is_valid_and_complete(conn):
    conn.call(job("net/apache"), JI, "Start", "asb", ([], True))
    root = _introspect(conn, M)
    ifaces = {i.get("name"): i for i in root.findall("interface")}
    assert set(ifaces) == {MI, PI, "org.freedesktop.DBus.Introspectable"}
    methods = {m.get("name") for m in ifaces[MI].findall("method")}
    assert {"GetJobByName", "GetAllJobs", "EmitEvent", "EmitEventWithFile", "SetEnvList",
            "ListStates"} <= methods
    props = {p.get("name"): (p.get("type"), p.get("access"))
             for p in ifaces[MI].findall("property")}
    assert props == {"version": ("s", "read"), "log_priority": ("s", "readwrite")}
    assert [n.get("name") for n in root.findall("node")] == ["jobs"]
    jobs = _introspect(conn, paths.JOBS_PATH)
    assert "net_2fapache" in [n.get("name") for n in jobs.findall("node")]
    apache = _introspect(conn, job("net/apache"))
    assert [n.get("name") for n in apache.findall("node")] == ["_"]
    start = [m for m in apache.find("interface").findall("method")
             if m.get("name") == "Start"][0]
    assert [(a.get("name"), a.get("type"), a.get("direction")) for a in start] == [
        ("env", "as", "in"), ("wait", "b", "in"), ("instance", "o", "out")]
    inst = _introspect(conn, job("net/apache") + "/_")
    assert {p.get("name"): p.get("type") for p in inst.find("interface").findall("property")} \
        == {"name": "s", "goal": "s", "state": "s", "processes": "a(si)",
               "ready": "s", "respawn": "s"}
    assert [n.get("name") for n in _introspect(conn, "/").findall("node")] == ["com"]


# ------------------------------------------------------------- concurrency

def test_waiting_call_does_not_block_other_clients(server, backend):
    import asyncio
    backend.gate = server.call(asyncio.Event)
    slow = Connection(server.address)
    fast = Connection(server.address)
    try:
        serial = slow.send(job("svc"), JI, "Start", "asb", ([], True))
        t0 = time.monotonic()
        assert fast.call(M, MI, "GetJobByName", "s", ("svc",)) == [job("svc")]
        assert fast.get_property(job("svc") + "/_", II, "state") == "starting"
        assert time.monotonic() - t0 < 2
        server.call(backend.gate.set)
        assert slow.wait_reply(serial) == ["/com/ubuntu/Upstart/jobs/svc/_"]
    finally:
        slow.close()
        fast.close()


def test_client_vanishing_mid_call(server, backend):
    import asyncio
    backend.gate = server.call(asyncio.Event)
    gone = Connection(server.address)
    gone.send(job("svc"), JI, "Start", "asb", ([], True))
    gone.send(M, MI, "EmitEvent", "sasb", ("ev", [], True))
    time.sleep(0.05)
    gone.close()
    time.sleep(0.05)
    server.call(backend.gate.set)
    with Connection(server.address) as c:
        assert c.get_property(job("svc") + "/_", II, "state") == "running"
    assert backend.emitted[-1][0] == "ev"


def test_many_clients_at_once(server):
    results = []

    def worker():
        with Connection(server.address) as c:
            for _ in range(50):
                results.append(c.call(M, MI, "GetJobByName", "s", ("svc",))[0])

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [job("svc")] * 400


# -------------------------------------------------------------- robustness

def _raw(server):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(b"\0" + server.address.split("=", 1)[1].encode())
    s.settimeout(5)
    return s


def _authed(server):
    s = _raw(server)
    s.sendall(b"\0AUTH EXTERNAL " + str(os.getuid()).encode().hex().encode() + b"\r\n")
    assert s.recv(100).startswith(b"OK ")
    s.sendall(b"BEGIN\r\n")
    return s


def _dropped(s) -> bool:
    try:
        return s.recv(100) == b""
    except ConnectionResetError:
        return True


def _still_serving(server):
    with Connection(server.address) as c:
        return c.call(M, MI, "GetJobByName", "s", ("svc",)) == [job("svc")]


def test_malformed_message_drops_only_that_client(server):
    s = _authed(server)
    s.sendall(b"X" * 64)                      # bad endianness byte
    assert _dropped(s)
    s = _authed(server)
    head = bytearray(wire.encode_message(wire.METHOD_CALL, 1, {
        wire.F_PATH: M, wire.F_MEMBER: "GetJobByName"}, "s", ("svc",)))
    struct.pack_into("<I", head, len(head) - 8, 1000)   # string longer than the body
    s.sendall(bytes(head))
    assert _dropped(s)
    assert _still_serving(server)


def test_huge_message_is_refused(server):
    s = _authed(server)
    header = b"l\x01\x00\x01" + struct.pack("<II", 1 << 30, 1) + struct.pack("<I", 0)
    s.sendall(header + b"\0" * 16)
    assert _dropped(s)
    assert _still_serving(server)


def test_sasl_rejections(server):
    s = _raw(server)
    s.sendall(b"\0AUTH EXTERNAL " + b"99999".hex().encode() + b"\r\n")   # not our uid
    assert s.recv(100) == b"REJECTED EXTERNAL\r\n"
    s.sendall(b"AUTH ANONYMOUS\r\n")
    assert s.recv(100) == b"REJECTED EXTERNAL\r\n"
    s.sendall(b"BEGIN\r\n")                     # BEGIN before OK: dropped
    assert _dropped(s)
    s = _raw(server)
    s.sendall(b"no nul byte\r\n")
    assert _dropped(s)
    s = _raw(server)
    s.sendall(b"\0" + b"A" * 20000)             # endless line
    assert _dropped(s)
    assert _still_serving(server)


def test_sasl_data_exchange_and_unix_fd(server):
    s = _raw(server)
    s.sendall(b"\0AUTH EXTERNAL\r\n")
    assert s.recv(100) == b"DATA\r\n"
    s.sendall(b"DATA\r\n")
    assert s.recv(100).startswith(b"OK ")
    s.sendall(b"NEGOTIATE_UNIX_FD\r\n")
    assert s.recv(100) == b"AGREE_UNIX_FD\r\n"
    s.close()


def test_client_that_never_reads_is_dropped_not_waited_for(server, backend):
    s = _authed(server)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    call = wire.encode_message(wire.METHOD_CALL, 1, {
        wire.F_PATH: M, wire.F_INTERFACE: "org.freedesktop.DBus.Introspectable",
        wire.F_MEMBER: "Introspect"})
    for _ in range(200):
        s.sendall(call)
    assert _still_serving(server)
    s.close()


def test_connect_error_text():
    with pytest.raises(ConnectError) as info:
        Connection("unix:abstract=/upstart-py/nobody/listens/here")
    assert str(info.value) == ("Failed to connect to socket "
                               "/upstart-py/nobody/listens/here: Connection refused")


def test_unix_path_address(tmp_path):
    address = "unix:path=%s" % (tmp_path / "sock")
    with ServerThread(MemoryBackend([ToyJob("x")]), address) as st:
        with Connection(st.address) as c:
            assert c.call(M, MI, "GetAllJobs") == [[job("x")]]
    assert not (tmp_path / "sock").exists()


def test_address_in_use():
    address = unique_address()
    with ServerThread(MemoryBackend([]), address):
        with pytest.raises(OSError):
            ServerThread(MemoryBackend([]), address).start()


# ------------------------------------------------------------- permissions

def test_permission_denied_for_other_uid():
    """A root init refuses emit/reload/env/log-priority to another uid, but
    lets it query (spec 05 §5.5)."""
    if os.getuid() != 0:
        pytest.skip("needs root to run a client as another uid")
    backend = MemoryBackend([ToyJob("svc")])
    with ServerThread(backend, allowed_uids={0, 65534}) as st:
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:   # child: become nobody, ask, report
            try:
                os.close(r)
                os.setgid(65534)
                os.setuid(65534)
                out = []
                with Connection(st.address) as c:
                    out.append(c.call(M, MI, "GetJobByName", "s", ("svc",))[0])
                    for call in ((M, MI, "EmitEvent", "sasb", ("x", [], True)),
                                 (M, MI, "ReloadConfiguration"),
                                 (M, MI, "ListEnv", "as", ([],)),
                                 (M, PI, "Set", "ssv", (MI, "log_priority", ("s", "info")))):
                        try:
                            c.call(*call)
                            out.append("allowed")
                        except CallError as exc:
                            out.append("%s|%s" % (exc.name, exc.message))
                os.write(w, "\n".join(out).encode())
            finally:
                os._exit(0)
        os.close(w)
        data = b""
        while chunk := os.read(r, 4096):
            data += chunk
        os.close(r)
        os.waitpid(pid, 0)
    # the socket's access policy refuses every state change up front, naming the
    # method, the uid required and the caller's (docs/security.md)
    got = data.decode().split("\n")
    assert got[0] == job("svc")
    for line, member in zip(got[1:], ("com.ubuntu.Upstart0_6.EmitEvent",
                                      "com.ubuntu.Upstart0_6.ReloadConfiguration",
                                      "com.ubuntu.Upstart0_6.ListEnv",
                                      "org.freedesktop.DBus.Properties.Set")):
        assert line.startswith(api.ERR_ACCESS_DENIED + "|Rejected: " + member
                               + " changes the state of init, and only uid 0 may do that")
        assert "(you are uid 65534)" in line
    assert len(got) == 5
    assert backend.emitted == [] and backend.log_priority == "message"


def test_connection_limit(server, monkeypatch):
    from upstart.control import transport
    monkeypatch.setattr(transport, "MAX_CONNECTIONS", 2)
    kept = [Connection(server.address), Connection(server.address)]
    try:
        with pytest.raises(ConnectError):
            Connection(server.address)       # closed before authentication
        kept.pop().close()
        time.sleep(0.05)
        assert _still_serving(server)
    finally:
        for c in kept:
            c.close()
