"""Fuzzing the pure core with random input sequences (issue #14).

Job classes parsed from real job-file text (respawn with and without
`respawn delay`, tasks, pre-start/post-stop, `start on`/`stop on`, instances)
are driven by random commands, events, process exits, timer firings and
clock steps. Properties after every input: no exception escapes (commands
answer with effects), every live pid the engine tracks belongs to an instance
that holds it, no instance rests in `waiting`, every armed respawn pause sits
in `post-stop` with goal `start`, and a snapshot/restore round trip keeps
every instance's goal, state and pids.
"""

from __future__ import annotations

from fuzz_common import fuzz
from hypothesis import given
from hypothesis import strategies as st

from upstart.core import effects as fx
from upstart.core.effects import ControlFailure, SpawnRequest
from upstart.core.engine import Engine
from upstart.core.machine import STATES
from upstart.jobfile.parser import parse_job

JOBS = {
    "svc": "start on go\nstop on halt\nexec s\n",
    "rsp": "respawn\nrespawn limit 3 5\nexec r\n",
    "bko": "respawn\nrespawn limit 4 5\nrespawn delay 0.5 4 2\npre-start exec p\n"
           "post-stop exec q\nexec b\n",
    "unl": "respawn\nrespawn limit unlimited\nrespawn delay 1\nstop on halt\nexec u\n",
    "tsk": "task\nstart on started svc\nexec t\n",
    "ins": "instance $N\nrespawn\nrespawn delay 0.1 1\nstart on up\nexec i\n",
}


class Clock:
    now = 1000.0

    def monotonic(self) -> float:
        return self.now


class Spawner:
    def __init__(self) -> None:
        self.pid = 100

    def spawn(self, request: SpawnRequest) -> int:
        self.pid += 1
        return self.pid


op = st.one_of(
    st.tuples(st.sampled_from(["start", "stop", "restart"]), st.sampled_from(sorted(JOBS)),
              st.sampled_from([[], ["N=a"], ["N=b"]]), st.booleans()),
    st.tuples(st.just("emit"), st.sampled_from(["go", "halt", "up", "other"]),
              st.sampled_from([[], ["N=a"], ["N=c"]]), st.booleans()),
    st.tuples(st.just("exit"), st.integers(0, 40), st.sampled_from([0, 1, 2, None]),
              st.sampled_from([None, 9, 15])),
    st.tuples(st.just("timer"), st.integers(0, 40), st.none(), st.none()),
    st.tuples(st.just("clock"), st.sampled_from([0.1, 0.5, 1.0, 3.0, 10.0]), st.none(),
              st.none()),
)


def _check(engine: Engine) -> None:
    for pid, (inst, slot) in engine._pids.items():
        assert inst.pids.get(slot) == pid
        assert inst.entry.instances.get(inst.name) is inst or inst.entry.deleted
    for name in engine.job_names():
        for iname in engine.instances(name):
            goal, state, _procs = engine.instance_info(name, iname)
            assert state in STATES and state != "waiting", (name, iname, state)
            inst = engine.registry.get(name).instances[iname]
            if inst.backoff_timer:
                assert (goal, state) == ("start", "post-stop")


@fuzz(0.5)
@given(st.lists(op, max_size=40), st.floats(0, 0.999))
def test_engine_random_inputs_keep_invariants(ops, r):
    clock, spawner = Clock(), Spawner()
    engine = Engine(clock, spawner, session_init=True, job_env=["PATH=/bin"], init_env={},
                    confirm_delay=0, random=lambda: r)
    engine.load({n: parse_job(t, n) for n, t in JOBS.items()})
    timers: list = []
    token = 0
    for kind, a, b, c in ops:
        token += 1
        if kind in ("start", "stop", "restart"):
            out = getattr(engine, f"job_{kind}")(a, b, wait=c, token=token)
        elif kind == "emit":
            out = engine.emit(a, b, wait=c, token=token)
        elif kind == "exit":
            pids = sorted(engine._pids)
            if not pids:
                continue
            out = engine.process_exited(pids[a % len(pids)], b if c is None else None, c)
        elif kind == "timer":
            if not timers:
                continue
            out = engine.timer_fired(timers.pop(a % len(timers)))
        else:
            clock.now += a
            continue
        for effect in out:
            if isinstance(effect, fx.SetTimer):
                timers.append(effect.key)
        _check(engine)
    before = {(n, i): engine.instance_info(n, i)
              for n in engine.job_names() for i in engine.instances(n)}
    again = Engine.restore(engine.snapshot(), clock, spawner, session_init=True,
                           job_env=["PATH=/bin"], init_env={}, confirm_delay=0)
    after = {(n, i): again.instance_info(n, i)
             for n in again.job_names() for i in again.instances(n)}
    assert before == after
    try:
        again.instance_info("nosuch", "")
    except ControlFailure:
        pass


@fuzz()
@given(st.floats(0, 1e6), st.floats(0, 1e6), st.floats(1, 1e3), st.integers(1, 10**12),
       st.floats(0, 0.999999))
def test_backoff_delay_bounded_and_growing(low, span, factor, count, r):
    from upstart.core.backoff import base_delay, jittered
    spec = (low, low + span, factor)
    now, later = base_delay(spec, count), base_delay(spec, count + 1)
    assert low <= now <= low + span or now == min(low, low + span)
    assert later >= now
    assert low <= jittered(spec, now, r) <= now or now <= low
