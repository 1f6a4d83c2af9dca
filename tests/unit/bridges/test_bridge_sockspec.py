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
