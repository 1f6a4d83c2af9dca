"""The server's messages: jeepney's `Message`, with fast paths from `wire`.

The server reads and writes jeepney's messages (its sans-I/O layer is the
library the project chose). The messages it handles most (the calls clients
send, the replies to them, about ten signals per job start) have a handful of
fixed shapes; for those the bytes are made and read by `upstart.control.wire`,
the project's one hand-written codec, in strict mode (text must be UTF-8, a
body must end where its message does). The bytes are exactly jeepney's
(tests/unit/control/test_control_fastsignal.py, test_control_fastparse.py);
anything unusual raises `Unsupported` or returns None and takes jeepney's path,
so errors stay jeepney's.

Pure: no I/O.
"""

from __future__ import annotations

import struct

from jeepney.low_level import Endianness, Header, HeaderFields, Message, MessageFlag, MessageType
from jeepney.low_level import simple_types as _jeepney_types

from upstart.control import api, paths, wire

U32 = struct.Struct("<I").pack
_HEAD_CACHE_MAX = 8192
_PATH_CACHE_MAX = 8192
_ARRAY_MAX = 1 << 26             # jeepney's own limit on an array: let it say so
_check_object_path = _jeepney_types["o"].check_data
_valid_paths: set[str] = set()


class Unsupported(Exception):
    """Not a shape the fast path handles: use jeepney."""


def _check_body(sig: str, body) -> None:
    """Refuse what jeepney would pack differently or refuse: only strings, a
    valid object path, an int for `i`, a list for `as`."""
    if type(body) is not tuple or len(body) != len(sig.replace("as", "a")):
        raise Unsupported
    if sig == "o":
        path = body[0]
        if path not in _valid_paths:
            _check_object_path(path)          # raises as jeepney would
            if len(_valid_paths) >= _PATH_CACHE_MAX:
                _valid_paths.clear()
            _valid_paths.add(path)
    elif sig == "i":
        if type(body[0]) is not int:
            raise Unsupported
    elif sig == "s":
        if type(body[0]) is not str:
            raise Unsupported
    elif sig == "sas":
        if type(body[0]) is not str or type(body[1]) is not list \
                or any(type(x) is not str for x in body[1]):
            raise Unsupported
    elif sig:
        raise Unsupported


def _body(sig: str, body) -> bytes:
    _check_body(sig, body)
    if not sig:
        return b""
    data = wire.marshal(sig, body, strict=True)     # UnicodeEncodeError as jeepney's
    if len(data) > _ARRAY_MAX:
        raise Unsupported
    return bytes(data)


def _split(head: bytes, data: bytes) -> tuple[bytes, bytes]:
    """(bytes up to the body length, bytes after the serial) of a message
    whose header `head` was encoded with serial 0 and body length 0."""
    return head[:4] + U32(len(data)), head[12:] + data


def fast_signal_parts(cache: dict, path: str, iface: str, member: str, sig: str,
                      body) -> tuple[bytes, bytes]:
    """The signal jeepney's `new_signal(...).serialise(serial)` builds, in
    two parts around the serial; header bytes are cached per (path, iface,
    member, sig). Raises `Unsupported` (or jeepney's own error)."""
    data = _body(sig, body)
    key = (path, iface, member, sig)
    head = cache.get(key)
    if head is None:
        if path not in _valid_paths:
            _check_object_path(path)
        head = bytes(wire.encode_head(wire.SIGNAL, 0, {
            wire.F_PATH: path, wire.F_INTERFACE: iface, wire.F_MEMBER: member}, sig,
            strict=True))
        if len(cache) >= _HEAD_CACHE_MAX:
            cache.clear()
        cache[key] = head
    return _split(head, data)


