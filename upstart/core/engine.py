"""The engine: Upstart's event queue and job state machine, without I/O.

The daemon shell drives one `Engine` with inputs (a control request, an
event emitted, a child exited or became ready, a timer fired). Each input
method runs the whole cascade it causes and returns the list of effects the
shell must carry out (`upstart.core.effects`). Only two ports are called
directly: the injected `Clock` (respawn windows) and `Spawner` (start a
process now; pid or `SpawnError`).

How a cascade runs (one input = one turn of upstream's main loop):

1. the input changes goals/queues events;
2. `_settle()` alternates two phases until both are empty:
   * the event queue pass (02 §5): pending events are handled (stop
     conditions before start conditions, classes then instances by name),
     unblocked events finish, finishing releases blocked jobs and callers;
   * spawn confirmations: upstream learns asynchronously that a process
     exec'd (or failed to); we queue that news when spawning and deliver it
     after the queue is quiet, which reproduces 1.13's event order (e.g. a
     service's `started` comes after events finished in the same turn).

Two 1.13 behaviours are changed on purpose (spec 07 §6 decision):
(a) a leaf of a condition remembers the event it matched but does not hold
it; only when the whole condition fires are the still-live matched events
attached to the job; (b) a start (command or event) meeting an instance whose
goal is already start but which is not yet at rest waits for its rest state
instead of failing/being dropped.

The engine must never read the time, touch the file system, send signals
or spawn except through its ports and its returned effects.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from upstart.core import effects as fx
from upstart.core.effects import (
    INVALID_ARGS, Clock, ControlError, ControlFailure, Effect, SpawnError, SpawnRequest,
    Spawner, upstart_error,
)
from upstart.core.environ import (
    ExpandError, env_lookup, env_merge, env_set, env_unset, expand,
)
from upstart.core.event import Event, EventQueue
from upstart.core.job import FAILURE_TEXT, Instance, Waiter
from upstart.core.operator import Operator
from upstart.core.registry import ClassEntry, Registry
from upstart.core.signals import SIGKILL, signal_name
from upstart.core.state import next_state
from upstart.jobfile.model import JobClass

# the state in which a job waits for each process slot
WAIT_STATE = {
    "security": "security", "pre-start": "pre-start", "main": "spawned",
    "post-start": "post-start", "pre-stop": "pre-stop", "post-stop": "post-stop",
}
# slots whose spawn failure fails the job
SPAWN_FATAL = ("security", "pre-start", "main", "post-stop")


class Engine:
    """Job classes, instances and the event queue of one init (see module doc).

    Inputs return effects; queries raise `ControlFailure`. Extra keyword
    arguments beyond docs/design/interfaces.md: `session_address` (forced
    `UPSTART_SESSION`), `apparmor` (run `apparmor load` security processes),
    `confirm_delay` (see `_settle`).
    """

    def __init__(self, clock: Clock, spawner: Spawner, *, session_init: bool,
                 job_env: list[str], init_env: dict[str, str], default_console: str = "log",
                 debug_stanza: bool = False, session_address: str | None = None,
                 apparmor: bool = False, confirm_delay: float = 0.02,
                 cgroup_gate: bool = False):
        self.clock = clock
        self.spawner = spawner
        self.session_init = session_init
        self.job_env: list[str] = list(job_env)
        self._job_env_initial = list(job_env)
        self.init_env = dict(init_env)
        self.default_console = default_console
        self.debug_stanza = debug_stanza
        self.session_address = session_address
        self.apparmor = apparmor
        self.respawn_disabled = False
        # > 0: deliver spawn confirmations through a timer of that many seconds
        # (upstream learns of an exec from a pipe, a loop iteration or more
        # after the fork; a process killed meanwhile dies first: golden 108).
        # 0 delivers them at the end of the same input (tests, benchmarks).
        self.confirm_delay = confirm_delay
        self._confirm_armed = False
        # True while jobs with `cgroup` stanzas must wait for the cgroup
        # manager's address (01 §11); classes whose start condition fired meanwhile
        self.cgroup_gate = cgroup_gate
        self._cgroup_held: set[str] = set()
        self.registry = Registry()
        self.queue = EventQueue()
        self._pids: dict[int, tuple[Instance, str]] = {}
        self._confirm: list[tuple[Instance, str, int, str | None]] = []
        self._out: list[Effect] = []
        self._stats = {"events_handled": 0, "events_finished": 0, "transitions": 0,
                       "spawns": 0, "inputs": 0}

    # ================================================================ inputs

    def _input(self, action: Callable[[], None]) -> list[Effect]:
        self._out = []
        self._stats["inputs"] += 1
        action()
        self._settle()
        out, self._out = self._out, []
        return out

    def load(self, classes: dict[str, JobClass]) -> list[Effect]:
        def run() -> None:
            added, removed = self.registry.load(classes)
            self._signal_registry(added, removed)
        return self._input(run)

    def emit(self, name: str, env: list[str], *, wait: bool, token: Any,
             fd: int | None = None) -> list[Effect]:
        def run() -> None:
            if not name:
                self._reply_error(token, ControlError(INVALID_ARGS, "Name may not be empty string"))
                return
            if any("=" not in e for e in env):
                self._reply_error(token, ControlError(INVALID_ARGS, "Env must be KEY=VALUE pairs"))
                return
            event = self._queue_event(name, list(env), fd)
            if wait:
                event.blocking.append(("emit", token))
            else:
                self._out.append(fx.Reply(token))
        return self._input(run)

    def job_start(self, job: str, env: list[str], *, wait: bool, token: Any) -> list[Effect]:
        return self._input(lambda: self._command(job, env, "start", wait, token))

    def job_stop(self, job: str, env: list[str], *, wait: bool, token: Any) -> list[Effect]:
        return self._input(lambda: self._command(job, env, "stop", wait, token))

    def job_restart(self, job: str, env: list[str], *, wait: bool, token: Any) -> list[Effect]:
        return self._input(lambda: self._command(job, env, "restart", wait, token))

    def instance_start(self, job: str, inst: str, *, wait: bool, token: Any) -> list[Effect]:
        return self._input(lambda: self._instance_command(job, inst, "start", wait, token))

    def instance_stop(self, job: str, inst: str, *, wait: bool, token: Any) -> list[Effect]:
        return self._input(lambda: self._instance_command(job, inst, "stop", wait, token))

    def instance_restart(self, job: str, inst: str, *, wait: bool, token: Any) -> list[Effect]:
        return self._input(lambda: self._instance_command(job, inst, "restart", wait, token))

    def instance_reload(self, job: str, inst: str, *, token: Any) -> list[Effect]:
        def run() -> None:
            try:
                instance = self._find_instance(job, inst)
            except ControlFailure as err:
                self._reply_error(token, err.error)
                return
            pid = instance.pid("main")
            if pid <= 0:
                self._reply_error(token, upstart_error(
                    "NotRunning", f"Job is not running: {instance.display}"))
                return
            self._out.append(fx.Kill(pid, instance.entry.job_class.reload_signal, group=False))
            self._out.append(fx.Reply(token))
        return self._input(run)

    def process_exited(self, pid: int, code: int | None, signal: int | None) -> list[Effect]:
        return self._input(lambda: self._process_exited(pid, code, signal))

    def process_ready(self, pid: int, main_pid: int) -> list[Effect]:
        return self._input(lambda: self._process_ready(pid, main_pid))

    def timer_fired(self, key: Any) -> list[Effect]:
        return self._input(lambda: self._timer_fired(key))

    def cgroup_manager_ready(self) -> list[Effect]:
        """The cgroup manager address is known: start the classes held for it
        whose start condition is (still) complete (D-8 fixed)."""
        def run() -> None:
            self.cgroup_gate = False
            held, self._cgroup_held = sorted(self._cgroup_held), set()
            for name in held:
                entry = self.registry.get(name)
                if entry is not None and entry.start_on is not None and entry.start_on.value:
                    self._fire_start(entry)
        return self._input(run)

    def _gated(self, entry: ClassEntry) -> bool:
        return self.cgroup_gate and bool(entry.job_class.cgroups)

    def disable_respawn(self) -> None:
        """Session Init shutdown: respawning is switched off for good."""
        self.respawn_disabled = True

    # =============================================================== queries

    def job_names(self) -> list[str]:
        return self.registry.names()

    def get_class(self, job: str) -> JobClass:
        return self._entry(job).job_class

    def instances(self, job: str) -> list[str]:
        return sorted(self._entry(job).instances)

    def get_instance(self, job: str, env: list[str]) -> str:
        entry = self._entry(job)
        if any("=" not in e for e in env):
            raise ControlFailure(ControlError(INVALID_ARGS, "Env must be KEY=VALUE pairs"))
        name = self._instance_name(entry, env, usage=True)
        if name not in entry.instances:
            raise ControlFailure(upstart_error("UnknownInstance", f"Unknown instance: {name}"))
        return name

    def get_instance_by_name(self, job: str, name: str) -> str:
        entry = self._entry(job)
        if name not in entry.instances:
            raise ControlFailure(upstart_error("UnknownInstance", f"Unknown instance: {name}"))
        return name

    def instance_info(self, job: str, inst: str) -> tuple[str, str, list[tuple[str, int]]]:
        instance = self._find_instance(job, inst)
        return instance.goal, instance.state, instance.processes()

    # ---- job environment table (job_details = [] or [job, instance])

    def env_get(self, job_details: list[str], name: str) -> str:
        if not name:
            raise ControlFailure(ControlError(INVALID_ARGS, "Variable may not be empty string"))
        value = env_lookup(self._env_target(job_details), name)
        if value is None:
            raise ControlFailure(ControlError(INVALID_ARGS, f"No such variable: {name}"))
        return value

    def env_list(self, job_details: list[str]) -> list[str]:
        return list(self._env_target(job_details))

    def env_set(self, job_details: list[str], vars: list[str], replace: bool) -> None:
        self._env_refused()
        target = self._env_target(job_details)
        for var in vars:
            env_set(target, var if "=" in var else var + "=", replace)

    def env_unset(self, job_details: list[str], names: list[str]) -> None:
        self._env_refused()
        target = self._env_target(job_details)
        for name in names:
            env_unset(target, name)

    def env_reset(self, job_details: list[str]) -> None:
        self._env_refused()
        if not job_details:
            self.job_env[:] = self._job_env_initial
            return
        instance = self._instance_for_details(job_details)
        instance.env[:] = self._class_environment(instance.entry)

    def _env_refused(self) -> None:
        if not self.session_init:
            raise ControlFailure(upstart_error(
                "PermissionDenied", "Not permissible to modify PID 1 job environment"))

    def _env_target(self, job_details: list[str]) -> list[str]:
        if not job_details:
            return self.job_env
        return self._instance_for_details(job_details).env

    def _instance_for_details(self, job_details: list[str]) -> Instance:
        job = job_details[0]
        inst = job_details[1] if len(job_details) > 1 else ""
        if not job:
            raise ControlFailure(ControlError(INVALID_ARGS, "Job may not be empty string"))
        entry = self._entry(job)
        instance = entry.instances.get(inst)
        if instance is None:
            raise ControlFailure(upstart_error(
                "UnknownJobInstance", f"Unknown instance: {inst} of job {job}"))
        return instance

    # ---- introspection

    def statistics(self) -> dict[str, Any]:
        """Queue lengths, counts, and per-job counters (JSON-able)."""
        entries = list(self.registry.entries.values())
        return {
            "jobs": {e.name: dict(e.counters) for e in entries},
            "classes": len(entries),
            "instances": sum(len(e.instances) for e in entries),
            "events_queued": len(self.queue),
            "events_pending": self.queue.pending(),
            "events_blocked": sum(1 for e in self.queue.events if e.blockers),
            "confirmations": len(self._confirm),
            **self._stats,
        }

    def snapshot(self) -> dict[str, Any]:
        from upstart.core.snapshot import take
        return take(self)

    @classmethod
    def restore(cls, snapshot: dict[str, Any], clock: Clock, spawner: Spawner, *,
                classes: dict[str, JobClass] | None = None, **kwargs: Any) -> Engine:
        """Rebuild an engine from `snapshot()`; the classes come from the
        snapshot unless given (engine keyword arguments as for __init__)."""
        from upstart.core.snapshot import restore
        return restore(cls, snapshot, clock, spawner, classes=classes, **kwargs)

    def resume_effects(self) -> list[Effect]:
        """After `restore`: timers the shell must re-arm."""
        from upstart.core.snapshot import resume_effects
        return resume_effects(self)

    # ============================================================ internals

    def _entry(self, job: str) -> ClassEntry:
        if not job:
            raise ControlFailure(ControlError(INVALID_ARGS, "Name may not be empty string"))
        entry = self.registry.get(job)
        if entry is None:
            raise ControlFailure(upstart_error("UnknownJob", f"Unknown job: {job}"))
        return entry

    def _find_instance(self, job: str, inst: str) -> Instance:
        entry = self._entry(job)
        instance = entry.instances.get(inst)
        if instance is None:
            raise ControlFailure(upstart_error(
                "UnknownJobInstance", f"Unknown instance: {inst} of job {job}"))
        return instance

    def _log(self, priority: str, message: str) -> None:
        self._out.append(fx.Log(priority, message))

    def _reply_error(self, token: Any, error: ControlError) -> None:
        self._out.append(fx.Reply(token, error=error))

    def _signal_registry(self, added: list[str], removed: list[str]) -> None:
        for name in removed:
            self._out.append(fx.JobRemoved(name))
        for name in added:
            self._out.append(fx.JobAdded(name))

    # ---- environment composition (01 §5.2)

    def _class_environment(self, entry: ClassEntry) -> list[str]:
        env = list(self.job_env)
        for item in entry.job_class.env:
            if "=" in item:
                env_set(env, item)
            elif item in self.init_env:
                env_set(env, f"{item}={self.init_env[item]}")
        return env

    def _instance_name(self, entry: ClassEntry, env: list[str], usage: bool) -> str:
        full = env_merge(self._class_environment(entry), env)
        try:
            return expand(entry.job_class.instance, full)
        except ExpandError as err:
            message = str(err)
            if usage and entry.job_class.usage:
                message += "\nUsage: " + entry.job_class.usage
            raise ControlFailure(ControlError(INVALID_ARGS, message)) from None

    def _process_env(self, instance: Instance, slot: str) -> tuple[str, ...]:
        # The job environment table as it is *now* (a `set-env -g` from a
        # pre-start reaches main: golden 032), overlaid by the instance's.
        env = env_merge(list(self.job_env), instance.env)
        if slot in ("pre-stop", "post-stop") and instance.stop_env:
            env_merge(env, instance.stop_env)
        env_set(env, f"UPSTART_JOB={instance.job}")
        env_set(env, f"UPSTART_INSTANCE={instance.name}")
        if self.session_address is not None:
            env_set(env, f"UPSTART_SESSION={self.session_address}")
        return tuple(env)

    # ---- instances

    def _new_instance(self, entry: ClassEntry, name: str) -> Instance:
        instance = Instance(entry, name)
        if entry.job_class.stop_on is not None:
            instance.stop_on = Operator.from_expr(entry.job_class.stop_on)
        entry.instances[name] = instance
        self._log("debug", f"New instance {instance.display}")
        self._out.append(fx.InstanceAdded(entry.name, name))
        return instance

    def _remove_instance(self, instance: Instance) -> None:
        entry = instance.entry
        if entry.instances.get(instance.name) is instance:
            del entry.instances[instance.name]
        self._log("debug", f"Destroyed inactive instance {instance.display}")
        self._out.append(fx.InstanceRemoved(entry.name, instance.name))
        added, removed = self.registry.reconsider(entry)
        self._signal_registry(added, removed)

    # ---- control commands (03 §9)

    def _command(self, job: str, env: list[str], kind: str, wait: bool, token: Any) -> None:
        try:
            entry = self._entry(job)
            if any("=" not in e for e in env):
                raise ControlFailure(ControlError(INVALID_ARGS, "Env must be KEY=VALUE pairs"))
            name = self._instance_name(entry, env, usage=(kind == "start"))
        except ControlFailure as err:
            self._reply_error(token, err.error)
            return
        instance = entry.instances.get(name)
        if kind in ("start", "restart") and self._gated(entry):
            self._reply_error(token, upstart_error(
                "CGroupManagerNotAvailable",
                f"Job cannot be started as cgroup manager not available: {entry.name}"))
            return
        if kind == "start":
            if instance is None:
                instance = self._new_instance(entry, name)
            elif instance.goal == "start":
                self._start_while_started(instance, kind, wait, token, name)
                return
            start_env = env_merge(self._class_environment(entry), env)
            self._apply(instance, kind, wait, token, name, start_env=start_env)
            return
        if instance is None:
            self._reply_error(token, upstart_error("UnknownInstance", f"Unknown instance: {name}"))
            return
        if instance.goal == "stop":
            who = instance.display if kind == "stop" else instance.name
            self._reply_error(token, upstart_error(
                "AlreadyStopped", f"Job has already been stopped: {who}"))
            return
        if kind == "stop":
            self._apply(instance, kind, wait, token, None, stop_env=list(env))
        else:
            start_env = env_merge(self._class_environment(entry), env)
            self._apply(instance, kind, wait, token, name, start_env=start_env, stop_env=None)

    def _instance_command(self, job: str, inst: str, kind: str, wait: bool, token: Any) -> None:
        try:
            instance = self._find_instance(job, inst)
        except ControlFailure as err:
            self._reply_error(token, err.error)
            return
        if kind in ("start", "restart") and self._gated(instance.entry):
            self._reply_error(token, upstart_error(
                "CGroupManagerNotAvailable",
                f"Job cannot be started as cgroup manager not available: {instance.display}"))
            return
        if kind == "start":
            if instance.goal == "start":
                self._start_while_started(instance, kind, wait, token, None)
                return
            self._apply(instance, kind, wait, token, None, start_env=None)
        elif instance.goal == "stop":
            self._reply_error(token, upstart_error(
                "AlreadyStopped", f"Job has already been stopped: {instance.display}"))
        elif kind == "stop":
            self._apply(instance, kind, wait, token, None, stop_env=None)
        else:
            self._apply(instance, kind, wait, token, None, start_env=None, stop_env=None)

    _UNSET: Any = object()

    def _apply(self, instance: Instance, kind: str, wait: bool, token: Any, value: Any,
               start_env: Any = _UNSET, stop_env: Any = _UNSET) -> None:
        if start_env is not Engine._UNSET:
            instance.start_env = start_env
        if stop_env is not Engine._UNSET:
            instance.stop_env = stop_env
        self._job_finished(instance, False)
        if wait:
            instance.blocking.append(Waiter(kind, token, value))
        if kind in ("stop", "restart"):
            self._change_goal(instance, "stop")
        if kind in ("start", "restart"):
            self._change_goal(instance, "start")
        if not wait:
            self._out.append(fx.Reply(token, value))

    def _start_while_started(self, instance: Instance, kind: str, wait: bool, token: Any,
                             value: Any) -> None:
        """Decision 07 §6 (b): a running job refuses; a job in transition makes
        the request wait for its rest state."""
        if instance.state == "running":
            self._reply_error(token, upstart_error(
                "AlreadyStarted", f"Job is already running: {instance.display}"))
        elif wait:
            instance.blocking.append(Waiter(kind, token, value))
        else:
            self._out.append(fx.Reply(token, value))

    # ---- blocking / failure (job_finished, job_failed)

    def _attach(self, instance: Instance, events: list[Event]) -> None:
        """The instance holds each live event until it rests, except where that
        would close a wait cycle (it waits, through its blocker, on the event
        itself: 1.13 deadlocks there forever)."""
        for event in events:
            if event.progress != "finished" and event in self.queue.events and \
                    not self._waits_on(instance, event):
                event.block()
                instance.blocking.append(event)

    def _hold(self, instance: Instance, events: list[Event]) -> None:
        """Decision (b): events meeting an instance in transition wait for its
        rest state (same cycle guard as `_attach`)."""
        self._attach(instance, events)

    def _waits_on(self, instance: Instance, event: Event, depth: int = 0) -> bool:
        blocker = instance.blocker
        if blocker is None or depth > 64:
            return blocker is not None
        if blocker is event:
            return True
        for entry in self.registry.entries.values():
            for other in entry.instances.values():
                if other is not instance and blocker in other.blocking and \
                        self._waits_on(other, event, depth + 1):
                    return True
        return False

    def _job_finished(self, instance: Instance, failed: bool) -> None:
        blocking, instance.blocking = instance.blocking, []
        for item in blocking:
            if isinstance(item, Event):
                if failed:
                    item.failed = True
                item.unblock()
            elif failed:
                self._reply_error(item.token, upstart_error("JobFailed", FAILURE_TEXT[item.kind]))
            else:
                self._out.append(fx.Reply(item.token, item.value))

    def _job_failed(self, instance: Instance, process: str | None, status: int) -> None:
        if instance.failed:
            return
        instance.failed = True
        instance.failed_process = process
        instance.exit_status = status
        instance.entry.counters["failures"] += 1
        self._out.append(fx.JobFailed(instance.job, instance.name, status))
        self._job_finished(instance, True)

    # ---- goal and state (job_change_goal, job_change_state)

    def _change_goal(self, instance: Instance, goal: str) -> None:
        if instance.goal == goal:
            return
        self._log("info", f"{instance.display} goal changed from {instance.goal} to {goal}")
        instance.goal = goal
        self._out.append(fx.GoalChanged(instance.job, instance.name, goal))
        if goal == "start" and instance.state == "waiting":
            self._change_state(instance, self._next(instance))
        elif goal == "stop" and instance.state == "running":
            self._change_state(instance, self._next(instance))

    def _next(self, instance: Instance) -> str:
        state, goal = next_state(instance.state, instance.goal, instance.main_alive())
        if goal != instance.goal:
            self._change_goal(instance, goal)
        return state

    def _change_state(self, instance: Instance, state: str) -> None:
        jc = instance.entry.job_class
        while instance.state != state:
            assert instance.blocker is None, f"{instance.display} changes state while blocked"
            old = instance.state
            self._log("info", f"{instance.display} state changed from {old} to {state}")
            instance.state = state
            self._stats["transitions"] += 1
            self._out.append(fx.StateChanged(instance.job, instance.name, state))

            if state == "starting":
                if instance.start_env is not None:
                    instance.env = instance.start_env
                    instance.start_env = None
                instance.stop_env = None
                instance.failed = False
                instance.failed_process = None
                instance.exit_status = 0
                instance.entry.counters["starts"] += 1
                instance.blocker = self._emit_job_event(instance, "starting", block=True)
            elif state == "security-spawning":
                if "security" in jc.process and self.apparmor:
                    self._spawn(instance, "security")
                state = self._next(instance)
            elif state in ("pre-starting", "spawning", "post-starting", "pre-stopping",
                           "post-stopping"):
                slot = {"pre-starting": "pre-start", "spawning": "main",
                        "post-starting": "post-start", "pre-stopping": "pre-stop",
                        "post-stopping": "post-stop"}[state]
                if slot in jc.process:
                    self._spawn(instance, slot)
                state = self._next(instance)
            elif state in ("security", "pre-start", "spawned", "post-start", "pre-stop",
                           "post-stop"):
                slot = {"security": "security", "spawned": "main"}.get(state, state)
                if not self._waits_for(instance, slot):
                    state = self._next(instance)
            elif state == "running":
                if old == "pre-stop":
                    instance.stop_env = None
                    self._job_finished(instance, False)
                else:
                    self._emit_job_event(instance, "started")
                    if not jc.task:
                        self._job_finished(instance, False)
            elif state == "stopping":
                instance.blocker = self._emit_job_event(instance, "stopping", block=True)
            elif state == "killed":
                if instance.main_alive():
                    self._kill(instance)
                else:
                    state = self._next(instance)
            elif state == "waiting":
                self._emit_job_event(instance, "stopped")
                self._job_finished(instance, False)
                self._remove_instance(instance)
                return

    def _waits_for(self, instance: Instance, slot: str) -> bool:
        """Does entering the wait state of `slot` wait (process live or news pending)?"""
        jc = instance.entry.job_class
        if slot not in jc.process:
            return False
        if slot == "security" and not self.apparmor:
            return False
        if instance.pid(slot) > 0:
            return True
        return any(c[0] is instance and c[1] == slot for c in self._confirm)

    # ---- job events (job_emit_event)

    def _emit_job_event(self, instance: Instance, name: str, block: bool = False) -> Event:
        env = [f"JOB={instance.job}", f"INSTANCE={instance.name}"]
        if name in ("stopping", "stopped"):
            if instance.failed:
                env.append("RESULT=failed")
                if instance.failed_process is None:
                    env.append("PROCESS=respawn")
                else:
                    env.append(f"PROCESS={instance.failed_process}")
                    status = instance.exit_status
                    if status != -1:
                        if status & ~0xFF:
                            env.append(f"EXIT_SIGNAL={signal_name(status >> 8) or status >> 8}")
                        else:
                            env.append(f"EXIT_STATUS={status}")
            else:
                env.append("RESULT=ok")
        for key in instance.entry.job_class.export:
            value = env_lookup(instance.env, key)
            if value is not None:
                env_set(env, f"{key}={value}", replace=False)
        event = self._queue_event(name, env)
        if block:
            event.blocking.append(("job", instance))
        return event

    def _queue_event(self, name: str, env: list[str], fd: int | None = None) -> Event:
        self._log("debug", f"Pending {name} event")
        return self.queue.new(name, env, fd)

    # ---- processes

    def _spawn(self, instance: Instance, slot: str) -> None:
        jc = instance.entry.job_class
        request = SpawnRequest(
            job=instance.job, instance=instance.name, slot=slot, process=jc.process[slot],
            env=self._process_env(instance, slot), job_class=jc,
            trace=(slot == "main" and jc.expect in ("fork", "daemon")),
            stop_on_exec=(slot == "main" and jc.expect == "stop"),
        )
        self._stats["spawns"] += 1
        try:
            pid = self.spawner.spawn(request)
        except SpawnError as err:
            self._confirm.append((instance, slot, 0, err.reason))
            return
        instance.pids[slot] = pid
        self._pids[pid] = (instance, slot)
        self._log("info", f"{instance.display} {slot} process ({pid})")
        if slot == "main" and jc.expect == "none":
            self._confirm.append((instance, slot, pid, None))

    def _confirmed(self, instance: Instance, slot: str, pid: int, error: str | None) -> None:
        if instance.entry.instances.get(instance.name) is not instance:
            return
        if error is None:
            if instance.state == "spawned" and instance.pid("main") == pid:
                self._change_state(instance, self._next(instance))
            return
        self._log("warn", f"Failed to spawn {instance.display} {slot} process: {error}")
        if instance.state != WAIT_STATE[slot]:
            return
        if slot in SPAWN_FATAL:
            self._job_failed(instance, slot, -1)
            self._change_goal(instance, "stop")
        self._change_state(instance, self._next(instance))

    def _kill(self, instance: Instance) -> None:
        jc = instance.entry.job_class
        pid = instance.pid("main")
        name = signal_name(jc.kill_signal) or str(jc.kill_signal)
        self._log("info", f"Sending {name} signal to {instance.display} main process ({pid})")
        self._out.append(fx.Kill(pid, jc.kill_signal, group=True))
        instance.kill_timer = True
        self._out.append(fx.SetTimer(self._timer_key(instance), jc.kill_timeout))

    @staticmethod
    def _timer_key(instance: Instance) -> tuple[str, str, str]:
        return (instance.job, instance.name, "kill")

    def _timer_fired(self, key: Any) -> None:
        if key == self.CONFIRM_TIMER:
            self._confirm_armed = False
            self._deliver_confirmations(lambda c: True)
            return
        if not (isinstance(key, tuple) and len(key) == 3 and key[2] == "kill"):
            return
        entry = self.registry.get(key[0])
        instance = entry.instances.get(key[1]) if entry else None
        if instance is None or not instance.kill_timer:
            return
        instance.kill_timer = False
        pid = instance.pid("main")
        if instance.state != "killed" or pid <= 0:
            return
        self._log("info", f"Sending KILL signal to {instance.display} main process ({pid})")
        self._out.append(fx.Kill(pid, SIGKILL, group=True))

    def _process_ready(self, pid: int, main_pid: int) -> None:
        found = self._pids.get(pid)
        if found is None:
            return
        instance, slot = found
        if slot != "main":
            return
        if main_pid != pid:
            del self._pids[pid]
            self._pids[main_pid] = (instance, "main")
            instance.pids["main"] = main_pid
        if instance.state == "spawned":
            self._change_state(instance, self._next(instance))

    def _process_exited(self, pid: int, code: int | None, sig: int | None) -> None:
        # the exec of a process is always known before its exit (03 §4)
        self._deliver_confirmations(lambda c: c[2] == pid)
        found = self._pids.pop(pid, None)
        if found is None:
            return
        instance, slot = found
        if instance.pids.get(slot) != pid:
            return
        jc = instance.entry.job_class
        status = (sig << 8) if sig else (code or 0)
        normal = slot == "main" and status in jc.normal_exit
        who = f"{instance.display} {slot} process ({pid})"
        if sig:
            name = signal_name(sig)
            text = f"{who} killed by {name} signal" if name else f"{who} killed by signal {sig}"
            self._log("warn", text)     # 1.13 warns even for a `normal exit` signal
        elif status:
            self._log("info" if normal else "warn", f"{who} terminated with status {status}")
        else:
            self._log("info", f"{who} exited normally")
        self._terminated(instance, slot, status)

    def _terminated(self, instance: Instance, slot: str, status: int) -> None:
        """job_process_terminated: failure rules per slot, then move on."""
        jc = instance.entry.job_class
        failed = stop = False
        advance = True
        failed_process: str | None = slot
        failed_status = status
        if slot == "main":
            if instance.state == "post-start" and instance.pid("post-start") > 0:
                advance = False
            elif instance.state == "pre-stop" and instance.pid("pre-stop") > 0:
                advance = False
            if instance.state == "killed":
                pass
            elif instance.state == "stopping":
                advance = False
            elif instance.goal == "stop":
                stop = True
            else:
                stop = True
                if status or (jc.respawn and not jc.task):
                    failed = status not in jc.normal_exit
                    if failed and jc.respawn and not self.respawn_disabled:
                        if self._runaway(instance):
                            self._log("warn", f"{instance.display} respawning too fast, stopped")
                            failed_process, failed_status = None, 0
                        else:
                            self._log("warn", f"{instance.display} {slot} process ended, respawning")
                            instance.entry.counters["respawns"] += 1
                            failed = stop = False
                            if not advance:
                                self._change_goal(instance, "respawn")
        elif slot in ("pre-start", "post-stop"):
            if status:
                failed = stop = True
        if instance.kill_timer:
            instance.kill_timer = False
            self._out.append(fx.CancelTimer(self._timer_key(instance)))
        instance.pids.pop(slot, None)
        if failed:
            self._job_failed(instance, failed_process, failed_status)
        if stop:
            if instance.state == "running":
                advance = False
            self._change_goal(instance, "stop")
        if advance:
            self._change_state(instance, self._next(instance))

    def _runaway(self, instance: Instance) -> bool:
        jc = instance.entry.job_class
        if not jc.respawn_limit or not jc.respawn_interval:
            return False
        now = int(self.clock.monotonic())
        if instance.respawn_time is not None and now - instance.respawn_time < jc.respawn_interval:
            instance.respawn_count += 1
            return instance.respawn_count > jc.respawn_limit
        instance.respawn_time = now
        instance.respawn_count = 1
        return False

    # ---- the event queue (event_poll, event_pending_handle_jobs, event_finished)

    CONFIRM_TIMER = ("spawn", "", "confirm")

    def _settle(self, confirm: bool = False) -> None:
        """Queue pass, then spawn confirmations, until both are empty.

        With `confirm_delay`, confirmations wait for their timer (or for an
        exit of the same process) instead, like upstream's exec pipe, which
        is read in a later main-loop iteration than the fork."""
        while True:
            self._poll()
            if not self._confirm:
                return
            if self.confirm_delay > 0 and not confirm:
                if not self._confirm_armed:
                    self._confirm_armed = True
                    self._out.append(fx.SetTimer(self.CONFIRM_TIMER, self.confirm_delay))
                return
            self._deliver_confirmations(lambda c: True)

    def _deliver_confirmations(self, which: Callable[[Any], bool]) -> None:
        batch = [c for c in self._confirm if which(c)]
        self._confirm = [c for c in self._confirm if not which(c)]
        for instance, slot, pid, error in batch:
            self._confirmed(instance, slot, pid, error)

    def _poll(self) -> None:
        events = self.queue.events
        again = True
        while again:
            again = False
            i = 0
            while i < len(events):
                event = events[i]
                if event.progress == "pending":
                    event.progress = "handling"
                    self._handle(event)
                    again = True
                if event.progress == "handling":
                    if event.blockers:
                        i += 1
                        continue
                    event.progress = "finished"
                if event.progress == "finished":
                    self._finish(event)
                    again = True
                    if i < len(events) and events[i] is event:
                        i += 1
                    continue
                i += 1

    def _handle(self, event: Event) -> None:
        self._log("info", f"Handling {event.name} event")
        self._stats["events_handled"] += 1
        for entry in list(self.registry.for_event(event.name)):
            for instance in entry.sorted_instances():
                self._handle_stop_on(instance, event)
            self._handle_start_on(entry, event)

    def _handle_stop_on(self, instance: Instance, event: Event) -> None:
        oper = instance.stop_on
        if oper is None or not oper.handle(event, instance.env) or not oper.value:
            return
        events = oper.matched()
        if instance.goal != "stop":
            stop_env: list[str] = []
            for ev in events:
                env_merge(stop_env, ev.env)
            env_set(stop_env, "UPSTART_STOP_EVENTS=" + " ".join(ev.name for ev in events))
            instance.stop_env = stop_env
            self._job_finished(instance, False)
            self._attach(instance, events)
            self._change_goal(instance, "stop")
        elif instance.state != "waiting":
            self._hold(instance, events)         # decision (b): held until it rests
        oper.reset()

    def _handle_start_on(self, entry: ClassEntry, event: Event) -> None:
        oper = entry.start_on
        if oper is None or self.registry.get(entry.name) is not entry:
            return
        if not oper.handle(event, None) or not oper.value:
            return
        if self._gated(entry):
            self._cgroup_held.add(entry.name)     # stays latched until the manager is known
            return
        self._fire_start(entry)

    def _fire_start(self, entry: ClassEntry) -> None:
        """The class's start condition is complete: start (or hold) the instance."""
        oper = entry.start_on
        assert oper is not None
        events = oper.matched()
        env = self._class_environment(entry)
        for ev in events:
            env_merge(env, ev.env)
        env_set(env, "UPSTART_EVENTS=" + " ".join(ev.name for ev in events))
        try:
            name = expand(entry.job_class.instance, env)
        except ExpandError as err:
            self._log("warn", f"Failed to obtain {entry.name} instance: {err}")
            oper.reset()
            return
        instance = entry.instances.get(name) or self._new_instance(entry, name)
        if instance.goal != "start":
            fds = [str(ev.fd) for ev in events if ev.fd is not None]
            if fds:
                env_set(env, "UPSTART_FDS=" + " ".join(fds))
            instance.start_env = env
            self._job_finished(instance, False)
            self._attach(instance, events)
            self._change_goal(instance, "start")
        elif instance.state != "running" or entry.job_class.task:
            self._hold(instance, events)         # decision (b): held until it rests
        oper.reset()

    def _finish(self, event: Event) -> None:
        self._stats["events_finished"] += 1
        self.queue.remove(event)
        self._log("debug", f"Finished {event.name} event")
        blocking, event.blocking = event.blocking, []
        for kind, obj in blocking:
            if kind == "job":
                instance: Instance = obj
                instance.blocker = None
                self._change_state(instance, self._next(instance))
            elif event.failed:
                self._reply_error(obj, upstart_error("EventFailed", "Event failed"))
            else:
                self._out.append(fx.Reply(obj))
        if event.failed and not event.name.endswith("/failed"):
            self._queue_event(event.name + "/failed", list(event.env))
        if event.fd is not None:
            self._out.append(fx.CloseFd(event.fd))
        self._out.append(fx.EventEmitted(event.name, tuple(event.env)))


__all__ = ["Engine"]
