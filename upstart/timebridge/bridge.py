"""The bridge proper: jobs' `time` leaves in, planner decisions out, on a loop.

`Bridge` owns the mapping from job (object path) to its `time` leaves, turns
the set of valid leaves into the planner's schedules, feeds the planner the
signals init sends (`JobAdded`, `JobRemoved`, `EventEmitted`), emits what the
planner says is due, and writes the state file after each change. `run()` is
the only loop: it sleeps in `select` on init's socket (and on the clock-set
watch) for as long as the planner allows.

Clocks and the link are injected so tests can drive a bridge against a
fake init. Never computes a time itself (the planner does) and never talks
to anything but init.
"""

from __future__ import annotations

import time
from typing import Callable

from upstart.control.client import CallError
from upstart.reactor.loop import Reactor
from upstart.timebridge import state as state_file
from upstart.timebridge.planner import Planner
from upstart.timebridge.schedule import (EVENT, Leaf, ScheduleError, crossfire,
                                         parse_time_match, time_leaves)


def collect(leaves: list[Leaf], warn: Callable[[str], None] | None = None):
    """Valid schedules (deduplicated by key) and, per key, the leaves using them."""
    schedules, users = {}, {}
    for leaf in leaves:
        try:
            sched = parse_time_match(leaf.args)
        except ScheduleError as exc:
            if warn:
                warn("Ignored time event in %s (%s): %s" % (leaf.job, leaf.stanza, exc))
            continue
        schedules.setdefault(sched.key, sched)
        users.setdefault(sched.key, []).append(leaf)
    if warn:
        for sched in schedules.values():
            for other in crossfire(sched, leaves):
                warn("time event %s also matches %s (%s): time %s"
                     % (sched.key, other.job, other.stanza, " ".join(other.args)))
    return schedules, users


class Bridge:
    def __init__(self, link, planner: Planner, *, state_path: str | None,
                 boot: str = "", init: str = "", log: Callable[[str], None] = lambda s: None,
                 wall: Callable[[], float] = time.time,
                 mono: Callable[[], float] = time.monotonic, clockwatch=None):
        self.link = link
        self.planner = planner
        self.state_path = state_path
        self.boot = boot
        self.init = init
        self.log = log
        self.wall = wall
        self.mono = mono
        self.clockwatch = clockwatch
        self.leaves: dict[str, list[Leaf]] = {}
        self._warned: set[str] = set()

    # ------------------------------------------------------------- jobs

    def load(self) -> None:
        """Restore the state file, then read every job's conditions."""
        if self.state_path:
            saved = state_file.load(self.state_path)
            self.planner.restore(saved.schedules, same_boot=bool(self.boot)
                                 and saved.boot == self.boot,
                                 same_init=bool(self.init) and saved.init == self.init)
        for path in self.link.job_paths():
            self._read_job(path)
        self._refresh()

    def _read_job(self, path: str) -> None:
        got = self.link.job_conditions(path)
        if got is None:
            self.leaves.pop(path, None)
            return
        name, start_on, stop_on = got
        leaves = time_leaves(name, start_on, stop_on)
        if leaves:
            self.leaves[path] = leaves
        else:
            self.leaves.pop(path, None)

    def _warn_once(self, text: str) -> None:
        if text not in self._warned:
            self._warned.add(text)
            self.log(text)

    def _refresh(self) -> None:
        all_leaves = [leaf for leaves in self.leaves.values() for leaf in leaves]
        schedules, _ = collect(all_leaves, self._warn_once)
        self.planner.update(schedules.values(), self.wall(), self.mono())

    def handle_signal(self, member: str, body: list) -> None:
        if member == "JobAdded" and body:
            self._read_job(body[0])
            self._refresh()
        elif member == "JobRemoved" and body:
            if self.leaves.pop(body[0], None) is not None:
                self._refresh()
        elif member == "EventEmitted" and len(body) >= 2:
            self.planner.observe(body[0], list(body[1]), self.wall(), self.mono())

    # ------------------------------------------------------------- loop

    def save(self) -> None:
        if self.state_path and self.planner.dirty:
            try:
                state_file.save(self.state_path, state_file.State(
                    self.boot, self.init, self.planner.snapshot()))
                self.planner.dirty = False
            except OSError as exc:
                self._warn_once("Unable to write %s: %s" % (self.state_path, exc.strerror))

    def step(self) -> float:
        """Emit everything due now; returns how long the loop may sleep."""
        wall, mono = self.wall(), self.mono()
        fires = self.planner.tick(wall, mono)
        jump = self.planner.last_jump
        if jump is not None:
            self.log("Wall clock jumped by %+.1fs%s" % (
                jump.delta, "; calendar re-planned" if jump.replanned else ""))
        for fire in fires:
            self.log("Emitting %s %s" % (EVENT, " ".join(fire.env)))
            try:
                self.link.emit(EVENT, fire.env)
            except CallError as exc:
                self.log("Unable to emit %s %s: %s" % (EVENT, fire.schedule.key, exc.message))
        self.save()
        return self.planner.next_wakeup(self.wall(), self.mono())

    def pump(self) -> None:
        """Handle every signal that is already here (raises LinkError at EOF)."""
        for member, body in self.link.read_signals():
            self.handle_signal(member, body)

    def run(self, loop=None) -> None:
        """Until init goes away (LinkError propagates), on `loop` (a fresh
        reactor by default, closed at the end)."""
        own = loop is None
        loop = Reactor() if own else loop
        finished = loop.create_future()
        timer = None

        def wake(pump: bool = False, clock: bool = False) -> None:
            nonlocal timer
            try:
                if pump:
                    self.pump()
                if clock and self.clockwatch.acknowledge():
                    self.log("Wall clock was set")
                while True:
                    wait = self.step()
                    if not self.link.has_queued():
                        break
                    self.pump()               # a call left signals behind
            except Exception as exc:  # noqa: BLE001 - ends run(), raised there
                loop.remove_reader(self.link.fileno())
                if not finished.done():
                    finished.set_exception(exc)
                return
            if timer is not None:
                timer.cancel()
            timer = loop.call_later(wait, wake)

        loop.add_reader(self.link.fileno(), wake, True)
        if self.clockwatch is not None:
            loop.add_reader(self.clockwatch.fileno(), wake, False, True)
        loop.call_soon(wake)
        try:
            loop.run_until_complete(finished)
        finally:
            if timer is not None:
                timer.cancel()
            loop.remove_reader(self.link.fileno())
            if self.clockwatch is not None:
                loop.remove_reader(self.clockwatch.fileno())
            if own:
                loop.close()
