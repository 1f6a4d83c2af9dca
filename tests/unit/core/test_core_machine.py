"""Property test: random inputs never break the engine's invariants.

A hypothesis state machine drives a small set of interacting jobs (hooks on
starting/stopping, a stop-on chain, a respawning service, a task, instances,
an expect-fork daemon) with random emits, commands, exits, readiness, timer
expiries and clock jumps, and checks after every step:

* every instance is in a known state and goal, never `waiting` while it
  exists, with a blocker only in starting/stopping;
* every pid the engine believes live belongs to exactly one instance slot;
* lifecycle events of each instance follow the grammar
  starting -> started|stopping, started -> stopping, stopping -> stopped|starting,
  stopped -> starting;
* no request is answered twice; after a teardown that stops everything and
  lets every process exit, every request has exactly one answer and the
  event queue is empty.
"""

from core_harness import FakeClock, FakeSpawner, job
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from upstart.core import effects as fx
from upstart.core.engine import Engine
from upstart.core.machine import GOALS, STATES

CLASSES = {
    "svc": job("svc", pre_start="p", post_stop="q", start_on="go", stop_on="halt"),
    "hook": job("hook", task=True, start_on="starting svc"),
    "dep": job("dep", start_on="started svc", stop_on="stopping svc", pre_stop="ps"),
    "r": job("r", respawn=True, respawn_limit=3, respawn_interval=5, post_start="x"),
    "t": job("t", task=True, start_on="go or tick"),
    "i": job("i", instance="${N:-one}", start_on="add", stop_on="remove N=$N"),
    "d": job("d", expect="fork", start_on="a and (b or tick)"),
    "ca": job("ca", start_on="starting cb", stop_on="stopping ca"),
    "cb": job("cb", task=True, start_on="starting ca"),
}
JOBS = sorted(CLASSES)
EVENTS = ["go", "halt", "tick", "add", "remove", "a", "b", "nothing"]
NEXT_EVENT = {
    "starting": {"started", "stopping"}, "started": {"stopping"},
    "stopping": {"stopped", "starting"}, "stopped": {"starting"},
}


class EngineMachine(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.clock = FakeClock()
        self.engine = Engine(self.clock, FakeSpawner(), session_init=True,
                             job_env=["PATH=/bin"], init_env={}, confirm_delay=0)
        self.tokens = 0
        self.issued: set[int] = set()
        self.answered: dict[int, int] = {}
        self.last: dict[tuple[str, str], str] = {}
        self.timers: set = set()
        self.take(self.engine.load(dict(CLASSES)))

    # ------------------------------------------------------------ plumbing
    def token(self) -> int:
        self.tokens += 1
        self.issued.add(self.tokens)
        return self.tokens

    def take(self, effects):
        for e in effects:
            if isinstance(e, fx.Reply):
                self.answered[e.token] = self.answered.get(e.token, 0) + 1
                assert self.answered[e.token] == 1, f"token {e.token} answered twice"
            elif isinstance(e, fx.SetTimer):
                self.timers.add(e.key)
            elif isinstance(e, fx.CancelTimer):
                self.timers.discard(e.key)
            elif isinstance(e, fx.EventEmitted) and e.name in NEXT_EVENT:
                env = dict(x.split("=", 1) for x in e.env)
                key = (env["JOB"], env["INSTANCE"])
                prev = self.last.get(key, "stopped")
                assert e.name in NEXT_EVENT[prev], f"{key}: {prev} then {e.name}"
                self.last[key] = e.name

    def live(self):
        out = []
        for name in self.engine.job_names():
            for inst in self.engine.instances(name):
                _g, _s, procs = self.engine.instance_info(name, inst)
                out.extend((name, inst, slot, pid) for slot, pid in procs)
        return out

    # --------------------------------------------------------------- rules
    @rule(name=st.sampled_from(EVENTS), n=st.sampled_from(["", "N=x", "N=y"]),
          wait=st.booleans())
    def emit(self, name, n, wait):
        self.take(self.engine.emit(name, [n] if n else [], wait=wait, token=self.token()))

    @rule(jobname=st.sampled_from(JOBS), verb=st.sampled_from(["start", "stop", "restart"]),
          wait=st.booleans(), n=st.sampled_from([[], ["N=x"]]))
    def command(self, jobname, verb, wait, n):
        fn = getattr(self.engine, f"job_{verb}")
        self.take(fn(jobname, n, wait=wait, token=self.token()))

    @rule(jobname=st.sampled_from(JOBS), verb=st.sampled_from(["start", "stop", "restart"]))
    def instance_command(self, jobname, verb):
        insts = self.engine.instances(jobname)
        if insts:
            fn = getattr(self.engine, f"instance_{verb}")
            self.take(fn(jobname, insts[0], wait=False, token=self.token()))

    @rule(data=st.data(), code=st.sampled_from([0, 1, None]))
    def exit(self, data, code):
        procs = self.live()
        if procs:
            _j, _i, _slot, pid = data.draw(st.sampled_from(procs))
            self.take(self.engine.process_exited(pid, code, None if code is not None else 15))

    @rule(data=st.data())
    def ready(self, data):
        procs = [p for p in self.live() if p[0] == "d" and p[2] == "main"]
        if procs:
            pid = data.draw(st.sampled_from(procs))[3]
            self.take(self.engine.process_ready(pid, pid + 10000))

    @rule()
    def fire_timers(self):
        for key in sorted(self.timers):
            self.timers.discard(key)
            self.take(self.engine.timer_fired(key))

    @rule(dt=st.sampled_from([0.5, 2, 10]))
    def tick_clock(self, dt):
        self.clock.now += dt

    # ---------------------------------------------------------- invariants
    @invariant()
    def instances_are_sane(self):
        seen = set()
        for name in self.engine.job_names():
            for inst in self.engine.instances(name):
                goal, state, procs = self.engine.instance_info(name, inst)
                assert goal in GOALS and state in STATES
                assert state != "waiting"
                obj = self.engine.registry.get(name).instances[inst]
                if obj.blocker is not None:
                    assert state in ("starting", "stopping")
                for slot, pid in procs:
                    assert pid not in seen
                    seen.add(pid)
                    assert self.engine._pids[pid] == (obj, slot)

    def teardown(self):
        for _ in range(60):
            for name in self.engine.job_names():
                for inst in self.engine.instances(name):
                    goal, state, _ = self.engine.instance_info(name, inst)
                    if goal != "stop":
                        self.take(self.engine.instance_stop(name, inst, wait=False,
                                                            token=self.token()))
            procs = self.live()
            for _j, _i, _s, pid in procs:
                self.take(self.engine.process_exited(pid, 0, None))
            self.fire_timers()
            if not procs and not any(self.engine.instances(n) for n in self.engine.job_names()):
                break
        assert not any(self.engine.instances(n) for n in self.engine.job_names())
        assert len(self.engine.queue) == 0
        missing = self.issued - set(self.answered)
        assert not missing, f"unanswered requests {sorted(missing)}"


TestEngineMachine = EngineMachine.TestCase
# 300 runs of 40 steps: about a minute on an idle core, over two on a loaded one
TestEngineMachine = pytest.mark.timeout(600)(TestEngineMachine)
TestEngineMachine.settings = settings(max_examples=300, stateful_step_count=40, deadline=None,
                                      suppress_health_check=[HealthCheck.too_slow])
