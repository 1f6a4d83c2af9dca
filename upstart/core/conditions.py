"""The `while` half of the engine: states and level-triggered jobs (issue #7).

`Conditions` is a mixin of `Engine`. It owns the rules of
docs/design/states.md:

* the current states: the external `StateTable` (set/clear by name) plus the
  job-derived `running JOB=… INSTANCE=…` (from `started` until `stopping`)
  and `ready JOB=… INSTANCE=…` (from the ready point until `stopping`);
* `_evaluate_whiles`: run by `_settle` whenever a state may have changed
  (`_states_dirty`): for each class with `while`, the instance names its
  condition holds for now; instances started that are no longer wanted get
  goal stop (level); names newly wanted are started (edge: a job stopped by
  hand or by `stop on` while the condition holds stays down until it toggles),
  unless the class also has `start on`, whose events then start it (gate);
* the gates: a `start on` firing or a start command for an instance the
  condition does not hold for is refused.

It owns no state of its own beyond what the Engine keeps (`states`,
`_states_dirty`, `ClassEntry.while_names`) and never performs I/O.
"""

from __future__ import annotations

from typing import Any

from upstart.core.effects import INVALID_ARGS, ControlError, ControlFailure, upstart_error
from upstart.core.environ import ExpandError, env_lookup, env_merge, env_set, expand
from upstart.core.job import Instance
from upstart.core.limits import check_env, check_name, check_new_instance, refuse
from upstart.core.registry import ClassEntry
from upstart.core.states import JOB_STATE_NAMES, RUNNING_STATES, State, witnesses


class Conditions:
    """Mixin: states, `while` (see module doc)."""

    # ---- inputs (called through Engine.set_state / clear_state)

    def _validate_state(self, name: str, env: list[str] | None) -> None:
        if not name:
            raise ControlFailure(ControlError(INVALID_ARGS, "Name may not be empty string"))
        if any(c.isspace() for c in name) or "=" in name:
            raise ControlFailure(ControlError(INVALID_ARGS, f"Illegal state name: {name}"))
        if name in JOB_STATE_NAMES:
            raise ControlFailure(upstart_error(
                "PermissionDenied", f"State is kept by jobs and cannot be changed: {name}"))
        if env is not None and any("=" not in e for e in env):
            raise ControlFailure(ControlError(INVALID_ARGS, "Env must be KEY=VALUE pairs"))
        if env is not None:                       # hardening: bounded states
            bound = check_name(self.limits, name, "State name") or \
                check_env(self.limits, env, "State environment")
            if bound is None and name not in self.states and \
                    len(self.states.states()) >= self.limits.states:
                bound = refuse(f"{len(self.states.states())} states are set, "
                               f"limit is {self.limits.states}")
            if bound is not None:
                raise ControlFailure(bound)

    def _set_state(self, name: str, env: list[str]) -> None:
        if self.states.set(name, env):
            self._log("info", f"State {name} set")
            self._states_dirty = True

    def _clear_state(self, name: str) -> None:
        if self.states.clear(name):
            self._log("info", f"State {name} cleared")
            self._states_dirty = True

    # ---- the current states

    def _job_state_env(self, instance: Instance) -> tuple[str, ...]:
        env = [f"JOB={instance.job}", f"INSTANCE={instance.name}"]
        for key in instance.entry.job_class.export:
            value = env_lookup(instance.env, key)
            if value is not None:
                env_set(env, f"{key}={value}", replace=False)
        return tuple(env)

    def _is_ready(self, instance: Instance) -> bool:
        """Ready: after its ready point (a job without `ready on` is ready
        as soon as it is running), until `stopping`."""
        if instance.state not in RUNNING_STATES:
            return False
        return instance.ready or not instance.entry.job_class.ready

    def current_states(self) -> list[State]:
        """Every true state: set ones by name, then running/ready per instance."""
        out = self.states.states()
        running: list[State] = []
        ready: list[State] = []
        for name in self.registry.names():
            for instance in self.registry.entries[name].sorted_instances():
                if instance.state in RUNNING_STATES:
                    env = self._job_state_env(instance)
                    running.append(State("running", env))
                    if self._is_ready(instance):
                        ready.append(State("ready", env))
        return out + running + ready

    # ---- `while`

    def _while_wanted(self, entry: ClassEntry, states: list[State]) -> dict[str, list[str]]:
        """Instance name -> start environment, for each witness of the condition."""
        jc = entry.job_class
        assert jc.while_ is not None
        out: dict[str, list[str]] = {}
        for witness in witnesses(jc.while_, states):
            env = self._class_environment(entry)
            for state in witness:
                env_merge(env, state.env)
            env_set(env, "UPSTART_STATES=" + " ".join(s.name for s in witness))
            try:
                name = expand(jc.instance, env)
            except ExpandError:
                continue
            out.setdefault(name, env)
        return out

    def _while_allows(self, entry: ClassEntry, name: str) -> bool:
        if entry.job_class.while_ is None:
            return True
        return name in self._while_wanted(entry, self.current_states())

    def _while_refusal(self, entry: ClassEntry, name: str) -> ControlError:
        who = f"{entry.name} ({name})" if name else entry.name
        return upstart_error("ConditionFalse",
                             f"Job cannot be started while its condition is false: {who}")

    def _evaluate_whiles(self) -> None:
        jobs = self.registry.while_jobs()        # perf: indexed, not a scan of every class
        for job in jobs:
            entry = self.registry.get(job)
            if entry is None or entry.job_class.while_ is None:
                continue
            # fresh per class: an earlier class of this pass may have stopped jobs
            wanted = self._while_wanted(entry, self.current_states())
            previous, entry.while_names = entry.while_names, set(wanted)
            for instance in entry.sorted_instances():
                if instance.name not in wanted and instance.goal != "stop":
                    self._log("info", f"{instance.display} condition no longer holds")
                    instance.stop_env = []
                    self._job_finished(instance, False)
                    self._change_goal(instance, "stop")
            if entry.job_class.start_on is not None or self.registry.get(job) is not entry:
                continue
            for name in sorted(set(wanted) - previous):
                if self._gated(entry):
                    continue
                if name not in entry.instances:    # hardening: bounded instances
                    bound = check_new_instance(self.limits, entry.name,
                                               len(entry.instances), name)
                    if bound is not None:
                        self._log("warn", f"{entry.name} not started: {bound.message}")
                        continue
                instance = entry.instances.get(name) or self._new_instance(entry, name)
                if instance.goal == "start":
                    continue
                self._log("info", f"{instance.display} condition holds")
                instance.start_env = wanted[name]
                self._job_finished(instance, False)
                self._change_goal(instance, "start")

    # ---- snapshot helpers

    def _conditions_snapshot(self) -> dict[str, Any]:
        return {"states": self.states.to_json(),
                "while_names": {n: sorted(e.while_names)
                                for n, e in self.registry.entries.items() if e.while_names}}


__all__ = ["Conditions"]
