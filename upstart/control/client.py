"""A small blocking D-Bus client for init's control socket (and for a bus).

Used by initctl and our other tools: connect to a peer address
(`unix:abstract=/com/ubuntu/upstart`, `$UPSTART_SESSION`, `unix:path=`) or a
bus address (then `Hello` is sent first and calls carry a destination),
authenticate with SASL EXTERNAL, make method calls, get the reply body or a
`CallError` with the D-Bus error name and text, and receive signals.

Import-light on purpose (socket, os, struct): `initctl status x` must start
in a few milliseconds. Never retries, never prints: errors are exceptions
carrying the texts initctl shows.
"""

# no `from __future__ import annotations`: on initctl's start path it is an import
# (of __future__) like any other (issue #23); annotations here are Python 3.11 syntax

import os
import _socket as socket  # the C module: `socket` would cost ~4 ms of imports

from upstart.control import address as _address
from upstart.control import wire

MANAGER_PATH = "/com/ubuntu/Upstart"
MANAGER_IFACE = "com.ubuntu.Upstart0_6"
JOB_IFACE = "com.ubuntu.Upstart0_6.Job"
INSTANCE_IFACE = "com.ubuntu.Upstart0_6.Instance"
PROPERTIES_IFACE = "org.freedesktop.DBus.Properties"
BUS_NAME = "com.ubuntu.Upstart"
MAX_MESSAGE = 1 << 27


class ConnectError(Exception):
    """Could not connect or authenticate; the text is libdbus-style, e.g.
    `Failed to connect to socket /com/ubuntu/upstart: Connection refused`."""


class CallError(Exception):
    """An error reply: `name` (D-Bus error name) and `message` (its text)."""

    def __init__(self, name: str, message: str):
        super().__init__(message)
        self.name = name
        self.message = message


class _LazySignal(wire.Message):
    """A signal kept as its bytes until something reads it. perf: a client
    waiting for replies (the benchmarks, bridges) is sent every signal init
    broadcasts, most of which it never reads; decoding each cost more than
    the rest of its work. A malformed one raises when it is read."""

    __slots__ = ("_raw", "_msg")

    def __init__(self, raw: bytes):
        self._raw = raw
        self._msg = None

    def _decoded(self) -> wire.Message:
        if self._msg is None:
            self._msg = wire.decode_message(self._raw)
        return self._msg

    type = property(lambda self: wire.SIGNAL)
    flags = property(lambda self: self._decoded().flags)
    serial = property(lambda self: self._decoded().serial)
    fields = property(lambda self: self._decoded().fields)
    body = property(lambda self: self._decoded().body)


