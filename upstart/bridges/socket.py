"""upstart-socket-bridge: listening sockets → `socket` events (spec 06 §3).

For every socket some job waits for (see `sockspec`), the bridge creates,
binds and listens on it (`SO_REUSEADDR`, `IPV6_V6ONLY` for inet6, backlog
SOMAXCONN; a stale unix socket file is replaced). When a connection is
pending it emits `socket` with `EmitEventWithFile(..., wait=true,
fd=<listening socket>)`, so the started job inherits the listening socket
(listed in `UPSTART_FDS`) and must accept() itself. While that call is
outstanding the socket is not watched (one emit per socket at a time);
after an error reply it stays quiet for a second, and it never emits more
than twice a second per socket, so a job that dies without accepting
cannot make the bridge spin. Sockets stay open while any job asks for them and
keep listening after the job stops. Exits when init disconnects.

Two more kinds (see `sockspec`): a datagram socket (`TYPE=dgram`) is bound
and passed like a listening one when a datagram waits; an accepting socket
(`ACCEPT=y`, inetd style) is accepted by the bridge, and each connection
becomes its own `socket` event, not waited for, carrying the connected
socket and who is at the other end (`REMOTE_ADDR`/`REMOTE_PORT`, or
`REMOTE_PID`/`REMOTE_UID`/`REMOTE_GID` for unix) and `CONNECTION=<n>`, a
counter a job can use as its instance name. At most `MAX_ACCEPTED` of those
emits are outstanding; beyond that the bridge stops accepting and the kernel's
backlog holds the clients.
"""

from __future__ import annotations

import os
import socket
import stat

from upstart.bridges import common, sockspec
from upstart.bridges.jobs import JobWatcher
from upstart.reactor.loop import get_running_loop

PROG = "upstart-socket-bridge"
RETRY_DELAY = 1.0          # quiet time after an error reply
MIN_INTERVAL = 0.5         # at most two emits per second per socket
MAX_ACCEPTED = 32          # ACCEPT=y: connection emits outstanding at once


class Listener:
    def __init__(self, spec: sockspec.SocketSpec, sock: socket.socket):
        self.spec = spec
        self.sock = sock
        self.watching = False
        self.closed = False
        self.last_emit = float("-inf")
        self.outstanding = 0       # ACCEPT=y: emits not answered yet


def open_socket(spec: sockspec.SocketSpec) -> socket.socket:
    """Create, bind and listen; raises OSError (with the failing step)."""
    sock = socket.socket(spec.family, spec.socktype)
    try:
        step = "create"
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if spec.proto == "inet6":
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        if spec.proto == "unix" and not spec.path.startswith("@"):
            try:
                if stat.S_ISSOCK(os.lstat(spec.path).st_mode):
                    os.unlink(spec.path)
            except OSError:
                pass
        step = "bind"
        sock.bind(spec.sockaddr)
        if spec.mode is not None:
            step = "chmod"
            os.chmod(spec.path, int(spec.mode, 8))
        if not spec.dgram:
            step = "listen"
            sock.listen(socket.SOMAXCONN)
        if spec.accepting:
            sock.setblocking(False)     # the bridge accepts; no job inherits it
    except OSError as exc:
        sock.close()
        exc.step = step
        raise
    return sock


