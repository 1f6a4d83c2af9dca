"""D-Bus server addresses: `unix:abstract=NAME`, `unix:path=FILE`.

Parses an address string (first usable entry of a `;`-separated list,
`%XX` unescaped, extra keys such as `guid=` ignored) into the value a
`socket.AF_UNIX` socket binds or connects to: a str path, or bytes starting
with NUL for the abstract namespace. Also gives the text libdbus shows for
the socket in error messages. Pure and import-light (used by initctl).
"""

# no `from __future__ import annotations`: on initctl's start path it is an import
# (of __future__) like any other (issue #23); annotations here are Python 3.11 syntax

SYSTEM_PRIVATE = "unix:abstract=/com/ubuntu/upstart"
SYSTEM_BUS_DEFAULT = "unix:path=/var/run/dbus/system_bus_socket"


class AddressError(ValueError):
    pass


def session_address(uid: int, pid: int) -> str:
    return "unix:abstract=/com/ubuntu/upstart-session/%d/%d" % (uid, pid)


def _unescape(value: str) -> str:
    if "%" not in value:
        return value
    out = bytearray()
    i = 0
    raw = value.encode("utf-8")
    while i < len(raw):
        if raw[i] == 0x25 and i + 2 < len(raw):
            try:
                out.append(int(raw[i + 1:i + 3].decode("ascii"), 16))
            except ValueError as exc:
                raise AddressError("bad escape in address: %r" % value) from exc
            i += 3
        else:
            out.append(raw[i])
            i += 1
    return out.decode("utf-8", "surrogateescape")


def parse(address: str) -> tuple[str | bytes, str]:
    """Return (sockaddr, display) for the first unix entry of `address`.

    `display` is the name libdbus prints: the abstract name or the path.
    """
    for entry in address.split(";"):
        if not entry:
            continue
        transport, _, rest = entry.partition(":")
        if transport != "unix":
            continue
        keys = {}
        for kv in rest.split(","):
            if not kv:
                continue
            k, sep, v = kv.partition("=")
            if not sep:
                raise AddressError("bad address entry: %r" % entry)
            keys[k] = _unescape(v)
        if "abstract" in keys:
            name = keys["abstract"]
            return b"\0" + name.encode("utf-8", "surrogateescape"), name
        if "path" in keys:
            return keys["path"], keys["path"]
        raise AddressError("unix address needs path= or abstract=: %r" % entry)
    raise AddressError("no usable address in %r" % address)
