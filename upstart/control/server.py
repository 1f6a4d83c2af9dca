"""The control server: init's private D-Bus endpoint.

A peer-to-peer D-Bus server on a unix socket (`unix:abstract=/com/ubuntu/upstart`
for PID 1, `.../upstart-session/UID/PID` for a Session Init, `unix:path=`
for tests). It speaks the wire protocol itself: the SASL text phase
(`upstart.control.sasl`), then binary messages framed and decoded with
jeepney's sans-I/O layer, and it dispatches method calls on the manager,
job and instance objects (`upstart.control.api` lists them) to a
`upstart.control.backend.Backend`. The daemon pushes signals with
`broadcast(effect)`; they go to every authenticated connection.

Owns: the listening socket, the connections and their buffers, object-path
routing, signature checks, permission checks (spec 05 §5.5), the scope of
each caller (chroot sessions, docs/design/sessions.md: a `sessions` hook
picks the backend a caller's requests go to), error mapping
(ControlFailure → its D-Bus name and text; libdbus/libnih texts for
unknown methods and bad arguments) and the tasks of asynchronous methods.

Never: touches the engine, blocks the loop, or lets a client take the daemon
down. Every client input is bounded (message size, pending fds, output
backlog) and any malformed input or backend bug drops or answers that one
client only. Asynchronous methods (Start with wait, EmitEvent with wait, ...)
run as tasks so other clients are served meanwhile; a reply for a client
that went away is discarded.
"""

from __future__ import annotations

import array
import asyncio
import inspect
import os
import socket
import struct
import uuid

from jeepney.low_level import (
    Endianness, Header, HeaderFields, Message, MessageFlag, MessageType, calc_msg_size,
)
from jeepney.low_level import simple_types as _jeepney_types
from jeepney.wrappers import DBusAddress, new_error, new_method_return, new_signal

from upstart.control import address as addr
from upstart.control import api, paths
from upstart.control.backend import Caller
from upstart.control.sasl import ANY_UID, SaslError, SaslServer
from upstart.control.signals import Restarted, signal_for
from upstart.core import effects as fx
from upstart.core.effects import ControlFailure

MAX_MESSAGE = 1 << 22          # 4 MiB: far above any legitimate request
MAX_PENDING_FDS = 64
MAX_FDS_PER_READ = 16
MAX_OUTPUT = 1 << 25           # 32 MiB of unsent output: the client is stuck
READ_SIZE = 65536
# output is coalesced: written to the socket once per loop turn, or at once when
# this much is waiting (perf: one send() per connection per turn, not per message)
FLUSH_AT = 1 << 18
MAX_CONNECTIONS = 512          # beyond this new clients are refused, not served badly
# hardening (issue #14): calls of one connection still being answered; at this
# many a private connection is not read any further until one is answered
# (back-pressure); a bus connection's extra calls are refused with LimitsExceeded
MAX_CALLS_IN_FLIGHT = 256
LIMITS_EXCEEDED = "org.freedesktop.DBus.Error.LimitsExceeded"
DBUS_MAX_MESSAGE = 1 << 27     # the protocol's own maximum; larger is garbage

_PERMISSION_TEXT = {
    "ReloadConfiguration": "You do not have permission to reload configuration",
    "GetState": "You do not have permission to request state",
    "Restart": "You do not have permission to request restart",
    "GetEnv": "You do not have permission to query job environment",
    "ListEnv": "You do not have permission to query job environment",
    "SetEnv": "You do not have permission to modify job environment",
    "SetEnvList": "You do not have permission to modify job environment",
    "UnsetEnv": "You do not have permission to modify job environment",
    "UnsetEnvList": "You do not have permission to modify job environment",
    "ResetEnv": "You do not have permission to modify job environment",
    "EmitEvent": "You do not have permission to emit an event",
    "EmitEventWithFile": "You do not have permission to emit an event",
    "NotifyDiskWriteable": "You do not have permission to notify disk is writeable",
    "NotifyDBusAddress": "You do not have permission to notify D-Bus address",
    "NotifyCGroupManagerAddress": "You do not have permission to notify cgroup manager address",
    "EndSession": "You do not have permission to end session",
    "SetState": "You do not have permission to modify job state",
    "ClearState": "You do not have permission to modify job state",
    "Observe": "You do not have permission to read the event record",
    "log_priority": "You do not have permission to set log priority",
}


class DBusError(Exception):
    """An error reply: D-Bus error name and text."""

    def __init__(self, name: str, text: str):
        super().__init__(text)
        self.name = name
        self.text = text


def _unknown(member, sig, iface) -> DBusError:
    return DBusError(api.ERR_UNKNOWN_METHOD, api.unknown_method_text(member, sig, iface))


def _machine_id() -> str:
    for path in ("/etc/machine-id", "/var/lib/dbus/machine-id"):
        try:
            with open(path) as f:
                text = f.read().strip()
            if text:
                return text
        except OSError:
            pass
    return uuid.uuid5(uuid.NAMESPACE_DNS, socket.gethostname()).hex


class _Connection:
    """One client: socket, SASL state, input/output buffers, serial counter."""

    __slots__ = ("sock", "fd", "caller", "sasl", "inbuf", "infds", "outbuf",
                 "serial", "closed", "writing", "unique_name", "bus", "pending",
                 "callers", "skip", "in_flight", "paused", "flush_soon", "scope")

    def __init__(self, sock: socket.socket, caller: Caller, sasl: SaslServer):
        self.sock = sock
        self.fd = sock.fileno()
        self.caller = caller
        self.sasl = sasl
        self.inbuf = bytearray()
        self.infds: list[int] = []
        self.outbuf = bytearray()
        self.serial = 0
        self.closed = False
        self.writing = False
        self.unique_name = ""
        self.bus = None           # "system"/"session"/...: a message-bus connection
        self.pending: dict = {}   # serial of our own call → future (bus only)
        self.callers: dict = {}   # bus sender → Caller
        self.skip = 0             # hardening: bytes of a refused oversized message left
        self.in_flight = 0        # hardening: calls being answered asynchronously
        self.paused = False       # hardening: not read while too many are in flight
        self.flush_soon = False   # perf: a flush of outbuf is scheduled for this turn
        self.scope = None         # chroot sessions: (backend, root) of a private caller

    def next_serial(self) -> int:
        self.serial = (self.serial % 0xFFFFFFFF) + 1
        return self.serial


