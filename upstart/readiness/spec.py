"""Watch specs: what one `file`/`socket`/`dbus` leaf of `ready on` asks for.

The core hands the readiness adapter the leaves of a waiting instance's
`ready on` whose event name is `file`, `socket` or `dbus` (`$VAR`s already
expanded). This module turns one leaf into a frozen spec:

* `FileSpec(path)`      -- `file FPATH=/x` (also `FILE=`, or positional):
  ready when the path exists (a glob in the last component: when one entry
  matches);
* `SocketSpec(...)`     -- `socket PROTO=inet|inet6 PORT=N [ADDR=A]` or
  `socket PROTO=unix PATH=P` (also `SOCKET_PATH=`; `@name` is abstract):
  ready when a socket of that kind is listening;
* `DbusSpec(name, bus)` -- `dbus NAME=org.x [BUS=system|session]`: ready when
  the name has an owner on that bus (default: system bus for the system
  init, session bus for a Session Init);

and says which event proves it: `event_env(found)` is the environment of
the ordinary event the adapter emits (`file FPATH=/x`, ...), built so that
the leaf it came from matches it (keys as written, canonical order, so
positional arguments match too; a glob is replaced by what was found).

Pure: parsing and matching only. Never touches the file system, a socket
or a bus.
"""

from __future__ import annotations

import fnmatch
import ipaddress

from upstart.records import dataclass

GLOB_CHARS = "*?["


def _split(args: tuple[str, ...], order: tuple[str, ...],
           aliases: dict[str, str]) -> tuple[dict[str, str], dict[str, str]] | str:
    """Named values by canonical key, plus the key each was written as;
    positional arguments fill the canonical keys in order."""
    values: dict[str, str] = {}
    written: dict[str, str] = {}
    pos = 0
    for arg in args:
        if "!=" in arg:
            continue                       # a negation narrows the match; nothing to watch
        key, eq, value = arg.partition("=")
        if not eq:
            while pos < len(order) and order[pos] in values:
                pos += 1
            if pos >= len(order):
                return f"too many arguments: {arg}"
            values[order[pos]] = arg
            written[order[pos]] = order[pos]
            pos += 1
            continue
        canon = aliases.get(key, key)
        if canon not in order:
            continue                       # an extra key: matched by the core, not watched
        values[canon] = value
        written[canon] = key
    return values, written


@dataclass(frozen=True)
class FileSpec:
    path: str
    key: str = "FPATH"

    @property
    def is_glob(self) -> bool:
        return any(c in self.path.rsplit("/", 1)[-1] for c in GLOB_CHARS)

    @property
    def directory(self) -> str:
        """The directory whose entries decide (the parent of the target)."""
        head = self.path.rstrip("/").rsplit("/", 1)[0]
        return head or "/"

    def matches(self, entry_path: str) -> bool:
        if self.is_glob:
            return fnmatch.fnmatchcase(entry_path, self.path)
        return entry_path.rstrip("/") == self.path.rstrip("/")

    def event_env(self, found: str | None = None) -> list[str]:
        return [f"{self.key}={found or self.path}"]


@dataclass(frozen=True)
class SocketSpec:
    proto: str                   # inet | inet6 | unix
    port: int | None = None
    addr: str | None = None      # normalised address literal, None: any
    path: str | None = None      # unix: as written, `@` = abstract
    keys: tuple[tuple[str, str], ...] = ()   # (canonical, as written) for event_env

    def event_env(self) -> list[str]:
        written = dict(self.keys)
        out = [f"{written.get('PROTO', 'PROTO')}={self.proto}"]
        if self.proto == "unix":
            out.append(f"{written.get('PATH', 'PATH')}={self.path}")
            return out
        out.append(f"{written.get('PORT', 'PORT')}={self.port}")
        if self.addr is not None:
            out.append(f"{written.get('ADDR', 'ADDR')}={self.addr}")
        return out

    def accepts(self, addr: str, port: int) -> bool:
        """Does a listener on (addr, port) serve this spec? A wildcard
        listener serves every address of its family."""
        if port != self.port:
            return False
        if self.addr is None:
            return True
        try:
            listen = ipaddress.ip_address(addr)
        except ValueError:
            return False
        return listen.is_unspecified or listen == ipaddress.ip_address(self.addr)

    def accepts_unix(self, name: str, abstract: bool) -> bool:
        assert self.path is not None
        want_abstract = self.path.startswith("@")
        want = self.path[1:] if want_abstract else self.path
        return abstract == want_abstract and name == want


