"""upstart-local-bridge: `name=value` lines on a unix socket → events (spec 06 §6).

`upstart-local-bridge --event=NAME --path=PATH [--any-user]` listens on a
unix stream socket (`PATH` absolute, or `@name` for the abstract namespace)
and serves one client at a time: while a client is connected the listening
socket is not watched, so others wait in the kernel's backlog. Unless
`--any-user` is given, only a client whose credentials (SO_PEERCRED) carry
the bridge's own effective uid is served; any other is logged and dropped.

Each valid line the client sends becomes one `NAME` event (wait=false, never
coalesced: two equal lines are two requests). The fixed variables come
first and the client's pair last, so a client cannot spoof them (init
matches the first occurrence of a variable):

    SOCKET_TYPE=unix SOCKET_VARIANT=named|abstract CLIENT_UID= CLIENT_GID=
    CLIENT_PID= SOCKET_PATH=<PATH as given> <name=value>

The line rules are 1.13's (`pairs`): lines end at LF, one trailing CR is
dropped, lines shorter than two bytes, without `=` or starting with `=` are
ignored. Beyond 1.13: a line split across reads is joined before it is
judged, a line that is not UTF-8 or holds a NUL (D-Bus cannot carry either)
is ignored, a stale socket file left by a killed bridge is replaced, and
with `--any-user` a named socket is made connectable by everyone (0666).
A named socket is removed on exit. Exits when init goes away.
"""

from __future__ import annotations

import os
import socket
import stat
import struct

from upstart.bridges import common
from upstart.reactor.loop import get_running_loop

PROG = "upstart-local-bridge"
MAX_PATH = 108           # sizeof(sun_path)
MIN_LINE = 2             # the shortest pair is `a=`
MAX_LINE = 64 * 1024     # a client sending one endless line is cut off


def pairs(data: bytes) -> tuple[list[str], bytes]:
    """The valid `name=value` pairs in the complete lines of `data`, and
    the unfinished rest (pure)."""
    *lines, rest = data.split(b"\n")
    return [p for p in (valid_pair(line) for line in lines) if p is not None], rest


def valid_pair(line: bytes) -> str | None:
    """One line judged by 1.13's rules; None when it is to be ignored."""
    if len(line) < MIN_LINE or b"=" not in line or line.startswith(b"="):
        return None
    if line.endswith(b"\r"):
        line = line[:-1]
    if len(line) < MIN_LINE or b"\0" in line:
        return None
    try:
        return line.decode("utf-8")
    except UnicodeDecodeError:
        return None


def event_env(path: str, cred: tuple[int, int, int], pair: str) -> list[str]:
    """The event's environment: fixed variables first, the client's pair last."""
    pid, uid, gid = cred
    return ["SOCKET_TYPE=unix",
            "SOCKET_VARIANT=%s" % ("abstract" if path.startswith("@") else "named"),
            "CLIENT_UID=%d" % uid, "CLIENT_GID=%d" % gid, "CLIENT_PID=%d" % pid,
            "SOCKET_PATH=%s" % path, pair]


def check_path(path: str | None) -> None:
    """1.13's start-up checks of `--path`; BridgeError with its messages."""
    if not path:
        raise common.BridgeError("Must specify socket path")
    if path[0] not in "/@":
        raise common.BridgeError("Invalid path %s" % path)
    if len(path.encode()) > MAX_PATH:
        raise common.BridgeError("Path too long %s" % path)


def open_socket(path: str, any_user: bool) -> socket.socket:
    """Bind and listen on `path`; BridgeError naming the step that failed."""
    name = "unix:%s" % path
    address = "\0" + path[1:] if path.startswith("@") else path
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    step = "bind"
    try:
        if not path.startswith("@"):
            try:
                if stat.S_ISSOCK(os.lstat(path).st_mode) and not _listening(path):
                    os.unlink(path)              # left behind by a killed bridge
            except OSError:
                pass
        sock.bind(address)
        if any_user and not path.startswith("@"):
            step = "chmod"
            os.chmod(path, 0o666)
        step = "listen"
        sock.listen(socket.SOMAXCONN)
        sock.setblocking(False)
    except OSError as exc:
        sock.close()
        raise common.BridgeError("Failed to %s socket %s %s"
                                 % (step, name, exc.strerror or exc)) from None
    return sock


