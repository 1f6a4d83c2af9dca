"""The server's fast reader of method calls (wire.py, strict) against jeepney: the same Message,
or None (jeepney reads it then) for anything it does not handle."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jeepney.low_level import Endianness, Header, HeaderFields, Message, MessageType
from jeepney.wrappers import DBusAddress, new_method_call

from upstart.control import codec as srv

text = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\0"))
JOB = "/com/ubuntu/Upstart/jobs/j001"
JOB_IFACE = "com.ubuntu.Upstart0_6.Job"


def _call(member, sig, body, *, path=JOB, iface=JOB_IFACE, serial=7, flags=0, dest=None,
          fds=None):
    msg = new_method_call(DBusAddress(path, bus_name=dest or "x.y", interface=iface),
                          member, sig or None, body)
    if dest is None:
        del msg.header.fields[HeaderFields.destination]
    msg.header.flags = flags
    return msg.serialise(serial=serial, fds=fds)


def _same(raw):
    fast = srv.fast_parse_call(raw)
    slow = Message.from_buffer(raw, fds=[])
    assert fast is not None
    assert type(fast.header.message_type) is type(slow.header.message_type)
    for attr in ("endianness", "message_type", "flags", "protocol_version", "body_length",
                 "serial", "fields"):
        assert getattr(fast.header, attr) == getattr(slow.header, attr), attr
    assert fast.body == slow.body
    assert [type(v) for v in fast.body] == [type(v) for v in slow.body]


@pytest.mark.parametrize("member,sig,body", [
    ("Start", "asb", ([], True)), ("Stop", "asb", (["A=1", "B=été"], False)),
    ("EmitEvent", "sasb", ("go", ["X=1"], True)), ("GetJobByName", "s", ("j001",)),
    ("GetAllJobs", "", ()), ("GetInstance", "as", ([],)), ("Get", "ss", ("i", "name")),
    ("SetLogPriority", "s", ("",)),
])
def test_common_calls_read_as_jeepney_reads_them(member, sig, body):
    _same(_call(member, sig, body))
    _same(_call(member, sig, body, dest="com.ubuntu.Upstart", flags=1, serial=0xFFFFFFFF))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(text, st.booleans(), st.lists(text, max_size=5)), max_size=5),
       text, text, st.integers(1, 0xFFFFFFFF))
def test_any_body_of_strings_booleans_and_string_arrays(values, member, iface, serial):
    sig = "".join("s" if isinstance(v, str) else "b" if isinstance(v, bool) else "as"
                  for v in values)
    fields = {HeaderFields.path: "/a/b", HeaderFields.member: member,
              HeaderFields.interface: iface}
    if sig:
        fields[HeaderFields.signature] = sig
    header = Header(Endianness.little, MessageType.method_call, 0, 1, 0, serial, fields)
    _same(Message(header, tuple(values)).serialise(serial=serial))


def test_other_messages_are_left_to_jeepney():
    raw = _call("Start", "asb", ([], True))
    assert srv.fast_parse_call(_call("Set", "ssv", ("i", "p", ("s", "x")))) is None
    assert srv.fast_parse_call(_call("EmitEventWithFile", "sasbh", ("e", [], True, 0),
                                        fds=[])) is None
    assert srv.fast_parse_call(b"B" + raw[1:]) is None               # big-endian flag
    assert srv.fast_parse_call(raw[:1] + b"\x04" + raw[2:]) is None  # a signal
    assert srv.fast_parse_call(raw[:-1]) is None                     # truncated
    assert srv.fast_parse_call(raw + b"\0") is None                  # trailing bytes
    bad = bytearray(_call("GetJobByName", "s", ("ab",)))
    bad[-3] = 0xFF                                                   # not UTF-8
    assert srv.fast_parse_call(bytes(bad)) is None
    with pytest.raises(ValueError):
        Message.from_buffer(bytes(bad))                              # jeepney refuses it too


def test_a_call_whose_header_was_seen_before_reads_the_same():
    """perf (issue #23 item 5): the second call with the same header fields
    is read from the header cache: still jeepney's Message, serial and flags
    its own; a body that is not UTF-8 still goes to jeepney."""
    srv._CALL_HEADS.clear()
    first = _call("EmitEvent", "sasb", ("go", ["N=1"], False), serial=1)
    _same(first)
    assert len(srv._CALL_HEADS) == 1
    for serial, flags, body in ((2, 0, ("go", ["N=2", "M=été"], False)),
                                (0xFFFFFFFF, 1, ("other", [], True))):
        _same(_call("EmitEvent", "sasb", body, serial=serial, flags=flags))
    bad = bytearray(_call("EmitEvent", "sasb", ("gx", [], False), serial=3))
    bad[bad.index(b"gx")] = 0xFF
    assert srv.fast_parse_call(bytes(bad)) is None


MANAGER = "/com/ubuntu/Upstart"
MANAGER_IFACE = "com.ubuntu.Upstart0_6"


@pytest.mark.parametrize("dest", [None, "com.ubuntu.Upstart"])
def test_an_emit_without_wait_is_read_from_its_bytes_once_its_header_was_seen(dest):
    first = _call("EmitEvent", "sasb", ("go", ["A=1"], False), path=MANAGER,
                  iface=MANAGER_IFACE, serial=3, dest=dest)
    srv._CALL_HEADS.clear()
    assert srv.fast_emit_call(first) is None           # a header never seen: the full path
    srv.fast_parse_call(first)
    raw = _call("EmitEvent", "sasb", ("été", ["B=2", "C="], False), path=MANAGER,
                iface=MANAGER_IFACE, serial=9, flags=1, dest=dest)
    assert srv.fast_emit_call(raw) == (1, 9, "été", ["B=2", "C="])
    waiting = _call("EmitEvent", "sasb", ("go", [], True), path=MANAGER, iface=MANAGER_IFACE,
                    dest=dest)
    assert srv.fast_emit_call(waiting) is None          # wait=true: the full path
    assert srv.fast_emit_call(raw[:-1] + b"\xff") is None   # odd bytes: the full path


def test_an_emit_of_another_object_or_member_is_not_read_fast():
    for member, sig, body, path, iface in [
            ("EmitEvent", "sasb", ("go", [], False), JOB, MANAGER_IFACE),
            ("SetEnv", "assb", ([], "A=1", False), MANAGER, MANAGER_IFACE),
            ("EmitEvent", "sasb", ("go", [], False), MANAGER, "org.example.Other")]:
        raw = _call(member, sig, body, path=path, iface=iface)
        srv.fast_parse_call(raw)
        assert srv.fast_emit_call(raw) is None


def test_the_empty_reply_is_the_bytes_of_the_full_path():
    call = srv.fast_parse_call(_call("EmitEvent", "sasb", ("go", [], False), path=MANAGER,
                                     iface=MANAGER_IFACE, serial=77))
    assert srv.empty_reply(5, 77) == b"".join(
        (srv.fast_reply_parts(call, "", ())[0], srv.U32(5), srv.fast_reply_parts(call, "", ())[1]))
