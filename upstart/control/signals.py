"""Which D-Bus signal each broadcast effect becomes.

The daemon hands the control server the effect dataclasses of
`upstart.core.effects` (JobAdded, InstanceAdded, StateChanged, EventEmitted,
...); this module maps each to (object path, interface, member, signature,
body). It also defines `Restarted`, the one signal with no core effect: the
daemon sends it after a stateful re-exec. Pure; never sends anything.
"""

from __future__ import annotations

from dataclasses import dataclass

from upstart.control import paths
from upstart.control.api import INSTANCE_IFACE, JOB_IFACE, MANAGER_IFACE
from upstart.core import effects as fx


@dataclass(frozen=True)
class Restarted:
    """The manager's `Restarted()` signal, sent by the re-executed init."""


def signal_for(effect) -> tuple[str, str, str, str, tuple] | None:
    """(path, interface, member, signature, body) for a broadcastable effect,
    or None when the effect is not a signal."""
    t = type(effect)
    if t is fx.JobAdded:
        return (paths.MANAGER_PATH, MANAGER_IFACE, "JobAdded", "o",
                (paths.job_path(effect.job),))
    if t is fx.JobRemoved:
        return (paths.MANAGER_PATH, MANAGER_IFACE, "JobRemoved", "o",
                (paths.job_path(effect.job),))
    if t is fx.EventEmitted:
        return (paths.MANAGER_PATH, MANAGER_IFACE, "EventEmitted", "sas",
                (effect.name, list(effect.env)))
    if t is Restarted:
        return (paths.MANAGER_PATH, MANAGER_IFACE, "Restarted", "", ())
    if t is fx.InstanceAdded:
        return (paths.job_path(effect.job), JOB_IFACE, "InstanceAdded", "o",
                (paths.instance_path(effect.job, effect.instance),))
    if t is fx.InstanceRemoved:
        return (paths.job_path(effect.job), JOB_IFACE, "InstanceRemoved", "o",
                (paths.instance_path(effect.job, effect.instance),))
    if t is fx.GoalChanged:
        return (paths.instance_path(effect.job, effect.instance), INSTANCE_IFACE,
                "GoalChanged", "s", (effect.goal,))
    if t is fx.StateChanged:
        return (paths.instance_path(effect.job, effect.instance), INSTANCE_IFACE,
                "StateChanged", "s", (effect.state,))
    if t is fx.JobFailed:
        return (paths.instance_path(effect.job, effect.instance), INSTANCE_IFACE,
                "Failed", "i", (int(effect.status),))
    return None
