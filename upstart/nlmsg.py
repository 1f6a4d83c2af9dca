"""Netlink messages: the header every netlink family shares, and the walk
over the messages of one datagram.

Written once for the two readers that walk datagrams: the readiness
probe's sock_diag replies (`readiness/sockdiag.py`) and the udev bridge's
rtnetlink link messages (`bridges/rtnl.py`); each reads its own bodies.
Pure: bytes in, tuples out, `struct` only (docs/design/netlink.md).
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

NLMSG_ERROR, NLMSG_DONE = 2, 3
HEADER = struct.Struct("=IHHII")          # len, type, flags, seq, pid
ERRNO = struct.Struct("=i")               # the first field of an NLMSG_ERROR body


def align(n: int) -> int:
    """Netlink's 4-byte alignment (NLMSG_ALIGN, NLA_ALIGN)."""
    return (n + 3) & ~3


def walk(data) -> Iterator[tuple[int, int, int, int, int]]:
    """(type, flags, seq, body, end) of each message of one datagram, in
    order (`body`..`end`: the message's bytes after its header). A message
    shorter than a header or longer than what is left ends the walk: the
    rest of a damaged datagram is never read."""
    pos, n = 0, len(data)
    while pos + HEADER.size <= n:
        length, kind, flags, seq, _pid = HEADER.unpack_from(data, pos)
        end = pos + length
        if length < HEADER.size or end > n:
            return
        yield kind, flags, seq, pos + HEADER.size, end
        pos += align(length)
