"""Process notification: how a job's main process says "I am ready".

Two channels, given to the main process only when its class's `ready on`
mentions them (`wants()`):

* `notify` -- a unix datagram socket of its own, abstract, with a random
  name, passed as `NOTIFY_SOCKET=@...` (systemd's protocol: datagrams of
  newline-separated `KEY=VALUE`: `READY=1`, `STATUS=...`, `MAINPID=...`,
  `STOPPING=1`, `WATCHDOG=1`; fds passed along, as `FDSTORE=1` and
  `systemd-notify`'s `BARRIER=1` do, are closed at once: closing the
  barrier's pipe is its answer). `SO_PASSCRED` makes the kernel attach the
  sender's pid; a datagram counts only if that pid is the process, one of
  its descendants, or a member of its session (jobs run in their own
  session); others are dropped;
* `notify-fd N` (also `notify-fd FD=N`) -- s6's protocol: the write end of a
  pipe sits on fd N in the child; a newline written there means `READY=1`;
  init closes its end after that, or at EOF.

Either way the supervisor reports `Notified(pid, fields)` (pid: the job's
main process as the core knows it). The hub owns the sockets, pipes and
their loop readers, keyed by pid, and closes them when the process is
reaped. `wants()` and `parse_datagram()` are pure. Never blocks, never
trusts a datagram whose sender it cannot place in the job.
"""

from __future__ import annotations

import fcntl
import os
import socket
import struct
from collections.abc import Callable

from upstart.process import procstat
from upstart.process.notes import LogLine, Notified

SCRIPT_FD = 9
MAX_PASSED_FDS = 16               # fds a notify datagram may carry (closed at once)
MAX_FD = 1023
_UCRED = struct.Struct("iII")
SO_PASSCRED = getattr(socket, "SO_PASSCRED", 16)
SCM_CREDENTIALS = getattr(socket, "SCM_CREDENTIALS", 2)


def _leaves(expr):
    if expr is None:
        return []
    if hasattr(expr, "left"):
        return _leaves(expr.left) + _leaves(expr.right)
    return [expr]


def notify_fd_number(args: tuple[str, ...]) -> int | None:
    """N of `notify-fd N` / `notify-fd FD=N`, or None if missing or unusable
    (0-2 are stdio, 9 is the script fd)."""
    for arg in args:
        key, eq, value = arg.partition("=")
        text = value if eq else key
        if eq and key != "FD":
            continue
        if text.isdigit():
            n = int(text)
            return n if 3 <= n <= MAX_FD and n != SCRIPT_FD else None
        return None
    return None


def wants(ready_on, slot: str) -> tuple[bool, int | None]:
    """(NOTIFY_SOCKET wanted, notify fd number) for a process of a class
    whose `ready on` expression is `ready_on`; only the main process gets them."""
    if slot != "main" or ready_on is None:
        return False, None
    sock, fd = False, None
    for leaf in _leaves(ready_on):
        if leaf.name == "notify":
            sock = True
        elif leaf.name == "notify-fd" and fd is None:
            fd = notify_fd_number(tuple(leaf.args))
    return sock, fd


def parse_datagram(data: bytes) -> list[str]:
    """The `KEY=VALUE` fields of one notify datagram (empty lines dropped)."""
    text = data.decode("utf-8", errors="replace")
    return [line for line in text.split("\n") if line and "=" in line]


def belongs(sender: int, owner: int) -> bool:
    """Is `sender` the owner, a descendant of it, or in the owner's session?"""
    if sender == owner:
        return True
    pid = sender
    for _ in range(64):
        fields = procstat.fields(pid)
        if fields is None or len(fields) < 4:
            return False
        if int(fields[3]) == owner:        # session id
            return True
        pid = int(fields[1])               # parent
        if pid == owner:
            return True
        if pid <= 1:
            return False
    return False


class _Channel:
    __slots__ = ("sock", "read_fd", "write_fd", "buf")

    def __init__(self):
        self.sock: socket.socket | None = None
        self.read_fd: int | None = None
        self.write_fd: int | None = None     # init's copy of the child's end, until spawned
        self.buf = b""


