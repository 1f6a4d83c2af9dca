"""What the D-Bus control adapter needs from the daemon.

The server in `upstart.control.server` turns D-Bus method calls into calls on
a `Backend`, and turns raised `ControlFailure`s into D-Bus errors with the
same name and text. It never touches the core: the daemon implements this
protocol on top of the engine. Jobs and instances are named by strings (job
name, instance name); object paths are the server's business.

The protocol is complete: the server calls every method without probing. A
backend that does not offer a method (an old init without `Reload`, a chroot
session without `Observe`) raises `NoSuchMethod`, and the client gets
libdbus's UnknownMethod answer as from an init that lacks it. Permission
checks use `upstart.control.policy`.
"""

from __future__ import annotations

from dataclasses import field
from typing import TYPE_CHECKING, Protocol

from upstart.lazydata import dataclass   # footprint: made at first use

if TYPE_CHECKING:
    from collections.abc import Awaitable


class NoSuchMethod(Exception):
    """Raised by a backend that does not offer a method: the server answers
    `org.freedesktop.DBus.Error.UnknownMethod` for the call."""


@dataclass(frozen=True)
class Caller:
    """Who is calling: from SO_PEERCRED of the connection (pid may be 0)."""
    uid: int
    pid: int = 0
    gid: int = 0


@dataclass(frozen=True)
class JobProps:
    name: str
    description: str
    author: str
    version: str
    usage: str
    start_on: list[list[str]]
    stop_on: list[list[str]]
    emits: list[str]
    # roadmap conditions, same RPN form (empty when the job has none)
    while_on: list[list[str]] = field(default_factory=list)
    ready_on: list[list[str]] = field(default_factory=list)


@dataclass(frozen=True)
class InstanceProps:
    name: str
    goal: str
    state: str
    processes: list[tuple[str, int]]
    # roadmap (issue #8): None for a class without `ready on`, else whether
    # the instance is ready (docs/design/readiness.md)
    ready: bool | None = None
    # roadmap (issue #14): "" unless the job has `respawn delay` and is paused
    # between a death and its respawn; then e.g. "respawn 3 in 1.2s"
    respawn: str = ""


class Backend(Protocol):
    # ---- manager object
    def version(self) -> str: ...
    def get_log_priority(self) -> str: ...
    def set_log_priority(self, caller: Caller, value: str) -> None: ...
    def get_job_by_name(self, name: str) -> str: ...
    def get_all_jobs(self) -> list[str]: ...
    async def reload_configuration(self, caller: Caller) -> None: ...
    def emit_event(self, caller: Caller, name: str, env: list[str], wait: bool,
                   fd: int | None = None) -> Awaitable[None] | None: ...   # or async
    def get_env(self, caller: Caller, job_details: list[str], name: str) -> str: ...
    def set_env_list(self, caller: Caller, job_details: list[str], vars: list[str],
                     replace: bool) -> None: ...
    def unset_env_list(self, caller: Caller, job_details: list[str], names: list[str]) -> None: ...
    def list_env(self, caller: Caller, job_details: list[str]) -> list[str]: ...
    def reset_env(self, caller: Caller, job_details: list[str]) -> None: ...
    def notify_disk_writeable(self, caller: Caller) -> None: ...
    def notify_dbus_address(self, caller: Caller, address: str) -> None: ...
    def notify_cgroup_manager_address(self, caller: Caller, address: str) -> None: ...
    def end_session(self, caller: Caller) -> None: ...
    def get_state(self, caller: Caller) -> str: ...
    # True: init re-execs now (no reply: the caller's connection closes with the exec)
    async def restart(self, caller: Caller) -> bool: ...
    # roadmap: first-class states (issue #7) and the event record (issue #12)
    def set_state(self, caller: Caller, name: str, env: list[str]) -> None: ...
    def clear_state(self, caller: Caller, name: str) -> None: ...
    def list_states(self, caller: Caller) -> list[tuple[str, list[str]]]: ...
    def observe(self, caller: Caller, what: str, args: list[str]) -> str: ...

    # ---- job objects
    def job_props(self, job: str) -> JobProps: ...
    def get_all_instances(self, job: str) -> list[str]: ...
    def get_instance(self, job: str, env: list[str]) -> str: ...
    def get_instance_by_name(self, job: str, name: str) -> str: ...
    async def job_start(self, caller: Caller, job: str, env: list[str], wait: bool) -> str: ...
    async def job_stop(self, caller: Caller, job: str, env: list[str], wait: bool) -> None: ...
    async def job_restart(self, caller: Caller, job: str, env: list[str], wait: bool) -> str: ...

    # ---- instance objects
    def instance_props(self, job: str, instance: str) -> InstanceProps: ...
    async def instance_start(self, caller: Caller, job: str, instance: str, wait: bool) -> None: ...
    async def instance_stop(self, caller: Caller, job: str, instance: str, wait: bool) -> None: ...
    async def instance_restart(self, caller: Caller, job: str, instance: str, wait: bool) -> None: ...
    async def instance_reload(self, caller: Caller, job: str, instance: str) -> None: ...
