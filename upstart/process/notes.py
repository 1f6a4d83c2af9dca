"""Notes: what `Supervisor.reap()` reports to the daemon.

Four small frozen values, returned in the order things happened:

* `Exited(pid, code, signal)` – a process died (`code` for a normal exit,
  else `signal`); reported for every pid the supervisor reaps except the
  intermediate processes absorbed by an `expect fork|daemon` trace;
* `Ready(pid, main_pid)` – the process spawned as `pid` is ready (`expect
  stop|fork|daemon`); the job's main pid is now `main_pid`;
* `LogLine(priority, message)` – a line for init's own log;
* `Notified(pid, fields)` – the main process `pid` sent notify fields
  (`READY=1`, `STATUS=…`; readiness, issue #8: `process/notify.py`).

This module owns nothing else and must never do I/O.
"""

from __future__ import annotations

from upstart.records import dataclass


@dataclass(frozen=True)
class Exited:
    pid: int
    code: int | None = None     # exit status when the process exited
    signal: int | None = None   # signal number when it was killed


@dataclass(frozen=True)
class Ready:
    pid: int        # the pid the core knows (the one spawn() returned)
    main_pid: int   # the process that is now the job's main process


@dataclass(frozen=True)
class LogLine:
    priority: str   # debug / info / message / warn / error / fatal
    message: str
    paused: int = 0     # the pid of a process paused before exec for debug
    job: str = ""       # with `paused`: its job


# ---- readiness (issue #8): what a job's NOTIFY_SOCKET / notify fd said
@dataclass(frozen=True)
class Notified:
    pid: int                    # the main process as the core knows it
    fields: tuple[str, ...]     # KEY=VALUE lines (a newline on the notify fd: READY=1)
# ---- end readiness


Note = Exited | Ready | LogLine | Notified
