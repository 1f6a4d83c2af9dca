"""Our small marshaller against jeepney's: same bytes, same values."""

from hypothesis import given
from hypothesis import strategies as st
from jeepney.low_level import Message as JMessage
from jeepney.wrappers import DBusAddress, new_method_call

from upstart.control import wire

text = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\0"))

BODIES = [
    ("s", ["hello"]),
    ("sasb", ["ev", ["A=1", "B=2"], True]),
    ("aas", [[["a"], ["b", "X=1"], ["/OR"]]]),
    ("a(si)", [[("main", 1234), ("post-start", 5)]]),
    ("a{sv}", [{"name": ("s", "svc"), "processes": ("a(si)", [("main", 1)])}]),
    ("ybnqiuxtd", [255, False, -3, 7, -100000, 4000000000, -(1 << 40), 1 << 63, 1.5]),
    ("og", ["/com/ubuntu/Upstart", "a(sas)"]),
    ("a(sas)", [[("state", ["K=V"]), ("other", [])]]),
    ("", []),
]


def _jeepney_bytes(sig, body):
    msg = new_method_call(DBusAddress("/com/ubuntu/Upstart", "com.ubuntu.Upstart",
                                      "com.ubuntu.Upstart0_6"), "M", sig or None, tuple(body))
    return msg.serialise(serial=7)


def _ours(sig, body):
    return wire.encode_message(wire.METHOD_CALL, 7, {
        wire.F_PATH: "/com/ubuntu/Upstart", wire.F_DESTINATION: "com.ubuntu.Upstart",
        wire.F_INTERFACE: "com.ubuntu.Upstart0_6", wire.F_MEMBER: "M"}, sig, body)


def test_same_bytes_as_jeepney():
    for sig, body in BODIES:
        assert _ours(sig, body) == _jeepney_bytes(sig, body), sig


def test_decode_jeepney_messages():
    for sig, body in BODIES:
        raw = _jeepney_bytes(sig, body)
        assert wire.message_size(raw[:16]) == len(raw)
        msg = wire.decode_message(raw)
        assert msg.serial == 7 and msg.signature == sig
        assert msg.fields[wire.F_MEMBER] == "M"
        assert msg.body == list(JMessage.from_buffer(raw).body)


@given(st.lists(text), st.lists(st.tuples(text, st.integers(-2**31, 2**31 - 1))),
       st.dictionaries(text, text))
def test_roundtrip_and_agreement(strings, pairs, mapping):
    sig = "asa(si)a{ss}"
    body = [strings, pairs, mapping]
    raw = _ours(sig, body)
    assert wire.decode_message(raw).body == body
    assert JMessage.from_buffer(raw).body == (strings, pairs, mapping)


def test_bad_input_raises_wire_error():
    import pytest
    with pytest.raises(wire.WireError):
        wire.split_signature("a(si")
    with pytest.raises(wire.WireError):
        wire.marshal("s", [])
    raw = bytearray(_ours("s", ["hello"]))
    with pytest.raises(wire.WireError):
        wire.decode_message(bytes(raw[:-3]))
    raw[0] = ord("X")
    with pytest.raises(wire.WireError):
        wire.decode_message(bytes(raw))


def test_signal_member_is_read_from_the_header_alone():
    from upstart.control import wire as w
    raw = w.encode_message(w.SIGNAL, 3, {w.F_PATH: "/com/ubuntu/Upstart",
                                         w.F_INTERFACE: "com.ubuntu.Upstart0_6",
                                         w.F_MEMBER: "EventEmitted"}, "sas", ("x", ["A=1"]))
    assert w.signal_member(raw) == "EventEmitted"
    assert w.signal_member(raw[:14]) is None              # no header to read: decode decides
    assert w.signal_member(b"X" + raw[1:]) is None        # not a byte order flag
