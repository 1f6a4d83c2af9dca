"""Who may do what on init's control interface: the one permission policy.

The rule (spec 05 §5.5, upstream's `control_check_permission`): a caller may
change init when its uid is init's, or init is a Session Init, or init is
neither root nor PID 1 (a test harness). Everybody may look (status, list,
show-config, introspection: the set the shipped bus policy opens to all,
data/com.ubuntu.Upstart.conf).

Two places apply it, both from here:
* the server, before anything is looked up (`access`): a caller without the
  right gets `AccessDenied` naming the method, the uid required and its own
  (docs/security.md);
* the backends, for the manager methods upstream checks itself (`require`):
  `PermissionDenied` with upstream's text for that method (`You do not have
  permission to emit an event`, ...), so a backend called by anything else
  keeps the rule too.

Pure: the uid and PID of init are given (defaults: this process's).
"""

from __future__ import annotations

import os

from upstart.control import api
from upstart.control.backend import Caller
from upstart.core.effects import ControlError, ControlFailure

# method (or property) -> what upstream says the caller may not do
_MAY_NOT = {
    "ReloadConfiguration": "reload configuration",
    "GetState": "request state",
    "Restart": "request restart",
    "GetEnv": "query job environment",
    "ListEnv": "query job environment",
    "SetEnv": "modify job environment",
    "SetEnvList": "modify job environment",
    "UnsetEnv": "modify job environment",
    "UnsetEnvList": "modify job environment",
    "ResetEnv": "modify job environment",
    "EmitEvent": "emit an event",
    "EmitEventWithFile": "emit an event",
    "NotifyDiskWriteable": "notify disk is writeable",
    "NotifyDBusAddress": "notify D-Bus address",
    "NotifyCGroupManagerAddress": "notify cgroup manager address",
    "EndSession": "end session",
    "SetState": "modify job state",
    "ClearState": "modify job state",
    "Observe": "read the event record",
    "log_priority": "set log priority",
}

# Methods any connected user may call: reading, never changing.
OPEN_TO_ALL = frozenset({
    (api.INTROSPECTABLE_IFACE, "Introspect"),
    (api.PROPERTIES_IFACE, "Get"), (api.PROPERTIES_IFACE, "GetAll"),
    (api.PEER_IFACE, "Ping"), (api.PEER_IFACE, "GetMachineId"),
    ("org.freedesktop.DBus", "Hello"),
    (api.MANAGER_IFACE, "GetJobByName"), (api.MANAGER_IFACE, "GetAllJobs"),
    (api.MANAGER_IFACE, "ListStates"), (api.MANAGER_IFACE, "UseGlobalScope"),
    (api.JOB_IFACE, "GetInstance"), (api.JOB_IFACE, "GetInstanceByName"),
    (api.JOB_IFACE, "GetAllInstances"),
})
_OPEN_MEMBERS = frozenset(member for _iface, member in OPEN_TO_ALL)


def permission_text(method: str) -> str:
    """Upstream's refusal for `method` (a manager method or `log_priority`)."""
    return "You do not have permission to " + _MAY_NOT[method]


def permitted(caller: Caller, *, user_mode: bool, uid: int | None = None,
              pid: int | None = None) -> bool:
    """May `caller` change init? `uid`, `pid`: init's (default: ours)."""
    if user_mode:
        return True
    uid = os.getuid() if uid is None else uid
    if caller.uid == uid:
        return True
    return uid != 0 and (os.getpid() if pid is None else pid) != 1


def open_to_all(iface: str | None, member: str) -> bool:
    """A reading method (a call without an interface matches by member)."""
    if iface is None:
        return member in _OPEN_MEMBERS
    return (iface, member) in OPEN_TO_ALL


def require(caller: Caller, method: str, *, user_mode: bool, uid: int | None = None) -> None:
    """Raise upstream's `PermissionDenied` for `method` unless permitted."""
    if not permitted(caller, user_mode=user_mode, uid=uid):
        raise ControlFailure(ControlError(api.ERR_PERMISSION, permission_text(method)))


def access(caller: Caller, iface: str | None, member: str, *, user_mode: bool,
           uid: int | None = None) -> None:
    """The socket's gate: a caller who may not control init may still look;
    anything else is refused up front, naming the method and the reason."""
    uid = os.getuid() if uid is None else uid
    if open_to_all(iface, member) or permitted(caller, user_mode=user_mode, uid=uid):
        return
    name = f"{iface}.{member}" if iface else member
    raise ControlFailure(ControlError(
        api.ERR_ACCESS_DENIED,
        f"Rejected: {name} changes the state of init, and only uid {uid} may do that here "
        f"(you are uid {caller.uid}); status, list and show-config are open to everyone"))