class Connection:
    """One authenticated connection. Not thread-safe; one call at a time."""

    def __init__(self, address: str, *, bus: bool = False, destination: str | None = None,
                 unix_fd: bool = False, pipelined: bool = False):
        """`pipelined`: a private connection read only through this class
        (`call`, `wait_reply`, `receive`) may skip the wait for the SASL OK."""
        self.address = address
        self.pipelined = pipelined
        self.bus = bus
        self.destination = destination if bus else None
        self.serial = 0
        self.buf = bytearray()
        self._ready: list[bytes] = []    # complete messages split off `buf`, in order
        self._next = 0                   # the first of `_ready` not yet returned
        self.signals: list[wire.Message] = []
        # replies that came before the caller asked for them (calls in flight
        # answered out of order): kept by the serial they answer
        self.early: dict[int, wire.Message] = {}
        self.unique_name = None
        self._auth_pending = False       # a pipelined handshake's OK not read yet
        try:
            sockaddr, display = _address.parse(address)
        except ValueError as exc:
            raise ConnectError(str(exc)) from None
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        try:
            self.sock.connect(sockaddr)
        except OSError as exc:
            self.sock.close()
            raise ConnectError("Failed to connect to socket %s: %s"
                               % (display, exc.strerror or exc)) from None
        try:
            try:
                self._authenticate(unix_fd)
            except OSError as exc:
                raise ConnectError("Failed to authenticate: %s" % (exc.strerror or exc)) \
                    from None
            if bus:
                self.unique_name = self.call("/org/freedesktop/DBus", "org.freedesktop.DBus",
                                             "Hello", destination="org.freedesktop.DBus")[0]
        except ConnectError:
            self.sock.close()
            raise
        except CallError as exc:
            self.sock.close()
            raise ConnectError(exc.message) from None

    # ---------------------------------------------------------------- SASL

    def _line(self) -> bytes:
        while b"\r\n" not in self.buf:
            try:
                data = self.sock.recv(4096)
            except OSError as exc:
                raise ConnectError("Failed to authenticate: %s" % exc.strerror) from None
            if not data:
                raise ConnectError("Did not receive a reply. Possible causes include: the "
                                   "remote application did not send a reply, the message "
                                   "bus security policy blocked the reply, the reply "
                                   "timeout expired, or the network connection was broken.")
            self.buf += data
            if len(self.buf) > 16384:
                raise ConnectError("Authentication line too long")
        end = self.buf.index(b"\r\n")
        line = bytes(self.buf[:end])
        del self.buf[:end + 2]
        return line

    def _authenticate(self, unix_fd: bool) -> None:
        uid = str(os.getuid()).encode().hex().encode()
        if self.pipelined and not self.bus and not unix_fd:
            # perf (issue #23 item 3): the handshake pipelined, as the D-Bus
            # spec allows and sd-bus does: AUTH, BEGIN and the first call
            # leave without waiting; the OK is read before the first answer
            # (a refusal is then a CallError of that call)
            self.sock.sendall(b"\0AUTH EXTERNAL " + uid + b"\r\nBEGIN\r\n")
            self._auth_pending = True
            return
        self.sock.sendall(b"\0AUTH EXTERNAL " + uid + b"\r\n")
        reply = self._line()
        if not reply.startswith(b"OK"):
            raise ConnectError("Failed to authenticate: server rejected EXTERNAL")
        if unix_fd:
            self.sock.sendall(b"NEGOTIATE_UNIX_FD\r\n")
            if not self._line().startswith(b"AGREE_UNIX_FD"):
                raise ConnectError("Server does not support unix fd passing")
        self.sock.sendall(b"BEGIN\r\n")

    def _auth_ok(self) -> None:
        """The answer to a pipelined AUTH (`_authenticate`), before any message."""
        self._auth_pending = False
        try:
            reply = self._line()
        except ConnectError as exc:
            raise CallError("org.freedesktop.DBus.Error.NoReply", str(exc)) from None
        if not reply.startswith(b"OK"):
            raise CallError("org.freedesktop.DBus.Error.AuthFailed",
                            "Failed to authenticate: server rejected EXTERNAL")

    # -------------------------------------------------------------- messages

    def _next_serial(self) -> int:
        self.serial += 1
        return self.serial

    def send(self, path: str, interface: str | None, member: str, sig: str = "", body=(),
             *, destination: str | None = None, fds=None, no_reply: bool = False) -> int:
        """Send a method call; returns its serial."""
        fields = {wire.F_PATH: path, wire.F_MEMBER: member}
        if interface:
            fields[wire.F_INTERFACE] = interface
        dest = destination or self.destination
        if dest:
            fields[wire.F_DESTINATION] = dest
        if fds:
            fields[wire.F_UNIX_FDS] = len(fds)
        serial = self._next_serial()
        flags = wire.NO_REPLY_EXPECTED if no_reply else 0
        if self.bus:
            flags |= wire.NO_AUTO_START      # as upstream's proxies: never activate init
        data = wire.encode_message(wire.METHOD_CALL, serial, fields, sig, body, flags)
        try:
            if fds:
                import array
                self.sock.sendmsg([data], [(socket.SOL_SOCKET, socket.SCM_RIGHTS,
                                            array.array("i", fds))])
            else:
                self.sock.sendall(data)
        except OSError as exc:
            if self._auth_pending:     # a pipelined AUTH refused, the socket closed:
                self._auth_ok()        # the refusal, already received, is the error
            raise CallError("org.freedesktop.DBus.Error.Disconnected",
                            "Connection was disconnected before a reply was received") \
                from exc
        return serial

    def receive(self) -> wire.Message:
        """Block until the next complete message arrives."""
        return wire.decode_message(self._receive_raw())

    def _receive_raw(self) -> bytes:
        """The bytes of the next complete message; blocks. perf: every complete
        message in the buffer is split off in one pass (deleting each one from
        the front of the buffer cost a copy of the rest: quadratic in a recv)."""
        if self._auth_pending:
            self._auth_ok()
        while True:
            if self._next < len(self._ready):
                raw = self._ready[self._next]
                self._next += 1
                return raw
            self._ready.clear()
            self._next = 0
            buf = self.buf
            pos, end = 0, len(buf)
            while end - pos >= 16:
                size = wire.message_size(bytes(buf[pos:pos + 16]))
                if size > MAX_MESSAGE:
                    if self._ready:
                        break                    # the ones before it first
                    raise CallError("org.freedesktop.DBus.Error.LimitsExceeded",
                                    "Message too large")
                if end - pos < size:
                    break
                self._ready.append(bytes(buf[pos:pos + size]))
                pos += size
            if pos:
                del buf[:pos]
            if self._ready:
                continue
            try:
                data = self.sock.recv(65536)
            except OSError:
                data = b""
            if not data:
                raise CallError("org.freedesktop.DBus.Error.NoReply",
                                "Did not receive a reply. Possible causes include: the "
                                "remote application did not send a reply, the message bus "
                                "security policy blocked the reply, the reply timeout "
                                "expired, or the network connection was broken.")
            self.buf += data

    def wait_reply(self, serial: int) -> list:
        msg = self.early.pop(serial, None)
        while msg is None:
            raw = self._receive_raw()
            if raw[1] == wire.SIGNAL:
                self.signals.append(_LazySignal(raw))
                continue
            got = wire.decode_message(raw)
            answers = got.fields.get(wire.F_REPLY_SERIAL)
            if answers == serial:
                msg = got
            elif answers is not None and len(self.early) < 65536:
                self.early[answers] = got
        if msg.type == wire.ERROR:
            name = msg.fields.get(wire.F_ERROR_NAME, "")
            text = msg.body[0] if msg.body and isinstance(msg.body[0], str) else ""
            raise CallError(name, text)
        return msg.body

    def call(self, path: str, interface: str | None, member: str, sig: str = "", body=(),
             *, destination: str | None = None, fds=None) -> list:
        """Call a method and return the reply body (a list); raise CallError."""
        serial = self.send(path, interface, member, sig, body, destination=destination,
                           fds=fds)
        return self.wait_reply(serial)

    def next_signal(self) -> wire.Message:
        """The next signal (queued ones first); blocks."""
        if self.signals:
            return self.signals.pop(0)
        while True:
            msg = self.receive()
            if msg.type == wire.SIGNAL:
                return msg

    # ------------------------------------------------------------ helpers

    def get_property(self, path: str, interface: str, name: str):
        return self.call(path, PROPERTIES_IFACE, "Get", "ss", (interface, name))[0][1]

    def get_all(self, path: str, interface: str) -> dict:
        props = self.call(path, PROPERTIES_IFACE, "GetAll", "s", (interface,))[0]
        return {k: v[1] for k, v in props.items()}

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def connect(address: str, **kwargs) -> Connection:
    return Connection(address, **kwargs)
