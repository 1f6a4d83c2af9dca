"""The daemon's implementation of the control `Backend` on top of the engine.

Each asynchronous request becomes an engine input carrying a fresh token; the
engine answers with a `Reply(token)` effect (at once, or when the job or the
event gets there), which resolves the future the D-Bus call awaits. Read-only
requests go straight to the engine's queries. Who may call what is
`upstart.control.policy` (the one rule and upstream's texts, shared with the
server); the rules that depend on the daemon's mode (PID 1 refuses job
environment changes) live here; the engine knows nothing of callers.

One backend serves one world (`upstart/daemon/world.py`): init's own jobs, or
a chroot session's (`upstart.daemon.sessions.SessionBackend` subclasses this
with the manager requests a chroot may not make; docs/design/sessions.md).
"""

from __future__ import annotations

import itertools
import os
from typing import TYPE_CHECKING, Any

from upstart import VERSION
from upstart.control import policy
from upstart.control.backend import Caller, InstanceProps, JobProps, NoSuchMethod
from upstart.core.effects import (
    INVALID_ARGS, ControlError, ControlFailure, upstart_error,
)
from upstart.daemon.log import PRIORITIES
from upstart.jobfile.model import expr_to_rpn
from upstart.process import procstat

if TYPE_CHECKING:
    from upstart.reactor.futures import Future
    from upstart.daemon.world import World


_BACKGROUND: set = set()


class _Now:
    """The token of a request the engine answers within the input that makes
    it (`EmitEvent` with wait=false): its answer is kept here, no future
    (perf, issue #23 item 5); a late answer goes to `future`, if one waits."""

    __slots__ = ("done", "error", "future")

    def __init__(self):
        self.done = False
        self.error: ControlError | None = None
        self.future: Future | None = None

    def answer(self, error: ControlError | None) -> None:
        if self.done:
            return
        self.done = True
        self.error = error
        fut = self.future
        if fut is not None and not fut.done():
            if error is not None:
                fut.set_exception(ControlFailure(error))
            else:
                fut.set_result(None)


