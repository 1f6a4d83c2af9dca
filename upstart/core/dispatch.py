"""The event-queue half of the engine: upstream's `event.c` pass.

`Dispatch` is a mixin of `Engine`: `_settle` alternates the queue pass and
spawn confirmations until both are quiet; `_poll` moves events through
pending -> handling -> finished; `_handle` offers an event to the classes
whose conditions name it (job-name order; per class every instance's
`stop on` and `ready on` first, then the class's `start on`); `_finish`
releases what the event blocked, answers emitters, derives `<name>/failed`,
and emits `EventEmitted`. Between queue passes `_settle` re-evaluates the
`while` jobs when a state opened or closed. Decisions are written in
docs/design/events.md and docs/design/states.md.

It owns no state of its own (the `Engine` does) and never performs I/O.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from upstart.core import effects as fx
from upstart.core.effects import upstart_error
from upstart.jobfile.environ import ExpandError, env_merge, env_set, expand
from upstart.core.event import Event
from upstart.core.job import Instance
from upstart.core.limits import check_new_instance
from upstart.core.registry import ClassEntry


class Dispatch:
    """Mixin: the event queue (see module doc).

    Uses the Engine's `registry`, `queue`, `_confirm`, `confirm_delay`,
    `_out`, `_stats`, `_trace` and the lifecycle helpers (`_change_state`,
    `_next`, `_change_goal`, `_job_finished`, `_attach`, `_hold`, `_confirmed`).
    """

    # ---- the event queue (event_poll, event_pending_handle_jobs, event_finished)

    CONFIRM_TIMER = fx.CONFIRM_TIMER

    def _settle(self, confirm: bool = False) -> None:
        """Queue pass, then spawn confirmations, until both are empty.

        With `confirm_delay`, and while some job's main process is being
        killed (its kill timer armed), confirmations wait for their timer (or
        for an exit of the same process) instead, like upstream's exec pipe,
        which is read in a later main-loop iteration than the fork, after the
        dead children are reaped: the death on its way is seen first (golden
        108). With no kill on its way nothing can overtake a confirmation, and
        it is delivered at the end of the same input."""
        while True:
            self._poll()
            if self._states_dirty:               # a state opened or closed: `while` jobs
                self._states_dirty = False
                self._evaluate_whiles()
                continue
            if not self._confirm:
                return
            if self.confirm_delay > 0 and not confirm and self._kills_armed:
                if not self._confirm_armed:
                    self._confirm_armed = True
                    self._out.append(fx.SetTimer(self.CONFIRM_TIMER, self.confirm_delay))
                return
            self._deliver_confirmations(lambda c: True)

    def _confirm_timer_fired(self) -> None:
        self._confirm_armed = False
        self._deliver_confirmations(lambda c: True)

    def _deliver_confirmations(self, which: Callable[[Any], bool]) -> None:
        batch = [c for c in self._confirm if which(c)]
        self._confirm = [c for c in self._confirm if not which(c)]
        for instance, slot, pid, error in batch:
            self._confirmed(instance, slot, pid, error)

    def _poll(self) -> None:
        events = self.queue.events
        again = True
        while again:
            again = False
            i = 0
            while i < len(events):
                event = events[i]
                if event.progress == "pending":
                    event.progress = "handling"
                    self._handle(event)
                    again = True
                if event.progress == "handling":
                    if event.blockers:
                        i += 1
                        continue
                    event.progress = "finished"
                if event.progress == "finished":
                    self._finish(event)
                    again = True
                    if i < len(events) and events[i] is event:
                        i += 1
                    continue
                i += 1

    def _handle(self, event: Event) -> None:
        self._trace("handling", event.name, event=event.id)
        if self.log_enabled("info"):
            self._log("info", f"Handling {event.name} event")
        self._stats["events_handled"] += 1
        if self._state_decls or self._state_until:
            self._handle_state_events(event)     # `state` declarations: before the jobs
        for entry in list(self.registry.for_event(event.name)):
            for instance in entry.sorted_instances():
                self._handle_stop_on(instance, event)
                self._handle_ready_on(instance, event)
            self._handle_start_on(entry, event)

    def _handle_stop_on(self, instance: Instance, event: Event) -> None:
        oper = instance.stop_on
        if oper is None or not oper.handle(event, instance.env) or not oper.value:
            return
        events = oper.matched()
        if instance.goal != "stop":
            stop_env: list[str] = []
            for ev in events:
                env_merge(stop_env, ev.env)
            env_set(stop_env, "UPSTART_STOP_EVENTS=" + " ".join(ev.name for ev in events))
            instance.stop_env = stop_env
            self._job_finished(instance, False)
            self._attach(instance, events)
            self._change_goal(instance, "stop")
        elif instance.state != "waiting":
            self._hold(instance, events)         # decision (b): held until it rests
        oper.reset()

    def _handle_start_on(self, entry: ClassEntry, event: Event) -> None:
        oper = entry.start_on
        if oper is None or self.registry.get(entry.name) is not entry:
            return
        if not oper.handle(event, None) or not oper.value:
            return
        if self._gated(entry):
            self._cgroup_held.add(entry.name)     # stays latched until the manager is known
            return
        self._fire_start(entry)

    def _fire_start(self, entry: ClassEntry) -> None:
        """The class's start condition is complete: start (or hold) the instance."""
        oper = entry.start_on
        assert oper is not None
        events = oper.matched()
        env = self._class_environment(entry)
        for ev in events:
            env_merge(env, ev.env)
        env_set(env, "UPSTART_EVENTS=" + " ".join(ev.name for ev in events))
        try:
            name = expand(entry.job_class.instance, env)
        except ExpandError as err:
            self._log("warn", f"Failed to obtain {entry.name} instance: {err}")
            oper.reset()
            return
        existing = entry.instances.get(name)
        if (existing is None or existing.goal != "start") and not self._while_allows(entry, name):
            self._log("info", f"{entry.name} not started: its while condition does not hold")
            oper.reset()                          # `while` gates `start on` (states.md)
            return
        if existing is None:                      # hardening: bounded instances
            bound = check_new_instance(self.limits, entry.name, len(entry.instances), name)
            if bound is not None:
                self._log("warn", f"{entry.name} not started: {bound.message}")
                oper.reset()
                return
        instance = existing or self._new_instance(entry, name)
        if instance.goal != "start":
            fds = [str(ev.fd) for ev in events if ev.fd is not None]
            if fds:
                env_set(env, "UPSTART_FDS=" + " ".join(fds))
                env_set(env, "UPSTART_FD=" + fds[0])     # roadmap 07 §8 (RM-05)
            instance.start_env = env
            self._job_finished(instance, False)
            self._attach(instance, events)
            self._change_goal(instance, "start")
        elif instance.state != "running" or entry.job_class.task:
            self._hold(instance, events)         # decision (b): held until it rests
        oper.reset()

    def _finish(self, event: Event) -> None:
        self._stats["events_finished"] += 1
        self.queue.remove(event)
        self._trace("finished", event.name, event=event.id)
        if self.log_enabled("debug"):
            self._log("debug", f"Finished {event.name} event")
        blocking, event.blocking = event.blocking, []
        for kind, obj in blocking:
            if kind == "job":
                instance: Instance = obj
                instance.blocker = None
                self._change_state(instance, self._next(instance))
            elif event.failed:
                self._reply_error(obj, upstart_error("EventFailed", "Event failed"))
            else:
                self._out.append(fx.Reply(obj))
        if event.failed and not event.name.endswith("/failed"):
            self._queue_event(event.name + "/failed", list(event.env))
        if event.fd is not None:
            self._out.append(fx.CloseFd(event.fd))
        self._out.append(fx.EventEmitted(event.name, tuple(event.env)))
