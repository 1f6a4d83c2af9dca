"""The D-Bus wire format, small and import-light, for our clients.

Marshals and unmarshals message bodies (every basic type, arrays, structs,
dict entries, variants, unix fds as indexes) and whole little-endian
messages. It exists so that `initctl` starts in a few milliseconds: it needs
only `struct`, where jeepney costs several milliseconds to import. It is the
project's only hand-written codec: the server uses jeepney's messages and
takes its fast paths (the common calls, replies and signals) from here
(`upstart.control.codec`); the tests check that both agree byte for byte.

Values: `b` ↔ bool, integers ↔ int, `d` ↔ float, `s`/`o`/`g` ↔ str,
arrays ↔ list (`a{..}` ↔ dict), structs ↔ tuple, `v` ↔ (signature, value),
`h` ↔ index into the message's fd list. Pure; never does I/O.
"""

# no `from __future__ import annotations`: on initctl's start path it is an import
# (of __future__) like any other (issue #23); annotations here are Python 3.11 syntax

import struct

METHOD_CALL, METHOD_RETURN, ERROR, SIGNAL = 1, 2, 3, 4
NO_REPLY_EXPECTED = 1
NO_AUTO_START = 2

F_PATH, F_INTERFACE, F_MEMBER, F_ERROR_NAME, F_REPLY_SERIAL = 1, 2, 3, 4, 5
F_DESTINATION, F_SENDER, F_SIGNATURE, F_UNIX_FDS = 6, 7, 8, 9
_FIELD_TYPES = {1: "o", 2: "s", 3: "s", 4: "s", 5: "u", 6: "s", 7: "s", 8: "g", 9: "u"}

_FIXED = {
    "y": ("B", 1), "b": ("I", 4), "n": ("h", 2), "q": ("H", 2), "i": ("i", 4),
    "u": ("I", 4), "x": ("q", 8), "t": ("Q", 8), "d": ("d", 8), "h": ("I", 4),
}
_ALIGN = {"y": 1, "b": 4, "n": 2, "q": 2, "i": 4, "u": 4, "x": 8, "t": 8, "d": 8, "h": 4,
          "s": 4, "o": 4, "g": 1, "a": 4, "(": 8, "{": 8, "v": 1}


# perf: readers compiled once per byte order and format (not `order + fmt` per value)
_READERS = {order + fmt: struct.Struct(order + fmt).unpack_from
            for order in "<>" for fmt in ("B", "I", "h", "H", "i", "q", "Q", "d", "II")}


class WireError(ValueError):
    """Malformed data or a value that does not fit its signature."""


def split_signature(sig: str) -> list[str]:
    """Split a signature into complete types: "asb(si)" → ["as", "b", "(si)"]."""
    return list(_split(sig))


_SPLIT_CACHE: dict[str, tuple[str, ...]] = {}


def _split(sig: str) -> tuple[str, ...]:
    # perf: a client sees a handful of signatures; each is split once (a bad
    # one raises every time: exceptions are not cached). A plain dict, cleared
    # when full, not functools.lru_cache: functools imports collections,
    # about a tenth of initctl's start-up (issue #23)
    hit = _SPLIT_CACHE.get(sig)
    if hit is not None:
        return hit
    out = []
    i = 0
    while i < len(sig):
        j = _type_end(sig, i)
        out.append(sig[i:j])
        i = j
    if len(_SPLIT_CACHE) >= 512:
        _SPLIT_CACHE.clear()
    hit = _SPLIT_CACHE[sig] = tuple(out)
    return hit


