"""The `while` half of the engine: carrying out the states planner (issue #7).

`Whiles` is a mixin of `Engine`. The rules live in the pure package
`upstart.states` (docs/design/states.md); this module is the execute phase:

* the inputs `set-state`/`clear-state`: validation (names, bounds) and the
  engine's `StateTable`;
* `current_states`: the table's states plus the job-derived ones, from a
  `JobView` of every instance (`states.derive`);
* `_evaluate_whiles`: run by `_settle` whenever a state may have changed
  (`_states_dirty`): asks `states.plan.plan_whiles` for the plan and
  carries it out: goal stop for each `stop`, goal start for each `start`
  unless the cgroup gate or the instance limit refuses it;
* the gates: a `start on` firing or a start command for an instance the
  condition does not hold for is refused.

It owns no state of its own beyond what the Engine keeps (`states`,
`_states_dirty`, `ClassEntry.while_names`) and never performs I/O.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from upstart.core.effects import INVALID_ARGS, ControlError, ControlFailure, upstart_error
from upstart.core.job import Instance
from upstart.core.limits import check_env, check_name, check_new_instance, refuse
from upstart.core.registry import ClassEntry
from upstart.states.model import JOB_STATE_NAMES, State

if TYPE_CHECKING:
    from upstart.states.derive import JobView
    from upstart.states.plan import WhileJob

# footprint (issue #23): the planner (`states.plan`, `derive`, `condition`) is
# imported when a `while` or a query first needs it, not on init's start path


class Whiles:
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
        self._declared_refusal(name)
        if env is not None and any("=" not in e for e in env):
            raise ControlFailure(ControlError(INVALID_ARGS, "Env must be KEY=VALUE pairs"))
        if env is not None:                       # hardening: bounded states
            bound = check_name(self.limits, name, "State name") or \
                check_env(self.limits, env, "State environment")
            if bound is None and name not in self.states and \
                    len(self.states) >= self.limits.states:
                bound = refuse(f"{len(self.states)} states are set, "
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

    @staticmethod
    def _job_view(instance: Instance) -> JobView:
        from upstart.states.derive import JobView
        jc = instance.entry.job_class
        return JobView(instance.job, instance.name, instance.state,
                       instance.ready or not jc.ready, tuple(instance.env), tuple(jc.export))

    def _is_ready(self, instance: Instance) -> bool:
        """Ready: after its ready point (a job without `ready on` is ready
        as soon as it is running), until `stopping`."""
        from upstart.states.derive import is_ready
        return is_ready(self._job_view(instance))

    def current_states(self) -> list[State]:
        """Every true state: set ones by name, then running/ready per instance."""
        from upstart.states.derive import job_states
        views = [self._job_view(instance)
                 for name in self.registry.names()
                 for instance in self.registry.entries[name].sorted_instances()]
        return self.states.states() + job_states(views)

    # ---- `while`

    def _while_allows(self, entry: ClassEntry, name: str) -> bool:
        jc = entry.job_class
        if jc.while_ is None:
            return True
        from upstart.states.plan import wanted
        return name in wanted(jc.while_, jc.instance, self._class_environment(entry),
                              self.current_states())

    def _while_refusal(self, entry: ClassEntry, name: str) -> ControlError:
        who = f"{entry.name} ({name})" if name else entry.name
        return upstart_error("ConditionFalse",
                             f"Job cannot be started while its condition is false: {who}")

    def _while_job(self, entry: ClassEntry) -> WhileJob:
        from upstart.states.plan import WhileJob
        jc = entry.job_class
        assert jc.while_ is not None
        return WhileJob(entry.name, jc.while_, jc.instance,
                        tuple(self._class_environment(entry)), frozenset(entry.while_names),
                        {name: inst.goal for name, inst in entry.instances.items()},
                        gate=jc.start_on is not None)

    def _states_diff(self, states: list[State]) -> tuple[list[State], list[State]]:
        """The states opened and closed since the previous evaluation, each
        traced for the recorder (`why`: since when a leaf holds)."""
        now = set(states)
        seen, self._seen_states = self._seen_states, now
        if seen is None:                  # the first evaluation: every state is news
            for state in states:
                self._trace("opened", state.name, data=state.env)
            return [], []
        opened = [s for s in states if s not in seen]
        closed = sorted(seen - now, key=lambda s: (s.name, s.env))
        for state in opened:
            self._trace("opened", state.name, data=state.env)
        for state in closed:
            self._trace("closed", state.name, data=state.env)
        return opened, closed

    @staticmethod
    def _leaf_changes(entry: ClassEntry, opened: list[State],
                      closed: list[State]) -> tuple[str, ...]:
        """`+TEXT`/`-TEXT` for the opened/closed states a leaf of the class's
        condition matches: what moved it."""
        from upstart.states.condition import leaf_matches, leaves
        assert entry.job_class.while_ is not None
        tree = leaves(entry.job_class.while_)
        return tuple([f"+{s.text()}" for s in opened if any(leaf_matches(x, s) for x in tree)] +
                     [f"-{s.text()}" for s in closed if any(leaf_matches(x, s) for x in tree)])

    def _evaluate_whiles(self) -> None:
        entries = [self.registry.get(job) for job in self.registry.while_jobs()]
        entries = [e for e in entries if e is not None and e.job_class.while_ is not None]
        if not entries:
            self._seen_states = None         # perf: no `while`, nothing to plan or trace
            return
        states = self.current_states()
        opened, closed = self._states_diff(states)
        from upstart.states.plan import plan_whiles
        plan = plan_whiles([self._while_job(e) for e in entries], states)
        for entry in entries:
            entry.while_names = set(plan.held[entry.name])
        for job, name in plan.stop:
            entry = self.registry.get(job)
            instance = entry.instances.get(name) if entry is not None else None
            if instance is None or instance.goal == "stop":
                continue
            self._log("info", f"{instance.display} condition no longer holds")
            self._trace("while", job, data=(name, "stop") +
                        self._leaf_changes(entry, opened, closed))
            instance.stop_env = []
            self._job_finished(instance, False)
            self._change_goal(instance, "stop")
        for job, name, env in plan.start:
            entry = self.registry.get(job)
            if entry is None or entry.job_class.while_ is None or self._gated(entry):
                continue
            if name not in entry.instances:    # hardening: bounded instances
                bound = check_new_instance(self.limits, entry.name, len(entry.instances), name)
                if bound is not None:
                    self._log("warn", f"{entry.name} not started: {bound.message}")
                    continue
            instance = entry.instances.get(name) or self._new_instance(entry, name)
            if instance.goal == "start":
                continue
            self._log("info", f"{instance.display} condition holds")
            self._trace("while", job, data=(name, "start") +
                        self._leaf_changes(entry, opened, closed))
            instance.start_env = env
            self._job_finished(instance, False)
            self._change_goal(instance, "start")


__all__ = ["Whiles"]