@dataclass(frozen=True)
class DbusSpec:
    name: str
    bus: str                     # system | session
    keys: tuple[tuple[str, str], ...] = ()

    def event_env(self) -> list[str]:
        written = dict(self.keys)
        return [f"{written.get('NAME', 'NAME')}={self.name}",
                f"{written.get('BUS', 'BUS')}={self.bus}"]


Spec = FileSpec | SocketSpec | DbusSpec


def parse_file(args: tuple[str, ...]) -> FileSpec | str:
    got = _split(args, ("FPATH",), {"FILE": "FPATH"})
    if isinstance(got, str):
        return got
    values, written = got
    path = values.get("FPATH", "")
    if not path.startswith("/"):
        return f"file needs an absolute FPATH: {path!r}"
    return FileSpec(path, written["FPATH"])


def parse_socket(args: tuple[str, ...]) -> SocketSpec | str:
    got = _split(args, ("PROTO", "PORT", "ADDR", "PATH"), {"SOCKET_PATH": "PATH"})
    if isinstance(got, str):
        return got
    values, written = got
    proto = values.get("PROTO", "")
    keys = tuple(sorted(written.items()))
    if proto == "unix":
        path = values.get("PATH") or values.get("PORT")   # positional: `socket unix /p`
        if "PATH" not in values and "PORT" in values:
            keys = tuple((k if k != "PORT" else "PATH", v if k != "PORT" else "PATH")
                         for k, v in keys)
        if not path or not (path.startswith("/") or path.startswith("@")):
            return f"socket PROTO=unix needs PATH=/path or PATH=@abstract: {path!r}"
        return SocketSpec("unix", path=path, keys=keys)
    if proto not in ("inet", "inet6"):
        return f"socket PROTO must be inet, inet6 or unix: {proto!r}"
    port_text = values.get("PORT", "")
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        return f"socket needs PORT=1..65535: {port_text!r}"
    addr = values.get("ADDR")
    if addr is not None:
        try:
            ip = ipaddress.ip_address(addr)
        except ValueError:
            return f"socket ADDR is not an address: {addr!r}"
        if (ip.version == 6) != (proto == "inet6"):
            return f"socket ADDR {addr} is not an {proto} address"
    return SocketSpec(proto, port=int(port_text), addr=addr, keys=keys)


def parse_dbus(args: tuple[str, ...], default_bus: str) -> DbusSpec | str:
    got = _split(args, ("NAME", "BUS"), {})
    if isinstance(got, str):
        return got
    values, written = got
    name = values.get("NAME", "")
    if not name or name.startswith(":") or "." not in name or len(name) > 255:
        return f"dbus needs a well-known NAME=org.example.Name: {name!r}"
    bus = values.get("BUS", default_bus)
    if bus not in ("system", "session"):
        return f"dbus BUS must be system or session: {bus!r}"
    return DbusSpec(name, bus, tuple(sorted(written.items())))


def parse_leaf(name: str, args: tuple[str, ...], *, session_init: bool) -> Spec | str:
    """A spec for one watched leaf, or the reason it cannot be watched."""
    if name == "file":
        return parse_file(args)
    if name == "socket":
        return parse_socket(args)
    if name == "dbus":
        return parse_dbus(args, "session" if session_init else "system")
    return f"not a watched source: {name}"


__all__ = ["FileSpec", "SocketSpec", "DbusSpec", "Spec", "parse_leaf",
           "parse_file", "parse_socket", "parse_dbus"]
