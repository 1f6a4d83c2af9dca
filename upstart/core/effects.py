"""The vocabulary between the pure core and the daemon shell.

The core (`upstart.core.engine.Engine`) never does I/O. It is driven by calls
(an event emitted, a process exited, a timer fired, a control request) and
each call returns a list of *effects*: small frozen values that say what the
shell must do (send a signal, arm a timer, answer a D-Bus call, broadcast a
signal, log a line). Two things are injected instead, because their answer is
needed at once: a `Clock` (monotonic seconds) and a `Spawner` (start a process
now and tell me its pid, or why it could not start).

Nothing in this module imports anything outside the standard library.
"""

from __future__ import annotations

from typing import Any, NamedTuple, Protocol

from upstart.jobfile.model import JobClass, Match, Process
from upstart.records import dataclass, field


# --------------------------------------------------------------------- ports

class Clock(Protocol):
    def monotonic(self) -> float: ...


class SpawnError(Exception):
    """The process could not be started; `reason` is upstream's text,
    e.g. `unable to execute: No such file or directory`."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class SpawnRequest:
    job: str                    # class name
    instance: str               # instance name ("" for the single instance)
    slot: str                   # "main", "pre-start", ...
    process: Process
    env: tuple[str, ...]        # complete, ordered KEY=VALUE list for the process
    job_class: JobClass         # for umask, nice, limits, console, setuid, ...
    trace: bool = False         # main of an `expect fork|daemon` job
    stop_on_exec: bool = False  # main of an `expect stop` job (informational)


class Spawner(Protocol):
    def spawn(self, request: SpawnRequest) -> int:
        """Start the process now; return its pid or raise SpawnError."""
        ...


# ------------------------------------------------------------------- errors

@dataclass(frozen=True)
class ControlError:
    """An error answer to a control request.

    `name` is the D-Bus error name (`com.ubuntu.Upstart0_6.Error.UnknownJob`,
    `org.freedesktop.DBus.Error.InvalidArgs`, ...); `message` the exact text
    initctl prints after `initctl: `.
    """

    name: str
    message: str


UPSTART_ERROR = "com.ubuntu.Upstart0_6.Error."
INVALID_ARGS = "org.freedesktop.DBus.Error.InvalidArgs"


def upstart_error(kind: str, message: str) -> ControlError:
    return ControlError(UPSTART_ERROR + kind, message)


class ControlFailure(Exception):
    """Raised by synchronous queries (get_instance, ...) of the engine."""

    def __init__(self, error: ControlError):
        super().__init__(error.message)
        self.error = error


# ------------------------------------------------------------------ timers

class TimerKey(NamedTuple):
    """The key of an engine timer (`SetTimer`/`CancelTimer`/`timer_fired`):
    whose it is and which kind (a name of `TIMER_KINDS`)."""
    job: str
    instance: str
    kind: str


@dataclass(frozen=True)
class TimerKind:
    doc: str
    reap_first: bool = False     # the shell reaps dead children before firing it


# Every kind of timer the engine arms; the one table the shell reads.
TIMER_KINDS: dict[str, TimerKind] = {
    "kill": TimerKind("kill timeout of a stopping job: SIGKILL its main process"),
    "ready": TimerKind("ready timeout of a job waiting for its ready point"),
    "expect": TimerKind("expect timeout of a main process that has not forked/stopped "
                        "as its `expect` says", reap_first=True),
    "respawn": TimerKind("end of a respawn backoff pause: respawn now"),
    "confirm": TimerKind("spawn confirmations due; children reaped first, as "
                         "upstream's main loop reads them before the exec pipe",
                         reap_first=True),
}

# The one engine-wide timer: pending spawn confirmations (`Dispatch._settle`).
CONFIRM_TIMER = TimerKey("spawn", "", "confirm")


def timer_kind(key: Any) -> TimerKind | None:
    """The kind of an engine timer key; None for a key that is not one."""
    if isinstance(key, tuple) and len(key) == 3:
        return TIMER_KINDS.get(key[2])
    return None


# ------------------------------------------------------------------ effects

@dataclass(frozen=True)
class Kill:
    """Send `signal` to `pid`; to its process group when `group` (fallback: pid)."""
    pid: int
    signal: int
    group: bool = True


@dataclass(frozen=True)
class SetTimer:
    """Arm (or re-arm) the one-shot timer `key` to fire after `delay` seconds;
    the shell then calls `engine.timer_fired(key)`."""
    key: Any
    delay: float


@dataclass(frozen=True)
class CancelTimer:
    key: Any


@dataclass(frozen=True)
class Reply:
    """Answer the control request `token`: `value` on success, else `error`."""
    token: Any
    value: Any = None
    error: ControlError | None = None


@dataclass(frozen=True)
class Log:
    """A human log line; priority is one of debug/info/message/warn/error/fatal."""
    priority: str
    message: str


@dataclass(frozen=True)
class Trace:
    """What the engine did, for observers (the event recorder): returned
    whatever the log priority, never logged nor sent on the bus.

    kind: `queued` (event `name` is pending; for `died`, `data` is its
    environment), `handling` (event `name` is
    being handled), `finished` (event `name` finished), `spawned` (process
    `pid` of job `name` was forked), `opened` / `closed` (state `name` with
    env `data`, seen by a `while` evaluation), `while` (job `name`'s `while`
    moves its instance `data[0]` to goal `data[1]`; `data[2:]` are the
    states its condition's leaves saw open (`+TEXT`) or close (`-TEXT`)),
    `moved` (a declared state `name` was `data[0]` (opened/closed) with env
    `data[1:]`, at the moment it happened: the recorder notes by what).
    For `queued`, `data` is the event's environment; for `queued`,
    `handling` and `finished`, `event` is the engine's id of the event (two
    events of one name are told apart by it, not by their order)."""
    kind: str
    name: str = ""
    pid: int = 0
    data: tuple[str, ...] = ()
    event: int = 0


@dataclass(frozen=True)
class CloseFd:
    """An event carrying a file descriptor finished: the shell closes it."""
    fd: int


# D-Bus signals, broadcast on every connection. Jobs and instances are named
# by (job, instance); the control adapter turns them into object paths.

@dataclass(frozen=True)
class JobAdded:
    job: str


@dataclass(frozen=True)
class JobRemoved:
    job: str


@dataclass(frozen=True)
class InstanceAdded:
    job: str
    instance: str


@dataclass(frozen=True)
class InstanceRemoved:
    job: str
    instance: str


@dataclass(frozen=True)
class GoalChanged:
    job: str
    instance: str
    goal: str


@dataclass(frozen=True)
class StateChanged:
    job: str
    instance: str
    state: str


@dataclass(frozen=True)
class JobFailed:
    """The Instance `Failed(i status)` signal."""
    job: str
    instance: str
    status: int


@dataclass(frozen=True)
class EventEmitted:
    """Sent when an event *finishes* (upstream's EventEmitted signal)."""
    name: str
    env: tuple[str, ...] = field(default_factory=tuple)


# Readiness (issue #8, docs/design/readiness.md): the core asks the shell's
# readiness adapter to watch the world for an instance waiting to be ready.

@dataclass(frozen=True)
class WatchReady:
    """Watch for the `file`/`socket`/`dbus` leaves of the instance's `ready on`
    (their `$VAR`s already expanded from the instance environment) and emit the
    matching ordinary event (`engine.emit(..., wait=False)`) once each holds."""
    job: str
    instance: str
    matches: tuple[Match, ...]
    pids: tuple[int, ...] = ()


@dataclass(frozen=True)
class UnwatchReady:
    """Stop every watch of WatchReady for this instance (ready, or stopping)."""
    job: str
    instance: str


Effect = Any  # one of the dataclasses above
