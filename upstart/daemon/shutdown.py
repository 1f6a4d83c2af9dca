"""The end of init: a Session Init's quiesce, and PID 1's final stage.

Both stop every job of every world (no more respawns), wait until none is
left or a deadline passes (the longest kill timeout, at least 5 s, plus one),
then finish: a Session Init exits 0; PID 1 kills what is left, syncs and asks
the kernel to halt, power off or reboot (`end_system`). In a PID namespace
the kernel refuses, and init's exit status tells its parent what was asked.
"""

from __future__ import annotations

import asyncio
import ctypes
import os
import signal
from collections.abc import Callable, Iterable

from upstart.daemon.world import World

RB_CMD = {"halt": 0xCDEF0123, "poweroff": 0x4321FEDC, "reboot": 0x01234567}
# in a PID namespace the end of PID 1 tells its parent what was asked for
FINAL_EXIT_STATUS = {"halt": 0, "poweroff": 0, "reboot": 128 + 1}
MIN_TIMEOUT = 5


class Shutdown:
    def __init__(self, *, loop: asyncio.AbstractEventLoop, log: Callable[[str, str], None],
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
        self._done: Callable[[], None] | None = None

    def quiesce(self, kind: str, emit: Callable[[str, list[str]], list]) -> None:
        """Session end: emit `session-end TYPE=kind`, stop every job, exit 0."""
        if self.quiescing:
            return
        self.log("info", f"Quiescing due to {kind} request")
        self._stop_everything(kind, lambda: self.finish(0))
        world = next(iter(self.worlds()))
        self.apply(world, emit("session-end", [f"TYPE={kind}"]))

    def final_stage(self, kind: str, *, pid1: bool, in_container: bool) -> None:
        """PID 1's last act: stop every job, then halt, power off or reboot."""
        if self.quiescing:
            return
        self.log("message", f"Will now {kind.replace('poweroff', 'power off')}")
        self._stop_everything(kind, lambda: self.finish(
            end_system(kind, pid1=pid1, in_container=in_container, log=self.log)))

    def _stop_everything(self, kind: str, done: Callable[[], None]) -> None:
        self.quiescing = kind
        self._done = done
        timeouts = [MIN_TIMEOUT]
        for world in list(self.worlds()):
            self.apply(world, world.stop_all())
            timeouts += world.kill_timeouts()
        timeout = max(timeouts) + 1
        self.loop.call_later(timeout, self.guard, self._timeout)
        self.loop.call_later(0.05, self.guard, self.progress)

    def _live(self) -> list[tuple[str, str]]:
        return [live for world in self.worlds() for live in world.live_instances()]

    def progress(self) -> None:
        """After every batch of effects while quiescing: done when no job is left."""
        if self._done is not None and not self._live():
            done, self._done = self._done, None
            self.loop.call_soon(self.guard, done)

    def _timeout(self) -> None:
        if self._done is None:
            return
        for job, _inst in self._live():
            self.log("warn", f"job {job} failed to stop")
        done, self._done = self._done, None
        done()


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