# Methods any connected user may call: reading, never changing (the same set the
# shipped bus policy opens to everyone, data/com.ubuntu.Upstart.conf).
_OPEN_TO_ALL = {
    (api.INTROSPECTABLE_IFACE, "Introspect"),
    (api.PROPERTIES_IFACE, "Get"), (api.PROPERTIES_IFACE, "GetAll"),
    (api.PEER_IFACE, "Ping"), (api.PEER_IFACE, "GetMachineId"),
    ("org.freedesktop.DBus", "Hello"),
    (api.MANAGER_IFACE, "GetJobByName"), (api.MANAGER_IFACE, "GetAllJobs"),
    (api.MANAGER_IFACE, "ListStates"),
    (api.JOB_IFACE, "GetInstance"), (api.JOB_IFACE, "GetInstanceByName"),
    (api.JOB_IFACE, "GetAllInstances"),
}
_OPEN_MEMBERS = {member for _iface, member in _OPEN_TO_ALL}


def _open_to_all(iface: str | None, member: str) -> bool:
    if iface is None:
        return member in _OPEN_MEMBERS
    return (iface, member) in _OPEN_TO_ALL


# ------------------------------------------------------------ fast signals
#
# perf: the signals init broadcasts (about ten per job start) have a handful of
# fixed shapes. Their bytes are built here directly instead of by jeepney's
# generic serialiser: the header fields (path, interface, member, signature)
# are serialised once per signal and object by jeepney itself and cached, the
# body is packed with struct, and only body length and serial are filled in
# per message. The bytes are exactly jeepney's (tests/unit/control/
# test_control_fastsignal.py); anything unusual (a value jeepney would refuse,
# a signature not below) takes jeepney's path, so errors stay what they were.

_U32 = struct.Struct("<I").pack
_I32 = struct.Struct("<i").pack
_SIGNAL_START = b"l" + bytes((MessageType.signal.value, 0, 1))
_HEAD_CACHE_MAX = 8192
_PATH_CACHE_MAX = 8192
_check_object_path = _jeepney_types["o"].check_data
_valid_paths: set[str] = set()


# effects whose fields are all strings (or tuples of them): equal effects give
# equal bytes, so a signal's bytes can be looked up by its effect (JobFailed,
# with an int that equals a float or a bool, is not among them)
_BYTES_CACHEABLE = frozenset({fx.JobAdded, fx.JobRemoved, fx.EventEmitted, fx.InstanceAdded,
                              fx.InstanceRemoved, fx.GoalChanged, fx.StateChanged, Restarted})
_BYTES_CACHE_MAX = 4096


class _Unsupported(Exception):
    """Not a shape the fast encoder handles: use jeepney."""


def _fast_str(value) -> bytes:
    if not isinstance(value, str):
        raise _Unsupported
    data = value.encode("utf-8")
    return _U32(len(data)) + data + b"\0"


def _fast_path(value) -> bytes:
    if value not in _valid_paths:
        _check_object_path(value)          # raises as jeepney would
        if len(_valid_paths) >= _PATH_CACHE_MAX:
            _valid_paths.clear()
        _valid_paths.add(value)
    return _fast_str(value)


def _body_none(body) -> bytes:
    return b""


def _body_s(body) -> bytes:
    (value,) = body
    return _fast_str(value)


def _body_o(body) -> bytes:
    (value,) = body
    return _fast_path(value)


def _body_i(body) -> bytes:
    (value,) = body
    if type(value) is not int:
        raise _Unsupported
    return _I32(value)


def _body_sas(body) -> bytes:
    name, items = body
    if type(items) is not list:
        raise _Unsupported
    out = bytearray(_fast_str(name))
    out += b"\0" * (-len(out) % 4)
    at = len(out)
    out += b"\0\0\0\0"
    start = at + 4
    for item in items:
        out += b"\0" * (-len(out) % 4)
        out += _fast_str(item)
    if len(out) > 1 << 26:
        raise _Unsupported                 # jeepney's size limit: let it say so
    struct.pack_into("<I", out, at, len(out) - start)
    return bytes(out)


_FAST_BODIES = {"": _body_none, "s": _body_s, "o": _body_o, "i": _body_i, "sas": _body_sas}


def fast_signal_parts(cache: dict, path: str, iface: str, member: str, sig: str,
                      body) -> tuple[bytes, bytes]:
    """(first 8 bytes: endianness..body length, rest after the serial) of the
    signal jeepney's `new_signal(...).serialise(serial)` would build; raises
    `_Unsupported` (or jeepney's own error) when it cannot."""
    encode = _FAST_BODIES.get(sig)
    if encode is None or type(body) is not tuple:
        raise _Unsupported
    key = (path, iface, member, sig)
    fields = cache.get(key)
    if fields is None:
        msg = new_signal(DBusAddress(path, interface=iface), member, sig or None, ())
        msg.header.body_length = 0
        raw = msg.header.serialise(serial=0)
        fields = bytes(raw[12:]) + b"\0" * (-len(raw) % 8)
        if len(cache) >= _HEAD_CACHE_MAX:
            cache.clear()
        cache[key] = fields
    data = encode(body) if sig else b""
    return _SIGNAL_START + _U32(len(data)), fields + data


_REPLY_START = b"l" + bytes((MessageType.method_return.value, 0, 1))
_REPLY_SERIAL_FIELD = bytes((HeaderFields.reply_serial.value, 1, ord("u"), 0))
_SIGNATURE_FIELD = bytes((HeaderFields.signature.value, 1, ord("g"), 0))


def fast_reply_parts(call_msg, sig: str, body) -> tuple[bytes, bytes]:
    """The same split for jeepney's `new_method_return(call_msg, sig or None,
    body)` on a private connection (no sender: no destination field)."""
    encode = _FAST_BODIES.get(sig)
    header = call_msg.header
    if encode is None or type(body) is not tuple or HeaderFields.sender in header.fields:
        raise _Unsupported
    data = encode(body) if sig else b""
    fields = _REPLY_SERIAL_FIELD + _U32(header.serial)
    if sig:
        fields += _SIGNATURE_FIELD + bytes((len(sig),)) + sig.encode("ascii") + b"\0"
    rest = _U32(len(fields)) + fields + b"\0" * (-(16 + len(fields)) % 8) + data
    return _REPLY_START + _U32(len(data)), rest


