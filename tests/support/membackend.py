"""An in-memory stand-in for the daemon behind the control server.

`MemoryBackend` implements `upstart.control.backend.Backend` with a toy job
model (no processes are run: a started service is at once `start/running`
with a made-up pid, a task runs and is gone, an instance job names its
instance from one variable). It exists so that the control server, the
client, initctl and the benchmark can be exercised over real sockets without
the engine: it is a test double of the daemon, not a model of Upstart's
semantics, and the daemon never uses it.

Owns its toy state only. Tests reach in to arrange situations (a held
start, extra processes, a failing event); every change is reported through
`on_effect` with the same effect dataclasses the engine produces.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from upstart.control.backend import Caller, InstanceProps, JobProps, NoSuchMethod
from upstart.core import effects as fx
from upstart.core.effects import ControlError, ControlFailure, upstart_error

INVALID_ARGS = fx.INVALID_ARGS
LOG_PRIORITIES = ("debug", "info", "message", "warn", "error", "fatal")


def _fail(kind: str, message: str) -> ControlFailure:
    return ControlFailure(upstart_error(kind, message))


def _invalid(message: str) -> ControlFailure:
    return ControlFailure(ControlError(INVALID_ARGS, message))


@dataclass
class ToyJob:
    name: str
    description: str = ""
    author: str = ""
    version: str = ""
    usage: str = ""
    start_on: list[list[str]] = field(default_factory=list)
    stop_on: list[list[str]] = field(default_factory=list)
    emits: list[str] = field(default_factory=list)
    instance_var: str | None = None   # `instance $VAR`
    task: bool = False
    has_main: bool = True
    fail_start: bool = False


@dataclass
class ToyInstance:
    goal: str
    state: str
    processes: list[tuple[str, int]]


class MemoryBackend:
    def __init__(self, jobs: list[ToyJob] = (), *, pid1: bool = False):
        self.jobs: dict[str, ToyJob] = {}
        self.instances: dict[str, dict[str, ToyInstance]] = {}
        self.log_priority = "message"
        self.env: dict[str, str] = {"PATH": "/usr/bin:/bin", "TERM": "linux"}
        self.job_env: dict[tuple[str, str], dict[str, str]] = {}
        self.states: dict[str, list[str]] = {}
        self.pid1 = pid1
        self.next_pid = 1000
        self.emitted: list[tuple[str, list[str], int | None]] = []
        self.failing_events: set[str] = set()
        self.gate: asyncio.Event | None = None   # when set, waiting calls block on it
        self.reloads = 0
        self.calls: list[tuple] = []
        self.on_effect = None
        for job in jobs:
            self.add_job(job)

    # --------------------------------------------------------------- helpers

    def _effect(self, effect) -> None:
        if self.on_effect is not None:
            self.on_effect(effect)

    def add_job(self, job: ToyJob) -> None:
        self.jobs[job.name] = job
        self.instances.setdefault(job.name, {})
        self._effect(fx.JobAdded(job.name))

    def remove_job(self, name: str) -> None:
        del self.jobs[name]
        self.instances.pop(name, None)
        self._effect(fx.JobRemoved(name))

    def _job(self, name: str) -> ToyJob:
        job = self.jobs.get(name)
        if job is None:
            raise _fail("UnknownJob", "Unknown job: %s" % name)
        return job

    def _pid(self) -> int:
        self.next_pid += 1
        return self.next_pid

    def set_state_of(self, job: str, inst: str, goal: str, state: str,
                     processes: list[tuple[str, int]]) -> None:
        """Arrange an instance in a given situation (for tests)."""
        created = inst not in self.instances[job]
        self.instances[job][inst] = ToyInstance(goal, state, list(processes))
        if created:
            self._effect(fx.InstanceAdded(job, inst))
        self._effect(fx.GoalChanged(job, inst, goal))
        self._effect(fx.StateChanged(job, inst, state))

    def _instance_name(self, job: ToyJob, env: list[str]) -> str:
        values = {}
        for item in env:
            key, sep, value = item.partition("=")
            if not sep:
                raise _invalid("Env must be KEY=VALUE pairs")
            values.setdefault(key, value)
        if job.instance_var is None:
            return ""
        if job.instance_var not in values:
            text = "Unknown parameter: %s" % job.instance_var
            if job.usage:
                text += "\nUsage: %s" % job.usage
            raise _invalid(text)
        return values[job.instance_var]

    def _label(self, job: str, inst: str) -> str:
        return "%s (%s)" % (job, inst) if inst else job

    async def _hold(self, wait: bool) -> None:
        if wait and self.gate is not None:
            await self.gate.wait()

    def _destroy(self, job: str, inst: str) -> None:
        if self.instances.get(job, {}).pop(inst, None) is not None:
            self._effect(fx.GoalChanged(job, inst, "stop"))
            self._effect(fx.StateChanged(job, inst, "waiting"))
            self._effect(fx.InstanceRemoved(job, inst))

    # --------------------------------------------------------------- manager

    def version(self) -> str:
        return "init (upstart 1.13.2)"

    def get_log_priority(self) -> str:
        return self.log_priority

    def set_log_priority(self, caller: Caller, value: str) -> None:
        if value not in LOG_PRIORITIES:
            raise _invalid("The log priority given was not recognised")
        self.log_priority = value

    def get_job_by_name(self, name: str) -> str:
        if not name:
            raise _invalid("Name may not be empty string")
        self._job(name)
        return name

    def get_all_jobs(self) -> list[str]:
        return list(self.jobs)

    async def reload_configuration(self, caller: Caller) -> None:
        self.reloads += 1

    async def emit_event(self, caller: Caller, name: str, env: list[str], wait: bool,
                         fd: int | None = None) -> None:
        if not name:
            raise _invalid("Name may not be empty string")
        for item in env:
            if "=" not in item:
                raise _invalid("Env must be KEY=VALUE pairs")
        self.emitted.append((name, list(env), fd))
        await self._hold(wait)
        self._effect(fx.EventEmitted(name, tuple(env)))
        if wait and name in self.failing_events:
            raise _fail("EventFailed", "Event failed")

    def _table(self, caller: Caller, details: list[str]) -> dict[str, str]:
        if not details:
            return self.env
        if len(details) != 2:
            raise _invalid("Invalid job details")
        job, inst = details
        if not job:
            raise _invalid("Job may not be empty string")
        self._job(job)
        if inst not in self.instances[job]:
            raise _fail("UnknownJobInstance", "Unknown instance: %s of job %s" % (inst, job))
        return self.job_env.setdefault((job, inst), dict(self.env))

    def _modify(self, caller: Caller, details: list[str]) -> dict[str, str]:
        if self.pid1:
            raise _fail("PermissionDenied", "Not permissible to modify PID 1 job environment")
        return self._table(caller, details)

    def get_env(self, caller: Caller, job_details: list[str], name: str) -> str:
        if not name:
            raise _invalid("Variable may not be empty string")
        table = self._table(caller, job_details)
        if name not in table:
            raise _invalid("No such variable: %s" % name)
        return table[name]

    def set_env_list(self, caller, job_details, vars, replace) -> None:
        table = self._modify(caller, job_details)
        for var in vars:
            key, _, value = var.partition("=")
            if replace or key not in table:
                table[key] = value

    def unset_env_list(self, caller, job_details, names) -> None:
        table = self._modify(caller, job_details)
        for name in names:
            table.pop(name, None)

    def list_env(self, caller, job_details) -> list[str]:
        return ["%s=%s" % kv for kv in self._table(caller, job_details).items()]

    def reset_env(self, caller, job_details) -> None:
        table = self._modify(caller, job_details)
        table.clear()
        table.update({"PATH": "/usr/bin:/bin", "TERM": "linux"})

    def notify_disk_writeable(self, caller) -> None:
        self.calls.append(("notify_disk_writeable",))

    def notify_dbus_address(self, caller, address) -> None:
        if self.pid1:
            raise _fail("PermissionDenied", "Not permissible to notify D-Bus address for PID 1")
        self.calls.append(("notify_dbus_address", address))

    def notify_cgroup_manager_address(self, caller, address) -> None:
        self.calls.append(("notify_cgroup_manager_address", address))

    def end_session(self, caller) -> None:
        self.calls.append(("end_session",))

    def get_state(self, caller) -> str:
        return '{"jobs": %d}' % len(self.jobs)

    async def restart(self, caller) -> None:
        self.calls.append(("restart",))

    # roadmap: named states
    def set_state(self, caller, name: str, env: list[str]) -> None:
        if not name:
            raise _invalid("Name may not be empty string")
        self.states[name] = list(env)

    def clear_state(self, caller, name: str) -> None:
        if name not in self.states:
            raise _fail("UnknownState", "Unknown state: %s" % name)
        del self.states[name]

    def list_states(self, caller=None) -> list[tuple[str, list[str]]]:
        return sorted(self.states.items())

    def observe(self, caller, what: str, args: list[str]) -> str:
        raise NoSuchMethod("Observe")       # no event record in the toy model

    # ------------------------------------------------------------------ jobs

    def job_props(self, job: str) -> JobProps:
        j = self._job(job)
        return JobProps(j.name, j.description, j.author, j.version, j.usage,
                        j.start_on, j.stop_on, j.emits)

    def get_all_instances(self, job: str) -> list[str]:
        self._job(job)
        return list(self.instances[job])

    def get_instance(self, job: str, env: list[str]) -> str:
        name = self._instance_name(self._job(job), env)
        if name not in self.instances[job]:
            raise _fail("UnknownInstance", "Unknown instance: %s" % name)
        return name

    def get_instance_by_name(self, job: str, name: str) -> str:
        self._job(job)
        if name not in self.instances[job]:
            raise _fail("UnknownInstance", "Unknown instance: %s" % name)
        return name

    async def job_start(self, caller, job: str, env: list[str], wait: bool) -> str:
        j = self._job(job)
        inst = self._instance_name(j, env)
        current = self.instances[job].get(inst)
        if current is not None and current.goal == "start":
            raise _fail("AlreadyStarted", "Job is already running: %s" % self._label(job, inst))
        self._start(j, inst, wait)
        await self._hold(wait)
        return self._finish_start(j, inst, wait)

    def _start(self, j: ToyJob, inst: str, wait: bool) -> None:
        self.set_state_of(j.name, inst, "start", "starting", [])

    def _finish_start(self, j: ToyJob, inst: str, wait: bool) -> str:
        if not wait:
            return inst
        if j.fail_start:
            self._destroy(j.name, inst)
            raise _fail("JobFailed", "Job failed to start")
        if j.task:
            self._destroy(j.name, inst)
            return inst
        procs = [("main", self._pid())] if j.has_main else []
        self.set_state_of(j.name, inst, "start", "running", procs)
        return inst

    async def job_stop(self, caller, job: str, env: list[str], wait: bool) -> None:
        inst = self.get_instance(job, env)
        await self._stop(job, inst, wait)

    async def _stop(self, job: str, inst: str, wait: bool) -> None:
        current = self.instances[job][inst]
        if current.goal == "stop":
            raise _fail("AlreadyStopped", "Job has already been stopped: %s"
                        % self._label(job, inst))
        if not wait:
            self.set_state_of(job, inst, "stop", "killed", current.processes)
            return
        await self._hold(wait)
        self._destroy(job, inst)

    async def job_restart(self, caller, job: str, env: list[str], wait: bool) -> str:
        inst = self.get_instance(job, env)
        await self._restart(job, inst, wait)
        return inst

    async def _restart(self, job: str, inst: str, wait: bool) -> None:
        current = self.instances[job][inst]
        if current.goal == "stop":
            raise _fail("AlreadyStopped", "Job has already been stopped: %s"
                        % self._label(job, inst))
        j = self.jobs[job]
        self._destroy(job, inst)
        self._start(j, inst, wait)
        await self._hold(wait)
        self._finish_start(j, inst, wait)

    # ------------------------------------------------------------- instances

    def instance_props(self, job: str, instance: str) -> InstanceProps:
        self._job(job)
        inst = self.instances[job].get(instance)
        if inst is None:
            raise _fail("UnknownInstance", "Unknown instance: %s" % instance)
        return InstanceProps(instance, inst.goal, inst.state, list(inst.processes))

    async def instance_start(self, caller, job: str, instance: str, wait: bool) -> None:
        self.instance_props(job, instance)
        current = self.instances[job][instance]
        if current.goal == "start":
            raise _fail("AlreadyStarted", "Job is already running: %s"
                        % self._label(job, instance))
        j = self.jobs[job]
        self._start(j, instance, wait)
        await self._hold(wait)
        self._finish_start(j, instance, wait)

    async def instance_stop(self, caller, job: str, instance: str, wait: bool) -> None:
        self.instance_props(job, instance)
        await self._stop(job, instance, wait)

    async def instance_restart(self, caller, job: str, instance: str, wait: bool) -> None:
        self.instance_props(job, instance)
        await self._restart(job, instance, wait)

    async def instance_reload(self, caller, job: str, instance: str) -> None:
        props = self.instance_props(job, instance)
        if not any(slot == "main" for slot, _ in props.processes):
            raise _fail("NotRunning", "Job is not running: %s" % self._label(job, instance))
        self.calls.append(("reload", job, instance))

    def instance_resume(self, caller, job: str, instance: str) -> None:
        self.instance_props(job, instance)
        self.calls.append(("resume", job, instance))
