"""The socket bridge's pure logic: job variables → a socket to listen on.

A `socket` leaf of a job condition (spec 06 §3) names one listening socket:
`PROTO=inet|inet6|unix` first, then `PORT=` (inet/inet6, required), `ADDR=`
(an address literal, default any), or for unix `PATH=` (leading `@` =
abstract namespace). UPSTREAM-QUIRK B-1, decided here: `SOCKET_PATH=` is
accepted as well as `PATH=`, and the emitted event carries `SOCKET_PATH`
(as upstream), so conditions should be written with `SOCKET_PATH=` to
match; a `PATH=` condition still gets its socket but can never match.

Beyond 1.13 (roadmap 07 §8; decided in docs/design/bridges.md), after
`PROTO=` a condition may add `TYPE=stream|dgram` (a datagram socket is bound,
not listened on, and passed to the job when a datagram waits), `ACCEPT=y|n`
(`y`: inetd style, the bridge accepts each connection and passes the
connected socket, one event per connection) and, for unix path sockets,
`MODE=<octal>` (the socket file's permissions). Each of them is carried in
the event exactly as written, so the condition that asked for it matches.

Owns parsing with upstream's warning texts, the identity of a socket (jobs
asking for the same one share it) and the emitted env. Pure; never opens a
socket.
"""

from __future__ import annotations

import socket

from upstart.records import dataclass

EVENT = "socket"


@dataclass(frozen=True)
class SocketSpec:
    proto: str                   # inet | inet6 | unix
    port: int | None = None
    addr: str | None = None      # normalised literal (inet/inet6)
    path: str | None = None      # as written (unix), `@` = abstract
    type: str | None = None      # "stream" | "dgram" as written; None = stream
    accept: str | None = None    # "y" | "n" as written; None = no
    mode: str | None = None      # octal text as written (unix path sockets)

    @property
    def dgram(self) -> bool:
        return self.type == "dgram"

    @property
    def accepting(self) -> bool:
        return self.accept == "y"

    @property
    def socktype(self) -> int:
        return socket.SOCK_DGRAM if self.dgram else socket.SOCK_STREAM

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
            env = ["PROTO=unix", "SOCKET_PATH=%s" % self.path]
        else:
            env = ["PROTO=%s" % self.proto, "PORT=%d" % self.port, "ADDR=%s" % self.addr]
        for key, value in (("TYPE", self.type), ("ACCEPT", self.accept), ("MODE", self.mode)):
            if value is not None:
                env.append("%s=%s" % (key, value))
        return env

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
    extra: dict[str, str] = {}
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
        elif key in _EXTRA and proto is not None:
            if value not in _EXTRA[key] and not (key == "MODE" and _octal(value)):
                return "Ignored socket event with invalid %s=%s in %s" % (key, value, job)
            extra[key.lower()] = value
        else:
            return "Ignored socket event with unknown variable %s in %s" % (key, job)
    if proto is None or (proto != "unix" and port is None) or (proto == "unix" and not path):
        return "Ignored incomplete socket event in %s" % job
    if extra.get("type") == "dgram" and extra.get("accept") == "y":
        return "Ignored socket event with ACCEPT=y for a datagram socket in %s" % job
    if "mode" in extra and (proto != "unix" or path.startswith("@")):
        return "Ignored socket event with MODE= for a socket without a file in %s" % job
    if proto == "unix":
        return SocketSpec("unix", path=path, **extra)
    if addr is None:
        addr = "0.0.0.0" if proto == "inet" else "::"
    return SocketSpec(proto, port=port, addr=addr, **extra)


# the extensions and their allowed values (MODE: any octal permission text)
_EXTRA = {"TYPE": ("stream", "dgram"), "ACCEPT": ("y", "n"), "MODE": ()}


def _octal(text: str) -> bool:
    return 0 < len(text) <= 4 and all(c in "01234567" for c in text)