# perf: reading a method call. jeepney's generic parser costs about 15 us a
# message; the calls clients send most (little-endian, the usual header fields,
# no fds, a body of strings, booleans and string arrays) are read here into
# the same jeepney Message, and anything else (or anything odd) goes to jeepney.
_U32_AT = struct.Struct("<I").unpack_from
_HEAD_AT = struct.Struct("<III").unpack_from      # body length, serial, fields length
_CALL_FIELDS = {HeaderFields.path.value: (HeaderFields.path, ord("o")),
                HeaderFields.interface.value: (HeaderFields.interface, ord("s")),
                HeaderFields.member.value: (HeaderFields.member, ord("s")),
                HeaderFields.destination.value: (HeaderFields.destination, ord("s")),
                HeaderFields.signature.value: (HeaderFields.signature, ord("g"))}
_FAST_CALL_SIGS: dict[str, tuple[str, ...] | None] = {}


def _call_sig(sig: str) -> tuple[str, ...] | None:
    """`sig` split into "s", "b" and "as"; None if it has any other type."""
    if sig in _FAST_CALL_SIGS:
        return _FAST_CALL_SIGS[sig]
    parts: list[str] | None = []
    i = 0
    while i < len(sig):
        if sig[i] in "sb":
            parts.append(sig[i])
            i += 1
        elif sig.startswith("as", i):
            parts.append("as")
            i += 2
        else:
            parts = None
            break
    out = tuple(parts) if parts is not None else None
    if len(_FAST_CALL_SIGS) < 256:
        _FAST_CALL_SIGS[sig] = out
    return out


def _read_str(raw: bytes, pos: int, limit: int) -> tuple[str, int]:
    pos += -pos % 4
    if pos + 4 > limit:
        raise _Unsupported
    (length,) = _U32_AT(raw, pos)
    pos += 4
    stop = pos + length
    if stop >= limit or raw[stop] != 0:
        raise _Unsupported
    return raw[pos:stop].decode("utf-8"), stop + 1


def fast_parse_call(raw: bytes) -> Message | None:
    """`Message.from_buffer(raw)` for a common method call (see above), or
    None: the caller then uses jeepney (which reads it, or raises)."""
    try:
        n = len(raw)
        if n < 16 or raw[0] != 0x6C or raw[1] != 1:
            return None
        body_len, serial, fields_len = _HEAD_AT(raw, 4)
        end = 16 + fields_len
        if end > n:
            return None
        fields = {}
        pos = 16
        while pos < end:
            pos += -pos % 8
            if pos + 4 > end:
                return None
            field = _CALL_FIELDS.get(raw[pos])
            if field is None or raw[pos + 1] != 1 or raw[pos + 2] != field[1] \
                    or raw[pos + 3] != 0:
                return None
            pos += 4
            if field[1] == 0x67:                      # "g": one length byte
                stop = pos + 1 + raw[pos]
                if stop >= end or raw[stop] != 0:
                    return None
                value = raw[pos + 1:stop].decode("utf-8")
                pos = stop + 1
            else:
                value, pos = _read_str(raw, pos, end)
            fields[field[0]] = value
        if pos != end:
            return None
        pos = end + (-end % 8)
        if pos + body_len != n:
            return None
        parts = _call_sig(fields.get(HeaderFields.signature, ""))
        if parts is None:
            return None
        body = []
        for part in parts:
            if part == "s":
                value, pos = _read_str(raw, pos, n)
            elif part == "b":
                pos += -pos % 4
                if pos + 4 > n:
                    return None
                value = bool(_U32_AT(raw, pos)[0])
                pos += 4
            else:                                     # "as"
                pos += -pos % 4
                if pos + 4 > n:
                    return None
                (length,) = _U32_AT(raw, pos)
                pos += 4
                stop = pos + length
                if stop > n:
                    return None
                value = []
                while pos < stop:
                    item, pos = _read_str(raw, pos, stop)
                    value.append(item)
                if pos != stop:
                    return None
            body.append(value)
        if pos != n:
            return None
        header = Header(Endianness.little, MessageType.method_call, raw[2], raw[3],
                        body_len, serial, fields)
        return Message(header, tuple(body))
    except (_Unsupported, ValueError):       # UnicodeDecodeError too: jeepney decides
        return None


