"""The `dbus` source: tell when a well-known bus name gets an owner.

One small non-blocking bus connection per bus (`system` or `session`),
opened at the first watch on that bus and closed with the last. For each
watched name it subscribes first (`AddMatch` for `NameOwnerChanged` with
`arg0=<name>`) and then asks `NameHasOwner`, so an owner that arrives in
between is seen either way. A `NameOwnerChanged` with a new owner, or a
`NameHasOwner` answering true, fires every watch of that name.

If the bus cannot be reached (not started yet, bad address) the
connection is retried on a back-off (0.1 s doubling to 5 s) while watches
remain. Messages are built and parsed with `upstart.control.wire`.

Owns the bus sockets, their readers, writers and retry timers. Never
blocks (connect, SASL and calls all go through the loop), never claims a
name, never auto-starts a service.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable

from upstart.control import address as _address
from upstart.control import wire
from upstart.readiness.spec import DbusSpec

DBUS = "org.freedesktop.DBus"
DBUS_PATH = "/org/freedesktop/DBus"
RETRY_FIRST = 0.1
RETRY_MAX = 5.0


def match_rule(name: str) -> str:
    return (f"type='signal',sender='{DBUS}',interface='{DBUS}',"
            f"member='NameOwnerChanged',arg0='{name}'")


class BusConnection:
    """One connection to one bus, driven by loop callbacks (a small state machine:
    `closed` -> `auth` -> `running` -> `closed`)."""

    def __init__(self, loop, address: str, label: str, log, on_owner: Callable[[str], None]):
        self.loop = loop
        self.address = address
        self.label = label
        self.log = log
        self.on_owner = on_owner
        self.names: set[str] = set()
        self.state = "closed"
        self.sock: socket.socket | None = None
        self.inbuf = bytearray()
        self.outbuf = bytearray()
        self.serial = 0
        self.calls: dict[int, str] = {}       # NameHasOwner serial -> name
        self.retry = None
        self.delay = RETRY_FIRST
        self._writer = False
        self._warned = False

    # ------------------------------------------------------------ names

    def want(self, name: str) -> None:
        if name in self.names:
            return
        self.names.add(name)
        if self.state == "running":
            self._subscribe(name)
        elif self.state == "closed" and self.retry is None:
            self.connect()

    def drop(self, name: str) -> None:
        if name not in self.names:
            return
        self.names.discard(name)
        if self.state == "running":
            self._call("RemoveMatch", "s", (match_rule(name),), no_reply=True)

    # ------------------------------------------------------------ connection

    def connect(self) -> None:
        self.retry = None
        try:
            sockaddr, _display = _address.parse(self.address)
        except ValueError as exc:
            self._failed(f"bad address {self.address!r}: {exc}")
            return
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC
                             | socket.SOCK_NONBLOCK)
        try:
            sock.connect(sockaddr)       # unix sockets connect at once (or fail: EAGAIN too)
        except OSError as exc:
            sock.close()
            self._failed(exc.strerror or str(exc))
            return
        self.sock = sock
        self.state = "auth"
        self.inbuf.clear()
        self.outbuf.clear()
        self.calls.clear()
        uid = str(os.getuid()).encode().hex().encode()
        self._write(b"\0AUTH EXTERNAL " + uid + b"\r\n")
        self.loop.add_reader(sock.fileno(), self._readable)

    def _failed(self, why: str) -> None:
        self._teardown()
        if not self.names:
            return
        if not self._warned:
            self.log("info", f"readiness: {self.label} bus not reachable ({why}); retrying")
            self._warned = True
        self.retry = self.loop.call_later(self.delay, self.connect)
        self.delay = min(RETRY_MAX, self.delay * 2)

    def _teardown(self) -> None:
        if self.sock is not None:
            try:
                self.loop.remove_reader(self.sock.fileno())
                if self._writer:
                    self.loop.remove_writer(self.sock.fileno())
            except Exception:   # noqa: BLE001 - loop closing
                pass
            self._writer = False
            self.sock.close()
            self.sock = None
        self.state = "closed"

    def close(self) -> None:
        self.names.clear()
        if self.retry is not None:
            self.retry.cancel()
            self.retry = None
        self._teardown()

    # ------------------------------------------------------------ I/O

    def _write(self, data: bytes) -> None:
        self.outbuf += data
        self._flush()

    def _flush(self) -> None:
        if self.sock is None:
            return
        while self.outbuf:
            try:
                n = self.sock.send(self.outbuf)
            except (BlockingIOError, InterruptedError):
                break
            except OSError as exc:
                self._failed(exc.strerror or str(exc))
                return
            del self.outbuf[:n]
        want = bool(self.outbuf)
        if want != self._writer:
            if want:
                self.loop.add_writer(self.sock.fileno(), self._flush)
            else:
                self.loop.remove_writer(self.sock.fileno())
            self._writer = want

    def _readable(self) -> None:
        if self.sock is None:
            return
        try:
            data = self.sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            self._failed(exc.strerror or str(exc))
            return
        if not data:
            self._failed("disconnected")
            return
        self.inbuf += data
        if self.state == "auth":
            if b"\r\n" not in self.inbuf:
                return
            line, _, rest = bytes(self.inbuf).partition(b"\r\n")
            self.inbuf[:] = rest
            if not line.startswith(b"OK"):
                self._failed("authentication rejected")
                return
            self._write(b"BEGIN\r\n")
            if self.sock is None:
                return
            self._call("Hello")
            self.state = "running"
            self.delay = RETRY_FIRST
            self._warned = False
            for name in sorted(self.names):
                self._subscribe(name)
        while len(self.inbuf) >= 16:
            size = wire.message_size(bytes(self.inbuf[:16]))
            if len(self.inbuf) < size:
                break
            raw = bytes(self.inbuf[:size])
            del self.inbuf[:size]
            try:
                msg = wire.decode_message(raw)
            except (wire.WireError, ValueError) as exc:
                self._failed(f"bad message: {exc}")
                return
            self._message(msg)

    # ------------------------------------------------------------ messages

    def _call(self, member: str, sig: str = "", body=(), no_reply: bool = False) -> int:
        self.serial += 1
        fields = {wire.F_PATH: DBUS_PATH, wire.F_INTERFACE: DBUS, wire.F_MEMBER: member,
                  wire.F_DESTINATION: DBUS}
        flags = wire.NO_AUTO_START | (wire.NO_REPLY_EXPECTED if no_reply else 0)
        self._write(wire.encode_message(wire.METHOD_CALL, self.serial, fields, sig, body,
                                        flags))
        return self.serial

    def _subscribe(self, name: str) -> None:
        self._call("AddMatch", "s", (match_rule(name),), no_reply=True)
        self.calls[self._call("NameHasOwner", "s", (name,))] = name

    def _message(self, msg: wire.Message) -> None:
        if msg.type == wire.SIGNAL:
            if msg.fields.get(wire.F_MEMBER) == "NameOwnerChanged" and len(msg.body) == 3:
                name, _old, new = msg.body
                if new and name in self.names:
                    self.on_owner(name)
            return
        name = self.calls.pop(msg.fields.get(wire.F_REPLY_SERIAL), None)
        if name is None:
            return
        if msg.type == wire.METHOD_RETURN and msg.body and msg.body[0] is True \
                and name in self.names:
            self.on_owner(name)


class BusWatcher:
    """Every dbus watch of the readiness adapter."""

    def __init__(self, loop, log, address_for: Callable[[str], str | None]):
        self.loop = loop
        self.log = log
        self.address_for = address_for
        self._conns: dict[str, BusConnection] = {}
        self._watches: dict[object, tuple[DbusSpec, Callable[[], None]]] = {}

    def add(self, key: object, spec: DbusSpec, fire: Callable[[], None]) -> None:
        self.remove(key)
        conn = self._conns.get(spec.bus)
        if conn is None:
            address = self.address_for(spec.bus)
            if not address:
                self.log("warn", f"readiness: no {spec.bus} bus address for dbus "
                                 f"NAME={spec.name}")
                return
            conn = BusConnection(self.loop, address, spec.bus, self.log,
                                 lambda name, bus=spec.bus: self._owner(bus, name))
            self._conns[spec.bus] = conn
        self._watches[key] = (spec, fire)
        conn.want(spec.name)

    def remove(self, key: object) -> None:
        got = self._watches.pop(key, None)
        if got is None:
            return
        spec = got[0]
        conn = self._conns.get(spec.bus)
        if conn is None:
            return
        if not any(s.bus == spec.bus and s.name == spec.name
                   for s, _f in self._watches.values()):
            conn.drop(spec.name)
        if not conn.names:
            conn.close()
            del self._conns[spec.bus]

    def keys(self) -> list[object]:
        return list(self._watches)

    def _owner(self, bus: str, name: str) -> None:
        for key, (spec, fire) in list(self._watches.items()):
            if spec.bus == bus and spec.name == name:
                self.remove(key)
                fire()

    def close(self) -> None:
        for key in list(self._watches):
            self.remove(key)
        for conn in self._conns.values():
            conn.close()
        self._conns.clear()


__all__ = ["BusWatcher", "BusConnection", "match_rule"]
