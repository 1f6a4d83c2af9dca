"""The socket bridge's pure logic: job variables → a socket to listen on.

A `socket` leaf of a job condition (spec 06 §3) names one listening socket:
`PROTO=inet|inet6|unix` first, then `PORT=` (inet/inet6, required), `ADDR=`
(an address literal, default any), or for unix `PATH=` (leading `@` =
abstract namespace). UPSTREAM-QUIRK B-1, decided here: `SOCKET_PATH=` is
accepted as well as `PATH=`, and the emitted event carries `SOCKET_PATH`
(as upstream), so conditions should be written with `SOCKET_PATH=` to
match; a `PATH=` condition still gets its socket but can never match.

Owns parsing with upstream's warning texts, the identity of a socket (jobs
asking for the same one share it) and the emitted env. Pure; never opens a
socket.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass

EVENT = "socket"


@dataclass(frozen=True)
class SocketSpec:
    proto: str                   # inet | inet6 | unix
    port: int | None = None
    addr: str | None = None      # normalised literal (inet/inet6)
    path: str | None = None      # as written (unix), `@` = abstract

    @property
    def family(self) -> int:
        return {"inet": socket.AF_INET, "inet6": socket.AF_INET6,
                "unix": socket.AF_UNIX}[self.proto]

    @property
    def sockaddr(self):
        if self.proto == "unix":
            assert self.path is not None
            return "\0" + self.path[1:] if self.path.startswith("@") else self.path
        return (self.addr, self.port)

    def event_env(self) -> list[str]:
        if self.proto == "unix":
            return ["PROTO=unix", "SOCKET_PATH=%s" % self.path]
        return ["PROTO=%s" % self.proto, "PORT=%d" % self.port, "ADDR=%s" % self.addr]

    def describe(self) -> str:
        return " ".join(self.event_env())


def _port(text: str) -> int | None:
    if not text.isdigit():
        return None
    value = int(text)
    return value if 0 < value < 65536 else None


def parse_socket(job: str, args) -> SocketSpec | str:
    """A SocketSpec from one `socket` leaf, or upstream's warning text."""
    proto = addr = path = None
    port: int | None = None
    for text in args:
        if "=" not in text or text.startswith("="):
            return "Ignored socket event without variable name in %s" % job
        key, value = text.split("=", 1)
        if key == "PROTO":
            if value not in ("inet", "inet6", "unix"):
                return "Ignored socket event with unknown PROTO=%s in %s" % (value, job)
            proto = value
        elif key == "PORT" and proto in ("inet", "inet6"):
            port = _port(value)
        elif key == "ADDR" and proto in ("inet", "inet6"):
            family = socket.AF_INET if proto == "inet" else socket.AF_INET6
            try:
                addr = socket.inet_ntop(family, socket.inet_pton(family, value))
            except OSError:
                return "Ignored socket event with invalid ADDR=%s in %s" % (value, job)
        elif key in ("PATH", "SOCKET_PATH") and proto == "unix":
            path = value
        else:
            return "Ignored socket event with unknown variable %s in %s" % (key, job)
    if proto is None or (proto != "unix" and port is None) or (proto == "unix" and not path):
        return "Ignored incomplete socket event in %s" % job
    if proto == "unix":
        return SocketSpec("unix", path=path)
    if addr is None:
        addr = "0.0.0.0" if proto == "inet" else "::"
    return SocketSpec(proto, port=port, addr=addr)
