"""The control server's transport: the listening socket and its connections.

Accepts clients on a unix socket, reads with non-blocking `recvmsg` (so
SCM_RIGHTS fds arrive with `EmitEventWithFile`), runs the SASL text phase
(`upstart.control.sasl`), frames binary messages (`wire.message_size`, read by
`upstart.control.codec`) and hands each to `_dispatch`, which the
server defines. Output is buffered per connection and flushed once per loop
turn (or with `add_writer` while the peer is slow).

Every client input is bounded (message size, pending fds, output backlog,
calls in flight, connections) and anything malformed drops that one client
only: a client never takes init down.

The listening socket can be inherited across a re-exec (`listen(..., fd=)`):
connections that arrive while the new init starts wait in its backlog
(docs/design/dbus.md, "Re-exec").
"""

from __future__ import annotations

import array
import os
import socket
import struct

from jeepney.low_level import (
    Endianness, Header, HeaderFields, Message, MessageFlag, MessageType,
)

from upstart.control import address as addr
from upstart.control.backend import Caller
from upstart.control.codec import fast_parse_call
from upstart.control.sasl import ANY_UID, SaslError, SaslServer
from upstart.control.wire import message_size

MAX_MESSAGE = 1 << 22          # 4 MiB: far above any legitimate request
MAX_PENDING_FDS = 64
MAX_FDS_PER_READ = 16
MAX_OUTPUT = 1 << 25           # 32 MiB of unsent output: the client is stuck
READ_SIZE = 65536
# output is coalesced: written to the socket once per loop turn, or at once when
# this much is waiting (perf: one send() per connection per turn, not per message)
FLUSH_AT = 1 << 18
MAX_CONNECTIONS = 512          # beyond this new clients are refused, not served badly
# hardening (issue #14): calls of one connection still being answered; at this
# many a private connection is not read any further until one is answered
# (back-pressure); a bus connection's extra calls are refused with LimitsExceeded
MAX_CALLS_IN_FLIGHT = 256
LIMITS_EXCEEDED = "org.freedesktop.DBus.Error.LimitsExceeded"
DBUS_MAX_MESSAGE = 1 << 27     # the protocol's own maximum; larger is garbage


class Connection:
    """One client: socket, SASL state, input/output buffers, serial counter."""

    __slots__ = ("sock", "fd", "caller", "sasl", "inbuf", "infds", "outbuf",
                 "serial", "closed", "writing", "unique_name", "bus", "pending",
                 "callers", "skip", "in_flight", "paused", "flush_soon", "scope",
                 "exec_closes", "global_view")

    def __init__(self, sock: socket.socket, caller: Caller, sasl: SaslServer):
        self.sock = sock
        self.fd = sock.fileno()
        self.caller = caller
        self.sasl = sasl
        self.inbuf = bytearray()
        self.infds: list[int] = []
        self.outbuf = bytearray()
        self.serial = 0
        self.closed = False
        self.writing = False
        self.unique_name = ""
        self.bus = None           # "system"/"session"/...: a message-bus connection
        self.pending: dict = {}   # serial of our own call → future (bus only)
        self.callers: dict = {}   # bus sender → Caller
        self.skip = 0             # hardening: bytes of a refused oversized message left
        self.in_flight = 0        # hardening: calls being answered asynchronously
        self.paused = False       # hardening: not read while too many are in flight
        self.flush_soon = False   # perf: a flush of outbuf is scheduled for this turn
        self.scope = None         # chroot sessions: (backend, root) of a private caller
        self.exec_closes = False  # re-exec: not handed over (the caller of Restart)
        self.global_view = False  # `initctl --global` (UseGlobalScope): global jobs

    def next_serial(self) -> int:
        self.serial = (self.serial % 0xFFFFFFFF) + 1
        return self.serial



