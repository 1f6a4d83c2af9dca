"""init's own human log: priorities, threshold and where lines go.

Owns the log threshold (`initctl log-priority`) and the sink: as PID 1, lines
go to /dev/kmsg as `<N>init: message` (N the kernel priority); otherwise to
stderr as `init: message`, as libnih does. Parse errors use upstream's odd
`init:PATH:LINE: message` form (no space), which `log_parse_error` produces.
Must never raise: a broken sink falls back to stderr, then to silence.
"""

from __future__ import annotations

import os
import sys

PRIORITIES = ("debug", "info", "message", "warn", "error", "fatal")
_KMSG_LEVEL = {"debug": 7, "info": 6, "message": 5, "warn": 4, "error": 3, "fatal": 2}
_RANK = {name: n for n, name in enumerate(PRIORITIES)}


class Logger:
    def __init__(self, *, priority: str = "message", kmsg: bool = False, prog: str = "init"):
        self.priority = priority
        self.prog = prog
        self._kmsg_fd: int | None = None
        if kmsg:
            self.open_kmsg()

    def open_kmsg(self) -> None:
        """(Re)open /dev/kmsg: at boot /dev may only be mounted after we start."""
        if self._kmsg_fd is not None:
            return
        try:
            self._kmsg_fd = os.open("/dev/kmsg", os.O_WRONLY | os.O_APPEND | os.O_NOCTTY
                                    | os.O_CLOEXEC)
        except OSError:
            self._kmsg_fd = None

    @property
    def priority(self) -> str:
        return self._priority

    @priority.setter
    def priority(self, value: str) -> None:
        # perf: the threshold's rank is looked up once, not per line (`enabled`
        # runs for every line the engine logs, and the engine asks it first)
        self._priority = value
        self._threshold = _RANK.get(value)

    def enabled(self, priority: str) -> bool:
        rank = _RANK.get(priority)
        if rank is None or self._threshold is None:
            return True
        return rank >= self._threshold

    def log(self, priority: str, message: str) -> None:
        if self.enabled(priority):
            self._write(priority, f"{self.prog}: {message}")

    def log_parse_error(self, message: str, priority: str = "error") -> None:
        """A configuration error: `init:/path/x.conf:2: Unknown stanza`."""
        if self.enabled(priority):
            self._write(priority, f"{self.prog}:{message}")

    def _write(self, priority: str, line: str) -> None:
        if self._kmsg_fd is not None:
            data = f"<{_KMSG_LEVEL.get(priority, 5)}>{line}\n".encode("utf-8", "replace")
            try:
                os.write(self._kmsg_fd, data)
                return
            except OSError:
                pass
        try:
            sys.stderr.write(line + "\n")
            sys.stderr.flush()
        except (OSError, ValueError):
            pass
