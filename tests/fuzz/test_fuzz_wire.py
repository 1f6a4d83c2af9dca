"""Fuzzing the D-Bus message reader and the control server's input path (issue #14).

* `wire.decode_message` / `wire.unmarshal`: any bytes give a message or a
  `WireError` (a `ValueError`), never another exception; valid messages with
  random bit flips likewise.
* The server's input path, over a real socket (control server + in-memory
  backend): arbitrary bytes before or after authentication, and mutated
  valid calls, never take the server down: after each example a fresh client
  is still answered.
"""

from __future__ import annotations

import struct

import pytest
from fuzz_common import fuzz
from hypothesis import given
from hypothesis import strategies as st

from upstart.control import wire
from upstart.control.client import Connection
from control_harness import ServerThread, raw_connect
from membackend import MemoryBackend, ToyJob

M, MI = "/com/ubuntu/Upstart", "com.ubuntu.Upstart0_6"


def _valid_messages() -> list[bytes]:
    out = []
    for member, sig, body in [("GetAllJobs", "", ()), ("GetJobByName", "s", ("svc",)),
                              ("EmitEvent", "sasb", ("ev", ["A=1", "B=2"], False)),
                              ("SetEnv", "assb", (["svc"], "K=v", True)),
                              ("Observe", "sas", ("x", ["y"]))]:
        fields = {wire.F_PATH: M, wire.F_MEMBER: member, wire.F_INTERFACE: MI}
        if sig:
            fields[wire.F_SIGNATURE] = sig
        out.append(bytes(wire.encode_message(wire.METHOD_CALL, 7, fields, sig, body, 0)))
    return out


VALID = _valid_messages()


@st.composite
def mutated(draw) -> bytes:
    data = bytearray(draw(st.sampled_from(VALID)))
    for _ in range(draw(st.integers(1, 8))):
        pos = draw(st.integers(0, len(data) - 1))
        data[pos] = draw(st.integers(0, 255))
    if draw(st.booleans()):
        data = data[: draw(st.integers(0, len(data)))]
    return bytes(data)


def _decode(raw: bytes) -> None:
    try:
        if len(raw) >= 16:
            wire.message_size(raw[:16])
        wire.decode_message(raw)
    except ValueError:           # WireError, struct.error-free by contract
        pass


@fuzz(2)
@given(st.binary(max_size=600))
def test_decode_arbitrary_bytes(raw):
    _decode(raw)


@fuzz(2)
@given(mutated())
def test_decode_mutated_valid_messages(raw):
    _decode(raw)


@fuzz()
@given(st.text(alphabet="ybnqiuxtdsogva(){}h", max_size=12), st.binary(max_size=200))
def test_unmarshal_any_signature(sig, raw):
    try:
        wire.unmarshal(sig, raw)
    except ValueError:
        pass


# found by this suite (FUZZ_EXAMPLES=20000): a signature header field holding a
# boolean escaped as TypeError from the reader of initctl and the bridges
BOOL_SIGNATURE = (
    b"l\x01\x00\x01\x08\x00\x00\x00\x07\x00\x00\x00_\x00\x00\x00\x01\x01o\x00\x13\x00"
    b"\x00\x00/com/ubuntu/Upstart\x00\x00\x00\x00\x00\x02\x01s\x00\x15\x00\x00\x00com.ubuntu"
    b".Upstart0_6\x00\x00\x00\x03\x01s\x00\x0c\x00\x00\x00GetJobByName\x00\x00\x00\x00\x08"
    b"\x01b\x00\x01s\x00\x00\x03\x00\x00\x00svc\x00")


def test_regression_wrong_header_field_type():
    with pytest.raises(wire.WireError, match="header field 8"):
        wire.decode_message(BOOL_SIGNATURE)


def test_regression_empty_struct_array_does_not_loop():
    # found while minimising the above: `a()` made the array reader loop forever
    for sig in ("a()", "()", "a{}", "a{s}", "a{ass}"):
        with pytest.raises(wire.WireError):
            wire.unmarshal(sig, b"\x08\x00\x00\x00" + b"\x00" * 16)
    # a whole message whose signature field says `a()`, with a body to loop on
    raw = wire.encode_message(wire.METHOD_CALL, 1, {wire.F_PATH: M, wire.F_MEMBER: "X",
                                                     wire.F_SIGNATURE: "a()"})
    raw = raw[:4] + struct.pack("<I", 8) + raw[8:] + struct.pack("<I", 4) + b"\0" * 4
    with pytest.raises(wire.WireError, match="empty container"):
        wire.decode_message(raw)


@pytest.fixture(scope="module")
def server():
    backend = MemoryBackend([ToyJob("svc"), ToyJob("inst", instance_var="N")])
    with ServerThread(backend) as st_:
        yield st_




def _alive(server) -> None:
    with Connection(server.address) as c:
        assert c.call(M, MI, "GetJobByName", "s", ("svc",))


@fuzz(0.5)
@given(st.booleans(), st.one_of(st.binary(max_size=2000), mutated(),
                                st.lists(mutated(), max_size=4).map(b"".join)))
def test_server_input_path_survives(server, auth, data):
    s = raw_connect(server.address, auth, timeout=5)
    try:
        s.sendall(data)
        if auth and data in VALID:
            assert s.recv(4096)          # a valid call is answered
    except OSError:
        pass                             # dropped: allowed, only that client
    finally:
        s.close()
    _alive(server)
