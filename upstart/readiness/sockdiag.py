"""sock_diag netlink messages for the socket source, without pyroute2.

The socket source (`socketsrc.DiagProbe`) asks the kernel for its listening
sockets of one family with a `NETLINK_SOCK_DIAG` dump: a `unix_diag_req`
(linux/unix_diag.h) or an `inet_diag_req_v2` (linux/inet_diag.h), and reads
of each answer the netlink header (type, sequence number), the error code of
`NLMSG_ERROR`, and of the sockets: for unix the inode and the
`UNIX_DIAG_NAME` / `UNIX_DIAG_VFS` attributes; for TCP the local address and
port, the inode and the owner's uid. Those are fixed C structs in the host's
byte order (ports and addresses in network order), read here with `struct`.

pyroute2 did this before; importing it cost PID 1 87 ms, 225 modules and
16.5 MB at the first socket watch (1.1 ms and 2 modules now), ~2 s under
emulation in a Debian boot, while udev started (issue #21;
docs/design/netlink.md). The unit tests keep pyroute2 as the reference: the
request bytes and the parsed fields of real dumps must be the same.

Pure: bytes in, tuples out; owns no socket. A short or malformed message
ends the reading of its datagram, an unknown attribute is skipped: nothing
here raises on the kernel's bytes.
"""

from __future__ import annotations

import errno
import os
import socket
import struct
from typing import NamedTuple

from upstart.nlmsg import ERRNO as _ERRNO
from upstart.nlmsg import HEADER as _NLMSGHDR
from upstart.nlmsg import NLMSG_DONE as NLMSG_DONE      # re-exported: the readers stop on it
from upstart.nlmsg import NLMSG_ERROR as NLMSG_ERROR
from upstart.nlmsg import walk
from upstart.nlmsg import align as _align

SOCK_DIAG_BY_FAMILY = 20
NLM_F_REQUEST, NLM_F_ROOT, NLM_F_MATCH = 0x1, 0x100, 0x200
DUMP_FLAGS = NLM_F_REQUEST | NLM_F_ROOT | NLM_F_MATCH
SS_LISTEN = 10
UDIAG_SHOW_NAME, UDIAG_SHOW_VFS = 0x01, 0x02
UNIX_DIAG_NAME, UNIX_DIAG_VFS = 0, 1
NLA_TYPE_MASK = 0x3FFF            # without NLA_F_NESTED and NLA_F_NET_BYTEORDER

_UNIX_REQ = struct.Struct("=BBxxIIIQ")       # family, protocol, states, ino, show, cookie
_INET_REQ = struct.Struct("=BBBxI")          # family, protocol, ext, states; then the id
_INET_ID = struct.Struct(">HH16s16s")        # sport, dport, src, dst (network order)
_INET_ID_END = struct.Struct("=IQ")          # interface, cookie
_UNIX_MSG = struct.Struct("=BBBxIQ")         # family, type, state, ino, cookie
_INET_MSG = struct.Struct("=BBBB")           # family, state, timer, retrans; then the id
_INET_MSG_END = struct.Struct("=IQIIIII")    # if, cookie, expires, rqueue, wqueue, uid, inode
_NLATTR = struct.Struct("=HH")               # len, type
_VFS = struct.Struct("=II")                  # ino, dev of the bound path


class UnixSock(NamedTuple):
    """A unix socket of the dump (`unix_diag_msg` and its attributes)."""
    ino: int
    type: int
    state: int
    name: str | None = None        # UNIX_DIAG_NAME: the path, or the abstract name
    abstract: bool = False         # the name began with a NUL (unix(7))
    vfs: tuple[int, int] | None = None   # UNIX_DIAG_VFS: (inode, device) of the path


class InetSock(NamedTuple):
    """A TCP socket of the dump (`inet_diag_msg`)."""
    family: int
    state: int
    src: str                       # local address, as inet_ntop writes it
    sport: int
    dst: str
    dport: int
    uid: int
    inode: int


