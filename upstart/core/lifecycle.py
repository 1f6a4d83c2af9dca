"""The job lifecycle half of the engine: goals, states, processes, failures.

`Lifecycle` is a mixin of `Engine` holding upstream's `job.c` and
`job_process.c` logic: `_change_goal` (moves only from waiting/running),
`_change_state` (the entry-action loop over `machine.NEXT`/`machine.ENTRY`),
job events (`starting`/`started`/`stopping`/`stopped` and their env),
spawning through the injected `Spawner`, spawn confirmations, killing (kill
signal, timer, SIGKILL), process termination with its per-slot failure rules,
the respawn runaway window, and releasing what an instance blocks
(`_job_finished`, `_job_failed`). Decisions are written in
docs/design/state-machine.md.

It owns no state of its own (the `Engine` does) and never performs I/O.
"""

from __future__ import annotations


from upstart.core import effects as fx
from upstart.core.effects import SpawnError, SpawnRequest, upstart_error
from upstart.jobfile.environ import env_lookup, env_set
from upstart.core.event import Event
from upstart.core.job import FAILURE_TEXT, Instance
from upstart.core.signals import SIGKILL, signal_name
from upstart.core.machine import ENTRY, SPAWN_FATAL, WAIT_STATE, next_state
from upstart.states.model import RUNNING_STATES

DIED_EVENT = "died"     # RM-12: an abnormal exit of a main process