def _listening(path: str) -> bool:
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(path)
        return True
    except OSError:
        return False
    finally:
        probe.close()


def peer_credentials(conn: socket.socket) -> tuple[int, int, int]:
    """(pid, uid, gid) of the other end, from the kernel."""
    raw = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    return struct.unpack("3i", raw)


class LocalBridge:
    def __init__(self, init, listener: socket.socket, *, event: str, path: str,
                 any_user: bool, log):
        self.init = init
        self.listener = listener
        self.event = event
        self.path = path
        self.any_user = any_user
        self.log = log
        self.loop = get_running_loop()
        self.client: socket.socket | None = None
        self.cred = (0, 0, 0)
        self.buf = b""
        self._watch_listener()

    def _watch_listener(self) -> None:
        self.loop.add_reader(self.listener.fileno(), self._accept)

    def _accept(self) -> None:
        try:
            conn, _ = self.listener.accept()
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            self.log.warn("Failed to accept socket unix:%s %s" % (self.path, exc.strerror))
            return
        try:
            cred = peer_credentials(conn)
        except OSError as exc:
            self.log.warn("Cannot establish peer credentials for socket unix:%s: %s"
                          % (self.path, exc.strerror))
            conn.close()
            return
        pid, uid, gid = cred
        if not self.any_user and uid != os.geteuid():
            self.log.warn("Ignoring request from uid %d (gid %d, pid %d)" % (uid, gid, pid))
            conn.close()
            return
        self.log.debug("Client connected via local socket to unix:%s: pid %d (uid %d, gid %d)"
                       % (self.path, pid, uid, gid))
        conn.setblocking(False)
        self.client, self.cred, self.buf = conn, cred, b""
        self.loop.remove_reader(self.listener.fileno())     # one client at a time
        self.loop.add_reader(conn.fileno(), self._read)

    def _read(self) -> None:
        try:
            data = self.client.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self._emit_all(valid_pair(self.buf))       # a last line without LF
            self._close_client()
            return
        found, self.buf = pairs(self.buf + data)
        for pair in found:
            self._emit_all(pair)
        if len(self.buf) > MAX_LINE:
            self.log.warn("Line too long from pid %d; disconnecting" % self.cred[0])
            self._close_client()

    def _emit_all(self, pair: str | None) -> None:
        if pair is not None:
            self.init.emit(self.event, event_env(self.path, self.cred, pair), coalesce=False)

    def _close_client(self) -> None:
        self.log.debug("Remote end closed connection")
        self.loop.remove_reader(self.client.fileno())
        self.client.close()
        self.client, self.buf = None, b""
        self._watch_listener()

    def close(self) -> None:
        for sock in (self.client, self.listener):
            if sock is not None:
                try:
                    self.loop.remove_reader(sock.fileno())
                except (ValueError, OSError):
                    pass
                sock.close()
        if not self.path.startswith("@"):
            try:
                os.unlink(self.path)
            except OSError:
                pass


async def serve(opts, log) -> int:
    if not opts.event:
        raise common.BridgeError("Must specify event name")
    check_path(opts.path)
    listener = open_socket(opts.path, opts.any_user)
    log.debug("Connected to socket 'unix:%s' on fd %d" % (opts.path, listener.fileno()))
    try:
        init = common.connect_init(PROG, opts.user, log)
    except common.BridgeError:
        listener.close()
        if not opts.path.startswith("@"):
            os.unlink(opts.path)
        raise
    bridge = LocalBridge(init, listener, event=opts.event, path=opts.path,
                         any_user=opts.any_user, log=log)
    try:
        if opts.daemon:
            common.daemonise()
        await init.closed
        log.warn("Disconnected from Upstart")
        return 1
    finally:
        bridge.close()


def _options(p) -> None:
    p.add_argument("--event", metavar="EVENT",
                   help="specify name of event to emit on receipt of name=value pair")
    p.add_argument("--path", metavar="PATH",
                   help="specify path for local/abstract socket to use")
    p.add_argument("--any-user", action="store_true", help="allow any user to connect")


def main(argv: list[str] | None = None) -> int:
    return common.main(PROG, "Local socket Upstart Bridge", serve, argv, _options)


if __name__ == "__main__":
    raise SystemExit(main())
