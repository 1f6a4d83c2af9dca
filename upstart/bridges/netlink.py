"""The udev bridge's link watch: rtnetlink link messages → `linkstate` events.

udev has no event for a network link going up or down (a net device only
gets `add`, `remove`, `move` and the odd `change`), so `net-device-up` and
`net-device-down` come from the kernel's rtnetlink `RTMGRP_LINK` group,
which reports every change of a link's flags. This lives next to the udev
bridge, in its process, rather than in a bridge of its own: the udev bridge
is the system's device bridge, its stock job already runs from early boot,
and one more supervised process would buy nothing. The udev bridge opens the
watch the first time some job waits for either event (`udev.LinkEvents`).

`start()` joins the group first, then dumps every link (`RTM_GETLINK`) on a
second, short-lived socket and hands the dump to `linkstate.resync`: links
already up when the watch starts produce `net-device-up` then. Messages
queued during the dump are applied after it (at worst a spurious up/down
pair, never a wrong final state). A dump the kernel marks interrupted is
taken again. Lost messages (`ENOBUFS`: the receive queue overflowed) are
repaired by emptying the queue, unread (the kernel drops every message
silently until then, and the queued ones are older than the dropped ones),
then taking a new dump.

The socket I/O is ours (non-blocking, on the bridge's reactor); `rtnl`
builds the dump request and parses the messages (it replaced pyroute2,
whose import cost ~13 MB and 100-200 ms of CPU at the bridge's start). Owns the group
socket and the link table; never decides whether an event is wanted (the
`emit` callback does).
"""

from __future__ import annotations

import errno
import socket
from collections.abc import Callable

from upstart.bridges import linkstate, rtnl

NETLINK_ROUTE = 0
RTMGRP_LINK = 0x1
NLM_F_DUMP_INTR = 0x10
RCVBUF = 1 << 20
RECV_SIZE = 1 << 17
DUMP_TRIES = 5


def _route_socket(flags: int = 0) -> socket.socket:
    return socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC | flags,
                         NETLINK_ROUTE)


class LinkWatch:
    def __init__(self, emit: Callable[[str, list[str]], None], log,
                 clean: Callable[[str], str] = lambda s: s):
        self.emit = emit
        self.log = log
        self.clean = clean
        self.table: dict[int, linkstate.LinkState] = {}
        self.sock: socket.socket | None = None
        self.loop = None
        self._seq = 0

    # ----------------------------------------------------------- life cycle

    def start(self, loop) -> None:
        """Join the link group, take the initial dump, start reading.

        Raises OSError (no rtnetlink).
        """
        sock = _route_socket(socket.SOCK_NONBLOCK)
        try:
            for opt in (getattr(socket, "SO_RCVBUFFORCE", 33), socket.SO_RCVBUF):
                try:
                    sock.setsockopt(socket.SOL_SOCKET, opt, RCVBUF)
                    break
                except OSError:
                    continue
            sock.bind((0, RTMGRP_LINK))
            self.sock = sock
            self.resync()
        except OSError:
            sock.close()
            self.sock = None
            raise
        self.loop = loop
        loop.add_reader(sock.fileno(), self.on_readable)

    def close(self) -> None:
        if self.sock is None:
            return
        if self.loop is not None:
            try:
                self.loop.remove_reader(self.sock.fileno())
            except (ValueError, OSError):
                pass
        self.sock.close()
        self.sock = None

    # ------------------------------------------------------------- reading

    def on_readable(self) -> None:
        while self.sock is not None:
            try:
                data = self.sock.recv(RECV_SIZE)
            except BlockingIOError:
                return
            except OSError as exc:
                if exc.errno == errno.ENOBUFS:
                    self.log.warn("Link messages were lost; reading every link again")
                    self._discard_queue()
                    self._resync_or_warn()
                    continue
                if exc.errno == errno.EINTR:
                    continue
                self.log.warn("Failed to receive link message: %s" % exc)
                return
            for msg in self.decode(data):
                self._send(linkstate.apply(self.table, msg))

    def _discard_queue(self) -> None:
        """Empty the receive queue: only that ends the kernel's overrun state.

        After an overflow the kernel drops every further message silently
        until the queue has been read empty, and what is queued is older
        than anything dropped; a dump taken before the queue is empty could
        be followed by a stale message and nothing newer.
        """
        while self.sock is not None:
            try:
                self.sock.recv(RECV_SIZE)
            except BlockingIOError:
                return
            except OSError as exc:
                if exc.errno not in (errno.ENOBUFS, errno.EINTR):
                    return

    def decode(self, data: bytes) -> list[linkstate.LinkMsg]:
        """The link messages in one netlink datagram."""
        return [m for m in map(self._link_msg, rtnl.parse(data)) if m is not None]

    def _link_msg(self, msg: rtnl.Message) -> linkstate.LinkMsg | None:
        if msg.type not in (rtnl.RTM_NEWLINK, rtnl.RTM_DELLINK):
            return None
        return linkstate.LinkMsg(index=msg.index,
                                 name=self.clean(msg.name) if msg.name else None,
                                 flags=msg.ifflags, deleted=msg.type == rtnl.RTM_DELLINK,
                                 family=msg.family)

    # ---------------------------------------------------------------- dumps

    def resync(self) -> None:
        """Reconcile the table with a fresh dump of every link; raises OSError."""
        self.table, events = linkstate.resync(self.table, self.dump())
        self._send(events)

    def _resync_or_warn(self) -> None:
        try:
            self.resync()
        except OSError as exc:
            self.log.warn("Failed to read the network links: %s" % exc)

    def dump(self) -> list[linkstate.LinkMsg]:
        """Every link, by a RTM_GETLINK dump (retried while interrupted)."""
        for _ in range(DUMP_TRIES):
            links, interrupted = self._dump_once()
            if not interrupted:
                return links
        return links

    def _dump_once(self) -> tuple[list[linkstate.LinkMsg], bool]:
        self._seq += 1
        links: list[linkstate.LinkMsg] = []
        interrupted = False
        with _route_socket() as sock:        # blocking: the kernel answers a dump at once
            sock.bind((0, 0))
            sock.send(rtnl.getlink_dump(self._seq, socket.AF_UNSPEC))
            while True:
                data = sock.recv(RECV_SIZE)
                if not data:
                    raise OSError(errno.EIO, "link dump ended early")
                for msg in rtnl.parse(data):
                    if msg.seq != self._seq:
                        continue
                    if msg.flags & NLM_F_DUMP_INTR:
                        interrupted = True
                    if msg.type == rtnl.NLMSG_DONE:
                        return links, interrupted
                    if msg.type == rtnl.NLMSG_ERROR:
                        code = abs(msg.error) or errno.EIO
                        raise OSError(code, "link dump refused: %s" % errno.errorcode.get(
                            code, code))
                    link = self._link_msg(msg)
                    if link is not None and not link.deleted:
                        links.append(link)

    # -------------------------------------------------------------- emitting

    def _send(self, events: list[linkstate.Event]) -> None:
        for event in events:
            self.log.debug("%s %s" % (event.name, " ".join(event.env)))
            self.emit(event.name, event.env)
