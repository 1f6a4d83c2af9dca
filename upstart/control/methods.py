"""The method table: each D-Bus method of init's objects → its backend call.

One row per (object kind, member). A row takes the call (its caller, the
backends that serve the caller and the object, `upstart.control.router.Call`),
the object (`("manager",)`, `("job", job)`, `("instance", job, instance)`) and
the method's arguments, already checked against the signature in
`upstart.control.api`; it returns `(signature, body)` of the reply, or an
awaitable of it when the backend's method is asynchronous.

Permissions are the backend's (`upstart.control.policy`); this table only
refuses changing a job of another chroot session (`_own`).
"""

from __future__ import annotations

from upstart.control import api, paths
from upstart.core.effects import ControlError, ControlFailure


def isawaitable(result) -> bool:
    """`inspect.isawaitable` for what a backend returns (a coroutine, a future
    or task of init's reactor or of asyncio), without importing `inspect`
    (with `ast`, `dis`, `tokenize`) into PID 1 (docs/design/records.md)."""
    return hasattr(type(result), "__await__")


def _unit(result):
    """Reply with no arguments, awaiting the backend first if it is async."""
    if result is not None and isawaitable(result):   # perf: None needs no check
        async def wait():
            await result
            return ("", ())
        return wait()
    return ("", ())


def _instance_reply(job, result, root=None):
    if isawaitable(result):
        async def wait():
            inst = await result
            return ("o", (paths.instance_path(job, inst, root),))
        return wait()
    return ("o", (paths.instance_path(job, result, root),))


def _own(call, job: str):
    """The caller's backend for changing `job`: a job of another session (a
    global job for a chroot caller, a chroot's job for anyone else) is
    refused, as upstream's job and instance methods do (spec 03 §9)."""
    if call.troot != call.root:
        raise ControlFailure(ControlError(api.ERR_PERMISSION,
                                          f"You do not have permission to modify job: {job}"))
    return call.tbackend


NO_REPLY = object()    # a row's result: the call is never answered


def _restart(call, target):
    """As 1.13: when the backend re-execs init, no reply is sent; the caller
    sees its connection close with the exec (it is not handed over to the new
    init). A backend that does not re-exec (a chroot session) answers."""
    result = call.backend.restart(call.caller)

    async def wait():
        if await result if isawaitable(result) else result:
            call.conn.exec_closes = True
            return NO_REPLY
        return ("", ())
    return wait()


def _use_global_scope(call, target):
    """`initctl --global` (roadmap 07 §9, CT-27): from now on this private
    connection is scoped to the global jobs (`Router.scope`); from inside a
    chroot session it may only look (`Router.handle`). A bus connection
    carries many callers, so the switch is for init's private socket only."""
    if call.conn.bus:
        raise ControlFailure(ControlError(
            api.ERR_NOT_SUPPORTED, "The global scope is only for init's private socket"))
    call.conn.global_view = True
    return ("", ())


def _emit_with_file(call, target, name, env, wait, fd):
    call.fds = [f for f in call.fds if f != fd]   # the backend owns it now
    return _unit(call.backend.emit_event(call.caller, name, list(env), bool(wait), fd=fd))


