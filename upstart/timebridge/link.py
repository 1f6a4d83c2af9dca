"""The bridge's D-Bus link to init: jobs' conditions in, events out.

Owns the connection (chosen as initctl and the other bridges do: `--user` or
`$UPSTART_SESSION` → the Session Init's address; otherwise, as root, init's
private socket `unix:abstract=/com/ubuntu/upstart`), reading every job's
`start_on`/`stop_on`, emitting events with `EmitEvent(name, env, wait=False)`,
and non-blocking reception of the signals init sends to every connection
(`JobAdded`, `JobRemoved`, `EventEmitted`). Built on the blocking client
(`upstart.control.client`): method calls block (they are short), signals are
read only when the socket is readable, so the loop can `select` on `fileno()`.

Never decides anything about time.
"""

from __future__ import annotations

import os
from _socket import MSG_DONTWAIT

from upstart.control import client, wire
from upstart.control.client import CallError, ConnectError

SYSTEM_ADDRESS = "unix:abstract=/com/ubuntu/upstart"


class LinkError(Exception):
    """Cannot reach init, or init went away."""


def choose_address(user: bool, environ=os.environ) -> str:
    session = environ.get("UPSTART_SESSION")
    if user and not session:
        raise LinkError("UPSTART_SESSION isn't set in environment")
    if session:
        return session
    return SYSTEM_ADDRESS


class Link:
    def __init__(self, address: str):
        self.address = address
        try:
            self.conn = client.Connection(address)
        except ConnectError as exc:
            raise LinkError("Unable to connect to Upstart: %s" % exc) from None
        self.closed = False

    def fileno(self) -> int:
        return self.conn.sock.fileno()

    def call(self, path, iface, member, sig="", body=()):
        try:
            return self.conn.call(path, iface, member, sig, body)
        except CallError as exc:
            if exc.name in ("org.freedesktop.DBus.Error.NoReply",
                            "org.freedesktop.DBus.Error.Disconnected"):
                self.closed = True
                raise LinkError("Disconnected from Upstart") from None
            raise

    # ------------------------------------------------------------- jobs

    def job_paths(self) -> list[str]:
        return list(self.call(client.MANAGER_PATH, client.MANAGER_IFACE, "GetAllJobs")[0])

    def job_conditions(self, path: str) -> tuple[str, list, list] | None:
        """(name, start_on, stop_on) of a job, None if it vanished meanwhile."""
        try:
            props = self.call(path, client.PROPERTIES_IFACE, "GetAll", "s",
                              (client.JOB_IFACE,))[0]
        except CallError:
            return None
        return (props["name"][1], props["start_on"][1], props["stop_on"][1])

    def emit(self, name: str, env) -> None:
        self.call(client.MANAGER_PATH, client.MANAGER_IFACE, "EmitEvent", "sasb",
                  (name, list(env), False))

    # ------------------------------------------------------------- signals

    def has_queued(self) -> bool:
        """Are signals waiting in memory (read while a call awaited its reply)?"""
        buf = self.conn.buf
        return bool(self.conn.signals) or (
            len(buf) >= 16 and len(buf) >= wire.message_size(bytes(buf[:16])))

    def read_signals(self) -> list[tuple[str, list]]:
        """Signals already queued or readable now, as (member, body); call when
        `fileno()` is readable (or to drain what calls queued). Raises LinkError
        on end of file."""
        conn = self.conn
        out = [(m.fields.get(wire.F_MEMBER, ""), m.body) for m in conn.signals]
        conn.signals.clear()
        try:
            data = conn.sock.recv(65536, MSG_DONTWAIT)
        except BlockingIOError:
            data = None
        except OSError:
            data = b""
        if data == b"":
            self.closed = True
            raise LinkError("Disconnected from Upstart")
        if data:
            conn.buf += data
        while len(conn.buf) >= 16:
            size = wire.message_size(bytes(conn.buf[:16]))
            if len(conn.buf) < size:
                break
            raw = bytes(conn.buf[:size])
            del conn.buf[:size]
            msg = wire.decode_message(raw)
            if msg.type == wire.SIGNAL:
                out.append((msg.fields.get(wire.F_MEMBER, ""), msg.body))
        return out

    def close(self) -> None:
        self.conn.close()