class ControlServer:
    """The D-Bus server of init. See the module docstring."""

    def __init__(self, backend, address: str, *, loop: asyncio.AbstractEventLoop | None = None,
                 user_mode: bool = False, allowed_uids=None, log=None):
        self.backend = backend
        self.address = address
        self.loop = loop
        self.user_mode = user_mode
        self.uid = os.getuid()
        if allowed_uids is ANY_UID:
            self.allowed_uids = ANY_UID
        else:
            self.allowed_uids = frozenset(allowed_uids) if allowed_uids is not None \
                else frozenset({self.uid})
        self.log = log                      # callable(priority, message) or None
        self.guid = uuid.uuid4().hex
        self._sock: socket.socket | None = None
        self._path: str | None = None
        self._conns: dict[int, _Connection] = {}
        self._tasks: set[asyncio.Task] = set()
        self._next_unique = 0
        self._signal_heads: dict = {}       # perf: fast_signal_parts' header cache
        self._signal_bytes: dict = {}       # perf: effect -> its signal's bytes (no serial)
        # chroot sessions (docs/design/sessions.md): None (every caller is global), or
        # an object with `scope(caller) -> (backend, root or None)`,
        # `backend_of(root) -> backend or None` and `roots() -> list of roots`
        self.sessions = None

    # ------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Bind and listen; raises OSError if the address is taken."""
        if self.loop is None:
            self.loop = asyncio.get_running_loop()
        sockaddr, _ = addr.parse(self.address)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        try:
            if isinstance(sockaddr, str):
                try:
                    if os.path.exists(sockaddr):
                        os.unlink(sockaddr)
                except OSError:
                    pass
                self._path = sockaddr
            sock.bind(sockaddr)
            sock.listen(128)
            sock.setblocking(False)
        except OSError:
            sock.close()
            raise
        self._sock = sock
        self.loop.add_reader(sock.fileno(), self._accept)

    def close(self) -> None:
        """Stop listening, drop every connection, cancel pending calls."""
        if self._sock is not None:
            try:
                self.loop.remove_reader(self._sock.fileno())
            except Exception:
                pass
            self._sock.close()
            self._sock = None
            if self._path:
                try:
                    os.unlink(self._path)
                except OSError:
                    pass
        for conn in list(self._conns.values()):
            self._drop(conn)
        for task in list(self._tasks):
            task.cancel()

    @property
    def connection_count(self) -> int:
        return len(self._conns)

    def fileno(self) -> int | None:
        return self._sock.fileno() if self._sock is not None else None

    # ------------------------------------------------------------ signals

    def broadcast(self, effect, root: str | None = None) -> None:
        """Send the D-Bus signal matching `effect` on every connection; `root`:
        the chroot session whose engine produced it (None: the global one)."""
        if not self._conns:                # perf: nobody to tell, nothing to encode
            return
        key = effect if root is None else (root, effect)
        try:                               # perf: the same effect, the same bytes
            parts = self._signal_bytes.get(key)
        except TypeError:                  # unhashable: not from the engine
            parts = None
        if parts is None:
            spec = signal_for(effect, root)
            if spec is None:
                return
            path, iface, member, sig, body = spec
            try:
                parts = fast_signal_parts(self._signal_heads, path, iface, member, sig, body)
            except Exception:
                parts = None
            if parts is None:              # jeepney's path: same bytes, same errors
                msg = new_signal(DBusAddress(path, interface=iface), member, sig or None, body)
                for conn in list(self._conns.values()):
                    if conn.sasl.done and not conn.closed:
                        self._send(conn, msg)
                return
            if type(effect) in _BYTES_CACHEABLE:
                if len(self._signal_bytes) >= _BYTES_CACHE_MAX:
                    self._signal_bytes.clear()
                try:
                    self._signal_bytes[key] = parts
                except TypeError:          # unhashable: not cached
                    pass
        head, rest = parts
        for conn in list(self._conns.values()):
            if conn.sasl.done and not conn.closed:
                self._write(conn, head + _U32(conn.next_serial()) + rest)

    # ------------------------------------------------------------ socket I/O

    def _accept(self) -> None:
        for _ in range(64):
            try:
                sock, _ = self._sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                self._log("warn", "Unable to accept control connection: %s" % exc.strerror)
                return
            if len(self._conns) >= MAX_CONNECTIONS:
                sock.close()
                self._log("warn", "Too many control connections; refused one")
                continue
            try:
                sock.setblocking(False)
                cred = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED,
                                       struct.calcsize("3i"))
                pid, uid, gid = struct.unpack("3i", cred)
            except OSError:
                sock.close()
                continue
            conn = _Connection(sock, Caller(uid=uid, pid=pid, gid=gid),
                               SaslServer(uid, self.allowed_uids, self.guid))
            self._conns[conn.fd] = conn
            self.loop.add_reader(conn.fd, self._readable, conn)
            self._log("info", "Connection from private client")

    def _readable(self, conn: _Connection) -> None:
        if conn.closed:
            return
        fds = array.array("i")
        try:
            data, ancdata, flags, _ = conn.sock.recvmsg(
                READ_SIZE, socket.CMSG_SPACE(MAX_FDS_PER_READ * fds.itemsize))
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self._drop(conn)
            return
        for level, kind, cdata in ancdata:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                usable = len(cdata) - (len(cdata) % fds.itemsize)
                fds.frombytes(cdata[:usable])
        received = list(fds)
        if flags & getattr(socket, "MSG_CTRUNC", 0):
            for fd in received:
                _close_fd(fd)
            self._drop(conn)
            return
        if not data:
            for fd in received:
                _close_fd(fd)
            self._drop(conn)
            return
        try:
            self._received(conn, data, received)
        except Exception as exc:  # never let one client take init down
            self._log("warn", "Dropped control connection: %s" % exc)
            self._drop(conn)

    def _received(self, conn: _Connection, data: bytes, fds: list[int]) -> None:
        if not conn.sasl.done:
            try:
                reply, leftover = conn.sasl.feed(data)
            except SaslError:
                reply, leftover = None, b""
            if reply is None or not conn.sasl.done:
                for fd in fds:           # fds can only come with the message stream
                    _close_fd(fd)
                if reply is None:
                    self._drop(conn)
                    return
            if reply:
                self._write(conn, reply)
            if not conn.sasl.done:
                return
            data = leftover
        if conn.skip:                    # hardening: the rest of a refused message
            dropped = min(conn.skip, len(data))
            conn.skip -= dropped
            data = data[dropped:]
        conn.inbuf += data
        conn.infds.extend(fds)
        if len(conn.infds) > MAX_PENDING_FDS:
            self._drop(conn)
            return
        while not conn.closed and len(conn.inbuf) >= 16:
            if conn.in_flight >= MAX_CALLS_IN_FLIGHT and not conn.bus:
                self._pause(conn)        # hardening: back-pressure, resumed in _finish
                return
            if conn.inbuf[0] not in (0x6C, 0x42) or conn.inbuf[3] != 1:
                self._drop(conn)
                return
            size = calc_msg_size(bytes(conn.inbuf[:16]))
            if size > MAX_MESSAGE:
                if conn.bus or size > DBUS_MAX_MESSAGE:   # beyond the protocol: drop
                    self._drop(conn)
                    return
                self._refuse_oversized(conn, size)   # hardening: error, then skip it
                continue
            if len(conn.inbuf) < size:
                break
            raw = bytes(conn.inbuf[:size])
            del conn.inbuf[:size]
            try:
                msg = fast_parse_call(raw) or Message.from_buffer(raw, fds=conn.infds)
            except Exception:
                self._drop(conn)
                return
            used = msg.header.fields.get(HeaderFields.unix_fds, 0)
            msg_fds = conn.infds[:used]
            del conn.infds[:used]
            self._dispatch(conn, msg, msg_fds)

    def _pause(self, conn: _Connection) -> None:
        if not conn.paused:
            conn.paused = True
            self.loop.remove_reader(conn.fd)

    def _call_done(self, conn: _Connection) -> None:
        """Hardening: one asynchronous call answered; resume a paused reader."""
        conn.in_flight -= 1
        if conn.paused and not conn.closed and conn.in_flight < MAX_CALLS_IN_FLIGHT:
            conn.paused = False
            self.loop.add_reader(conn.fd, self._readable, conn)
            try:
                self._received(conn, b"", [])      # what is already buffered
            except Exception as exc:  # never let one client take init down
                self._log("warn", "Dropped control connection: %s" % exc)
                self._drop(conn)

    def _refuse_oversized(self, conn: _Connection, size: int) -> None:
        """Hardening (issue #14): answer a message larger than MAX_MESSAGE with
        LimitsExceeded (when it is a call wanting a reply) and skip its bytes
        without buffering them; the connection stays usable."""
        head = bytes(conn.inbuf[:16])
        endian = "<" if head[0] == 0x6C else ">"
        serial = struct.unpack(endian + "I", head[8:12])[0]
        kind, flags = head[1], head[2]
        dropped = min(size, len(conn.inbuf))
        del conn.inbuf[:dropped]
        conn.skip = size - dropped
        for fd in conn.infds:            # whatever fds came with it are not ours
            _close_fd(fd)
        conn.infds.clear()
        self._log("warn", "Refused a control message of %d bytes (limit %d)"
                  % (size, MAX_MESSAGE))
        if kind != MessageType.method_call.value or flags & MessageFlag.no_reply_expected:
            return
        text = "Message of %d bytes exceeds the limit of %d bytes" % (size, MAX_MESSAGE)
        header = Header(Endianness.little, MessageType.error, 0, 1, 0, 0,
                        {HeaderFields.reply_serial: serial,
                         HeaderFields.error_name: LIMITS_EXCEEDED,
                         HeaderFields.signature: "s"})
        self._send(conn, Message(header, (text,)))

    def _send(self, conn: _Connection, msg: Message) -> None:
        if conn.closed:
            return
        try:
            data = msg.serialise(serial=conn.next_serial())
        except Exception as exc:
            self._log("error", "Unable to serialise control message: %s" % exc)
            return
        self._write(conn, data)

    def _write(self, conn: _Connection, data: bytes) -> None:
        if conn.flush_soon and not conn.writing and len(conn.outbuf) + len(data) > MAX_OUTPUT:
            self._flush(conn)              # what the earlier writes would have sent by now
        conn.outbuf += data
        if len(conn.outbuf) > MAX_OUTPUT:
            conn.flush_soon = False        # a message that overflows is never sent
            self._drop(conn)
            return
        if conn.writing:
            return
        if len(conn.outbuf) >= FLUSH_AT:
            self._flush(conn)
        elif not conn.flush_soon:          # perf: one send() per connection per turn
            conn.flush_soon = True
            self.loop.call_soon(self._flush_soon, conn)

    def _flush_soon(self, conn: _Connection) -> None:
        conn.flush_soon = False
        if not conn.writing:
            self._flush(conn)

    def _flush(self, conn: _Connection) -> None:
        if conn.closed:
            return
        while conn.outbuf:
            try:
                n = conn.sock.send(conn.outbuf)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                self._drop(conn)
                return
            del conn.outbuf[:n]
        if conn.outbuf and not conn.writing:
            conn.writing = True
            self.loop.add_writer(conn.fd, self._flush, conn)
        elif not conn.outbuf and conn.writing:
            conn.writing = False
            self.loop.remove_writer(conn.fd)

    def _drop(self, conn: _Connection) -> None:
        if conn.closed:
            return
        if conn.flush_soon and not conn.writing and conn.outbuf:
            # what was written this turn would have been sent already: send it
            try:
                while conn.outbuf:
                    del conn.outbuf[:conn.sock.send(conn.outbuf)]
            except OSError:
                pass
        conn.closed = True
        self._conns.pop(conn.fd, None)
        try:
            self.loop.remove_reader(conn.fd)
            if conn.writing:
                self.loop.remove_writer(conn.fd)
        except Exception:
            pass
        for fd in conn.infds:
            _close_fd(fd)
        conn.infds.clear()
        conn.sock.close()
        for future in conn.pending.values():
            if not future.done():
                future.set_exception(OSError("Disconnected from D-Bus %s bus" % conn.bus))
        conn.pending.clear()
        if conn.bus and self._sock is not None:
            self._log("warn", "Disconnected from D-Bus %s bus" % conn.bus)

    def _log(self, priority: str, message: str) -> None:
        if self.log is not None:
            try:
                self.log(priority, message)
            except Exception:
                pass

    # ------------------------------------------------------------ message bus

    async def connect_bus(self, address: str, *, label: str = "system",
                          name: str = "com.ubuntu.Upstart", timeout: float = 5.0) -> str:
        """Connect to a message bus as a client, own `name` (DO_NOT_QUEUE) and
        serve the same objects there; returns our unique name. Raises OSError
        (e.g. `Name already taken`). Callers on the bus are identified with
        GetConnectionUnixUser/ProcessID; losing the bus is logged and the
        connection dropped (private connections are unaffected)."""
        sockaddr, _ = addr.parse(address)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        sock.setblocking(False)
        try:
            await asyncio.wait_for(self._bus_handshake(sock, sockaddr), timeout)
        except BaseException:
            sock.close()
            raise
        conn = _Connection(sock, Caller(uid=-1), SaslServer(-1, frozenset(), self.guid))
        conn.sasl.done = True
        conn.bus = label
        self._conns[conn.fd] = conn
        self.loop.add_reader(conn.fd, self._readable, conn)
        try:
            conn.unique_name = (await asyncio.wait_for(self._bus_call(
                conn, "Hello"), timeout))[0]
            result = (await asyncio.wait_for(self._bus_call(
                conn, "RequestName", "su", (name, 4)), timeout))[0]
        except BaseException:
            self._drop(conn)
            raise
        if result not in (1, 4):       # primary owner / already owner
            self._drop(conn)
            raise OSError("Name already taken")
        return conn.unique_name

    async def _bus_handshake(self, sock, sockaddr) -> None:
        await self.loop.sock_connect(sock, sockaddr)
        uid = str(os.getuid()).encode().hex().encode()
        await self.loop.sock_sendall(sock, b"\0AUTH EXTERNAL " + uid + b"\r\n")
        if not (await self._line(sock)).startswith(b"OK "):
            raise OSError("bus rejected authentication")
        await self.loop.sock_sendall(sock, b"NEGOTIATE_UNIX_FD\r\n")
        await self._line(sock)         # AGREE_UNIX_FD, or ERROR: then no fds
        await self.loop.sock_sendall(sock, b"BEGIN\r\n")

    async def _line(self, sock) -> bytes:
        data = b""
        while not data.endswith(b"\r\n"):
            chunk = await self.loop.sock_recv(sock, 1)
            if not chunk or len(data) > 4096:
                raise OSError("bus closed the connection during authentication")
            data += chunk
        return data

    def _bus_call(self, conn, member, sig="", body=()):
        from jeepney.wrappers import new_method_call
        msg = new_method_call(DBusAddress("/org/freedesktop/DBus", "org.freedesktop.DBus",
                                          "org.freedesktop.DBus"), member, sig or None, body)
        serial = conn.next_serial()
        future = self.loop.create_future()
        conn.pending[serial] = future
        self._write(conn, msg.serialise(serial=serial))
        return future

    def _resolve(self, conn, msg) -> None:
        future = conn.pending.pop(msg.header.fields.get(HeaderFields.reply_serial), None)
        if future is None or future.done():
            return
        if msg.header.message_type == MessageType.error:
            text = msg.body[0] if msg.body else ""
            future.set_exception(DBusError(msg.header.fields.get(HeaderFields.error_name, ""),
                                           text))
        else:
            future.set_result(msg.body)

    async def _dispatch_from_bus(self, conn, msg, fds, sender) -> None:
        try:
            uid = (await self._bus_call(conn, "GetConnectionUnixUser", "s", (sender,)))[0]
            try:
                pid = (await self._bus_call(conn, "GetConnectionUnixProcessID", "s",
                                            (sender,)))[0]
            except DBusError:
                pid = 0
            caller = Caller(uid=uid, pid=pid)
        except DBusError:
            caller = Caller(uid=-1)        # unknown: never permitted
        if len(conn.callers) > 1024:
            conn.callers.clear()
        conn.callers[sender] = caller
        if not conn.closed:
            self._dispatch(conn, msg, fds)

    # ------------------------------------------------------------ dispatch

    def _dispatch(self, conn: _Connection, msg: Message, fds: list[int]) -> None:
        header = msg.header
        if header.message_type != MessageType.method_call:
            for fd in fds:
                _close_fd(fd)
            if conn.bus and header.message_type in (MessageType.method_return,
                                                    MessageType.error):
                self._resolve(conn, msg)
            return
        if conn.bus:
            sender = header.fields.get(HeaderFields.sender)
            if sender not in conn.callers:
                task = self.loop.create_task(self._dispatch_from_bus(conn, msg, fds, sender))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
                return
            conn.caller = conn.callers[sender]
        fields = header.fields
        want_reply = not (header.flags & MessageFlag.no_reply_expected)
        path = fields.get(HeaderFields.path, "/")
        iface = fields.get(HeaderFields.interface)
        member = fields.get(HeaderFields.member, "")
        sig = fields.get(HeaderFields.signature, "")
        call = _Call(conn, msg, path, iface, member, sig, msg.body, fds)
        try:
            self._access(call)
            if self.sessions is not None:      # chroot sessions: whose jobs the caller sees
                call.backend, call.root = self._scope(conn)
            else:
                call.backend = self.backend
            result = self._handle(call)
        except Exception as exc:
            call.close_fds()
            self._answer(call, want_reply, error=exc)
            return
        if inspect.isawaitable(result):
            if conn.in_flight >= MAX_CALLS_IN_FLIGHT:     # hardening: bounded
                if inspect.iscoroutine(result):
                    result.close()                      # never started: nothing done
                call.close_fds()
                self._answer(call, want_reply, error=DBusError(
                    LIMITS_EXCEEDED, "Too many calls in progress on this connection "
                                     "(limit %d)" % MAX_CALLS_IN_FLIGHT))
                return
            conn.in_flight += 1
            task = self.loop.create_task(self._finish(call, want_reply, result))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        else:
            call.close_fds()
            self._answer(call, want_reply, result=result)

    async def _finish(self, call, want_reply, awaitable) -> None:
        try:
            result = await awaitable
        except asyncio.CancelledError:
            call.conn.in_flight -= 1
            raise
        except Exception as exc:
            call.close_fds()
            self._answer(call, want_reply, error=exc)
            self._call_done(call.conn)
            return
        call.close_fds()
        self._answer(call, want_reply, result=result)
        self._call_done(call.conn)

    def _answer(self, call, want_reply, result=None, error=None) -> None:
        if not want_reply or call.conn.closed:
            return
        if error is not None:
            if isinstance(error, DBusError):
                name, text = error.name, error.text
            elif isinstance(error, ControlFailure):
                name, text = error.error.name, error.error.message
            else:
                self._log("error", "Control request %s failed: %r" % (call.member, error))
                name, text = api.ERR_FAILED, str(error) or type(error).__name__
            reply = new_error(call.msg, name, "s", (text,))
        else:
            sig, body = result if result is not None else ("", ())
            try:
                head, rest = fast_reply_parts(call.msg, sig, body)
            except Exception:
                head = None
            if head is not None:           # perf: jeepney's bytes without jeepney
                self._write(call.conn, head + _U32(call.conn.next_serial()) + rest)
                return
            reply = new_method_return(call.msg, sig or None, body)
        self._send(call.conn, reply)

    def _handle(self, call: "_Call"):
        """Route one method call; returns (sig, body), or an awaitable of it."""
        iface, member = call.iface, call.member
        if member == "Ping" and iface in (None, api.PEER_IFACE):
            return ("", ())
        if member == "GetMachineId" and iface in (None, api.PEER_IFACE):
            return ("s", (_machine_id(),))
        if iface == "org.freedesktop.DBus" and member == "Hello":
            self._next_unique += 1
            call.conn.unique_name = ":1.%d" % self._next_unique
            return ("s", (call.conn.unique_name,))
        target = self._target(call)
        if member == "Introspect" and iface in (None, api.INTROSPECTABLE_IFACE):
            if call.sig != "":
                raise DBusError(api.ERR_INVALID_ARGS, api.invalid_args_text("Introspect"))
            return ("s", (self._introspect(call, target),))
        if target is None:
            raise _unknown(member, call.sig, iface)
        interfaces = _INTERFACES[target[0]]
        if iface in (None, api.PROPERTIES_IFACE) and member in ("Get", "GetAll", "Set"):
            return self._properties(call, target, interfaces)
        for spec in interfaces:
            if iface is not None and iface != spec.name:
                continue
            method = spec.method(member)
            if method is None:
                continue
            if call.sig != method.in_sig:
                raise DBusError(api.ERR_INVALID_ARGS, api.invalid_args_text(member))
            impl = getattr(self, "_%s_%s" % (target[0], member))
            return impl(call, target, *call.body)
        raise _unknown(member, call.sig, iface)

    def _scope(self, conn: _Connection) -> tuple:
        """Chroot sessions: (backend, root) of the caller, cached per private
        connection (its peer is one process); a bus caller changes per sender."""
        if conn.bus:
            return self.sessions.scope(conn.caller)
        if conn.scope is None:
            conn.scope = self.sessions.scope(conn.caller)
        return conn.scope

    def _target(self, call: "_Call"):
        """The object `call.path` names, or None; sets the backend and the
        session root that own it on the call (`tbackend`, `troot`)."""
        scoped = paths.parse_scoped(call.path)
        if scoped is None:
            return None
        root, target = scoped
        if target[0] == "manager" or root == call.root:
            backend, root = call.backend, call.root
        elif root is None:
            backend = self.backend
        else:
            backend = self.sessions.backend_of(root) if self.sessions is not None else None
            if backend is None:
                return None
        call.tbackend, call.troot = backend, root
        return target if self._exists(backend, target) else None

    def _exists(self, backend, target) -> bool:
        try:
            if target[0] == "job":
                backend.get_job_by_name(target[1])
            elif target[0] == "instance":
                backend.get_instance_by_name(target[1], target[2])
        except ControlFailure:
            return False
        return True

    def _introspect(self, call: "_Call", target) -> str:
        path = call.path
        if target is None:
            children = {"/": ["com"], "/com": ["ubuntu"], "/com/ubuntu": ["Upstart"]}.get(path, [])
            if path == paths.JOBS_PATH:
                if call.root is not None:      # a chroot caller: its session only
                    children = [paths.escape(call.root)]
                else:
                    children = [paths.escape(j) for j in self.backend.get_all_jobs()]
                    if self.sessions is not None:
                        children += [paths.escape(r) for r in self.sessions.roots()]
            elif path.startswith(paths.JOBS_PATH + "/") and self.sessions is not None:
                root = paths.unescape(path[len(paths.JOBS_PATH) + 1:])
                mine = call.root is None or root == call.root    # not another chroot's
                backend = self.sessions.backend_of(root) \
                    if mine and root and root[0] == "/" else None
                if backend is not None:        # a session's element: its jobs
                    children = [paths.escape(j) for j in backend.get_all_jobs()]
            return api.introspect_xml(path, (), children)
        kind = target[0]
        if kind == "manager":
            children = ["jobs"]
        elif kind == "job":
            children = [paths.escape(i) for i in call.tbackend.get_all_instances(target[1])]
        else:
            children = []
        return api.introspect_xml(path, _INTERFACES[kind], children)

    # ------------------------------------------------------------ properties

    def _properties(self, call, target, interfaces):
        member = call.member
        want = {"Get": "ss", "GetAll": "s", "Set": "ssv"}[member]
        if call.sig != want:
            raise DBusError(api.ERR_INVALID_ARGS, api.invalid_args_text(member))
        iname = call.body[0]
        if member == "GetAll":
            values = {}
            cache = {}
            for spec in interfaces:
                if iname and iname != spec.name:
                    continue
                for prop in spec.properties:
                    if prop.name not in values:
                        values[prop.name] = (prop.type,
                                             self._prop_value(call.tbackend, target,
                                                              prop.name, cache))
            return ("a{sv}", (values,))
        pname = call.body[1]
        for spec in interfaces:
            if iname and iname != spec.name:
                continue
            prop = spec.prop(pname)
            if prop is None:
                continue
            if member == "Get":
                return ("v", ((prop.type, self._prop_value(call.tbackend, target, pname)),))
            if prop.access == "read":
                continue
            vtype, value = call.body[2]
            if vtype != prop.type:
                raise DBusError(api.ERR_INVALID_ARGS,
                                "Invalid arguments to %s property" % pname)
            self._require(call.caller, _PERMISSION_TEXT[pname])
            call.backend.set_log_priority(call.caller, value)
            return ("", ())
        raise _unknown(member, call.sig, api.PROPERTIES_IFACE if call.iface else None)

    def _prop_value(self, backend, target, name, cache=None):
        """One property's value; `cache` keeps the backend's props for a GetAll."""
        kind = target[0]
        if kind == "manager":
            if name == "version":
                return backend.version()
            return backend.get_log_priority()
        cache = {} if cache is None else cache
        if "props" not in cache:
            cache["props"] = (backend.job_props(target[1]) if kind == "job"
                              else backend.instance_props(target[1], target[2]))
        props = cache["props"]
        if kind == "job":
            if name in ("while", "ready_on"):
                return [list(x) for x in getattr(props, "while_on" if name == "while"
                                                 else "ready_on", [])]
            value = getattr(props, name)
            if name in ("start_on", "stop_on"):
                return [list(x) for x in value]
            if name == "emits":
                return list(value)
            return value or ""
        if name == "processes":
            return [(slot, int(pid)) for slot, pid in props.processes]
        if name == "ready":
            ready = getattr(props, "ready", None)
            return "" if ready is None else ("ready" if ready else "waiting")
        return getattr(props, name) or ""

    # ------------------------------------------------------------ permission

    def permitted(self, caller: Caller) -> bool:
        """spec 05 §5.5: same uid as init, or a Session Init, or a
        non-root init that is not PID 1 (test harness)."""
        if caller.uid == self.uid or self.user_mode:
            return True
        return self.uid != 0 and os.getpid() != 1

    def _access(self, call) -> None:
        """The socket's access policy (docs/security.md): a caller who may not
        control init may still look (status, list, show-config, introspection);
        anything else is refused up front, naming the method and the reason."""
        if self.permitted(call.conn.caller) or _open_to_all(call.iface, call.member):
            return
        name = f"{call.iface}.{call.member}" if call.iface else call.member
        raise DBusError(api.ERR_ACCESS_DENIED,
                        f"Rejected: {name} changes the state of init, and only uid {self.uid} "
                        f"may do that here (you are uid {call.conn.caller.uid}); status, list "
                        f"and show-config are open to everyone")

    def _require(self, caller: Caller, text: str) -> None:
        if not self.permitted(caller):
            raise DBusError(api.ERR_PERMISSION, text)

    def _check(self, call, member=None) -> Caller:
        caller = call.caller
        self._require(caller, _PERMISSION_TEXT[member or call.member])
        return caller

    # ------------------------------------------------------------ manager

    def _manager_ReloadConfiguration(self, call, target):
        caller = self._check(call)
        return _unit(call.backend.reload_configuration(caller))

    def _manager_GetJobByName(self, call, target, name):
        job = call.backend.get_job_by_name(name)
        return ("o", (paths.job_path(job, call.root),))

    def _manager_GetAllJobs(self, call, target):
        root = call.root
        return ("ao", ([paths.job_path(j, root) for j in call.backend.get_all_jobs()],))

    def _manager_GetState(self, call, target):
        caller = self._check(call)
        return ("s", (call.backend.get_state(caller),))

    def _manager_Restart(self, call, target):
        caller = self._check(call)
        return _unit(call.backend.restart(caller))

    def _manager_GetEnv(self, call, target, details, name):
        caller = self._check(call)
        return ("s", (call.backend.get_env(caller, list(details), name),))

    def _manager_SetEnv(self, call, target, details, var, replace):
        caller = self._check(call)
        return _unit(call.backend.set_env_list(caller, list(details), [var], bool(replace)))

    def _manager_SetEnvList(self, call, target, details, vars_, replace):
        caller = self._check(call)
        return _unit(call.backend.set_env_list(caller, list(details), list(vars_),
                                               bool(replace)))

    def _manager_UnsetEnv(self, call, target, details, name):
        caller = self._check(call)
        return _unit(call.backend.unset_env_list(caller, list(details), [name]))

    def _manager_UnsetEnvList(self, call, target, details, names):
        caller = self._check(call)
        return _unit(call.backend.unset_env_list(caller, list(details), list(names)))

    def _manager_ListEnv(self, call, target, details):
        caller = self._check(call)
        return ("as", (list(call.backend.list_env(caller, list(details))),))

    def _manager_ResetEnv(self, call, target, details):
        caller = self._check(call)
        return _unit(call.backend.reset_env(caller, list(details)))

    def _manager_EmitEvent(self, call, target, name, env, wait):
        caller = self._check(call)
        return _unit(call.backend.emit_event(caller, name, list(env), bool(wait)))

    def _manager_EmitEventWithFile(self, call, target, name, env, wait, fd):
        caller = self._check(call)
        call.fds = [f for f in call.fds if f != fd]   # the backend owns it now
        return _unit(call.backend.emit_event(caller, name, list(env), bool(wait), fd=fd))

    def _manager_NotifyDiskWriteable(self, call, target):
        caller = self._check(call)
        return _unit(call.backend.notify_disk_writeable(caller))

    def _manager_NotifyDBusAddress(self, call, target, address):
        caller = self._check(call)
        return _unit(call.backend.notify_dbus_address(caller, address))

    def _manager_NotifyCGroupManagerAddress(self, call, target, address):
        caller = self._check(call)
        return _unit(call.backend.notify_cgroup_manager_address(caller, address))

    def _manager_EndSession(self, call, target):
        caller = self._check(call)
        return _unit(call.backend.end_session(caller))

    def _optional(self, call, name):
        fn = getattr(call.backend, name, None)
        if fn is None:
            raise _unknown(call.member, call.sig, call.iface)
        return fn

    def _manager_SetState(self, call, target, name, env):
        fn = self._optional(call, "set_state")
        caller = self._check(call)
        return _unit(fn(caller, name, list(env)))

    def _manager_ClearState(self, call, target, name):
        fn = self._optional(call, "clear_state")
        caller = self._check(call)
        return _unit(fn(caller, name))

    def _manager_ListStates(self, call, target):
        fn = self._optional(call, "list_states")
        states = fn(call.caller)
        return ("a(sas)", ([(n, list(e)) for n, e in states],))

    def _manager_Observe(self, call, target, what, args):
        fn = self._optional(call, "observe")      # roadmap (issue #12)
        caller = self._check(call)
        return ("s", (fn(caller, what, list(args)),))

    # ------------------------------------------------------------ job

    def _job_GetInstance(self, call, target, env):
        inst = call.tbackend.get_instance(target[1], list(env))
        return ("o", (paths.instance_path(target[1], inst, call.troot),))

    def _job_GetInstanceByName(self, call, target, name):
        inst = call.tbackend.get_instance_by_name(target[1], name)
        return ("o", (paths.instance_path(target[1], inst, call.troot),))

    def _job_GetAllInstances(self, call, target):
        job, root = target[1], call.troot
        return ("ao", ([paths.instance_path(job, i, root)
                        for i in call.tbackend.get_all_instances(job)],))

    def _own(self, call, job: str):
        """The caller's backend for changing `job`: a job of another session (a
        global job for a chroot caller, a chroot's job for anyone else) is
        refused, as upstream's job and instance methods do (spec 03 §9)."""
        if call.troot != call.root:
            raise DBusError(api.ERR_PERMISSION, f"You do not have permission to modify job: {job}")
        return call.tbackend

    def _job_Start(self, call, target, env, wait):
        job = target[1]
        return _instance_reply(job, self._own(call, job).job_start(
            call.caller, job, list(env), bool(wait)), call.troot)

    def _job_Stop(self, call, target, env, wait):
        return _unit(self._own(call, target[1]).job_stop(call.caller, target[1], list(env),
                                                         bool(wait)))

    def _job_Restart(self, call, target, env, wait):
        job = target[1]
        return _instance_reply(job, self._own(call, job).job_restart(
            call.caller, job, list(env), bool(wait)), call.troot)

    # ------------------------------------------------------------ instance

    def _instance_Start(self, call, target, wait):
        return _unit(self._own(call, target[1]).instance_start(call.caller, target[1],
                                                               target[2], bool(wait)))

    def _instance_Stop(self, call, target, wait):
        return _unit(self._own(call, target[1]).instance_stop(call.caller, target[1],
                                                              target[2], bool(wait)))

    def _instance_Restart(self, call, target, wait):
        return _unit(self._own(call, target[1]).instance_restart(call.caller, target[1],
                                                                 target[2], bool(wait)))

    def _instance_Reload(self, call, target):
        # an init without Reload answers UnknownMethod; initctl then signals itself
        backend = self._own(call, target[1])
        fn = getattr(backend, "instance_reload", None)
        if fn is None:
            raise _unknown(call.member, call.sig, call.iface)
        return _unit(fn(call.caller, target[1], target[2]))