def _type_end(sig: str, i: int) -> int:
    if i >= len(sig):
        raise WireError("incomplete signature %r" % sig)
    c = sig[i]
    if c == "a":
        return _type_end(sig, i + 1)
    if c in "({":
        close = ")" if c == "(" else "}"
        j = i + 1
        while j < len(sig) and sig[j] != close:
            j = _type_end(sig, j)
        if j >= len(sig):
            raise WireError("unclosed container in %r" % sig)
        # hardening (issue #14, found by tests/fuzz): an empty struct would make
        # `a()` loop forever; a dict entry is exactly a basic key and a value
        inner = _split(sig[i + 1:j])
        if not inner:
            raise WireError("empty container in %r" % sig)
        if c == "{" and (len(inner) != 2 or inner[0][0] in "a({v"):
            raise WireError("bad dict entry in %r" % sig)
        return j + 1
    if c in _ALIGN:
        return i + 1
    raise WireError("bad type code %r in %r" % (c, sig))


# ------------------------------------------------------------------ marshal

def _pad(buf: bytearray, align: int) -> None:
    rem = len(buf) % align
    if rem:
        buf += b"\0" * (align - rem)


def _put(buf: bytearray, t: str, v, errors: str = "surrogateescape") -> None:
    c = t[0]
    if c in _FIXED:
        fmt, size = _FIXED[c]
        _pad(buf, size)
        if c == "b":
            v = 1 if v else 0
        buf += struct.pack("<" + fmt, v)
    elif c in "so":
        data = v.encode("utf-8", errors)
        _pad(buf, 4)
        buf += struct.pack("<I", len(data)) + data + b"\0"
    elif c == "g":
        data = v.encode("ascii")
        buf += struct.pack("<B", len(data)) + data + b"\0"
    elif c == "v":
        vsig, value = v
        _put(buf, "g", vsig)
        _put(buf, vsig, value, errors)
    elif c == "(":
        _pad(buf, 8)
        for sub, item in zip(_split(t[1:-1]), v, strict=True):
            _put(buf, sub, item, errors)
    elif c == "a":
        elem = t[1:]
        _pad(buf, 4)
        at = len(buf)
        buf += b"\0\0\0\0"
        _pad(buf, _ALIGN[elem[0]])
        start = len(buf)
        if elem[0] == "{":
            kt, vt = _split(elem[1:-1])
            for key, value in v.items():
                _pad(buf, 8)
                _put(buf, kt, key, errors)
                _put(buf, vt, value, errors)
        else:
            for item in v:
                _put(buf, elem, item, errors)
        struct.pack_into("<I", buf, at, len(buf) - start)
    else:
        raise WireError("cannot marshal type %r" % t)


def marshal(sig: str, values, buf: bytearray | None = None, *,
            strict: bool = False) -> bytearray:
    """Append the body `values` (a sequence matching `sig`) to `buf`.
    `strict`: text must be valid UTF-8 (UnicodeEncodeError otherwise), as
    the server needs; clients pass undecodable bytes through."""
    if buf is None:
        buf = bytearray()
    types = _split(sig)
    if len(types) != len(values):
        raise WireError("%d values for signature %r" % (len(values), sig))
    errors = "strict" if strict else "surrogateescape"
    if sig in _SIMPLE_BODIES:
        _simple_put(buf, types, values, errors)
        return buf
    for t, v in zip(types, values):
        _put(buf, t, v, errors)
    return buf


_U32 = struct.Struct("<I")


def _simple_put(buf: bytearray, types, values, errors: str) -> None:
    """perf (issue #21): `_put` for the bodies of `_SIMPLE_BODIES` (the
    bridges' EmitEvent `sasb` above all), the same bytes without the walk."""
    u32 = _U32.pack
    for t, v in zip(types, values):
        buf += b"\0" * (-len(buf) % 4)
        if t == "s" or t == "o":
            data = v.encode("utf-8", errors)
            buf += u32(len(data))
            buf += data
            buf += b"\0"
        elif t == "as":
            at = len(buf)
            buf += b"\0\0\0\0"
            for item in v:
                buf += b"\0" * (-len(buf) % 4)
                data = item.encode("utf-8", errors)
                buf += u32(len(data))
                buf += data
                buf += b"\0"
            _U32.pack_into(buf, at, len(buf) - at - 4)
        elif t == "b":
            buf += u32(1 if v else 0)
        else:                                   # "u"
            buf += u32(v)