def fast_reply_parts(call_msg: Message, sig: str, body) -> tuple[bytes, bytes]:
    """The same for jeepney's `new_method_return(call_msg, sig or None, body)`
    on a private connection (a bus caller's reply needs a destination field:
    jeepney's path)."""
    header = call_msg.header
    if HeaderFields.sender in header.fields:
        raise Unsupported
    data = _body(sig, body)
    head = _REPLY_HEADS.get(sig)
    if head is None:             # perf: one header per signature, the serial patched in
        head = bytes(wire.encode_head(wire.METHOD_RETURN, 0, {wire.F_REPLY_SERIAL: 0}, sig))
        if len(_REPLY_HEADS) < 256:
            _REPLY_HEADS[sig] = head
    return (head[:4] + U32(len(data)),
            head[12:_REPLY_SERIAL_AT] + U32(header.serial) + head[_REPLY_SERIAL_AT + 4:] + data)


# the reply serial is the first header field: its uint32 starts at byte 20
# (array length at 12, struct at 16: code, signature length, "u", nul, value)
_REPLY_SERIAL_AT = 20
_REPLY_HEADS: dict[str, bytes] = {}


_CALL_FIELDS = {wire.F_PATH: HeaderFields.path, wire.F_INTERFACE: HeaderFields.interface,
                wire.F_MEMBER: HeaderFields.member,
                wire.F_DESTINATION: HeaderFields.destination,
                wire.F_SIGNATURE: HeaderFields.signature}
_FAST_CALL_SIGS: dict[str, bool] = {}


def _simple_sig(sig: str) -> bool:
    """Only strings, booleans and string arrays: read alike by both codecs."""
    known = _FAST_CALL_SIGS.get(sig)
    if known is None:
        known = sig.replace("as", "").strip("sb") == ""
        if len(_FAST_CALL_SIGS) < 256:
            _FAST_CALL_SIGS[sig] = known
    return known


# perf (issue #23 item 5): a client sends the same few calls again and again
# (a pipelined EmitEvent: same path, interface, member, signature). Their
# header fields are the same bytes each time, so what they decode to is kept
# by those bytes: a call whose fields were seen before costs the body only.
_CALL_HEADS: dict[bytes, tuple] = {}
_CALL_HEADS_MAX = 256
_LE_U32 = struct.Struct("<I").unpack_from
_LE_2U32 = struct.Struct("<II").unpack_from


def fast_parse_call(raw: bytes) -> Message | None:
    """`Message.from_buffer(raw)` for a common method call (little-endian,
    the usual header fields, no fds, a body of strings, booleans and string
    arrays), read by `wire`; None for anything else: jeepney reads it then
    (or raises)."""
    n = len(raw)
    if n < 16 or raw[0] != 0x6C or raw[1] != wire.METHOD_CALL or raw[3] != 1:
        return None
    (fields_len,) = _LE_U32(raw, 12)
    known = _CALL_HEADS.get(raw[12:16 + fields_len])
    if known is not None:               # perf: these header fields were read before
        body = _known_body(raw, known)
        if body is not None:
            body_len, serial = _LE_2U32(raw, 4)
            return Message(_header(raw[2], body_len, serial, dict(known[0])), tuple(body))
    msg = _parse_call(raw)
    if msg is not None and known is None:
        types = wire.simple_body_types(msg.header.fields.get(HeaderFields.signature, ""))
        if types is not None:
            if len(_CALL_HEADS) >= _CALL_HEADS_MAX:
                _CALL_HEADS.clear()
            fields = msg.header.fields
            _CALL_HEADS[bytes(raw[12:16 + fields_len])] = (
                dict(fields), types, _body_start(raw), _is_emit(fields))
    return msg


def _known_body(raw: bytes, known: tuple) -> list | None:
    """The body values of `raw`, a call whose header fields are `known` (an
    entry of `_CALL_HEADS`); None when the full path must decide (text that
    is not UTF-8, a body that does not end with the message)."""
    try:
        got = wire.simple_body(raw, known[2], known[1], "<", "strict")
    except ValueError:
        return None
    if got is None or got[1] != len(raw):
        return None
    return got[0]