_INTERFACES = {
    "manager": (api.MANAGER,),
    "job": (api.JOB,),
    "instance": (api.INSTANCE,),
}


class _Call:
    __slots__ = ("conn", "caller", "msg", "path", "iface", "member", "sig", "body", "fds",
                 "backend", "root", "tbackend", "troot")

    def __init__(self, conn, msg, path, iface, member, sig, body, fds):
        self.conn = conn
        self.caller = conn.caller
        # chroot sessions: the backend and session root of the caller, and of the
        # object the path names (set by the server before the call is handled)
        self.backend = None
        self.root = None
        self.tbackend = None
        self.troot = None
        self.msg = msg
        self.path = path
        self.iface = iface
        self.member = member
        self.sig = sig
        self.body = body
        self.fds = fds

    def close_fds(self) -> None:
        for fd in self.fds:
            _close_fd(fd)
        self.fds = []


def _unit(result):
    """Reply with no arguments, awaiting the backend first if it is async."""
    if inspect.isawaitable(result):
        async def wait():
            await result
            return ("", ())
        return wait()
    return ("", ())


def _instance_reply(job, result, root=None):
    if inspect.isawaitable(result):
        async def wait():
            inst = await result
            return ("o", (paths.instance_path(job, inst, root),))
        return wait()
    return ("o", (paths.instance_path(job, result, root),))


def _close_fd(fd: int) -> None:
    try:
        os.close(fd)
    except OSError:
        pass
