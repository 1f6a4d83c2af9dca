"""The `socket` source: tell when the job's socket is listening.

A socket watch waits for a listening TCP socket on `PORT` (`ADDR`, or a
wildcard address of that family), or a listening unix socket at `PATH`,
owned by the job: the socket's inode must be open in one of the job's
processes (the pids the core gave, their descendants, or processes of the
sessions they lead -- jobs run in their own session). When the job's fds
cannot be read (another user's process), any listener counts.

How "listening" is learnt: a netlink `sock_diag` dump of the listening
sockets of one family, the messages built and read by `sockdiag.py` with
`struct` (pyroute2, used before, cost PID 1 87 ms, 225 modules and 16.5 MB
at the first socket watch, ~2 s under emulation: docs/design/netlink.md).
When to dump:

* TCP: the kernel's `inet_sock_set_state` tracepoint, through a tiny BPF
  program and ring buffer (`listenbpf.py`), wakes the loop at every
  listen(2) on the host; the TCP watches check at once and, if the socket
  is not in the table yet (the tracepoint fires just before it is hashed),
  1 ms later, then on the back-off below;
* a unix socket with a path: bind(2) creates the path; a file watch on it
  triggers the check the same way;
* otherwise, and as a safety net: a bounded back-off, 5 ms then x1.5 up to
  50 ms between checks (500 ms for TCP while listen events work), until
  ready or unwatched. Without BPF (an ordinary user's Session Init, a
  container forbidding bpf(2)) there is no other notification for listen(2):
  sock_diag multicasts only socket destruction, the proc connector reports
  fork/exec/exit but no socket calls. A dump of a few listeners costs
  ~0.04 ms, so a waiting watch costs ~0.1% of a CPU at the 50 ms cap.

docs/design/readiness.md "Sources" has the measured latencies.

Owns the diag socket (closed when the last watch goes), the timers and the
listen events (kept until `close()`).
Never connects to the watched socket (that would be a client of the
service), never blocks beyond one local netlink dump.
"""

from __future__ import annotations

import os
import socket as _socket
from collections.abc import Callable, Iterable

from upstart.readiness import sockdiag
from upstart.readiness.spec import FileSpec, SocketSpec

FIRST_DELAY = 0.005
GROWTH = 1.5
MAX_DELAY = 0.05
MAX_DELAY_WITH_EVENTS = 0.5       # TCP while listen events arrive: only a safety net
EVENT_DELAY = 0.001               # the second check after a listen event
NETLINK_SOCK_DIAG = 4
MAX_PARTS = 4096                  # datagrams of one dump (hundreds of sockets each): a bound


def next_delay(delay: float | None, cap: float = MAX_DELAY) -> float:
    """The back-off: 5 ms, then x1.5, never more than `cap` (50 ms)."""
    if delay is None:
        return FIRST_DELAY
    return min(cap, delay * GROWTH)


def inet_matches(spec: SocketSpec, rows: Iterable[tuple[str, int, int]]) -> list[int]:
    """Inodes of the listeners (addr, port, inode) that serve the spec."""
    return [ino for addr, port, ino in rows if spec.accepts(addr, port)]


def unix_matches(spec: SocketSpec, rows: Iterable[tuple[str, bool, int]]) -> list[int]:
    """Inodes of the unix listeners (name, abstract, inode) that serve the spec."""
    return [ino for name, abstract, ino in rows if spec.accepts_unix(name, abstract)]


# ------------------------------------------------------------ the job's sockets

def _children(pid: int) -> list[int]:
    out: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for t in tasks:
        try:
            with open(f"/proc/{pid}/task/{t}/children") as f:
                out += [int(k) for k in f.read().split()]
        except OSError:
            continue
    return out


def tree(pids: Iterable[int]) -> set[int]:
    """The pids and every live descendant."""
    seen: set[int] = set()
    todo = list(pids)
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.add(p)
        todo += _children(p)
    return seen


def session_members(sids: set[int]) -> set[int]:
    """Processes whose session is one of `sids` (orphans of the job are
    re-parented to init but keep the session)."""
    out: set[int] = set()
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                data = f.read()
        except OSError:
            continue
        fields = data[data.rfind(b")") + 2:].split()
        if len(fields) > 3 and int(fields[3]) in sids:
            out.add(int(name))
    return out


