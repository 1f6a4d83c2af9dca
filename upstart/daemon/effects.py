"""Carrying out the effects an engine returns, for any world.

The engine decides and returns effects; this is where they happen: log lines,
signals to processes (or to a job's whole cgroup), timers, replies to control
requests, readiness watches, closing descriptors, and everything else (the
D-Bus signals) broadcast to the world's listeners. One `Effects` serves the
global world and every chroot session (`upstart/daemon/world.py`): a world's
effects go to its own backend, timers, readiness adapter, cgroup scope and
object paths.

Its collaborators are given to it; it never raises (one failing effect is
logged and the others still happen: PID 1 must not die of one).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from upstart.core.effects import (
    CancelTimer, CloseFd, EventEmitted, Kill, Log, Reply, SetTimer, StateChanged, Trace, UnwatchReady,
    WatchReady,
)
from upstart.daemon.log import Logger
from upstart.daemon.world import World


class Effects:
    def __init__(self, *, logger: Logger, supervisor: Any, cgroups: Any,
                 broadcast: Callable[[Any, str | None], None],
                 make_readiness: Callable[[World], Any],
                 record: Callable[[list], None] | None = None,
                 after: Callable[[], None] | None = None):
        self.logger = logger
        self.supervisor = supervisor
        self.cgroups = cgroups                # upstart.cgroups.manager.CGroupManager
        self.broadcast = broadcast            # D-Bus signals: (effect, root)
        self.make_readiness = make_readiness  # a world's readiness adapter, at its first watch
        self.record = record                  # the observe recorder (global world only)
        self.after = after                    # run after every batch (shutdown's progress)

    def apply(self, world: World, effects) -> None:
        if not effects:
            if self.after is not None:
                self.after()
            return
        if self.record is not None and world.root is None:
            self.record(effects)
        for effect in effects:
            if type(effect) is Trace:   # perf: for the observer only (it saw the batch)
                continue
            try:
                self._one(world, effect)
            except Exception:  # never let one effect take the daemon down
                import traceback     # footprint: only when something went wrong
                self.logger.log("error", "internal error applying effect: "
                                + traceback.format_exc().strip().replace("\n", " | "))
        if self.after is not None:
            self.after()

    def _one(self, world: World, effect) -> None:
        kind = type(effect)
        if kind is Log:             # perf: the commonest effect, first (no hook applies)
            self.logger.log(effect.priority, effect.message)
            return
        if kind is Trace:           # for the observer only (it saw the batch)
            return
        if kind is Reply:           # perf: an EmitEvent's two effects, early
            world.backend.resolve(effect.token, effect.value, effect.error)
            return
        if kind is EventEmitted:
            self.broadcast(effect, world.root)
            return
        if kind is StateChanged:    # cgroups (issue #9); then broadcast like any signal
            self.cgroups.state_changed(effect.job, effect.instance, effect.state,
                                       scope=world.root)
        if kind is Kill:
            if effect.group and self.cgroups.kill(effect.pid, effect.signal):
                return          # the whole cgroup of the job was signalled
            err = self.supervisor.kill(effect.pid, effect.signal, effect.group)
            if err:
                self.logger.log("warn", err)
        elif kind is Reply:
            world.backend.resolve(effect.token, effect.value, effect.error)
        elif kind is SetTimer:
            world.timers.set(effect.key, effect.delay)
        elif kind is CancelTimer:
            world.timers.cancel(effect.key)
        elif kind is CloseFd:
            try:
                os.close(effect.fd)
            except OSError:
                pass
        elif kind is WatchReady:    # readiness (issue #8)
            if world.readiness is None:
                world.readiness = self.make_readiness(world)
            world.readiness.watch(effect.job, effect.instance, effect.matches, effect.pids)
        elif kind is UnwatchReady:
            if world.readiness is not None:
                world.readiness.unwatch(effect.job, effect.instance)
        else:
            self.broadcast(effect, world.root)
