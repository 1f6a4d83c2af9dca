"""Job-derived states: `running` and `ready` from a view of the instances.

`running JOB=… INSTANCE=… [exported vars]` is true from `started` until
`stopping` (the job states of `RUNNING_STATES`); `ready` with the same
environment from the instance's ready point (at once for a job without
`ready on`) until `stopping`. The core passes a `JobView` per instance; this
module never sees the instances themselves.
"""

from __future__ import annotations

from collections.abc import Iterable

from upstart.jobfile.environ import env_lookup, env_set
from upstart.records import dataclass
from upstart.states.model import RUNNING_STATES, State


@dataclass(frozen=True)
class JobView:
    """What the states need of one instance."""

    job: str
    instance: str
    state: str                      # the job state machine's state
    ready: bool                     # past its ready point (or no `ready on`)
    env: tuple[str, ...] = ()       # the instance's environment
    export: tuple[str, ...] = ()    # the class's `export` keys


def is_running(state: str) -> bool:
    return state in RUNNING_STATES


def job_state_env(view: JobView) -> tuple[str, ...]:
    env = [f"JOB={view.job}", f"INSTANCE={view.instance}"]
    for key in view.export:
        value = env_lookup(list(view.env), key)
        if value is not None:
            env_set(env, f"{key}={value}", replace=False)
    return tuple(env)


def is_ready(view: JobView) -> bool:
    return view.state in RUNNING_STATES and view.ready


def job_states(views: Iterable[JobView]) -> list[State]:
    """Every `running` state, then every `ready` one, in the views' order."""
    running: list[State] = []
    ready: list[State] = []
    for view in views:
        if view.state in RUNNING_STATES:
            env = job_state_env(view)
            running.append(State("running", env))
            if view.ready:
                ready.append(State("ready", env))
    return running + ready


__all__ = ["JobView", "is_running", "is_ready", "job_state_env", "job_states"]
