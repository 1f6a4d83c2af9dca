"""The end of init: a Session Init's quiesce, and PID 1's final stage.

A Session Init's quiesce (1.13's `init/quiesce.c`), on SIGTERM (`shutdown`)
or `EndSession` (`logout`): respawning stops, `session-end TYPE=<kind>` is
emitted, and `Quiescing due to <kind> request` logged (info).
* logout: a WAIT phase first: every job goes on running for up to 5 s
  (`JOB_RUNTIME`), so that jobs started by `session-end` can do their work;
  it ends early when no job has a process left;
* then (at once for `shutdown`) the KILL phase: every instance is asked to
  stop, and init waits up to the longest `kill timeout` of all classes (plus
  one second, so that a job's own SIGKILL lands first), or until no job has
  a process left (abstract jobs never hold init up);
* at the end `job <name> failed to stop` (message) names every instance
  still there, and init exits 0.

PID 1's final stage stops every job of every world at once, waits until none
is left or a deadline passes (the longest kill timeout, at least 5 s, plus
one), kills what is left, syncs and asks the kernel to halt, power off or
reboot (`end_system`). In a PID namespace the kernel refuses, and init's exit
status tells its parent what was asked.

No polling: progress is checked after every batch of effects, and the phase
deadlines are the only timers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
import ctypes
import os
import signal
from collections.abc import Callable, Iterable

from upstart.daemon.world import World

RB_CMD = {"halt": 0xCDEF0123, "poweroff": 0x4321FEDC, "reboot": 0x01234567}
# in a PID namespace the end of PID 1 tells its parent what was asked for
FINAL_EXIT_STATUS = {"halt": 0, "poweroff": 0, "reboot": 128 + 1}
MIN_TIMEOUT = 5          # the final stage waits at least this long
JOB_RUNTIME = 5          # logout: what `session-end` jobs get before the KILL phase

if TYPE_CHECKING:
    from upstart.reactor.loop import Reactor, Handle


class Shutdown:
    def __init__(self, *, loop: Reactor, log: Callable[[str, str], None],
                 worlds: Callable[[], Iterable[World]],
                 apply: Callable[[World, list], None],
                 guard: Callable[..., None], finish: Callable[[int], None]):
        self.loop = loop
        self.log = log
        self.worlds = worlds        # every world, the global one first
        self.apply = apply          # carry out a world's effects
        self.guard = guard
        self.finish = finish        # init's exit status
        self.quiescing: str | None = None
        self.phase: str | None = None       # a Session Init's: "wait", then "kill"
        self._done: Callable[[], None] | None = None
        self._deadline: Handle | None = None

    # ------------------------------------------------------------ Session Init

    def quiesce(self, kind: str, emit: Callable[[str, list[str]], list]) -> None:
        """Session end: `kind` is `logout` (EndSession) or `shutdown` (SIGTERM)."""
        if self.quiescing:
            return
        self.quiescing = kind
        self._done = lambda: self._end_session()
        self.log("info", f"Quiescing due to {kind} request")
        for world in self.worlds():
            world.engine.disable_respawn()
        if kind == "logout":
            self.phase = "wait"
            self._arm(JOB_RUNTIME, self._kill_phase)
        else:
            self._kill_phase()
        self.apply(next(iter(self.worlds())), emit("session-end", [f"TYPE={kind}"]))
        self.loop.call_soon(self.guard, self.progress)

    def _kill_phase(self) -> None:
        self.phase = "kill"
        timeouts = [0]
        for world in list(self.worlds()):
            self.apply(world, world.stop_all())
            timeouts += world.kill_timeouts()
        self._arm(max(timeouts) + 1, self._timeout)
        self.loop.call_soon(self.guard, self.progress)

    def _end_session(self) -> None:
        for job in self._instances():
            self.log("message", f"job {job} failed to stop")
        self.finish(0)

    # ------------------------------------------------------------ PID 1

    def final_stage(self, kind: str, *, pid1: bool, in_container: bool) -> None:
        """PID 1's last act: stop every job, then halt, power off or reboot."""
        if self.quiescing:
            return
        self.quiescing = kind
        self.log("message", f"Will now {kind.replace('poweroff', 'power off')}")
        self._done = lambda: self.finish(
            end_system(kind, pid1=pid1, in_container=in_container, log=self.log))
        timeouts = [MIN_TIMEOUT]
        for world in list(self.worlds()):
            self.apply(world, world.stop_all())
            timeouts += world.kill_timeouts()
        self._arm(max(timeouts) + 1, self._timeout, warn="warn")
        self.loop.call_soon(self.guard, self.progress)

    # ------------------------------------------------------------ both

    def _arm(self, delay: float, fn, **kw) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
        self._deadline = self.loop.call_later(delay, self.guard, lambda: fn(**kw))

    def _instances(self) -> list[str]:
        return [f"{job} ({inst})" if inst else job
                for world in self.worlds() for job, inst in world.live_instances()]

    def _busy(self) -> bool:
        return any(world.busy() for world in self.worlds())

    def progress(self) -> None:
        """After every batch of effects while quiescing: done when no job has
        a process left (a Session Init), or no job is left (PID 1)."""
        if self._done is None:
            return
        if self._busy() if self.phase else self._instances():
            return
        self._end()

    def _timeout(self, warn: str | None = None) -> None:
        if self._done is None:
            return
        if warn:                       # PID 1: its survivors (a Session Init's: _end_session)
            for job in self._instances():
                self.log(warn, f"job {job} failed to stop")
        self._end()

    def _end(self) -> None:
        done, self._done = self._done, None
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
        self.loop.call_soon(self.guard, done)


def end_system(kind: str, *, pid1: bool, in_container: bool,
               log: Callable[[str, str], None]) -> int:
    """As PID 1: kill every process, sync, and (on a machine) leave the disks
    clean (upstart/daemon/teardown.py), then halt, power off or reboot.
    Returns init's exit status (it only returns in a namespace)."""
    if pid1:
        if in_container:
            try:
                os.kill(-1, signal.SIGKILL)
            except OSError:
                pass
            os.sync()
        else:           # kill and reap the rest, swap off, file systems read-only
            from upstart.daemon.teardown import teardown
            teardown(log)
        if not in_container:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.reboot(RB_CMD[kind])
    return FINAL_EXIT_STATUS[kind]
