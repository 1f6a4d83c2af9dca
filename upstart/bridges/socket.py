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
"""

from __future__ import annotations

import asyncio
import os
import socket
import stat

from upstart.bridges import common, sockspec
from upstart.bridges.jobs import JobWatcher

PROG = "upstart-socket-bridge"
RETRY_DELAY = 1.0          # quiet time after an error reply
MIN_INTERVAL = 0.5         # at most two emits per second per socket


class Listener:
    def __init__(self, spec: sockspec.SocketSpec, sock: socket.socket):
        self.spec = spec
        self.sock = sock
        self.watching = False
        self.closed = False
        self.last_emit = float("-inf")


def open_socket(spec: sockspec.SocketSpec) -> socket.socket:
    """Create, bind and listen; raises OSError (with the failing step)."""
    sock = socket.socket(spec.family, socket.SOCK_STREAM)
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
        step = "listen"
        sock.listen(socket.SOMAXCONN)
    except OSError as exc:
        sock.close()
        exc.step = step
        raise
    return sock


class SocketBridge:
    def __init__(self, link, log):
        self.link = link
        self.log = log
        self.loop = asyncio.get_running_loop()
        self.by_job: dict[str, set[sockspec.SocketSpec]] = {}
        self.listeners: dict[sockspec.SocketSpec, Listener] = {}

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
    p = common.parser(PROG, "Bridge socket events into upstart")
    opts = p.parse_args(argv)
    log = common.Log(PROG, opts.verbose or opts.debug)
    return common.run(PROG, lambda: serve(opts, log))


if __name__ == "__main__":
    raise SystemExit(main())