class SocketBridge:
    def __init__(self, link, log):
        self.link = link
        self.log = log
        self.loop = get_running_loop()
        self.by_job: dict[str, set[sockspec.SocketSpec]] = {}
        self.listeners: dict[sockspec.SocketSpec, Listener] = {}
        self.connections = 0       # ACCEPT=y: the CONNECTION counter

    def on_job_change(self, path: str, name: str, leaves) -> None:
        specs = set()
        for args in leaves:
            spec = sockspec.parse_socket(name, args)
            if isinstance(spec, str):
                self.log.warn(spec)
                continue
            if spec.proto == "unix" and any(a.startswith("PATH=") for a in args):
                self.log.warn("socket event in %s uses PATH=; the event carries "
                              "SOCKET_PATH=, match on that" % name)
            specs.add(spec)
            if spec not in self.listeners:
                self._open(name, spec)
        if specs:
            self.by_job[path] = specs
        else:
            self.by_job.pop(path, None)
        wanted = set().union(*self.by_job.values()) if self.by_job else set()
        for spec in set(self.listeners) - wanted:
            self._close(self.listeners.pop(spec))

    def _open(self, job: str, spec: sockspec.SocketSpec) -> None:
        try:
            sock = open_socket(spec)
        except OSError as exc:
            self.log.warn("Failed to %s socket in %s: %s"
                          % (getattr(exc, "step", "create"), job, exc.strerror or exc))
            return
        listener = self.listeners[spec] = Listener(spec, sock)
        self._watch(listener)
        self.log.info("Listening on %s for %s" % (spec.describe(), job))

    def _watch(self, listener: Listener) -> None:
        if listener.closed or listener.watching:
            return
        listener.watching = True
        self.loop.add_reader(listener.sock.fileno(), self._ready, listener)

    def _ready(self, listener: Listener) -> None:
        if listener.spec.accepting:
            self._accept(listener)
            return
        self.loop.remove_reader(listener.sock.fileno())
        listener.watching = False
        wait = listener.last_emit + MIN_INTERVAL - self.loop.time()
        if wait > 0:                 # a job that dies without accepting: no spin
            self.loop.call_later(wait, self._watch, listener)
            return
        listener.last_emit = self.loop.time()
        fut = self.link.emit(sockspec.EVENT, listener.spec.event_env(), wait=True,
                             fd=listener.sock.fileno())
        fut.add_done_callback(lambda f: self._emitted(listener, f))

    def _emitted(self, listener: Listener, fut) -> None:
        exc = fut.exception()
        if exc is None:
            self._watch(listener)
            return
        self.log.warn("%s: %s" % (listener.spec.describe(), getattr(exc, "message", exc)))
        self.loop.call_later(RETRY_DELAY, self._watch, listener)

    def _accept(self, listener: Listener) -> None:
        """ACCEPT=y: one event per connection, with the connected socket."""
        try:
            conn, peer = listener.sock.accept()
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:           # e.g. EMFILE: pause rather than spin
            self.log.warn("%s: accept: %s" % (listener.spec.describe(), exc.strerror or exc))
            self._pause(listener, RETRY_DELAY)
            return
        conn.setblocking(True)
        self.connections += 1
        env = listener.spec.event_env() + remote_env(listener.spec, conn, peer) + [
            "CONNECTION=%d" % self.connections]
        listener.outstanding += 1
        if listener.outstanding >= MAX_ACCEPTED:
            self._pause(listener, None)
        fut = self.link.emit(sockspec.EVENT, env, wait=False, fd=conn.fileno())
        fut.add_done_callback(lambda f: self._accepted(listener, conn, f))

    def _accepted(self, listener: Listener, conn: socket.socket, fut) -> None:
        conn.close()                     # init holds its own copy now (or refused it)
        listener.outstanding -= 1
        exc = fut.exception()
        if exc is not None:
            self.log.warn("%s: %s" % (listener.spec.describe(), getattr(exc, "message", exc)))
        if listener.outstanding < MAX_ACCEPTED and not listener.watching:
            self._watch(listener)

    def _pause(self, listener: Listener, delay: float | None) -> None:
        if listener.watching:
            self.loop.remove_reader(listener.sock.fileno())
            listener.watching = False
        if delay is not None:
            self.loop.call_later(delay, self._watch, listener)

    def _close(self, listener: Listener) -> None:
        listener.closed = True
        if listener.watching:
            self.loop.remove_reader(listener.sock.fileno())
        path = listener.spec.path
        listener.sock.close()
        if listener.spec.proto == "unix" and path and not path.startswith("@"):
            try:
                os.unlink(path)
            except OSError:
                pass

    def close(self) -> None:
        for listener in self.listeners.values():
            self._close(listener)
        self.listeners.clear()


def remote_env(spec: sockspec.SocketSpec, conn: socket.socket, peer) -> list[str]:
    """Who connected: address and port, or the unix peer's credentials."""
    if spec.proto != "unix":
        return ["REMOTE_ADDR=%s" % peer[0], "REMOTE_PORT=%d" % peer[1]]
    import struct
    try:
        creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    except OSError:
        return []
    pid, uid, gid = struct.unpack("3i", creds)
    return ["REMOTE_PID=%d" % pid, "REMOTE_UID=%d" % uid, "REMOTE_GID=%d" % gid]


async def serve(opts, log) -> int:
    link = common.connect_init(PROG, opts.user, log, unix_fd=True)
    bridge = SocketBridge(link, log)
    watcher = JobWatcher(link, sockspec.EVENT, bridge.on_job_change, log)
    await watcher.start()
    if opts.daemon:
        common.daemonise()
    try:
        await link.closed
    finally:
        bridge.close()
    log.warn("Disconnected from Upstart")
    return 1


def main(argv: list[str] | None = None) -> int:
    return common.main(PROG, "Bridge socket events into upstart", serve, argv)


if __name__ == "__main__":
    raise SystemExit(main())