# the header fields of the manager's EmitEvent as initctl sends it (with or
# without a destination): `fast_emit_call` reads only such calls
_EMIT_FIELDS = {HeaderFields.path: paths.MANAGER_PATH, HeaderFields.interface: api.MANAGER_IFACE,
                HeaderFields.member: "EmitEvent", HeaderFields.signature: "sasb"}


def _is_emit(fields: dict) -> bool:
    if HeaderFields.destination in fields:
        fields = dict(fields)
        del fields[HeaderFields.destination]
    return fields == _EMIT_FIELDS


def fast_emit_call(raw: bytes) -> tuple | None:
    """(flags, serial, name, env) of an `EmitEvent` call with wait=false whose
    header fields were seen before (`fast_parse_call`) as the manager's
    EmitEvent; None for anything else (the message's full path decides).
    perf (issue #23 item 5): no `Message`, no `Header` for a pipelined emit."""
    if raw[1] != wire.METHOD_CALL or raw[0] != 0x6C or raw[3] != 1:
        return None
    (fields_len,) = _LE_U32(raw, 12)
    known = _CALL_HEADS.get(raw[12:16 + fields_len])
    if known is None or not known[3]:
        return None
    body = _known_body(raw, known)
    if body is None:
        return None
    name, env, wait = body
    if wait:
        return None
    return raw[2], _LE_U32(raw, 8)[0], name, env


def _empty_reply() -> tuple[tuple[bytes, bytes], bytes]:
    global _EMPTY_REPLY
    if _EMPTY_REPLY is None:
        head = bytes(wire.encode_head(wire.METHOD_RETURN, 0, {wire.F_REPLY_SERIAL: 0}, ""))
        _EMPTY_REPLY = ((head[:4] + U32(0), head[12:_REPLY_SERIAL_AT]),
                        head[_REPLY_SERIAL_AT + 4:])
    return _EMPTY_REPLY


_EMPTY_REPLY: tuple | None = None


def empty_reply(serial: int, reply_serial: int) -> bytes:
    """The empty reply of serial `serial` to the call of serial `reply_serial`
    from a private connection (no sender): `fast_reply_parts` of it, joined
    (perf: one join of precomputed parts)."""
    (start, mid), end = _EMPTY_REPLY or _empty_reply()
    return b"".join((start, U32(serial), mid, U32(reply_serial), end))


_FLAGS: dict[int, MessageFlag] = {}


def _header(flags: int, body_len: int, serial: int, fields: dict) -> Header:
    """`Header(little, method_call, flags, 1, body_len, serial, fields)`.
    perf: jeepney's __init__ converts its type and flags through their enums
    (Python calls) for every message; these are kept, by the flags' byte."""
    flag = _FLAGS.get(flags)
    if flag is None:
        flag = _FLAGS[flags] = MessageFlag(flags)     # (256 values at most)
    header = Header.__new__(Header)
    header.endianness = Endianness.little
    header.message_type = MessageType.method_call
    header.flags = flag
    header.protocol_version = 1
    header.body_length = body_len
    header.serial = serial
    header.fields = fields
    return header


def _parse_call(raw: bytes) -> Message | None:
    try:
        msg = wire.decode_message(raw, strict=True)
    except (wire.WireError, ValueError, IndexError, struct.error):
        return None                # UnicodeDecodeError too: jeepney decides
    fields = {}
    for code, value in msg.fields.items():
        name = _CALL_FIELDS.get(code)
        if name is None:
            return None
        fields[name] = value
    if not _simple_sig(msg.signature):
        return None
    header = Header(Endianness.little, MessageType.method_call, msg.flags, 1,
                    len(raw) - _body_start(raw), msg.serial, fields)
    return Message(header, tuple(msg.body))


def _body_start(raw: bytes) -> int:
    (fields_len,) = struct.unpack_from("<I", raw, 12)
    end = 16 + fields_len
    return end + (-end % 8)