def socket_inodes(pids: Iterable[int]) -> tuple[set[int], bool]:
    """Socket inodes open in the processes; False if some fd table was unreadable."""
    inodes: set[int] = set()
    complete = True
    for pid in pids:
        d = f"/proc/{pid}/fd"
        try:
            names = os.listdir(d)
        except PermissionError:
            complete = False
            continue
        except OSError:
            continue
        for n in names:
            try:
                link = os.readlink(f"{d}/{n}")
            except OSError:
                continue
            if link.startswith("socket:["):
                inodes.add(int(link[8:-1]))
    return inodes, complete


def owned(candidates: list[int], pids: tuple[int, ...]) -> bool:
    """Is one of the listening inodes the job's? (see module doc)"""
    if not candidates:
        return False
    if not pids:
        return True
    procs = tree(pids)
    inodes, complete = socket_inodes(procs)
    if any(c in inodes for c in candidates):
        return True
    more, complete2 = socket_inodes(session_members(set(pids)) - procs)
    if any(c in more for c in candidates):
        return True
    return not (complete and complete2)


# ------------------------------------------------------------ the probe

class DiagProbe:
    """Listening sockets from the kernel: a NETLINK_SOCK_DIAG dump, the
    request built and the answer parsed by `sockdiag` (struct only). The
    kernel answers a dump synchronously: the first part is queued by the time
    `send` returns, each next one while the previous is read. So the socket is
    non-blocking, and a dump that stops without `NLMSG_DONE` (or an answer that
    cannot be read) is an error: the socket is closed, the next check opens a
    new one (no half-read dump is left in its queue)."""

    def __init__(self):
        self._nl: _socket.socket | None = None
        self._seq = 0

    def _query(self, request: Callable[[int], bytes]) -> list:
        if self._nl is None:
            nl = _socket.socket(_socket.AF_NETLINK, _socket.SOCK_DGRAM | _socket.SOCK_CLOEXEC
                                | _socket.SOCK_NONBLOCK, NETLINK_SOCK_DIAG)
            nl.bind((0, 0))
            self._nl = nl
        self._seq = self._seq % 0xFFFFFFFF + 1
        seq = self._seq
        try:
            self._nl.send(request(seq))
            out = []
            for _ in range(MAX_PARTS):
                try:
                    data = self._nl.recv(1 << 16)
                except BlockingIOError:
                    raise OSError("sock_diag dump ended without NLMSG_DONE") from None
                for msg in sockdiag.parse(data):
                    if msg.seq != seq:
                        continue
                    if msg.type == sockdiag.NLMSG_ERROR:
                        err = -msg.error
                        raise OSError(err, f"sock_diag dump refused: {os.strerror(err)}")
                    if msg.type == sockdiag.NLMSG_DONE:
                        return out
                    if msg.sock is not None:
                        out.append(msg.sock)
            raise OSError(f"sock_diag dump longer than {MAX_PARTS} parts")
        except BaseException:
            self.close()
            raise

    def listeners(self, spec: SocketSpec) -> list[int]:
        if spec.proto == "unix":
            socks = self._query(sockdiag.unix_request)
            return unix_matches(spec, [(s.name, s.abstract, s.ino) for s in socks
                                       if s.name is not None])
        family = _socket.AF_INET if spec.proto == "inet" else _socket.AF_INET6
        socks = self._query(lambda seq: sockdiag.inet_request(seq, family))
        return inet_matches(spec, [(s.src, s.sport, s.inode) for s in socks])

    def close(self) -> None:
        if self._nl is not None:
            self._nl.close()
            self._nl = None


class _Watch:
    __slots__ = ("spec", "pids", "fire", "delay", "handle", "warned", "soon")

    def __init__(self, spec: SocketSpec, pids: tuple[int, ...], fire: Callable[[], None]):
        self.spec = spec
        self.pids = pids
        self.fire = fire
        self.delay: float | None = None
        self.handle = None
        self.warned = False
        self.soon = False               # after a listen event: re-check 1 ms after a miss


