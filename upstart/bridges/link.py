"""A bridge's D-Bus connection (to init or to a bus) on the running reactor.

Wraps our blocking client (`upstart.control.client.Connection`, used only to
connect and authenticate and to send) with a non-blocking reader: replies
resolve futures by serial, signals go to registered handlers, and the loss
of the connection resolves `closed` so the bridge can exit (its job's
`respawn` brings it back).

Owns the anti-flood rule for `EmitEvent(wait=false)`: at most `window`
calls in flight, then a bounded backlog in which an identical pending event
is not queued twice (unless the caller says `coalesce=False`); beyond the backlog events are dropped and counted,
with one warning per burst. Never interprets events or job conditions.
"""

from __future__ import annotations

import collections
import errno
import _socket as socket

from upstart.control import client, wire
from upstart.reactor.futures import Future
from upstart.reactor.loop import get_running_loop

DBUS_PATH = "/org/freedesktop/DBus"
DBUS_IFACE = "org.freedesktop.DBus"
DBUS_NAME = "org.freedesktop.DBus"


class Link:
    """One authenticated connection served by the running loop."""

    def __init__(self, conn: client.Connection, log, *, label: str = "init",
                 window: int = 16, backlog: int = 1024):
        self.conn = conn
        self.log = log
        self.label = label
        self.window = window
        self.backlog_size = backlog
        self.loop = get_running_loop()
        self.pending: dict[int, Future] = {}
        self.handlers: list = []
        # perf (issue #21): init sends every connection every signal (an
        # EventEmitted per event); those no handler reads are skipped unread
        self._members: set | None = set()
        self.closed: Future = self.loop.create_future()
        self.in_flight = 0
        self.backlog: collections.deque = collections.deque()
        self.queued: set = set()
        self.dropped = 0
        self.emitted = 0
        self._warned_drop = False
        self.loop.add_reader(conn.sock.fileno(), self._readable)
        # anything read while authenticating (or queued by a blocking call)
        early = list(conn.signals)
        conn.signals.clear()
        self.loop.call_soon(self._replay, early)

    @classmethod
    def open(cls, address: str, log, *, bus: bool = False, unix_fd: bool = False,
             label: str = "init", **kw) -> "Link":
        """Connect (blocking, short) and start serving; raises client.ConnectError."""
        conn = client.Connection(address, bus=bus, unix_fd=unix_fd)
        return cls(conn, log, label=label, **kw)

    # ------------------------------------------------------------ receiving

    def on_signal(self, handler, members=None) -> None:
        """Call `handler(msg)` for every signal received (wire.Message);
        `members`: the only signal names it reads (others are not decoded)."""
        self.handlers.append(handler)
        if members is None:
            self._members = None
        elif self._members is not None:
            self._members |= set(members)

    def _replay(self, messages) -> None:
        for msg in messages:
            self._dispatch(msg)
        self._drain_buffer()

    def _readable(self) -> None:
        while True:
            try:
                data = self.conn.sock.recv(65536, socket.MSG_DONTWAIT)
            except BlockingIOError:
                break
            except OSError as exc:
                if exc.errno in (errno.EAGAIN, errno.EINTR):
                    break
                data = b""
            if not data:
                self._lost()
                return
            self.conn.buf += data
            if len(data) < 65536:
                break
        self._drain_buffer()

    def _drain_buffer(self) -> None:
        buf = self.conn.buf
        while len(buf) >= 16 and not self.closed.done():
            try:
                size = wire.message_size(bytes(buf[:16]))
            except wire.WireError:
                self._lost()
                return
            if size > client.MAX_MESSAGE:
                self._lost()
                return
            if len(buf) < size:
                return
            raw = bytes(buf[:size])
            del buf[:size]
            if raw[1] == wire.SIGNAL and self._members is not None:
                member = wire.signal_member(raw)
                if member is not None and member not in self._members:
                    continue
            try:
                msg = wire.decode_message(raw)
            except wire.WireError:
                continue
            self._dispatch(msg)

    def _dispatch(self, msg: wire.Message) -> None:
        if msg.type == wire.SIGNAL:
            for handler in list(self.handlers):
                try:
                    handler(msg)
                except Exception as exc:      # a handler bug must not kill the link
                    self.log.warn("signal handler failed: %r" % exc)
            return
        if msg.type not in (wire.METHOD_RETURN, wire.ERROR):
            return
        fut = self.pending.pop(msg.fields.get(wire.F_REPLY_SERIAL), None)
        if fut is None or fut.done():
            return
        if msg.type == wire.ERROR:
            text = msg.body[0] if msg.body and isinstance(msg.body[0], str) else ""
            fut.set_exception(client.CallError(msg.fields.get(wire.F_ERROR_NAME, ""), text))
        else:
            fut.set_result(msg.body)

    def _lost(self) -> None:
        if self.closed.done():
            return
        try:
            self.loop.remove_reader(self.conn.sock.fileno())
        except (ValueError, OSError):
            pass
        err = client.CallError("org.freedesktop.DBus.Error.Disconnected",
                               "Connection was disconnected before a reply was received")
        for fut in self.pending.values():
            if not fut.done():
                fut.set_exception(err)
                fut.exception()          # mark retrieved: nobody may await it
        self.pending.clear()
        self.closed.set_result(None)

    # -------------------------------------------------------------- calling

    def call(self, path: str, interface: str | None, member: str, sig: str = "", body=(),
             *, destination: str | None = None, fds=None) -> Future:
        """Send a method call; the future gets the reply body or a CallError."""
        fut = self.loop.create_future()
        if self.closed.done():
            fut.set_exception(client.CallError("org.freedesktop.DBus.Error.Disconnected",
                                               "Not connected"))
            return fut
        try:
            serial = self.conn.send(path, interface, member, sig, body,
                                    destination=destination, fds=fds)
        except client.CallError as exc:
            fut.set_exception(exc)
            self._lost()
            return fut
        self.pending[serial] = fut
        return fut

    def send_signal(self, path: str, interface: str, member: str, sig: str = "", body=(),
                    *, destination: str | None = None) -> None:
        """Send a signal (used to answer dbus-daemon's activation requests)."""
        fields = {wire.F_PATH: path, wire.F_INTERFACE: interface, wire.F_MEMBER: member}
        if destination:
            fields[wire.F_DESTINATION] = destination
        data = wire.encode_message(wire.SIGNAL, self.conn._next_serial(), fields, sig, body)
        try:
            self.conn.sock.sendall(data)
        except OSError:
            self._lost()

    def add_match(self, rule: str) -> Future:
        return self.call(DBUS_PATH, DBUS_IFACE, "AddMatch", "s", (rule,),
                         destination=DBUS_NAME)

    def request_name(self, name: str, flags: int = 4) -> Future:
        """RequestName (default DO_NOT_QUEUE); the reply body is [code]."""
        return self.call(DBUS_PATH, DBUS_IFACE, "RequestName", "su", (name, flags),
                         destination=DBUS_NAME)

    # ------------------------------------------------------------- emitting

    def emit(self, name: str, env: list[str], *, wait: bool = False,
             fd: int | None = None, coalesce: bool = True) -> Future | None:
        """Emit an event in init.

        With `wait` or an `fd` the call goes out at once and its future is
        returned (the caller owns the pacing). Otherwise it goes through the
        bounded window/backlog and None is returned. `coalesce=False` queues
        the event even when an identical one is waiting (events that report
        transitions: up, down, up must not become up, down).
        """
        if wait or fd is not None:
            if fd is not None:
                return self.call(client.MANAGER_PATH, client.MANAGER_IFACE,
                                 "EmitEventWithFile", "sasbh", (name, env, wait, 0),
                                 fds=[fd])
            return self.call(client.MANAGER_PATH, client.MANAGER_IFACE, "EmitEvent",
                             "sasb", (name, env, wait))
        key = (name, tuple(env))
        if self.in_flight < self.window:
            self._send_emit(key)
        elif coalesce and key in self.queued:
            pass                                   # identical event already waiting
        elif len(self.backlog) < self.backlog_size:
            self.backlog.append(key)
            if coalesce:
                self.queued.add(key)
        else:
            self.dropped += 1
            if not self._warned_drop:
                self._warned_drop = True
                self.log.warn("Too many pending events; dropping %s" % name)
        return None

    def _send_emit(self, key) -> None:
        name, env = key
        self.in_flight += 1
        self.emitted += 1
        fut = self.call(client.MANAGER_PATH, client.MANAGER_IFACE, "EmitEvent", "sasb",
                        (name, list(env), False))
        fut.add_done_callback(self._emit_done)

    def _emit_done(self, fut: Future) -> None:
        self.in_flight -= 1
        exc = fut.exception()
        if exc is not None and not self.closed.done():
            self.log.warn("Failed to emit event: %s" % getattr(exc, "message", exc))
        while self.backlog and self.in_flight < self.window and not self.closed.done():
            key = self.backlog.popleft()
            self.queued.discard(key)
            self._send_emit(key)
        if not self.backlog:
            self._warned_drop = False

    def statistics(self) -> dict[str, int]:
        return {"in_flight": self.in_flight, "backlog": len(self.backlog),
                "emitted": self.emitted, "dropped": self.dropped}

    def close(self) -> None:
        self._lost()
        self.conn.close()
