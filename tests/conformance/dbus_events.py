"""A minimal D-Bus *peer* client that records Upstart's ``EventEmitted`` signals.

The golden runner needs the stream of ``EventEmitted(s name, as env)`` signals init
sends on its private socket, in arrival order.  Init's socket is a peer-to-peer
address, not a bus: the client does SASL ``AUTH EXTERNAL`` and ``BEGIN`` and then
nothing else (no ``Hello``, no match rules).  jeepney supplies the message layer
(``Parser``, ``new_method_call``); the socket, the handshake and the reader thread
are ours, since jeepney's I/O helpers assume a bus.

``EventStream.sync()`` makes one method call and waits for its reply: every signal
sent before the reply has then been received (D-Bus keeps the order on one
connection).  When init exits or re-executes, the connection closes and the reader
thread stops; ``wait_closed()`` waits for that.
"""

from __future__ import annotations

import os
import socket
import threading
import time

from jeepney import DBusAddress, HeaderFields, MessageType, new_method_call
from jeepney.low_level import Parser

UPSTART_PATH = "/com/ubuntu/Upstart"
UPSTART_IFACE = "com.ubuntu.Upstart0_6"


class ConnectError(Exception):
    """The socket refused us or the SASL handshake failed."""


def _connect(abstract: str, timeout: float) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect("\0" + abstract)
        uid_hex = str(os.getuid()).encode().hex().encode()
        sock.sendall(b"\0AUTH EXTERNAL " + uid_hex + b"\r\n")
        buf = b""
        while b"\r\n" not in buf:
            chunk = sock.recv(4096)
            if not chunk:
                raise ConnectError("connection closed during SASL handshake")
            buf += chunk
        line = buf.split(b"\r\n", 1)[0]
        if not line.startswith(b"OK"):
            raise ConnectError(f"SASL refused: {line!r}")
        sock.sendall(b"BEGIN\r\n")
    except (OSError, ConnectError):
        sock.close()
        raise
    sock.settimeout(None)
    return sock


class EventStream:
    """Collects ``EventEmitted`` signals from one or more successive connections."""

    def __init__(self, abstract: str) -> None:
        self.abstract = abstract
        self.events: list[list[str]] = []
        self._cond = threading.Condition()
        self._replies: dict[int, bool] = {}
        self._serial = 0
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._closed = True

    # -- connection ---------------------------------------------------------------
    def connect(self, timeout: float = 10.0) -> None:
        """Connect (retrying while refused) until ``timeout``; raises ConnectError."""
        deadline = time.monotonic() + timeout
        last: Exception | None = None
        while True:
            try:
                sock = _connect(self.abstract, timeout=2.0)
                break
            except (OSError, ConnectError) as exc:
                last = exc
                if time.monotonic() >= deadline:
                    raise ConnectError(f"cannot connect to @{self.abstract}: {last}") from exc
                time.sleep(0.05)
        self.close()
        with self._cond:
            self._sock = sock
            self._closed = False
        self._thread = threading.Thread(target=self._reader, args=(sock,), daemon=True)
        self._thread.start()

    def close(self) -> None:
        sock, self._sock = self._sock, None
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()
        if self._thread is not None:
            self._thread.join(2.0)
            self._thread = None

    @property
    def closed(self) -> bool:
        with self._cond:
            return self._closed

    def _reader(self, sock: socket.socket) -> None:
        parser = Parser()
        try:
            while True:
                try:
                    data = sock.recv(65536)
                except OSError:
                    break
                if not data:
                    break
                for msg in parser.feed(data):
                    self._dispatch(msg)
        except Exception as exc:  # a malformed message: record it, stop reading
            with self._cond:
                self.events.append(["<reader error>", repr(exc)])
        finally:
            with self._cond:
                if self._sock is sock or self._sock is None:
                    self._closed = True
                self._cond.notify_all()

    def _dispatch(self, msg) -> None:
        hdr = msg.header
        with self._cond:
            if hdr.message_type == MessageType.signal:
                if hdr.fields.get(HeaderFields.member) == "EventEmitted":
                    name, env = msg.body
                    self.events.append([str(name), *[str(e) for e in env]])
            elif hdr.message_type in (MessageType.method_return, MessageType.error):
                serial = hdr.fields.get(HeaderFields.reply_serial)
                if serial is not None:
                    self._replies[serial] = hdr.message_type == MessageType.method_return
            self._cond.notify_all()

    # -- operations ---------------------------------------------------------------
    def sync(self, timeout: float = 10.0) -> bool:
        """Make one method call and wait for its reply (or error reply).

        Returns False on timeout or if the connection closes first.
        """
        sock = self._sock
        if sock is None or self.closed:
            return False
        self._serial += 1
        serial = self._serial
        # jeepney insists on a destination; a peer connection has no bus names.
        addr = DBusAddress(UPSTART_PATH, bus_name="com.ubuntu.Upstart", interface=UPSTART_IFACE)
        msg = new_method_call(addr, "GetAllJobs")
        del msg.header.fields[HeaderFields.destination]
        try:
            sock.sendall(msg.serialise(serial=serial))
        except OSError:
            return False
        deadline = time.monotonic() + timeout
        with self._cond:
            while serial not in self._replies:
                left = deadline - time.monotonic()
                if self._closed or left <= 0:
                    return False
                self._cond.wait(left)
            del self._replies[serial]
            return True

    def clear(self) -> None:
        with self._cond:
            self.events.clear()

    def snapshot(self) -> list[list[str]]:
        with self._cond:
            return [list(e) for e in self.events]

    def wait_for(self, predicate, timeout: float) -> bool:
        """Wait until ``predicate(events)`` holds (checked under the lock)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate(self.events):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 0.2))
            return True

    def wait_closed(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self._cond:
            while not self._closed:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
            return True
