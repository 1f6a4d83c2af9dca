"""Benchmarks of the pure core engine; prints one JSON line per measurement.

* `events_per_s_unmatched`: events emitted (no wait) through an engine with
  1,000 job classes whose conditions name other events (target >= 50,000/s;
  the registry indexes classes by the event names they mention).
* `events_per_s_matched`: the same with every event starting and finishing a
  task among the 1,000 classes (full job lifecycle per event).
* `transitions_per_s`: job state transitions per second while starting and
  stopping services (target >= 10,000/s).
"""

from __future__ import annotations

import json
import time

from upstart.core.engine import Engine
from upstart.jobfile.model import JobClass, Match, Op, Process


class _Clock:
    def monotonic(self) -> float:
        return 0.0


class _Spawner:
    def __init__(self) -> None:
        self.pid = 1

    def spawn(self, request) -> int:
        self.pid += 1
        return self.pid


def _classes(n: int, task: bool = False) -> dict[str, JobClass]:
    out = {}
    for i in range(n):
        cond = Op("and", Match(f"ev{i}", ("X=1",)), Op("or", Match(f"other{i}"), Match("tick")))
        out[f"job{i:04d}"] = JobClass(
            name=f"job{i:04d}", start_on=cond if not task else Match(f"ev{i}"),
            stop_on=Match(f"halt{i}"), task=task,
            process={"main": Process(False, "sleep 1")})
    return out


def _engine() -> Engine:
    return Engine(_Clock(), _Spawner(), session_init=True, job_env=["PATH=/bin"], init_env={},
                  confirm_delay=0)


def bench_unmatched(n_events: int = 50_000) -> dict:
    eng = _engine()
    eng.load(_classes(1000))
    t0 = time.perf_counter()
    for i in range(n_events):
        eng.emit("nobody-wants-this", [f"N={i}"], wait=False, token=i)
    dt = time.perf_counter() - t0
    rate = n_events / dt

    def null(name, env, wait, token):   # the interpreter's floor for the same call
        return None
    t0 = time.perf_counter()
    for i in range(n_events):
        null("nobody-wants-this", [f"N={i}"], wait=False, token=i)
    floor = n_events / (time.perf_counter() - t0)
    print(json.dumps({"fig": "d", "bench": "events_per_s_engine", "system": "python-call-floor",
                      "value": round(floor), "unit": "calls/s", "better": "higher",
                      "is_ref": True, "note": "an empty Python function, same arguments"}))
    print(json.dumps({"fig": "d", "bench": "events_per_s_engine", "system": "upstart-py",
                      "value": round(rate), "unit": "events/s", "better": "higher",
                      "ref": "python-call-floor", "classes": 1000,
                      "target": ">= 50,000/s (pure engine, no I/O)",
                      "target_value": 50_000}))
    return {"bench": "events_per_s_unmatched", "classes": 1000, "events": n_events,
            "value": round(rate), "target": 50_000}


def bench_matched(n_events: int = 5_000) -> dict:
    eng = _engine()
    eng.load(_classes(1000, task=True))
    t0 = time.perf_counter()
    for i in range(n_events):
        effects = eng.emit(f"ev{i % 1000}", [], wait=False, token=i)
        pid = eng.instance_info(f"job{i % 1000:04d}", "")[2][0][1] if effects else 0
        eng.process_exited(pid, 0, None)
    dt = time.perf_counter() - t0
    return {"bench": "events_per_s_matched", "classes": 1000, "events": n_events,
            "value": round(n_events / dt)}


def bench_transitions(rounds: int = 2_000) -> dict:
    eng = _engine()
    eng.load({f"s{i}": JobClass(name=f"s{i}", process={"main": Process(False, "x")})
              for i in range(10)})
    before = eng.statistics()["transitions"]
    t0 = time.perf_counter()
    for r in range(rounds):
        name = f"s{r % 10}"
        eng.job_start(name, [], wait=False, token=r)
        pid = eng.instance_info(name, "")[2][0][1]
        eng.job_stop(name, [], wait=False, token=r)
        eng.process_exited(pid, None, 15)
    dt = time.perf_counter() - t0
    n = eng.statistics()["transitions"] - before
    return {"bench": "transitions_per_s", "transitions": n, "value": round(n / dt),
            "target": 10_000}


def main() -> None:
    for fn in (bench_unmatched, bench_matched, bench_transitions):
        print(json.dumps(fn()), flush=True)


if __name__ == "__main__":
    main()