class Lifecycle:
    """Mixin: the instance state machine (see module doc).

    Uses the Engine's `registry`, `queue`, `spawner`, `clock`, `_pids`,
    `_confirm`, `_out`, `_stats`, `respawn_disabled`, `apparmor`,
    `log_enabled` and its helpers `_log`, `_trace`, `_reply_error`,
    `_process_env`, `_remove_instance`, `_queue_event`, `_deliver_confirmations`, and the readiness hooks
    (`_ready_begin` after `started`, `_ready_end` at `stopping`); it flags
    `_states_dirty` when an instance enters or leaves the `running` state.
    """

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
        if self.log_enabled("info"):
            self._log("info", f"{instance.display} goal changed from {instance.goal} to {goal}")
        instance.goal = goal
        self._out.append(fx.GoalChanged(instance.job, instance.name, goal))
        if goal == "start" and instance.state == "waiting":
            self._change_state(instance, self._next(instance))
        elif goal == "stop" and instance.state == "running":
            self._change_state(instance, self._next(instance))
        elif goal == "stop" and self._backoff_unpause(instance):
            self._change_state(instance, self._next(instance))   # backoff: stop ends a pause

    def _next(self, instance: Instance) -> str:
        state, goal = next_state(instance.state, instance.goal, instance.main_alive())
        if goal != instance.goal:
            self._change_goal(instance, goal)
        return state

    def _change_state(self, instance: Instance, state: str) -> None:
        """Enter `state`, run its entry actions (`machine.ENTRY`, in the order
        its doc gives) and follow the table while the job moves on by itself."""
        while instance.state != state:
            assert instance.blocker is None, f"{instance.display} changes state while blocked"
            if state == "starting" and instance.state == "post-stop" and \
                    self._backoff_pause(instance):
                return                              # backoff: respawn pause (backoff.py)
            old = instance.state
            if self.log_enabled("info"):
                self._log("info", f"{instance.display} state changed from {old} to {state}")
            instance.state = state
            self._stats["transitions"] += 1
            if (old in RUNNING_STATES) != (state in RUNNING_STATES):
                self._states_dirty = True         # the `running` state opened/closed
            self._out.append(fx.StateChanged(instance.job, instance.name, state))

            entry = ENTRY[state]
            back = entry.back_from is not None and old == entry.back_from
            if entry.new_run:
                self._new_run(instance)
            if entry.ready == "end":
                self._ready_end(instance)
            if entry.event is not None and not back:
                event = self._emit_job_event(instance, entry.event, block=entry.blocks)
                if entry.blocks:
                    instance.blocker = event
            if entry.ready == "begin" and not back:
                self._ready_begin(instance)
            if back:
                instance.stop_env = None
            if back or entry.rest == "always" or \
                    (entry.rest == "service" and not instance.entry.job_class.task):
                self._job_finished(instance, False)
            if entry.remove:
                self._remove_instance(instance)
                return
            if entry.spawn is not None:
                if self._has_slot(instance, entry.spawn):
                    self._spawn(instance, entry.spawn)
                state = self._next(instance)
            elif entry.wait is not None:
                if not self._waits_for(instance, entry.wait):
                    state = self._next(instance)
            elif entry.kill:
                if instance.main_alive():
                    self._kill(instance)
                else:
                    state = self._next(instance)

    def _new_run(self, instance: Instance) -> None:
        """Entering `starting`: the pending start environment is taken and
        the record of the previous run cleared."""
        if instance.start_env is not None:
            instance.env = instance.start_env
            instance.start_env = None
        instance.stop_env = None
        instance.failed = False
        instance.failed_process = None
        instance.exit_status = 0
        instance.notified = False
        instance.entry.gave_up.pop(instance.name, None)
        instance.entry.counters["starts"] += 1
        override = instance.entry.job_class.override_path
        if override is not None and self.log_enabled("info"):
            # roadmap 07 §12 (RM-10): a run of a job an override changed says so
            self._log("info", f"{instance.display} job modified by override {override}")

    def _has_slot(self, instance: Instance, slot: str) -> bool:
        """Does the class run `slot`? (`security` only with AppArmor)."""
        return slot in instance.entry.job_class.process and \
            (slot != "security" or self.apparmor)

    def _waits_for(self, instance: Instance, slot: str) -> bool:
        """Does entering the wait state of `slot` wait (process live or news pending)?"""
        if not self._has_slot(instance, slot):
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

    def _emit_died(self, instance: Instance, status: int, respawn: bool) -> None:
        """RM-12 (docs/design/died-event.md): the main process ended on its own
        with an exit 1.13 counts as a failure (it respawns or fails the job).
        A signal: nobody waits for it, and it changes nothing of 1.13's events."""
        env = [f"JOB={instance.job}", f"INSTANCE={instance.name}", "PROCESS=main"]
        if status & ~0xFF:
            env.append(f"EXIT_SIGNAL={signal_name(status >> 8) or status >> 8}")
        else:
            env.append(f"EXIT_STATUS={status}")
        env.append(f"RESPAWN={'yes' if respawn else 'no'}")
        # deaths of the job so far, this one included: a count for alerts, and a
        # value that tells two deaths apart (`instance $JOB$INSTANCE-$DEATHS`);
        # a class restored from an older init's snapshot has no such counter yet
        counters = instance.entry.counters
        counters["died"] = counters.get("died", 0) + 1
        env.append(f"DEATHS={counters['died']}")
        for key in instance.entry.job_class.export:
            value = env_lookup(instance.env, key)
            if value is not None:
                env_set(env, f"{key}={value}", replace=False)
        # the recorder learns whose death it is from the trace's data
        self._queue_event(DIED_EVENT, env, None)

    def _queue_event(self, name: str, env: list[str], fd: int | None = None) -> Event:
        event = self.queue.new(name, env, fd)
        self._trace("queued", name, data=tuple(event.env), event=event.id)
        if self.log_enabled("debug"):
            self._log("debug", f"Pending {name} event")
        return event

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
        self._trace("spawned", instance.job, pid)
        if self.log_enabled("info"):
            self._log("info", f"{instance.display} {slot} process ({pid})")
        if slot == "main":
            self._backoff_main_started(instance)
        if slot == "main" and jc.expect == "none":
            self._confirm.append((instance, slot, pid, None))
        elif slot == "main" and jc.expect_timeout:   # issue #26: expect readiness timeout
            instance.expect_timer = True
            self._out.append(fx.SetTimer(self._expect_key(instance), jc.expect_timeout))

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
        if self.log_enabled("info"):
            name = signal_name(jc.kill_signal) or str(jc.kill_signal)
            self._log("info", f"Sending {name} signal to {instance.display} main process ({pid})")
        self._out.append(fx.Kill(pid, jc.kill_signal, group=True))
        instance.kill_timer = True
        self._kills_armed.add(id(instance))
        self._out.append(fx.SetTimer(self._timer_key(instance), jc.kill_timeout))

    @staticmethod
    def _timer_key(instance: Instance) -> fx.TimerKey:
        return fx.TimerKey(instance.job, instance.name, "kill")

    def _kill_timer_fired(self, key: fx.TimerKey) -> None:
        entry = self.registry.get(key[0])
        instance = entry.instances.get(key[1]) if entry else None
        if instance is None or not instance.kill_timer:
            return
        instance.kill_timer = False
        self._kills_armed.discard(id(instance))
        pid = instance.pid("main")
        if instance.state != "killed" or pid <= 0:
            return
        self._log("info", f"Sending KILL signal to {instance.display} main process ({pid})")
        self._out.append(fx.Kill(pid, SIGKILL, group=True))

    @staticmethod
    def _expect_key(instance: Instance) -> fx.TimerKey:
        return fx.TimerKey(instance.job, instance.name, "expect")

    def _expect_cancel(self, instance: Instance) -> None:
        if instance.expect_timer:
            instance.expect_timer = False
            self._out.append(fx.CancelTimer(self._expect_key(instance)))

    def _expect_timer_fired(self, key: fx.TimerKey) -> None:
        """`expect timeout`: the main process never did what `expect` waits
        for; the job fails with PROCESS=main (no EXIT_*) and is stopped."""
        entry = self.registry.get(key[0])
        instance = entry.instances.get(key[1]) if entry else None
        if instance is None or not instance.expect_timer:
            return
        instance.expect_timer = False
        pid = instance.pid("main")
        if instance.state != "spawned" or pid <= 0:
            return
        jc = instance.entry.job_class
        what = {"stop": "stop itself with SIGSTOP", "daemon": "fork twice"}.get(
            jc.expect, "fork")
        self._log("warn", f"{instance.display} main process ({pid}) did not {what} within "
                          f"{jc.expect_timeout} s (expect {jc.expect}), stopping")
        self._job_failed(instance, "main", -1)
        self._change_goal(instance, "stop")
        self._change_state(instance, self._next(instance))

    def _process_ready(self, pid: int, main_pid: int) -> None:
        found = self._pids.get(pid)
        if found is None:
            return
        instance, slot = found
        if slot != "main":
            return
        self._expect_cancel(instance)
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
                    respawn = False
                    if failed and jc.respawn and not self.respawn_disabled:
                        if jc.respawn_delay is not None and self._backoff_gives_up(instance):
                            failed_process, failed_status = None, 0
                        elif jc.respawn_delay is None and self._runaway(instance):
                            self._log("warn", f"{instance.display} respawning too fast, stopped")
                            failed_process, failed_status = None, 0
                        else:
                            self._log("warn", f"{instance.display} {slot} process ended, respawning")
                            instance.entry.counters["respawns"] += 1
                            respawn = True
                    if failed:
                        self._emit_died(instance, status, respawn)
                    if respawn:
                        failed = stop = False
                        if not advance:
                            self._change_goal(instance, "respawn")
        elif slot in ("pre-start", "post-stop"):
            if status:
                failed = stop = True
        if instance.kill_timer:
            instance.kill_timer = False
            self._kills_armed.discard(id(instance))
            self._out.append(fx.CancelTimer(self._timer_key(instance)))
        if slot == "main":
            self._expect_cancel(instance)
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
