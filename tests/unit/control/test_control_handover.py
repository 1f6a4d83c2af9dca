"""The control socket handed over across a re-exec (docs/design/dbus.md,
"Re-exec"), with two real servers in one process standing in for the old and
the new init: the fds the old one exports are duplicated (as the exec keeps
them) before it closes its own."""

import os
import socket
import time

from control_harness import ServerThread, raw_connect, unique_address
from membackend import MemoryBackend, ToyJob
from upstart.control import wire

M = "/com/ubuntu/Upstart"
MI = "com.ubuntu.Upstart0_6"


def _call(serial: int, name: str) -> bytes:
    return wire.encode_message(wire.METHOD_CALL, serial, {
        wire.F_PATH: M, wire.F_INTERFACE: MI, wire.F_MEMBER: "GetJobByName"}, "s", (name,))


def _reply(sock) -> wire.Message:
    data = b""
    while len(data) < 16 or len(data) < wire.message_size(data[:16]):
        chunk = sock.recv(4096)
        assert chunk, "connection closed"
        data += chunk
    return wire.decode_message(data[:wire.message_size(data[:16])])


def _until(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "not reached"
        time.sleep(0.005)


def test_backlog_and_half_read_requests_are_served_by_the_new_server():
    address = unique_address("handover")
    backend = MemoryBackend([ToyJob("svc")])
    old = ServerThread(backend, address).start()
    a = raw_connect(address)
    b = None
    new = None
    try:
        whole = _call(1, "svc")
        a.sendall(whole[:30])                       # half a call, read by the old server
        _until(lambda: old.call(lambda: sum(len(c.inbuf) for c in old.server._conns.values()))
               == 30)
        state = old.call(lambda: (old.server.pause_for_exec(), old.server.export_for_exec())[1])
        assert len(state["conns"]) == 1 and bytes.fromhex(state["conns"][0]["inbuf"]) == whole[:30]
        b = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        b.settimeout(10)
        b.connect(b"\0" + address.split("=", 1)[1].encode())    # waits in the backlog
        b.sendall(b"\0AUTH EXTERNAL " + str(os.getuid()).encode().hex().encode() + b"\r\n")
        # the exec: the fds survive, the old process's objects do not
        state["listen"] = os.dup(state["listen"])
        for conn in state["conns"]:
            conn["fd"] = os.dup(conn["fd"])
        old.stop()
        new = ServerThread(backend, address, handover=state).start()
        a.sendall(whole[30:])
        reply = _reply(a)
        assert (reply.type, reply.body) == (wire.METHOD_RETURN, [M + "/jobs/svc"])
        assert reply.fields[wire.F_REPLY_SERIAL] == 1
        assert b.recv(100).startswith(b"OK ")
        b.sendall(b"BEGIN\r\n" + _call(7, "svc"))
        reply = _reply(b)
        assert (reply.type, reply.body) == (wire.METHOD_RETURN, [M + "/jobs/svc"])
    finally:
        for sock in (a, b):
            if sock is not None:
                sock.close()
        old.stop()
        if new is not None:
            new.stop()
