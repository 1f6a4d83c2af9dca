"""Which D-Bus signal each broadcast effect becomes.

The daemon hands the control server the effect dataclasses of
`upstart.core.effects` (JobAdded, InstanceAdded, StateChanged, EventEmitted,
...); this module maps each to (object path, interface, member, signature,
body). It also defines `Restarted`, the one signal with no core effect: the
daemon sends it after a stateful re-exec. Pure; never sends anything.
"""

from __future__ import annotations


from upstart.control import paths
from upstart.control.api import INSTANCE_IFACE, JOB_IFACE, MANAGER_IFACE
from upstart.core import effects as fx
from upstart.records import dataclass


@dataclass(frozen=True)
class Restarted:
    """The manager's `Restarted()` signal, sent by the re-executed init."""


# perf: escaping is pure; the names of the few jobs and instances that change
# state are escaped once, not for every signal (bounded: cleared when full)
_ESCAPED: dict[str, str] = {}
_ESCAPED_MAX = 8192


def _esc(name: str) -> str:
    out = _ESCAPED.get(name)
    if out is None:
        out = paths.escape(name)
        if len(_ESCAPED) >= _ESCAPED_MAX:
            _ESCAPED.clear()
        _ESCAPED[name] = out
    return out


_JOBS = paths.JOBS_PATH + "/"


def _job_path(job: str, root: str | None = None) -> str:
    if root is not None:   # a chroot session's job (docs/design/sessions.md)
        return _JOBS + _esc(root) + "/" + _esc(job)
    return _JOBS + _esc(job)


def _instance_path(job: str, instance: str, root: str | None = None) -> str:
    return _job_path(job, root) + "/" + _esc(instance)


_SIGNALS = {
    fx.JobAdded: lambda e, r: (paths.MANAGER_PATH, MANAGER_IFACE, "JobAdded", "o",
                               (_job_path(e.job, r),)),
    fx.JobRemoved: lambda e, r: (paths.MANAGER_PATH, MANAGER_IFACE, "JobRemoved", "o",
                                 (_job_path(e.job, r),)),
    fx.EventEmitted: lambda e, r: (paths.MANAGER_PATH, MANAGER_IFACE, "EventEmitted", "sas",
                                   (e.name, list(e.env))),
    Restarted: lambda e, r: (paths.MANAGER_PATH, MANAGER_IFACE, "Restarted", "", ()),
    fx.InstanceAdded: lambda e, r: (_job_path(e.job, r), JOB_IFACE, "InstanceAdded", "o",
                                    (_instance_path(e.job, e.instance, r),)),
    fx.InstanceRemoved: lambda e, r: (_job_path(e.job, r), JOB_IFACE, "InstanceRemoved", "o",
                                      (_instance_path(e.job, e.instance, r),)),
    fx.GoalChanged: lambda e, r: (_instance_path(e.job, e.instance, r), INSTANCE_IFACE,
                                  "GoalChanged", "s", (e.goal,)),
    fx.StateChanged: lambda e, r: (_instance_path(e.job, e.instance, r), INSTANCE_IFACE,
                                   "StateChanged", "s", (e.state,)),
    fx.JobFailed: lambda e, r: (_instance_path(e.job, e.instance, r), INSTANCE_IFACE,
                                "Failed", "i", (int(e.status),)),
}


def signal_for(effect, root: str | None = None) -> tuple[str, str, str, str, tuple] | None:
    """(path, interface, member, signature, body) for a broadcastable effect,
    or None when the effect is not a signal. `root`: the chroot session whose
    engine produced it (its objects carry the root in their paths)."""
    build = _SIGNALS.get(type(effect))
    return None if build is None else build(effect, root)
