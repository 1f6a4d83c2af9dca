"""The `while` planner: which instances to start and stop (propagate phase).

`plan_whiles(jobs, states)` looks at every class with a `while` condition
and the true states, and returns what must change; it changes nothing. The
core carries the plan out (execute phase: goal changes, instance limits, the
cgroup gate), then, if states opened or closed meanwhile, plans again until
nothing changes (`Dispatch._settle`). The rules (docs/design/states.md):

* level: an instance started that the condition no longer holds for is
  stopped (`stop`);
* edge: an instance name the condition holds for now and did not hold for at
  the previous plan is started (`start`), with the class environment plus
  the witnesses' environments and `UPSTART_STATES`; a job stopped by hand or
  by `stop on` while the condition holds stays down until it toggles;
* gate: a class that also has `start on` is never started here; its events
  start it, and only for names the condition holds for (`wanted`).

Pure: never performs I/O, never reads a clock, never touches jobs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import NamedTuple

from upstart.jobfile.environ import ExpandError, env_merge, env_set, expand
from upstart.jobfile.model import Expr
from upstart.records import dataclass, field
from upstart.states.condition import witnesses
from upstart.states.model import State


@dataclass(frozen=True)
class WhileJob:
    """What the planner needs of one class with `while`."""

    job: str
    condition: Expr
    instance: str                           # the `instance` template
    base_env: tuple[str, ...]               # the class environment
    previous: frozenset[str]                # names held at the previous plan
    goals: Mapping[str, str] = field(default_factory=dict)   # instance -> goal
    gate: bool = False                      # has `start on`: events start it


class Start(NamedTuple):
    job: str
    instance: str
    env: list[str]


class Stop(NamedTuple):
    job: str
    instance: str


class Plan(NamedTuple):
    start: list[Start]
    stop: list[Stop]
    held: dict[str, frozenset[str]]         # job -> names the condition holds for now


def wanted(condition: Expr, instance: str, base_env: Iterable[str],
           states: list[State]) -> dict[str, list[str]]:
    """Instance name -> start environment, for each witness of the condition
    (a witness whose instance name does not expand is skipped)."""
    out: dict[str, list[str]] = {}
    for witness in witnesses(condition, states):
        env = list(base_env)
        for state in witness:
            env_merge(env, state.env)
        env_set(env, "UPSTART_STATES=" + " ".join(s.name for s in witness))
        try:
            name = expand(instance, env)
        except ExpandError:
            continue
        out.setdefault(name, env)
    return out


def plan_whiles(jobs: Iterable[WhileJob], states: list[State]) -> Plan:
    """What to start and stop, class by class in the given order, instances
    by name (see the module doc)."""
    start: list[Start] = []
    stop: list[Stop] = []
    held: dict[str, frozenset[str]] = {}
    for job in jobs:
        want = wanted(job.condition, job.instance, job.base_env, states)
        held[job.job] = frozenset(want)
        for name in sorted(job.goals):
            if name not in want and job.goals[name] != "stop":
                stop.append(Stop(job.job, name))
        if job.gate:
            continue
        for name in sorted(set(want) - job.previous):
            if job.goals.get(name) != "start":
                start.append(Start(job.job, name, want[name]))
    return Plan(start, stop, held)


__all__ = ["WhileJob", "Start", "Stop", "Plan", "wanted", "plan_whiles"]
