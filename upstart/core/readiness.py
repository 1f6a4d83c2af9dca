"""The core half of readiness: `ready on`, the `ready` event and state (issue #8).

`Readiness` is a mixin of `Engine` implementing docs/design/interfaces.md §6
and docs/design/readiness.md:

* when an instance of a class with a `ready on` stanza enters `running`
  (right after `started`), it waits to be ready: with no condition it is
  ready at once; otherwise a fresh latching copy of the condition is matched
  (like `stop on`, `$VAR` from the instance environment) against the events
  handled from then on, and against `notify`/`notify-fd` news of its main
  process (`process_notify`); the shell is asked to watch `file`, `socket`,
  `dbus` leaves (`WatchReady`) and to stop (`UnwatchReady`);
* ready: the `ready JOB=… INSTANCE=…` event (+ exported variables) is
  queued and the instance's `ready` state opens; it closes at `stopping`;
* `ready timeout N`: a core timer `(job, instance, "ready")`; expiry fails
  the job with `RESULT=failed PROCESS=ready` and stops it.

Classes without `ready on` never emit `ready` (1.13's event stream is kept
byte for byte) and count as ready while running for `while ready X`.

It owns no state of its own (instances carry theirs) and never performs I/O.
"""

from __future__ import annotations

from typing import Any

from upstart.core import effects as fx
from upstart.jobfile.environ import ExpandError, expand
from upstart.core.event import Event
from upstart.core.job import Instance
from upstart.core.operator import Operator
from upstart.states.model import RUNNING_STATES
from upstart.jobfile.model import Match

# leaves the readiness adapter watches for (it emits the ordinary event)
WATCHED = ("file", "socket", "dbus")
# leaves satisfied by the main process itself (process_notify)
NOTIFY = frozenset({"notify", "notify-fd"})


def watch_matches(instance: Instance) -> tuple[Match, ...]:
    """The `file`/`socket`/`dbus` leaves of the instance's waiting `ready on`,
    `$VAR`s expanded from its environment (left as written if that fails)."""
    out: list[Match] = []
    if instance.ready_on is None:
        return ()
    for leaf in instance.ready_on.leaves():
        if leaf.name in WATCHED:
            try:
                args = tuple(expand(a, instance.env) if "$" in a else a for a in leaf.args)
            except ExpandError:
                args = leaf.args
            out.append(Match(leaf.name, args))
    return tuple(out)


class Readiness:
    """Mixin: ready on / ready / ready timeout (see module doc)."""

    @staticmethod
    def _ready_key(instance: Instance) -> fx.TimerKey:
        return fx.TimerKey(instance.job, instance.name, "ready")

    def _waiting_ready(self, instance: Instance) -> bool:
        return (instance.ready_on is not None and not instance.ready
                and instance.goal == "start" and instance.state in RUNNING_STATES)

    def _ready_begin(self, instance: Instance) -> None:
        """Entering `running` after `started`: start waiting to be ready."""
        jc = instance.entry.job_class
        instance.ready = False
        instance.ready_on = None
        if not jc.ready:
            return
        if jc.ready_on is None:
            self._become_ready(instance)
            return
        instance.ready_on = Operator.from_expr(jc.ready_on)
        if instance.notified:
            instance.ready_on.latch_names(NOTIFY, Event("notify", ["READY=1"],
                                                        progress="finished"))
            if instance.ready_on.value:
                self._become_ready(instance)
                return
        watch = watch_matches(instance)
        if watch:
            instance.ready_watch = True
            pids = tuple(pid for _slot, pid in instance.processes())
            self._out.append(fx.WatchReady(instance.job, instance.name, tuple(watch), pids))
        if jc.ready_timeout:
            instance.ready_timer = True
            self._out.append(fx.SetTimer(self._ready_key(instance), jc.ready_timeout))
        self._log("info", f"{instance.display} waiting to be ready")

    def _ready_stop_watching(self, instance: Instance) -> None:
        instance.ready_on = None
        if instance.ready_watch:
            instance.ready_watch = False
            self._out.append(fx.UnwatchReady(instance.job, instance.name))
        if instance.ready_timer:
            instance.ready_timer = False
            self._out.append(fx.CancelTimer(self._ready_key(instance)))

    def _ready_end(self, instance: Instance) -> None:
        """Entering `stopping`: the ready state closes, waiting stops."""
        self._ready_stop_watching(instance)
        if instance.ready:
            self._states_dirty = True
        instance.ready = False

    def _become_ready(self, instance: Instance) -> None:
        self._ready_stop_watching(instance)
        instance.ready = True
        self._states_dirty = True
        self._log("info", f"{instance.display} is ready")
        self._emit_job_event(instance, "ready")

    # ---- sources

    def _handle_ready_on(self, instance: Instance, event: Event) -> None:
        if not self._waiting_ready(instance):
            return
        oper = instance.ready_on
        assert oper is not None
        if oper.handle(event, instance.env) and oper.value:
            self._become_ready(instance)

    def _process_notify(self, pid: int, fields: list[str]) -> None:
        found = self._pids.get(pid)
        if found is None or found[1] != "main":
            return
        instance = found[0]
        for item in fields:
            key, _, value = item.partition("=")
            if key == "STATUS":
                instance.notify_status = value
            elif key == "MAINPID" and value.isdigit():
                instance.notify_mainpid = int(value)
        if "READY=1" not in fields or instance.goal != "start":
            return
        if instance.state not in RUNNING_STATES:
            instance.notified = True          # before `running`: counted when it gets there
            return
        if not self._waiting_ready(instance):
            return
        oper = instance.ready_on
        assert oper is not None
        if oper.latch_names(NOTIFY, Event("notify", list(fields), progress="finished")) \
                and oper.value:
            self._become_ready(instance)

    def _ready_timer_fired(self, key: Any) -> None:
        entry = self.registry.get(key[0])
        instance = entry.instances.get(key[1]) if entry else None
        if instance is None or not instance.ready_timer:
            return
        instance.ready_timer = False
        if not self._waiting_ready(instance):
            return
        self._log("warn", f"{instance.display} not ready in time, stopping")
        self._ready_stop_watching(instance)
        self._job_failed(instance, "ready", -1)
        self._change_goal(instance, "stop")


__all__ = ["Readiness", "WATCHED", "NOTIFY", "watch_matches"]
