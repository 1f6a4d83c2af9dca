"""The server's fast encoder of signals and replies against jeepney: same bytes."""

import pytest
from hypothesis import given
from hypothesis import strategies as st
from jeepney.low_level import HeaderFields, Message
from jeepney.wrappers import DBusAddress, new_method_call, new_method_return, new_signal

from upstart.control import codec as srv
from upstart.control.signals import Restarted, signal_for
from upstart.core import effects as fx

REFUSED = (srv.Unsupported, ValueError, TypeError)   # UnicodeEncodeError is a ValueError
text = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\0"))

EFFECTS = [
    fx.JobAdded("j001"), fx.JobRemoved("a-b.c"), fx.EventEmitted("go", ["A=1", "B=two"]),
    fx.EventEmitted("started", []), fx.EventEmitted("été", ["X=ü", ""]), Restarted(),
    fx.InstanceAdded("j001", ""), fx.InstanceRemoved("tty", "tty1"),
    fx.GoalChanged("j001", "", "start"), fx.StateChanged("j001", "inst/x", "spawned"),
    fx.JobFailed("j001", "", 1), fx.JobFailed("svc", "", -15),
]


def _jeepney_signal(path, iface, member, sig, body, serial):
    return new_signal(DBusAddress(path, interface=iface), member, sig or None,
                      body).serialise(serial=serial)


def _fast_signal(cache, path, iface, member, sig, body, serial):
    head, rest = srv.fast_signal_parts(cache, path, iface, member, sig, body)
    return head + srv.U32(serial) + rest


@pytest.mark.parametrize("effect", EFFECTS, ids=lambda e: type(e).__name__)
def test_signal_bytes_same_as_jeepney(effect):
    cache: dict = {}
    spec = signal_for(effect)
    for serial in (1, 2, 0xFFFFFFFF):             # the second time from the cache
        assert _fast_signal(cache, *spec, serial) == _jeepney_signal(*spec, serial)
    assert len(cache) == 1


@given(text, st.lists(text))
def test_event_emitted_any_text(name, env):
    spec = signal_for(fx.EventEmitted(name, env))
    assert _fast_signal({}, *spec, 7) == _jeepney_signal(*spec, 7)


@given(st.text(min_size=1), st.integers(-2**31, 2**31 - 1))
def test_state_and_failed_any_value(state, status):
    for effect in (fx.StateChanged("j", "", state), fx.JobFailed("j", "i", status)):
        spec = signal_for(effect)
        try:
            want = _jeepney_signal(*spec, 3)
        except Exception:                    # e.g. a lone surrogate: jeepney refuses
            with pytest.raises(REFUSED):
                _fast_signal({}, *spec, 3)
            continue
        assert _fast_signal({}, *spec, 3) == want


def test_unusual_values_are_refused_not_mangled():
    cache: dict = {}
    bad = [("/p", "com.x", "M", "s", ("\udcff",)),           # not UTF-8
           ("/p", "com.x", "M", "o", ("not/a/path",)),       # not an object path
           ("/p", "com.x", "M", "i", (True,)),               # jeepney packs it: not us
           ("/p", "com.x", "M", "sas", ("n", ("A=1",))),     # a tuple, not a list
           ("/p", "com.x", "M", "ao", ([],)),                # a shape we leave to jeepney
           ("bad path", "com.x", "M", "", ())]
    for spec in bad:
        with pytest.raises(REFUSED):
            srv.fast_signal_parts(cache, *spec)


def _call(sender=None, serial=41):
    msg = new_method_call(DBusAddress("/com/ubuntu/Upstart/jobs/j001", "com.ubuntu.Upstart",
                                      "com.ubuntu.Upstart0_6.Job"), "Start", "asb", ([], True))
    raw = msg.serialise(serial=serial)
    parsed = Message.from_buffer(raw)
    if sender:
        parsed.header.fields[HeaderFields.sender] = sender
    return parsed


@pytest.mark.parametrize("sig,body", [("", ()), ("o", ("/com/ubuntu/Upstart/jobs/j001/_",)),
                                      ("s", ("text ü",)), ("i", (-3,)),
                                      ("sas", ("x", ["A=1", "BB=22"]))])
@pytest.mark.parametrize("serial", [1, 41, 0xFFFFFFFF])
def test_reply_bytes_same_as_jeepney(sig, body, serial):
    call = _call(serial=serial)
    head, rest = srv.fast_reply_parts(call, sig, body)
    for own in (1, 99):
        want = new_method_return(call, sig or None, body).serialise(serial=own)
        assert head + srv.U32(own) + rest == want