class Transport:
    """Listening socket and connections; subclasses define `_dispatch`."""

    def __init__(self, address: str, *, loop=None,
                 allowed_uids=None, log=None):
        self.address = address
        self.loop = loop
        self.uid = os.getuid()
        if allowed_uids is ANY_UID:
            self.allowed_uids = ANY_UID
        else:
            self.allowed_uids = frozenset(allowed_uids) if allowed_uids is not None \
                else frozenset({self.uid})
        self.log = log                      # callable(priority, message) or None
        self.guid = os.urandom(16).hex()   # footprint: `uuid` imports `platform`
        self._sock: socket.socket | None = None
        self._path: str | None = None
        self._conns: dict[int, Connection] = {}
        self._exec_paused = False           # re-exec: not accepting or reading

    # ------------------------------------------------------------ lifecycle

    async def start(self, fd: int | None = None) -> None:
        """Bind and listen; raises OSError if the address is taken. `fd`: a
        listening socket inherited from the init that re-exec'd into us
        (bound to the same address): adopted as it is, its backlog kept."""
        if self.loop is None:          # not init (which passes its reactor): asyncio's
            import asyncio
            self.loop = asyncio.get_running_loop()
        sockaddr, _ = addr.parse(self.address)
        if fd is not None:
            try:
                sock = socket.socket(fileno=fd)
            except OSError as exc:   # not a socket after all: bind anew
                self._log("warn", "Unable to take over the control socket: %s" % exc)
            else:
                os.set_inheritable(fd, False)
                sock.setblocking(False)
                if isinstance(sockaddr, str):
                    self._path = sockaddr
                self._sock = sock
                self.loop.add_reader(sock.fileno(), self._accept)
                return
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        try:
            if isinstance(sockaddr, str):
                try:
                    if os.path.exists(sockaddr):
                        os.unlink(sockaddr)
                except OSError:
                    pass
                self._path = sockaddr
            sock.bind(sockaddr)
            sock.listen(128)
            sock.setblocking(False)
        except OSError:
            sock.close()
            raise
        self._sock = sock
        self.loop.add_reader(sock.fileno(), self._accept)

    def close(self) -> None:
        """Stop listening and drop every connection."""
        if self._sock is not None:
            try:
                self.loop.remove_reader(self._sock.fileno())
            except Exception:
                pass
            self._sock.close()
            self._sock = None
            if self._path:
                try:
                    os.unlink(self._path)
                except OSError:
                    pass
        for conn in list(self._conns.values()):
            self._drop(conn)

    @property
    def connection_count(self) -> int:
        return len(self._conns)

    def fileno(self) -> int | None:
        return self._sock.fileno() if self._sock is not None else None

    def _fast_call(self, conn: Connection, raw: bytes) -> bool:
        """True when the subclass answered `raw` (a call it reads itself,
        without fds) in full; else it goes to `_dispatch` as a `Message`."""
        return False

    def _dispatch(self, conn: Connection, msg: Message, fds: list[int]) -> None:
        raise NotImplementedError

    # ------------------------------------------------------------ re-exec hand-over
    #
    # docs/design/dbus.md, "Re-exec": no client is refused while init re-execs.
    # `pause_for_exec` stops accepting and reading (new clients wait in the
    # listening socket's backlog, unread requests stay in their sockets); once
    # `exec_ready` (no call of a kept connection still being answered, all
    # output sent), `export_for_exec` makes the listening socket and every kept
    # connection inheritable and describes them; the new init `start(fd=)`s
    # and `adopt`s them and goes on reading where the old one stopped.

    def pause_for_exec(self) -> None:
        """Stop accepting and reading (see above); `resume` undoes it."""
        self._exec_paused = True
        if self._sock is not None:
            self._remove_reader(self._sock.fileno())
        for conn in self._conns.values():
            if not conn.paused:
                self._remove_reader(conn.fd)

    def resume(self) -> None:
        """Serve again after a re-exec that did not happen."""
        self._exec_paused = False
        if self._sock is not None:
            os.set_inheritable(self._sock.fileno(), False)
            self.loop.add_reader(self._sock.fileno(), self._accept)
        for conn in list(self._conns.values()):
            try:
                os.set_inheritable(conn.fd, False)
            except OSError:
                pass
            if not conn.paused:
                self.loop.add_reader(conn.fd, self._readable, conn)

    def exec_ready(self) -> bool:
        """Every kept connection idle: nothing being answered, nothing unsent."""
        for conn in self._conns.values():
            if conn.exec_closes:
                continue
            if conn.in_flight or conn.pending or conn.outbuf:
                return False
        return True

    def export_for_exec(self) -> dict:
        """The listening socket and the connections the new init takes over,
        their fds made inheritable; connections that cannot be carried over
        (a call still being answered, fds received and not used, the caller
        of the re-exec) close with the exec, as every one did in 1.13."""
        conns = []
        for conn in self._conns.values():
            if conn.exec_closes or conn.in_flight or conn.pending or conn.outbuf \
                    or conn.infds or conn.skip:
                continue
            os.set_inheritable(conn.fd, True)
            conns.append({
                "fd": conn.fd, "uid": conn.caller.uid, "pid": conn.caller.pid,
                "gid": conn.caller.gid, "sasl": conn.sasl.export(),
                "inbuf": bytes(conn.inbuf).hex(), "serial": conn.serial,
                "unique_name": conn.unique_name, "bus": conn.bus,
            })
        listen = None
        if self._sock is not None:
            listen = self._sock.fileno()
            os.set_inheritable(listen, True)
        return {"listen": listen, "conns": conns}

    def adopt(self, state: dict) -> int:
        """Take over the connections `export_for_exec` described (in the new
        init, after `start(fd=state["listen"])`); returns how many."""
        adopted = 0
        for item in state.get("conns") or ():
            try:
                fd = int(item["fd"])
                sock = socket.socket(fileno=fd)
            except (KeyError, TypeError, ValueError, OSError):
                continue
            try:
                os.set_inheritable(fd, False)
                sock.setblocking(False)
                caller = Caller(uid=int(item["uid"]), pid=int(item.get("pid", 0)),
                                gid=int(item.get("gid", 0)))
                conn = Connection(sock, caller,
                                  SaslServer(caller.uid, self.allowed_uids, self.guid))
                conn.sasl.restore(item.get("sasl") or {})
                conn.inbuf += bytes.fromhex(item.get("inbuf", ""))
                conn.serial = int(item.get("serial", 0))
                conn.unique_name = str(item.get("unique_name", ""))
                conn.bus = item.get("bus") or None
                if conn.bus:
                    conn.caller = Caller(uid=-1)
            except (KeyError, TypeError, ValueError, OSError):
                sock.close()
                continue
            self._conns[conn.fd] = conn
            self.loop.add_reader(conn.fd, self._readable, conn)
            if conn.bus:
                self._bus_established(conn)
            adopted += 1
            if conn.inbuf:
                self.loop.call_soon(self._received_safely, conn)
        return adopted

    def _received_safely(self, conn: Connection) -> None:
        try:
            self._received(conn, b"", [])      # what the old init had read already
        except Exception as exc:  # never let one client take init down
            self._log("warn", "Dropped control connection: %s" % exc)
            self._drop(conn)

    def _remove_reader(self, fd: int) -> None:
        try:
            self.loop.remove_reader(fd)
        except Exception:
            pass

    # ------------------------------------------------------------ socket I/O

    def _accept(self) -> None:
        for _ in range(64):
            try:
                sock, _ = self._sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                self._log("warn", "Unable to accept control connection: %s" % exc.strerror)
                return
            if len(self._conns) >= MAX_CONNECTIONS:
                sock.close()
                self._log("warn", "Too many control connections; refused one")
                continue
            try:
                sock.setblocking(False)
                cred = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED,
                                       struct.calcsize("3i"))
                pid, uid, gid = struct.unpack("3i", cred)
            except OSError:
                sock.close()
                continue
            conn = Connection(sock, Caller(uid=uid, pid=pid, gid=gid),
                               SaslServer(uid, self.allowed_uids, self.guid))
            self._conns[conn.fd] = conn
            self.loop.add_reader(conn.fd, self._readable, conn)
            self._log("info", "Connection from private client")

    def _readable(self, conn: Connection) -> None:
        if conn.closed:
            return
        fds = array.array("i")
        try:
            data, ancdata, flags, _ = conn.sock.recvmsg(
                READ_SIZE, socket.CMSG_SPACE(MAX_FDS_PER_READ * fds.itemsize))
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self._drop(conn)
            return
        for level, kind, cdata in ancdata:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                usable = len(cdata) - (len(cdata) % fds.itemsize)
                fds.frombytes(cdata[:usable])
        received = list(fds)
        if flags & getattr(socket, "MSG_CTRUNC", 0):
            for fd in received:
                close_fd(fd)
            self._drop(conn)
            return
        if not data:
            for fd in received:
                close_fd(fd)
            self._drop(conn)
            return
        try:
            self._received(conn, data, received)
        except Exception as exc:  # never let one client take init down
            self._log("warn", "Dropped control connection: %s" % exc)
            self._drop(conn)

    def _received(self, conn: Connection, data: bytes, fds: list[int]) -> None:
        if not conn.sasl.done:
            try:
                reply, leftover = conn.sasl.feed(data)
            except SaslError:
                reply, leftover = None, b""
            if reply is None or not conn.sasl.done:
                for fd in fds:           # fds can only come with the message stream
                    close_fd(fd)
                if reply is None:
                    self._drop(conn)
                    return
            if reply:
                self._write(conn, reply)
            if not conn.sasl.done:
                return
            data = leftover
        if conn.skip:                    # hardening: the rest of a refused message
            dropped = min(conn.skip, len(data))
            conn.skip -= dropped
            data = data[dropped:]
        conn.inbuf += data
        conn.infds.extend(fds)
        if len(conn.infds) > MAX_PENDING_FDS:
            self._drop(conn)
            return
        while not conn.closed and len(conn.inbuf) >= 16:
            if conn.in_flight >= MAX_CALLS_IN_FLIGHT and not conn.bus:
                self._pause(conn)        # hardening: back-pressure, resumed in _finish
                return
            if conn.inbuf[0] not in (0x6C, 0x42) or conn.inbuf[3] != 1:
                self._drop(conn)
                return
            size = message_size(conn.inbuf)     # perf: jeepney's calc_msg_size, no copy
            if size > MAX_MESSAGE:
                if conn.bus or size > DBUS_MAX_MESSAGE:   # beyond the protocol: drop
                    self._drop(conn)
                    return
                self._refuse_oversized(conn, size)   # hardening: error, then skip it
                continue
            if len(conn.inbuf) < size:
                break
            raw = bytes(conn.inbuf[:size])
            del conn.inbuf[:size]
            if self._fast_call(conn, raw):      # perf: answered without a Message
                continue
            try:
                msg = fast_parse_call(raw) or Message.from_buffer(raw, fds=conn.infds)
            except Exception:
                self._drop(conn)
                return
            used = msg.header.fields.get(HeaderFields.unix_fds, 0)
            msg_fds = conn.infds[:used]
            del conn.infds[:used]
            self._dispatch(conn, msg, msg_fds)

    def _pause(self, conn: Connection) -> None:
        if not conn.paused:
            conn.paused = True
            self.loop.remove_reader(conn.fd)

    def _call_done(self, conn: Connection) -> None:
        """Hardening: one asynchronous call answered; resume a paused reader."""
        conn.in_flight -= 1
        if conn.paused and not conn.closed and conn.in_flight < MAX_CALLS_IN_FLIGHT \
                and not self._exec_paused:
            conn.paused = False
            self.loop.add_reader(conn.fd, self._readable, conn)
            try:
                self._received(conn, b"", [])      # what is already buffered
            except Exception as exc:  # never let one client take init down
                self._log("warn", "Dropped control connection: %s" % exc)
                self._drop(conn)

    def _refuse_oversized(self, conn: Connection, size: int) -> None:
        """Hardening (issue #14): answer a message larger than MAX_MESSAGE with
        LimitsExceeded (when it is a call wanting a reply) and skip its bytes
        without buffering them; the connection stays usable."""
        head = bytes(conn.inbuf[:16])
        endian = "<" if head[0] == 0x6C else ">"
        serial = struct.unpack(endian + "I", head[8:12])[0]
        kind, flags = head[1], head[2]
        dropped = min(size, len(conn.inbuf))
        del conn.inbuf[:dropped]
        conn.skip = size - dropped
        for fd in conn.infds:            # whatever fds came with it are not ours
            close_fd(fd)
        conn.infds.clear()
        self._log("warn", "Refused a control message of %d bytes (limit %d)"
                  % (size, MAX_MESSAGE))
        if kind != MessageType.method_call.value or flags & MessageFlag.no_reply_expected:
            return
        text = "Message of %d bytes exceeds the limit of %d bytes" % (size, MAX_MESSAGE)
        header = Header(Endianness.little, MessageType.error, 0, 1, 0, 0,
                        {HeaderFields.reply_serial: serial,
                         HeaderFields.error_name: LIMITS_EXCEEDED,
                         HeaderFields.signature: "s"})
        self._send(conn, Message(header, (text,)))

    def _send(self, conn: Connection, msg: Message) -> None:
        if conn.closed:
            return
        try:
            data = msg.serialise(serial=conn.next_serial())
        except Exception as exc:
            self._log("error", "Unable to serialise control message: %s" % exc)
            return
        self._write(conn, data)

    def _write(self, conn: Connection, data: bytes) -> None:
        if conn.flush_soon and not conn.writing and len(conn.outbuf) + len(data) > MAX_OUTPUT:
            self._flush(conn)              # what the earlier writes would have sent by now
        conn.outbuf += data
        if len(conn.outbuf) > MAX_OUTPUT:
            conn.flush_soon = False        # a message that overflows is never sent
            self._drop(conn)
            return
        if conn.writing:
            return
        if len(conn.outbuf) >= FLUSH_AT:
            self._flush(conn)
        elif not conn.flush_soon:          # perf: one send() per connection per turn
            conn.flush_soon = True
            self.loop.call_soon(self._flush_soon, conn)

    def _flush_soon(self, conn: Connection) -> None:
        conn.flush_soon = False
        if not conn.writing:
            self._flush(conn)

    def _flush(self, conn: Connection) -> None:
        if conn.closed:
            return
        while conn.outbuf:
            try:
                n = conn.sock.send(conn.outbuf)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                self._drop(conn)
                return
            del conn.outbuf[:n]
        if conn.outbuf and not conn.writing:
            conn.writing = True
            self.loop.add_writer(conn.fd, self._flush, conn)
        elif not conn.outbuf and conn.writing:
            conn.writing = False
            self.loop.remove_writer(conn.fd)

    def _drop(self, conn: Connection) -> None:
        if conn.closed:
            return
        if conn.flush_soon and not conn.writing and conn.outbuf:
            # what was written this turn would have been sent already: send it
            try:
                while conn.outbuf:
                    del conn.outbuf[:conn.sock.send(conn.outbuf)]
            except OSError:
                pass
        conn.closed = True
        self._conns.pop(conn.fd, None)
        try:
            self.loop.remove_reader(conn.fd)
            if conn.writing:
                self.loop.remove_writer(conn.fd)
        except Exception:
            pass
        for fd in conn.infds:
            close_fd(fd)
        conn.infds.clear()
        conn.sock.close()
        for future in conn.pending.values():
            if not future.done():
                future.set_exception(OSError("Disconnected from D-Bus %s bus" % conn.bus))
        conn.pending.clear()
        if conn.bus and self._sock is not None:
            self._log("warn", "Disconnected from D-Bus %s bus" % conn.bus)
            self._bus_lost(conn)

    def _bus_lost(self, conn: Connection) -> None:
        """A bus connection went away while serving (the bus client says so)."""

    def _bus_established(self, conn: Connection) -> None:
        """A bus connection was set up (or taken over across a re-exec)."""

    def _log(self, priority: str, message: str) -> None:
        if self.log is not None:
            try:
                self.log(priority, message)
            except Exception:
                pass


def close_fd(fd: int) -> None:
    try:
        os.close(fd)
    except OSError:
        pass