def _put_fields(buf: bytearray, fields, errors: str) -> None:
    """perf (issue #21): the header's `a(yv)` as `_put` writes it, without the walk."""
    buf += b"\0" * (-len(buf) % 4)
    at = len(buf)
    buf += b"\0\0\0\0"
    buf += b"\0" * (-len(buf) % 8)
    start = len(buf)
    for code, value in fields:
        buf += b"\0" * (-len(buf) % 8)
        vt = _FIELD_TYPES[code]
        buf += bytes((code, 1, ord(vt), 0))
        if vt == "u":
            buf += _pad4(buf) + _U32.pack(value)
        elif vt == "g":
            data = value.encode("ascii")
            buf += bytes((len(data),)) + data + b"\0"
        else:
            data = value.encode("utf-8", errors)
            buf += _pad4(buf) + _U32.pack(len(data)) + data + b"\0"
    _U32.pack_into(buf, at, len(buf) - start)


def _pad4(buf: bytearray) -> bytes:
    return b"\0" * (-len(buf) % 4)


# ---------------------------------------------------------------- unmarshal

def _get(buf, pos: int, t: str, order: str, errors: str = "surrogateescape"):
    c = t[0]
    if c in _FIXED:
        fmt, size = _FIXED[c]
        pos += -pos % size
        if pos + size > len(buf):
            raise WireError("truncated")
        (v,) = _READERS[order + fmt](buf, pos)
        if c == "b":
            v = bool(v)
        return v, pos + size
    if c in "so":
        pos += -pos % 4
        if pos + 4 > len(buf):
            raise WireError("truncated")
        (n,) = _READERS[order + "I"](buf, pos)
        pos += 4
        if pos + n + 1 > len(buf):
            raise WireError("truncated string")
        return bytes(buf[pos:pos + n]).decode("utf-8", errors), pos + n + 1
    if c == "g":
        if pos >= len(buf):
            raise WireError("truncated")
        n = buf[pos]
        pos += 1
        if pos + n + 1 > len(buf):
            raise WireError("truncated signature")
        return bytes(buf[pos:pos + n]).decode("ascii"), pos + n + 1
    if c == "v":
        vsig, pos = _get(buf, pos, "g", order)
        if len(_split(vsig)) != 1:
            raise WireError("variant must hold one type")
        value, pos = _get(buf, pos, vsig, order, errors)
        return (vsig, value), pos
    if c == "(":
        pos += -pos % 8
        items = []
        for sub in _split(t[1:-1]):
            item, pos = _get(buf, pos, sub, order, errors)
            items.append(item)
        return tuple(items), pos
    if c == "a":
        elem = t[1:]
        pos += -pos % 4
        if pos + 4 > len(buf):
            raise WireError("truncated")
        (n,) = _READERS[order + "I"](buf, pos)
        pos += 4
        pos += -pos % _ALIGN[elem[0]]
        end = pos + n
        if end > len(buf):
            raise WireError("truncated array")
        if elem[0] == "{":
            kt, vt = _split(elem[1:-1])
            out = {}
            while pos < end:
                pos += -pos % 8
                key, pos = _get(buf, pos, kt, order, errors)
                value, pos = _get(buf, pos, vt, order, errors)
                out[key] = value
            return out, pos
        items = []
        while pos < end:
            item, pos = _get(buf, pos, elem, order, errors)
            items.append(item)
        return items, pos
    raise WireError("cannot unmarshal type %r" % t)


