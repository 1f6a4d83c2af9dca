"""The global world's control backend, with the event record told who asked.

Every `EmitEvent` and job command of a caller reaches the observer
(`upstart/observe/service.py`) before the engine, so that `initctl why` can
name the user and program behind a goal; the `Observe` D-Bus method is
answered from the observer about this world's engine. Chroot sessions have no
event record (`SessionBackend.observe` says so).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from upstart.control.backend import Caller
from upstart.daemon.backend import EngineBackend
from upstart.observe.service import Observer

if TYPE_CHECKING:
    from upstart.daemon.world import World


class ObservedBackend(EngineBackend):
    def __init__(self, daemon: Any, world: "World", observer: Observer):
        super().__init__(daemon, world)
        self.observer = observer

    def emit_event(self, caller, name, env, wait, fd=None):
        self.observer.requested(caller, name)
        return super().emit_event(caller, name, env, wait, fd)     # None or a future

    async def job_start(self, caller, job, env, wait):
        self.observer.commanded(caller, "start")
        return await super().job_start(caller, job, env, wait)

    async def job_stop(self, caller, job, env, wait):
        self.observer.commanded(caller, "stop")
        return await super().job_stop(caller, job, env, wait)

    async def job_restart(self, caller, job, env, wait):
        self.observer.commanded(caller, "restart")
        return await super().job_restart(caller, job, env, wait)

    async def instance_start(self, caller, job, instance, wait):
        self.observer.commanded(caller, "start")
        return await super().instance_start(caller, job, instance, wait)

    async def instance_stop(self, caller, job, instance, wait):
        self.observer.commanded(caller, "stop")
        return await super().instance_stop(caller, job, instance, wait)

    async def instance_restart(self, caller, job, instance, wait):
        self.observer.commanded(caller, "restart")
        return await super().instance_restart(caller, job, instance, wait)

    def observe(self, caller: Caller, what: str, args: list[str]) -> str:
        """The `Observe` D-Bus method: a JSON answer (see `Observer.query`)."""
        self._check(caller, "Observe")
        return self.observer.answer(self.engine, what, args)
