"""The control server as a client of a message bus (system or session bus).

`connect_bus` connects (SASL EXTERNAL, `NEGOTIATE_UNIX_FD`, `Hello`,
`RequestName` with DO_NOT_QUEUE) and the bus connection then serves the same
objects as the private socket. A caller on the bus is identified once per
sender with `GetConnectionUnixUser`/`GetConnectionUnixProcessID`, so the
permission policy applies as on the private socket (an unidentifiable sender
is never permitted). `bus_call` makes a call of ours to the bus daemon
(`UpdateActivationEnvironment`, ...). Losing the bus drops that connection
only and calls `on_bus_lost(label)`: the daemon decides when to reconnect.

A mixin of `upstart.control.server.ControlServer` over its `Transport`.
"""

from __future__ import annotations

import os
import socket

from jeepney.low_level import HeaderFields, MessageType
from jeepney.wrappers import DBusAddress, new_method_call

from upstart.control import address as addr
from upstart.control.backend import Caller
from upstart.control.sasl import SaslServer
from upstart.control.transport import Connection
from upstart.core.effects import ControlError, ControlFailure
from upstart.reactor.futures import wait_for

_BUS = DBusAddress("/org/freedesktop/DBus", "org.freedesktop.DBus", "org.freedesktop.DBus")


class BusClient:
    """Bus connections of the server (see the module docstring)."""

    on_bus_lost = None             # callable(label) or None: told when a bus goes away
    _bus_up: set | None = None     # fds of bus connections set up (name owned)

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
            await wait_for(self.loop, self._bus_handshake(sock, sockaddr), timeout)
        except BaseException:
            sock.close()
            raise
        conn = Connection(sock, Caller(uid=-1), SaslServer(-1, frozenset(), self.guid))
        conn.sasl.done = True
        conn.bus = label
        self._conns[conn.fd] = conn
        self.loop.add_reader(conn.fd, self._readable, conn)
        try:
            conn.unique_name = (await wait_for(self.loop, self._bus_call(
                conn, "Hello"), timeout))[0]
            result = (await wait_for(self.loop, self._bus_call(
                conn, "RequestName", "su", (name, 4)), timeout))[0]
        except BaseException:
            self._drop(conn)
            raise
        if result not in (1, 4):       # primary owner / already owner
            self._drop(conn)
            raise OSError("Name already taken")
        self._bus_established(conn)
        return conn.unique_name

    def _bus_established(self, conn: Connection) -> None:
        if self._bus_up is None:
            self._bus_up = set()
        self._bus_up.add(conn.fd)

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

    def bus_connection(self, label: str | None = None) -> Connection | None:
        """The live connection to bus `label` (None: any bus), or None."""
        for conn in self._conns.values():
            if conn.bus and not conn.closed and (label is None or conn.bus == label):
                return conn
        return None

    async def bus_call(self, member: str, sig: str = "", body=(), *, label: str | None = None,
                       timeout: float = 5.0):
        """Call `member` of the bus daemon on our bus connection; its reply's
        body. Raises OSError without a bus, ControlFailure for an error reply."""
        conn = self.bus_connection(label)
        if conn is None:
            raise OSError("Not connected to a D-Bus bus")
        return await wait_for(self.loop, self._bus_call(conn, member, sig, body), timeout)

    def _bus_call(self, conn, member, sig="", body=()):
        msg = new_method_call(_BUS, member, sig or None, body)
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
            text = msg.body[0] if msg.body and isinstance(msg.body[0], str) else ""
            future.set_exception(ControlFailure(ControlError(
                msg.header.fields.get(HeaderFields.error_name, ""), text)))
        else:
            future.set_result(msg.body)

    async def _dispatch_from_bus(self, conn, msg, fds, sender) -> None:
        try:
            uid = (await self._bus_call(conn, "GetConnectionUnixUser", "s", (sender,)))[0]
            try:
                pid = (await self._bus_call(conn, "GetConnectionUnixProcessID", "s",
                                            (sender,)))[0]
            except ControlFailure:
                pid = 0
            caller = Caller(uid=uid, pid=pid)
        except ControlFailure:
            caller = Caller(uid=-1)        # unknown: never permitted
        if len(conn.callers) > 1024:
            conn.callers.clear()
        conn.callers[sender] = caller
        if not conn.closed:
            self._dispatch(conn, msg, fds)


    def _bus_lost(self, conn: Connection) -> None:
        """Called by the transport when a bus connection is dropped; the hook
        hears of connections that were set up (not of a failed attempt)."""
        if not self._bus_up or conn.fd not in self._bus_up:
            return
        self._bus_up.discard(conn.fd)
        if self.on_bus_lost is not None:
            try:
                self.on_bus_lost(conn.bus)
            except Exception as exc:  # never let a hook take init down
                self._log("error", "Bus loss handler failed: %r" % exc)