METHODS = {
    # ---- manager
    ("manager", "ReloadConfiguration"):
        lambda c, t: _unit(c.backend.reload_configuration(c.caller)),
    ("manager", "GetJobByName"):
        lambda c, t, name: ("o", (paths.job_path(c.backend.get_job_by_name(name), c.root),)),
    ("manager", "GetAllJobs"):
        lambda c, t: ("ao", ([paths.job_path(j, c.root) for j in c.backend.get_all_jobs()],)),
    ("manager", "GetState"):
        lambda c, t: ("s", (c.backend.get_state(c.caller),)),
    ("manager", "Restart"): _restart,
    ("manager", "GetEnv"):
        lambda c, t, details, name: ("s", (c.backend.get_env(c.caller, list(details), name),)),
    ("manager", "SetEnv"):
        lambda c, t, details, var, replace: _unit(
            c.backend.set_env_list(c.caller, list(details), [var], bool(replace))),
    ("manager", "SetEnvList"):
        lambda c, t, details, vars_, replace: _unit(
            c.backend.set_env_list(c.caller, list(details), list(vars_), bool(replace))),
    ("manager", "UnsetEnv"):
        lambda c, t, details, name: _unit(
            c.backend.unset_env_list(c.caller, list(details), [name])),
    ("manager", "UnsetEnvList"):
        lambda c, t, details, names: _unit(
            c.backend.unset_env_list(c.caller, list(details), list(names))),
    ("manager", "ListEnv"):
        lambda c, t, details: ("as", (list(c.backend.list_env(c.caller, list(details))),)),
    ("manager", "ResetEnv"):
        lambda c, t, details: _unit(c.backend.reset_env(c.caller, list(details))),
    ("manager", "EmitEvent"):
        lambda c, t, name, env, wait: _unit(
            c.backend.emit_event(c.caller, name, list(env), bool(wait))),
    ("manager", "EmitEventWithFile"): _emit_with_file,
    ("manager", "NotifyDiskWriteable"):
        lambda c, t: _unit(c.backend.notify_disk_writeable(c.caller)),
    ("manager", "NotifyDBusAddress"):
        lambda c, t, address: _unit(c.backend.notify_dbus_address(c.caller, address)),
    ("manager", "NotifyCGroupManagerAddress"):
        lambda c, t, address: _unit(c.backend.notify_cgroup_manager_address(c.caller, address)),
    ("manager", "EndSession"):
        lambda c, t: _unit(c.backend.end_session(c.caller)),
    ("manager", "SetState"):
        lambda c, t, name, env: _unit(c.backend.set_state(c.caller, name, list(env))),
    ("manager", "ClearState"):
        lambda c, t, name: _unit(c.backend.clear_state(c.caller, name)),
    ("manager", "ListStates"):
        lambda c, t: ("a(sas)", ([(n, list(e)) for n, e in c.backend.list_states(c.caller)],)),
    ("manager", "UseGlobalScope"): _use_global_scope,
    ("manager", "Observe"):
        lambda c, t, what, args: ("s", (c.backend.observe(c.caller, what, list(args)),)),
    # ---- job
    ("job", "GetInstance"):
        lambda c, t, env: ("o", (paths.instance_path(
            t[1], c.tbackend.get_instance(t[1], list(env)), c.troot),)),
    ("job", "GetInstanceByName"):
        lambda c, t, name: ("o", (paths.instance_path(
            t[1], c.tbackend.get_instance_by_name(t[1], name), c.troot),)),
    ("job", "GetAllInstances"):
        lambda c, t: ("ao", ([paths.instance_path(t[1], i, c.troot)
                              for i in c.tbackend.get_all_instances(t[1])],)),
    ("job", "Start"):
        lambda c, t, env, wait: _instance_reply(t[1], _own(c, t[1]).job_start(
            c.caller, t[1], list(env), bool(wait)), c.troot),
    ("job", "Stop"):
        lambda c, t, env, wait: _unit(_own(c, t[1]).job_stop(
            c.caller, t[1], list(env), bool(wait))),
    ("job", "Restart"):
        lambda c, t, env, wait: _instance_reply(t[1], _own(c, t[1]).job_restart(
            c.caller, t[1], list(env), bool(wait)), c.troot),
    # ---- instance
    ("instance", "Start"):
        lambda c, t, wait: _unit(_own(c, t[1]).instance_start(c.caller, t[1], t[2], bool(wait))),
    ("instance", "Stop"):
        lambda c, t, wait: _unit(_own(c, t[1]).instance_stop(c.caller, t[1], t[2], bool(wait))),
    ("instance", "Restart"):
        lambda c, t, wait: _unit(_own(c, t[1]).instance_restart(
            c.caller, t[1], t[2], bool(wait))),
    # an init without Reload answers UnknownMethod; initctl then signals itself
    ("instance", "Reload"):
        lambda c, t: _unit(_own(c, t[1]).instance_reload(c.caller, t[1], t[2])),
    ("instance", "Resume"):
        lambda c, t: _unit(_own(c, t[1]).instance_resume(c.caller, t[1], t[2])),
}
