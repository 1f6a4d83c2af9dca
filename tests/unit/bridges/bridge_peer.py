"""Helper for the bridge tests: `SilentPeer`, a minimal real D-Bus peer that authenticates a client,
records every message it receives and answers only when told to."""

from __future__ import annotations

import os
import socket
import threading

from upstart.control import wire


class SilentPeer:
    def __init__(self):
        self.address = "unix:abstract=/upstart-py/bridge-test/%d/%d" % (os.getpid(), id(self))
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind("\0" + self.address.split("=", 1)[1])
        self.listener.listen(1)
        self.conn: socket.socket | None = None
        self.messages: list[wire.Message] = []
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        conn, _ = self.listener.accept()
        self.conn = conn
        buf = b""
        while b"BEGIN\r\n" not in buf:
            data = conn.recv(4096)
            if not data:
                return
            buf += data
            while b"\r\n" in buf and b"BEGIN\r\n" not in buf:
                line, buf = buf.split(b"\r\n", 1)
                if b"AUTH" in line:
                    conn.sendall(b"OK 0123456789abcdef0123456789abcdef\r\n")
                elif line.startswith(b"NEGOTIATE_UNIX_FD"):
                    conn.sendall(b"AGREE_UNIX_FD\r\n")
        buf = buf.split(b"BEGIN\r\n", 1)[1]
        while True:
            while len(buf) >= 16 and len(buf) >= wire.message_size(buf[:16]):
                size = wire.message_size(buf[:16])
                msg = wire.decode_message(buf[:size])
                buf = buf[size:]
                with self.lock:
                    self.messages.append(msg)
            try:
                data = conn.recv(65536)
            except OSError:
                return
            if not data:
                return
            buf += data

    def calls(self, member: str) -> list[wire.Message]:
        with self.lock:
            return [m for m in self.messages if m.fields.get(wire.F_MEMBER) == member]

    def reply(self, msg: wire.Message, sig: str = "", body=()) -> None:
        self.conn.sendall(wire.encode_message(wire.METHOD_RETURN, 1000 + msg.serial,
                                              {wire.F_REPLY_SERIAL: msg.serial}, sig, body))

    def error(self, msg: wire.Message, name: str, text: str) -> None:
        self.conn.sendall(wire.encode_message(wire.ERROR, 1000 + msg.serial,
                                              {wire.F_REPLY_SERIAL: msg.serial,
                                               wire.F_ERROR_NAME: name}, "s", (text,)))

    def signal(self, path: str, iface: str, member: str, sig: str = "", body=()) -> None:
        self.conn.sendall(wire.encode_message(wire.SIGNAL, 5000, {
            wire.F_PATH: path, wire.F_INTERFACE: iface, wire.F_MEMBER: member}, sig, body))

    def hangup(self) -> None:
        """Drop the client connection (the client sees end of file)."""
        if self.conn is not None:
            try:
                self.conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def close(self) -> None:
        self.hangup()
        if self.conn is not None:
            self.conn.close()
        self.listener.close()
        self.thread.join(5)
