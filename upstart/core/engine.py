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

The engine is split in five modules: this one (construction, inputs,
queries, control commands, environment composition, instances),
`lifecycle.py` (goal/state machine, processes, failures), `dispatch.py`
(the event queue pass), `whiles.py` (carrying out the `while` plan of
`upstart/states/`) and
`readiness.py` (`ready on`, the `ready` event); the last four are mixins
over the state kept here.

The engine must never read the time, touch the file system, send signals
or spawn except through its ports and its returned effects.
"""

from __future__ import annotations

import random as _random
from collections.abc import Callable
from typing import Any

from upstart.core import effects as fx
from upstart.core.effects import (
    INVALID_ARGS, Clock, ControlError, ControlFailure, Effect, Spawner, upstart_error,
)
from upstart.jobfile.environ import (
    ExpandError, env_lookup, env_merge, env_set, env_unset, expand,
)
from upstart.core.backoff import Backoff
from upstart.core.whiles import Whiles
from upstart.core.dispatch import Dispatch
from upstart.core.event import EventQueue
from upstart.core.eventstates import Declared, EventStates
from upstart.core.job import Instance, Waiter
from upstart.core.lifecycle import Lifecycle
from upstart.core import limits as lim
from upstart.core.operator import Operator
from upstart.core.readiness import Readiness
from upstart.core.registry import ClassEntry, Registry
from upstart.states.model import StateTable
from upstart.jobfile.model import JobClass


def _always(_priority: str) -> bool:
    return True


class Engine(Lifecycle, Dispatch, Whiles, EventStates, Readiness, Backoff):
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
                 cgroup_gate: bool = False, random: Callable[[], float] | None = None,
                 log_enabled: Callable[[str], bool] | None = None):
        self.clock = clock
        # would a log line of this priority be shown? (the shell's `Logger.enabled`,
        # read per line: `initctl log-priority` applies at once). perf: lines below
        # the threshold are not built; `_trace` effects always are (see `_trace`)
        self.log_enabled: Callable[[str], bool] = log_enabled or _always
        self.spawner = spawner
        # jitter of respawn backoff (issue #14): floats in [0, 1); a fixed-seed
        # generator unless the shell injects one (the core stays deterministic)
        self.random: Callable[[], float] = random or _random.Random(0x5EED).random
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
        # instances whose kill timer is armed (by id): the confirmation delay
        # only orders a death already on its way (`Dispatch._settle`)
        self._kills_armed: set[int] = set()
        # True while jobs with `cgroup` stanzas must wait for the cgroup
        # manager's address (01 §11); classes whose start condition fired meanwhile
        self.cgroup_gate = cgroup_gate
        self._cgroup_held: set[str] = set()
        self.limits = lim.Limits()               # hardening (issue #14): size/count bounds
        self.registry = Registry()
        self.queue = EventQueue()
        # states set by name (docs/design/states.md); True when a state may
        # have opened or closed since the last `while` evaluation
        self.states = StateTable()
        self._states_dirty = False
        # `state` declarations by name, and the `until` tree of each open one
        self._state_decls: dict[str, Declared] = {}
        self._state_until: dict[tuple[str, tuple[str, ...]], Operator] = {}
        # the states at the last `while` evaluation (None: none yet / no `while`)
        self._seen_states: set[Any] | None = None
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
            nonlocal classes
            long = sorted(n for n in classes if len(n) > self.limits.job_name)
            if long:                              # hardening: refuse absurd job names
                for n in long:
                    self._log("warn", f"Ignored job with a name of {len(n)} characters "
                                      f"(limit {self.limits.job_name})")
                classes = {n: c for n, c in classes.items() if len(n) <= self.limits.job_name}
            added, removed = self.registry.load(classes)
            self._signal_registry(added, removed)
            self._load_state_decls()
            self._states_dirty = True            # `while` is evaluated on current states
        return self._input(run)

    def emit(self, name: str, env: list[str], *, wait: bool, token: Any,
             fd: int | None = None) -> list[Effect]:
        def run() -> None:
            if not name:
                self._reply_error(token, ControlError(INVALID_ARGS, "Name may not be empty string"))
                return
            for e in env:                          # perf: no generator per call
                if "=" not in e:
                    self._reply_error(token, ControlError(INVALID_ARGS,
                                                          "Env must be KEY=VALUE pairs"))
                    return
            bound = lim.check_event(self.limits, name, env, len(self.queue.events))
            if bound is not None:                 # hardening: refused, never queued
                self._reply_error(token, bound)
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

    def process_notify(self, pid: int, fields: list[str]) -> list[Effect]:
        """The process `pid` sent sd_notify-style `fields` (`READY=1`, `STATUS=…`,
        `MAINPID=…`; a line on a notify fd is `READY=1`): interfaces.md §6."""
        return self._input(lambda: self._process_notify(pid, list(fields)))

    def set_state(self, name: str, env: list[str]) -> list[Effect]:
        """Open (or replace) the named state; raises ControlFailure if invalid."""
        self._validate_state(name, env)
        return self._input(lambda: self._set_state(name, list(env)))

    def clear_state(self, name: str) -> list[Effect]:
        """Close the named state; raises ControlFailure if it is not set."""
        self._validate_state(name, None)
        if name not in self.states:
            raise ControlFailure(upstart_error("UnknownState", f"Unknown state: {name}"))
        return self._input(lambda: self._clear_state(name))

    def timer_fired(self, key: Any) -> list[Effect]:
        """The timer `key` (an `effects.TimerKey`) fired: its kind's handler runs."""
        if fx.timer_kind(key) is None:
            return []
        key = fx.TimerKey(*key)
        handler = self._TIMER_FIRED[key.kind]
        return self._input(lambda: handler(self, key))

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

    # what each kind of timer (`effects.TIMER_KINDS`) does when it fires
    _TIMER_FIRED: dict[str, Callable[[Any, fx.TimerKey], None]] = {
        "kill": Lifecycle._kill_timer_fired,
        "ready": Readiness._ready_timer_fired,
        "expect": Lifecycle._expect_timer_fired,
        "respawn": Backoff._backoff_timer_fired,
        "confirm": lambda engine, _key: engine._confirm_timer_fired(),
    }

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

    def instance_ready(self, job: str, inst: str) -> bool | None:
        """None for a class without `ready on`; else whether the instance is ready."""
        instance = self._find_instance(job, inst)
        if not instance.entry.job_class.ready:
            return None
        return self._is_ready(instance)

    def list_states(self) -> list[tuple[str, list[str]]]:
        """Every true state (set ones, then `running`/`ready` of jobs)."""
        return [(s.name, list(s.env)) for s in self.current_states()]

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
        trial = list(target)
        for var in vars:
            env_set(trial, var if "=" in var else var + "=", replace)
        bound = lim.check_env(self.limits, trial, "Job environment")
        if bound is not None:                     # hardening: the table stays as it was
            raise ControlFailure(bound)
        target[:] = trial

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
            "states": len(self.states.states()),
            "waiting_ready": sum(1 for e in entries for i in e.instances.values()
                                 if i.ready_on is not None),
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
        if self.log_enabled(priority):
            self._out.append(fx.Log(priority, message))

    def _trace(self, kind: str, name: str = "", pid: int = 0,
               data: tuple[str, ...] = (), event: int = 0) -> None:
        """A structured `Trace` effect, returned whatever the log priority:
        the shell's event recorder reads it (docs/design/observability.md)."""
        self._out.append(fx.Trace(kind, name, pid, data, event))

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
        if self.log_enabled("debug"):
            self._log("debug", f"New instance {instance.display}")
        self._out.append(fx.InstanceAdded(entry.name, name))
        return instance

    def _remove_instance(self, instance: Instance) -> None:
        entry = instance.entry
        if entry.instances.get(instance.name) is instance:
            del entry.instances[instance.name]
        if self.log_enabled("debug"):
            self._log("debug", f"Destroyed inactive instance {instance.display}")
        self._out.append(fx.InstanceRemoved(entry.name, instance.name))
        added, removed = self.registry.reconsider(entry)
        self._signal_registry(added, removed)
        if added:
            self._states_dirty = True            # a pending class replaced: evaluate `while`
            self._load_state_decls()

    # ---- control commands (03 §9)

    def _command(self, job: str, env: list[str], kind: str, wait: bool, token: Any) -> None:
        try:
            entry = self._entry(job)
            if any("=" not in e for e in env):
                raise ControlFailure(ControlError(INVALID_ARGS, "Env must be KEY=VALUE pairs"))
            bound = lim.check_env(self.limits, env)
            if bound is not None:
                raise ControlFailure(bound)
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
            if instance is not None and instance.goal == "start":
                self._start_while_started(instance, kind, wait, token, name)
                return
            if not self._while_allows(entry, name):
                self._reply_error(token, self._while_refusal(entry, name))
                return
            if instance is None:
                bound = lim.check_new_instance(self.limits, entry.name, len(entry.instances), name)
                if bound is not None:
                    self._reply_error(token, bound)
                    return
                instance = self._new_instance(entry, name)
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
            if not self._while_allows(instance.entry, instance.name):
                self._reply_error(token, self._while_refusal(instance.entry, instance.name))
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
        if kind in ("start", "restart"):
            self._backoff_clear(instance)          # an operator start resets backoff
        if start_env is not Engine._UNSET:
            instance.start_env = start_env
        if stop_env is not Engine._UNSET:
            instance.stop_env = stop_env
        self._job_finished(instance, False)
        if wait:
            instance.blocking.append(Waiter(kind, token, value))
        if kind == "restart" and self._backoff_unpause(instance):
            self._change_state(instance, "starting")   # backoff: restart in a pause respawns now
        else:
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
            return
        if wait:
            instance.blocking.append(Waiter(kind, token, value))
        else:
            self._out.append(fx.Reply(token, value))
        self._backoff_clear(instance)
        if self._backoff_unpause(instance):        # backoff: a start cuts the pause short
            self._change_state(instance, "starting")


__all__ = ["Engine"]
