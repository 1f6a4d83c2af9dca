"""rtnetlink link messages for the link watch, without pyroute2.

`netlink.LinkWatch` needs three things from the kernel's route netlink:
the `RTM_GETLINK` dump request, and of the datagrams it reads the netlink
header of each message (type, flags, sequence number), the error code of
`NLMSG_ERROR`, and of `RTM_NEWLINK` / `RTM_DELLINK` the `ifinfomsg` fields
and the `IFLA_IFNAME` attribute. Those are fixed C structs (linux/netlink.h,
linux/rtnetlink.h, linux/if_link.h) in the host's byte order, read here with
`struct`. pyroute2 did this before; importing it cost the udev bridge
~13 MB and 100-200 ms of CPU at start (seconds under emulation, in a boot:
issue #21). Pure: bytes in, tuples out; owns no socket.
"""

from __future__ import annotations

import struct
from typing import NamedTuple

from upstart.nlmsg import ERRNO as _ERRNO
from upstart.nlmsg import HEADER as _NLMSGHDR
from upstart.nlmsg import NLMSG_DONE as NLMSG_DONE      # re-exported: the readers stop on it
from upstart.nlmsg import NLMSG_ERROR as NLMSG_ERROR
from upstart.nlmsg import walk
from upstart.nlmsg import align as _align

RTM_NEWLINK, RTM_DELLINK, RTM_GETLINK = 16, 17, 18
NLM_F_REQUEST, NLM_F_DUMP = 0x1, 0x300
IFLA_IFNAME = 3
NLA_TYPE_MASK = 0x3FFF            # without NLA_F_NESTED and NLA_F_NET_BYTEORDER

_IFINFOMSG = struct.Struct("=BxHiII")     # family, (pad), type, index, flags, change
_RTATTR = struct.Struct("=HH")            # len, type


class Message(NamedTuple):
    """One netlink message: header fields, then what a link watch reads."""
    type: int
    flags: int
    seq: int
    error: int = 0                 # NLMSG_ERROR: the (negative) errno, 0 for an ack
    family: int = 0                # RTM_NEWLINK / RTM_DELLINK: ifinfomsg
    index: int = 0
    ifflags: int = 0
    name: str | None = None        # IFLA_IFNAME



def _ifname(data, pos: int, end: int) -> str | None:
    while pos + 4 <= end:
        length, kind = _RTATTR.unpack_from(data, pos)
        if length < 4 or pos + length > end:
            return None
        if kind & NLA_TYPE_MASK == IFLA_IFNAME:
            raw = bytes(data[pos + 4:pos + length]).split(b"\0", 1)[0]
            return raw.decode("utf-8", "surrogateescape")
        pos += _align(length)
    return None


def parse(data) -> list[Message]:
    """The messages of one datagram (a truncated tail is ignored)."""
    out: list[Message] = []
    for kind, flags, seq, body, end in walk(data):
        if kind == NLMSG_ERROR and end - body >= 4:
            out.append(Message(kind, flags, seq, error=_ERRNO.unpack_from(data, body)[0]))
        elif kind in (RTM_NEWLINK, RTM_DELLINK) and end - body >= _IFINFOMSG.size:
            family, _type, index, ifflags, _change = _IFINFOMSG.unpack_from(data, body)
            out.append(Message(kind, flags, seq, family=family, index=index, ifflags=ifflags,
                               name=_ifname(data, body + _IFINFOMSG.size, end)))
        else:
            out.append(Message(kind, flags, seq))
    return out


def getlink_dump(seq: int, family: int = 0) -> bytes:
    """An `RTM_GETLINK` dump request (every link)."""
    size = _NLMSGHDR.size + _IFINFOMSG.size
    return (_NLMSGHDR.pack(size, RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, seq, 0)
            + _IFINFOMSG.pack(family, 0, 0, 0, 0))
