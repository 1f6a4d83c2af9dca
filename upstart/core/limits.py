"""Size and count limits of the engine (issue #14, docs/reliability.md).

Nothing a caller sends may make init grow without bound. `Limits` holds the
numbers (an attribute of the `Engine`, so tests can shrink them); the check
functions return a `ControlError` naming the limit, or None. Every refusal is
`org.freedesktop.DBus.Error.LimitsExceeded` with a message saying which limit
and its value; the engine never raises for it and never drops state.

Pure: no I/O, standard library only.
"""

from __future__ import annotations


from upstart.core.effects import ControlError
from upstart.records import dataclass

LIMITS_EXCEEDED = "org.freedesktop.DBus.Error.LimitsExceeded"


@dataclass
class Limits:
    event_name: int = 1024          # characters of an event (or state) name
    env_entries: int = 1024         # KEY=VALUE entries of one event/command/state
    env_entry: int = 32 * 1024      # characters of one entry
    env_total: int = 256 * 1024     # characters of one environment, all entries
    queued_events: int = 65536      # events in the queue (pending or blocked)
    instances: int = 10000          # instances of one job class
    instance_name: int = 1024       # characters of an instance name
    job_name: int = 1024            # characters of a job (class) name
    states: int = 4096              # named states (set-state)


def refuse(text: str) -> ControlError:
    return ControlError(LIMITS_EXCEEDED, text)


def check_env(limits: Limits, env: list[str], what: str = "Environment") -> ControlError | None:
    """An environment list: entry count, entry size, total size."""
    if len(env) > limits.env_entries:
        return refuse(f"{what} has {len(env)} entries, limit is {limits.env_entries}")
    total = 0
    for entry in env:
        if len(entry) > limits.env_entry:
            return refuse(f"{what} entry of {len(entry)} characters, "
                          f"limit is {limits.env_entry}")
        total += len(entry)
    if total > limits.env_total:
        return refuse(f"{what} of {total} characters, limit is {limits.env_total}")
    return None


def check_name(limits: Limits, name: str, what: str = "Event name") -> ControlError | None:
    if len(name) > limits.event_name:
        return refuse(f"{what} of {len(name)} characters, limit is {limits.event_name}")
    return None


def check_event(limits: Limits, name: str, env: list[str], queued: int) -> ControlError | None:
    """An event about to be queued by a caller (EmitEvent, a bridge)."""
    error = check_name(limits, name) or check_env(limits, env, "Event environment")
    if error is None and queued >= limits.queued_events:
        error = refuse(f"Event queue is full ({queued} events), limit is {limits.queued_events}")
    return error


def check_new_instance(limits: Limits, job: str, count: int, name: str) -> ControlError | None:
    """A new instance of `job` (which has `count` instances) named `name`."""
    if len(name) > limits.instance_name:
        return refuse(f"Instance name of {len(name)} characters, "
                      f"limit is {limits.instance_name}")
    if count >= limits.instances:
        return refuse(f"Job {job} has {count} instances, limit is {limits.instances}")
    return None


__all__ = ["LIMITS_EXCEEDED", "Limits", "check_env", "check_event", "check_name",
           "check_new_instance", "refuse"]