class EngineBackend:
    def __init__(self, daemon: Any, world: "World"):
        self.d = daemon        # upstart.daemon.daemon.Daemon: the mode, bus, shutdown, re-exec
        self.world = world     # the engine served, its timers and readiness
        self._tokens = itertools.count(1)
        self.pending: dict[int, Future] = {}

    @property
    def engine(self):
        """The engine served (a re-exec replaces the world's engine)."""
        return self.world.engine

    def _apply(self, effects) -> None:
        self.d.apply(effects, self.world)

    # ------------------------------------------------------------ plumbing

    def _request(self, method, *args, **kw) -> Future:
        token = next(self._tokens)
        fut = self.d.loop.create_future()
        self.pending[token] = fut
        effects = method(*args, token=token, **kw)
        self._apply(effects)
        return fut

    def resolve(self, token, value, error: ControlError | None) -> None:
        if type(token) is _Now:            # an EmitEvent answered in its own input
            token.answer(error)
            return
        fut = self.pending.pop(token, None)
        if fut is None or fut.done():
            return
        if error is not None:
            fut.set_exception(ControlFailure(error))
        else:
            fut.set_result(value)

    def permitted(self, caller: Caller) -> bool:
        """Upstream's control_check_permission (`upstart.control.policy`)."""
        return policy.permitted(caller, user_mode=self.d.session_init)

    def _check(self, caller: Caller, method: str) -> None:
        """Upstream's refusal of `method` (a D-Bus member) for `caller`."""
        policy.require(caller, method, user_mode=self.d.session_init)

    # ------------------------------------------------------------ manager

    def version(self) -> str:
        return f"init (upstart {VERSION})"

    def get_log_priority(self) -> str:
        return self.d.logger.priority

    def set_log_priority(self, caller: Caller, value: str) -> None:
        self._check(caller, "log_priority")
        if value not in PRIORITIES:
            raise ControlFailure(ControlError(INVALID_ARGS,
                                              "The log priority given was not recognised"))
        self.d.logger.priority = value

    def get_job_by_name(self, name: str) -> str:
        if not name:
            raise ControlFailure(ControlError(INVALID_ARGS, "Name may not be empty string"))
        if self.engine.get_class(name) is None:
            raise ControlFailure(upstart_error("UnknownJob", f"Unknown job: {name}"))
        return name

    def get_all_jobs(self) -> list[str]:
        return list(self.engine.job_names())

    async def reload_configuration(self, caller: Caller) -> None:
        self._check(caller, "ReloadConfiguration")
        self.d.reload_configuration(full=True, world=self.world)

    def emit_event(self, caller: Caller, name: str, env: list[str], wait: bool,
                   fd: int | None = None):
        """None when the engine answered at once (`wait=false`: the event is
        queued), else a future of the answer. perf (issue #23 item 5): no
        task, no coroutine for a pipelined `EmitEvent` that needs no wait."""
        self._check(caller, "EmitEvent")
        if not name:
            raise ControlFailure(ControlError(INVALID_ARGS, "Name may not be empty string"))
        for entry in env:
            if "=" not in entry:
                raise ControlFailure(ControlError(INVALID_ARGS, "Env must be KEY=VALUE pairs"))
        if not wait:                       # perf: answered in this input, no future
            now = _Now()
            self._apply(self.engine.emit(name, list(env), wait=False, token=now, fd=fd))
            if now.error is not None:
                raise ControlFailure(now.error)     # the engine's refusal
            if now.done:
                return None
            fut = self.d.loop.create_future()       # not answered (never so today)
            now.future = fut
            return fut
        fut = self._request(self.engine.emit, name, list(env), wait=wait, fd=fd)
        if fut.done():
            fut.result()                   # raises the engine's refusal, if any
            return None
        return fut

    def _env_target(self, caller: Caller, job_details: list[str], modify: bool) -> None:
        self._check(caller, "SetEnv" if modify else "GetEnv")
        if modify and not self.d.session_init and os.getpid() == 1:
            raise ControlFailure(upstart_error("PermissionDenied",
                                               "Not permissible to modify PID 1 job environment"))

    def get_env(self, caller: Caller, job_details: list[str], name: str) -> str:
        self._env_target(caller, job_details, False)
        return self.engine.env_get(list(job_details), name)

    def set_env_list(self, caller: Caller, job_details: list[str], vars: list[str],
                     replace: bool) -> None:
        self._env_target(caller, job_details, True)
        self.engine.env_set(list(job_details), list(vars), replace)
        if not job_details and self.world.root is None:
            self._update_activation_environment(vars)

    def _update_activation_environment(self, vars: list[str]) -> None:
        """DM-01 (spec 05 §5.4): a Session Init on a bus tells the bus daemon
        of a changed global variable, so D-Bus activated services get it too."""
        server = self.d.server
        if not self.d.session_init or not self.d.bus_connected or server is None:
            return
        names = [v.split("=", 1)[0] for v in vars]
        env = {}
        for name in names:
            try:
                env[name] = self.engine.env_get([], name)
            except ControlFailure:
                continue
        if not env:
            return

        async def update():
            try:
                await server.bus_call("UpdateActivationEnvironment", "a{ss}", (env,))
            except (OSError, ControlFailure, TimeoutError) as exc:
                self.d.logger.log("warn", f"Unable to update the D-Bus activation "
                                  f"environment: {exc}")
        task = self.d.loop.create_task(update())
        _BACKGROUND.add(task)                  # kept until done (a loop may hold tasks weakly)
        task.add_done_callback(_BACKGROUND.discard)

    def unset_env_list(self, caller: Caller, job_details: list[str], names: list[str]) -> None:
        self._env_target(caller, job_details, True)
        self.engine.env_unset(list(job_details), list(names))

    def list_env(self, caller: Caller, job_details: list[str]) -> list[str]:
        self._env_target(caller, job_details, False)
        return list(self.engine.env_list(list(job_details)))

    def reset_env(self, caller: Caller, job_details: list[str]) -> None:
        self._env_target(caller, job_details, True)
        self.engine.env_reset(list(job_details))

    def notify_disk_writeable(self, caller: Caller) -> None:
        self._check(caller, "NotifyDiskWriteable")
        self.d.disk_writeable()

    def notify_dbus_address(self, caller: Caller, address: str) -> None:
        self._check(caller, "NotifyDBusAddress")
        if not self.d.session_init:
            raise ControlFailure(upstart_error(
                "PermissionDenied", "Not permissible to notify D-Bus address for PID 1"))
        if self.d.bus_connected:
            return
        self.d.bus_address = address
        self.d.loop.create_task(self.d.connect_bus())

    def notify_cgroup_manager_address(self, caller: Caller, address: str) -> None:
        self._check(caller, "NotifyCGroupManagerAddress")
        self.d.cgroup_manager_address = address

    def end_session(self, caller: Caller) -> None:
        self._check(caller, "EndSession")
        if self.d.session_init:
            self.d.quiesce("logout")

    def get_state(self, caller: Caller) -> str:
        self._check(caller, "GetState")
        return self.d.serialise_state()

    async def restart(self, caller: Caller) -> bool:
        """1.13: re-exec at once, never answering (see `methods._restart`)."""
        self._check(caller, "Restart")
        self.d.request_reexec()
        return True

    # ------------------------------------------------------------ jobs

    def _class(self, job: str):
        cls = self.engine.get_class(job)
        if cls is None:
            raise ControlFailure(upstart_error("UnknownJob", f"Unknown job: {job}"))
        return cls

    def job_props(self, job: str) -> JobProps:
        cls = self._class(job)
        return JobProps(
            name=cls.name,
            description=cls.description or "",
            author=cls.author or "",
            version=cls.version or "",
            usage=cls.usage or "",
            start_on=expr_to_rpn(cls.start_on),
            stop_on=expr_to_rpn(cls.stop_on),
            emits=list(cls.emits),
            while_on=expr_to_rpn(cls.while_),
            ready_on=expr_to_rpn(cls.ready_on),
        )

    def get_all_instances(self, job: str) -> list[str]:
        self._class(job)
        return list(self.engine.instances(job))

    def get_instance(self, job: str, env: list[str]) -> str:
        return self.engine.get_instance(job, list(env))

    def get_instance_by_name(self, job: str, name: str) -> str:
        return self.engine.get_instance_by_name(job, name)

    async def job_start(self, caller: Caller, job: str, env: list[str], wait: bool) -> str:
        return await self._request(self.engine.job_start, job, list(env), wait=wait)

    async def job_stop(self, caller: Caller, job: str, env: list[str], wait: bool) -> None:
        await self._request(self.engine.job_stop, job, list(env), wait=wait)

    async def job_restart(self, caller: Caller, job: str, env: list[str], wait: bool) -> str:
        return await self._request(self.engine.job_restart, job, list(env), wait=wait)

    # ------------------------------------------------------------ instances

    def instance_props(self, job: str, instance: str) -> InstanceProps:
        goal, state, procs = self.engine.instance_info(job, instance)
        backoff = self.engine.respawn_state(job, instance)
        respawn = ""
        if backoff and backoff.get("paused"):
            due = backoff.get("due_in")
            respawn = f"respawn {backoff.get('count', 0)}" + (
                f" in {due:.1f}s" if due is not None else "")
        return InstanceProps(name=instance, goal=goal, state=state,
                             processes=[(slot, int(pid)) for slot, pid in procs],
                             ready=self.engine.instance_ready(job, instance),
                             respawn=respawn)

    # ------------------------------------------------------------ states (issue #7)

    def set_state(self, caller: Caller, name: str, env: list[str]) -> None:
        self._check(caller, "SetState")
        self._apply(self.engine.set_state(name, list(env)))

    def clear_state(self, caller: Caller, name: str) -> None:
        self._check(caller, "SetState")
        self._apply(self.engine.clear_state(name))

    def list_states(self, caller: Caller | None = None) -> list[tuple[str, list[str]]]:
        return self.engine.list_states()

    def observe(self, caller: Caller, what: str, args: list[str]) -> str:
        """The event record is the observer's (`ObservedBackend`); a plain
        engine backend has none: the method does not exist."""
        raise NoSuchMethod("Observe")

    async def instance_start(self, caller: Caller, job: str, instance: str, wait: bool) -> None:
        await self._request(self.engine.instance_start, job, instance, wait=wait)

    async def instance_stop(self, caller: Caller, job: str, instance: str, wait: bool) -> None:
        await self._request(self.engine.instance_stop, job, instance, wait=wait)

    async def instance_restart(self, caller: Caller, job: str, instance: str, wait: bool) -> None:
        await self._request(self.engine.instance_restart, job, instance, wait=wait)

    async def instance_reload(self, caller: Caller, job: str, instance: str) -> None:
        await self._request(self.engine.instance_reload, job, instance)

    def instance_resume(self, caller: Caller, job: str, instance: str) -> None:
        """Roadmap 07 §7 (RM-15): SIGCONT to each process of the instance that is
        stopped (the `debug` stanza's pause before exec, or a SIGSTOP); an
        instance with none stopped is an error, so a mistyped job says so."""
        import signal
        _goal, _state, procs = self.engine.instance_info(job, instance)
        resumed = 0
        for _slot, pid in procs:
            if procstat.stopped(pid):
                try:
                    os.kill(pid, signal.SIGCONT)
                    resumed += 1
                except ProcessLookupError:
                    pass
        if not resumed:
            name = f"{job} ({instance})" if instance else job
            raise ControlFailure(upstart_error("NotPaused", f"Job is not paused: {name}"))

