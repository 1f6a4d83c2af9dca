"""The server side of SASL EXTERNAL as a pure state machine."""

import pytest

from upstart.control.sasl import SaslError, SaslServer


def hexuid(uid):
    return str(uid).encode().hex().encode()


def test_external_with_initial_response_then_begin_and_leftover():
    s = SaslServer(1000, {1000}, "ab" * 16)
    reply, rest = s.feed(b"\0AUTH EXTERNAL " + hexuid(1000) + b"\r\n")
    assert reply == b"OK " + b"ab" * 16 + b"\r\n" and rest == b""
    reply, rest = s.feed(b"NEGOTIATE_UNIX_FD\r\nBEGIN\r\nl\x01binary")
    assert reply == b"AGREE_UNIX_FD\r\n" and s.unix_fd
    assert s.done and rest == b"l\x01binary"


def test_split_across_reads():
    s = SaslServer(0, {0}, "g")
    assert s.feed(b"\0AUTH EXT") == (b"", b"")
    assert s.feed(b"ERNAL " + hexuid(0) + b"\r")[0] == b""
    assert s.feed(b"\n")[0] == b"OK g\r\n"


def test_claimed_uid_must_match_the_kernel():
    s = SaslServer(1000, {1000, 0}, "g")
    assert s.feed(b"\0AUTH EXTERNAL " + hexuid(0) + b"\r\n")[0] == b"REJECTED EXTERNAL\r\n"
    assert s.feed(b"AUTH EXTERNAL zz\r\n")[0] == b"REJECTED EXTERNAL\r\n"
    assert not s.authenticated


def test_uid_must_be_allowed():
    s = SaslServer(1000, {0}, "g")
    assert s.feed(b"\0AUTH EXTERNAL " + hexuid(1000) + b"\r\n")[0] == b"REJECTED EXTERNAL\r\n"


def test_data_exchange():
    s = SaslServer(5, {5}, "g")
    assert s.feed(b"\0AUTH EXTERNAL\r\n")[0] == b"DATA\r\n"
    assert s.feed(b"DATA " + hexuid(5) + b"\r\n")[0] == b"OK g\r\n"


def test_other_mechanisms_and_commands():
    s = SaslServer(5, {5}, "g")
    assert s.feed(b"\0AUTH\r\n")[0] == b"REJECTED EXTERNAL\r\n"
    assert s.feed(b"AUTH DBUS_COOKIE_SHA1 x\r\n")[0] == b"REJECTED EXTERNAL\r\n"
    assert s.feed(b"WHAT\r\n")[0].startswith(b"ERROR")
    with pytest.raises(SaslError):
        s.feed(b"BEGIN\r\n")


def test_protocol_violations():
    with pytest.raises(SaslError):
        SaslServer(0, {0}, "g").feed(b"AUTH EXTERNAL\r\n")       # no NUL
    with pytest.raises(SaslError):
        SaslServer(0, {0}, "g").feed(b"\0" + b"x" * 20000)     # endless line
    s = SaslServer(0, {0}, "g")
    with pytest.raises(SaslError):
        s.feed(b"\0" + b"AUTH\r\n" * 40)                         # endless chatter


def test_a_handshake_continues_in_the_init_that_takes_it_over():
    """Re-exec hand-over (docs/design/dbus.md): the progress of a handshake
    crosses the exec as JSON and the new server goes on where the old stopped."""
    import json

    old = SaslServer(1000, {1000}, "old")
    assert old.feed(b"\0AUTH EXTERNAL " + hexuid(1000) + b"\r\nNEGOTIATE_UN")[0] == b"OK old\r\n"
    new = SaslServer(1000, {1000}, "new")
    new.restore(json.loads(json.dumps(old.export())))
    reply, rest = new.feed(b"IX_FD\r\nBEGIN\r\nl\x01")
    assert reply == b"AGREE_UNIX_FD\r\n" and new.done and new.unix_fd and rest == b"l\x01"