class SocketWatcher:
    """Every socket watch of the readiness adapter."""

    def __init__(self, loop, log: Callable[[str, str], None], files=None, probe=None,
                 owner_check: Callable[[list[int], tuple[int, ...]], bool] = owned,
                 listen_events: Callable | None | bool = True, root: str = ""):
        self.loop = loop
        self.log = log
        self.files = files              # a FileWatcher, for unix path sockets
        self.root = root                # a chroot session's root: where those paths are
        self.probe = probe or DiagProbe()
        self.owner_check = owner_check
        self._watches: dict[object, _Watch] = {}
        self.checks = 0                 # dumps made (for tests and the bench)
        # listen events (listenbpf): True = try the BPF source at the first watch;
        # a factory(loop, callback) for tests; False/None = back-off only
        self._events_factory = listen_events
        self.events = None              # the open ListenEvents, if any

    def _start_events(self) -> None:
        factory = self._events_factory
        if not factory or self.events is not None:
            return
        self._events_factory = None     # one attempt
        if factory is True:
            from upstart.readiness.listenbpf import ListenEvents
            factory = ListenEvents
        events = factory(self.loop, self._listened)
        try:
            events.open()
        except OSError as exc:
            self.log("debug", f"readiness: no listen(2) events ({exc}); "
                              f"socket checks back off up to {MAX_DELAY * 1000:.0f} ms")
            return
        self.events = events

    def _listened(self) -> None:
        """Some TCP socket started listening: check the TCP watches shortly."""
        for key, watch in self._watches.items():
            if watch.spec.proto == "unix":
                continue
            if watch.handle is not None:
                watch.handle.cancel()
            watch.delay = None
            watch.soon = True
            watch.handle = self.loop.call_soon(self._check, key)

    def _cap(self, spec: SocketSpec) -> float:
        return MAX_DELAY_WITH_EVENTS if self.events is not None and spec.proto != "unix" \
            else MAX_DELAY

    def add(self, key: object, spec: SocketSpec, pids: tuple[int, ...],
            fire: Callable[[], None]) -> None:
        self.remove(key)
        if spec.proto != "unix":
            self._start_events()
        watch = _Watch(spec, tuple(pids), fire)
        self._watches[key] = watch
        if spec.proto == "unix" and spec.path and spec.path.startswith("/") and \
                self.files is not None:
            self.files.add(("socket-path", key), FileSpec(self.root + spec.path),
                           lambda _found, k=key: self.poke(k))
        self._check(key)

    def remove(self, key: object) -> None:
        watch = self._watches.pop(key, None)
        if watch is None:
            return
        if watch.handle is not None:
            watch.handle.cancel()
        if self.files is not None:
            self.files.remove(("socket-path", key))
        if not self._watches:
            self.probe.close()

    def keys(self) -> list[object]:
        return list(self._watches)

    def poke(self, key: object) -> None:
        """Something happened that may have made the socket listen: check now
        and restart the back-off from its shortest step."""
        watch = self._watches.get(key)
        if watch is None:
            return
        watch.delay = None
        self._check(key)

    def _check(self, key: object) -> None:
        watch = self._watches.get(key)
        if watch is None:
            return
        if watch.handle is not None:
            watch.handle.cancel()
            watch.handle = None
        self.checks += 1
        try:
            found = self.probe.listeners(watch.spec)
            ready = self.owner_check(found, watch.pids)
        except Exception as exc:   # noqa: BLE001 - e.g. no netlink in this container
            if not watch.warned:
                watch.warned = True
                self.log("warn", f"Unable to check socket "
                                 f"{' '.join(watch.spec.event_env())}: {exc}")
            ready = False
        if ready:
            self.remove(key)
            watch.fire()
            return
        if watch.soon:                  # the event may precede the socket's hashing
            watch.soon = False
            watch.handle = self.loop.call_later(EVENT_DELAY, self._check, key)
            return
        watch.delay = next_delay(watch.delay, self._cap(watch.spec))
        watch.handle = self.loop.call_later(watch.delay, self._check, key)

    def close(self) -> None:
        for key in list(self._watches):
            self.remove(key)
        self.probe.close()
        if self.events is not None:     # kept until now: a BPF link's release may wait
            self.events.close()
            self.events = None


__all__ = ["SocketWatcher", "DiagProbe", "next_delay", "inet_matches", "unix_matches",
           "owned", "tree", "socket_inodes"]