def unmarshal(sig: str, buf, pos: int = 0, order: str = "<", *,
              strict: bool = False) -> tuple[list, int]:
    """Decode a body of signature `sig` starting at `pos` (offsets are
    relative to the start of `buf`, which must be 8-aligned to the message).
    `strict`: text that is not UTF-8 raises (UnicodeDecodeError)."""
    errors = "strict" if strict else "surrogateescape"
    if sig in _SIMPLE_BODIES:
        fast = _simple_body(buf, pos, _SIMPLE_BODIES[sig], order, errors)
        if fast is not None:
            return fast
    values = []
    for t in _split(sig):
        v, pos = _get(buf, pos, t, order, errors)
        values.append(v)
    return values, pos


# perf (issue #23): the bodies clients send most (EmitEvent `sasb`, Get `ss`,
# Start `asb`, ...) read without the generic walk; anything the walk would
# read otherwise (a truncated or odd body) is left to it (None)
_SIMPLE_BODIES = {sig: tuple(_split(sig)) for sig in (
    "s", "ss", "sas", "sasb", "asb", "as", "b", "sb", "u", "o", "")}


def simple_body_types(sig: str) -> tuple[str, ...] | None:
    """The types `simple_body` reads for `sig`, or None: not a simple body."""
    return _SIMPLE_BODIES.get(sig)


def simple_body(buf, pos: int, types: tuple[str, ...], order: str, errors: str):
    """(values, end) of a body of `simple_body_types`, or None when the walk
    of `unmarshal` must decide (a truncated or odd body)."""
    return _simple_body(buf, pos, types, order, errors)


def _simple_body(buf, pos: int, types: tuple[str, ...], order: str, errors: str):
    n = len(buf)
    values: list = []
    unpack = struct.unpack_from
    fmt = order + "I"
    try:
        for t in types:
            pos += -pos % 4
            if pos + 4 > n:
                return None
            (v,) = unpack(fmt, buf, pos)
            pos += 4
            if t == "s" or t == "o":
                if pos + v + 1 > n:
                    return None
                values.append(bytes(buf[pos:pos + v]).decode("utf-8", errors))
                pos += v + 1
            elif t == "as":
                end = pos + v
                if end > n:
                    return None
                items = []
                while pos < end:
                    pos += -pos % 4
                    (m,) = unpack(fmt, buf, pos)
                    pos += 4
                    if pos + m + 1 > end:
                        return None
                    items.append(bytes(buf[pos:pos + m]).decode("utf-8", errors))
                    pos += m + 1
                values.append(items)
            elif t == "b":
                values.append(bool(v))
            else:                                   # "u"
                values.append(v)
    except struct.error:
        return None
    return values, pos


# ----------------------------------------------------------------- messages

def encode_head(mtype: int, serial: int, fields: dict[int, object], sig: str = "",
                body_len: int = 0, flags: int = 0, *, strict: bool = False) -> bytearray:
    """The header of a little-endian message (fields in code order, as libdbus
    and jeepney write them), padded to 8 bytes: the body follows it."""
    if sig:
        fields = dict(fields)
        fields[F_SIGNATURE] = sig
    head = bytearray(b"l" + bytes((mtype, flags, 1)))
    head += struct.pack("<II", body_len, serial)
    _put_fields(head, sorted(fields.items()), "strict" if strict else "surrogateescape")
    _pad(head, 8)
    return head


def encode_message(mtype: int, serial: int, fields: dict[int, object], sig: str = "",
                   body=(), flags: int = 0) -> bytes:
    """A complete little-endian message."""
    body_buf = marshal(sig, body) if sig else bytearray()
    return bytes(encode_head(mtype, serial, fields, sig, len(body_buf), flags) + body_buf)


def message_size(head16) -> int:
    """Total size of the message whose first 16 bytes are given."""
    order = "<" if head16[0:1] == b"l" else ">"
    body_len, = struct.unpack_from(order + "I", head16, 4)
    fields_len, = struct.unpack_from(order + "I", head16, 12)
    header = 16 + fields_len
    return header + (-header % 8) + body_len