class Message(NamedTuple):
    """One netlink message of a dump reply."""
    type: int
    flags: int
    seq: int
    error: int = 0                 # NLMSG_ERROR: the (negative) errno, 0 for an ack
    sock: UnixSock | InetSock | None = None



def _header(size: int, seq: int) -> bytes:
    return _NLMSGHDR.pack(_NLMSGHDR.size + size, SOCK_DIAG_BY_FAMILY, DUMP_FLAGS, seq, 0)


def unix_request(seq: int, states: int = 1 << SS_LISTEN,
                 show: int = UDIAG_SHOW_NAME | UDIAG_SHOW_VFS) -> bytes:
    """A dump request for the unix sockets in `states` (a bit mask of SS_*)."""
    return _header(_UNIX_REQ.size, seq) + _UNIX_REQ.pack(socket.AF_UNIX, 0, states, 0, show, 0)


def inet_request(seq: int, family: int, states: int = 1 << SS_LISTEN,
                 protocol: int = socket.IPPROTO_TCP) -> bytes:
    """A dump request for the `family` (AF_INET or AF_INET6) sockets of
    `protocol` in `states`, any address and port."""
    size = _INET_REQ.size + _INET_ID.size + _INET_ID_END.size
    return (_header(size, seq) + _INET_REQ.pack(family, protocol, 0, states)
            + _INET_ID.pack(0, 0, bytes(16), bytes(16)) + _INET_ID_END.pack(0, 0))


def _addr(family: int, raw: bytes) -> str:
    return socket.inet_ntop(family, raw[:4] if family == socket.AF_INET else raw)


def _inet(data, pos: int, end: int) -> InetSock | None:
    if end - pos < _INET_MSG.size + _INET_ID.size + _INET_MSG_END.size:
        return None
    family, state, _timer, _retrans = _INET_MSG.unpack_from(data, pos)
    pos += _INET_MSG.size
    sport, dport, src, dst = _INET_ID.unpack_from(data, pos)
    _if, _cookie, _expires, _rq, _wq, uid, inode = \
        _INET_MSG_END.unpack_from(data, pos + _INET_ID.size)
    return InetSock(family, state, _addr(family, src), sport, _addr(family, dst), dport,
                    uid, inode)


def _unix(data, pos: int, end: int) -> UnixSock | None:
    if end - pos < _UNIX_MSG.size:
        return None
    _family, kind, state, ino, _cookie = _UNIX_MSG.unpack_from(data, pos)
    name, abstract, vfs = None, False, None
    pos += _UNIX_MSG.size
    while pos + _NLATTR.size <= end:
        length, attr = _NLATTR.unpack_from(data, pos)
        if length < _NLATTR.size or pos + length > end:
            break
        value = bytes(data[pos + _NLATTR.size:pos + length])
        attr &= NLA_TYPE_MASK
        if attr == UNIX_DIAG_NAME:
            abstract = value[:1] == b"\0"
            raw = value[1:] if abstract else value.split(b"\0", 1)[0]
            name = os.fsdecode(raw)
        elif attr == UNIX_DIAG_VFS and len(value) >= _VFS.size:
            vfs = _VFS.unpack_from(value)
        pos += _align(length)
    return UnixSock(ino, kind, state, name, abstract, vfs)


def parse(data) -> list[Message]:
    """The messages of one datagram (a short or overlong message ends it)."""
    out: list[Message] = []
    for kind, flags, seq, body, end in walk(data):
        if kind == NLMSG_ERROR:
            error = _ERRNO.unpack_from(data, body)[0] if end - body >= 4 \
                else -errno.EPROTO
            out.append(Message(kind, flags, seq, error=error))
        elif kind == SOCK_DIAG_BY_FAMILY and end > body:
            family = data[body]
            sock = _unix(data, body, end) if family == socket.AF_UNIX else \
                _inet(data, body, end) if family in (socket.AF_INET, socket.AF_INET6) else None
            out.append(Message(kind, flags, seq, sock=sock))
        else:
            out.append(Message(kind, flags, seq))
    return out


__all__ = ["InetSock", "Message", "UnixSock", "inet_request", "parse", "unix_request"]
