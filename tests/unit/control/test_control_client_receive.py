"""The client's receiving side: many messages in one read, signals kept as
bytes until read, replies matched to their calls, the size limit in order."""

import os
import socket
import struct
import threading

import pytest

from upstart.control import client, wire


def _peer(name: str, talk) -> threading.Thread:
    """A server on the abstract socket `@name` that accepts one client and
    runs `talk(conn)` with it in a thread (started; returned)."""
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind("\0" + name)
    srv.listen(1)

    def run():
        conn, _ = srv.accept()
        with conn, srv:
            talk(conn)
    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


def _serve(chunks):
    """An abstract-socket peer that authenticates one client, reads its call,
    then sends `chunks` (each in one send); returns the address."""
    name = f"/test/upstart-client-{os.getpid()}-{id(chunks)}"

    def talk(conn):
        data = b""
        while b"\r\n" not in data:                    # AUTH EXTERNAL <uid>
            data += conn.recv(4096)
        conn.sendall(b"OK 0123456789abcdef0123456789abcdef\r\n")
        while b"BEGIN\r\n" not in data:
            data += conn.recv(4096)
        if data.endswith(b"BEGIN\r\n"):
            conn.recv(4096)                           # the method call
        for chunk in chunks:
            conn.sendall(chunk)
        try:
            conn.recv(1)                              # until the client closes
        except OSError:
            pass
    _peer(name, talk)
    return f"unix:abstract={name}"


def _signal(serial, member, body):
    return wire.encode_message(wire.SIGNAL, serial, {
        wire.F_PATH: "/com/ubuntu/Upstart/jobs/j", wire.F_INTERFACE: client.INSTANCE_IFACE,
        wire.F_MEMBER: member, wire.F_SIGNATURE: "s"}, "s", (body,))


def _reply(serial, answers, value):
    return wire.encode_message(wire.METHOD_RETURN, serial, {
        wire.F_REPLY_SERIAL: answers, wire.F_SIGNATURE: "s"}, "s", (value,))


def test_signals_and_replies_in_one_read():
    signals = [_signal(10 + i, "StateChanged", f"state-{i}") for i in range(300)]
    data = b"".join(signals[:150]) + _reply(500, 1, "done") + b"".join(signals[150:])
    with client.Connection(_serve([data])) as conn:
        serial = conn.send("/x", None, "M")
        assert serial == 1
        assert conn.wait_reply(serial) == ["done"]
        assert len(conn.signals) == 150                 # the rest are not read yet
        assert [s.body for s in conn.signals] == [[f"state-{i}"] for i in range(150)]
        first = conn.signals[0]
        assert first.type == wire.SIGNAL and first.serial == 10
        assert first.fields[wire.F_MEMBER] == "StateChanged" and first.signature == "s"
        got = [conn.next_signal() for _ in range(300)]   # queued, then the same read's
        assert [m.body[0] for m in got] == [f"state-{i}" for i in range(300)]
        assert conn.signals == []


def test_a_message_over_the_limit_fails_after_those_before_it():
    too_big = bytearray(_signal(7, "X", "y"))
    struct.pack_into("<I", too_big, 4, client.MAX_MESSAGE)   # body length: beyond the limit
    data = _reply(2, 1, "first") + bytes(too_big)
    with client.Connection(_serve([data])) as conn:
        assert conn.wait_reply(conn.send("/x", None, "M")) == ["first"]
        with pytest.raises(client.CallError) as err:
            conn.receive()
        assert err.value.name == "org.freedesktop.DBus.Error.LimitsExceeded"


def test_a_pipelined_handshake_reads_the_ok_before_the_first_answer():
    """perf (issue #23 item 3): initctl's connection sends AUTH, BEGIN and its
    call without waiting; the OK and the reply may come in one read."""
    with client.Connection(_serve([_reply(2, 1, "init (upstart 1.13.2)")]),
                           pipelined=True) as conn:
        assert conn._auth_pending
        assert conn.call("/x", None, "M") == ["init (upstart 1.13.2)"]
        assert not conn._auth_pending


def _refusing_server(name: str) -> threading.Thread:
    """A server on `@name` that refuses the first AUTH it reads and closes."""
    def talk(conn):
        conn.recv(4096)
        conn.sendall(b"REJECTED EXTERNAL\r\n")
    return _peer(name, talk)


def test_a_pipelined_handshake_refused_is_an_error_of_the_first_call():
    name = f"/test/upstart-client-refuse-{os.getpid()}"
    t = _refusing_server(name)
    with client.Connection(f"unix:abstract={name}", pipelined=True) as conn:
        with pytest.raises(client.CallError) as err:
            conn.call("/x", None, "M")
        assert "rejected EXTERNAL" in err.value.message
    t.join(5)


def test_a_refusal_read_before_the_call_could_be_sent_is_still_the_error():
    """The server refused the pipelined AUTH and closed before the call left:
    the send fails (EPIPE), and the error is the refusal, not a disconnect."""
    name = f"/test/upstart-client-refuse-early-{os.getpid()}"
    t = _refusing_server(name)
    with client.Connection(f"unix:abstract={name}", pipelined=True) as conn:
        t.join(5)                                 # refused and closed: nothing sent yet
        with pytest.raises(client.CallError) as err:
            conn.call("/x", None, "M")
        assert "rejected EXTERNAL" in err.value.message