class Message:
    __slots__ = ("type", "flags", "serial", "fields", "body")

    def __init__(self, mtype, flags, serial, fields, body):
        self.type = mtype
        self.flags = flags
        self.serial = serial
        self.fields = fields
        self.body = body

    @property
    def signature(self) -> str:
        return self.fields.get(F_SIGNATURE, "")

    def __repr__(self):
        return "Message(type=%r, serial=%r, fields=%r, body=%r)" % (
            self.type, self.serial, self.fields, self.body)


def _fast_header_fields(raw, order: str, errors: str = "surrogateescape"):
    """perf: `unmarshal("a(yv)", raw, 12, order)` for the usual header (every
    variant a string, path, signature or uint32), without the generic walk;
    None for anything else, which the generic code then decodes (or refuses)."""
    try:
        n = len(raw)
        u32 = _READERS[order + "I"]
        (size,) = u32(raw, 12)
        pos = 16
        end = pos + size
        if end > n:
            return None
        out = []
        while pos < end:
            pos += -pos % 8
            if pos + 4 > n or raw[pos + 1] != 1:
                return None
            code = raw[pos]
            vsig = chr(raw[pos + 2])
            pos += 4
            if vsig == "u":
                if pos + 4 > n:
                    return None
                (value,) = u32(raw, pos)
                pos += 4
            elif vsig == "s" or vsig == "o":
                if pos + 4 > n:
                    return None
                (length,) = u32(raw, pos)
                pos += 4
                if pos + length + 1 > n:
                    return None
                value = bytes(raw[pos:pos + length]).decode("utf-8", errors)
                pos += length + 1
            elif vsig == "g":
                length = raw[pos]
                pos += 1
                if pos + length + 1 > n:
                    return None
                value = bytes(raw[pos:pos + length]).decode("ascii")
                pos += length + 1
            else:
                return None
            out.append((code, (vsig, value)))
        return out, pos
    except UnicodeDecodeError:
        raise
    except Exception:
        return None


def signal_member(raw) -> str | None:
    """perf (issue #21): the member of a complete message from its header
    alone, or None when only `decode_message` can tell (an unusual header)."""
    order = {b"l": "<", b"B": ">"}.get(bytes(raw[0:1]))
    try:
        fast = _fast_header_fields(raw, order, "surrogateescape") if order else None
    except UnicodeDecodeError:
        return None
    if fast is None:
        return None
    for code, (_sig, value) in fast[0]:
        if code == F_MEMBER:
            return value if isinstance(value, str) else None
    return None


def decode_message(raw, *, strict: bool = False) -> Message:
    """Decode one complete message (bytes of exactly `message_size`).
    `strict` (the server): text must be UTF-8 and the body must end exactly
    where the message does."""
    if len(raw) < 16:
        raise WireError("short message")
    order = {b"l": "<", b"B": ">"}.get(bytes(raw[0:1]))
    if order is None:
        raise WireError("bad endianness flag")
    mtype, flags, _version = raw[1], raw[2], raw[3]
    _body_len, serial = _READERS[order + "II"](raw, 4)
    errors = "strict" if strict else "surrogateescape"
    fast = _fast_header_fields(raw, order, errors)
    if fast is None:
        (field_list,), pos = unmarshal("a(yv)", raw, 12, order, strict=strict)
    else:
        field_list, pos = fast
    fields = {code: value for code, (_s, value) in field_list}
    # hardening (issue #14, found by tests/fuzz): a header field of the wrong
    # type (e.g. a boolean signature) is malformed, not a crash further on
    for code, (fsig, _value) in field_list:
        if _FIELD_TYPES.get(code, fsig) != fsig:
            raise WireError("header field %d has type %r" % (code, fsig))
    pos += -pos % 8
    sig = fields.get(F_SIGNATURE, "")
    body, end = unmarshal(sig, raw, pos, order, strict=strict) if sig else ([], pos)
    if strict and end != len(raw):
        raise WireError("body of %d bytes where the message has %d" % (end - pos, len(raw) - pos))
    return Message(mtype, flags, serial, fields, body)