def test_reply_to_a_bus_caller_is_left_to_jeepney():
    with pytest.raises(srv.Unsupported):
        srv.fast_reply_parts(_call(sender=":1.5"), "", ())
    with pytest.raises(srv.Unsupported):
        srv.fast_reply_parts(_call(), "a{sv}", ({},))


# ------------------------------------------------------------ the event log's encoder
# (perf: upstart/observe/jsonlog.encode keeps one C encoder; same text as json.dumps)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12)


@given(st.dictionaries(st.text(), json_values, max_size=6))
def test_event_log_encoding_same_as_json_dumps(record):
    import json

    from upstart.observe import jsonlog
    assert jsonlog.encode(record) == json.dumps(record, separators=(",", ":")) + "\n"


def test_event_log_encoding_errors_unchanged():
    from upstart.observe import jsonlog
    loop: list = []
    loop.append(loop)
    with pytest.raises(ValueError, match="Circular reference"):
        jsonlog.encode({"x": loop})
    with pytest.raises(TypeError, match="not JSON serializable"):
        jsonlog.encode({"x": object()})
    assert jsonlog.encode({"seq": 1, "kind": "ok"}) == '{"seq":1,"kind":"ok"}\n'


# ------------------------------------------------------------ on a live server

def _recv_exactly(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        assert chunk, "connection closed after %d of %d bytes" % (len(data), n)
        data += chunk
    return data


def _server_serial(server):
    return server.call(lambda: next(iter(server.server._conns.values())).serial)


def test_signals_of_one_turn_are_jeepneys_bytes_in_order(server, conn):
    conn.call("/com/ubuntu/Upstart", "com.ubuntu.Upstart0_6", "GetAllJobs")
    effects = [fx.StateChanged("svc", "", "starting"), fx.EventEmitted("go", ["A=1"]),
               fx.JobFailed("svc", "", 1), Restarted(), fx.EventEmitted("go", ("A=1",)),
               fx.StateChanged("svc", "", "starting"), Restarted(),    # again: from a cache
               fx.EventEmitted("go", ("A=1",)), fx.JobFailed("svc", "", 1)]
    serial = _server_serial(server)

    def burst():
        for effect in effects:
            server.server.broadcast(effect)
    server.call(burst)
    want = b"".join(_jeepney_signal(*signal_for(e), serial + i + 1)
                    for i, e in enumerate(effects))
    assert _recv_exactly(conn.sock, len(want)) == want


def test_what_was_written_is_sent_when_the_server_closes(server, conn):
    conn.call("/com/ubuntu/Upstart", "com.ubuntu.Upstart0_6", "GetAllJobs")
    serial = _server_serial(server)
    effect = fx.GoalChanged("svc", "", "stop")

    def last_words():
        server.server.broadcast(effect)
        server.server.close()
    server.call(last_words)
    want = _jeepney_signal(*signal_for(effect), serial + 1)
    assert _recv_exactly(conn.sock, len(want)) == want
    assert conn.sock.recv(1) == b""


# ------------------------------------------------------------ the client's decoder
# (perf: upstart/control/wire.decode_message reads usual header fields directly)

def _decode_both(raw, monkeypatch):
    from upstart.control import wire

    def outcome():
        try:
            msg = wire.decode_message(raw)
        except Exception as exc:
            return type(exc)
        return (msg.type, msg.flags, msg.serial, msg.fields, msg.body)
    fast = outcome()
    with monkeypatch.context() as m:
        m.setattr(wire, "_fast_header_fields", lambda raw, order, errors="": None)
        slow = outcome()
    return fast, slow


@pytest.mark.parametrize("effect", EFFECTS, ids=lambda e: type(e).__name__)
def test_client_decodes_signals_as_before(effect, monkeypatch):
    raw = _jeepney_signal(*signal_for(effect), 9)
    fast, slow = _decode_both(raw, monkeypatch)
    assert fast == slow and not isinstance(fast, type)


@given(st.binary(max_size=200), st.integers(0, 120), st.data())
def test_client_decodes_damaged_messages_as_before(noise, cut, data):
    import warnings

    import _pytest.monkeypatch
    effect = data.draw(st.sampled_from(EFFECTS))
    raw = bytearray(_jeepney_signal(*signal_for(effect), 9))
    at = data.draw(st.integers(0, len(raw)))
    raw[at:at + len(noise)] = noise
    raw = bytes(raw[:max(16, len(raw) - cut)])
    mp = _pytest.monkeypatch.MonkeyPatch()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fast, slow = _decode_both(raw, mp)
    finally:
        mp.undo()
    assert fast == slow