class NotifyHub:
    """The notify sockets and pipes of the supervisor's children."""

    def __init__(self, loop, report: Callable[[object], None]):
        self.loop = loop
        self.report = report
        self._by_pid: dict[int, _Channel] = {}
        self._serial = 0

    # ------------------------------------------------------------ spawning

    def prepare(self, plan) -> _Channel | None:
        """Open what `plan` asks for; sets `NOTIFY_SOCKET` in its env and its
        `notify_pipe` (init's fd for the child's fd N)."""
        if not plan.notify and plan.notify_fd is None:
            return None
        ch = _Channel()
        try:
            if plan.notify:
                self._serial += 1
                name = f"/org/upstart-py/notify/{os.getpid()}/{self._serial}-" \
                       f"{os.urandom(6).hex()}"
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC
                                     | socket.SOCK_NONBLOCK)
                ch.sock = sock
                sock.setsockopt(socket.SOL_SOCKET, SO_PASSCRED, 1)
                sock.bind("\0" + name)
                plan.env["NOTIFY_SOCKET"] = "@" + name
            if plan.notify_fd is not None:
                r, w = os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)
                ch.read_fd = r
                # above every fd the child's set-up touches, so dup2 onto N is safe
                high = fcntl.fcntl(w, fcntl.F_DUPFD_CLOEXEC, max(plan.notify_fd, 16) + 1)
                os.close(w)
                os.set_blocking(high, True)
                ch.write_fd = high
                plan.notify_pipe = high
        except OSError:
            self.abandon(ch)
            raise
        return ch

    def started(self, ch: _Channel | None, pid: int) -> None:
        if ch is None:
            return
        if ch.write_fd is not None:
            os.close(ch.write_fd)
            ch.write_fd = None
        self._by_pid[pid] = ch
        if ch.sock is not None:
            self.loop.add_reader(ch.sock.fileno(), self._datagram, ch)
        if ch.read_fd is not None:
            self.loop.add_reader(ch.read_fd, self._pipe, ch)

    def abandon(self, ch: _Channel | None) -> None:
        if ch is None:
            return
        if ch.write_fd is not None:
            os.close(ch.write_fd)
            ch.write_fd = None
        self._close_sock(ch)
        self._close_pipe(ch)

    def moved(self, old: int, new: int) -> None:
        """`expect fork|daemon` re-pointed the main process."""
        ch = self._by_pid.pop(old, None)
        if ch is not None:
            self._by_pid[new] = ch

    def finished(self, pid: int) -> None:
        ch = self._by_pid.get(pid)
        if ch is None:
            return
        self._pipe(ch)                  # what was written just before the exit still counts
        self._datagram(ch)
        del self._by_pid[pid]
        self.abandon(ch)

    def pids(self) -> list[int]:
        return list(self._by_pid)

    # ------------------------------------------------------------ re-exec

    def export(self) -> dict:
        """JSON-able channels for a stateful re-exec; their fds are made
        inheritable so the re-executed init can adopt them (the process keeps
        its end: the socket's name, or the pipe's write end, does not change)."""
        out = {}
        for pid, ch in self._by_pid.items():
            item = {"buf": ch.buf.hex()}
            if ch.sock is not None:
                os.set_inheritable(ch.sock.fileno(), True)
                item["sock"] = ch.sock.fileno()
            if ch.read_fd is not None:
                os.set_inheritable(ch.read_fd, True)
                item["pipe"] = ch.read_fd
            out[str(pid)] = item
        return out

    def adopt(self, state: dict) -> None:
        """In the re-executed init: watch the channels `export()` described."""
        for pid, item in (state or {}).items():
            ch = _Channel()
            try:
                if "sock" in item:
                    os.set_inheritable(item["sock"], False)
                    ch.sock = socket.socket(fileno=item["sock"])
                    ch.sock.setblocking(False)
                if "pipe" in item:
                    os.set_inheritable(item["pipe"], False)
                    os.set_blocking(item["pipe"], False)
                    ch.read_fd = item["pipe"]
                ch.buf = bytes.fromhex(item.get("buf", ""))
            except (OSError, ValueError, TypeError):
                self.abandon(ch)
                continue
            self.started(ch, int(pid))

    def close(self) -> None:
        for pid in list(self._by_pid):
            self.abandon(self._by_pid.pop(pid))

    # ------------------------------------------------------------ reading

    def _owner(self, ch: _Channel) -> int | None:
        for pid, c in self._by_pid.items():
            if c is ch:
                return pid
        return None

    def _datagram(self, ch: _Channel) -> None:
        while ch.sock is not None:
            try:
                data, anc, _flags, _addr = ch.sock.recvmsg(
                    4096, socket.CMSG_SPACE(_UCRED.size) + socket.CMSG_SPACE(4 * MAX_PASSED_FDS))
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            owner = self._owner(ch)
            if owner is None:
                return
            sender = None
            for level, kind, payload in anc:
                if level != socket.SOL_SOCKET:
                    continue
                if kind == SCM_CREDENTIALS and len(payload) >= _UCRED.size:
                    sender = _UCRED.unpack_from(payload)[0]
                elif kind == socket.SCM_RIGHTS:     # FDSTORE=1, BARRIER=1: not kept
                    for i in range(len(payload) // 4):
                        try:
                            os.close(int.from_bytes(payload[4 * i:4 * i + 4], "little"))
                        except OSError:
                            pass
            if sender is None or not belongs(sender, owner):
                self.report(LogLine("debug", f"Ignored notify message for process {owner} "
                                             f"from process {sender}"))
                continue
            fields = parse_datagram(data)
            if fields:
                self.report(Notified(owner, tuple(fields)))

    def _pipe(self, ch: _Channel) -> None:
        if ch.read_fd is None:
            return
        eof = False
        while True:
            try:
                data = os.read(ch.read_fd, 512)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                eof = True
                break
            if not data:
                eof = True
                break
            ch.buf = (ch.buf + data)[-512:]
            if b"\n" in ch.buf:
                owner = self._owner(ch)
                if owner is not None:
                    self.report(Notified(owner, ("READY=1",)))
                eof = True
                break
        if eof:
            self._close_pipe(ch)

    def _close_sock(self, ch: _Channel) -> None:
        if ch.sock is not None:
            try:
                self.loop.remove_reader(ch.sock.fileno())
            except Exception:   # noqa: BLE001 - loop closed
                pass
            ch.sock.close()
            ch.sock = None

    def _close_pipe(self, ch: _Channel) -> None:
        if ch.read_fd is not None:
            try:
                self.loop.remove_reader(ch.read_fd)
            except Exception:   # noqa: BLE001 - loop closed
                pass
            os.close(ch.read_fd)
            ch.read_fd = None


__all__ = ["NotifyHub", "wants", "parse_datagram", "notify_fd_number", "belongs"]
