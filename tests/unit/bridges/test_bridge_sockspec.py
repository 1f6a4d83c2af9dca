"""The socket bridge's parsing of job variables and the emitted env."""

import socket

import pytest

from upstart.bridges.sockspec import SocketSpec, parse_socket


def test_inet_with_default_and_given_address():
    s = parse_socket("j", ("PROTO=inet", "PORT=80"))
    assert s == SocketSpec("inet", port=80, addr="0.0.0.0")
    assert s.event_env() == ["PROTO=inet", "PORT=80", "ADDR=0.0.0.0"]
    assert s.sockaddr == ("0.0.0.0", 80) and s.family == socket.AF_INET
    assert parse_socket("j", ("PROTO=inet", "PORT=8080", "ADDR=127.0.0.1")).addr == "127.0.0.1"


def test_inet6_normalises_the_address():
    s = parse_socket("j", ("PROTO=inet6", "PORT=53", "ADDR=0:0::1"))
    assert s.event_env() == ["PROTO=inet6", "PORT=53", "ADDR=::1"]
    assert parse_socket("j", ("PROTO=inet6", "PORT=53")).addr == "::"


def test_unix_accepts_path_and_socket_path_and_emits_socket_path():
    a = parse_socket("j", ("PROTO=unix", "PATH=/run/x.sock"))
    b = parse_socket("j", ("PROTO=unix", "SOCKET_PATH=/run/x.sock"))
    assert a == b
    assert a.event_env() == ["PROTO=unix", "SOCKET_PATH=/run/x.sock"]
    assert parse_socket("j", ("PROTO=unix", "PATH=@abs")).sockaddr == "\0abs"


@pytest.mark.parametrize("args,warning", [
    (("inet",), "Ignored socket event without variable name in j"),
    (("PROTO=ipx",), "Ignored socket event with unknown PROTO=ipx in j"),
    (("PROTO=inet", "PORT=1", "ADDR=nope"), "Ignored socket event with invalid ADDR=nope in j"),
    (("PROTO=inet", "PORT=1", "COLOUR=red"), "Ignored socket event with unknown variable COLOUR in j"),
    (("PORT=80", "PROTO=inet"), "Ignored socket event with unknown variable PORT in j"),
    (("PROTO=unix", "PORT=80"), "Ignored socket event with unknown variable PORT in j"),
    (("PROTO=inet",), "Ignored incomplete socket event in j"),
    (("PROTO=inet", "PORT=http"), "Ignored incomplete socket event in j"),
    (("PROTO=inet", "PORT=70000"), "Ignored incomplete socket event in j"),
    (("PROTO=unix",), "Ignored incomplete socket event in j"),
    ((), "Ignored incomplete socket event in j"),
])
def test_warnings(args, warning):
    assert parse_socket("j", args) == warning


def test_same_socket_is_one_identity():
    assert {parse_socket("a", ("PROTO=inet", "PORT=80")),
            parse_socket("b", ("PROTO=inet", "PORT=80", "ADDR=0.0.0.0"))} == \
        {SocketSpec("inet", port=80, addr="0.0.0.0")}


# ---------------------------------------------------------- beyond 1.13

def test_extensions_are_carried_in_the_event_as_written():
    s = parse_socket("j", ("PROTO=inet", "PORT=7", "ACCEPT=y"))
    assert s.accepting and not s.dgram and s.socktype == socket.SOCK_STREAM
    assert s.event_env() == ["PROTO=inet", "PORT=7", "ADDR=0.0.0.0", "ACCEPT=y"]
    d = parse_socket("j", ("PROTO=unix", "SOCKET_PATH=/run/log.sock", "TYPE=dgram",
                           "MODE=0666"))
    assert d.dgram and not d.accepting and d.socktype == socket.SOCK_DGRAM
    assert d.event_env() == ["PROTO=unix", "SOCKET_PATH=/run/log.sock", "TYPE=dgram",
                             "MODE=0666"]
    n = parse_socket("j", ("PROTO=inet", "PORT=7", "ACCEPT=n", "TYPE=stream"))
    assert not n.accepting and n.event_env()[-2:] == ["TYPE=stream", "ACCEPT=n"]


def test_extensions_make_a_different_socket_identity():
    plain = parse_socket("a", ("PROTO=inet", "PORT=7"))
    inetd = parse_socket("b", ("PROTO=inet", "PORT=7", "ACCEPT=y"))
    assert plain != inetd and len({plain, inetd}) == 2


@pytest.mark.parametrize("args,warning", [
    (("PROTO=inet", "PORT=7", "ACCEPT=yes"), "Ignored socket event with invalid ACCEPT=yes in j"),
    (("PROTO=inet", "PORT=7", "TYPE=seqpacket"),
     "Ignored socket event with invalid TYPE=seqpacket in j"),
    (("PROTO=unix", "PATH=/x", "MODE=rw"), "Ignored socket event with invalid MODE=rw in j"),
    (("PROTO=unix", "PATH=/x", "MODE=99"), "Ignored socket event with invalid MODE=99 in j"),
    (("PROTO=inet", "PORT=7", "TYPE=dgram", "ACCEPT=y"),
     "Ignored socket event with ACCEPT=y for a datagram socket in j"),
    (("PROTO=inet", "PORT=7", "MODE=0600"),
     "Ignored socket event with MODE= for a socket without a file in j"),
    (("PROTO=unix", "PATH=@abs", "MODE=0600"),
     "Ignored socket event with MODE= for a socket without a file in j"),
    (("ACCEPT=y", "PROTO=inet", "PORT=7"),
     "Ignored socket event with unknown variable ACCEPT in j"),
])
def test_extension_warnings(args, warning):
    assert parse_socket("j", args) == warning
