"""`console log`: reading a job process's pty and appending to its log file.

One `JobLog` per spawned process (upstream: one logger per process slot):
it owns the pty master, reads it through `loop.add_reader`, and appends
the raw bytes (the pty turns LF into CR LF; kept as is) to
`<logdir>/<job>[-<instance>].log`, every `/` in the names turned into `_`.
The file is opened lazily on the first byte (append, create, O_NOFOLLOW,
mode 0640), re-created when it has been deleted (`st_nlink == 0`).

As upstream (`init/log.c`): when the file cannot be opened (any error but
ENOSPC) or a write fails, output is kept in memory, bounded per log (oldest
bytes dropped, with one warning), and written first at the next successful
open. When the process has gone, a log whose last open failed with EROFS,
EPERM or EACCES keeps its buffer on the `LogHub`'s unflushed list until
`notify_disk_writeable()`; other leftovers are dropped. ENOSPC discards.
A failed write is warned about once per log (upstream: every time). The pty
is read until EIO (every copy of the slave closed), so the last lines of a
crashing job are not lost, and output of a grandchild that inherited the
pty still reaches the log (upstream stops reading when the process exits).

`LogHub` holds what is shared by all logs. Neither class ever touches a
process; warnings are handed to the `report` callable as `LogLine` notes.
"""

from __future__ import annotations

import errno
import os
from typing import Callable

from upstart.process.notes import LogLine

BUFFER_LIMIT = 1 << 20   # per log, while the disk is not writable
_BUFFER_ERRNOS = {errno.EROFS, errno.EPERM, errno.EACCES}
_OPEN_FLAGS = (os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW
               | os.O_NONBLOCK | os.O_CLOEXEC)


def log_path(logdir: str, job: str, instance: str) -> str:
    name = job.replace("/", "_")
    if instance:
        name += "-" + instance.replace("/", "_")
    return os.path.join(logdir, name + ".log")


class LogHub:
    """State shared by every `JobLog`: disk writability and unflushed logs."""

    def __init__(self, loop, report: Callable[[LogLine], None]):
        self.loop = loop
        self.report = report
        self.disk_writeable = False
        self.unflushed: list[JobLog] = []
        self.live: set[JobLog] = set()

    def notify_disk_writeable(self) -> None:
        self.disk_writeable = True
        for log in list(self.live) + self.unflushed:
            if log.buffer:
                log.write(b"")
        self.unflushed = [log for log in self.unflushed if log.buffer]

    def close_all(self) -> None:
        for log in list(self.live):
            log.close()
        self.unflushed.clear()


class JobLog:
    def __init__(self, hub: LogHub, path: str, master: int):
        self.hub = hub
        self.path = path
        self.master = master
        self.fd: int | None = None
        self.buffer = bytearray()
        self.closed = False
        self._dropped = False
        self._warned = False
        self.open_errno = 0
        os.set_blocking(master, False)
        hub.live.add(self)
        hub.loop.add_reader(master, self._readable)

    # ------------------------------------------------------- re-exec

    def export(self) -> dict:
        """A JSON-able description; the pty master is made inheritable so the
        re-executed init can adopt it (fds of the fork/fast paths never leak
        it into jobs: inheritable fds are closed there)."""
        os.set_inheritable(self.master, True)
        return {"fd": self.master, "path": self.path, "buffer": self.buffer.hex(),
                "open_errno": self.open_errno}

    @classmethod
    def adopt(cls, hub: "LogHub", state: dict) -> "JobLog":
        os.set_inheritable(state["fd"], False)
        log = cls(hub, state["path"], state["fd"])
        log.buffer += bytes.fromhex(state.get("buffer", ""))
        log.open_errno = state.get("open_errno", 0)
        return log

    # -------------------------------------------------------- reading

    def _readable(self) -> None:
        self.drain()

    def drain(self) -> bool:
        """Read everything available; True when the pty is finished."""
        if self.closed:
            return True
        while True:
            try:
                data = os.read(self.master, 65536)
            except BlockingIOError:
                return False
            except InterruptedError:
                continue
            except OSError:   # EIO: no slave left
                data = b""
            if not data:
                self.close()
                return True
            self.write(data)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.hub.live.discard(self)
        try:
            self.hub.loop.remove_reader(self.master)
        except Exception:   # noqa: BLE001 - loop already closed
            pass
        os.close(self.master)
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
        if (self.buffer and not self.hub.disk_writeable
                and self.open_errno in _BUFFER_ERRNOS):
            self.hub.unflushed.append(self)
        elif self.fd is None:
            self.buffer.clear()

    # -------------------------------------------------------- writing

    def write(self, data: bytes) -> None:
        if self.fd is not None:
            try:
                if os.fstat(self.fd).st_nlink == 0:   # deleted (logrotate)
                    os.close(self.fd)
                    self.fd = None
            except OSError:
                self.fd = None
        if self.fd is None and not self._open(data):
            return
        if self.buffer:
            data = bytes(self.buffer) + data
            self.buffer.clear()
        try:
            while data:
                n = os.write(self.fd, data)
                data = data[n:]
        except OSError as err:
            if err.errno != errno.ENOSPC:
                self._keep(data)
            self._warn()
            os.close(self.fd)
            self.fd = None
        if self.closed and self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def _open(self, data: bytes) -> bool:
        old = os.umask(0o117)
        try:
            self.fd = os.open(self.path, _OPEN_FLAGS, 0o740)
            self.open_errno = 0
            return True
        except OSError as err:
            self.open_errno = err.errno
            if err.errno != errno.ENOSPC:
                self._keep(data)
            return False
        finally:
            os.umask(old)

    def _keep(self, data: bytes) -> None:
        self.buffer += data
        excess = len(self.buffer) - BUFFER_LIMIT
        if excess > 0:
            del self.buffer[:excess]
            if not self._dropped:
                self._dropped = True
                self.hub.report(LogLine(
                    "warn", f"Log buffer for {self.path} is full: dropping oldest output"))

    def _warn(self) -> None:
        if not self._warned:
            self._warned = True
            self.hub.report(LogLine("warn", f"Failed to write to log file {self.path}"))
